#pragma once

// The real service in-process, for integration tests: a TestServer opens a
// RunLedger on a data directory, puts server::Api and server::HttpServer in
// front of it on 127.0.0.1 with a port the OS picks, and can stop and open
// again on the same directory. HttpClient and SseReader are small blocking
// Beast clients; every call has a deadline, so a test never hangs and never
// sleeps to wait for the server. Both speak HTTPS when given a client TLS
// context (see tests/testing/test_certificate.h), which must outlive them.
//
// Threading: a TestServer, HttpClient or SseReader is driven by one test
// thread; the server itself runs on its own I/O and committer threads.

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/json.h"
#include "projections/run_ledger.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/connection_stream.h"
#include "server/http_server.h"
#include "tests/testing/temp_dir.h"

namespace runledger::testing {

namespace http = boost::beast::http;
using server::Response;

// How long one client call may take before the test fails.
inline constexpr std::chrono::milliseconds kDeadline{10000};

// Header lines to add to a request. A line with an empty value removes a
// header the client would otherwise send (Host, Authorization, Content-Type).
using Headers = std::vector<std::pair<std::string, std::string>>;

// A token in a test tokens file; its secret is TokenFor(name).
struct TestToken {
  std::string name;
  std::string role;                               // admin, auditor, worker, member
  std::map<std::string, std::string> datastores;  // datastore id or "*" -> viewer|editor
};
std::string TokenFor(std::string_view name);
// The tokens file JSON ({"tokens":[{"name","token_sha256","role","datastores"}]}).
std::string TokensJson(const std::vector<TestToken>& tokens);
// Parses TokensJson(tokens); a refused file fails the test and yields null.
std::shared_ptr<const server::TokenFile> MakeTokens(const std::vector<TestToken>& tokens);

// The tokens of the role matrix: admin, auditor, worker, and three members:
// "viewer" (viewer on ds1), "editor" (editor on ds1), "outsider" (editor on
// ds2 only).
std::vector<TestToken> StandardTokens();

// Transport deadlines short enough for tests that wait for them.
server::ServerOptions ShortTimeouts();

struct TestServerOptions {
  // Null: local mode (every caller is the admin "local", loopback only).
  std::shared_ptr<const server::TokenFile> tokens;
  // Empty: a fresh temporary directory, owned by the TestServer and kept
  // across Restart().
  std::string data_dir;
  // address and port are forced to 127.0.0.1:0 (port() tells which). Set
  // http.tls to serve HTTPS.
  server::ServerOptions http = ShortTimeouts();
  // local_mode is set from `tokens`.
  server::ApiOptions api;
  // data_dir is set from the above; checkpoints come quicker than the default.
  ledger::StoreOptions store = [] {
    ledger::StoreOptions store;
    store.checkpoint_interval_ms = 50;
    return store;
  }();
};

class TestServer {
 public:
  explicit TestServer(TestServerOptions options = {});
  ~TestServer();  // Stop()
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Opens the ledger and starts serving, as `runledger serve` does. Errors
  // are the ledger's or the transport's.
  Status Start();
  // Stops the transport (draining) and the export workers, detaches the
  // live hub, closes the ledger. Idempotent.
  void Stop();
  // Stop(), then Start() on the same directory (on a new port).
  Status Restart();

  // Replaces the tokens (what SIGHUP does); also used after a Restart().
  void SetTokens(std::shared_ptr<const server::TokenFile> tokens);

  bool running() const { return http_ != nullptr; }
  std::uint16_t port() const;
  const std::string& data_dir() const { return data_dir_; }
  server::Api& api() { return *api_; }
  server::HttpServer& http() { return *http_; }
  projections::RunLedger& ledger() { return *ledger_; }

