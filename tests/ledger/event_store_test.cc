#include "ledger/event_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <chrono>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/key_layout.h"
#include "ledger/merkle.h"
#include "ledger/sha256.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace runledger::ledger {
namespace {

using Clock = std::chrono::steady_clock;
using runledger::testing::TempDir;
using namespace std::chrono_literals;

// Every wait below is bounded by this; a healthy store answers in milliseconds.
constexpr auto kAnswerTimeout = 30s;
constexpr TableId kProjTable = kFirstProjectionTable;

Uuid RunId(std::uint32_t n) {
  Uuid id{0x01, 0x8f, 0x00, 0x00, 0x00, 0x00, 0x70, 0x00, 0x80};
  for (int i = 0; i < 4; ++i) id[12 + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
  return id;
}

Event NewEvent(const Uuid& run_id, std::optional<std::string> client_id, int n = 0) {
  Event event;
  event.type = "logged";
  event.run_id = run_id;
  event.principal = "worker-7";
  event.id = std::move(client_id);
  event.data = Json::MakeObject(
      {{"message", Json::String("line " + std::to_string(n))}, {"n", Json::Number(n)}});
  return event;
}

// What an AppendCommand reports once the store answers it.
struct AppendOutcome {
  Status status;
  Event event;             // as stored; the earlier event when `duplicate`
  bool duplicate = false;  // the client id was already stored for the run
};

// The tests' own command: appends one event unless its client id is already
// stored for its run (an idempotent retry).
class AppendCommand : public Command {
 public:
  AppendCommand(Event event, std::promise<AppendOutcome> done)
      : event_(std::move(event)), done_(std::move(done)) {}

  Status Execute(AppendContext& ctx) override {
    if (event_.id) {
      auto found = ctx.FindByClientId(event_.run_id, *event_.id);
      if (!found) return found.error();
      if (found->has_value()) {
        outcome_.event = std::move(**found);
        outcome_.duplicate = true;
        return Status::Ok();
      }
    }
    outcome_.event = ctx.Append(std::move(event_));
    return Status::Ok();
  }
  void Complete(const Status& status) override {
    outcome_.status = status;
    done_.set_value(std::move(outcome_));
  }

 private:
  Event event_;
  AppendOutcome outcome_;
  std::promise<AppendOutcome> done_;
};

std::future<AppendOutcome> SubmitAppend(EventStore& store, Event event) {
  std::promise<AppendOutcome> done;
  auto answer = done.get_future();
  store.Submit(std::make_unique<AppendCommand>(std::move(event), std::move(done)));
  return answer;
}

AppendOutcome Await(std::future<AppendOutcome>& answer) {
  if (answer.wait_for(kAnswerTimeout) != std::future_status::ready) {
    return {Status::Internal("the store did not answer in time"), {}, false};
  }
  return answer.get();
}

AppendOutcome Append(EventStore& store, Event event) {
  auto answer = SubmitAppend(store, std::move(event));
  return Await(answer);
}

// Holds the committer inside Execute until released, so that the commands
// submitted meanwhile are taken together as the next batch.
class GateCommand : public Command {
 public:
  GateCommand(std::promise<void> entered, std::shared_future<void> release)
      : entered_(std::move(entered)), release_(std::move(release)) {}
  Status Execute(AppendContext&) override {
    entered_.set_value();
    (void)release_.wait_for(kAnswerTimeout);
    return Status::Ok();
  }
  void Complete(const Status&) override {}

 private:
  std::promise<void> entered_;
  std::shared_future<void> release_;
};

// Polls state the store changes on its own schedule (checkpoints, recovery)
// until `done` holds; false when `timeout` passes first.
template <typename Predicate>
bool Eventually(Predicate done, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);  // poll interval only; correctness never depends on it
  }
  return true;
}

// True when `message` names `position` ("position 17", not "position 170").
bool NamesPosition(const std::string& message, std::uint64_t position) {
  const std::string word = "position " + std::to_string(position);
  for (size_t at = message.find(word); at != std::string::npos; at = message.find(word, at + 1)) {
    const size_t end = at + word.size();
    if (end == message.size() || !std::isdigit(static_cast<unsigned char>(message[end])))
      return true;
  }
  return false;
}

