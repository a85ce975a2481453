#include "ledger/event_store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/options_util.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "ledger/internal/rocks.h"
#include "ledger/internal/store_impl.h"
#include "ledger/key_layout.h"
#include "ledger/signing.h"
#include "ledger/time.h"

namespace runledger::ledger {

using internal::FromRocks;

namespace {

const std::vector<std::string> kLedgerTables = {"events", "streams", "client_ids", "merkle", "meta"};
// Keys: position; run id + seq; level + index.
const std::map<std::string, TableTuning> kLedgerTuning = {
    {"events", {.ordered_suffix_bytes = 8}},
    {"streams", {.ordered_suffix_bytes = 4}},
    {"merkle", {.ordered_suffix_bytes = 8}}};
constexpr size_t kStreamHeadCacheMax = 1 << 20;
constexpr std::int64_t kRecoveryIntervalMs = 200;
}  // namespace


namespace {
std::int64_t SteadyMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Status EventStore::Impl::Open() {
  std::error_code ec;
  std::filesystem::create_directories(options_.data_dir, ec);
  if (ec) return Status::IOError("cannot create " + options_.data_dir + ": " + ec.message());
  auto lock = internal::DirectoryLock::Acquire(options_.data_dir);
  if (!lock) return lock.error();
  lock_ = std::move(*lock);
  const std::string key_path = options_.signing_key_path.empty()
                                   ? options_.data_dir + "/signing-key.pem"
                                   : options_.signing_key_path;
  auto signer = Signer::LoadOrCreate(key_path);
  if (!signer) return signer.error();
  signer_ = std::make_unique<Signer>(std::move(*signer));
  if (options_.faults) env_ = rocksdb::NewCompositeEnv(internal::NewFaultFileSystem(options_.faults));
  RUNLEDGER_RETURN_IF_ERROR(OpenDb(false));
  RUNLEDGER_RETURN_IF_ERROR(LoadHead());
  if (options_.start_committer) committer_ = std::thread([this] { CommitterLoop(); });
  return Status::Ok();
}

Status EventStore::Impl::OpenDb(bool read_only) {
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  options.max_background_jobs = 2;
  options.avoid_flush_during_shutdown = false;
  // Small tables (meta, counts) would otherwise keep old logs alive until the
  // WAL reached 4x all write buffers (~2.8 GB), and a crash would replay it all.
  options.max_total_wal_size = 256 << 20;
  if (env_) options.env = env_.get();
  if (!block_cache_) block_cache_ = rocksdb::NewLRUCache(options_.block_cache_bytes);

  const std::string path = options_.data_dir + "/db";
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  names.insert(names.end(), kLedgerTables.begin(), kLedgerTables.end());
  names.insert(names.end(), options_.projection_tables.begin(), options_.projection_tables.end());
  // RocksDB requires every existing family to be opened; keep unknown ones at the end.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(options, path, &existing).ok()) {
    for (const auto& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, TableOptions(name));
  rocksdb::DB* raw = nullptr;
  handles_.clear();
  const rocksdb::Status s =
      read_only ? rocksdb::DB::OpenForReadOnly(options, path, descriptors, &handles_, &raw)
                : rocksdb::DB::Open(options, path, descriptors, &handles_, &raw);
  if (!s.ok()) return FromRocks(s, "opening " + path);
  db_.reset(raw);
  return Status::Ok();
}

rocksdb::ColumnFamilyOptions EventStore::Impl::TableOptions(const std::string& name) const {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache_;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  // Point reads (run records, client ids, idempotency keys, events by
  // position) skip the tables that cannot hold the key.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Most Gets look for keys that are not in the active memtable (client ids
  // and idempotency keys never seen, runs written before the last flush): a
  // bloom filter over its keys skips the skip-list search for those.
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.02;
  TableTuning tuning;
  for (const auto* tunings : {&kLedgerTuning, &options_.projection_tuning}) {
    if (auto it = tunings->find(name); it != tunings->end()) tuning = it->second;
  }
  if (tuning.ordered_suffix_bytes > 0) {
    options.memtable_insert_with_hint_prefix_extractor =
        internal::NewAllButSuffixTransform(tuning.ordered_suffix_bytes);
  }
  if (tuning.write_buffer_bytes > 0) options.write_buffer_size = tuning.write_buffer_bytes;
  options.disable_auto_compactions = !options_.compactions;
  return options;
}

void EventStore::Impl::CloseDb(bool flush) {
  if (!db_) return;
  if (flush && writable_.load()) {
    rocksdb::FlushOptions options;
    options.allow_write_stall = true;
    db_->Flush(options, handles_).PermitUncheckedError();  // the WAL still has it
  }
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle);
  handles_.clear();
  db_->Close().PermitUncheckedError();
  db_.reset();
}

Status EventStore::Impl::LoadHead() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEventsTable)));
  it->SeekToLast();
  RUNLEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading the head"));
  std::uint64_t size = 0;
  if (it->Valid()) {
    size = ReadU64(ToView(it->key()));
    auto last = DecodeEvent(ToView(it->value()));
    if (!last) return last.error();
    last_recorded_ms_ = last->recorded_at_ms;
  }
  auto frontier = Read(kMetaTable, kFrontierKey);
  if (!frontier) return frontier.error();
  frontier_ = MerkleFrontier();
  if (frontier->has_value()) {
    auto decoded = MerkleFrontier::Decode(**frontier);
    if (!decoded) return decoded.error();
    frontier_ = std::move(*decoded);
  }
  if (frontier_.size() != size) {
    return Status::Corruption("Merkle frontier covers " + std::to_string(frontier_.size()) +
                              " events but the ledger holds " + std::to_string(size));
  }
  auto cp = Read(kMetaTable, kCheckpointKey);
  if (!cp) return cp.error();
  std::optional<Checkpoint> checkpoint;
  if (cp->has_value()) {
    auto decoded = Checkpoint::FromJson(**cp);
    if (!decoded) return decoded.error();
    checkpoint = std::move(*decoded);
  }
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_ = std::move(checkpoint);
  }
  next_position_ = size + 1;
  size_.store(size, std::memory_order_release);
  stream_heads_.clear();
  oldest_unsigned_ms_ = SteadyMs();
  return Status::Ok();
}

