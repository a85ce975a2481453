#include "tools/bench/rocksdb_reference.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "tools/bench/process.h"
#include "tools/bench/workload.h"

namespace runledger::tools::bench {
namespace {

constexpr size_t kPoolEvents = 20000;
constexpr size_t kOpenRuns = 60;

struct PooledEvent {
  std::string key;  // run id (16 bytes) + seq (4 bytes, big-endian)
  std::string value;
};

std::vector<PooledEvent> MakePool(std::uint64_t seed) {
  WorkloadGenerator generator(seed);
  RunInterleaver runs(generator, kOpenRuns);
  std::vector<PooledEvent> pool;
  pool.reserve(kPoolEvents);
  while (pool.size() < kPoolEvents) {
    const auto view = runs.Next();
    PooledEvent e;
    e.key.assign(reinterpret_cast<const char*>(view->run->id.data()), view->run->id.size());
    for (int shift = 24; shift >= 0; shift -= 8)
      e.key.push_back(static_cast<char>(view->event->seq >> shift));
    e.value = view->event->line;
    pool.push_back(std::move(e));
  }
  return pool;
}

// The pooled key made unique for (thread, lap): the run id's last bytes are
// mixed with both, the seq stays.
std::string UniqueKey(const std::string& key, int thread, std::uint64_t lap) {
  std::string out = key;
  const std::uint64_t mix = (static_cast<std::uint64_t>(thread) << 40) ^ lap;
  for (int i = 0; i < 8; ++i) out[8 + static_cast<size_t>(i)] ^= static_cast<char>(mix >> (8 * i));
  return out;
}

}  // namespace

Figure MeasureRocksDb(const RocksReferenceOptions& o) {
  Figure figure;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.max_background_jobs = 2;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(64 << 20);
  table.cache_index_and_filter_blocks = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  if (const auto s = rocksdb::DB::Open(options, o.dir, &raw); !s.ok()) {
    figure.note = "open failed: " + s.ToString();
    return figure;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::vector<PooledEvent> pool = MakePool(o.seed);

  const auto begin = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o.warmup_seconds));
  const auto end =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> errors{0};
  std::vector<Latencies> latencies(static_cast<size_t>(o.threads));
  std::vector<std::uint64_t> events(static_cast<size_t>(o.threads), 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      size_t next = (static_cast<size_t>(t) * 7919) % pool.size();
      std::uint64_t lap = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        rocksdb::WriteBatch batch;
        const size_t count = o.batch_events > 0 ? o.batch_events : 1;
        for (size_t i = 0; i < count; ++i) {
          const PooledEvent& e = pool[next];
          batch.Put(UniqueKey(e.key, t, lap), e.value);
          if (++next == pool.size()) {
            next = 0;
            ++lap;
          }
        }
        const auto started = Clock::now();
        const rocksdb::Status s = db->Write(sync, &batch);
        const auto done = Clock::now();
        if (!s.ok()) {
          if (errors.fetch_add(1) == 0)
            std::fprintf(stderr, "rocksdb write: %s\n", s.ToString().c_str());
          continue;
        }
        if (started >= begin && done <= end) {
          latencies[static_cast<size_t>(t)].Add(done - started);
          events[static_cast<size_t>(t)] += count;
        }
      }
    });
  }
  CpuMeter cpu(getpid(), false);
  std::this_thread::sleep_until(begin);
  cpu.Start();
  std::this_thread::sleep_until(end);
  figure.server_cpu_cores = cpu.Stop();
  stop.store(true);
  for (auto& thread : threads) thread.join();
  figure.seconds = std::chrono::duration<double>(end - begin).count();
  Latencies all;
  for (size_t t = 0; t < latencies.size(); ++t) {
    all.Merge(latencies[t]);
    figure.units += events[t];
  }
  figure.requests = all.count();
  figure.errors = errors.load();
  figure.SetLatencies(all);
  (void)db->Close();
  return figure;
}

}  // namespace runledger::tools::bench