std::unique_ptr<EventStore> OpenStore(const StoreOptions& options, BatchHook* hook = nullptr) {
  auto store = EventStore::Open(options, hook);
  if (!store) {
    ADD_FAILURE() << "opening " << options.data_dir << ": " << store.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

StoreOptions OptionsFor(const TempDir& dir) {
  StoreOptions options;
  options.data_dir = dir.str();
  return options;
}

// Every event of every run, in position order: seq runs 1..k gap-free per run
// and the streams table points back at the same positions.
void ExpectStreamsDense(const EventStore& store) {
  std::map<Uuid, std::uint32_t> heads;
  for (std::uint64_t position = 1; position <= store.size(); ++position) {
    auto event = store.ReadEvent(position);
    ASSERT_TRUE(event && event->has_value()) << "position " << position;
    const Event& e = **event;
    ASSERT_EQ(e.position, position);
    ASSERT_EQ(e.seq, ++heads[e.run_id]) << "run " << FormatUuid(e.run_id) << " at " << position;
    auto indexed = store.StreamPosition(e.run_id, e.seq);
    ASSERT_TRUE(indexed && indexed->has_value());
    ASSERT_EQ(**indexed, position);
  }
}

void ExpectVerifies(EventStore& store, std::uint64_t events) {
  VerifyReport report;
  const Status s = VerifyStore(store, std::nullopt, &report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(report.events, events);
}

class EventStoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(EventStoreTest, AppendsGetGapFreePositionsAndPerRunSeqs) {
  auto store = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(store);
  std::vector<Event> appended;
  for (int i = 0; i < 60; ++i) {
    auto outcome =
        Append(*store, NewEvent(RunId(static_cast<std::uint32_t>(i % 3)), std::nullopt, i));
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
    ASSERT_FALSE(outcome.duplicate);
    EXPECT_EQ(outcome.event.position, static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(outcome.event.seq, static_cast<std::uint32_t>(i / 3 + 1));
    appended.push_back(outcome.event);
  }
  EXPECT_EQ(store->size(), 60u);
  std::int64_t previous_ms = 0;
  for (const Event& sent : appended) {
    auto read = store->ReadEvent(sent.position);
    ASSERT_TRUE(read && read->has_value());
    const Event& e = **read;
    EXPECT_EQ(e.type, sent.type);
    EXPECT_EQ(e.run_id, sent.run_id);
    EXPECT_EQ(e.seq, sent.seq);
    EXPECT_EQ(e.principal, "worker-7");
    EXPECT_FALSE(e.id.has_value());
    EXPECT_EQ(e.data, sent.data);
    EXPECT_EQ(e.hash, sent.hash);
    EXPECT_EQ(e.stored, sent.stored);
    EXPECT_GE(e.recorded_at_ms, previous_ms) << "position " << e.position;
    previous_ms = e.recorded_at_ms;
    EXPECT_EQ(e.stored.rfind("{\"data\":", 0), 0u) << e.stored;
    Hash claimed{};
    auto leaf = RecomputeLeafHash(e.stored, &claimed);
    ASSERT_TRUE(leaf) << leaf.error().ToString();
    EXPECT_EQ(*leaf, e.hash);
    EXPECT_EQ(claimed, e.hash);
  }
  auto missing = store->ReadEvent(61);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  ExpectStreamsDense(*store);
  ExpectVerifies(*store, 60);
}

// A clean close leaves nothing in the write-ahead log, so the next open
// (the server's restart, an offline verify) replays nothing.
TEST_F(EventStoreTest, CloseLeavesAnEmptyWriteAheadLog) {
  {
    auto store = OpenStore(OptionsFor(dir_));
    ASSERT_TRUE(store);
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(Append(*store, NewEvent(RunId(1), std::nullopt, i)).status.ok());
  }
  std::uintmax_t wal_bytes = 0;
  int wal_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.str() + "/db")) {
    if (entry.path().extension() != ".log") continue;
    ++wal_files;
    wal_bytes += entry.file_size();
  }
  EXPECT_GE(wal_files, 1);
  EXPECT_EQ(wal_bytes, 0u);
  auto reopened = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(reopened);
  ExpectVerifies(*reopened, 20);
}

TEST_F(EventStoreTest, SameClientIdAppendedTwiceStoresOneEvent) {
  auto store = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(store);
  auto first = Append(*store, NewEvent(RunId(1), "retry-me", 1));
  auto second = Append(*store, NewEvent(RunId(1), "retry-me", 1));
  ASSERT_TRUE(first.status.ok() && second.status.ok());
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(second.duplicate);
  EXPECT_EQ(second.event.position, first.event.position);
  EXPECT_EQ(second.event.stored, first.event.stored);
  // The same client id in another run is another event.
  auto other_run = Append(*store, NewEvent(RunId(2), "retry-me", 1));
  ASSERT_TRUE(other_run.status.ok());
  EXPECT_FALSE(other_run.duplicate);
  EXPECT_EQ(other_run.event.position, 2u);
  EXPECT_EQ(store->size(), 2u);
}

TEST_F(EventStoreTest, SameClientIdTwiceInOneBatchStoresOneEvent) {
  auto store = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(store);
  std::promise<void> entered;
  std::promise<void> release;
  auto gate_entered = entered.get_future();
  store->Submit(std::make_unique<GateCommand>(std::move(entered), release.get_future().share()));
  ASSERT_EQ(gate_entered.wait_for(kAnswerTimeout), std::future_status::ready);
  // The committer is busy with the gate: both land in its next batch.
  auto first = SubmitAppend(*store, NewEvent(RunId(1), "twice", 1));
  auto second = SubmitAppend(*store, NewEvent(RunId(1), "twice", 1));
  release.set_value();
  auto a = Await(first);
  auto b = Await(second);
  ASSERT_TRUE(a.status.ok()) << a.status.ToString();
  ASSERT_TRUE(b.status.ok()) << b.status.ToString();
  EXPECT_FALSE(a.duplicate);
  EXPECT_TRUE(b.duplicate);
  EXPECT_EQ(a.event.position, 1u);
  EXPECT_EQ(b.event.position, 1u);
  EXPECT_EQ(store->size(), 1u);
  auto absent = store->ReadEvent(2);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->has_value());
}

TEST_F(EventStoreTest, ConcurrentAppendsKeepPositionsAndSeqsGapFree) {
  constexpr int kThreads = 16;
  constexpr int kAppendsPerThread = 500;
  constexpr std::uint32_t kRuns = 50;
  auto store = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(store);
  std::vector<std::vector<Event>> acked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppendsPerThread; ++i) {
        const auto run = static_cast<std::uint32_t>(t * kAppendsPerThread + i) % kRuns;
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto outcome = Append(*store, NewEvent(RunId(run), id, i));
        if (!outcome.status.ok() || outcome.duplicate) {
          ADD_FAILURE() << id << ": " << outcome.status.ToString();
          return;
        }
        acked[static_cast<size_t>(t)].push_back(std::move(outcome.event));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  constexpr std::uint64_t kTotal = kThreads * kAppendsPerThread;
  ASSERT_EQ(store->size(), kTotal);
  std::vector<bool> seen(kTotal + 1, false);
  for (const auto& events : acked) {
    for (const Event& e : events) {
      ASSERT_GE(e.position, 1u);
      ASSERT_LE(e.position, kTotal);
      EXPECT_FALSE(seen[e.position]) << "position " << e.position << " acknowledged twice";
      seen[e.position] = true;
      auto stored = store->ReadEventBytes(e.position);
      ASSERT_TRUE(stored && stored->has_value());
      EXPECT_EQ(**stored, e.stored);
    }
  }
  EXPECT_EQ(std::count(seen.begin() + 1, seen.end(), true), static_cast<long>(kTotal));
  ExpectStreamsDense(*store);
  ExpectVerifies(*store, kTotal);
}

TEST_F(EventStoreTest, CheckpointIsSignedAfterEveryThousandEvents) {
  StoreOptions options = OptionsFor(dir_);
  options.checkpoint_interval_ms = 3'600'000;  // only the event count can trigger it
  auto store = OpenStore(options);
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->LatestCheckpoint().has_value());
  std::vector<std::future<AppendOutcome>> answers;
  for (int i = 0; i < 1000; ++i) {
    answers.push_back(
        SubmitAppend(*store, NewEvent(RunId(static_cast<std::uint32_t>(i % 10)), std::nullopt, i)));
  }
  for (auto& answer : answers) ASSERT_TRUE(Await(answer).status.ok());
  ASSERT_TRUE(Eventually([&] { return store->LatestCheckpoint().has_value(); }, kAnswerTimeout));
  const Checkpoint automatic = *store->LatestCheckpoint();
  EXPECT_EQ(automatic.size, 1000u);
  EXPECT_TRUE(automatic.VerifyWith(store->PublicKeyPem()));

  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(Append(*store, NewEvent(RunId(3), std::nullopt, i)).status.ok());
  auto later = store->CheckpointNow();
  ASSERT_TRUE(later) << later.error().ToString();
  EXPECT_EQ(later->size, store->size());
  EXPECT_EQ(later->size, 1300u);
  EXPECT_TRUE(later->VerifyWith(store->PublicKeyPem()));
  auto root = RootAt(*store, later->size);
  ASSERT_TRUE(root);
  EXPECT_EQ(*root, later->root);
  auto proof = ConsistencyProof(*store, automatic.size, later->size);
  ASSERT_TRUE(proof);
  EXPECT_TRUE(VerifyConsistency(automatic.size, later->size, automatic.root, later->root, *proof));

  // Nothing new: CheckpointNow returns the same checkpoint without signing again.
  auto again = store->CheckpointNow();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ToJson(), later->ToJson());

  store.reset();
  store = OpenStore(options);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 1300u);
  ASSERT_TRUE(store->LatestCheckpoint().has_value());
  EXPECT_EQ(store->LatestCheckpoint()->ToJson(), later->ToJson());
  VerifyReport report;
  ASSERT_TRUE(VerifyStore(*store, automatic, &report).ok());
  EXPECT_EQ(report.checkpoint_size, 1300u);
  EXPECT_EQ(report.root, later->root);
}

