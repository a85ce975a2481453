// The read routes end to end, in-process: a request with a fuzzed target
// (path and query: percent-decoding, filters, limit, cursor, after, at_seq,
// as_of, from/to ...) and headers (Accept, Last-Event-ID, If-Match,
// X-Request-Id ...) goes through server::Api against a real RocksDB ledger
// holding a few runs. Input: the first line is the target, each further line
// a "Name: value" header; a first line "HEAD <target>" makes it a HEAD. Properties: never a 5xx, and every answer's body is
// well formed: a problem is application/problem+json with `status` equal to
// the HTTP status and string `code` and `request_id`; JSON is JSON.

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "fuzz/fuzz_check.h"
#include "ledger/json.h"
#include "ledger/uuid.h"
#include "projections/run_ledger.h"
#include "server/api.h"
#include "server/live.h"

namespace {

using namespace runledger;
namespace http = boost::beast::http;

// A stream the client already left: every write fails.
class ClosedStream : public server::EventStream {
 public:
  bool Write(std::string) override { return false; }
  void Close() override {}
  bool closed() const override { return true; }
  void OnClose(std::function<void()> callback) override { callback(); }
};

// Keeps the answer (a stream's or a streamed body's headers count as one)
// and drops streamed bytes. Exports answer from a worker thread: Wait() for
// the end of the answer, so that one export at a time is in flight.
class CapturingExchange : public server::Exchange,
                          public std::enable_shared_from_this<CapturingExchange> {
 public:
  void Send(server::Response response) override { Answer(std::move(response), true); }
  std::shared_ptr<server::EventStream> StartStream(server::Response headers) override {
    FUZZ_CHECK(headers.result_int() == 200);
    streamed_ = true;
    Answer(std::move(headers), true);
    return std::make_shared<ClosedStream>();
  }
  std::unique_ptr<server::BodyWriter> StartBody(server::Response headers) override {
    Answer(std::move(headers), false);
    return std::make_unique<DroppingBody>(shared_from_this());
  }
  // The answer once it is over; nullopt if none came within 5 s (half of
  // run.sh's -timeout, so a request left unanswered fails here, by name).
  std::optional<server::Response> Wait() {
    std::unique_lock lock(mutex_);
    if (!changed_.wait_for(lock, std::chrono::seconds(5), [this] { return over_; })) {
      return std::nullopt;
    }
    return response_;
  }
  void Defer(std::function<void()> work) override { work(); }
  bool streamed_ = false;

 private:
  class DroppingBody : public server::BodyWriter {
   public:
    explicit DroppingBody(std::shared_ptr<CapturingExchange> exchange)
        : exchange_(std::move(exchange)) {}
    ~DroppingBody() override { exchange_->Over(); }
    bool Write(std::string) override { return true; }
    void Finish() override {}
    void Abort() override {}

   private:
    const std::shared_ptr<CapturingExchange> exchange_;
  };
  void Answer(server::Response response, bool over) {
    {
      std::lock_guard lock(mutex_);
      response_ = std::move(response);
      over_ = over;
    }
    changed_.notify_all();
  }
  void Over() {
    {
      std::lock_guard lock(mutex_);
      over_ = true;
    }
    changed_.notify_all();
  }
  std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<server::Response> response_;
  bool over_ = false;
};

struct World {
  std::string dir;
  std::unique_ptr<projections::RunLedger> ledger;
  std::unique_ptr<server::Api> api;
};
World* world = nullptr;

Status Wait(const std::function<void(projections::Done)>& submit) {
  std::promise<Status> done;
  auto answer = done.get_future();
  submit([&done](const Status& status, projections::Outcome) { done.set_value(status); });
  return answer.get();
}

void Must(const Status& status) {
  if (status.ok()) return;
  std::fprintf(stderr, "request_fuzzer setup: %s\n", status.ToString().c_str());
  std::abort();
}

// Runs 018f0000-0000-7000-8000-00000000000N: 1 queued (ds1), 2 running with a
// log (ds1), 3 success with a warning (ds2), 4 failure then deleted (ds2).
void Seed(projections::RunLedger& ledger) {
  const projections::Caller caller{"local", false};
  for (int n = 1; n <= 4; ++n) {
    const auto id = *ledger::ParseUuid("018f0000-0000-7000-8000-00000000000" + std::to_string(n));
    const std::string ds = n <= 2 ? "ds1" : "ds2";
    projections::CreateRunRequest create;
    create.caller = caller;
    create.run_id = id;
    create.data = *ledger::ParseJson(R"({"operation":"scan","datastore":{"id":")" + ds +
                                     R"("},"triggered_by":{"kind":"api","id":"ci"},"containers":["a","b"]})");
    Must(Wait([&](projections::Done done) { ledger.CreateRun(std::move(create), std::move(done)); }));
    auto append = [&](const char* type, const char* data) {
      projections::AppendRequest request;
      request.caller = caller;
      request.run_id = id;
      request.type = type;
      request.data = *ledger::ParseJson(data);
      Must(Wait([&](projections::Done done) { ledger.AppendEvent(std::move(request), std::move(done)); }));
    };
    if (n >= 2) append("started", R"({"worker":"w1"})");
    if (n >= 2) append("logged", R"({"level":"warning","message":"slow\nline","container":"a"})");
    if (n >= 2) append("progressed", R"({"processed":1,"total":2,"metrics":{"records_scanned":5}})");
    if (n == 3) append("ended", R"({"status":"success"})");
    if (n == 4) append("ended", R"({"status":"failure","error":{"message":"boom"}})");
    if (n == 4) {
      projections::ActionRequest del;
      del.caller = caller;
      del.run_id = id;
      del.action = projections::Action::kDelete;
      Must(Wait([&](projections::Done done) { ledger.Act(std::move(del), std::move(done)); }));
    }
  }
}