void EventStore::Impl::Stop() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
}

void EventStore::Impl::Submit(std::unique_ptr<Command> command) {
  {
    std::lock_guard lock(queue_mutex_);
    if (options_.start_committer && !stopping_ && queue_.size() < options_.queue_commands_max) {
      queue_.push_back(std::move(command));
      command = nullptr;
    }
  }
  if (command) {
    command->Complete(Status::Unavailable("the ledger is offline, shutting down or overloaded"));
    return;
  }
  queue_cv_.notify_one();
}

Result<std::optional<std::string>> EventStore::Impl::Read(TableId table, std::string_view key,
                                                         const rocksdb::Snapshot* snapshot) const {
  if (!db_) return Status::Unavailable("the store is closed");
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string value;
  const rocksdb::Status s = db_->Get(read_options, cf(table), ToSlice(key), &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s, "reading");
  return std::optional<std::string>(std::move(value));
}

Result<std::uint32_t> EventStore::Impl::StreamVersion(const Uuid& run_id) {
  if (auto it = pending_heads_.find(run_id); it != pending_heads_.end()) return it->second;
  if (auto it = stream_heads_.find(run_id); it != stream_heads_.end()) return it->second;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kStreamsTable)));
  const std::string last = StreamKey(run_id, UINT32_MAX);
  it->SeekForPrev(ToSlice(last));
  RUNLEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "reading a stream head"));
  std::uint32_t version = 0;
  if (it->Valid() && it->key().size() == 20 &&
      std::memcmp(it->key().data(), run_id.data(), run_id.size()) == 0) {
    version = ReadU32(ToView(it->key()).substr(16));
  }
  if (stream_heads_.size() >= kStreamHeadCacheMax) stream_heads_.clear();
  stream_heads_[run_id] = version;
  return version;
}

Result<std::optional<Event>> EventStore::Impl::FindByClientId(const Uuid& run_id,
                                                              std::string_view client_id) {
  const std::string key = ClientIdKey(run_id, client_id);
  if (auto it = pending_client_ids_.find(key); it != pending_client_ids_.end()) {
    return std::optional<Event>(batch_events_[it->second]);
  }
  auto position = Read(kClientIdsTable, key);
  if (!position) return position.error();
  if (!position->has_value()) return std::optional<Event>();
  auto bytes = Read(kEventsTable, **position);
  if (!bytes) return bytes.error();
  if (!bytes->has_value()) return Status::Corruption("client id points at a missing event");
  auto event = DecodeEvent(**bytes);
  if (!event) return event.error();
  return std::optional<Event>(std::move(*event));
}