 private:
  TestServerOptions options_;
  std::unique_ptr<TempDir> owned_dir_;
  std::string data_dir_;
  // Destroyed in Stop() in reverse order of need: transport, ledger (whose
  // last answers still reach the Api), then the Api.
  std::unique_ptr<projections::RunLedger> ledger_;
  std::unique_ptr<server::Api> api_;
  std::unique_ptr<server::HttpServer> http_;
};

// Connects `stream` to 127.0.0.1:port within kDeadline, running
// `io_context` (the stream's) until done. If the stream is TLS, also
// completes the client handshake, verifying that the server's certificate
// names 127.0.0.1 (the context's verify mode says whether a mismatch fails).
boost::beast::error_code ConnectTo(server::ConnectionStream& stream, std::uint16_t port,
                                   boost::asio::io_context& io_context);

// A blocking HTTP/1.1 client with one keep-alive connection to
// 127.0.0.1:port, opened on first use and again after the server closed it.
class HttpClient {
 public:
  // `token` (if not empty) is sent as "Authorization: Bearer <token>".
  // `receive_buffer_bytes` (if not 0) shrinks the socket's receive buffer,
  // for a client that never reads. With `tls`, each connection is HTTPS,
  // verifying the server's certificate for 127.0.0.1 against `tls`.
  explicit HttpClient(std::uint16_t port, std::string token = "", int receive_buffer_bytes = 0,
                      boost::asio::ssl::context* tls = nullptr);
  ~HttpClient();

  // Sends one request and reads its answer. Sends Host, the token, and
  // Content-Type application/json with a non-empty body, unless `headers`
  // say otherwise. A transport failure fails the test and answers status 0.
  Response Send(std::string_view method, std::string_view target, std::string body = "",
                const Headers& headers = {});

  // Raw access, for pipelining and timeouts. Connects if needed.
  bool WriteRaw(std::string_view bytes, std::chrono::milliseconds timeout = kDeadline);
  // One response; nullopt on EOF, error or timeout.
  std::optional<Response> Read(std::chrono::milliseconds timeout = kDeadline);
  // True if the server ends the connection within `timeout`; bytes it sends
  // meanwhile are discarded. Over TLS the end is the server's close_notify
  // or the TCP close, whichever comes first.
  bool WaitForClose(std::chrono::milliseconds timeout);
  // A slowloris client: writes `piece` every `every` until the server ends
  // the connection (true) or `timeout` passes (false).
  bool TrickleUntilClosed(std::string_view piece, std::chrono::milliseconds every,
                          std::chrono::milliseconds timeout);
  void Close();

  // TCP connections opened so far (keep-alive tests).
  int connects() const { return connects_; }
  const std::string& last_error() const { return last_error_; }

  // The request text Send() would write.
  std::string Format(std::string_view method, std::string_view target, std::string_view body,
                     const Headers& headers) const;

 private:
  bool EnsureConnected();

  std::uint16_t port_;
  std::string token_;
  int receive_buffer_bytes_;
  boost::asio::ssl::context* tls_;
  boost::asio::io_context io_context_;
  std::unique_ptr<server::ConnectionStream> stream_;
  boost::beast::flat_buffer buffer_;
  int connects_ = 0;
  std::string last_error_;
};

// One Server-Sent Events message.
struct SseEvent {
  std::string id;
  std::string data;
};

// A GET with "Accept: text/event-stream" on its own connection, read frame
// by frame. Comments (heartbeats, ": run ended") are kept apart. With `tls`,
// over HTTPS as HttpClient does.
class SseReader {
 public:
  SseReader(std::uint16_t port, std::string_view target, std::string token = "",
            const Headers& headers = {}, boost::asio::ssl::context* tls = nullptr);
  ~SseReader();

  // The response header has arrived (status() is then meaningful).
  bool connected() const { return parser_ != nullptr && parser_->is_header_done(); }
  unsigned status() const;
  std::string header(std::string_view name) const;
  // For an answer that is not a stream: the whole body.
  std::string ReadBody(std::chrono::milliseconds timeout = kDeadline);

