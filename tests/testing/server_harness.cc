#include "tests/testing/server_harness.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <thread>

#include "ledger/json_writer.h"
#include "ledger/sha256.h"

namespace runledger::testing {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// Large enough for any answer a test provokes (a downloaded log, a page of
// big events); a bound all the same.
constexpr std::uint64_t kResponseBodyMax = 256u << 20;
constexpr std::size_t kSseReadBytes = 16 * 1024;

bool SameName(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

// Runs the io_context until the one operation started on it completes.
void RunOne(net::io_context& io_context) {
  io_context.restart();
  io_context.run();
}

}  // namespace

std::string TokenFor(std::string_view name) { return "token-" + std::string(name); }

std::string TokensJson(const std::vector<TestToken>& tokens) {
  std::string out;
  ledger::JsonWriter w(&out);
  w.BeginObject().Key("tokens").BeginArray();
  for (const TestToken& token : tokens) {
    w.BeginObject().Key("name").String(token.name);
    w.Key("token_sha256").String(ledger::ToHex(ledger::Sha256(TokenFor(token.name))));
    w.Key("role").String(token.role);
    if (!token.datastores.empty()) {
      w.Key("datastores").BeginObject();
      for (const auto& [datastore, grant] : token.datastores) w.Key(datastore).String(grant);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  return out;
}

std::shared_ptr<const server::TokenFile> MakeTokens(const std::vector<TestToken>& tokens) {
  auto file = server::TokenFile::Parse(TokensJson(tokens));
  if (!file) {
    ADD_FAILURE() << "tokens file refused: " << file.error().message();
    return nullptr;
  }
  return *file;
}

std::vector<TestToken> StandardTokens() {
  return {{"admin", "admin", {}},
          {"auditor", "auditor", {}},
          {"worker", "worker", {}},
          {"viewer", "member", {{"ds1", "viewer"}}},
          {"editor", "member", {{"ds1", "editor"}}},
          {"outsider", "member", {{"ds2", "editor"}}}};
}

server::ServerOptions ShortTimeouts() {
  using std::chrono::milliseconds;
  server::ServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.header_timeout = milliseconds(5000);
  options.body_timeout = milliseconds(5000);
  options.idle_timeout = milliseconds(30000);
  options.write_timeout = milliseconds(5000);
  options.stop_timeout = milliseconds(5000);
  return options;
}

// --- TestServer ---------------------------------------------------------------

TestServer::TestServer(TestServerOptions options) : options_(std::move(options)) {
  if (options_.data_dir.empty()) {
    owned_dir_ = std::make_unique<TempDir>();
    data_dir_ = owned_dir_->str();
  } else {
    data_dir_ = options_.data_dir;
  }
}

TestServer::~TestServer() { Stop(); }

Status TestServer::Start() {
  if (running()) return Status::Internal("the test server is already running");
  ledger::StoreOptions store = options_.store;
  store.data_dir = data_dir_;
  auto ledger = projections::RunLedger::Open(store);
  if (!ledger) return ledger.error();
  ledger_ = std::move(*ledger);
  server::ApiOptions api_options = options_.api;
  api_options.local_mode = options_.tokens == nullptr;
  api_ = std::make_unique<server::Api>(api_options, *ledger_);
  if (options_.tokens) api_->SetTokens(options_.tokens);
  ledger_->SetListener(&api_->live());
  server::ServerOptions http_options = options_.http;
  http_options.address = "127.0.0.1";
  http_options.port = 0;
  http_ = std::make_unique<server::HttpServer>(http_options, *api_);
  if (Status started = http_->Start(); !started.ok()) {
    Stop();
    return started;
  }
  return Status::Ok();
}

void TestServer::Stop() {
  if (http_) http_->Stop();
  // Exports read the ledger: their workers end (their streams were cut
  // just now) before it closes.
  if (api_) api_->StopWorkers();
  // The ledger's last answers (commands still queued) call into the Api, so
  // the ledger closes first; the listener stays set until then.
  ledger_.reset();
  api_.reset();
  http_.reset();
}

Status TestServer::Restart() {
  Stop();
  return Start();
}

void TestServer::SetTokens(std::shared_ptr<const server::TokenFile> tokens) {
  options_.tokens = tokens;
  if (api_) api_->SetTokens(std::move(tokens));
}

std::uint16_t TestServer::port() const { return http_ ? http_->port() : 0; }

// --- HttpClient ---------------------------------------------------------------

beast::error_code ConnectTo(server::ConnectionStream& stream, std::uint16_t port,
                            net::io_context& io_context) {
  constexpr const char* kHost = "127.0.0.1";
  beast::error_code ec;
  stream.expires_after(kDeadline);
  stream.tcp().async_connect(tcp::endpoint(net::ip::make_address(kHost), port),
                             [&ec](beast::error_code connect_ec) { ec = connect_ec; });
  RunOne(io_context);
  if (ec || !stream.tls()) return ec;
  stream.tls_stream()->set_verify_callback(net::ssl::host_name_verification(kHost));
  stream.expires_after(kDeadline);
  stream.async_handshake(net::ssl::stream_base::client,
                         [&ec](beast::error_code handshake_ec) { ec = handshake_ec; });
  RunOne(io_context);
  return ec;
}

HttpClient::HttpClient(std::uint16_t port, std::string token, int receive_buffer_bytes,
                       net::ssl::context* tls)
    : port_(port),
      token_(std::move(token)),
      receive_buffer_bytes_(receive_buffer_bytes),
      tls_(tls) {}

HttpClient::~HttpClient() { Close(); }

bool HttpClient::EnsureConnected() {
  if (stream_ && stream_->socket().is_open()) return true;
  stream_ = std::make_unique<server::ConnectionStream>(tcp::socket(io_context_), tls_);
  buffer_.clear();
  beast::error_code ec;
  stream_->socket().open(tcp::v4(), ec);
  if (!ec && receive_buffer_bytes_ > 0) {
    stream_->socket().set_option(net::socket_base::receive_buffer_size(receive_buffer_bytes_), ec);
  }
  if (ec) {
    last_error_ = "socket: " + ec.message();
    return false;
  }
  ec = ConnectTo(*stream_, port_, io_context_);
  if (ec) {
    last_error_ = "connect: " + ec.message();
    stream_.reset();
    return false;
  }
  ++connects_;
  return true;
}

void HttpClient::Close() {
  if (!stream_) return;
  beast::error_code ignored;
  stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_->close();
  stream_.reset();
}

std::string HttpClient::Format(std::string_view method, std::string_view target,
                               std::string_view body, const Headers& headers) const {
  Headers fields = {{"Host", "127.0.0.1:" + std::to_string(port_)}};
  if (!token_.empty()) fields.emplace_back("Authorization", "Bearer " + token_);
  if (!body.empty()) fields.emplace_back("Content-Type", "application/json");
  for (const auto& [name, value] : headers) {
    auto same = [&name](const auto& field) { return SameName(field.first, name); };
    auto it = std::find_if(fields.begin(), fields.end(), same);
    if (it != fields.end()) {
      if (value.empty()) {
        fields.erase(it);
      } else {
        it->second = value;
      }
    } else if (!value.empty()) {
      fields.emplace_back(name, value);
    }
  }
  const bool has_length = std::any_of(fields.begin(), fields.end(), [](const auto& f) {
    return SameName(f.first, "Content-Length");
  });
  if (!has_length && (!body.empty() || (method != "GET" && method != "HEAD"))) {
    fields.emplace_back("Content-Length", std::to_string(body.size()));
  }
  std::string text;
  text.reserve(body.size() + 512);
  text.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  for (const auto& [name, value] : fields)
    text.append(name).append(": ").append(value).append("\r\n");
  text.append("\r\n").append(body);
  return text;
}

Response HttpClient::Send(std::string_view method, std::string_view target, std::string body,
                          const Headers& headers) {
  if (EnsureConnected()) {
    // A failed write may still leave the server's answer to read (a 413
    // sent while the body was on its way).
    (void)WriteRaw(Format(method, target, body, headers));
    if (auto response = Read()) {
      if (!response->keep_alive()) Close();
      return std::move(*response);
    }
  }
  ADD_FAILURE() << "no response to " << method << " " << target << ": " << last_error_;
  Close();
  Response none;
  none.result(0u);
  return none;
}

bool HttpClient::WriteRaw(std::string_view bytes, std::chrono::milliseconds timeout) {
  if (!EnsureConnected()) return false;
  beast::error_code ec;
  stream_->expires_after(timeout);
  net::async_write(*stream_, net::buffer(bytes.data(), bytes.size()),
                   [&ec](beast::error_code write_ec, std::size_t) { ec = write_ec; });
  RunOne(io_context_);
  if (ec) last_error_ = "write: " + ec.message();
  return !ec;
}

std::optional<Response> HttpClient::Read(std::chrono::milliseconds timeout) {
  if (!stream_) {
    last_error_ = "not connected";
    return std::nullopt;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(kResponseBodyMax);
  beast::error_code ec;
  stream_->expires_after(timeout);
  http::async_read(*stream_, buffer_, parser,
                   [&ec](beast::error_code read_ec, std::size_t) { ec = read_ec; });
  RunOne(io_context_);
  if (ec) {
    last_error_ = "read: " + ec.message();
    Close();
    return std::nullopt;
  }
  return parser.release();
}

bool HttpClient::WaitForClose(std::chrono::milliseconds timeout) {
  if (!stream_) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char sink[4096];
  for (;;) {
    beast::error_code ec;
    stream_->expires_at(deadline);
    stream_->async_read_some(net::buffer(sink),
                             [&ec](beast::error_code read_ec, std::size_t) { ec = read_ec; });
    RunOne(io_context_);
    if (!ec) continue;
    Close();
    return ec != beast::error::timeout;
  }
}

bool HttpClient::TrickleUntilClosed(std::string_view piece, std::chrono::milliseconds every,
                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  net::steady_timer timer(io_context_);
  char sink[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    if (!stream_ || !WriteRaw(piece)) return true;  // refused: the server closed it
    // Wait up to `every` for the server to close, without closing ourselves.
    bool closed = false;
    bool read_done = false;
    stream_->expires_never();
    stream_->socket().async_read_some(net::buffer(sink), [&](beast::error_code ec, std::size_t) {
      read_done = true;
      if (ec != net::error::operation_aborted) closed = closed || ec;
      timer.cancel();
    });
    timer.expires_after(every);
    timer.async_wait([&](beast::error_code ec) {
      if (!ec && !read_done) stream_->socket().cancel();
    });
    RunOne(io_context_);
    if (closed) {
      Close();
      return true;
    }
  }
  return false;
}

// --- SseReader ----------------------------------------------------------------

SseReader::SseReader(std::uint16_t port, std::string_view target, std::string token,
                     const Headers& headers, net::ssl::context* tls)
    : stream_(tcp::socket(io_context_), tls) {
  HttpClient format(port, std::move(token));
  Headers all = {{"Accept", "text/event-stream"}};
  all.insert(all.end(), headers.begin(), headers.end());
  const std::string request = format.Format("GET", target, "", all);
  beast::error_code ec = ConnectTo(stream_, port, io_context_);
  if (!ec) {
    net::async_write(stream_, net::buffer(request),
                     [&ec](beast::error_code write_ec, std::size_t) { ec = write_ec; });
    RunOne(io_context_);
  }
  if (!ec) {
    parser_ = std::make_unique<http::response_parser<http::buffer_body>>();
    parser_->body_limit(boost::none);
    http::async_read_header(stream_, buffer_, *parser_,
                            [&ec](beast::error_code read_ec, std::size_t) { ec = read_ec; });
    RunOne(io_context_);
  }
  if (ec) {
    ADD_FAILURE() << "stream " << target << ": " << ec.message();
    ended_ = true;
  }
}

SseReader::~SseReader() { Close(); }

void SseReader::Close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
  ended_ = true;
}

unsigned SseReader::status() const { return connected() ? parser_->get().result_int() : 0; }

std::string SseReader::header(std::string_view name) const {
  if (!connected()) return "";
  return std::string(parser_->get()[name]);
}

bool SseReader::ReadMore(std::chrono::steady_clock::time_point deadline) {
  if (ended_ || timed_out_ || !connected()) return false;
  if (parser_->is_done()) {
    ended_ = ended_cleanly_ = true;
    return false;
  }
  char chunk[kSseReadBytes];
  auto& body = parser_->get().body();
  body.data = chunk;
  body.size = sizeof chunk;
  beast::error_code ec;
  stream_.expires_at(deadline);
  http::async_read_some(stream_, buffer_, *parser_,
                        [&ec](beast::error_code read_ec, std::size_t) { ec = read_ec; });
  RunOne(io_context_);
  pending_.append(chunk, sizeof chunk - body.size);
  body.data = nullptr;
  body.size = 0;
  if (ec == http::error::need_buffer) ec = {};
  if (ec == beast::error::timeout) {
    timed_out_ = ended_ = true;
  } else if (ec) {
    ended_ = true;  // cut: reset, or closed without the last chunk
  } else if (parser_->is_done()) {
    ended_ = ended_cleanly_ = true;
  }
  return true;
}

std::optional<SseEvent> SseReader::TakeEvent() {
  for (;;) {
    const size_t end = pending_.find("\n\n");
    if (end == std::string::npos) return std::nullopt;
    const std::string block = pending_.substr(0, end + 1);
    pending_.erase(0, end + 2);
    SseEvent event;
    bool has_data = false;
    for (size_t start = 0; start < block.size();) {
      const size_t eol = block.find('\n', start);
      const std::string line = block.substr(start, eol - start);
      start = eol + 1;
      if (line.starts_with(":")) {
        comments_.push_back(line.substr(line.size() > 1 && line[1] == ' ' ? 2 : 1));
      } else if (line.starts_with("id: ")) {
        event.id = line.substr(4);
      } else if (line.starts_with("data: ")) {
        if (has_data) event.data.push_back('\n');
        event.data += line.substr(6);
        has_data = true;
      }
    }
    if (has_data) return event;
  }
}

std::optional<SseEvent> SseReader::Next(std::chrono::milliseconds timeout) {
  if (!ready_.empty()) {
    SseEvent event = std::move(ready_.front());
    ready_.erase(ready_.begin());
    return event;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto event = TakeEvent()) return event;
    if (!ReadMore(deadline)) return std::nullopt;
  }
}

bool SseReader::WaitForComment(std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    while (auto event = TakeEvent()) ready_.push_back(std::move(*event));
    if (std::find(comments_.begin(), comments_.end(), text) != comments_.end()) return true;
    if (!ReadMore(deadline)) return false;
  }
}

bool SseReader::WaitForEnd(std::chrono::milliseconds timeout, std::vector<SseEvent>* rest) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (rest) rest->insert(rest->end(), ready_.begin(), ready_.end());
  ready_.clear();
  for (;;) {
    while (auto event = TakeEvent()) {
      if (rest) rest->push_back(std::move(*event));
    }
    if (!ReadMore(deadline)) return ended_ && !timed_out_;
  }
}

