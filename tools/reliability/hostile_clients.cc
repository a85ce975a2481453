// hostile_clients --server PATH [--phase-seconds S] [--idle N] [--slowloris N] [--sse N] [--short]
//
// Starts `runledger serve` and attacks it, one phase at a time, while a
// normal client keeps working (an append, a run read and /healthz, one
// request every kPaceMs) and its latency is measured:
//
//   baseline   the normal client alone
//   idle       N connections that never send a byte
//   slowloris  N connections trickling a never-ending header, a byte at a time
//   sse        N Server-Sent Events streams whose clients never read, while
//              bulk appends flow (so their backlog grows past the bound)
//   combined   all of the above at once
//
// For each phase it prints the normal client's p50/p99/max latency and
// errors, the server's peak RSS and open descriptors, and how many attacking
// connections the server cut (and how fast). It fails (exit 1) if the normal
// client saw an error, if the server kept an attacker it should have cut,
// or if descriptors were not released after a phase.

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>

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

constexpr milliseconds kPaceMs{20};           // the normal client's request interval
constexpr milliseconds kTrickleEvery{100};    // slowloris: one byte this often
constexpr milliseconds kSampleEvery{100};     // RSS and descriptor sampling
constexpr int kSseReceiveBufferBytes = 4096;  // a reader that never reads
constexpr int kBulkLines = 100;
constexpr size_t kLogMessageBytes = 1000;
// The server's default header deadline (ServerOptions::header_timeout).
constexpr double kHeaderTimeoutSeconds = 10;

struct Options {
  std::string server;
  int phase_seconds = 20;
  int idle = 2000;
  int slowloris = 200;
  int sse = 8;
  bool short_mode = false;
  std::string work_dir;
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string CreateRun(HttpConnection& client, const std::string& name) {
  const HttpResponse created = client.Send(
      "POST", "/v1/runs",
      R"({"operation":"scan","datastore":{"id":"hostile"},"triggered_by":{"kind":"api","id":")" +
          name + "\"}}");
  const size_t at = created.body.find("\"id\":\"");
  if (created.status != 201 || at == std::string::npos) return "";
  const std::string id = created.body.substr(at + 6, 36);
  client.Send("POST", "/v1/runs/" + id + "/events", R"({"type":"started","data":{"worker":"w"}})");
  return id;
}

// A well-behaved client: an append, a read of its run, /healthz, in turn.
class NormalClient {
 public:
  explicit NormalClient(std::uint16_t port) : connection_(port) {
    run_id_ = CreateRun(connection_, "normal");
    thread_ = std::thread([this] { Loop(); });
  }
  ~NormalClient() {
    stop_ = true;
    thread_.join();
  }
  bool ready() const { return !run_id_.empty(); }
  std::vector<double> TakeLatencies() { return latencies_.Take(); }
  std::vector<double> TakeAppendLatencies() { return append_latencies_.Take(); }
  std::uint64_t TakeErrors() { return errors_.exchange(0); }
  std::string last_error() {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  void Loop() {
    auto next = Clock::now();
    for (std::uint64_t n = 0; !stop_; ++n) {
      next += kPaceMs;
      std::this_thread::sleep_until(next);
      const auto started = Clock::now();
      HttpResponse response;
      switch (n % 3) {
        case 0:
          response = connection_.Send("POST", "/v1/runs/" + run_id_ + "/events",
                                      R"({"type":"logged","id":"n-)" + std::to_string(n) +
                                          R"(","data":{"level":"info","message":"normal"}})");
          break;
        case 1:
          response = connection_.Send("GET", "/v1/runs/" + run_id_);
          break;
        default:
          response = connection_.Send("GET", "/healthz");
          break;
      }
      const double ms = Seconds(Clock::now() - started) * 1000;
      latencies_.Add(ms);
      if (n % 3 == 0) append_latencies_.Add(ms);
      if (response.status < 200 || response.status >= 300) {
        errors_.fetch_add(1);
        std::lock_guard lock(mutex_);
        last_error_ = std::to_string(response.status) + " " + response.error;
      }
    }
  }

  HttpConnection connection_;
  std::string run_id_;
  LatencyRecorder latencies_;         // every request
  LatencyRecorder append_latencies_;  // the appends among them (each waits for an fsync)
  std::atomic<std::uint64_t> errors_{0};
  std::mutex mutex_;
  std::string last_error_;  // guarded by mutex_
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Appends bulk batches of ~1 KB events as fast as the server takes them.
class Appender {
 public:
  explicit Appender(std::uint16_t port) : connection_(port) {
    run_id_ = CreateRun(connection_, "appender");
    thread_ = std::thread([this] { Loop(); });
  }
  ~Appender() {
    stop_ = true;
    thread_.join();
  }
  std::uint64_t bytes() const { return bytes_; }