TEST_F(EventStoreTest, CheckpointIsSignedWithinIntervalWhileEventsArrive) {
  StoreOptions options = OptionsFor(dir_);
  options.checkpoint_interval_ms = 100;
  auto store = OpenStore(options);
  ASSERT_TRUE(store);
  ASSERT_TRUE(Append(*store, NewEvent(RunId(1), std::nullopt)).status.ok());
  ASSERT_TRUE(Eventually([&] { return store->LatestCheckpoint().has_value(); }, kAnswerTimeout));
  EXPECT_EQ(store->LatestCheckpoint()->size, 1u);
}

TEST_F(EventStoreTest, NoCheckpointBeforeTheFirstEvent) {
  auto store = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(store);
  auto cp = store->CheckpointNow();
  ASSERT_FALSE(cp);
  EXPECT_EQ(cp.error().reason(), "no_checkpoint");
  EXPECT_FALSE(store->LatestCheckpoint().has_value());
}

TEST_F(EventStoreTest, SecondOpenOfTheDataDirIsRefusedAsInUse) {
  auto store = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(store);
  auto second = EventStore::Open(OptionsFor(dir_), nullptr);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().reason(), "data_dir_in_use");
  store.reset();
  EXPECT_TRUE(OpenStore(OptionsFor(dir_)));
}