std::string SseReader::ReadBody(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (ReadMore(deadline)) {
  }
  return std::exchange(pending_, std::string());
}

// --- Checks and runs through the API -------------------------------------------

::testing::AssertionResult IsProblem(const Response& response, unsigned status,
                                     std::string_view code) {
  auto fail = [&]() {
    return ::testing::AssertionFailure()
           << "expected a " << status << " " << code << " problem, got " << response.result_int()
           << " " << response[http::field::content_type] << ": " << response.body().substr(0, 500);
  };
  if (response.result_int() != status) return fail();
  if (response[http::field::content_type] != "application/problem+json") return fail();
  const ledger::Json body = ParseBody(response);
  const ledger::Json* code_member = body.Find("code");
  const ledger::Json* status_member = body.Find("status");
  const ledger::Json* request_id = body.Find("request_id");
  if (!code_member || !code_member->is_string() || code_member->string() != code) return fail();
  if (!status_member || !status_member->is_number() || status_member->number() != status)
    return fail();
  for (const char* member : {"type", "title", "detail"}) {
    if (!body.Find(member)) return fail() << " (no " << member << ")";
  }
  const std::string header(response["X-Request-Id"]);
  if (header.empty() || !request_id || !request_id->is_string() || request_id->string() != header) {
    return fail() << " (request_id does not repeat X-Request-Id " << header << ")";
  }
  return ::testing::AssertionSuccess();
}

