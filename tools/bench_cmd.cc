#include "tools/bench_cmd.h"

#include <signal.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>

#include "tools/bench/scenarios.h"

namespace runledger::tools {

CLI::App* AddBenchCommand(CLI::App& app, BenchOptions* o) {
  auto* cmd = app.add_subcommand(
      "bench", "Load generator: runledger beside raw RocksDB and PostgreSQL (SPEC 8)");
  cmd->add_option("--scenario", o->scenario, "compare or large")->capture_default_str();
  cmd->add_option("--url", o->url,
                  "Drive this server (http://127.0.0.1:PORT) instead of starting one");
  cmd->add_option("--server-pid", o->server_pid, "With --url: the server's pid, for CPU and RSS");
  cmd->add_option("--dir", o->dir,
                  "Work directory (default: a new one under $TMPDIR, removed at the end)");
  cmd->add_flag("--keep", o->keep, "Keep the work directory");
  cmd->add_option("--connections", o->connections,
                  "HTTP connections (and RocksDB threads, PostgreSQL clients)")
      ->capture_default_str();
  cmd->add_option("--bulk-connections", o->bulk_connections,
                  "Connections (and RocksDB threads) for bulk ingest")
      ->capture_default_str();
  cmd->add_option("--bulk-lines", o->bulk_lines,
                  "Events per bulk request (and per RocksDB WriteBatch)")
      ->capture_default_str();
  cmd->add_option("--seconds", o->seconds, "Measured seconds per figure")->capture_default_str();
  cmd->add_option("--warmup", o->warmup_seconds, "Warm-up seconds before each figure")
      ->capture_default_str();
  cmd->add_option("--read-workers", o->read_workers, "Read worker threads of the server it starts")
      ->capture_default_str();
  cmd->add_option("--io-threads", o->io_threads, "I/O threads of the server it starts")
      ->capture_default_str();
  cmd->add_option("--read-rate", o->read_rate,
                  "Read mix as an open loop at this many requests/s (0: closed loop, the maximum)")
      ->capture_default_str();
  cmd->add_option("--only", o->only,
                  "Phases: single,bulk,reads,hello,rocksdb,postgres (default: all)");
  cmd->add_option("--pg", o->pg,
                  "libpq conninfo of a PostgreSQL to measure (compare.sh starts one)");
  cmd->add_option("--pg-pid", o->pg_pid, "Its postmaster pid, for CPU");
  cmd->add_option("--pg-batch", o->pg_batch, "Events per PostgreSQL transaction when batched")
      ->capture_default_str();
  cmd->add_option("--pg-batch-clients", o->pg_batch_clients, "PostgreSQL clients when batched")
      ->capture_default_str();
  cmd->add_option("--runs", o->runs, "Large: runs in the ledger (~17 events each)")
      ->capture_default_str();
  cmd->add_option("--json", o->json, "Write the results as JSON to this file");
  cmd->add_option(
      "--perf", o->perf,
      "perf record (DWARF call graphs) the server during single appends into this file");
  cmd->add_option("--seed", o->seed, "Workload seed")->capture_default_str();
  return cmd;
}

int Bench(const BenchOptions& options) {
  if (options.scenario != "compare" && options.scenario != "large") {
    std::fprintf(stderr, "runledger bench: --scenario is compare or large\n");
    return 2;
  }
  if (options.connections == 0 || options.bulk_connections == 0 || options.bulk_lines == 0 ||
      options.seconds <= 0 || options.pg_batch == 0 || options.pg_batch_clients == 0) {
    std::fprintf(stderr, "runledger bench: counts and --seconds must be positive\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  std::string dir = options.dir;
  const bool made = dir.empty();
  if (made) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "runledger-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("runledger bench: mkdtemp");
      return 1;
    }
    dir = pattern;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  const int status = options.scenario == "compare" ? bench::RunCompare(options, dir)
                                                   : bench::RunLarge(options, dir);
  if (made && !options.keep) {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  } else if (options.keep) {
    std::fprintf(stderr, "bench: work directory kept: %s\n", dir.c_str());
  }
  return status;
}

}  // namespace runledger::tools
