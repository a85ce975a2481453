#pragma once

// The HTTP/1.1 load generator: N keep-alive connections driven by Beast on
// the calling thread alone (no thread per connection), so the client takes
// one core at most and its cost is measured (Figure::client_cpu_cores).
//
// Closed loop (rate_per_second == 0): each connection sends its next
// request as soon as the previous answer arrived; the figure is the maximum
// throughput. Open loop (rate_per_second > 0): requests are due at a fixed
// rate whatever the answers do; a due request waits for a free connection,
// and its latency counts from when it was due (no coordinated omission).
//
// Only requests due after the warm-up and answered before the end count.
// After the end no request is sent; those in flight are awaited (up to
// drain_timeout) so the next phase starts on a quiet server.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "tools/bench/figures.h"

namespace runledger::tools::bench {

struct HttpCall {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target;
  std::string body;
  std::string content_type;      // with a body
  size_t kind = 0;               // index into LoadOptions::kinds
  unsigned expect_status = 200;  // 0: any 2xx
  std::uint64_t units = 1;       // events this request carries (bulk: its lines)
  // Bulk: every line's result must be 201; checked by counting them.
  bool expect_bulk_created = false;
};

// Supplies the requests. Called on the load thread only.
class CallSource {
 public:
  virtual ~CallSource() = default;
  // Fills the next request of connection `conn`; false: it has nothing more.
  virtual bool Next(size_t conn, HttpCall* call) = 0;
  // The connection's last call was answered as expected, with `body`.
  virtual void Succeeded(size_t /*conn*/, const HttpCall& /*call*/, std::string_view /*body*/) {}
};

struct LoadOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  size_t connections = 64;
  double warmup_seconds = 1;
  double seconds = 10;  // measured window; <= 0: until the source runs dry
  double rate_per_second = 0;
  std::chrono::seconds drain_timeout{60};
  std::vector<std::string> kinds = {"requests"};
};

struct KindResult {
  std::string name;
  std::uint64_t requests = 0;
  std::uint64_t units = 0;
  std::uint64_t errors = 0;
  Latencies latencies;
};

struct LoadResult {
  double seconds = 0;  // the measured window as it ran
  std::vector<KindResult> kinds;
  std::uint64_t errors = 0;  // all kinds, warm-up and drain included
  std::string first_error;
  bool saturated = false;  // open loop: the backlog outgrew 2 s of requests
  double client_cpu_seconds = 0;
};

// Called on the load thread when the measured window begins and ends (e.g.
// to sample the server's CPU); either may be empty.
struct WindowHooks {
  std::function<void()> start;
  std::function<void()> end;
};

// Connects every connection, runs the phase and closes them. Blocks.
LoadResult RunLoad(const LoadOptions& options, CallSource& source, const WindowHooks& hooks = {});

}  // namespace runledger::tools::bench
