#include "projections/run_record.h"

#include "ledger/json_writer.h"
#include "ledger/key_layout.h"
#include "ledger/time.h"
#include "projections/tables.h"

namespace runledger::projections {
namespace {

constexpr char kSummaryFormat = 0x01;
constexpr std::string_view kRecordJsonHead = "{\"run\":";

std::string StringMember(const Json& object, std::string_view key) {
  const Json* value = object.Find(key);
  return value != nullptr && value->is_string() ? value->string() : std::string();
}

void AppendOptionalUuid(const std::optional<Uuid>& id, std::string* out) {
  out->push_back(id ? 1 : 0);
  if (id) out->append(reinterpret_cast<const char*>(id->data()), id->size());
}

// Reads the summary's fields in order; any read past the end fails the whole decode.
class SummaryReader {
 public:
  explicit SummaryReader(std::string_view bytes) : rest_(bytes) {}

  bool ok() const { return ok_; }
  std::string_view rest() const { return rest_; }

  std::string_view Take(size_t n) {
    if (!ok_ || rest_.size() < n) {
      ok_ = false;
      return {};
    }
    const std::string_view taken = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return taken;
  }
  std::uint8_t Byte() {
    const auto b = Take(1);
    return b.empty() ? 0 : static_cast<std::uint8_t>(b[0]);
  }
  std::uint32_t U32() {
    const auto b = Take(4);
    return b.size() == 4 ? ledger::ReadU32(b) : 0;
  }
  std::uint64_t U64() {
    const auto b = Take(8);
    return b.size() == 8 ? ledger::ReadU64(b) : 0;
  }
  std::string String() {
    const auto size = Take(2);
    if (size.size() != 2) return {};
    const size_t n = static_cast<size_t>(static_cast<std::uint8_t>(size[0])) << 8 |
                     static_cast<std::uint8_t>(size[1]);
    return std::string(Take(n));
  }
  Uuid Id() {
    Uuid id{};
    const auto b = Take(id.size());
    if (b.size() == id.size()) std::copy(b.begin(), b.end(), reinterpret_cast<char*>(id.data()));
    return id;
  }
  std::optional<Uuid> OptionalId() {
    if (Byte() == 0) return std::nullopt;
    return Id();
  }

 private:
  std::string_view rest_;
  bool ok_ = true;
};

RunSummary SummaryOf(const RunState& s) {
  RunSummary summary;
  summary.id = s.id;
  summary.version = s.version;
  summary.created_at_ms = s.created_at_ms;
  summary.deleted_at_ms = s.deleted_at_ms;
  summary.log_count = s.log_count;
  summary.last_event_ms = s.last_event_ms;
  summary.status = s.status;
  summary.operation = s.operation;
  summary.datastore_id = DatastoreId(s);
  summary.trigger_kind = StringMember(s.triggered_by, "kind");
  summary.trigger_id = StringMember(s.triggered_by, "id");
  summary.rerun_of = s.rerun_of;
  summary.resumed_from = s.resumed_from;
  AppendRunJson(s, true, &summary.json);
  summary.json_base_length =
      s.deleted() ? RunJson(s, false).size() - 1 : summary.json.size() - 1;
  return summary;
}

}  // namespace

void RunSummary::AppendJson(bool with_deleted, std::string* out) const {
  if (with_deleted || !deleted()) {
    out->append(json);
    return;
  }
  out->append(json, 0, json_base_length);
  out->push_back('}');
}

std::string RunSummary::ToJson(bool with_deleted) const {
  std::string out;
  AppendJson(with_deleted, &out);
  return out;
}

std::string EncodeRunRecord(const RunState& s, RunSummary* summary_out) {
  RunSummary summary = SummaryOf(s);
  std::string out;
  out.reserve(160 + 2 * summary.json.size());
  out.push_back(kSummaryFormat);
  out.append(reinterpret_cast<const char*>(s.id.data()), s.id.size());
  ledger::AppendU32(summary.version, &out);
  ledger::AppendU64(static_cast<std::uint64_t>(summary.created_at_ms), &out);
  out.push_back(summary.deleted_at_ms ? 1 : 0);
  ledger::AppendU64(static_cast<std::uint64_t>(summary.deleted_at_ms.value_or(0)), &out);
  ledger::AppendU64(static_cast<std::uint64_t>(summary.log_count), &out);
  ledger::AppendU64(static_cast<std::uint64_t>(summary.last_event_ms), &out);
  for (const std::string* field : {&summary.status, &summary.operation, &summary.datastore_id,
                                   &summary.trigger_kind, &summary.trigger_id}) {
    AppendKeyString(*field, &out);
  }
  AppendOptionalUuid(summary.rerun_of, &out);
  AppendOptionalUuid(summary.resumed_from, &out);
  ledger::AppendU32(static_cast<std::uint32_t>(summary.json.size()), &out);
  ledger::AppendU32(static_cast<std::uint32_t>(summary.json_base_length), &out);

  ledger::JsonWriter w(&out);
  w.BeginObject().Key("run").Raw(summary.json);  // starts with kRecordJsonHead
  w.Key("planned").BeginArray();
  for (const auto& name : s.planned_containers) w.String(name);
  w.EndArray();
  w.Key("worker_started").Bool(s.worker_started);
  w.Key("last_event_ms").Int(s.last_event_ms);
  w.EndObject();
  if (summary_out) *summary_out = std::move(summary);
  return out;
}

namespace {

// The summary and the record JSON after it.
Result<std::pair<RunSummary, std::string_view>> SplitRecord(std::string_view bytes) {
  SummaryReader r(bytes);
  RunSummary s;
  if (r.Byte() != kSummaryFormat) return Status::Corruption("run record has an unknown format");
  s.id = r.Id();
  s.version = r.U32();
  s.created_at_ms = static_cast<std::int64_t>(r.U64());
  const bool deleted = r.Byte() != 0;
  const auto deleted_at = static_cast<std::int64_t>(r.U64());
  if (deleted) s.deleted_at_ms = deleted_at;
  s.log_count = static_cast<std::int64_t>(r.U64());
  s.last_event_ms = static_cast<std::int64_t>(r.U64());
  for (std::string* field : {&s.status, &s.operation, &s.datastore_id, &s.trigger_kind, &s.trigger_id}) {
    *field = r.String();
  }
  s.rerun_of = r.OptionalId();
  s.resumed_from = r.OptionalId();
  const std::uint32_t json_length = r.U32();
  s.json_base_length = r.U32();
  const std::string_view record_json = r.rest();
  if (!r.ok() || !record_json.starts_with(kRecordJsonHead) ||
      record_json.size() < kRecordJsonHead.size() + json_length ||
      s.json_base_length >= json_length) {
    return Status::Corruption("run record is truncated");
  }
  s.json = std::string(record_json.substr(kRecordJsonHead.size(), json_length));
  return std::make_pair(std::move(s), record_json);
}

}  // namespace

Result<RunState> DecodeRunRecord(std::string_view bytes) {
  if (bytes.starts_with('{')) return DecodeRunRecordJson(bytes);
  auto split = SplitRecord(bytes);
  if (!split) return split.error();
  return DecodeRunRecordJson(split->second);
}

Result<RunSummary> DecodeRunSummary(std::string_view bytes) {
  if (bytes.starts_with('{')) {
    auto state = DecodeRunRecordJson(bytes);
    if (!state) return state.error();
    return SummaryOf(*state);
  }
  auto split = SplitRecord(bytes);
  if (!split) return split.error();
  return std::move(split->first);
}

}  // namespace runledger::projections