std::string CreatedBody(std::string_view operation, std::string_view datastore,
                        std::string_view extra_members, std::string_view triggered_by) {
  std::string body = R"({"operation":")" + std::string(operation) + R"(","datastore":{"id":")" +
                     std::string(datastore) + R"("},"triggered_by":)" + std::string(triggered_by);
  if (!extra_members.empty()) body += "," + std::string(extra_members);
  return body + "}";
}

std::string CreateRun(HttpClient& client, const std::string& body) {
  const Response response = client.Send("POST", "/v1/runs", body);
  if (response.result_int() != 201) {
    ADD_FAILURE() << "POST /v1/runs answered " << response.result_int() << ": " << response.body();
    return "";
  }
  const ledger::Json run = ParseBody(response);
  const ledger::Json* id = run.Find("id");
  return id && id->is_string() ? id->string() : "";
}

Response Append(HttpClient& client, std::string_view run_id, std::string_view type,
                std::string_view data, std::string_view event_id) {
  std::string body = R"({"type":")" + std::string(type) + R"(","data":)" + std::string(data);
  if (!event_id.empty()) body += R"(,"id":")" + std::string(event_id) + "\"";
  body += "}";
  return client.Send("POST", "/v1/runs/" + std::string(run_id) + "/events", body);
}