Result<std::optional<Event>> EventStore::Impl::EventAt(std::uint64_t position) {
  if (!batch_events_.empty() && position >= batch_events_.front().position &&
      position <= batch_events_.back().position) {
    return std::optional<Event>(batch_events_[position - batch_events_.front().position]);
  }
  auto bytes = Read(kEventsTable, EventKey(position));
  if (!bytes) return bytes.error();
  if (!bytes->has_value()) return std::optional<Event>();
  auto event = DecodeEvent(**bytes);
  if (!event) return event.error();
  return std::optional<Event>(std::move(*event));
}

const Event& EventStore::Impl::Append(Event event) {
  auto version = StreamVersion(event.run_id);
  if (!version && batch_status_.ok()) batch_status_ = version.error();
  event.seq = (version ? *version : 0) + 1;  // a read error fails the whole batch (batch_status_)
  event.position = next_position_++;
  event.recorded_at_ms = batch_time_ms_;
  SealEvent(&event);
  pending_heads_[event.run_id] = event.seq;
  const std::string position_key = EventKey(event.position);
  batch_.Put(cf(kEventsTable), ToSlice(position_key), ToSlice(event.stored));
  const std::string stream_key = StreamKey(event.run_id, event.seq);
  batch_.Put(cf(kStreamsTable), ToSlice(stream_key), ToSlice(position_key));
  if (event.id) {
    std::string key = ClientIdKey(event.run_id, *event.id);
    batch_.Put(cf(kClientIdsTable), ToSlice(key), ToSlice(position_key));
    pending_client_ids_[std::move(key)] = batch_events_.size();
  }
  frontier_.Append(event.hash, [this](SubtreeId id, const Hash& hash) {
    const std::string key = MerkleKey(id.level, id.index);
    batch_.Put(cf(kMerkleTable), ToSlice(key),
               rocksdb::Slice(reinterpret_cast<const char*>(hash.data()), hash.size()));
  });
  if (hook_) hook_->OnEvent(event, *this);
  batch_events_.push_back(std::move(event));
  return batch_events_.back();
}

std::optional<std::chrono::steady_clock::time_point> EventStore::Impl::NextWake() const {
  using namespace std::chrono;
  if (!writable_.load()) return steady_clock::now() + milliseconds(kRecoveryIntervalMs);
  if (size_.load() == SignedSize()) return std::nullopt;
  return steady_clock::time_point(milliseconds(oldest_unsigned_ms_ + options_.checkpoint_interval_ms));
}

void EventStore::Impl::CommitterLoop() {
  for (;;) {
    std::vector<std::unique_ptr<Command>> commands;
    {
      std::unique_lock lock(queue_mutex_);
      const auto wake = NextWake();
      const auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (wake) {
        queue_cv_.wait_until(lock, *wake, ready);
      } else {
        queue_cv_.wait(lock, ready);
      }
      if (stopping_ && queue_.empty()) break;
      while (!queue_.empty() && commands.size() < options_.batch_commands_max) {
        commands.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!writable_.load() && !TryRecover()) {
      for (auto& command : commands) {
        command->Complete(Status::Unavailable("the store is not writable"));
      }
      continue;
    }
    if (!commands.empty()) RunBatch(commands);
    if (writable_.load()) {
      const Status s = MaybeCheckpoint(false);
      (void)s;  // a failure already switched the store to unwritable
    }
  }
  // Final checkpoint so a clean shutdown leaves every event signed.
  if (writable_.load()) (void)MaybeCheckpoint(true);
}

void EventStore::Impl::RunBatch(std::vector<std::unique_ptr<Command>>& commands) {
  batch_time_ms_ = std::max(NowUnixMs(), last_recorded_ms_);
  std::vector<Status> results;
  results.reserve(commands.size());
  std::shared_lock read_lock(db_mutex_);
  for (auto& command : commands) results.push_back(command->Execute(*this));
  if (!batch_events_.empty()) {
    if (hook_) hook_->OnBatchEnd(*this);
    const std::string frontier = frontier_.Encode();
    batch_.Put(cf(kMetaTable), ToSlice(kFrontierKey), ToSlice(frontier));
    const auto sync_started = std::chrono::steady_clock::now();
    const Status s = batch_status_.ok() ? WriteBatch(&batch_, true) : batch_status_;
    if (s.ok()) {
      RecordBatch(batch_events_.size(),
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_started).count());
      if (size_.load() == SignedSize()) oldest_unsigned_ms_ = SteadyMs();
      size_.store(batch_events_.back().position, std::memory_order_release);
      last_recorded_ms_ = batch_time_ms_;
      for (const auto& [run_id, seq] : pending_heads_) stream_heads_[run_id] = seq;
      if (hook_) hook_->OnCommitted(batch_events_);
    } else {
      writable_.store(false);
      last_recovery_attempt_ms_ = SteadyMs();
      if (hook_) hook_->OnReset();
      for (auto& result : results) {
        if (result.ok()) result = Status::Unavailable("the batch was not stored: " + s.message());
      }
    }
  }
  read_lock.unlock();
  for (size_t i = 0; i < commands.size(); ++i) {
    if (results[i].ok() && dynamic_cast<CheckpointRequest*>(commands[i].get()) != nullptr) {
      results[i] = writable_.load() ? MaybeCheckpoint(true)
                                    : Status::Unavailable("the store is not writable");
    }
    commands[i]->Complete(results[i]);
  }
  ResetBatch();  // only now: the events Append returned live until Complete
}

