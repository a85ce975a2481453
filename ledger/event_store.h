#pragma once

// The append-only event store: RocksDB column families (ledger/key_layout.h),
// one committer thread that sequences and group-commits every append, the
// incremental Merkle tree and signed checkpoints.
//
// Path of an append: Submit(command) queues it; the committer thread takes
// every command waiting at that moment, runs each one's Execute (which reads
// state and calls AppendContext::Append, where projections add their updates
// through BatchHook::OnEvent), writes the whole batch with one synced
// WriteBatch, then answers every command. Nothing is answered before it is
// durable. After a failed write the store stops accepting writes (503) until
// it has reopened RocksDB and reloaded its head from disk.

#include <cstdint>
#include <deque>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/checkpoint.h"
#include "ledger/event.h"
#include "ledger/fault_injection.h"
#include "ledger/merkle.h"
#include "ledger/status.h"

namespace runledger::ledger {

// Column families. The ledger owns the first five; projections declare theirs
// in StoreOptions::projection_tables and address them as
// kFirstProjectionTable + i.
using TableId = int;
inline constexpr TableId kEventsTable = 0;
inline constexpr TableId kStreamsTable = 1;
inline constexpr TableId kClientIdsTable = 2;
inline constexpr TableId kMerkleTable = 3;
inline constexpr TableId kMetaTable = 4;
inline constexpr TableId kFirstProjectionTable = 5;

// How one table's memtable is tuned; the key layout is unchanged.
struct TableTuning {
  // Keys are a prefix then an increasing suffix of this many bytes (e.g. an
  // index then a position): memtable inserts use a hint per prefix. 0: none.
  size_t ordered_suffix_bytes = 0;
  // Memtable size; 0: RocksDB's default (64 MiB).
  size_t write_buffer_bytes = 0;
};

struct StoreOptions {
  // RocksDB lives in <data_dir>/db; the directory is created if missing.
  std::string data_dir;
  // Ed25519 key for checkpoints; created if missing. Empty: <data_dir>/signing-key.pem.
  std::string signing_key_path;
  // Column families owned by projections (dropped and refilled by rebuild).
  std::vector<std::string> projection_tables;
  // Projection tables tuned by name (the ledger tunes its own).
  std::map<std::string, TableTuning> projection_tuning;
  // RocksDB's block cache, shared by all tables (uncompressed blocks).
  size_t block_cache_bytes = 256 << 20;
  // Most commands folded into one synced write.
  size_t batch_commands_max = 1024;
  // Commands waiting beyond this are refused with 503 instead of queued.
  size_t queue_commands_max = 100000;
  // A checkpoint is signed once this many events are unsigned...
  std::uint64_t checkpoint_every_events = 1000;
  // ...or once the oldest unsigned event is this old.
  std::int64_t checkpoint_interval_ms = 1000;
  // Events a rebuild folds and writes at a time.
  size_t rebuild_batch_events = 8192;
  // False for offline tools that only read or rebuild: no committer thread.
  bool start_committer = true;
  // False for offline readers (runledger verify): RocksDB's background
  // compactions, which a server's clean close often leaves due, would
  // compete with them for the CPU; the next server runs them.
  bool compactions = true;
  // Tests only: makes the file system fail on demand.
  std::shared_ptr<FaultInjector> faults;
};

// Projection writes into the batch being built. Committer thread only.
class WriteContext {
 public:
  virtual ~WriteContext() = default;
  virtual void Put(TableId table, std::string_view key, std::string_view value) = 0;
  // Removes a key written exactly once since it was last removed (RocksDB's
  // SingleDelete): the removal and the write both vanish at the next flush or
  // compaction, so listings do not wade through tombstones.
  virtual void SingleDelete(TableId table, std::string_view key) = 0;
  // Reads committed state: not this batch, nor (in a rebuild) the one still
  // being written. A read error fails the whole batch (or the rebuild).
  virtual Result<std::optional<std::string>> Get(TableId table, std::string_view key) = 0;
};

// Implemented by projections. All calls come from one thread at a time.
class BatchHook {
 public:
  virtual ~BatchHook() = default;
  // Adds the projection updates of `event` to the batch; called in position
  // order for every appended event, and by RebuildProjections for every
  // stored one, so both produce the same bytes.
  virtual void OnEvent(const Event& event, WriteContext& ctx) = 0;
  // Adds what OnEvent deferred (state written once per batch, not once per
  // event) before the batch is written; same rule for appends and rebuild.
  virtual void OnBatchEnd(WriteContext& /*ctx*/) {}
  // The oldest batch not yet committed, the one holding `events`, is. A
  // rebuild folds the next batch (OnEvent, OnBatchEnd) while this one is
  // written, so state a hook keeps for what Get cannot see yet must last
  // until its own batch's OnCommitted. Not a span: the events stay where
  // Append put them (references to them live until Complete).
  virtual void OnCommitted(const std::deque<Event>& events) = 0;
  // The batch failed or the store reopened: drop state derived from unsynced events.
  virtual void OnReset() = 0;
};

// What a command sees while it runs on the committer thread.
class AppendContext : public WriteContext {
 public:
  // Last seq of the run's stream, counting this batch; 0 for a new stream.
  virtual Result<std::uint32_t> StreamVersion(const Uuid& run_id) = 0;
  // The event appended earlier with this client id, if any (this batch included).
  virtual Result<std::optional<Event>> FindByClientId(const Uuid& run_id,
                                                      std::string_view client_id) = 0;
  // The event at `position`, whether committed or earlier in this batch.
  virtual Result<std::optional<Event>> EventAt(std::uint64_t position) = 0;
  // Assigns seq, position, recorded_at and hash, adds the event and its
  // projection updates to the batch. The reference lives until Complete.
  virtual const Event& Append(Event event) = 0;
  // The recorded_at that events of this batch get (never decreasing).
  virtual std::int64_t batch_time_ms() const = 0;
};

// A unit of work run on the committer thread.
class Command {
 public:
  virtual ~Command() = default;
  // Validates everything before its first Append: a command that returns an
  // error must not have appended.
  virtual Status Execute(AppendContext& ctx) = 0;
  // Called exactly once, on the committer thread: ok once its events are
  // durable, else the reason. Must not block.
  virtual void Complete(const Status& status) = 0;
};

class TableIterator;
class ReadSnapshot;

// Group-commit figures for /metrics. Histogram buckets are cumulative
// ("at most"), Prometheus style.
struct CommitStats {
  static constexpr std::uint64_t kBatchBuckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  static constexpr double kSyncBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05};
  std::uint64_t batches = 0;
  std::uint64_t events = 0;
  double sync_seconds = 0;
  std::uint64_t batch_le[std::size(kBatchBuckets)] = {};
  std::uint64_t sync_le[std::size(kSyncBuckets)] = {};
};