std::string RunIn(HttpClient& admin, std::string_view status, std::string_view operation,
                  std::string_view datastore) {
  const std::string id = CreateRun(admin, CreatedBody(operation, datastore));
  auto step = [&](std::string_view what, const Response& response, unsigned expected) {
    if (response.result_int() != expected) {
      ADD_FAILURE() << "driving run " << id << " to " << status << ": " << what << " answered "
                    << response.result_int() << ": " << response.body();
    }
  };
  if (id.empty() || status == "queued") return id;
  if (status == "aborted") {
    step("abort", admin.Send("POST", "/v1/runs/" + id + "/abort"), 200);
    return id;
  }
  if (operation != "promote")
    step("started", Append(admin, id, "started", R"({"worker":"w1"})"), 201);
  if (status == "success") {
    step("ended", Append(admin, id, "ended", R"({"status":"success"})"), 201);
  } else if (status == "failure" || status == "deleted") {
    step("ended", Append(admin, id, "ended", R"({"status":"failure","error":{"message":"boom"}})"),
         201);
  }
  if (status == "deleted") step("delete", admin.Send("DELETE", "/v1/runs/" + id), 204);
  return id;
}

std::uint64_t LedgerEventCount(HttpClient& auditor) {
  std::uint64_t count = 0;
  std::string after = "0";
  for (;;) {
    const Response page = auditor.Send("GET", "/v1/events?limit=1000&after=" + after);
    if (page.result_int() != 200) {
      ADD_FAILURE() << "GET /v1/events answered " << page.result_int() << ": " << page.body();
      return count;
    }
    const ledger::Json body = ParseBody(page);
    const ledger::Json* items = body.Find("items");
    const ledger::Json* next = body.Find("next_after");
    if (!items || !items->is_array() || !next) {
      ADD_FAILURE() << "GET /v1/events: no items or next_after";
      return count;
    }
    count += items->array().size();
    if (next->is_null()) return count;
    after = std::to_string(static_cast<std::uint64_t>(next->number()));
  }
}

