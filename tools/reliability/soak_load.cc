// soak_load --server PATH [--minutes N] [--interval-seconds S] [--append-rate R] [--read-rate R]
//
// The engine of tools/reliability/soak.sh: starts `runledger serve`, drives
// it at a steady open-loop rate of appends (runs created, started, logged,
// ended, one event per request) and reads (a run, the listing, the counts),
// and every interval prints one row: requests, errors, append and read
// latency percentiles (measured from when each request was due, so a stall
// is not hidden by the client waiting), and the server's RSS, peak RSS and
// open descriptors. At the end it compares the last interval with the
// first, stops the server and runs `runledger verify`.

#include <signal.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "tools/reliability/http_client.h"
#include "tools/reliability/latency.h"
#include "tools/reliability/server_process.h"

namespace runledger::tools::reliability {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kThreadsPerKind = 2;
constexpr int kEventsPerRun = 100;

struct Options {
  std::string server;
  double minutes = 10;
  int interval_seconds = 30;
  double append_rate = 100;  // per second, all append threads together
  double read_rate = 100;
  int bulk_lines = 0;  // > 0: each append request is a bulk of this many events
  std::string work_dir;
};

struct Counters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  LatencyRecorder latencies;
  std::mutex mutex;
  std::string first_error;  // guarded by mutex

  void Error(const HttpResponse& response) {
    std::lock_guard lock(mutex);
    if (first_error.empty()) {
      first_error = std::to_string(response.status) + " " + response.error + " " +
                    response.body.substr(0, 200);
    }
  }
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One request per `period`, each due at a fixed time whatever the answers do.
template <typename Request>
void Paced(std::atomic<bool>& stop, Clock::duration period, Counters& counters, Request request) {
  auto due = Clock::now();
  while (!stop) {
    due += period;
    std::this_thread::sleep_until(due);
    const bool ok = request();
    counters.latencies.Add(Seconds(Clock::now() - due) * 1000);
    counters.requests.fetch_add(1);
    if (!ok) counters.errors.fetch_add(1);
  }
}

// Appends `lines` logged events per request (bulk NDJSON), so that
// memtables fill and flush within minutes.
void BulkLoop(std::uint16_t port, int thread, int lines, std::atomic<bool>& stop,
              Clock::duration period, Counters& counters) {
  HttpConnection connection(port);
  std::uint64_t n = 0;
  std::string run_id;
  Paced(stop, period, counters, [&] {
    if (run_id.empty() || n % 10000 < static_cast<std::uint64_t>(lines)) {
      const HttpResponse created = connection.Send(
          "POST", "/v1/runs",
          R"({"operation":"scan","datastore":{"id":"soak-bulk"},"triggered_by":{"kind":"api","id":"soak"}})");
      const size_t at = created.body.find("\"id\":\"");
      if (created.status != 201 || at == std::string::npos) return counters.Error(created), false;
      run_id = created.body.substr(at + 6, 36);
    }
    std::string body;
    for (int i = 0; i < lines; ++i, ++n) {
      body += R"({"run_id":")" + run_id + R"(","id":"b)" + std::to_string(thread) + "-" +
              std::to_string(n) +
              R"(","type":"logged","data":{"level":"info","message":"soak bulk event )" +
              std::to_string(n) + "\"}}\n";
    }
    const HttpResponse response =
        connection.Send("POST", "/v1/events", body, {}, "application/x-ndjson");
    if (response.status != 200 || response.body.find("\"code\"") != std::string::npos) {
      return counters.Error(response), false;
    }
    return true;
  });
}

void AppendLoop(std::uint16_t port, int thread, std::atomic<bool>& stop, Clock::duration period,
                Counters& counters) {
  HttpConnection connection(port);
  std::string run_id;
  int events = 0;
  std::uint64_t n = 0;
  Paced(stop, period, counters, [&] {
    HttpResponse response;
    if (run_id.empty()) {
      response = connection.Send(
          "POST", "/v1/runs",
          R"({"operation":"profile","datastore":{"id":"soak-)" + std::to_string(thread) +
              R"("},"triggered_by":{"kind":"schedule","id":"soak"},"total":100})");
      const size_t at = response.body.find("\"id\":\"");
      if (response.status != 201 || at == std::string::npos) return counters.Error(response), false;
      run_id = response.body.substr(at + 6, 36);
      events = 1;
      return true;
    }
    std::string body;
    const std::string id = "s" + std::to_string(thread) + "-" + std::to_string(n++);
    if (events == 1) {
      body = R"({"type":"started","data":{"worker":"soak"})";
    } else if (events + 1 < kEventsPerRun) {
      body = events % 5 == 0
                 ? R"({"type":"progressed","data":{"processed":)" + std::to_string(events) + "}"
                 : R"({"type":"logged","data":{"level":"info","message":"soak event )" +
                       std::to_string(events) + "\"}";
    } else {
      body = R"({"type":"ended","data":{"status":"success"})";
    }
    body += R"(,"id":")" + id + "\"}";
    response = connection.Send("POST", "/v1/runs/" + run_id + "/events", body);
    if (response.status != 201) return counters.Error(response), false;
    if (++events == kEventsPerRun) run_id.clear();
    return true;
  });
}

