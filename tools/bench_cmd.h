#pragma once

// `runledger bench` (SPEC section 8): a load generator that puts runledger
// beside raw RocksDB and PostgreSQL doing the same work on the same machine.
//
//   --scenario compare (default): single-event appends, bulk NDJSON ingest
//     and a read mix over HTTP against a `runledger serve` it starts (or
//     --url), a trivial Beast server for the HTTP ceiling, raw RocksDB synced
//     Puts and WriteBatches, and PostgreSQL (with --pg); prints the figures,
//     the ratios and the goals.
//   --scenario large: fills a ledger of --runs runs (~17 events each) by
//     bulk ingest, measures the read mix at full and at half throughput,
//     then `runledger verify` and `runledger rebuild` on it.
//
// tools/bench/compare.sh and tools/bench/large.sh run them in one command;
// docs/performance.md records the results.

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace runledger::tools {

struct BenchOptions {
  std::string scenario = "compare";
  std::string url;     // drive this server (http://127.0.0.1:PORT) instead of starting one
  int server_pid = 0;  // with --url: its pid, for CPU and RSS
  std::string dir;     // work directory; default: a new one under $TMPDIR, removed at the end
  bool keep = false;   // keep the work directory
  size_t connections = 64;
  size_t bulk_connections = 8;
  size_t bulk_lines = 1000;
  double seconds = 10;  // per figure
  double read_rate = 0;  // compare's read mix: open loop at this rate (requests/s); 0: closed
  double warmup_seconds = 1;
  int io_threads = 1;  // of the runledger server it starts
  int read_workers = 1;
  std::string only;    // comma list: single,bulk,reads,hello,rocksdb,postgres
  std::string pg;      // libpq conninfo of a PostgreSQL to measure
  int pg_pid = 0;      // its postmaster pid, for CPU
  size_t pg_batch = 100;
  size_t pg_batch_clients = 8;
  std::uint64_t runs = 100000;  // large: runs in the ledger
  std::string json;             // write the results here
  std::string
      perf;  // `perf record` (DWARF call graphs) the server during single appends into this file
  std::uint64_t seed = 42;
};

// Registers the subcommand; `options` must outlive the parse.
CLI::App* AddBenchCommand(CLI::App& app, BenchOptions* options);

// Exit code: 0 when every phase ran without errors (goals not met is still
// 0: the numbers are for reading), 1 otherwise, 2 for bad options.
int Bench(const BenchOptions& options);

}  // namespace runledger::tools