class EventStore : public SubtreeReader {
 public:
  // Opens or creates the store. Fails with a clear IOError when another
  // process holds the data directory. `hook` (may be null) must outlive it.
  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options, BatchHook* hook);
  ~EventStore() override;  // answers queued commands, stops the committer, closes RocksDB

  // Queues a command; thread-safe; never blocks on I/O.
  void Submit(std::unique_ptr<Command> command);

  // Reads of committed state, thread-safe.
  Result<std::optional<std::string>> Get(TableId table, std::string_view key) const;
  Result<std::optional<std::string>> ReadEventBytes(std::uint64_t position) const;
  Result<std::optional<Event>> ReadEvent(std::uint64_t position) const;
  // Position of a run's seq-th event.
  Result<std::optional<std::uint64_t>> StreamPosition(const Uuid& run_id, std::uint32_t seq) const;
  std::unique_ptr<TableIterator> NewIterator(TableId table, const ReadSnapshot* snapshot = nullptr) const;
  std::unique_ptr<ReadSnapshot> NewSnapshot() const;
  Result<Hash> Subtree(SubtreeId id) override;

  // Events durable so far (the last position).
  std::uint64_t size() const;
  // False after a failed write until recovery succeeds.
  bool writable() const;
  std::optional<Checkpoint> LatestCheckpoint() const;
  const std::string& PublicKeyPem() const;
  CommitStats Stats() const;
  // Signs (if needed) and returns a checkpoint covering every event durable
  // now. Blocks until it is stored durably. Thread-safe.
  Result<Checkpoint> CheckpointNow();

  // Offline: drops every projection table and replays all events through the
  // hook. Requires start_committer == false.
  Status RebuildProjections();

  class Impl;  // ledger/internal/store_impl.h

 private:
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend class TableIterator;
  friend class ReadSnapshot;
};

// Iterates one table in key order. Holds the store's read lock while alive:
// keep it short-lived.
class TableIterator {
 public:
  virtual ~TableIterator() = default;
  virtual void Seek(std::string_view key) = 0;
  virtual void SeekForPrev(std::string_view key) = 0;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual Status status() const = 0;
};

// A consistent view of the whole store (for exports).
class ReadSnapshot {
 public:
  virtual ~ReadSnapshot() = default;
  virtual std::uint64_t size() const = 0;  // events visible in the snapshot
};

// Recomputes every leaf and the root and checks them against the latest
// checkpoint and, if given, a trusted older one. The message of an error
// names the first bad position.
struct VerifyReport {
  std::uint64_t events = 0;
  std::uint64_t checkpoint_size = 0;
  Hash root{};
};
Status VerifyStore(EventStore& store, const std::optional<Checkpoint>& trusted, VerifyReport* report);

}  // namespace runledger::ledger