bool IsToken(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

void CheckResponse(const server::Response& response, bool head) {
  const unsigned status = response.result_int();
  if (status >= 500) std::fprintf(stderr, "%u: %s\n", status, response.body().c_str());
  FUZZ_CHECK(status >= 200 && status < 500);
  const std::string_view type = response[http::field::content_type];
  if (head) return;
  if (type == "application/problem+json") {
    auto body = ledger::ParseJson(response.body());
    if (!body) std::fprintf(stderr, "problem body is not I-JSON: %s\n", response.body().c_str());
    FUZZ_CHECK(body.has_value());
    const ledger::Json* code = body->Find("code");
    const ledger::Json* request_id = body->Find("request_id");
    const ledger::Json* status_member = body->Find("status");
    FUZZ_CHECK(code && code->is_string() && !code->string().empty());
    FUZZ_CHECK(request_id && request_id->is_string() && !request_id->string().empty());
    FUZZ_CHECK(status_member && status_member->AsSafeInteger() == static_cast<std::int64_t>(status));
    FUZZ_CHECK(status >= 400);
  } else if (type == "application/json") {
    ledger::JsonParseOptions stored;
    stored.allow_large_integer_literals = true;
    auto body = ledger::ParseJson(response.body(), stored);
    if (!body) std::fprintf(stderr, "JSON body is not I-JSON: %s\n", response.body().c_str());
    FUZZ_CHECK(body.has_value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::clog.rdbuf(nullptr);  // the access log: one line per request
  world = new World;
  char dir[] = "/tmp/runledger-request-fuzzer-XXXXXX";
  FUZZ_CHECK(mkdtemp(dir) != nullptr);
  world->dir = dir;
  std::atexit([] { std::filesystem::remove_all(world->dir); });
  ledger::StoreOptions options;
  options.data_dir = world->dir;
  auto opened = projections::RunLedger::Open(options);
  Must(opened ? Status::Ok() : opened.error());
  world->ledger = std::move(*opened);
  server::ApiOptions api_options;
  api_options.local_mode = true;
  world->api = std::make_unique<server::Api>(api_options, *world->ledger);
  world->ledger->SetListener(&world->api->live());
  Seed(*world->ledger);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::AsText(data, size);
  const std::size_t newline = text.find('\n');
  std::string_view target = text.substr(0, newline);
  const bool head = target.starts_with("HEAD ");
  if (head) target.remove_prefix(5);
  if (target.empty()) return 0;
  server::Request request{head ? http::verb::head : http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1:8080");
  for (std::size_t start = newline; start != std::string_view::npos && start < text.size();) {
    const std::size_t end = text.find('\n', start + 1);
    const std::string_view line = text.substr(start + 1, end == std::string_view::npos ? end : end - start - 1);
    start = end;
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (value.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) continue;
    request.insert(line.substr(0, colon), value);
  }
  auto exchange = std::make_shared<CapturingExchange>();
  world->api->Handle(std::move(request), exchange);
  // Only GET and HEAD come here: every route answers, reads before Handle
  // returns, exports from their worker.
  const std::optional<server::Response> response = exchange->Wait();
  FUZZ_CHECK(response.has_value());
  // An export's worker counts as in flight until its thread is free, a little
  // after the answer: wait for it, or the next inputs could find every export
  // slot taken and be answered 503.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (world->api->exports_in_flight() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  FUZZ_CHECK(world->api->exports_in_flight() == 0);
  CheckResponse(*response, head);
  // Drop the subscriptions of the streams just closed.
  if (exchange->streamed_) world->api->live().OnChanges({}, {});
  return 0;
}
