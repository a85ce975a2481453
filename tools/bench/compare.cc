// `runledger bench --scenario compare`: runledger over HTTP, the HTTP
// ceiling, raw RocksDB and PostgreSQL, same workload, same machine.

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "tools/bench/hello_server.h"
#include "tools/bench/http_workloads.h"
#include "tools/bench/phases.h"
#include "tools/bench/postgres_reference.h"
#include "tools/bench/process.h"
#include "tools/bench/rocksdb_reference.h"
#include "tools/bench/scenarios.h"

namespace runledger::tools::bench {
namespace {

// Runs the read mix learns from a server it did not fill (--url).
constexpr size_t kDiscoveredRunsMax = 100000;

// "http://127.0.0.1:8080" -> host and port; false when it is not that shape.
bool ParseUrl(const std::string& url, ServerUnderTest* out) {
  std::string rest = url.rfind("http://", 0) == 0 ? url.substr(7) : url;
  if (const size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  out->host = rest.substr(0, colon);
  const int port = std::atoi(rest.c_str() + colon + 1);
  if (port <= 0 || port > 65535) return false;
  out->port = static_cast<std::uint16_t>(port);
  return true;
}

const Figure* Find(const std::vector<Figure>& figures, const std::string& key) {
  for (const auto& f : figures) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

double Ratio(const std::vector<Figure>& figures, const std::string& a, const std::string& b,
             bool requests = false) {
  const Figure* fa = Find(figures, a);
  const Figure* fb = Find(figures, b);
  if (!fa || !fb || !fa->measured() || !fb->measured()) return kNotMeasured;
  return requests ? fa->request_rate() / fb->request_rate() : fa->rate() / fb->rate();
}

std::vector<Comparison> CompareAll(const std::vector<Figure>& f) {
  return {
      {"single_vs_rocksdb", "single appends: runledger / raw RocksDB synced Puts (same threads)",
       Ratio(f, "runledger_single", "rocksdb_single"), 1.0, "x"},
      {"single_vs_postgres", "single appends: runledger / PostgreSQL one event per txn",
       Ratio(f, "runledger_single", "postgres_single"), 2.0, "x"},
      {"bulk_vs_postgres", "bulk: runledger / PostgreSQL batched txns",
       Ratio(f, "runledger_bulk", "postgres_batch"), 1.5, "x"},
      {"bulk_vs_rocksdb", "bulk: runledger / raw RocksDB synced WriteBatches",
       Ratio(f, "runledger_bulk", "rocksdb_batch"), 0.35, "x"},
      {"single_vs_http_ceiling", "single appends: runledger / trivial Beast handler (req/s)",
       Ratio(f, "runledger_single", "hello_single", true), kNotMeasured, "x"},
      {"bulk_vs_single", "bulk / single appends (events/s)",
       Ratio(f, "runledger_bulk", "runledger_single"), kNotMeasured, "x"},
  };
}

void Append(std::vector<Figure>* all, std::vector<Figure> more) {
  for (auto& f : more) all->push_back(std::move(f));
}

}  // namespace

std::string SelfPath() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  return n > 0 ? std::string(path, static_cast<size_t>(n)) : "runledger";
}

bool PhaseWanted(const BenchOptions& o, const std::string& phase) {
  if (o.only.empty()) return true;
  return ("," + o.only + ",").find("," + phase + ",") != std::string::npos;
}

std::string ConfigJson(const BenchOptions& o, const std::string& extra) {
  return "{\"scenario\":\"" + o.scenario + "\",\"connections\":" + std::to_string(o.connections) +
         ",\"bulk_connections\":" + std::to_string(o.bulk_connections) +
         ",\"bulk_lines\":" + std::to_string(o.bulk_lines) +
         ",\"seconds\":" + std::to_string(o.seconds) +
         ",\"warmup_seconds\":" + std::to_string(o.warmup_seconds) +
         ",\"server_io_threads\":" + std::to_string(o.io_threads) +
         ",\"pg_batch\":" + std::to_string(o.pg_batch) +
         ",\"pg_batch_clients\":" + std::to_string(o.pg_batch_clients) +
         ",\"seed\":" + std::to_string(o.seed) + extra + "}";
}

int Finish(const BenchOptions& o, Machine machine, const std::string& config,
           const std::vector<Figure>& figures, const std::vector<Comparison>& comparisons) {
  machine.load_after = LoadAverage();
  std::printf("\n");
  PrintFigures(figures, stdout);
  std::printf("\n");
  PrintComparisons(comparisons, stdout);
  std::printf("\nload average before %s, after %s (%d cores)\n", machine.load_before.c_str(),
              machine.load_after.c_str(), machine.cores);
  std::fflush(stdout);
  int status = 0;
  for (const auto& f : figures) {
    if (f.errors > 0 || (!f.measured() && f.note.find("no libpq") == std::string::npos)) status = 1;
  }
  if (!o.json.empty()) {
    std::ofstream out(o.json);
    out << ReportJson(machine, config, figures, comparisons);
    if (!out) {
      std::fprintf(stderr, "runledger bench: cannot write %s\n", o.json.c_str());
      status = 1;
    }
  }
  return status;
}

int RunCompare(const BenchOptions& o, const std::string& dir) {
  Machine machine = DescribeMachine();
  const ByteSizes sizes = MeasureLines(o.seed, 500);
  Progress("%d cores, load %s; event lines %zu..%zu bytes (mean %.0f); %.0f s per figure",
           machine.cores, machine.load_before.c_str(), sizes.min, sizes.max, sizes.mean, o.seconds);
  std::vector<Figure> figures;
  LoadOptions load;
  load.seconds = o.seconds;
  load.warmup_seconds = o.warmup_seconds;

  const bool http = PhaseWanted(o, "single") || PhaseWanted(o, "bulk") || PhaseWanted(o, "reads");
  std::unique_ptr<ServerProcess> server;
  ServerUnderTest target;
  if (http && !o.url.empty()) {
    if (!ParseUrl(o.url, &target)) {
      std::fprintf(stderr, "runledger bench: --url takes http://HOST:PORT with a numeric host\n");
      return 2;
    }
    target.pid = o.server_pid;
  } else if (http) {
    auto started =
        ServerProcess::Start(SelfPath(), dir + "/runledger-data", dir + "/runledger-serve.log",
                             o.io_threads, o.read_workers, std::chrono::seconds(60));
    if (!started) {
      std::fprintf(stderr, "runledger bench: %s\n", started.error().message().c_str());
      return 1;
    }
    server = std::move(*started);
    target.port = server->port();
    target.pid = server->pid();
  }
  RunRegistry registry;
  if (http && PhaseWanted(o, "single")) {
    Progress("runledger single-event appends: %zu connections", o.connections);
    SingleAppends source(o.connections, o.seed, &registry);
    load.connections = o.connections;
    Append(&figures, MeasureHttp(target, load, source,
                                 {"runledger_single", "runledger single appends (HTTP, synced)",
                                  "events", o.perf}));
  }
  if (http && PhaseWanted(o, "bulk")) {
    Progress("runledger bulk ingest: %zu connections x %zu lines", o.bulk_connections,
             o.bulk_lines);
    BulkIngest source(o.bulk_connections, o.bulk_lines, o.seed + 1, &registry);
    load.connections = o.bulk_connections;
    Append(&figures,
           MeasureHttp(target, load, source,
                       {"runledger_bulk", "runledger bulk NDJSON ingest (HTTP)", "events", ""}));
  }
  if (http && PhaseWanted(o, "reads") && registry.empty()) {
    Progress("learning the runs of %s", o.url.c_str());
    RunDiscovery discovery(&registry, kDiscoveredRunsMax);
    LoadOptions one = load;
    one.host = target.host;
    one.port = target.port;
    one.connections = 1;
    one.seconds = 0;  // until the listing ends
    one.warmup_seconds = 0;
    RunLoad(one, discovery);
  }
  if (http && PhaseWanted(o, "reads")) {
    Progress("runledger read mix over %zu runs: %zu connections", registry.size(), o.connections);
    ReadMix source(registry, o.seed + 2);
    load.connections = o.connections;
    load.kinds = ReadMix::Kinds();
    load.rate_per_second = o.read_rate;
    Append(&figures, MeasureHttp(target, load, source,
                                 {"runledger_reads", "runledger read mix (HTTP)", "requests", ""}));
    load.kinds = {"requests"};
    load.rate_per_second = 0;
  }
  if (server) {
    if (Status s = server->Stop(); !s.ok())
      std::fprintf(stderr, "runledger bench: %s\n", s.message().c_str());
  }
  if (PhaseWanted(o, "hello")) {
    Progress("HTTP ceiling: trivial Beast handler, %zu connections", o.connections);
    auto hello = HelloServer::Start();
    if (hello) {
      ServerUnderTest h{"127.0.0.1", (*hello)->port(), getpid(), (*hello)->thread_id()};
      SingleAppends source(o.connections, o.seed, nullptr, true);
      load.connections = o.connections;
      Append(&figures, MeasureHttp(h, load, source,
                                   {"hello_single", "HTTP ceiling: trivial Beast POST handler",
                                    "events", ""}));
    }
  }
  if (PhaseWanted(o, "rocksdb")) {
    Progress("raw RocksDB: %zu threads of synced Puts", o.connections);
    RocksReferenceOptions rocks{dir + "/rocksdb-single",
                                static_cast<int>(o.connections),
                                0,
                                o.warmup_seconds,
                                o.seconds,
                                o.seed};
    Figure single = MeasureRocksDb(rocks);
    single.key = "rocksdb_single";
    single.title = "raw RocksDB synced Put, " + std::to_string(o.connections) + " threads";
    figures.push_back(single);
    Progress("raw RocksDB: %zu threads of synced WriteBatches of %zu", o.bulk_connections,
             o.bulk_lines);
    rocks = {dir + "/rocksdb-batch",
             static_cast<int>(o.bulk_connections),
             o.bulk_lines,
             o.warmup_seconds,
             o.seconds,
             o.seed};
    Figure batch = MeasureRocksDb(rocks);
    batch.key = "rocksdb_batch";
    batch.title = "raw RocksDB synced WriteBatch x" + std::to_string(o.bulk_lines) + ", " +
                  std::to_string(o.bulk_connections) + " thr";
    figures.push_back(batch);
  }
  if (PhaseWanted(o, "postgres") && !o.pg.empty()) {
    Progress("PostgreSQL: %zu clients, one event per transaction", o.connections);
    PostgresReferenceOptions pg{o.pg,      o.pg_pid, o.connections, 0, o.warmup_seconds,
                                o.seconds, o.seed};
    Figure single = MeasurePostgres(pg);
    single.key = "postgres_single";
    single.title = "PostgreSQL 1 event/txn, " + std::to_string(o.connections) + " clients";
    figures.push_back(single);
    Progress("PostgreSQL: %zu clients, %zu events per transaction", o.pg_batch_clients, o.pg_batch);
    pg = {o.pg, o.pg_pid, o.pg_batch_clients, o.pg_batch, o.warmup_seconds, o.seconds, o.seed + 1};
    Figure batch = MeasurePostgres(pg);
    batch.key = "postgres_batch";
    batch.title = "PostgreSQL " + std::to_string(o.pg_batch) + " events/txn, " +
                  std::to_string(o.pg_batch_clients) + " clients";
    figures.push_back(batch);
  } else if (PhaseWanted(o, "postgres")) {
    Progress("PostgreSQL skipped: no --pg (tools/bench/compare.sh starts one)");
  }
  const std::string extra = ",\"event_line_bytes\":{\"min\":" + std::to_string(sizes.min) +
                            ",\"max\":" + std::to_string(sizes.max) +
                            ",\"mean\":" + std::to_string(sizes.mean) + "}";
  return Finish(o, machine, ConfigJson(o, extra), figures, CompareAll(figures));
}

}  // namespace runledger::tools::bench