 private:
  void Loop() {
    const std::string message(kLogMessageBytes, 'x');
    for (std::uint64_t n = 0; !stop_;) {
      std::string body;
      for (int i = 0; i < kBulkLines; ++i, ++n) {
        body += R"({"run_id":")" + run_id_ + R"(","id":"a-)" + std::to_string(n) +
                R"(","type":"logged","data":{"level":"info","message":")" + message + "\"}}\n";
      }
      const HttpResponse response =
          connection_.Send("POST", "/v1/events", body, {}, "application/x-ndjson");
      // Only stored lines count (a line that was refused is no load on streams).
      size_t stored = 0;
      for (size_t at = 0; (at = response.body.find("\"status\":201", at)) != std::string::npos;
           ++at)
        ++stored;
      bytes_ += stored * (body.size() / kBulkLines);
      if (run_id_.empty()) run_id_ = CreateRun(connection_, "appender");
    }
  }

  HttpConnection connection_;
  std::string run_id_;
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Peak RSS and descriptors of the server over a window.
class Sampler {
 public:
  explicit Sampler(pid_t pid) : pid_(pid), thread_([this] { Loop(); }) {}
  ~Sampler() {
    stop_ = true;
    thread_.join();
  }
  void Reset() {
    rss_max_ = 0;
    sockets_max_ = 0;
  }
  long rss_max_kib() const { return rss_max_; }
  long sockets_max() const { return sockets_max_; }