// ---- Tampering, with direct access to the store's RocksDB.

// The store's RocksDB opened directly, as someone with the disk would.
class RawDb {
 public:
  static std::unique_ptr<RawDb> Open(const std::string& data_dir) {
    const std::string path = data_dir + "/db";
    std::vector<std::string> names;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names);
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      return nullptr;
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    auto raw = std::unique_ptr<RawDb>(new RawDb());
    rocksdb::DB* db = nullptr;
    s = rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &raw->handles_, &db);
    if (!s.ok()) {
      ADD_FAILURE() << s.ToString();
      return nullptr;
    }
    raw->db_.reset(db);
    for (size_t i = 0; i < names.size(); ++i) raw->by_name_[names[i]] = raw->handles_[i];
    return raw;
  }
  ~RawDb() {
    for (auto* handle : handles_) (void)db_->DestroyColumnFamilyHandle(handle);
    if (db_) (void)db_->Close();
  }

  std::optional<std::string> Get(const std::string& table, const std::string& key) {
    std::string value;
    const auto s = db_->Get(rocksdb::ReadOptions(), by_name_.at(table), key, &value);
    if (s.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }
  void Put(const std::string& table, const std::string& key, const std::string& value) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    const auto s = db_->Put(sync, by_name_.at(table), key, value);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  // Flushes `table` and returns the name of its one table file ("/000012.sst").
  std::string FlushedFile(const std::string& table) {
    rocksdb::ColumnFamilyHandle* handle = by_name_.at(table);
    EXPECT_TRUE(db_->Flush(rocksdb::FlushOptions(), handle).ok());
    std::vector<rocksdb::LiveFileMetaData> files;
    db_->GetLiveFilesMetaData(&files);
    std::string name;
    for (const auto& file : files) {
      if (file.column_family_name == table) name = file.name;
    }
    return name;
  }
  void Delete(const std::string& table, const std::string& key) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    const auto s = db_->Delete(sync, by_name_.at(table), key);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

 private:
  RawDb() = default;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
};

// Parameter: how many events come before the 40 of the test (verify hashes
// in chunks of 4,096 on a second thread: the victim may sit in a later one).
class EventStoreTamperTest : public ::testing::TestWithParam<std::uint64_t> {
 protected:
  const std::uint64_t kEvents = GetParam() + 40;
  const std::uint64_t kVictim = GetParam() + 17;

  // kEvents signed events, then the store is closed.
  void SetUp() override {
    auto store = OpenStore(OptionsFor(dir_));
    ASSERT_TRUE(store);
    for (std::uint64_t i = 0; i < kEvents; ++i) {
      auto outcome = Append(*store, NewEvent(RunId(static_cast<std::uint32_t>(i % 4)), std::nullopt,
                                             static_cast<int>(i)));
      ASSERT_TRUE(outcome.status.ok());
    }
    ASSERT_TRUE(store->CheckpointNow());
    ExpectVerifies(*store, kEvents);
  }

  // Reopens the store and returns what VerifyStore says.
  Status Verify() {
    auto store = OpenStore(OptionsFor(dir_));
    if (!store) return Status::Internal("cannot reopen");
    VerifyReport report;
    return VerifyStore(*store, std::nullopt, &report);
  }

  TempDir dir_;
};

TEST_P(EventStoreTamperTest, VerifyNamesThePositionOfAChangedByte) {
  {
    auto raw = RawDb::Open(dir_.str());
    ASSERT_TRUE(raw);
    auto value = raw->Get("events", EventKey(kVictim));
    ASSERT_TRUE(value);
    const size_t at = value->find("line ");
    ASSERT_NE(at, std::string::npos);
    (*value)[at] = 'L';
    raw->Put("events", EventKey(kVictim), *value);
  }
  const Status s = Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_TRUE(NamesPosition(s.message(), kVictim)) << s.message();
}

TEST_P(EventStoreTamperTest, VerifyNamesThePositionOfADeletedEvent) {
  {
    auto raw = RawDb::Open(dir_.str());
    ASSERT_TRUE(raw);
    raw->Delete("events", EventKey(kVictim));
  }
  const Status s = Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_TRUE(NamesPosition(s.message(), kVictim)) << s.message();
}

TEST_P(EventStoreTamperTest, VerifyNamesThePositionOfAChangedAndRehashedEvent) {
  {
    auto raw = RawDb::Open(dir_.str());
    ASSERT_TRUE(raw);
    auto value = raw->Get("events", EventKey(kVictim));
    ASSERT_TRUE(value);
    value->replace(value->find("line "), 5, "LINE ");
    Hash old_claim{};
    auto leaf = RecomputeLeafHash(*value, &old_claim);
    ASSERT_TRUE(leaf);
    const std::string member = "\"hash\":\"";
    value->replace(value->find(member) + member.size(), 64, ToHex(*leaf));
    Hash claimed{};
    auto recomputed = RecomputeLeafHash(*value, &claimed);
    ASSERT_TRUE(recomputed);
    ASSERT_EQ(*recomputed, claimed);  // the event is self-consistent: only the root can tell
    raw->Put("events", EventKey(kVictim), *value);
  }
  const Status s = Verify();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_TRUE(NamesPosition(s.message(), kVictim)) << s.message();
}

