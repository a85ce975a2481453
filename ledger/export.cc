// WriteExport: the range search, the NDJSON bundle and the CSV rows
// (grammar in ledger/export.h). Memory: one chunk buffer, one event and
// O(log n) hashes, whatever the range.

#include "ledger/export.h"

#include "ledger/canonical_json.h"
#include "ledger/json_writer.h"
#include "ledger/key_layout.h"
#include "ledger/merkle.h"
#include "ledger/time.h"

namespace runledger::ledger {
namespace {

constexpr std::string_view kCsvHeader =
    "position,seq,run_id,type,recorded_at,principal,operation,datastore,status,hash,data\r\n";

// Buffers output and hands it to the sink in chunks of about `chunk_bytes`.
class ChunkedOutput {
 public:
  ChunkedOutput(const std::function<bool(std::string_view)>& sink, size_t chunk_bytes)
      : sink_(sink), chunk_bytes_(std::max<size_t>(chunk_bytes, 1)) {
    buffer_.reserve(chunk_bytes_ + 4096);
  }
  std::string* buffer() { return &buffer_; }
  // Flushes when the buffer is full; false once the sink said stop.
  bool MaybeFlush() { return buffer_.size() < chunk_bytes_ || Flush(); }
  bool Flush() {
    if (buffer_.empty()) return true;
    bytes_ += buffer_.size();
    const bool more = sink_(buffer_);
    buffer_.clear();
    return more;
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  const std::function<bool(std::string_view)>& sink_;
  size_t chunk_bytes_;
  std::string buffer_;
  std::uint64_t bytes_ = 0;
};

Status Stopped() {
  return {Code::kUnavailable, "export_stopped", "the reader of the export stopped it"};
}

Status Missing(std::uint64_t position) {
  return Status::Corruption("position " + std::to_string(position) + " is missing from the ledger");
}

std::uint64_t PositionOf(std::string_view key) { return key.size() == 8 ? ReadU64(key) : 0; }

// First position in [1, size] recorded at or after `ms`; size + 1 when none.
Result<std::uint64_t> FirstAtOrAfter(TableIterator& it, std::uint64_t size, std::int64_t ms) {
  std::uint64_t low = 1;
  std::uint64_t high = size + 1;  // the answer is in [low, high]
  while (low < high) {
    const std::uint64_t mid = low + (high - low) / 2;
    it.Seek(EventKey(mid));
    RUNLEDGER_RETURN_IF_ERROR(it.status());
    if (!it.Valid() || PositionOf(it.key()) != mid) return Missing(mid);
    auto event = DecodeEvent(it.value());
    if (!event) return event.error();
    if (event->recorded_at_ms < ms) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  return low;
}

void AppendHashArray(SubtreeReader& reader, const std::vector<SubtreeId>& ids, JsonWriter& w,
                     Status* status) {
  w.BeginArray();
  for (SubtreeId id : ids) {
    auto hash = reader.Subtree(id);
    if (!hash) {
      *status = hash.error();
      break;
    }
    w.String(ToHex(*hash));
  }
  w.EndArray();
}

void AppendHeader(const ExportRequest& r, std::uint64_t first, std::uint64_t last,
                  std::string* out) {
  JsonWriter w(out);
  w.BeginObject().Key("export").BeginObject();
  w.Key("from").String(FormatTimestampMs(r.from_ms)).Key("to").String(FormatTimestampMs(r.to_ms));
  w.Key("datastore");
  if (r.datastore)
    w.String(*r.datastore);
  else
    w.Null();
  w.Key("run_id");
  if (r.run_id)
    w.String(*r.run_id);
  else
    w.Null();
  w.Key("first").Uint(first).Key("last").Uint(last);
  w.Key("created_at").String(FormatTimestampMs(NowUnixMs()));
  w.EndObject().EndObject();
  out->push_back('\n');
}

Status AppendTrailer(EventStore& store, const ExportRequest& r, const Checkpoint& cp,
                     std::uint64_t first, std::uint64_t last, std::string* out) {
  Status status;
  JsonWriter w(out);
  w.BeginObject().Key("checkpoint").Raw(cp.ToJson());
  w.Key("left");
  AppendHashArray(store, RangeCover(0, first - 1), w, &status);
  w.Key("right");
  AppendHashArray(store, RangeCover(last, cp.size), w, &status);
  if (r.since_size) {
    auto proof = ConsistencyProof(store, *r.since_size, cp.size);
    if (!proof) return proof.error();
    w.Key("since_size").Uint(*r.since_size).Key("consistency").BeginArray();
    for (const Hash& h : *proof) w.String(ToHex(h));
    w.EndArray();
  }
  w.EndObject();
  out->push_back('\n');
  return status;
}

// One CSV field, quoted when RFC 4180 requires it.
void AppendCsvField(std::string_view field, std::string* out) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

Status AppendCsvRow(const ExportRequest& r, const Event& e, std::string* out) {
  RunColumns run;
  if (r.run_columns) {
    auto columns = r.run_columns(e);
    if (!columns) return columns.error();
    run = std::move(*columns);
  }
  std::string status;
  if (e.type == "ended") {
    if (const Json* s = e.data.Find("status"); s && s->is_string()) status = s->string();
  }
  const std::string fields[] = {std::to_string(e.position),
                                std::to_string(e.seq),
                                FormatUuid(e.run_id),
                                e.type,
                                FormatTimestampMs(e.recorded_at_ms),
                                e.principal,
                                run.operation,
                                run.datastore,
                                status,
                                ToHex(e.hash),
                                Canonical(e.data)};
  for (size_t i = 0; i < std::size(fields); ++i) {
    if (i > 0) out->push_back(',');
    AppendCsvField(fields[i], out);
  }
  out->append("\r\n");
  return Status::Ok();
}

// One line of the bundle for the event stored at `position` as `stored`.
Status AppendEventLine(const ExportRequest& r, std::uint64_t position, std::string_view stored,
                       std::string* out, std::uint64_t* matched) {
  Hash claimed;
  auto leaf = RecomputeLeafHash(stored, &claimed);
  if (!leaf || *leaf != claimed) {
    return Status::Corruption(
        "position " + std::to_string(position) +
        ": the stored event does not match its hash (run `runledger verify`)");
  }
  bool full = true;
  if (r.matches) {
    auto event = DecodeEvent(stored);
    if (!event) return event.error();
    auto match = r.matches(*event);
    if (!match) return match.error();
    full = *match;
  }
  if (full) {
    out->append(stored);
    ++*matched;
  } else {
    out->append("{\"position\":").append(std::to_string(position)).append(",\"leaf_hash\":\"");
    AppendHex(*leaf, out);
    out->append("\"}");
  }
  out->push_back('\n');
  return Status::Ok();
}

Status AppendCsvLine(const ExportRequest& r, std::string_view stored, std::string* out,
                     std::uint64_t* matched) {
  auto event = DecodeEvent(stored);
  if (!event) return event.error();
  if (r.matches) {
    auto match = r.matches(*event);
    if (!match) return match.error();
    if (!*match) return Status::Ok();
  }
  ++*matched;
  return AppendCsvRow(r, *event, out);
}

}  // namespace

Status WriteExport(EventStore& store, const ExportRequest& request,
                   const std::function<bool(std::string_view chunk)>& sink,
                   ExportSummary* summary) {
  // Sign first, then snapshot: the snapshot holds the store's read lock, which
  // the committer may need exclusively to recover while we wait for it.
  std::optional<Checkpoint> latest = store.LatestCheckpoint();
  if (!latest || latest->size < store.size()) {
    auto signed_now = store.CheckpointNow();
    if (!signed_now) return signed_now.error();
    latest = std::move(*signed_now);
  }
  const Checkpoint cp = std::move(*latest);
  if (request.since_size && *request.since_size > cp.size) {
    return {Code::kUnprocessable, "out_of_range",
            "since_size " + std::to_string(*request.since_size) +
                " is beyond the checkpoint's size " + std::to_string(cp.size)};
  }
  const auto snapshot = store.NewSnapshot();
  const std::uint64_t size = std::min(cp.size, snapshot->size());
  auto it = store.NewIterator(kEventsTable, snapshot.get());
  auto first = FirstAtOrAfter(*it, size, request.from_ms);
  if (!first) return first.error();
  auto end = request.to_ms > request.from_ms ? FirstAtOrAfter(*it, size, request.to_ms) : first;
  if (!end) return end.error();
  if (*first >= *end) {
    return {Code::kUnprocessable, "empty_range", "no event was recorded in [from, to)"};
  }
  const std::uint64_t last = *end - 1;
  if (summary) *summary = {*first, last, 0, 0, cp};

  ChunkedOutput out(sink, request.chunk_bytes);
  const bool csv = request.format == ExportFormat::kCsv;
  if (csv) {
    out.buffer()->append(kCsvHeader);
  } else {
    AppendHeader(request, *first, last, out.buffer());
  }
  std::uint64_t matched = 0;
  it->Seek(EventKey(*first));
  for (std::uint64_t position = *first; position <= last; ++position, it->Next()) {
    if (!it->Valid() || PositionOf(it->key()) != position) {
      RUNLEDGER_RETURN_IF_ERROR(it->status());
      return Missing(position);
    }
    RUNLEDGER_RETURN_IF_ERROR(
        csv ? AppendCsvLine(request, it->value(), out.buffer(), &matched)
            : AppendEventLine(request, position, it->value(), out.buffer(), &matched));
    if (!out.MaybeFlush()) return Stopped();
  }
  if (!csv)
    RUNLEDGER_RETURN_IF_ERROR(AppendTrailer(store, request, cp, *first, last, out.buffer()));
  if (!out.Flush()) return Stopped();
  if (summary) {
    summary->matched = matched;
    summary->bytes = out.bytes();
  }
  return Status::Ok();
}

}  // namespace runledger::ledger