  // The next message; nullopt once the stream ended or `timeout` passed
  // (see ended() / timed_out()).
  std::optional<SseEvent> Next(std::chrono::milliseconds timeout = kDeadline);
  // Reads until the server ends the stream; true if it did within
  // `timeout`. Messages read meanwhile are appended to `rest`.
  bool WaitForEnd(std::chrono::milliseconds timeout = kDeadline,
                  std::vector<SseEvent>* rest = nullptr);

  // Reads until the comment `text` (without its ": ") arrives; true if it
  // did within `timeout`. Messages read meanwhile are kept for Next().
  bool WaitForComment(std::string_view text, std::chrono::milliseconds timeout = kDeadline);

  bool ended() const { return ended_; }
  // The stream ended with its terminating chunk (a clean Close()), not a cut.
  bool ended_cleanly() const { return ended_cleanly_; }
  bool timed_out() const { return timed_out_; }
  const std::vector<std::string>& comments() const { return comments_; }
  void Close();

 private:
  // Reads more body bytes into pending_; false at end or timeout.
  bool ReadMore(std::chrono::steady_clock::time_point deadline);
  std::optional<SseEvent> TakeEvent();

  boost::asio::io_context io_context_;
  server::ConnectionStream stream_;
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
  std::string pending_;
  std::vector<SseEvent> ready_;  // parsed, not yet returned by Next()
  std::vector<std::string> comments_;
  bool ended_ = false;
  bool ended_cleanly_ = false;
  bool timed_out_ = false;
};

// --- Checks and runs through the API ----------------------------------------

// An RFC 9457 answer: `status`, application/problem+json, the `code`, a
// `status` member equal to the HTTP status, and a `request_id` equal to the
// X-Request-Id header.
::testing::AssertionResult IsProblem(const Response& response, unsigned status,
                                     std::string_view code);

// A `created` payload: {"operation", "datastore": {"id"}, "triggered_by"}
// plus `extra_members` (members without braces, e.g. R"("total":3)").
std::string CreatedBody(std::string_view operation = "scan", std::string_view datastore = "ds1",
                        std::string_view extra_members = R"("containers":["a","b","c"])",
                        std::string_view triggered_by = R"({"kind":"api","id":"ci"})");
// POST /v1/runs; returns the new run's id ("" and a test failure unless 201).
std::string CreateRun(HttpClient& client, const std::string& body = CreatedBody());
// POST /v1/runs/{id}/events with {"type", "data"} (and "id" if given).
Response Append(HttpClient& client, std::string_view run_id, std::string_view type,
                std::string_view data, std::string_view event_id = "");
// Creates a run on `datastore` and drives it to `status` (queued, running,
// success, failure, aborted, or deleted: failed then deleted). `client`
// must be an admin. Returns the run id.
std::string RunIn(HttpClient& admin, std::string_view status, std::string_view operation = "scan",
                  std::string_view datastore = "ds1");
// Events in the ledger, counted through GET /v1/events (auditor or admin).
std::uint64_t LedgerEventCount(HttpClient& auditor);

// A fixture: a running TestServer with StandardTokens() and a keep-alive
// client per token name, plus "anonymous" (no token).
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Options for the server SetUp starts; StandardTokens() by default.
  virtual TestServerOptions Options();

  HttpClient& As(const std::string& name);
  HttpClient& admin() { return As("admin"); }
  // Events in the ledger, as the auditor counts them.
  std::uint64_t EventCount() { return LedgerEventCount(As("auditor")); }

  std::unique_ptr<TestServer> server_;
  std::map<std::string, std::unique_ptr<HttpClient>> clients_;
};

// Polls `condition` until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout = kDeadline);

// Parses a response body; a parse error fails the test and yields null.
ledger::Json ParseBody(const Response& response);
ledger::Json ParseBody(std::string_view text);

// Accessors for checks: a missing or mistyped member yields a value that no
// expectation matches ("<key missing>", -1, {"<not an array>"}).
std::string Str(const ledger::Json& json, std::string_view key);
double Num(const ledger::Json& json, std::string_view key);
std::vector<std::string> Strings(const ledger::Json* array);

}  // namespace runledger::testing