INSTANTIATE_TEST_SUITE_P(FirstAndThirdVerifyChunk, EventStoreTamperTest, ::testing::Values(0u, 8192u));

// ---- Projections through BatchHook.

// A projection with a row per event (keyed by position) and a per-run event
// count that it reads back from committed state, as real projections do.
class CountingHook : public BatchHook {
 public:
  void OnEvent(const Event& event, WriteContext& ctx) override {
    ++events_seen_;
    ctx.Put(kProjTable, EventKey(event.position),
            FormatUuid(event.run_id) + " " + std::to_string(event.seq) + " " + ToHex(event.hash));
    const std::string key = "count/" + FormatUuid(event.run_id);
    auto pending = pending_counts_.find(key);
    std::uint64_t count = 0;
    if (pending != pending_counts_.end()) {
      count = pending->second.count;
    } else if (auto stored = ctx.Get(kProjTable, key); stored && stored->has_value()) {
      count = std::stoull(**stored);
    }
    pending_counts_[key] = {++count, batches_ended_};
    ctx.Put(kProjTable, key, std::to_string(count));
  }
  void OnBatchEnd(WriteContext&) override { ++batches_ended_; }
  void OnCommitted(const std::deque<Event>& events) override {
    for (const Event& e : events) {
      EXPECT_EQ(e.position, committed_ + 1);
      committed_ = e.position;
    }
    // Counts a later batch wrote stay: that batch may not be durable yet.
    std::erase_if(pending_counts_, [this](const auto& entry) { return entry.second.batch <= batches_committed_; });
    ++batches_committed_;
  }
  void OnReset() override {
    pending_counts_.clear();
    batches_committed_ = batches_ended_;
  }

  std::uint64_t events_seen() const { return events_seen_; }
  std::uint64_t committed() const { return committed_; }

 private:
  struct PendingCount {
    std::uint64_t count = 0;
    std::uint64_t batch = 0;  // the batch that wrote it, counted from 0
  };
  std::map<std::string, PendingCount> pending_counts_;
  std::uint64_t batches_ended_ = 0;
  std::uint64_t batches_committed_ = 0;
  std::uint64_t events_seen_ = 0;
  std::uint64_t committed_ = 0;
};

std::vector<std::pair<std::string, std::string>> TableRows(const EventStore& store, TableId table) {
  std::vector<std::pair<std::string, std::string>> rows;
  auto it = store.NewIterator(table);
  for (it->SeekToFirst(); it->Valid(); it->Next()) rows.emplace_back(it->key(), it->value());
  EXPECT_TRUE(it->status().ok());
  return rows;
}

TEST_F(EventStoreTest, RebuildReproducesProjectionsByteForByte) {
  StoreOptions options = OptionsFor(dir_);
  options.projection_tables = {"proj"};
  std::map<Uuid, std::uint64_t> per_run;
  std::vector<std::pair<std::string, std::string>> online_rows;
  {
    CountingHook hook;
    auto store = OpenStore(options, &hook);
    ASSERT_TRUE(store);
    std::vector<std::future<AppendOutcome>> answers;
    for (int i = 0; i < 300; ++i) {
      const Uuid run = RunId(static_cast<std::uint32_t>(i * 7 % 11));
      ++per_run[run];
      answers.push_back(SubmitAppend(*store, NewEvent(run, std::nullopt, i)));
    }
    for (auto& answer : answers) ASSERT_TRUE(Await(answer).status.ok());
    for (std::uint64_t p = 1; p <= 300; ++p) {
      auto row = store->Get(kProjTable, EventKey(p));
      ASSERT_TRUE(row && row->has_value())
          << "an acknowledged event has no projection row at " << p;
    }
    for (const auto& [run, count] : per_run) {
      auto stored = store->Get(kProjTable, "count/" + FormatUuid(run));
      ASSERT_TRUE(stored && stored->has_value());
      EXPECT_EQ(**stored, std::to_string(count));
    }
    online_rows = TableRows(*store, kProjTable);
    EXPECT_EQ(hook.committed(), 300u);
  }
  ASSERT_EQ(online_rows.size(), 300u + per_run.size());
  {
    auto raw = RawDb::Open(dir_.str());
    ASSERT_TRUE(raw);
    raw->Put("proj", "stray", "left by a bug");
    raw->Delete("proj", "count/" + FormatUuid(RunId(0)));
    raw->Put("proj", EventKey(5), "wrong");
  }
  options.start_committer = false;
  {
    CountingHook hook;
    auto store = OpenStore(options, &hook);
    ASSERT_TRUE(store);
    const Status s = store->RebuildProjections();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(hook.events_seen(), 300u);
    EXPECT_EQ(hook.committed(), 300u);
    EXPECT_EQ(TableRows(*store, kProjTable), online_rows);
  }
  // The rebuilt table is durable.
  auto store = OpenStore(options);
  ASSERT_TRUE(store);
  EXPECT_EQ(TableRows(*store, kProjTable), online_rows);
}

