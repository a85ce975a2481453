#pragma once

// The store's private state, shared by event_store.cc (open, committer,
// checkpoints) and store_reads.cc (reads, iterators, rebuild, verify).

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "ledger/event_store.h"
#include "ledger/internal/rocks.h"
#include "ledger/signing.h"

namespace runledger::ledger {

inline rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// Forces a checkpoint regardless of the thresholds; used by CheckpointNow.
class CheckpointRequest : public Command {
 public:
  explicit CheckpointRequest(std::promise<Status> done) : done_(std::move(done)) {}
  Status Execute(AppendContext&) override { return Status::Ok(); }
  void Complete(const Status& status) override { done_.set_value(status); }

 private:
  std::promise<Status> done_;
};

class EventStore::Impl : public AppendContext {
 public:
  explicit Impl(StoreOptions options, BatchHook* hook) : options_(std::move(options)), hook_(hook) {}
  ~Impl() override { Stop(); CloseDb(/*flush=*/true); }

  Status Open();
  void Stop();
  void Submit(std::unique_ptr<Command> command);

  // Reads.
  Result<std::optional<std::string>> Read(TableId table, std::string_view key,
                                         const rocksdb::Snapshot* snapshot = nullptr) const;
  std::shared_lock<std::shared_mutex> ReadLock() const { return std::shared_lock(db_mutex_); }
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* cf(TableId table) const { return handles_[static_cast<size_t>(table) + 1]; }

  // AppendContext.
  void Put(TableId table, std::string_view key, std::string_view value) override {
    batch_.Put(cf(table), ToSlice(key), ToSlice(value));
  }
  void SingleDelete(TableId table, std::string_view key) override {
    batch_.SingleDelete(cf(table), ToSlice(key));
  }
  Result<std::optional<std::string>> Get(TableId table, std::string_view key) override {
    auto value = Read(table, key);
    if (!value && batch_status_.ok()) batch_status_ = value.error();
    return value;
  }
  Result<std::uint32_t> StreamVersion(const Uuid& run_id) override;
  Result<std::optional<Event>> FindByClientId(const Uuid& run_id, std::string_view client_id) override;
  Result<std::optional<Event>> EventAt(std::uint64_t position) override;
  const Event& Append(Event event) override;
  std::int64_t batch_time_ms() const override { return batch_time_ms_; }

  Status Rebuild();
  Result<Checkpoint> CheckpointNow(EventStore& owner);

  StoreOptions options_;
  BatchHook* hook_;
  std::unique_ptr<Signer> signer_;
  std::atomic<std::uint64_t> size_{0};
  std::atomic<bool> writable_{true};
  mutable std::mutex stats_mutex_;
  CommitStats stats_;
  mutable std::mutex checkpoint_mutex_;
  std::optional<Checkpoint> checkpoint_;

 private:
  Status OpenDb(bool read_only);
  rocksdb::ColumnFamilyOptions TableOptions(const std::string& name) const;
  // `flush`: write the memtables to tables first, so the next open does not
  // replay the write-ahead log (RocksDB skips that flush when the WAL has the data).
  void CloseDb(bool flush = false);
  Status LoadHead();
  void CommitterLoop();
  void RunBatch(std::vector<std::unique_ptr<Command>>& commands);
  Status WriteBatch(rocksdb::WriteBatch* batch, bool sync);
  void ResetBatch();
  bool TryRecover();
  Status MaybeCheckpoint(bool force);
  std::optional<std::chrono::steady_clock::time_point> NextWake() const;
  std::uint64_t SignedSize() const;
  void RecordBatch(size_t events, double seconds);

  std::unique_ptr<internal::DirectoryLock> lock_;
  std::unique_ptr<rocksdb::Env> env_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  mutable std::shared_mutex db_mutex_;  // exclusive only while reopening
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [0] = default, then TableId + 1

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::unique_ptr<Command>> queue_;
  bool stopping_ = false;
  std::thread committer_;

  // Committer-thread state.
  rocksdb::WriteBatch batch_;
  Status batch_status_;  // the first read error while building the batch: fails it
  std::deque<Event> batch_events_;
  std::unordered_map<Uuid, std::uint32_t, UuidHash> stream_heads_;
  std::unordered_map<Uuid, std::uint32_t, UuidHash> pending_heads_;
  std::unordered_map<std::string, size_t> pending_client_ids_;  // ClientIdKey -> batch index
  MerkleFrontier frontier_;
  std::uint64_t next_position_ = 1;
  std::int64_t last_recorded_ms_ = 0;
  std::int64_t batch_time_ms_ = 0;
  std::int64_t oldest_unsigned_ms_ = 0;  // steady ms when the first unsigned event committed
  std::int64_t last_recovery_attempt_ms_ = 0;
};

}  // namespace runledger::ledger