 private:
  void Loop() {
    while (!stop_) {
      const long rss = ReadMemory(pid_).rss_kib;
      const long sockets = OpenFds(pid_, /*sockets_only=*/true);
      if (rss > rss_max_) rss_max_ = rss;
      if (sockets > sockets_max_) sockets_max_ = sockets;
      std::this_thread::sleep_for(kSampleEvery);
    }
  }
  pid_t pid_;
  std::atomic<long> rss_max_{0};
  std::atomic<long> sockets_max_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Attacking connections, and when the server cut each one.
class Attackers {
 public:
  Attackers(std::uint16_t port, int count, int receive_buffer_bytes,
            const std::string& first_bytes) {
    for (int i = 0; i < count; ++i) {
      auto connection = std::make_unique<HttpConnection>(port);
      if (!connection->Connect(receive_buffer_bytes) || !connection->WriteAll(first_bytes)) {
        ++failed_;
        continue;
      }
      opened_at_.push_back(Clock::now());
      cut_after_.push_back(-1);
      connections_.push_back(std::move(connection));
    }
  }
  // Notes connections the server closed; `trickle` (if any) goes out to the rest.
  void Poll(std::string_view trickle, bool read) {
    std::vector<pollfd> fds;
    for (auto& c : connections_) fds.push_back({c->connected() ? c->fd() : -1, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 0);
    for (size_t i = 0; i < connections_.size(); ++i) {
      if (cut_after_[i] >= 0) continue;
      bool cut = (fds[i].revents & (POLLHUP | POLLERR)) != 0;
      if (!cut && read && (fds[i].revents & POLLIN)) cut = !connections_[i]->Drain();
      if (!cut && !trickle.empty()) cut = !connections_[i]->WriteAll(trickle);
      if (cut) {
        cut_after_[i] = Seconds(Clock::now() - opened_at_[i]);
        connections_[i]->Close();
      }
    }
  }
  int opened() const { return static_cast<int>(connections_.size()); }
  int failed() const { return failed_; }
  int cut() const {
    return static_cast<int>(
        std::count_if(cut_after_.begin(), cut_after_.end(), [](double s) { return s >= 0; }));
  }
  double cut_after(double p) const {
    std::vector<double> cut;
    for (double s : cut_after_) {
      if (s >= 0) cut.push_back(s);
    }
    return Percentile(cut, p);
  }

 private:
  std::vector<std::unique_ptr<HttpConnection>> connections_;
  std::vector<Clock::time_point> opened_at_;
  std::vector<double> cut_after_;
  int failed_ = 0;
};

long LiveSubscriptions(std::uint16_t port) {
  HttpConnection probe(port);
  const HttpResponse metrics = probe.Send("GET", "/metrics");
  const std::string key = "\nrunledger_live_subscriptions ";
  const size_t at = metrics.body.find(key);
  return at == std::string::npos ? -1 : std::atol(metrics.body.c_str() + at + key.size());
}

struct Phase {
  std::string name;
  int idle = 0;
  int slowloris = 0;
  int sse = 0;
};

struct Context {
  Options options;
  ServerProcess* server = nullptr;
  NormalClient* normal = nullptr;
  Sampler* sampler = nullptr;
  long baseline_sockets = 0;
  int failures = 0;
};

void Fail(Context& c, const std::string& what) {
  ++c.failures;
  std::printf("FAILED: %s\n", what.c_str());
}

void RunPhase(Context& c, const Phase& phase) {
  const std::uint16_t port = c.server->port();
  const std::string sse_request =
      "GET /v1/runs/live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  const std::string ledger_request =
      "GET /v1/events?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
  (void)c.normal->TakeLatencies();
  (void)c.normal->TakeAppendLatencies();
  (void)c.normal->TakeErrors();
  c.sampler->Reset();
  Attackers idle(port, phase.idle, 0, "");
  Attackers slow(port, phase.slowloris, 0, "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  Attackers live(port, phase.sse / 2, kSseReceiveBufferBytes, sse_request);
  Attackers ledger(port, phase.sse - phase.sse / 2, kSseReceiveBufferBytes, ledger_request);
  std::unique_ptr<Appender> appender;
  if (phase.sse > 0) appender = std::make_unique<Appender>(port);
  const auto end = Clock::now() + std::chrono::seconds(c.options.phase_seconds);
  long subscriptions_max = 0;
  while (Clock::now() < end) {
    idle.Poll("", true);
    slow.Poll("a", true);
    live.Poll("", false);  // never read: only a reset or hang-up shows
    ledger.Poll("", false);
    if (phase.sse > 0) subscriptions_max = std::max(subscriptions_max, LiveSubscriptions(port));
    std::this_thread::sleep_for(kTrickleEvery);
  }
  const long subscriptions_end = phase.sse > 0 ? LiveSubscriptions(port) : 0;
  const std::uint64_t appended = appender ? appender->bytes() : 0;
  appender.reset();
  const std::vector<double> latencies = c.normal->TakeLatencies();
  const std::vector<double> append_latencies = c.normal->TakeAppendLatencies();
  const std::uint64_t errors = c.normal->TakeErrors();
  const long rss_max = c.sampler->rss_max_kib();
  const long sockets_max = c.sampler->sockets_max();
  const int attackers = idle.opened() + slow.opened() + live.opened() + ledger.opened();
  std::printf("%-10s %6d %6zu %5llu %8.1f %8.1f %8.1f %8.1f %8.1f %6ld", phase.name.c_str(),
              attackers, latencies.size(), static_cast<unsigned long long>(errors),
              Percentile(latencies, 50), Percentile(latencies, 99), Percentile(latencies, 100),
              Percentile(append_latencies, 99), static_cast<double>(rss_max) / 1024, sockets_max);
  if (phase.idle)
    std::printf("  idle cut %d/%d (p50 %.1f s)", idle.cut(), idle.opened(), idle.cut_after(50));
  if (phase.slowloris) {
    std::printf("  slowloris cut %d/%d (max %.1f s)", slow.cut(), slow.opened(),
                slow.cut_after(100));
  }
  if (phase.sse) {
    std::printf("  sse streams %ld -> %ld after %.1f MiB appended", subscriptions_max,
                subscriptions_end, static_cast<double>(appended) / (1 << 20));
  }
  std::printf("\n");
  std::fflush(stdout);
  if (errors > 0)
    Fail(c, phase.name + ": the normal client saw " + std::to_string(errors) + " errors, last " +
                c.normal->last_error());
  const int failed = idle.failed() + slow.failed() + live.failed() + ledger.failed();
  if (failed > 0)
    Fail(c,
         phase.name + ": " + std::to_string(failed) + " attacking connections could not connect");
  const bool long_enough = c.options.phase_seconds > kHeaderTimeoutSeconds + 3;
  if (long_enough && (idle.cut() < idle.opened() || slow.cut() < slow.opened())) {
    Fail(c, phase.name + ": the server kept connections past its header deadline");
  }
  if (phase.sse > 0 && subscriptions_end != 0 &&
      appended > (4u << 20) * static_cast<unsigned>(phase.sse)) {
    Fail(c, phase.name + ": " + std::to_string(subscriptions_end) +
                " non-reading streams were not cut");
  }
  // Attackers gone: the server must release their descriptors.
}

bool SocketsReleased(Context& c) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (OpenFds(c.server->pid(), true) <= c.baseline_sockets + 2) return true;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return false;
}

int Run(Options& o) {
  ServeConfig config;
  config.binary = o.server;
  config.data_dir = o.work_dir + "/data";
  config.log_path = o.work_dir + "/serve.log";
  auto server = ServerProcess::Start(config, milliseconds(60000));
  if (!server) return std::fprintf(stderr, "%s\n", server.error().message().c_str()), 2;
  Context c;
  c.options = o;
  c.server = server->get();
  NormalClient normal(c.server->port());
  if (!normal.ready())
    return std::fprintf(stderr, "the normal client could not create its run\n"), 2;
  Sampler sampler(c.server->pid());
  c.normal = &normal;
  c.sampler = &sampler;
  c.baseline_sockets = OpenFds(c.server->pid(), true);
  std::printf("hostile clients: %d s per phase, server pid %d, load average %s", o.phase_seconds,
              static_cast<int>(c.server->pid()), ReadFile("/proc/loadavg").c_str());
  std::printf("%-10s %6s %6s %5s %8s %8s %8s %8s %8s %6s\n", "phase", "attack", "normal", "errs",
              "p50_ms", "p99_ms", "max_ms", "app_p99", "rss_MiB", "socks");
  const std::vector<Phase> phases = {{"baseline", 0, 0, 0},
                                     {"idle", o.idle, 0, 0},
                                     {"slowloris", 0, o.slowloris, 0},
                                     {"sse", 0, 0, o.sse},
                                     {"combined", o.idle, o.slowloris, o.sse}};
  for (const Phase& phase : phases) {
    if (o.short_mode && phase.name == "combined") continue;
    RunPhase(c, phase);
    if (!SocketsReleased(c))
      Fail(c, phase.name + ": sockets not released after the attackers left");
  }
  const Memory memory = ReadMemory(c.server->pid());
  std::printf(
      "server memory: VmRSS %.1f MiB, VmHWM (peak) %.1f MiB; sockets %ld (baseline %ld), all "
      "descriptors %ld\n",
      static_cast<double>(memory.rss_kib) / 1024, static_cast<double>(memory.hwm_kib) / 1024,
      OpenFds(c.server->pid(), true), c.baseline_sockets, OpenFds(c.server->pid()));
  if (HttpConnection(c.server->port()).Send("GET", "/healthz").status != 200)
    Fail(c, "/healthz is not 200 at the end");
  if (Status s = c.server->Stop(milliseconds(60000)); !s.ok())
    Fail(c, "clean stop: " + s.message());
  std::printf("%s\n", c.failures == 0 ? "PASS" : "FAIL");
  return c.failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace runledger::tools::reliability

int main(int argc, char** argv) {
  using namespace runledger::tools::reliability;
  Options o;
  CLI::App app{
      "Hostile clients: idle connections, slowloris, non-reading SSE streams against runledger "
      "serve"};
  app.add_option("--server", o.server, "The runledger executable")->required();
  app.add_option("--phase-seconds", o.phase_seconds, "Length of each phase")->capture_default_str();
  app.add_option("--idle", o.idle, "Idle connections")->capture_default_str();
  app.add_option("--slowloris", o.slowloris, "Slowloris connections")->capture_default_str();
  app.add_option("--sse", o.sse, "SSE streams that never read")->capture_default_str();
  app.add_option("--work-dir", o.work_dir,
                 "Directory for data and the log (default: a new one in /tmp)");
  app.add_flag("--short", o.short_mode, "Skip the combined phase");
  CLI11_PARSE(app, argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  const long files = RaiseOpenFileLimit();
  if (files < o.idle + o.slowloris + o.sse + 100) {
    std::fprintf(stderr, "hostile_clients: only %ld open files allowed\n", files);
    return 2;
  }
  o.server = std::filesystem::absolute(o.server).string();
  const bool own_dir = o.work_dir.empty();
  if (own_dir) {
    char pattern[] = "/tmp/runledger-hostile-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) return 2;
    o.work_dir = pattern;
  }
  std::filesystem::create_directories(o.work_dir);
  const int code = Run(o);
  if (own_dir && code == 0) std::filesystem::remove_all(o.work_dir);
  if (code != 0) std::printf("work directory kept: %s\n", o.work_dir.c_str());
  return code;
}
