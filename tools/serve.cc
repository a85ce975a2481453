#include "tools/serve.h"

#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <thread>

#include "ledger/time.h"
#include "projections/queries.h"
#include "projections/run_ledger.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/http_server.h"
#include "server/tls.h"

namespace runledger::tools {
namespace {

using ledger::Json;

// Aborts runs that received no event for `stale_ms`, as the system.
class StaleRunReaper {
 public:
  StaleRunReaper(projections::RunLedger& ledger, long long stale_ms)
      : ledger_(ledger), queries_(ledger.store(), &ledger.summaries()), stale_ms_(stale_ms),
        thread_([this] { Loop(); }) {}
  ~StaleRunReaper() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    const auto period = std::chrono::milliseconds(std::clamp<long long>(stale_ms_ / 10, 100, 5000));
    std::unique_lock lock(mutex_);
    while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
      lock.unlock();
      Sweep();
      lock.lock();
    }
  }
  void Sweep() {
    projections::RunFilter active;
    active.statuses = {"queued", "running"};
    const std::int64_t now = ledger::NowUnixMs();
    std::optional<std::string> cursor;
    do {
      auto page = queries_.ListRuns(active, 1000, cursor);
      if (!page) return;
      for (const auto& run : page->items) {
        if (now - run.last_event_ms < stale_ms_) continue;
        projections::AppendRequest abort;
        abort.caller = {"stale-run-reaper", false};
        abort.run_id = run.id;
        abort.type = "ended";
        abort.data = Json::MakeObject();
        abort.data.Set("status", Json::String("aborted"));
        Json by = Json::MakeObject();
        by.Set("kind", Json::String("system"));
        by.Set("id", Json::String("stale-run-reaper"));
        abort.data.Set("aborted_by", std::move(by));
        abort.data.Set("reason", Json::String("no event for " + std::to_string(stale_ms_ / 1000) + " s"));
        abort.if_match = run.version;  // a run that just moved is not stale
        ledger_.AppendEvent(std::move(abort), [](const Status&, projections::Outcome) {});
      }
      cursor = page->next_cursor;
    } while (cursor);
  }

  projections::RunLedger& ledger_;
  projections::RunQueries queries_;
  long long stale_ms_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

long long ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return -1;
  size_t digits = 0;
  long long value = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
    value = value * 10 + (text[digits] - '0');
    if (value > 10'000'000'000LL) return -1;
    ++digits;
  }
  if (digits == 0) return -1;
  const std::string unit = text.substr(digits);
  if (unit.empty() || unit == "s") return value;
  if (unit == "m") return value * 60;
  if (unit == "h") return value * 3600;
  return -1;
}

int Serve(const ServeOptions& options) {
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "runledger: --listen takes HOST:PORT\n";
    return 2;
  }
  server::ServerOptions http;
  http.address = options.listen.substr(0, colon);
  if (http.address.size() > 2 && http.address.front() == '[') http.address = http.address.substr(1, http.address.size() - 2);
  http.port = static_cast<std::uint16_t>(std::stoi(options.listen.substr(colon + 1)));
  http.io_threads = options.io_threads;

  long long stale_seconds = 0;
  if (!options.stale_after.empty()) {
    stale_seconds = ParseDurationSeconds(options.stale_after);
    if (stale_seconds <= 0) {
      std::cerr << "runledger: --stale-after takes seconds, or a number with s, m or h\n";
      return 2;
    }
  }
  server::ApiOptions api_options;
  api_options.read_workers = static_cast<size_t>(options.read_workers);
  std::shared_ptr<const server::TokenFile> tokens;
  if (options.tokens_path.empty()) {
    std::cerr << "runledger: no --tokens: every caller is the admin \"local\"; serving loopback only\n";
    if (!server::IsLoopbackHost(http.address)) {
      std::cerr << "runledger: without --tokens the service listens on loopback only, not " << http.address << "\n";
      return 2;
    }
  } else {
    api_options.local_mode = false;
    auto loaded = server::TokenFile::Load(options.tokens_path);
    if (!loaded) {
      std::cerr << "runledger: " << loaded.error().message() << "\n";
      return 2;
    }
    tokens = *loaded;
  }
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    std::cerr << "runledger: --tls-cert and --tls-key go together\n";
    return 2;
  }
  if (!options.tls_cert.empty()) {
    auto tls = server::LoadTlsContext(options.tls_cert, options.tls_key);
    if (!tls) {
      std::cerr << "runledger: " << tls.error().message() << "\n";
      return 2;
    }
    http.tls = std::move(*tls);
  }
  if (options.signing_key.empty()) {
    std::cerr << "runledger: warning: the checkpoint signing key lives beside the data ("
              << options.data_dir << "/signing-key.pem); it protects against accidents, not against "
              << "whoever controls the disk. Use --signing-key to keep it elsewhere.\n";
  }

  // Signals are taken by this thread alone (sigwait), so block them before
  // any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ledger::StoreOptions store_options;
  store_options.data_dir = options.data_dir;
  store_options.signing_key_path = options.signing_key;
  store_options.block_cache_bytes = options.cache_mb << 20;
  auto ledger = projections::RunLedger::Open(store_options);
  if (!ledger) {
    std::cerr << "runledger: " << ledger.error().message() << "\n";
    return ledger.error().reason() == "data_dir_in_use" ? 3 : 1;
  }
  server::Api api(api_options, **ledger);
  if (tokens) api.SetTokens(tokens);
  (*ledger)->SetListener(&api.live());
  server::HttpServer http_server(http, api);
  if (Status s = http_server.Start(); !s.ok()) {
    std::cerr << "runledger: " << s.message() << "\n";
    return 1;
  }
  std::unique_ptr<StaleRunReaper> reaper;
  if (stale_seconds > 0) reaper = std::make_unique<StaleRunReaper>(**ledger, stale_seconds * 1000);
  std::cerr << "runledger: listening on " << http.address << ":" << http_server.port()
            << (http.tls ? " (HTTPS)" : "") << ", data in " << options.data_dir << "\n";

  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP && tokens) {
      auto reloaded = server::TokenFile::Load(options.tokens_path);
      if (reloaded) {
        api.SetTokens(*reloaded);
        std::cerr << "runledger: tokens reloaded\n";
      } else {
        std::cerr << "runledger: tokens not reloaded: " << reloaded.error().message() << "\n";
      }
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM) break;
  }
  std::cerr << "runledger: shutting down\n";
  reaper.reset();
  http_server.Stop();
  api.StopWorkers();  // their streams were cut; they read the ledger until they end
  (*ledger)->SetListener(nullptr);
  ledger->reset();
  std::cerr << "runledger: stopped cleanly\n";
  return 0;
}

}  // namespace runledger::tools
