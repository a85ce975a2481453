#include "projections/queries.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "ledger/key_layout.h"
#include "ledger/sha256.h"
#include "ledger/time.h"
#include "projections/tables.h"

namespace runledger::projections {
namespace {

using ledger::TableIterator;

constexpr size_t kScanCandidatesMax = 200000;  // a page never reads more index entries

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}


bool Contains(const std::vector<std::string>& values, std::string_view value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// "kind:id" with a known kind, else nullopt (the filter names an id of any kind).
std::optional<std::pair<std::string, std::string>> SplitActor(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::string kind = text.substr(0, colon);
  if (kind != "user" && kind != "schedule" && kind != "api" && kind != "system") return std::nullopt;
  return std::make_pair(kind, text.substr(colon + 1));
}

bool MatchesActor(const RunSummary& s, const std::string& filter) {
  if (s.trigger_kind.empty() || s.trigger_id.empty()) return false;
  if (auto actor = SplitActor(filter)) return s.trigger_kind == actor->first && s.trigger_id == actor->second;
  return s.trigger_id == filter;
}

bool Matches(const RunSummary& s, const RunFilter& f) {
  if (s.deleted() && !f.include_deleted) return false;
  if (!f.statuses.empty() && !Contains(f.statuses, s.status)) return false;
  if (!f.operations.empty() && !Contains(f.operations, s.operation)) return false;
  const std::string& ds = s.datastore_id;
  if (f.datastore && ds != *f.datastore) return false;
  if (f.visible_datastores && !Contains(*f.visible_datastores, ds)) return false;
  if (f.triggered_by && !MatchesActor(s, *f.triggered_by)) return false;
  if (f.warning && s.warning() != *f.warning) return false;
  if (f.rerun_of && s.rerun_of != f.rerun_of) return false;
  if (f.resumed_from && s.resumed_from != f.resumed_from) return false;
  if (f.created_after_ms && s.created_at_ms <= *f.created_after_ms) return false;
  if (f.created_before_ms && s.created_at_ms >= *f.created_before_ms) return false;
  return true;
}

std::string UuidBytes(const Uuid& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

// The listing index prefixes that together hold every run the filter can match.
struct ListingIndex {
  ledger::TableId table;
  std::string prefix;
};

std::vector<ListingIndex> ListingIndexes(const RunFilter& f) {
  if (f.rerun_of) return {{kRunIndexTable, RunIndexPrefix('r', UuidBytes(*f.rerun_of))}};
  if (f.resumed_from) return {{kRunIndexTable, RunIndexPrefix('u', UuidBytes(*f.resumed_from))}};
  if (f.triggered_by && SplitActor(*f.triggered_by)) {
    return {{kRunIndexTable, RunIndexPrefix('t', *f.triggered_by)}};
  }
  if (f.datastore) return {{kRunIndexTable, RunIndexPrefix('d', *f.datastore)}};
  std::vector<ListingIndex> indexes;
  if (!f.statuses.empty() && !f.operations.empty()) {
    for (const auto& status : f.statuses) {
      for (const auto& op : f.operations) {
        indexes.push_back({StatusIndexTable(status), RunIndexPrefix('S', StatusOperation(status, op))});
      }
    }
  } else if (!f.statuses.empty()) {
    for (const auto& status : f.statuses) indexes.push_back({StatusIndexTable(status), RunIndexPrefix('s', status)});
  } else if (!f.operations.empty()) {
    for (const auto& op : f.operations) indexes.push_back({kRunIndexTable, RunIndexPrefix('o', op)});
  } else {
    indexes.push_back({kRunIndexTable, RunIndexPrefix('c', "")});
  }
  return indexes;
}

// Walks several listing indexes newest first as one sequence: their keys
// end in inverted (created_ms, run id), so that is ascending key order.
class NewestFirst {
 public:
  // Starts after `bound` (a suffix; empty: from the newest).
  NewestFirst(ledger::EventStore& store, std::vector<ListingIndex> indexes, const std::string& bound) {
    for (auto& index : indexes) {
      Source source{store.NewIterator(index.table), std::move(index.prefix)};
      const std::string start = source.prefix + bound;
      source.it->Seek(start);
      if (!bound.empty() && source.it->Valid() && source.it->key() == start) source.it->Next();
      sources_.push_back(std::move(source));
    }
  }
  // The next index suffix, or nullopt at the end.
  std::optional<std::string> Next() {
    Source* best = nullptr;
    for (auto& source : sources_) {
      if (!source.it->Valid() || !StartsWith(source.it->key(), source.prefix) ||
          source.it->key().size() != source.prefix.size() + kRunIndexSuffixBytes) {
        continue;
      }
      if (best == nullptr || Suffix(source) < Suffix(*best)) best = &source;
    }
    if (best == nullptr) return std::nullopt;
    std::string suffix(Suffix(*best));
    best->it->Next();
    return suffix;
  }
  Status status() const {
    for (const auto& source : sources_) RUNLEDGER_RETURN_IF_ERROR(source.it->status());
    return Status::Ok();
  }

 private:
  struct Source {
    std::unique_ptr<TableIterator> it;
    std::string prefix;
  };
  static std::string_view Suffix(const Source& s) { return s.it->key().substr(s.prefix.size()); }
  std::vector<Source> sources_;
};

// The suffix the listing starts after: the cursor's, or the first run
// created before created_before_ms, whichever is older.
std::string ListingBound(const RunFilter& f, const std::optional<std::string>& cursor_suffix) {
  std::string bound;
  if (f.created_before_ms) {
    ledger::AppendU64(~static_cast<std::uint64_t>(*f.created_before_ms), &bound);
    bound.append(16, '\xff');  // after every run created at that very millisecond
  }
  if (cursor_suffix && *cursor_suffix > bound) bound = *cursor_suffix;
  return bound;
}

std::optional<std::string> DecodeCursor(const std::string& cursor) {
  if (cursor.size() != 2 * kRunIndexSuffixBytes) return std::nullopt;
  std::string bytes;
  for (size_t i = 0; i < cursor.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(cursor[i]);
    const int lo = nibble(cursor[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(hi << 4 | lo));
  }
  return bytes;
}

// A top-level string member of a stored event, read without parsing it.
// Canonical form sorts members and `data` (any JSON) comes first, so the
// last occurrence of the name is the top-level one for every member after
// it; the values of these members hold no quote.
std::string_view TopLevelString(std::string_view stored, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\":\"";
  const size_t at = stored.rfind(key);
  if (at == std::string_view::npos) return {};
  const size_t begin = at + key.size();
  const size_t end = stored.find('"', begin);
  return end == std::string_view::npos ? std::string_view() : stored.substr(begin, end - begin);
}

std::optional<std::int64_t> RecordedAtOf(std::string_view stored) {
  return ledger::ParseRfc3339Ms(TopLevelString(stored, "recorded_at"));
}

// Positions in ascending order from one index: the ledger itself, a run's
// stream (positions grow with seq) or an audit index.
class PositionSource {
 public:
  static PositionSource Ledger(ledger::EventStore& store, std::uint64_t begin) {
    PositionSource s(store.NewIterator(ledger::kEventsTable), "", Kind::kLedger);
    s.it_->Seek(ledger::EventKey(begin));
    return s;
  }
  static PositionSource Stream(ledger::EventStore& store, std::string run_prefix) {
    PositionSource s(store.NewIterator(ledger::kStreamsTable), std::move(run_prefix), Kind::kStream);
    s.it_->Seek(s.prefix_);
    return s;
  }
  static PositionSource Audit(ledger::EventStore& store, std::string prefix, std::uint64_t begin) {
    PositionSource s(store.NewIterator(kAuditTable), std::move(prefix), Kind::kAudit);
    // Blocks are keyed by their first position: the one holding `begin`
    // is the last that starts at or before it.
    s.it_->SeekForPrev(AuditBlockKey(s.prefix_, begin));
    if (!s.InPrefix()) s.it_->Seek(s.prefix_);
    s.LoadBlock();
    return s;
  }
  bool Valid() const { return kind_ == Kind::kAudit ? index_ < block_.size() : InPrefix(); }
  void Next() {
    if (kind_ != Kind::kAudit) return it_->Next();
    if (++index_ < block_.size()) return;
    it_->Next();
    LoadBlock();
  }
  std::uint64_t position() const {
    switch (kind_) {
      case Kind::kLedger: return ledger::ReadU64(it_->key());
      case Kind::kStream: return ledger::ReadU64(it_->value());
      case Kind::kAudit: return block_[index_];
    }
    return 0;
  }

 private:
  enum class Kind { kLedger, kStream, kAudit };
  PositionSource(std::unique_ptr<TableIterator> it, std::string prefix, Kind kind)
      : it_(std::move(it)), prefix_(std::move(prefix)), kind_(kind) {}
  bool InPrefix() const { return it_->Valid() && StartsWith(it_->key(), prefix_); }
  // The block at the iterator, or none past the index's end.
  void LoadBlock() {
    index_ = 0;
    for (; InPrefix(); it_->Next()) {
      if (it_->key().size() == prefix_.size() + 8 && DecodeAuditBlock(it_->value(), &block_)) return;
    }
    block_.clear();
  }
  std::unique_ptr<TableIterator> it_;
  std::string prefix_;
  Kind kind_;
  std::vector<std::uint64_t> block_;  // audit only
  size_t index_ = 0;
};

}  // namespace

int LogLevelRank(std::string_view level) {
  if (level == "debug") return 0;
  if (level == "info") return 1;
  if (level == "warning") return 2;
  if (level == "error") return 3;
  return -1;
}

Result<std::optional<RunState>> RunQueries::GetRun(const Uuid& id) const {
  auto bytes = store_.Get(kRunsTable, RunKey(id));
  if (!bytes) return bytes.error();
  if (!bytes->has_value()) return std::optional<RunState>();
  auto state = DecodeRunRecord(**bytes);
  if (!state) return state.error();
  return std::optional<RunState>(std::move(*state));
}

Result<std::optional<RunSummary>> RunQueries::GetRunSummary(const Uuid& id) const {
  std::uint64_t epoch = 0;
  if (summaries_) {
    if (auto cached = summaries_->Find(id)) return std::optional<RunSummary>(*cached);
    epoch = summaries_->epoch();
  }
  auto bytes = store_.Get(kRunsTable, RunKey(id));
  if (!bytes) return bytes.error();
  if (!bytes->has_value()) return std::optional<RunSummary>();
  auto summary = DecodeRunSummary(**bytes);
  if (!summary) return summary.error();
  if (summaries_) summaries_->Offer(std::make_shared<const RunSummary>(*summary), epoch);
  return std::optional<RunSummary>(std::move(*summary));
}

namespace {

// Positions of a run's events after `after_seq`, at most `limit` (+1 to peek).
Result<std::vector<std::uint64_t>> StreamPositions(ledger::EventStore& store, const Uuid& id,
                                                   std::uint32_t after_seq, size_t limit) {
  std::vector<std::uint64_t> positions;
  auto it = store.NewIterator(ledger::kStreamsTable);
  const std::string prefix = UuidBytes(id);
  for (it->Seek(ledger::StreamKey(id, after_seq + 1));
       it->Valid() && StartsWith(it->key(), prefix) && positions.size() < limit; it->Next()) {
    positions.push_back(ledger::ReadU64(it->value()));
  }
  RUNLEDGER_RETURN_IF_ERROR(it->status());
  return positions;
}

}  // namespace

Result<std::optional<RunState>> RunQueries::RunAtSeq(const Uuid& id, std::uint32_t seq) const {
  auto positions = StreamPositions(store_, id, 0, seq);
  if (!positions) return positions.error();
  if (positions->size() < seq || seq == 0) return std::optional<RunState>();
  RunState state;
  for (std::uint64_t position : *positions) {
    auto event = store_.ReadEvent(position);
    if (!event) return event.error();
    if (!event->has_value()) return Status::Corruption("stream points at a missing event");
    Fold(state, **event);
  }
  return std::optional<RunState>(std::move(state));
}

Result<std::optional<RunState>> RunQueries::RunAsOf(const Uuid& id, std::int64_t ms) const {
  auto positions = StreamPositions(store_, id, 0, SIZE_MAX);
  if (!positions) return positions.error();
  std::optional<RunState> state;
  for (std::uint64_t position : *positions) {
    auto event = store_.ReadEvent(position);
    if (!event) return event.error();
    if (!event->has_value()) return Status::Corruption("stream points at a missing event");
    if ((*event)->recorded_at_ms > ms) break;
    if (!state) state.emplace();
    Fold(*state, **event);
  }
  return state;
}

Result<EventPage> RunQueries::RunEvents(const Uuid& id, std::uint32_t after_seq, size_t limit,
                                        bool logs_only, int min_level) const {
  EventPage page;
  std::uint32_t seq = after_seq;
  size_t scanned = 0;
  while (page.items.size() < limit && scanned < kScanCandidatesMax) {
    auto positions = StreamPositions(store_, id, seq, logs_only ? 256 : limit - page.items.size() + 1);
    if (!positions) return positions.error();
    if (positions->empty()) return page;
    // Streams are dense: the i-th position read is seq + 1 + i. Only logs
    // are parsed (for their level); the rest are served as stored.
    for (std::uint64_t position : *positions) {
      ++scanned;
      auto bytes = store_.ReadEventBytes(position);
      if (!bytes) return bytes.error();
      if (!bytes->has_value()) return Status::Corruption("stream points at a missing event");
      std::string& stored = **bytes;
      bool wanted = !logs_only;
      if (logs_only && TopLevelString(stored, "type") == "logged") {
        auto event = ledger::DecodeEvent(stored);
        if (!event) return event.error();
        const Json* level = event->data.Find("level");
        wanted = level && level->is_string() && LogLevelRank(level->string()) >= min_level;
      }
      if (wanted) {
        if (page.items.size() == limit) {
          page.next = seq;
          return page;
        }
        page.items.push_back(std::move(stored));
      }
      ++seq;
    }
  }
  if (scanned >= kScanCandidatesMax) page.next = seq;
  return page;
}

Result<HistoryPage> RunQueries::History(const Uuid& id, std::uint32_t after_seq, size_t limit,
                                        bool with_deleted) const {
  auto positions = StreamPositions(store_, id, 0, static_cast<size_t>(after_seq) + limit + 1);
  if (!positions) return positions.error();
  HistoryPage page;
  RunState state;
  for (std::uint64_t position : *positions) {
    auto event = store_.ReadEvent(position);
    if (!event) return event.error();
    if (!event->has_value()) return Status::Corruption("stream points at a missing event");
    Fold(state, **event);
    if (state.version <= after_seq) continue;
    if (page.items.size() == limit) {
      page.next_after_seq = page.items.back().seq;
      break;
    }
    page.items.push_back({state.version, (*event)->stored, RunJson(state, with_deleted)});
  }
  return page;
}

Result<RunPage> RunQueries::ListRuns(const RunFilter& filter, size_t limit,
                                     const std::optional<std::string>& cursor) const {
  std::optional<std::string> cursor_suffix;
  if (cursor) {
    cursor_suffix = DecodeCursor(*cursor);
    if (!cursor_suffix) return Status::BadRequest("cursor is malformed");
  }
  NewestFirst runs(store_, ListingIndexes(filter), ListingBound(filter, cursor_suffix));
  RunPage page;
  std::string last_suffix;
  for (size_t scanned = 0; scanned < kScanCandidatesMax; ++scanned) {
    auto suffix = runs.Next();
    if (!suffix) break;
    const auto [created, run_id] = DecodeRunIndexSuffix(*suffix);
    if (filter.created_after_ms && created <= *filter.created_after_ms) break;
    auto run = GetRunSummary(run_id);
    if (!run) return run.error();
    if (!run->has_value() || !Matches(**run, filter)) {
      last_suffix = *suffix;
      continue;
    }
    if (page.items.size() == limit) {
      page.next_cursor = ledger::HexOf(last_suffix);
      return page;
    }
    page.items.push_back(std::move(**run));
    last_suffix = *suffix;
  }
  RUNLEDGER_RETURN_IF_ERROR(runs.status());
  return page;
}

Result<StatusCounts> RunQueries::CountRuns(const RunFilter& filter) const {
  StatusCounts counts;
  auto add = [&counts](std::string_view status, std::int64_t n) {
    if (status == "queued") counts.queued += n;
    if (status == "running") counts.running += n;
    if (status == "success") counts.success += n;
    if (status == "failure") counts.failure += n;
    if (status == "aborted") counts.aborted += n;
  };
  const bool counters_answer = !filter.triggered_by && !filter.warning && !filter.rerun_of &&
                               !filter.resumed_from && !filter.created_after_ms &&
                               !filter.created_before_ms && !filter.include_deleted;
  if (counters_answer) {
    std::vector<std::string> datastores;
    if (filter.datastore) {
      if (filter.visible_datastores && !Contains(*filter.visible_datastores, *filter.datastore)) {
        return counts;
      }
      datastores.push_back(*filter.datastore);
    } else if (filter.visible_datastores) {
      datastores = *filter.visible_datastores;
    }
    std::vector<std::string> dimensions;
    const bool all_datastores = datastores.empty() && !filter.visible_datastores;
    for (const std::string& ds : all_datastores ? std::vector<std::string>{""} : datastores) {
      const std::string base = all_datastores ? "" : "d:" + ds;
      if (filter.operations.empty()) {
        dimensions.push_back(base);
      } else {
        for (const auto& op : filter.operations) {
          dimensions.push_back(base.empty() ? "o:" + op : base + "\no:" + op);
        }
      }
    }
    for (const auto& dimension : dimensions) {
      for (const char* status : kStatuses) {
        auto value = store_.Get(kRunCountsTable, CountKey(dimension, status));
        if (!value) return value.error();
        if (value->has_value() && (*value)->size() == 8) {
          add(status, static_cast<std::int64_t>(ledger::ReadU64(**value)));
        }
      }
    }
    return counts;
  }
  RunFilter all = filter;
  all.statuses.clear();
  std::optional<std::string> cursor;
  for (;;) {
    auto page = ListRuns(all, 1000, cursor);
    if (!page) return page.error();
    for (const auto& run : page->items) add(run.status, 1);
    if (!page->next_cursor) return counts;
    cursor = page->next_cursor;
  }
}

Result<std::uint64_t> RunQueries::FirstPositionAtOrAfter(std::int64_t ms) const {
  std::uint64_t low = 1;
  std::uint64_t high = store_.size() + 1;  // answer in [low, high]
  while (low < high) {
    const std::uint64_t mid = low + (high - low) / 2;
    auto bytes = store_.ReadEventBytes(mid);
    if (!bytes) return bytes.error();
    const auto at = bytes->has_value() ? RecordedAtOf(**bytes) : std::nullopt;
    if (!at) return Status::Corruption("event " + std::to_string(mid) + " has no recorded_at");
    if (*at < ms) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  return low;
}

Result<EventPage> RunQueries::AuditEvents(const AuditFilter& f, std::uint64_t after, size_t limit) const {
  std::uint64_t begin = after + 1;
  std::uint64_t end = store_.size() + 1;  // exclusive
  if (f.from_ms) {
    auto first = FirstPositionAtOrAfter(*f.from_ms);
    if (!first) return first.error();
    begin = std::max(begin, *first);
  }
  if (f.to_ms) {
    auto last = FirstPositionAtOrAfter(*f.to_ms);
    if (!last) return last.error();
    end = std::min(end, *last);
  }
  // Candidate positions come from the narrowest index the filter names.
  std::vector<PositionSource> sources;
  if (f.run_id) {
    sources.push_back(PositionSource::Stream(store_, UuidBytes(*f.run_id)));
  } else if (f.principal) {
    sources.push_back(PositionSource::Audit(store_, AuditPrefix('P', *f.principal), begin));
  } else if (f.datastore) {
    sources.push_back(PositionSource::Audit(store_, AuditPrefix('D', *f.datastore), begin));
  } else if (f.operation) {
    sources.push_back(PositionSource::Audit(store_, AuditPrefix('O', *f.operation), begin));
  } else if (!f.types.empty()) {
    for (const auto& type : f.types) {
      sources.push_back(PositionSource::Audit(store_, AuditPrefix('T', type), begin));
    }
  } else {
    sources.push_back(PositionSource::Ledger(store_, begin));
  }
  std::map<Uuid, std::pair<std::string, std::string>> run_scope;  // datastore, operation
  EventPage page;
  std::uint64_t last = after;
  for (size_t scanned = 0; scanned < kScanCandidatesMax; ++scanned) {
    PositionSource* best = nullptr;
    for (auto& source : sources) {
      while (source.Valid() && source.position() < begin) source.Next();
      if (source.Valid() && (best == nullptr || source.position() < best->position())) best = &source;
    }
    if (best == nullptr || best->position() >= end) return page;
    const std::uint64_t best_position = best->position();
    best->Next();
    auto event = store_.ReadEvent(best_position);
    if (!event) return event.error();
    if (!event->has_value()) return Status::Corruption("an index points at a missing event");
    const ledger::Event& e = **event;
    bool match = (f.types.empty() || Contains(f.types, e.type)) &&
                 (!f.principal || e.principal == *f.principal) && (!f.run_id || e.run_id == *f.run_id);
    if (match && (f.datastore || f.operation)) {
      auto it = run_scope.find(e.run_id);
      if (it == run_scope.end()) {
        auto run = GetRunSummary(e.run_id);
        if (!run) return run.error();
        std::pair<std::string, std::string> scope;
        if (run->has_value()) scope = {(*run)->datastore_id, (*run)->operation};
        it = run_scope.emplace(e.run_id, std::move(scope)).first;
      }
      match = (!f.datastore || it->second.first == *f.datastore) &&
              (!f.operation || it->second.second == *f.operation);
    }
    if (match) {
      if (page.items.size() == limit) {
        page.next = last;
        return page;
      }
      page.items.push_back(e.stored);
    }
    last = best_position;
  }
  page.next = last;
  return page;
}

}  // namespace runledger::projections