void ReadLoop(std::uint16_t port, std::atomic<bool>& stop, Clock::duration period,
              Counters& counters) {
  HttpConnection connection(port);
  std::uint64_t n = 0;
  std::string last_run;
  Paced(stop, period, counters, [&] {
    HttpResponse response;
    switch (n++ % 3) {
      case 0: {
        response = connection.Send("GET", "/v1/runs?limit=20");
        const size_t at = response.body.find("\"id\":\"");
        if (at != std::string::npos) last_run = response.body.substr(at + 6, 36);
        break;
      }
      case 1:
        response =
            connection.Send("GET", last_run.empty() ? "/v1/runs/counts" : "/v1/runs/" + last_run);
        break;
      default:
        response = connection.Send("GET", "/v1/runs/counts?operation=profile");
        break;
    }
    if (response.status != 200) counters.Error(response);
    return response.status == 200;
  });
}

struct Row {
  double minute = 0;
  double rss_mib = 0;
  double append_p99 = 0;
};

int Run(const Options& o) {
  ServeConfig config;
  config.binary = o.server;
  config.data_dir = o.work_dir + "/data";
  config.log_path = o.work_dir + "/serve.log";
  auto server = ServerProcess::Start(config, milliseconds(60000));
  if (!server) return std::fprintf(stderr, "%s\n", server.error().message().c_str()), 2;
  const pid_t pid = (*server)->pid();
  const std::uint16_t port = (*server)->port();
  std::atomic<bool> stop{false};
  Counters appends, reads;
  std::vector<std::thread> threads;
  const auto append_period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(kThreadsPerKind / o.append_rate));
  const auto read_period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(kThreadsPerKind / o.read_rate));
  for (int i = 0; i < kThreadsPerKind; ++i) {
    threads.emplace_back([&, i] {
      if (o.bulk_lines > 0) return BulkLoop(port, i, o.bulk_lines, stop, append_period, appends);
      AppendLoop(port, i, stop, append_period, appends);
    });
    threads.emplace_back([&] { ReadLoop(port, stop, read_period, reads); });
  }
  std::printf(
      "soak: %.0f append requests/s (%d events each) + %.0f read/s for %.1f min, a row every %d "
      "s; server pid %d; load average %s",
      o.append_rate, std::max(o.bulk_lines, 1), o.read_rate, o.minutes, o.interval_seconds,
      static_cast<int>(pid), ReadFile("/proc/loadavg").c_str());
  std::printf("%6s %8s %8s %5s %9s %9s %9s %9s %8s %8s %5s %6s\n", "min", "appends", "reads",
              "errs", "app_p50", "app_p99", "read_p50", "read_p99", "rss_MiB", "hwm_MiB", "fds",
              "load1");
  const auto started = Clock::now();
  const auto end = started + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.minutes * 60));
  std::vector<Row> rows;
  std::uint64_t errors_total = 0;
  while (Clock::now() < end) {
    std::this_thread::sleep_until(
        std::min(end, Clock::now() + std::chrono::seconds(o.interval_seconds)));
    const auto append_ms = appends.latencies.Take();
    const auto read_ms = reads.latencies.Take();
    const std::uint64_t errors = appends.errors.exchange(0) + reads.errors.exchange(0);
    errors_total += errors;
    const Memory memory = ReadMemory(pid);
    Row row{Seconds(Clock::now() - started) / 60, static_cast<double>(memory.rss_kib) / 1024,
            Percentile(append_ms, 99)};
    rows.push_back(row);
    std::printf("%6.1f %8zu %8zu %5llu %9.1f %9.1f %9.1f %9.1f %8.1f %8.1f %5ld %6.2f\n",
                row.minute, append_ms.size(), read_ms.size(),
                static_cast<unsigned long long>(errors), Percentile(append_ms, 50), row.append_p99,
                Percentile(read_ms, 50), Percentile(read_ms, 99), row.rss_mib,
                static_cast<double>(memory.hwm_kib) / 1024, OpenFds(pid),
                std::atof(ReadFile("/proc/loadavg").c_str()));
    std::fflush(stdout);
  }
  stop = true;
  for (auto& thread : threads) thread.join();
  if (rows.size() >= 2) {
    std::printf(
        "first -> last row: RSS %.1f -> %.1f MiB, append p99 %.1f -> %.1f ms; errors %llu\n",
        rows.front().rss_mib, rows.back().rss_mib, rows.front().append_p99, rows.back().append_p99,
        static_cast<unsigned long long>(errors_total));
  }
  for (Counters* counters : {&appends, &reads}) {
    if (!counters->first_error.empty())
      std::printf("first error: %s\n", counters->first_error.c_str());
  }
  int code = errors_total == 0 ? 0 : 1;
  if (Status s = (*server)->Stop(milliseconds(60000)); !s.ok()) {
    std::printf("FAILED: clean stop: %s\n", s.message().c_str());
    code = 1;
  }
  const CommandResult verified = RunCommand({o.server, "verify", "--data", config.data_dir});
  std::printf("verify: %s", verified.output.c_str());
  if (verified.exit_code != 0) code = 1;
  std::printf("%s\n", code == 0 ? "PASS" : "FAIL");
  return code;
}

}  // namespace
}  // namespace runledger::tools::reliability

