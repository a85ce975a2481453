#include "tools/bench/phases.h"

#include <cstdarg>
#include <cstdio>
#include <optional>

#include "tools/bench/process.h"

namespace runledger::tools::bench {

void Progress(const char* format, ...) {
  std::va_list args;
  va_start(args, format);
  std::fputs("bench: ", stderr);
  std::vfprintf(stderr, format, args);
  std::fputc('\n', stderr);
  va_end(args);
}

std::vector<Figure> MeasureHttp(const ServerUnderTest& server, LoadOptions load, CallSource& source,
                                const PhaseSpec& spec) {
  load.host = server.host;
  load.port = server.port;
  std::optional<CpuMeter> cpu;
  if (server.pid > 0) cpu.emplace(server.pid, false, server.tid);
  double cores = kNotMeasured, rss = kNotMeasured;
  pid_t perf = -1;
  WindowHooks hooks;
  hooks.start = [&] {
    if (server.pid > 0 && server.tid == 0) ResetPeakRss(server.pid);
    if (cpu) cpu->Start();
    if (!spec.perf_path.empty() && server.pid > 0 && load.seconds > 0) {
      perf = SpawnBackground({"perf", "record", "-F", "199", "--call-graph", "dwarf,16384", "-p",
                              std::to_string(server.pid), "-o", spec.perf_path, "--", "sleep",
                              std::to_string(static_cast<int>(load.seconds))},
                             spec.perf_path + ".log");
    }
  };
  hooks.end = [&] {
    if (cpu) cores = cpu->Stop();
    if (server.pid > 0 && server.tid == 0) rss = PeakRssMib(server.pid);
  };
  LoadResult result = RunLoad(load, source, hooks);
  if (perf > 0) StopBackground(perf, std::chrono::seconds(30));

  std::vector<Figure> figures;
  Figure total;
  total.key = spec.key;
  total.title = spec.title;
  total.unit = spec.unit;
  total.seconds = result.seconds;
  total.server_cpu_cores = cores;
  total.client_cpu_cores =
      result.seconds > 0 ? result.client_cpu_seconds / result.seconds : kNotMeasured;
  total.peak_rss_mib = rss > 0 ? rss : kNotMeasured;
  Latencies all;
  for (KindResult& kind : result.kinds) {
    total.requests += kind.requests;
    total.units += kind.units;
    total.errors += kind.errors;
    all.Merge(kind.latencies);
  }
  total.SetLatencies(all);
  if (!result.first_error.empty()) {
    total.note = std::to_string(result.errors) + " errors; first: " + result.first_error;
  }
  if (result.saturated)
    total.note +=
        (total.note.empty() ? "" : "; ") + std::string("open loop fell behind (saturated)");
  figures.push_back(total);
  if (result.kinds.size() > 1) {
    for (KindResult& kind : result.kinds) {
      Figure f;
      f.key = spec.key + "_" + kind.name;
      f.title = "  " + kind.name;
      f.unit = "requests";
      f.seconds = result.seconds;
      f.requests = kind.requests;
      f.units = kind.units;
      f.errors = kind.errors;
      f.SetLatencies(kind.latencies);
      figures.push_back(f);
    }
  }
  return figures;
}

}  // namespace runledger::tools::bench