TEST_F(EventStoreTest, RebuildIsRefusedWhileTheCommitterRuns) {
  StoreOptions options = OptionsFor(dir_);
  options.projection_tables = {"proj"};
  auto store = OpenStore(options);
  ASSERT_TRUE(store);
  EXPECT_FALSE(store->RebuildProjections().ok());
}

// Keeps the reference Append returns and reads it in Complete, as the
// AppendContext contract allows ("The reference lives until Complete").
class KeepReferenceCommand : public Command {
 public:
  KeepReferenceCommand(Event event, std::promise<std::string> done)
      : event_(std::move(event)), done_(std::move(done)) {}
  Status Execute(AppendContext& ctx) override {
    appended_ = &ctx.Append(std::move(event_));
    return Status::Ok();
  }
  void Complete(const Status& status) override {
    done_.set_value(status.ok() ? appended_->stored : status.ToString());
  }

 private:
  Event event_;
  const Event* appended_ = nullptr;
  std::promise<std::string> done_;
};

TEST_F(EventStoreTest, AppendedEventStaysValidUntilComplete) {
  for (const bool with_hook : {false, true}) {
    SCOPED_TRACE(with_hook ? "with a hook" : "without a hook");
    TempDir dir;
    StoreOptions options = OptionsFor(dir);
    options.projection_tables = {"proj"};
    CountingHook hook;
    auto store = OpenStore(options, with_hook ? &hook : nullptr);
    ASSERT_TRUE(store);
    std::promise<void> entered;
    std::promise<void> release;
    auto gate_entered = entered.get_future();
    store->Submit(std::make_unique<GateCommand>(std::move(entered), release.get_future().share()));
    ASSERT_EQ(gate_entered.wait_for(kAnswerTimeout), std::future_status::ready);
    std::vector<std::future<std::string>> answers;
    for (int i = 0; i < 5; ++i) {
      std::promise<std::string> done;
      answers.push_back(done.get_future());
      store->Submit(std::make_unique<KeepReferenceCommand>(NewEvent(RunId(1), std::nullopt, i),
                                                           std::move(done)));
    }
    release.set_value();
    for (std::uint64_t p = 1; p <= answers.size(); ++p) {
      auto& answer = answers[p - 1];
      ASSERT_EQ(answer.wait_for(kAnswerTimeout), std::future_status::ready);
      auto stored = store->ReadEventBytes(p);
      ASSERT_TRUE(stored && stored->has_value());
      EXPECT_EQ(answer.get(), **stored);
    }
  }
}

TEST_F(EventStoreTest, OfflineStoreRefusesCommandsAtOnce) {
  StoreOptions options = OptionsFor(dir_);
  options.start_committer = false;
  auto store = OpenStore(options);
  ASSERT_TRUE(store);
  auto answer = SubmitAppend(*store, NewEvent(RunId(1), std::nullopt));
  ASSERT_EQ(answer.wait_for(kAnswerTimeout), std::future_status::ready)
      << "a store without a committer left a command unanswered";
  EXPECT_EQ(answer.get().status.code(), Code::kUnavailable);
  auto cp = store->CheckpointNow();
  ASSERT_FALSE(cp);
  EXPECT_EQ(cp.error().code(), Code::kUnavailable);
}

TEST_F(EventStoreTest, ReadErrorWhileAppendingFailsTheBatch) {
  {
    auto store = OpenStore(OptionsFor(dir_));
    ASSERT_TRUE(store);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(Append(*store, NewEvent(RunId(1), std::nullopt, i)).status.ok());
  }
  {
    // Damage the first data block of the streams table, where run 1's head is.
    auto raw = RawDb::Open(dir_.str());
    ASSERT_TRUE(raw);
    const std::string file = raw->FlushedFile("streams");
    ASSERT_FALSE(file.empty());
    std::fstream sst(dir_.str() + "/db" + file, std::ios::in | std::ios::out | std::ios::binary);
    sst.seekp(8);
    sst.write("\xff\xff\xff\xff", 4);
    ASSERT_TRUE(sst.good());
  }
  auto store = OpenStore(OptionsFor(dir_));
  ASSERT_TRUE(store);
  auto outcome = Append(*store, NewEvent(RunId(1), std::nullopt, 20));
  EXPECT_FALSE(outcome.status.ok())
      << "appended as seq " << outcome.event.seq << " although run 1's head could not be read";
  EXPECT_EQ(store->size(), 20u);
  for (std::uint64_t p = 1; p <= store->size(); ++p) {
    auto event = store->ReadEvent(p);
    ASSERT_TRUE(event && event->has_value());
    EXPECT_EQ((*event)->seq, p);  // run 1's seqs stay 1..20, none given twice
  }
}

// ---- Write failures.