// --- ServerTest ---------------------------------------------------------------

TestServerOptions ServerTest::Options() {
  TestServerOptions options;
  options.tokens = MakeTokens(StandardTokens());
  return options;
}

void ServerTest::SetUp() {
  server_ = std::make_unique<TestServer>(Options());
  const Status started = server_->Start();
  ASSERT_TRUE(started.ok()) << started.message();
}

void ServerTest::TearDown() {
  clients_.clear();
  server_.reset();
}

HttpClient& ServerTest::As(const std::string& name) {
  auto& client = clients_[name];
  if (!client) {
    client =
        std::make_unique<HttpClient>(server_->port(), name == "anonymous" ? "" : TokenFor(name));
  }
  return *client;
}

// --- Helpers ------------------------------------------------------------------

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

ledger::Json ParseBody(std::string_view text) {
  ledger::JsonParseOptions options;
  options.allow_large_integer_literals = true;
  auto parsed = ledger::ParseJson(text, options);
  if (!parsed) {
    ADD_FAILURE() << "not JSON (" << parsed.error().message() << "): " << text.substr(0, 500);
    return ledger::Json();
  }
  return std::move(*parsed);
}

ledger::Json ParseBody(const Response& response) { return ParseBody(response.body()); }

std::string Str(const ledger::Json& json, std::string_view key) {
  const ledger::Json* value = json.Find(key);
  return value && value->is_string() ? value->string() : "<" + std::string(key) + " missing>";
}

double Num(const ledger::Json& json, std::string_view key) {
  const ledger::Json* value = json.Find(key);
  return value && value->is_number() ? value->number() : -1;
}

std::vector<std::string> Strings(const ledger::Json* array) {
  if (array == nullptr || !array->is_array()) return {"<not an array>"};
  std::vector<std::string> out;
  for (const ledger::Json& item : array->array())
    out.push_back(item.is_string() ? item.string() : "?");
  return out;
}

}  // namespace runledger::testing
