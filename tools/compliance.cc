#include "tools/compliance.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ledger/export.h"
#include "ledger/time.h"
#include "ledger/uuid.h"
#include "projections/export_filter.h"
#include "projections/queries.h"
#include "projections/run_ledger.h"

namespace runledger::tools {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Fills `r` and `filter` from the options; false (after a message) when
// they are malformed.
bool ToRequest(const ExportOptions& o, ledger::ExportRequest* r,
               projections::ExportFilter* filter) {
  const auto from = ledger::ParseRfc3339Ms(o.from);
  const auto to = ledger::ParseRfc3339Ms(o.to);
  if (!from || !to) {
    std::cerr << "runledger export: --from and --to must be RFC 3339 date-times\n";
    return false;
  }
  if (o.format != "ndjson" && o.format != "csv") {
    std::cerr << "runledger export: --format must be ndjson or csv\n";
    return false;
  }
  r->from_ms = *from;
  r->to_ms = *to;
  r->format = o.format == "csv" ? ledger::ExportFormat::kCsv : ledger::ExportFormat::kNdjson;
  r->since_size = o.since_size;
  if (!o.datastore.empty()) filter->datastore = o.datastore;
  if (!o.run_id.empty()) {
    filter->run_id = ledger::ParseUuid(o.run_id);
    if (!filter->run_id) {
      std::cerr << "runledger export: --run-id must be a run id (UUID)\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int Export(const ExportOptions& o) {
  ledger::ExportRequest request;
  projections::ExportFilter filter;
  if (!ToRequest(o, &request, &filter)) return 2;
  ledger::StoreOptions options;
  options.data_dir = o.data_dir;
  options.signing_key_path = o.signing_key;
  options.start_committer = true;  // CheckpointNow signs through the committer
  auto ledger = projections::RunLedger::Open(options);
  if (!ledger) {
    std::cerr << "runledger export: " << ledger.error().message() << "\n";
    return ledger.error().reason() == "data_dir_in_use" ? 3 : 1;
  }
  projections::RunQueries queries((*ledger)->store());
  projections::ApplyExportFilter(queries, filter, &request);
  const std::string partial = o.out.empty() ? "" : o.out + ".partial";
  std::ofstream file;
  if (!partial.empty()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "runledger export: cannot write " << partial << "\n";
      return 1;
    }
  }
  const auto started = std::chrono::steady_clock::now();
  ledger::ExportSummary summary;
  Status s = ledger::WriteExport(
      (*ledger)->store(), request,
      [&](std::string_view chunk) {
        if (partial.empty())
          return std::fwrite(chunk.data(), 1, chunk.size(), stdout) == chunk.size();
        file.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        return static_cast<bool>(file);
      },
      &summary);
  if (s.ok() && !partial.empty()) {
    file.close();
    std::error_code ec;
    if (file.fail()) s = Status::IOError("writing " + partial + " failed");
    if (s.ok()) std::filesystem::rename(partial, o.out, ec);
    if (s.ok() && ec) s = Status::IOError("renaming " + partial + ": " + ec.message());
  }
  if (s.ok() && partial.empty() && std::fflush(stdout) != 0)
    s = Status::IOError("writing stdout failed");
  if (!s.ok()) {
    if (!partial.empty()) std::filesystem::remove(partial);
    std::cerr << "runledger export: FAILED: " << s.message() << "\n";
    return 1;
  }
  const double seconds = SecondsSince(started);
  std::fprintf(stderr,
               "exported positions %llu..%llu (%llu in full) under checkpoint size %llu: "
               "%llu bytes in %.2f s (%.1f MB/s)\n",
               static_cast<unsigned long long>(summary.first),
               static_cast<unsigned long long>(summary.last),
               static_cast<unsigned long long>(summary.matched),
               static_cast<unsigned long long>(summary.checkpoint.size),
               static_cast<unsigned long long>(summary.bytes), seconds,
               seconds > 0 ? static_cast<double>(summary.bytes) / 1e6 / seconds : 0.0);
  return 0;
}

int VerifyExportFile(const std::string& bundle_path, const std::string& key_path,
                     const std::string& trusted_path) {
  auto read = [](const std::string& path, std::string* text) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    *text = buffer.str();
    return static_cast<bool>(in);
  };
  std::string key;
  if (!read(key_path, &key)) {
    std::cerr << "runledger verify-export: cannot read the key " << key_path << "\n";
    return 2;
  }
  std::optional<ledger::Checkpoint> trusted;
  if (!trusted_path.empty()) {
    std::string text;
    auto cp = read(trusted_path, &text) ? ledger::Checkpoint::FromJson(text)
                                        : Result<ledger::Checkpoint>(Status::IOError("unreadable"));
    if (!cp) {
      std::cerr << "runledger verify-export: cannot read a checkpoint from " << trusted_path
                << "\n";
      return 2;
    }
    trusted = std::move(*cp);
  }
  std::ifstream in(bundle_path, std::ios::binary);
  if (!in) {
    std::cerr << "runledger verify-export: cannot open " << bundle_path << "\n";
    return 2;
  }
  const auto started = std::chrono::steady_clock::now();
  ledger::VerifyExportReport report;
  const Status s = ledger::VerifyExport(in, key, trusted, &report);
  if (!s.ok()) {
    std::cerr << "runledger verify-export: FAILED: " << s.message() << "\n";
    return s.code() == Code::kBadRequest || s.code() == Code::kIOError ? 2 : 1;
  }
  const double seconds = SecondsSince(started);
  std::printf(
      "ok: positions %llu..%llu (%llu events in full, %llu as leaf hashes) hash to the root %s "
      "of checkpoint size %llu signed at %s by key %s%s; %.1f MB/s\n",
      static_cast<unsigned long long>(report.first), static_cast<unsigned long long>(report.last),
      static_cast<unsigned long long>(report.events),
      static_cast<unsigned long long>(report.leaf_hashes),
      ledger::ToHex(report.checkpoint.root).c_str(),
      static_cast<unsigned long long>(report.checkpoint.size),
      report.checkpoint.recorded_at.c_str(), report.checkpoint.key_id.c_str(),
      report.extends_trusted ? "; it extends the trusted checkpoint" : "",
      seconds > 0 ? static_cast<double>(report.bytes) / 1e6 / seconds : 0.0);
  return 0;
}

}  // namespace runledger::tools
