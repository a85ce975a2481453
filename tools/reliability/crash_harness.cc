// crash_harness --server PATH [--cycles N] [...]
//
// Crash under load, end to end: starts the real `runledger serve` (with a
// tokens file) on a loopback port, drives it with concurrent writers
// (single appends with client event ids, bulk NDJSON with ids) and readers,
// SIGKILLs it at random moments, restarts it and checks, every cycle, that
// every acknowledged append is stored exactly once where it was
// acknowledged, that positions and per-run seqs are gap-free, and that an
// unacknowledged event is stored only if its request was in flight at the
// kill, in which case retrying it with the same ids answers 200 with the
// stored event (crash_check.h). `runledger verify` runs on the killed data
// each cycle. After the last cycle: a clean stop, verify, rebuild, and the
// projections served after the rebuild must equal those served before it.
// Finally no token may appear in any server log. Exits 1 on any violation.

#include <signal.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "tools/reliability/crash_check.h"
#include "tools/reliability/crash_workload.h"
#include "tools/reliability/server_process.h"

namespace runledger::tools::reliability {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  std::string server;
  int cycles = 20;
  std::string work_dir;
  int writers = 6;
  int bulk_writers = 2;
  int readers = 2;
  int kill_min_ms = 300;
  int kill_max_ms = 2500;
  std::uint64_t seed = 0;
  bool keep = false;
  bool verify_each_cycle = true;
};