// What clients know after appending through a fault: the acknowledged events
// and the events whose append failed. Thread-safe.
class ClientView {
 public:
  Event Next() {
    std::lock_guard lock(mutex_);
    ++next_;
    return NewEvent(RunId(static_cast<std::uint32_t>(next_ % 3)), "e" + std::to_string(next_),
                    next_);
  }
  // Returns whether the append was acknowledged.
  bool Record(const Event& sent, const AppendOutcome& outcome) {
    std::lock_guard lock(mutex_);
    if (outcome.status.ok()) {
      acked_[outcome.event.position] = outcome.event;
      return true;
    }
    EXPECT_EQ(outcome.status.code(), Code::kUnavailable) << outcome.status.ToString();
    failed_[*sent.id] = sent;
    return false;
  }
  bool AppendAndRecord(EventStore& store, const Event& event) {
    return Record(event, Append(store, event));
  }
  size_t acked_count() {
    std::lock_guard lock(mutex_);
    return acked_.size();
  }
  std::vector<Event> failed() {
    std::lock_guard lock(mutex_);
    std::vector<Event> events;
    for (const auto& [id, event] : failed_) events.push_back(event);
    return events;
  }

  // Every acknowledged event is where it was acknowledged; every other
  // stored event is one whose append failed; no client id is stored twice;
  // positions and seqs are gap-free and the store verifies.
  void ExpectStoreAgrees(EventStore& store) {
    std::lock_guard lock(mutex_);
    std::map<std::string, int> stored_ids;
    for (std::uint64_t p = 1; p <= store.size(); ++p) {
      auto event = store.ReadEvent(p);
      ASSERT_TRUE(event && event->has_value()) << "position " << p;
      ASSERT_TRUE((*event)->id.has_value());
      ++stored_ids[*(*event)->id];
      if (auto it = acked_.find(p); it != acked_.end()) {
        EXPECT_EQ((*event)->stored, it->second.stored) << "acknowledged position " << p;
      } else {
        EXPECT_TRUE(failed_.contains(*(*event)->id))
            << "position " << p << " holds an unknown event";
      }
    }
    for (const auto& [id, count] : stored_ids) EXPECT_EQ(count, 1) << id << " is stored twice";
    ASSERT_FALSE(acked_.empty());
    EXPECT_LE(acked_.rbegin()->first, store.size()) << "acknowledged events were lost";
    ExpectStreamsDense(store);
    ExpectVerifies(store, store.size());
  }

 private:
  std::mutex mutex_;
  int next_ = 0;
  std::map<std::uint64_t, Event> acked_;  // by position
  std::map<std::string, Event> failed_;   // by client id
};

// Injects `fault` while appenders are busy, checks that nothing is
// acknowledged while it lasts and that reads keep working, then clears it and
// checks that writes resume after recovery with nothing acknowledged lost and
// nothing that failed stored twice when clients retry it.
void ExpectFaultStopsWritesUntilCleared(FaultInjector::Fault fault) {
  TempDir dir;
  auto faults = std::make_shared<FaultInjector>();
  StoreOptions options = OptionsFor(dir);
  options.faults = faults;
  auto store = OpenStore(options);
  ASSERT_TRUE(store);
  ClientView view;

  // The fault hits batches in flight: a WAL record may be written before its sync fails.
  constexpr int kWriters = 4;
  std::atomic<bool> stop{false};
  std::atomic<int> writers_stopped{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      while (!stop.load() && view.AppendAndRecord(*store, view.Next())) {
      }
      ++writers_stopped;
    });
  }
  const bool warmed_up = Eventually([&] { return view.acked_count() >= 50; }, kAnswerTimeout);
  faults->Set(fault);
  // Each writer stops at its first failed append.
  const bool refused =
      Eventually([&] { return writers_stopped.load() == kWriters; }, kAnswerTimeout);
  stop.store(true);
  for (auto& writer : writers) writer.join();
  ASSERT_TRUE(warmed_up);
  ASSERT_TRUE(refused) << "appends kept succeeding during the fault";
  EXPECT_FALSE(store->writable());
  const std::uint64_t size_at_fault = store->size();

  std::vector<std::pair<Event, std::future<AppendOutcome>>> answers;
  for (int i = 0; i < 10; ++i) {
    Event event = view.Next();
    auto answer = SubmitAppend(*store, event);
    answers.emplace_back(std::move(event), std::move(answer));
  }
  for (auto& [event, answer] : answers) {
    EXPECT_FALSE(view.Record(event, Await(answer)))
        << *event.id << " was acknowledged during the fault";
  }
  // Keep writing past a few failed recovery attempts; reads keep working throughout.
  const auto faulted_until = Clock::now() + 700ms;
  std::uint64_t position = 0;
  bool reads_work = true;
  ASSERT_TRUE(Eventually(
      [&] {
        EXPECT_FALSE(view.AppendAndRecord(*store, view.Next()));
        position = position % size_at_fault + 1;
        auto read = store->ReadEvent(position);
        reads_work = read && read->has_value();
        return !reads_work || Clock::now() >= faulted_until;
      },
      kAnswerTimeout));
  EXPECT_TRUE(reads_work) << "reading position " << position << " failed during the fault";
  EXPECT_EQ(store->size(), size_at_fault);

  faults->Set(FaultInjector::Fault::kNone);
  ASSERT_TRUE(
      Eventually([&] { return view.AppendAndRecord(*store, view.Next()); }, kAnswerTimeout));
  EXPECT_TRUE(store->writable());
  // Clients retry what failed, with the same ids, all at once.
  std::vector<std::pair<Event, std::future<AppendOutcome>>> retries;
  for (Event& event : view.failed()) {
    auto answer = SubmitAppend(*store, event);
    retries.emplace_back(std::move(event), std::move(answer));
  }
  for (auto& [event, answer] : retries) {
    EXPECT_TRUE(view.Record(event, Await(answer))) << "retrying " << *event.id;
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(view.AppendAndRecord(*store, view.Next()));
  view.ExpectStoreAgrees(*store);

  store.reset();
  options.faults = nullptr;
  store = OpenStore(options);
  ASSERT_TRUE(store);
  view.ExpectStoreAgrees(*store);
}

