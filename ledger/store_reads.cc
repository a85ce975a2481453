// EventStore's public surface: reads, iterators, snapshots, rebuild, verify.

#include <rocksdb/db.h>

#include <algorithm>
#include <future>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/internal/background_thread.h"
#include "ledger/internal/store_impl.h"
#include "ledger/key_layout.h"

namespace runledger::ledger {
namespace {


class RocksTableIterator : public TableIterator {
 public:
  RocksTableIterator(std::shared_lock<std::shared_mutex> lock, rocksdb::Iterator* it)
      : lock_(std::move(lock)), it_(it) {}
  void Seek(std::string_view key) override { it_->Seek(ToSlice(key)); }
  void SeekForPrev(std::string_view key) override { it_->SeekForPrev(ToSlice(key)); }
  void SeekToFirst() override { it_->SeekToFirst(); }
  void SeekToLast() override { it_->SeekToLast(); }
  bool Valid() const override { return it_ && it_->Valid(); }
  void Next() override { it_->Next(); }
  void Prev() override { it_->Prev(); }
  std::string_view key() const override { return ToView(it_->key()); }
  std::string_view value() const override { return ToView(it_->value()); }
  Status status() const override {
    if (!it_) return Status::Unavailable("the store is closed");
    return internal::FromRocks(it_->status(), "iterating");
  }

 private:
  std::shared_lock<std::shared_mutex> lock_;  // declared first: released last
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksSnapshot : public ReadSnapshot {
 public:
  RocksSnapshot(std::shared_lock<std::shared_mutex> lock, rocksdb::DB* db, std::uint64_t size)
      : lock_(std::move(lock)), db_(db), snapshot_(db ? db->GetSnapshot() : nullptr), size_(size) {}
  ~RocksSnapshot() override {
    if (snapshot_) db_->ReleaseSnapshot(snapshot_);
  }
  std::uint64_t size() const override { return size_; }
  void set_size(std::uint64_t size) { size_ = size; }
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  std::shared_lock<std::shared_mutex> lock_;
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
  std::uint64_t size_;
};

// Collects rebuilt projections into batches written without the WAL; one
// flush at the end makes them durable.
class RebuildContext : public WriteContext {
 public:
  RebuildContext(EventStore::Impl& impl, internal::BackgroundThread& writer)
      : impl_(impl), writer_(writer) {}
  void Put(TableId table, std::string_view key, std::string_view value) override {
    batch_->Put(impl_.cf(table), ToSlice(key), ToSlice(value));
  }
  void SingleDelete(TableId table, std::string_view key) override {
    batch_->SingleDelete(impl_.cf(table), ToSlice(key));
  }
  Result<std::optional<std::string>> Get(TableId table, std::string_view key) override {
    auto value = impl_.Read(table, key);
    if (!value && read_status_.ok()) read_status_ = value.error();
    return value;
  }
  const Status& read_status() const { return read_status_; }
  // Writes what was collected on another thread; the next batch collects meanwhile.
  std::future<Status> WriteAsync() {
    auto write = [db = impl_.db(), batch = std::move(batch_)]() {
      rocksdb::WriteOptions options;
      options.disableWAL = true;
      return internal::FromRocks(db->Write(options, batch.get()), "writing rebuilt projections");
    };
    batch_ = std::make_unique<rocksdb::WriteBatch>();
    return writer_.Run(std::move(write));
  }