struct Harness {
  Options options;
  std::string data_dir;
  std::string tokens_path;
  std::map<std::string, std::string> tokens;  // name -> secret
  std::vector<std::string> logs;
  Book book;
  std::unique_ptr<ServerProcess> server;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string LoadAverage() {
  std::string text = ReadFile("/proc/loadavg");
  return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

// `runledger token add`: the printed token (rl_ + 64 hex).
Result<std::string> AddToken(Harness& h, const std::string& name, const std::string& role) {
  const CommandResult added = RunCommand({h.options.server, "token", "add", "--tokens",
                                          h.tokens_path, "--name", name, "--role", role});
  constexpr size_t kTokenSize = 3 + 64;  // rl_ + hex
  for (size_t at = added.output.find("rl_"); added.exit_code == 0 && at != std::string::npos;
       at = added.output.find("rl_", at + 1)) {
    const std::string token = added.output.substr(at, kTokenSize);
    if (token.size() == kTokenSize && token.find_first_not_of("0123456789abcdef", 3) == std::string::npos) {
      return token;
    }
  }
  return Status::Internal("runledger token add failed: " + added.output);
}

Status StartServer(Harness& h, double* ready_seconds) {
  ServeConfig config;
  config.binary = h.options.server;
  config.data_dir = h.data_dir;
  config.tokens_path = h.tokens_path;
  config.log_path = h.options.work_dir + "/serve-" + std::to_string(h.logs.size()) + ".log";
  h.logs.push_back(config.log_path);
  const auto started = Clock::now();
  auto server = ServerProcess::Start(config, milliseconds(120000));
  if (!server) return server.error();
  h.server = std::move(*server);
  if (ready_seconds) *ready_seconds = Seconds(Clock::now() - started);
  return Status::Ok();
}

void RunOffline(Harness& h, const char* command) {
  const CommandResult result = RunCommand({h.options.server, command, "--data", h.data_dir});
  if (result.exit_code != 0) {
    h.book.Violation(std::string("runledger ") + command + " failed (" +
                     std::to_string(result.exit_code) + "): " + result.output);
  }
}

// Tokens must never reach the logs, neither valid ones nor a wrong one a
// client sent.
struct LogScan {
  size_t logs = 0;
  size_t lines = 0;
  size_t hits = 0;
};
LogScan CheckLogsForTokens(Harness& h) {
  LogScan scan;
  for (const auto& log : h.logs) {
    const std::string text = ReadFile(log);
    ++scan.logs;
    scan.lines += static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    for (const auto& [name, secret] : h.tokens) {
      if (text.find(secret) != std::string::npos) {
        ++scan.hits;
        h.book.Violation("the token of " + name + " appears in " + log);
      }
      if (text.find(secret.substr(3, 32)) != std::string::npos) {
        ++scan.hits;
        h.book.Violation("part of the token of " + name + " appears in " + log);
      }
    }
  }
  return scan;
}

// Every check but the crash ones: bad tokens are refused, the projections
// survive a rebuild byte for byte, verify passes on the cleanly stopped data.
void FinalChecks(Harness& h, HttpConnection& admin) {
  HttpConnection intruder(h.server->port(), h.tokens["bogus"]);
  if (const auto r = intruder.Send("GET", "/v1/runs/counts"); r.status != 401) {
    h.book.Violation("a wrong token answered " + std::to_string(r.status) + ", not 401");
  }
  auto ledger_before = ScanLedger(admin);
  if (!ledger_before)
    return h.book.Violation("reading the ledger: " + ledger_before.error().message());
  std::vector<std::string> runs;
  for (const auto& [run_id, events] : ledger_before->by_run) runs.push_back(run_id);
  auto before = SnapshotProjections(admin, runs);
  if (!before) return h.book.Violation("snapshot before the rebuild: " + before.error().message());
  if (Status s = h.server->Stop(milliseconds(60000)); !s.ok())
    h.book.Violation("clean stop: " + s.message());
  RunOffline(h, "verify");
  RunOffline(h, "rebuild");
  if (Status s = StartServer(h, nullptr); !s.ok())
    return h.book.Violation("start after rebuild: " + s.message());
  admin.Retarget(h.server->port());
  auto after = SnapshotProjections(admin, runs);
  if (!after) return h.book.Violation("snapshot after the rebuild: " + after.error().message());
  for (const auto& difference : CompareSnapshots(*before, *after)) {
    h.book.Violation("projection differs after rebuild: " + difference);
  }
  auto scan = ScanLedger(admin);
  if (!scan || scan->events.size() != ledger_before->events.size()) {
    h.book.Violation("the ledger changed size across the rebuild");
  }
  if (Status s = h.server->Stop(milliseconds(60000)); !s.ok())
    h.book.Violation("final stop: " + s.message());
  RunOffline(h, "verify");
  std::printf(
      "final: %zu runs and %zu projection targets identical before and after rebuild; verify "
      "passed "
      "before and after\n",
      runs.size(), before->size());
}

int Run(Harness& h) {
  Options& o = h.options;
  std::mt19937_64 random(o.seed != 0 ? o.seed : std::random_device{}());
  h.data_dir = o.work_dir + "/data";
  h.tokens_path = o.work_dir + "/tokens.json";
  for (const auto& [name, role] : std::vector<std::pair<std::string, std::string>>{
           {"crash-admin", "admin"}, {"crash-writer", "worker"}, {"crash-reader", "auditor"}}) {
    auto token = AddToken(h, name, role);
    if (!token) return std::fprintf(stderr, "%s\n", token.error().message().c_str()), 2;
    h.tokens[name] = *token;
  }
  h.tokens["bogus"] = "rl_" + std::string(64, 'e');
  if (Status s = StartServer(h, nullptr); !s.ok())
    return std::fprintf(stderr, "%s\n", s.message().c_str()), 2;

  Coordinator coordinator;
  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < o.writers + o.bulk_writers; ++i)
    writers.push_back(std::make_unique<Writer>(i, i >= o.writers, random()));
  WorkloadOptions load{h.tokens["crash-writer"], h.tokens["crash-reader"]};
  std::vector<std::thread> threads;
  for (auto& writer : writers)
    threads.emplace_back([&, w = writer.get()] { RunWriter(*w, coordinator, h.book, load); });
  for (int i = 0; i < o.readers; ++i)
    threads.emplace_back([&, i] { RunReader(i, coordinator, h.book, load); });
  const int thread_count = static_cast<int>(threads.size());

  HttpConnection admin(h.server->port(), h.tokens["crash-admin"], milliseconds(120000));
  HttpConnection retrier(h.server->port(), h.tokens["crash-writer"], milliseconds(120000));
  Checker checker(h.book, writers);
  std::printf(
      "crash harness: %d writers + %d bulk writers + %d readers, %d cycles, kill after %d..%d ms, "
      "work dir %s, load average %s\n",
      o.writers, o.bulk_writers, o.readers, o.cycles, o.kill_min_ms, o.kill_max_ms,
      o.work_dir.c_str(), LoadAverage().c_str());
  std::printf("%5s %8s %9s %9s %9s %8s %8s %6s %8s %8s\n", "cycle", "kill_ms", "acked", "events",
              "in_doubt", "stored", "absent", "lost", "ready_s", "check_s");
  std::uint64_t lost = 0, in_doubt_ops = 0, in_doubt_stored = 0;
  // Every thread is parked between cycles: the checks run on a quiet server.
  if (!coordinator.WaitAllParked(thread_count, milliseconds(60000)))
    h.book.Violation("the load threads did not start");
  for (int cycle = 1; cycle <= o.cycles && h.book.violation_count() == 0; ++cycle) {
    coordinator.Release(h.server->port());
    const int kill_ms = std::uniform_int_distribution(o.kill_min_ms, o.kill_max_ms)(random);
    std::this_thread::sleep_for(milliseconds(kill_ms));
    h.server->Kill();
    coordinator.MarkDown();
    if (!coordinator.WaitAllParked(thread_count, milliseconds(180000))) {
      h.book.Violation("the load threads did not stop after the kill");
      break;
    }
    if (o.verify_each_cycle) RunOffline(h, "verify");
    double ready_seconds = 0;
    if (Status s = StartServer(h, &ready_seconds); !s.ok()) {
      h.book.Violation("restart: " + s.message());
      break;
    }
    admin.Retarget(h.server->port());
    retrier.Retarget(h.server->port());
    const auto check_started = Clock::now();
    const CycleFigures f = checker.Check(admin, retrier, cycle == o.cycles);
    lost += f.lost;
    in_doubt_ops += f.in_doubt_ops;
    in_doubt_stored += f.in_doubt_stored;
    std::printf("%5d %8d %9zu %9llu %9llu %8llu %8llu %6llu %8.2f %8.2f\n", cycle, kill_ms,
                h.book.acked_count(), static_cast<unsigned long long>(f.events),
                static_cast<unsigned long long>(f.in_doubt_ops),
                static_cast<unsigned long long>(f.in_doubt_stored),
                static_cast<unsigned long long>(f.in_doubt_absent),
                static_cast<unsigned long long>(f.lost), ready_seconds,
                Seconds(Clock::now() - check_started));
    std::fflush(stdout);
  }
  coordinator.Shutdown();
  for (auto& thread : threads) thread.join();
  if (h.book.violation_count() == 0) FinalChecks(h, admin);
  if (h.server) h.server->Kill();
  const LogScan logs = CheckLogsForTokens(h);

  const WorkloadCounters counters = Counters();
  std::printf(
      "summary: cycles %d, acknowledged appends %zu, lost %llu, in flight at kills %llu requests "
      "(%llu of their events were stored and answered 200 on retry), write requests %llu, read "
      "requests "
      "%llu, runs %zu, load average %s\n",
      o.cycles, h.book.acked_count(), static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(in_doubt_ops),
      static_cast<unsigned long long>(in_doubt_stored),
      static_cast<unsigned long long>(counters.write_requests),
      static_cast<unsigned long long>(counters.read_requests), h.book.Runs().size(),
      LoadAverage().c_str());
  std::printf("tokens in server logs: %zu occurrences of %zu tokens in %zu logs, %zu lines\n",
              logs.hits, h.tokens.size(), logs.logs, logs.lines);
  const auto violations = h.book.Violations();
  for (const auto& violation : violations) std::printf("VIOLATION: %s\n", violation.c_str());
  if (h.book.violation_count() > violations.size()) {
    std::printf("... and %zu more violations\n", h.book.violation_count() - violations.size());
  }
  std::printf("%s\n", h.book.violation_count() == 0 ? "PASS" : "FAIL");
  return h.book.violation_count() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace runledger::tools::reliability

int main(int argc, char** argv) {
  using namespace runledger::tools::reliability;
  Harness h;
  Options& o = h.options;
  CLI::App app{
      "Crash under load: SIGKILL runledger serve at random moments and prove nothing acknowledged "
      "is lost"};
  app.add_option("--server", o.server, "The runledger executable")->required();
  app.add_option("--cycles", o.cycles, "Kill/restart cycles")->capture_default_str();
  app.add_option("--work-dir", o.work_dir,
                 "Directory for data, tokens and logs (default: a new one in /tmp)");
  app.add_option("--writers", o.writers, "Threads appending one event per request")
      ->capture_default_str();
  app.add_option("--bulk-writers", o.bulk_writers, "Threads appending NDJSON batches")
      ->capture_default_str();
  app.add_option("--readers", o.readers, "Threads reading runs, counts and events")
      ->capture_default_str();
  app.add_option("--kill-min-ms", o.kill_min_ms, "Shortest load before a kill")
      ->capture_default_str();
  app.add_option("--kill-max-ms", o.kill_max_ms, "Longest load before a kill")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Random seed (0: random)")->capture_default_str();
  app.add_flag("--keep", o.keep, "Keep the work directory");
  app.add_flag("!--no-verify-each-cycle", o.verify_each_cycle,
               "Skip runledger verify after each kill");
  CLI11_PARSE(app, argc, argv);
  if (o.kill_min_ms < 0 || o.kill_max_ms < o.kill_min_ms || o.cycles < 1) {
    std::fprintf(stderr,
                 "crash_harness: need --cycles >= 1 and 0 <= --kill-min-ms <= --kill-max-ms\n");
    return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  o.server = std::filesystem::absolute(o.server).string();
  const bool own_dir = o.work_dir.empty();
  if (own_dir) {
    char pattern[] = "/tmp/runledger-crash-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return 2;
    o.work_dir = pattern;
  }
  std::filesystem::create_directories(o.work_dir);
  const int code = Run(h);
  if (own_dir && !o.keep && code == 0) std::filesystem::remove_all(o.work_dir);
  if (code != 0 || o.keep) std::printf("work directory kept: %s\n", o.work_dir.c_str());
  return code;
}
