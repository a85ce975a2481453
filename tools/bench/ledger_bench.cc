// ledger_bench [--seconds S] [--bytes B]
//
// S: seconds per run (default 1.5; each figure is the mean of two runs).
// B: stored size of each event in bytes (default 300).
//
// Synced appends per second of the ledger library alone (EventStore with its
// committer, Merkle tree and checkpoints; no projections, no HTTP), with 1 and
// with 32 concurrent appenders, each waiting for its acknowledgement before
// its next append. Beside each figure: raw RocksDB synced Puts of the same
// bytes from the same number of threads (RocksDB's own group commit), in the
// same run and on the same disk. Everything lives in a temp dir that is
// removed at the end.

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/key_layout.h"
#include "ledger/time.h"

namespace runledger::ledger {
namespace {

using Clock = std::chrono::steady_clock;

struct Figure {
  std::uint64_t ops = 0;
  double seconds = 0;
  double per_second() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

class AppendCommand : public Command {
 public:
  AppendCommand(Event event, std::promise<Status> done)
      : event_(std::move(event)), done_(std::move(done)) {}
  Status Execute(AppendContext& ctx) override {
    ctx.Append(std::move(event_));
    return Status::Ok();
  }
  void Complete(const Status& status) override { done_.set_value(status); }

 private:
  Event event_;
  std::promise<Status> done_;
};

// An event whose `data.note` holds `note_bytes` characters.
Event BenchEvent(int thread, std::uint64_t n, size_t note_bytes) {
  Event event;
  event.type = "progressed";
  event.run_id = Uuid{0x01, 0x8f, 0, 0, 0, 0, 0x70, 0, 0x80};
  event.run_id[15] = static_cast<std::uint8_t>(thread);
  event.principal = "bench";
  event.data = Json::MakeObject({{"note", Json::String(std::string(note_bytes, 'x'))},
                                 {"processed", Json::Number(static_cast<double>(n))}});
  return event;
}

// The stored form of a BenchEvent, as the ledger would write it at position 1.
std::string StoredForm(size_t note_bytes) {
  Event event = BenchEvent(0, 0, note_bytes);
  event.position = 1;
  event.seq = 1;
  event.recorded_at_ms = NowUnixMs();
  SealEvent(&event);
  return event.stored;
}

// The note length that makes stored events `bytes` long (at least 1).
size_t NoteBytesFor(size_t bytes) {
  const size_t envelope = StoredForm(0).size();
  return bytes > envelope ? bytes - envelope : 1;
}

// Runs `op(thread, n)` from `threads` threads, each calling it back to back,
// for `seconds`; counts completed calls. `op` returns false to stop early.
template <typename Op>
Figure RunFor(int threads, double seconds, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<std::uint64_t> counts(static_cast<size_t>(threads), 0);
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t, n)) {
          failed.store(true);
          return;
        }
        ++n;
      }
      counts[static_cast<size_t>(t)] = n;
    });
  }
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline && !failed.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop.store(true);
  for (auto& worker : workers) worker.join();
  Figure figure;
  figure.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto count : counts) figure.ops += count;
  if (failed.load()) figure.ops = 0;
  return figure;
}

Figure BenchLedger(const std::string& dir, int threads, double seconds, size_t note_bytes) {
  StoreOptions options;
  options.data_dir = dir;
  auto store = EventStore::Open(options, nullptr);
  if (!store) {
    std::fprintf(stderr, "open: %s\n", store.error().ToString().c_str());
    return {};
  }
  EventStore& s = **store;
  return RunFor(threads, seconds, [&](int t, std::uint64_t n) {
    std::promise<Status> done;
    auto answer = done.get_future();
    s.Submit(std::make_unique<AppendCommand>(BenchEvent(t, n, note_bytes), std::move(done)));
    const Status status = answer.get();
    if (!status.ok()) std::fprintf(stderr, "append: %s\n", status.ToString().c_str());
    return status.ok();
  });
}

// The same stored bytes, put with sync=true into a plain RocksDB.
Figure BenchRocks(const std::string& dir, int threads, double seconds, size_t note_bytes) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
    return {};
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value = StoredForm(note_bytes);
  std::atomic<std::uint64_t> next_key{1};
  auto figure = RunFor(threads, seconds, [&](int, std::uint64_t) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    const std::string key = EventKey(next_key.fetch_add(1));
    const rocksdb::Status put = db->Put(sync, key, value);
    if (!put.ok()) std::fprintf(stderr, "put: %s\n", put.ToString().c_str());
    return put.ok();
  });
  (void)db->Close();
  return figure;
}

// Mean rate of two runs of the same figure.
double MeanPerSecond(const Figure& a, const Figure& b) {
  const double seconds = a.seconds + b.seconds;
  return seconds > 0 ? static_cast<double>(a.ops + b.ops) / seconds : 0;
}

int Main(int argc, char** argv) {
  double seconds = 1.5;
  size_t bytes = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--bytes") == 0) bytes = static_cast<size_t>(std::atol(argv[i + 1]));
  }
  std::string pattern = (std::filesystem::temp_directory_path() / "ledger-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::filesystem::path root = pattern;
  const size_t note_bytes = NoteBytesFor(bytes);
  std::printf(
      "ledger_bench: %zu-byte events, synced, %.1f s per run, each figure the mean of two\n"
      "runs in ledger, rocksdb, rocksdb, ledger order (cancels drift in disk latency); in %s\n",
      StoredForm(note_bytes).size(), seconds, root.c_str());
  std::printf("%-10s %16s %16s %8s\n", "appenders", "ledger appends/s", "rocksdb puts/s", "ratio");
  int status = 0;
  for (int threads : {1, 32}) {
    auto dir = [&](const char* what, int run) {
      return (root /
              (std::string(what) + "-" + std::to_string(threads) + "-" + std::to_string(run)))
          .string();
    };
    const Figure ledger_a = BenchLedger(dir("ledger", 1), threads, seconds, note_bytes);
    const Figure rocks_a = BenchRocks(dir("rocksdb", 1), threads, seconds, note_bytes);
    const Figure rocks_b = BenchRocks(dir("rocksdb", 2), threads, seconds, note_bytes);
    const Figure ledger_b = BenchLedger(dir("ledger", 2), threads, seconds, note_bytes);
    for (const Figure* f : {&ledger_a, &rocks_a, &rocks_b, &ledger_b}) {
      if (f->ops == 0) status = 1;
    }
    const double ledger = MeanPerSecond(ledger_a, ledger_b);
    const double rocks = MeanPerSecond(rocks_a, rocks_b);
    std::printf("%-10d %16.0f %16.0f %8.2f\n", threads, ledger, rocks,
                rocks > 0 ? ledger / rocks : 0);
    std::fflush(stdout);
  }
  std::error_code ignored;
  std::filesystem::remove_all(root, ignored);
  return status;
}

}  // namespace
}  // namespace runledger::ledger

int main(int argc, char** argv) { return runledger::ledger::Main(argc, argv); }