 private:
  EventStore::Impl& impl_;
  internal::BackgroundThread& writer_;
  Status read_status_;  // the first failed Get: fails the rebuild
  std::unique_ptr<rocksdb::WriteBatch> batch_ = std::make_unique<rocksdb::WriteBatch>();
};

// Names the first position whose content no longer matches the leaf stored
// when it was appended; the caller already knows the root is wrong.
Status FirstChangedLeaf(EventStore& store, std::uint64_t size, std::string_view which) {
  auto it = store.NewIterator(kEventsTable);
  std::uint64_t position = 1;
  for (it->SeekToFirst(); it->Valid() && position <= size; it->Next(), ++position) {
    Hash claimed;
    auto leaf = RecomputeLeafHash(it->value(), &claimed);
    auto stored = store.Subtree({0, position - 1});
    if (!leaf || !stored || *leaf != *stored) {
      return Status::Corruption("position " + std::to_string(position) +
                                ": the event was changed after it was appended");
    }
  }
  return Status::Corruption("the events up to position " + std::to_string(size) +
                            " do not hash to the " + std::string(which) + " checkpoint's root");
}

}  // namespace

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventStore::~EventStore() = default;

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& options, BatchHook* hook) {
  auto impl = std::make_unique<Impl>(options, hook);
  RUNLEDGER_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<EventStore>(new EventStore(std::move(impl)));
}

void EventStore::Submit(std::unique_ptr<Command> command) { impl_->Submit(std::move(command)); }

Result<std::optional<std::string>> EventStore::Get(TableId table, std::string_view key) const {
  auto lock = impl_->ReadLock();
  return impl_->Read(table, key);
}

Result<std::optional<std::string>> EventStore::ReadEventBytes(std::uint64_t position) const {
  return Get(kEventsTable, EventKey(position));
}

Result<std::optional<Event>> EventStore::ReadEvent(std::uint64_t position) const {
  auto bytes = ReadEventBytes(position);
  if (!bytes) return bytes.error();
  if (!bytes->has_value()) return std::optional<Event>();
  auto event = DecodeEvent(**bytes);
  if (!event) return event.error();
  return std::optional<Event>(std::move(*event));
}

Result<std::optional<std::uint64_t>> EventStore::StreamPosition(const Uuid& run_id,
                                                                std::uint32_t seq) const {
  auto value = Get(kStreamsTable, StreamKey(run_id, seq));
  if (!value) return value.error();
  if (!value->has_value() || (*value)->size() != 8) return std::optional<std::uint64_t>();
  return std::optional<std::uint64_t>(ReadU64(**value));
}

std::unique_ptr<TableIterator> EventStore::NewIterator(TableId table,
                                                       const ReadSnapshot* snapshot) const {
  auto lock = impl_->ReadLock();
  if (!impl_->db()) return std::make_unique<RocksTableIterator>(std::move(lock), nullptr);
  rocksdb::ReadOptions options;
  if (snapshot) options.snapshot = static_cast<const RocksSnapshot*>(snapshot)->get();
  rocksdb::Iterator* it = impl_->db()->NewIterator(options, impl_->cf(table));
  return std::make_unique<RocksTableIterator>(std::move(lock), it);
}

std::unique_ptr<ReadSnapshot> EventStore::NewSnapshot() const {
  auto lock = impl_->ReadLock();
  rocksdb::DB* db = impl_->db();
  auto snapshot = std::make_unique<RocksSnapshot>(std::move(lock), db, 0);
  if (!db) return snapshot;
  // The snapshot's size is its last event, not size(): a batch may be written
  // but not yet published.
  rocksdb::ReadOptions options;
  options.snapshot = snapshot->get();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(options, impl_->cf(kEventsTable)));
  it->SeekToLast();
  snapshot->set_size(it->Valid() ? ReadU64(ToView(it->key())) : 0);
  return snapshot;
}

Result<Hash> EventStore::Subtree(SubtreeId id) {
  auto value = Get(kMerkleTable, MerkleKey(id.level, id.index));
  if (!value) return value.error();
  if (!value->has_value() || (*value)->size() != 32) {
    return Status::Corruption("missing Merkle subtree " + std::to_string(id.level) + "/" +
                              std::to_string(id.index));
  }
  Hash hash;
  std::memcpy(hash.data(), (*value)->data(), hash.size());
  return hash;
}

std::uint64_t EventStore::size() const { return impl_->size_.load(std::memory_order_acquire); }
bool EventStore::writable() const { return impl_->writable_.load(); }

std::optional<Checkpoint> EventStore::LatestCheckpoint() const {
  std::lock_guard lock(impl_->checkpoint_mutex_);
  return impl_->checkpoint_;
}

CommitStats EventStore::Stats() const {
  std::lock_guard lock(impl_->stats_mutex_);
  return impl_->stats_;
}

const std::string& EventStore::PublicKeyPem() const { return impl_->signer_->PublicKeyPem(); }

Result<Checkpoint> EventStore::CheckpointNow() {
  std::promise<Status> done;
  auto signed_future = done.get_future();
  Submit(std::make_unique<CheckpointRequest>(std::move(done)));
  RUNLEDGER_RETURN_IF_ERROR(signed_future.get());
  auto cp = LatestCheckpoint();
  if (!cp) return Status::NotFound("no_checkpoint", "the ledger holds no event yet");
  return *cp;
}

