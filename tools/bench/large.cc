// `runledger bench --scenario large`: a ledger of --runs runs (100k runs,
// ~1.7M events by default) filled by bulk ingest; the read mix at full and
// at half throughput on it; then `runledger verify` and `runledger rebuild`
// on its data directory.

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "tools/bench/http_workloads.h"
#include "tools/bench/phases.h"
#include "tools/bench/process.h"
#include "tools/bench/scenarios.h"

namespace runledger::tools::bench {
namespace {

// After the fill, RocksDB flushes and compacts the ledger in the
// background; the reads wait until the server idles (under 5% of a core
// for a second), at most this long.
constexpr int kSettleSecondsMax = 180;

const Figure* Find(const std::vector<Figure>& figures, const std::string& key) {
  for (const auto& f : figures) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

// The run of `digits` characters just before the first `suffix` that has
// one; empty if none does.
std::string NumberBefore(std::string_view text, std::string_view suffix, std::string_view digits) {
  for (size_t at = text.find(suffix); at != std::string_view::npos; at = text.find(suffix, at + 1)) {
    size_t begin = at;
    while (begin > 0 && digits.find(text[begin - 1]) != std::string_view::npos) --begin;
    if (begin < at) return std::string(text.substr(begin, at - begin));
  }
  return "";
}

// Runs `runledger <command> --data DIR`, which prints "... N events ... (R events/s)".
Figure Offline(const std::string& command, const std::string& data_dir, const std::string& title) {
  Figure f;
  f.key = command;
  f.title = title;
  auto run = RunChild({SelfPath(), command, "--data", data_dir});
  if (!run || run->exit_code != 0) {
    f.note = run ? "exit " + std::to_string(run->exit_code) + ": " + run->output.substr(0, 300)
                 : run.error().message();
    f.errors = 1;
    return f;
  }
  // "... 989805 events ... (824953 events/s)"
  const std::string events = NumberBefore(run->output, " events", "0123456789");
  const std::string rate = NumberBefore(run->output, " events/s)", "0123456789.");
  if (events.empty() || rate.empty()) {
    f.note = "unexpected output: " + run->output.substr(0, 300);
    f.errors = 1;
    return f;
  }
  f.units = std::stoull(events);
  const double per_second = std::stod(rate);
  f.seconds = per_second > 0 ? static_cast<double>(f.units) / per_second : 0;
  f.server_cpu_cores = run->wall_seconds > 0 ? run->cpu_seconds / run->wall_seconds : kNotMeasured;
  f.peak_rss_mib = run->peak_rss_mib;
  char note[160];
  std::snprintf(note, sizeof note,
                "the command's own timing; %.1f s wall with opening the store and exit",
                run->wall_seconds);
  f.note = note;
  return f;
}

void Append(std::vector<Figure>* all, std::vector<Figure> more) {
  for (auto& f : more) all->push_back(std::move(f));
}

}  // namespace

int RunLarge(const BenchOptions& o, const std::string& dir) {
  Machine machine = DescribeMachine();
  const std::string data_dir = dir + "/large-data";
  Progress("%d cores, load %s; filling %llu runs into %s", machine.cores,
           machine.load_before.c_str(), static_cast<unsigned long long>(o.runs), data_dir.c_str());
  auto started = ServerProcess::Start(SelfPath(), data_dir, dir + "/large-serve.log", o.io_threads,
                                      o.read_workers, std::chrono::seconds(300));
  if (!started) {
    std::fprintf(stderr, "runledger bench: %s\n", started.error().message().c_str());
    return 1;
  }
  std::unique_ptr<ServerProcess> server = std::move(*started);
  ServerUnderTest target{"127.0.0.1", server->port(), server->pid(), 0};
  std::vector<Figure> figures;
  RunRegistry registry;
  registry.reserve(o.runs);
  {
    BulkIngest fill(o.bulk_connections, o.bulk_lines, o.seed + 3, &registry, o.runs);
    LoadOptions load;
    load.connections = o.bulk_connections;
    load.warmup_seconds = 0;
    load.seconds = 0;  // until every run is sent
    Append(&figures,
           MeasureHttp(target, load, fill,
                       {"large_fill", "fill: bulk NDJSON ingest (growing ledger)", "events", ""}));
  }
  Progress("filled: %zu runs; waiting for the server to idle (compactions)", registry.size());
  const auto settle_started = std::chrono::steady_clock::now();
  for (int second = 0; second < kSettleSecondsMax; ++second) {
    CpuMeter idle(server->pid(), /*tree=*/false);
    idle.Start();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (!(idle.Stop() >= 0.05)) break;  // idle, or CPU unknown
  }
  Progress("settled after %.0f s",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - settle_started).count());
  Progress("read mix at full throughput over %zu runs, %zu connections", registry.size(),
           o.connections);
  LoadOptions load;
  load.connections = o.connections;
  load.seconds = o.seconds;
  load.warmup_seconds = o.warmup_seconds;
  load.kinds = ReadMix::Kinds();
  {
    ReadMix reads(registry, o.seed + 4);
    Append(&figures,
           MeasureHttp(target, load, reads,
                       {"large_reads_max", "read mix, closed loop (max)", "requests", ""}));
  }
  const Figure* max = Find(figures, "large_reads_max");
  const double half = max && max->measured() ? max->request_rate() / 2 : 0;
  if (half > 0) {
    Progress("read mix at half throughput: %.0f requests/s, open loop", half);
    load.rate_per_second = half;
    ReadMix reads(registry, o.seed + 5);
    Append(&figures,
           MeasureHttp(target, load, reads,
                       {"large_reads_half", "read mix at half max, open loop", "requests", ""}));
  }
  if (Status s = server->Stop(); !s.ok())
    std::fprintf(stderr, "runledger bench: %s\n", s.message().c_str());

  Progress("runledger verify --data %s", data_dir.c_str());
  figures.push_back(Offline("verify", data_dir, "runledger verify (every leaf and the root)"));
  Progress("runledger rebuild --data %s", data_dir.c_str());
  figures.push_back(Offline("rebuild", data_dir, "runledger rebuild (every projection)"));

  auto value = [&](const std::string& key, bool p99) {
    const Figure* f = Find(figures, key);
    if (!f || !f->measured()) return kNotMeasured;
    return p99 ? f->p99_ms : f->rate();
  };
  const std::vector<Comparison> comparisons = {
      {"large_get_run_p99", "GET run p99 at half max throughput",
       value("large_reads_half_get_run", true), 2.0, "ms", true},
      {"large_activity_p99", "filtered Activity page p99 at half max throughput",
       value("large_reads_half_activity", true), 2.0, "ms", true},
      {"verify_rate", "verify events/s", value("verify", false), 500000, "events/s"},
      {"rebuild_rate", "rebuild events/s", value("rebuild", false), 150000, "events/s"},
  };
  const std::string extra = ",\"runs\":" + std::to_string(o.runs) +
                            ",\"runs_acknowledged\":" + std::to_string(registry.size());
  return Finish(o, machine, ConfigJson(o, extra), figures, comparisons);
}

}  // namespace runledger::tools::bench