TEST_F(EventStoreTest, IOErrorStopsWritesUntilRecovery) {
  ExpectFaultStopsWritesUntilCleared(FaultInjector::Fault::kIOError);
}

TEST_F(EventStoreTest, NoSpaceStopsWritesUntilRecovery) {
  ExpectFaultStopsWritesUntilCleared(FaultInjector::Fault::kNoSpace);
}

// ---- A real crash: a child process appends and is SIGKILLed.

struct Ack {
  std::uint64_t position = 0;
  Uuid run_id{};
  std::string client_id;
};

std::optional<Ack> ParseAck(const std::string& line) {
  std::istringstream in(line);
  Ack ack;
  std::string run;
  if (!(in >> ack.position >> run >> ack.client_id)) return std::nullopt;
  auto run_id = ParseUuid(run);
  if (!run_id) return std::nullopt;
  ack.run_id = *run_id;
  return ack;
}

// Runs the crash child on `data_dir`, reads its acknowledgements until it has
// `kill_after`, SIGKILLs it, and returns every acknowledgement it wrote.
std::vector<Ack> AppendUntilKilled(const std::string& data_dir, const std::string& tag,
                                   size_t kill_after) {
  std::vector<Ack> acks;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2";
    return acks;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  std::string path = CRASH_CHILD_PATH;
  std::vector<char*> argv = {path.data(), const_cast<char*>(data_dir.c_str()),
                             const_cast<char*>(tag.c_str()), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (spawned != 0) {
    ::close(fds[0]);
    ADD_FAILURE() << "cannot start " << path;
    return acks;
  }
  std::string buffer;
  bool killed = false;
  const auto deadline = Clock::now() + kAnswerTimeout;
  for (;;) {
    if (!killed && acks.size() >= kill_after) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left <= 0ms) {
      ADD_FAILURE() << "the crash child stalled after " << acks.size() << " acknowledgements";
      if (!killed) ::kill(pid, SIGKILL);
      break;
    }
    pollfd ready{fds[0], POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    const ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n <= 0) break;  // EOF: the child is gone
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t end = buffer.find('\n'); end != std::string::npos; end = buffer.find('\n')) {
      auto ack = ParseAck(buffer.substr(0, end));
      if (ack) acks.push_back(std::move(*ack));
      EXPECT_TRUE(ack) << "unreadable line: " << buffer.substr(0, end);
      buffer.erase(0, end + 1);
    }
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the crash child ended on its own, status " << status;
  EXPECT_TRUE(buffer.empty()) << "a torn acknowledgement: " << buffer;
  return acks;
}

TEST(EventStoreCrashTest, AcknowledgedAppendsSurviveSigkill) {
  TempDir dir;
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> kill_after(200, 3000);
  std::vector<Ack> all_acks;
  std::optional<Checkpoint> trusted;
  for (int round = 0; round < 5; ++round) {
    const size_t wanted = kill_after(rng);
    SCOPED_TRACE("round " + std::to_string(round) + ", killed after " + std::to_string(wanted));
    auto acks = AppendUntilKilled(dir.str(), "r" + std::to_string(round), wanted);
    ASSERT_GE(acks.size(), wanted);
    all_acks.insert(all_acks.end(), acks.begin(), acks.end());

    auto store = OpenStore(OptionsFor(dir));
    ASSERT_TRUE(store);
    std::set<std::uint64_t> positions;
    for (const Ack& ack : all_acks) {
      ASSERT_TRUE(positions.insert(ack.position).second)
          << "position " << ack.position << " acked twice";
      ASSERT_LE(ack.position, store->size());
      auto event = store->ReadEvent(ack.position);
      ASSERT_TRUE(event && event->has_value())
          << "acknowledged position " << ack.position << " lost";
      EXPECT_EQ((*event)->run_id, ack.run_id);
      EXPECT_EQ((*event)->id, ack.client_id) << "position " << ack.position;
      auto indexed = store->Get(kClientIdsTable, ClientIdKey(ack.run_id, ack.client_id));
      ASSERT_TRUE(indexed && indexed->has_value());
      EXPECT_EQ(**indexed, EventKey(ack.position));
    }
    ExpectStreamsDense(*store);
    // The store still extends what was signed before this crash.
    VerifyReport report;
    const Status verified = VerifyStore(*store, trusted, &report);
    ASSERT_TRUE(verified.ok()) << verified.ToString();
    EXPECT_EQ(report.events, store->size());
    auto cp = store->CheckpointNow();
    ASSERT_TRUE(cp) << cp.error().ToString();
    trusted = *cp;
  }
}

}  // namespace
}  // namespace runledger::ledger