void EventStore::Impl::RecordBatch(size_t events, double seconds) {
  std::lock_guard lock(stats_mutex_);
  ++stats_.batches;
  stats_.events += events;
  stats_.sync_seconds += seconds;
  for (size_t i = 0; i < std::size(CommitStats::kBatchBuckets); ++i) {
    if (events <= CommitStats::kBatchBuckets[i]) ++stats_.batch_le[i];
  }
  for (size_t i = 0; i < std::size(CommitStats::kSyncBuckets); ++i) {
    if (seconds <= CommitStats::kSyncBuckets[i]) ++stats_.sync_le[i];
  }
}

std::uint64_t EventStore::Impl::SignedSize() const {
  std::lock_guard lock(checkpoint_mutex_);
  return checkpoint_ ? checkpoint_->size : 0;
}

Status EventStore::Impl::WriteBatch(rocksdb::WriteBatch* batch, bool sync) {
  rocksdb::WriteOptions write_options;
  write_options.sync = sync;
  return FromRocks(db_->Write(write_options, batch), "writing a batch");
}

void EventStore::Impl::ResetBatch() {
  batch_status_ = Status::Ok();
  batch_.Clear();
  batch_events_.clear();
  pending_heads_.clear();
  pending_client_ids_.clear();
}

// Reopens RocksDB and reloads the head from disk: a failed write may or may
// not have reached it, so nothing in memory is trusted.
bool EventStore::Impl::TryRecover() {
  const std::int64_t now = SteadyMs();
  if (now - last_recovery_attempt_ms_ < kRecoveryIntervalMs) return false;
  last_recovery_attempt_ms_ = now;
  std::unique_lock lock(db_mutex_);
  CloseDb();
  Status s = OpenDb(false);
  if (s.ok()) s = LoadHead();
  if (!s.ok()) {
    CloseDb();
    (void)OpenDb(true);  // keep reads working while the disk is unwritable
    return false;
  }
  if (hook_) hook_->OnReset();
  writable_.store(true);
  return true;
}

Status EventStore::Impl::MaybeCheckpoint(bool force) {
  const std::uint64_t size = size_.load();
  const std::uint64_t signed_size = SignedSize();
  if (size == signed_size) return Status::Ok();
  if (!force && size - signed_size < options_.checkpoint_every_events &&
      SteadyMs() - oldest_unsigned_ms_ < options_.checkpoint_interval_ms) {
    return Status::Ok();
  }
  Checkpoint cp;
  cp.size = size;
  cp.root = frontier_.Root();
  cp.recorded_at = FormatTimestampMs(std::max(NowUnixMs(), last_recorded_ms_));
  cp.key_id = signer_->KeyId();
  cp.signature = Base64Encode(signer_->Sign(cp.SignedMessage()));
  const std::string json = cp.ToJson();
  rocksdb::WriteBatch batch;
  batch.Put(cf(kMetaTable), ToSlice(kCheckpointKey), ToSlice(json));
  Status s;
  {
    std::shared_lock read_lock(db_mutex_);
    s = WriteBatch(&batch, true);
  }
  if (!s.ok()) {
    writable_.store(false);
    last_recovery_attempt_ms_ = SteadyMs();
    return Status::Unavailable("could not store a checkpoint: " + s.message());
  }
  std::lock_guard lock(checkpoint_mutex_);
  checkpoint_ = std::move(cp);
  return Status::Ok();
}

}  // namespace runledger::ledger