Status EventStore::RebuildProjections() { return impl_->Rebuild(); }

Status EventStore::Impl::Rebuild() {
  if (options_.start_committer) return Status::Internal("rebuild needs an offline store");
  for (size_t i = 0; i < options_.projection_tables.size(); ++i) {
    const TableId table = kFirstProjectionTable + static_cast<TableId>(i);
    const size_t slot = static_cast<size_t>(table) + 1;
    RUNLEDGER_RETURN_IF_ERROR(internal::FromRocks(db_->DropColumnFamily(handles_[slot]), "dropping"));
    RUNLEDGER_RETURN_IF_ERROR(
        internal::FromRocks(db_->DestroyColumnFamilyHandle(handles_[slot]), "dropping"));
    rocksdb::ColumnFamilyHandle* fresh = nullptr;
    RUNLEDGER_RETURN_IF_ERROR(internal::FromRocks(
        db_->CreateColumnFamily(TableOptions(options_.projection_tables[i]),
                                options_.projection_tables[i], &fresh),
        "recreating"));
    handles_[slot] = fresh;
  }
  if (hook_ == nullptr) return Status::Ok();
  hook_->OnReset();
  internal::BackgroundThread writer;
  RebuildContext ctx(*this, writer);
  // Parsing the stored JSON is pure: a second thread decodes the next batch
  // while this one folds the current one into the projections.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEventsTable)));
  const size_t batch_events = std::max<size_t>(options_.rebuild_batch_events, 1);
  auto read_batch = [&it, batch_events]() {
    std::vector<std::string> stored;
    stored.reserve(batch_events);
    for (; it->Valid() && stored.size() < batch_events; it->Next()) {
      stored.emplace_back(ToView(it->value()));
    }
    return stored;
  };
  auto decode = [](std::vector<std::string> stored) -> Result<std::deque<Event>> {
    std::deque<Event> events;
    for (const std::string& bytes : stored) {
      auto event = DecodeEvent(bytes);
      if (!event) return event.error();
      events.push_back(std::move(*event));
    }
    return events;
  };
  // Likewise, batch N is written on a third thread while batch N+1 folds:
  // the hook keeps N's state until OnCommitted (BatchHook's contract).
  std::future<Status> written;
  std::deque<Event> written_events;
  auto await_written = [&]() -> Status {
    if (!written.valid()) return Status::Ok();
    RUNLEDGER_RETURN_IF_ERROR(written.get());
    hook_->OnCommitted(written_events);
    return Status::Ok();
  };
  internal::BackgroundThread decoder;  // declared after what its tasks use: joined first
  auto decode_next = [&](std::vector<std::string> stored) {
    return decoder.Run([&decode, stored = std::move(stored)]() mutable { return decode(std::move(stored)); });
  };
  it->SeekToFirst();
  auto decoded = decode_next(read_batch());
  for (;;) {
    std::vector<std::string> next = read_batch();
    Result<std::deque<Event>> batch = decoded.get();
    if (!batch) return batch.error();
    const bool last = next.empty();
    if (!last) decoded = decode_next(std::move(next));
    for (const Event& event : *batch) hook_->OnEvent(event, ctx);
    hook_->OnBatchEnd(ctx);
    RUNLEDGER_RETURN_IF_ERROR(ctx.read_status());
    RUNLEDGER_RETURN_IF_ERROR(await_written());
    written = ctx.WriteAsync();
    written_events = std::move(*batch);
    if (last) break;
  }
  RUNLEDGER_RETURN_IF_ERROR(await_written());
  RUNLEDGER_RETURN_IF_ERROR(internal::FromRocks(it->status(), "reading events"));
  rocksdb::FlushOptions flush;
  flush.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> tables(handles_.begin() + 1 + kFirstProjectionTable,
                                                   handles_.end());
  return internal::FromRocks(db_->Flush(flush, tables), "flushing rebuilt projections");
}

