#pragma once

// `runledger export` and `runledger verify-export` (SPEC sections 6 and 7):
// offline, no server code involved.

#include <cstdint>
#include <optional>
#include <string>

namespace runledger::tools {

struct ExportOptions {
  std::string data_dir = "./data";
  std::string signing_key;  // empty: <data>/signing-key.pem, as `serve` uses
  std::string from;         // RFC 3339, inclusive
  std::string to;           // RFC 3339, exclusive
  std::string datastore;    // empty: no filter
  std::string run_id;       // empty: no filter
  std::optional<std::uint64_t> since_size;
  std::string format = "ndjson";  // or "csv"
  std::string out;                // empty: standard output
};

// Opens the store with its committer running, because the export signs a
// checkpoint over every event first (the data directory must not be held by
// a running server). With --out, writes FILE.partial and renames it to FILE
// once complete, so a failed export never leaves a file that looks whole.
// Exit codes: 0 done, 1 failed, 2 bad arguments, 3 data directory in use.
int Export(const ExportOptions& options);

// Verifies a bundle with the public key PEM and, optionally, a trusted
// checkpoint (its JSON as GET /v1/ledger/checkpoint serves it). Prints a
// summary and exits 0, or prints "line N: why" and exits 1; 2 when an input
// file cannot be read.
int VerifyExportFile(const std::string& bundle_path, const std::string& key_path,
                     const std::string& trusted_path);

}  // namespace runledger::tools
