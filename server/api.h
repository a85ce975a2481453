#pragma once

// The HTTP API of SPEC section 4: routing, authentication and role checks,
// then a call into projections/ and a mapping of its result to a response.
// No business rules live here.

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "projections/queries.h"
#include "projections/run_ledger.h"
#include "server/access_log.h"
#include "server/auth.h"
#include "server/http.h"
#include "server/live.h"
#include "server/metrics.h"
#include "server/worker_pool.h"

namespace runledger::server {

struct ApiOptions {
  std::uint64_t body_limit_bytes = 1 << 20;        // every route but bulk ingest
  std::uint64_t bulk_body_limit_bytes = 64 << 20;  // POST /v1/events
  std::uint64_t bulk_line_limit_bytes = 1 << 20;
  // GET /v1/export runs on its own worker thread, as it blocks on its
  // reader; more at once than this answer 503 exports_busy.
  std::size_t exports_max = 2;
  // Long reads (IsLongRead) run on this many worker threads, so they do not
  // hold up every request queued behind them on an I/O thread; when all are
  // busy the I/O thread runs the read. 0: every read runs on the I/O threads.
  std::size_t read_workers = 1;
  // Without a tokens file every caller is the admin "local", and only
  // loopback Host and Origin headers are served.
  bool local_mode = true;
};

// A GET under /v1 whose cost grows with a run or the ledger rather than
// with the page it asks for: a run's history or time travel, counts, the
// ledger's event query, proofs. Every other read (a run, a listing page,
// a page of events or logs) runs on the I/O thread that parsed it: on two
// cores the hand-off to a worker cost more than such a read.
bool IsLongRead(const std::vector<std::string>& path_parts, const std::map<std::string, std::string>& query);

class Api : public Handler {
 public:
  Api(ApiOptions options, projections::RunLedger& ledger);

  // Replaces the tokens (SIGHUP); closes streams of principals that are gone.
  void SetTokens(std::shared_ptr<const TokenFile> tokens);
  Metrics& metrics() { return metrics_; }
  LiveHub& live() { return live_; }
  // Exports being streamed (or about to be), as /metrics reports them.
  std::size_t exports_in_flight() const { return exports_.running(); }

  // Ends the worker threads: refuses new exports (503), makes running ones
  // stop at their next chunk or event, lets reads finish, and joins them.
  // Call after HttpServer::Stop(), which cuts the exports' connections so
  // that they end promptly, and before the ledger closes. Idempotent; the
  // destructor calls it too.
  void StopWorkers() {
    exports_.Stop();
    reads_.Stop();
  }

  std::uint64_t BodyLimit(const http::request_header<>& header) override;
  void Handle(Request request, std::shared_ptr<Exchange> exchange) override;

  class Call;  // one request in flight (server/api.cc)

 private:
  ApiOptions options_;
  projections::RunLedger& ledger_;
  projections::RunQueries queries_;
  LiveHub live_;
  Metrics metrics_;
  AccessLog access_log_{std::clog};
  mutable std::mutex tokens_mutex_;
  std::shared_ptr<const TokenFile> tokens_;
  WorkerPool reads_;    // last two: their threads are joined before the rest goes
  WorkerPool exports_;
  friend class Call;
};

}  // namespace runledger::server