Status VerifyStore(EventStore& store, const std::optional<Checkpoint>& trusted, VerifyReport* report) {
  const auto latest = store.LatestCheckpoint();
  if (latest && !latest->VerifyWith(store.PublicKeyPem())) {
    return Status::Corruption("the latest checkpoint's signature does not verify");
  }
  if (trusted && latest && trusted->size > latest->size) {
    return Status::Corruption("the trusted checkpoint (size " + std::to_string(trusted->size) +
                              ") is beyond the store's latest (size " + std::to_string(latest->size) +
                              "): the store lost events");
  }
  if (trusted && !trusted->VerifyWith(store.PublicKeyPem())) {
    return Status::Corruption("the trusted checkpoint was not signed by this store's key");
  }
  MerkleFrontier frontier;
  auto check_root = [&](const Checkpoint& cp, std::string_view which) -> Status {
    if (frontier.size() == cp.size && frontier.Root() != cp.root) {
      return FirstChangedLeaf(store, cp.size, which);
    }
    return Status::Ok();
  };
  // Leaf hashing is most of the work: a second thread hashes one chunk
  // while this one reads the next, then the tree folds in order here.
  struct Chunk {
    std::uint64_t first = 0;  // position of values[0]
    std::vector<std::string> values;
    std::vector<Result<Hash>> leaves;
    std::vector<Hash> claimed;
  };
  auto hash_leaves = [](Chunk* chunk) {
    chunk->claimed.resize(chunk->values.size());
    chunk->leaves.clear();
    chunk->leaves.reserve(chunk->values.size());
    for (size_t i = 0; i < chunk->values.size(); ++i) {
      chunk->leaves.push_back(RecomputeLeafHash(chunk->values[i], &chunk->claimed[i]));
    }
  };
  auto fold = [&](const Chunk& chunk) -> Status {
    for (size_t i = 0; i < chunk.values.size(); ++i) {
      const std::uint64_t position = chunk.first + i;
      const Result<Hash>& leaf = chunk.leaves[i];
      if (!leaf) return Status::Corruption("position " + std::to_string(position) + ": " + leaf.error().message());
      if (*leaf != chunk.claimed[i]) {
        return Status::Corruption("position " + std::to_string(position) +
                                  ": the event's content does not match its hash");
      }
      frontier.Append(*leaf, [](SubtreeId, const Hash&) {});
      if (trusted) RUNLEDGER_RETURN_IF_ERROR(check_root(*trusted, "trusted"));
      if (latest) RUNLEDGER_RETURN_IF_ERROR(check_root(*latest, "latest"));
    }
    return Status::Ok();
  };
  constexpr size_t kVerifyChunkEvents = 4096;
  auto it = store.NewIterator(kEventsTable);
  std::uint64_t expected = 1;
  Status missing = Status::Ok();
  auto read_chunk = [&](Chunk* chunk) {
    chunk->first = expected;
    chunk->values.clear();
    for (; it->Valid() && chunk->values.size() < kVerifyChunkEvents; it->Next(), ++expected) {
      const std::uint64_t position = it->key().size() == 8 ? ReadU64(it->key()) : 0;
      if (position != expected) {
        missing = Status::Corruption("position " + std::to_string(expected) + " is missing");
        return;
      }
      chunk->values.emplace_back(it->value());
    }
  };
  it->SeekToFirst();
  Chunk hashing;
  read_chunk(&hashing);
  internal::BackgroundThread hasher;  // declared after `hashing`: joined first
  while (!hashing.values.empty()) {
    auto hashed = hasher.Run([&hash_leaves, &hashing] { hash_leaves(&hashing); });
    Chunk next;
    if (missing.ok()) read_chunk(&next);
    hashed.get();
    RUNLEDGER_RETURN_IF_ERROR(fold(hashing));
    hashing = std::move(next);
  }
  RUNLEDGER_RETURN_IF_ERROR(missing);
  RUNLEDGER_RETURN_IF_ERROR(it->status());
  if (latest && frontier.size() < latest->size) {
    return Status::Corruption("the store holds " + std::to_string(frontier.size()) +
                              " events but its checkpoint covers " + std::to_string(latest->size));
  }
  if (trusted && frontier.size() < trusted->size) {
    return Status::Corruption("the store holds fewer events than the trusted checkpoint covers");
  }
  report->events = frontier.size();
  report->checkpoint_size = latest ? latest->size : 0;
  report->root = frontier.Root();
  return Status::Ok();
}

}  // namespace runledger::ledger
