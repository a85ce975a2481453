#pragma once

// Compliance exports (SPEC section 6): a self-proving bundle of the events
// recorded in a time range, and its offline verification.
//
// The range: the positions whose recorded_at is in [from, to). recorded_at
// never decreases along position, so they are one run [first, last], found
// by binary search. Only events under the export's checkpoint count: an event
// committed after the export signed its checkpoint is not in it.
//
// NDJSON bundle, one JSON object per line, every line ending in "\n":
//
//   bundle     := header event_line{last - first + 1} trailer
//   header     := {"export":{"from":T,"to":T,"datastore":S|null,"run_id":S|null,
//                  "first":N,"last":N,"created_at":T}}
//   event_line := <the stored event: canonical JSON with "hash">  ; matches the filter
//               | {"position":N,"leaf_hash":H}                     ; does not
//   trailer    := {"checkpoint":CP,"left":[H,...],"right":[H,...]
//                  [,"since_size":N,"consistency":[H,...]]}
//
//   T  = YYYY-MM-DDTHH:MM:SS.mmmZ (from, to: the request's bounds; created_at: now)
//   H  = 64 lowercase hex characters
//   CP = {"size","root","recorded_at","key_id","signature"} (Checkpoint::ToJson),
//        with CP.size >= last
//   left        = hashes of RangeCover(0, first - 1), the leaves before the range
//   right       = hashes of RangeCover(last, CP.size), the leaves after it
//   consistency = RFC 9162 PROOF(since_size, D[0:CP.size]), present when asked
//
// Folding left, the leaf hash of every event line and right, in order, gives
// CP.root: every exported event is intact and no position in the range is
// missing.
//
// CSV (format kCsv; no proofs), RFC 4180, lines ending in CRLF, fields quoted
// only when they hold a comma, quote, CR or LF (quotes doubled):
//
//   position,seq,run_id,type,recorded_at,principal,operation,datastore,status,hash,data
//   then one row per matching event: status is data.status for an "ended"
//   event, else empty; data is the canonical JSON of the event's data.

#include <cstdint>
#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "ledger/event_store.h"
#include "ledger/status.h"

namespace runledger::ledger {

enum class ExportFormat { kNdjson, kCsv };

// A run's facts that CSV rows show; the domain (projections) knows them.
struct RunColumns {
  std::string operation;
  std::string datastore;  // the datastore id
};

struct ExportRequest {
  std::int64_t from_ms = 0;  // inclusive, on recorded_at
  std::int64_t to_ms = 0;    // exclusive
  // Echoed in the header (null when absent); the filtering itself is `matches`'s.
  std::optional<std::string> datastore;
  std::optional<std::string> run_id;
  // Adds a consistency proof from this size to the checkpoint's (NDJSON only).
  std::optional<std::uint64_t> since_size;
  ExportFormat format = ExportFormat::kNdjson;
  // true: the event is exported in full; false: only its leaf hash. Null:
  // every event matches. An error stops the export and is returned.
  std::function<Result<bool>(const Event&)> matches;
  // CSV only: the operation and datastore columns. Null: both empty.
  std::function<Result<RunColumns>(const Event&)> run_columns;
  // The sink gets chunks of about this many bytes (the last one smaller).
  size_t chunk_bytes = 64 << 10;
};

struct ExportSummary {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t matched = 0;  // events exported in full (CSV rows)
  std::uint64_t bytes = 0;    // handed to the sink
  Checkpoint checkpoint;
};

// Streams the export of `request` to `sink` in chunks; memory stays constant
// whatever the range. Signs a checkpoint covering every durable event first
// (EventStore::CheckpointNow, which needs the store's committer unless the
// latest checkpoint already covers every event), then reads the events from
// one snapshot. `sink` returning false stops the export.
// Errors, before any byte is sent: kUnprocessable "empty_range" when no event
// under the checkpoint was recorded in [from, to); kUnprocessable
// "out_of_range" when since_size is beyond the checkpoint. Later: the
// matcher's errors, Corruption when a stored event does not match its own
// hash, kUnavailable "export_stopped" when the sink said stop.
// `summary` may be null; its first, last and checkpoint are set before the
// first chunk reaches the sink (a streamed answer can name the range in its
// headers), matched and bytes once the export is done. Thread-safe (as the
// store's reads are).
Status WriteExport(EventStore& store, const ExportRequest& request,
                   const std::function<bool(std::string_view chunk)>& sink,
                   ExportSummary* summary = nullptr);

// The longest line VerifyExport accepts: an event is at most a 1 MiB request.
inline constexpr size_t kExportLineMaxBytes = 4 << 20;

struct VerifyExportReport {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t events = 0;       // lines holding a full event
  std::uint64_t leaf_hashes = 0;  // lines holding only a leaf hash
  std::uint64_t bytes = 0;
  Checkpoint checkpoint;
  bool extends_trusted = false;  // a trusted checkpoint was given and is extended
};

// Checks an NDJSON bundle offline: every full event's leaf hash recomputed
// from its canonical form (so whitespace is harmless and any change of
// content is caught), positions contiguous from the header's first to its
// last, full events inside [from, to) and of the header's run_id, the root
// from left + leaves + right against the checkpoint, the checkpoint's key_id
// and Ed25519 signature under `public_key_pem`, the trailer present (a
// truncated bundle fails), nothing after it; and, with `trusted`, that the
// bundle's checkpoint extends it (the trailer must carry since_size =
// trusted->size and its consistency proof). Memory is constant.
// Errors: Corruption whose message starts with "line N: " naming the first
// bad line (1 = the header); a leaf_hash line changed to another valid hash
// can only be caught at the root, so the trailer's line is named then.
// IOError when reading fails. `report` may be null.
Status VerifyExport(std::istream& in, std::string_view public_key_pem,
                    const std::optional<Checkpoint>& trusted, VerifyExportReport* report);

}  // namespace runledger::ledger