int main(int argc, char** argv) {
  using namespace runledger::tools::reliability;
  Options o;
  CLI::App app{"Soak load for runledger serve: steady appends and reads, RSS and latency sampled"};
  app.add_option("--server", o.server, "The runledger executable")->required();
  app.add_option("--minutes", o.minutes, "How long to run")->capture_default_str();
  app.add_option("--interval-seconds", o.interval_seconds, "Seconds per row")
      ->capture_default_str();
  app.add_option("--append-rate", o.append_rate, "Appends per second")->capture_default_str();
  app.add_option("--read-rate", o.read_rate, "Reads per second")->capture_default_str();
  app.add_option("--bulk-lines", o.bulk_lines,
                 "Append by bulk requests of this many events (0: one event per request)")
      ->capture_default_str();
  app.add_option("--work-dir", o.work_dir,
                 "Directory for data and the log (default: a new one in /tmp)");
  CLI11_PARSE(app, argc, argv);
  if (o.minutes <= 0 || o.interval_seconds <= 0 || o.append_rate <= 0 || o.read_rate <= 0) {
    std::fprintf(stderr,
                 "soak_load: --minutes, --interval-seconds and the rates must be positive\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  o.server = std::filesystem::absolute(o.server).string();
  const bool own_dir = o.work_dir.empty();
  if (own_dir) {
    char pattern[] = "/tmp/runledger-soak-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return 2;
    o.work_dir = pattern;
  }
  std::filesystem::create_directories(o.work_dir);
  const int code = Run(o);
  if (own_dir && code == 0) std::filesystem::remove_all(o.work_dir);
  if (code != 0) std::printf("work directory kept: %s\n", o.work_dir.c_str());
  return code;
}
