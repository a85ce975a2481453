#pragma once

// Reference 1: raw RocksDB, in this process, in a temp dir, with the options
// the event store uses (ledger/event_store.cc: IncreaseParallelism(2), two
// background jobs, a 64 MiB block cache). Values are the workload's event
// lines keyed by (run id, seq); every write is synced (WriteOptions::sync),
// so durability matches an acknowledged runledger append.
//
//   single: `threads` threads, each a synced Put of one event at a time:
//           RocksDB's own group commit joins concurrent writers.
//   batch:  `threads` threads, each a synced WriteBatch of `batch_events`.

#include <cstdint>
#include <string>

#include "tools/bench/figures.h"

namespace runledger::tools::bench {

struct RocksReferenceOptions {
  std::string dir;  // created; left for the caller to remove
  int threads = 64;
  size_t batch_events = 0;  // 0: single Puts
  double warmup_seconds = 1;
  double seconds = 10;
  std::uint64_t seed = 1;
};

// Units are events; server_cpu_cores is this process's CPU over the window
// (RocksDB's own threads included); peak_rss_mib is not measured (shared
// with the bench).
Figure MeasureRocksDb(const RocksReferenceOptions& options);

}  // namespace runledger::tools::bench
