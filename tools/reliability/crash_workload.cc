#include "tools/reliability/crash_workload.h"

#include <atomic>
#include <cstdio>

#include "ledger/json.h"

namespace runledger::tools::reliability {
namespace {

using ledger::Json;

std::atomic<std::uint64_t> write_requests{0};
std::atomic<std::uint64_t> read_requests{0};
std::atomic<std::uint64_t> transport_errors{0};

// Events per single-append run (created .. ended) and per bulk run, and the
// lines of one bulk request.
constexpr int kSingleRunEventsMin = 4;
constexpr int kSingleRunEventsMax = 40;
constexpr int kBulkRunEventsMin = 20;
constexpr int kBulkRunEventsMax = 300;
constexpr int kBulkLinesMax = 50;
constexpr size_t kReaderPage = 20;

Result<Json> ParseBody(std::string_view text) {
  ledger::JsonParseOptions options;
  options.allow_large_integer_literals = true;
  return ledger::ParseJson(text, options);
}

double NumberOr(const Json& json, std::string_view key, double fallback) {
  const Json* value = json.Find(key);
  return value && value->is_number() ? value->number() : fallback;
}

std::string StringOr(const Json& json, std::string_view key) {
  const Json* value = json.Find(key);
  return value && value->is_string() ? value->string() : "";
}

Status Malformed(const WriteOp& op, const HttpResponse& response, const std::string& why) {
  return Status::Internal(op.target + " answered " + std::to_string(response.status) + " (" + why +
                          "): " + response.body.substr(0, 300));
}

}  // namespace

// --- Coordinator ----------------------------------------------------------------

bool Coordinator::AwaitUp(std::uint64_t* generation, std::uint16_t* port) {
  std::unique_lock lock(mutex_);
  ++parked_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return shutdown_ || (up_ && generation_ > *generation); });
  --parked_;
  if (shutdown_) return false;
  *generation = generation_;
  *port = port_;
  return true;
}

bool Coordinator::IsUp(std::uint64_t generation) const {
  std::lock_guard lock(mutex_);
  return up_ && generation_ == generation && !shutdown_;
}

void Coordinator::Release(std::uint16_t port) {
  std::lock_guard lock(mutex_);
  ++generation_;
  port_ = port;
  up_ = true;
  cv_.notify_all();
}

void Coordinator::MarkDown() {
  std::lock_guard lock(mutex_);
  up_ = false;
}

bool Coordinator::WaitAllParked(int threads, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return parked_ >= threads; });
}

void Coordinator::Shutdown() {
  std::lock_guard lock(mutex_);
  shutdown_ = true;
  cv_.notify_all();
}

// --- Answers --------------------------------------------------------------------

Result<std::vector<EventAnswer>> ParseAnswer(const WriteOp& op, const HttpResponse& response) {
  std::vector<EventAnswer> answers;
  if (op.kind == WriteOp::Kind::kBulk) {
    if (response.status != 200) return Malformed(op, response, "expected 200");
    size_t start = 0;
    while (start < response.body.size()) {
      size_t end = response.body.find('\n', start);
      if (end == std::string::npos) end = response.body.size();
      auto line = ParseBody(std::string_view(response.body).substr(start, end - start));
      start = end + 1;
      if (!line || !line->is_object())
        return Malformed(op, response, "a result line is not an object");
      const size_t index = answers.size();
      if (index >= op.keys.size()) return Malformed(op, response, "more results than lines");
      EventAnswer answer;
      answer.status = static_cast<unsigned>(NumberOr(*line, "status", 0));
      answer.placement.seq = static_cast<std::uint32_t>(NumberOr(*line, "seq", 0));
      answer.placement.position = static_cast<std::uint64_t>(NumberOr(*line, "position", 0));
      if ((answer.status != 200 && answer.status != 201) ||
          StringOr(*line, "run_id") != op.keys[index].run_id) {
        return Malformed(op, response, "line " + std::to_string(index + 1) + " was not appended");
      }
      answers.push_back(answer);
    }
    if (answers.size() != op.keys.size())
      return Malformed(op, response, "fewer results than lines");
    return answers;
  }
  if (response.status != 200 && response.status != 201)
    return Malformed(op, response, "expected 200 or 201");
  auto body = ParseBody(response.body);
  if (!body || !body->is_object()) return Malformed(op, response, "body is not an object");
  EventAnswer answer;
  answer.status = response.status;
  const std::string position = response.header("x-ledger-position");
  answer.placement.position = position.empty() ? 0 : std::strtoull(position.c_str(), nullptr, 10);
  if (op.kind == WriteOp::Kind::kCreate) {
    if (StringOr(*body, "id") != op.keys[0].run_id) return Malformed(op, response, "another run");
    answer.placement.seq = 1;
    // A repeated create may come without X-Ledger-Position; the checker
    // then takes the position from the ledger.
    if (answer.placement.position == 0 && response.status == 201) {
      return Malformed(op, response, "no X-Ledger-Position");
    }
  } else {
    if (StringOr(*body, "run_id") != op.keys[0].run_id ||
        StringOr(*body, "id") != op.keys[0].client_id) {
      return Malformed(op, response, "another event");
    }
    answer.placement.seq = static_cast<std::uint32_t>(NumberOr(*body, "seq", 0));
    const auto body_position = static_cast<std::uint64_t>(NumberOr(*body, "position", 0));
    if (body_position != answer.placement.position) {
      return Malformed(op, response, "X-Ledger-Position differs from the event's position");
    }
  }
  answers.push_back(answer);
  return answers;
}

// --- Writer ---------------------------------------------------------------------

Writer::Writer(size_t index, bool bulk, std::uint64_t seed)
    : index_(index), bulk_(bulk), random_(seed) {}

std::string Writer::NewRunId() {
  // A random (version 4) UUID: client-chosen run ids are any UUID.
  const std::uint64_t high = random_();
  const std::uint64_t low = random_();
  char text[37];
  std::snprintf(text, sizeof text, "%08x-%04x-4%03x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xffff),
                static_cast<unsigned>(high & 0xfff),
                static_cast<unsigned>(0x8000 | ((low >> 48) & 0x3fff)),
                static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

std::string Writer::NextClientId() {
  return "w" + std::to_string(index_) + "-" + std::to_string(next_client_id_++);
}

std::string Writer::Line(const std::string& type, const std::string& data,
                         const std::string& client_id) const {
  return R"({"run_id":")" + run_id_ + R"(","id":")" + client_id + R"(","type":")" + type +
         R"(","data":)" + data + "}\n";
}

WriteOp Writer::NextOp() {
  WriteOp op;
  const std::string created_data =
      R"({"operation":"scan","datastore":{"id":"ds-)" + std::to_string(index_ % 4) +
      R"("},"triggered_by":{"kind":"api","id":"crash-harness"},"config":{"writer":)" +
      std::to_string(index_) + "}}";
  if (run_id_.empty()) {
    run_id_ = NewRunId();
    events_ = 0;
    planned_ =
        bulk_ ? std::uniform_int_distribution(kBulkRunEventsMin, kBulkRunEventsMax)(random_)
              : std::uniform_int_distribution(kSingleRunEventsMin, kSingleRunEventsMax)(random_);
  }
  auto next_event = [&](int seq, std::string* type, std::string* data) {
    if (seq == 1) {
      *type = "created";
      *data = created_data;
    } else if (seq == 2) {
      *type = "started";
      *data = R"({"worker":"crash-harness-)" + std::to_string(index_) + "\"}";
    } else if (seq < planned_) {
      *type = "logged";
      *data = R"({"level":"info","message":"event )" + std::to_string(seq) + " of writer " +
              std::to_string(index_) + R"(: the quick brown fox jumps over the lazy dog"})";
    } else {
      *type = "ended";
      *data = R"({"status":"success","metrics":{"events":)" + std::to_string(seq) + "}}";
    }
  };
  if (!bulk_) {
    std::string type, data;
    next_event(events_ + 1, &type, &data);
    if (type == "created") {
      op.kind = WriteOp::Kind::kCreate;
      op.target = "/v1/runs";
      op.body = R"({"run_id":")" + run_id_ + "\"," + created_data.substr(1);
      op.keys.push_back({run_id_, kCreatedKey});
      return op;
    }
    const std::string client_id = NextClientId();
    op.kind = WriteOp::Kind::kAppend;
    op.target = "/v1/runs/" + run_id_ + "/events";
    op.body = R"({"id":")" + client_id + R"(","type":")" + type + R"(","data":)" + data + "}";
    op.keys.push_back({run_id_, client_id});
    op.ends_run = type == "ended";
    return op;
  }
  op.kind = WriteOp::Kind::kBulk;
  op.target = "/v1/events";
  op.content_type = "application/x-ndjson";
  const int lines = std::uniform_int_distribution(1, kBulkLinesMax)(random_);
  for (int seq = events_ + 1; seq <= planned_ && seq <= events_ + lines; ++seq) {
    std::string type, data;
    next_event(seq, &type, &data);
    const std::string client_id = NextClientId();
    op.body += Line(type, data, client_id);
    op.keys.push_back({run_id_, client_id});
    op.ends_run = type == "ended";
  }
  return op;
}

void Writer::Applied(const WriteOp& op) {
  events_ += static_cast<int>(op.keys.size());
  if (op.ends_run) run_id_.clear();
}

void Writer::Abandon() { run_id_.clear(); }

// --- Threads --------------------------------------------------------------------

void RunWriter(Writer& writer, Coordinator& coordinator, Book& book,
               const WorkloadOptions& options) {
  std::uint64_t generation = 0;
  std::uint16_t port = 0;
  HttpConnection connection(0, options.writer_token, options.request_timeout);
  while (coordinator.AwaitUp(&generation, &port)) {
    connection.Retarget(port);
    while (coordinator.IsUp(generation)) {
      WriteOp op = writer.NextOp();
      const bool sent = connection.Connect();
      const HttpResponse response =
          sent ? connection.Send("POST", op.target, op.body, {}, op.content_type) : HttpResponse{};
      write_requests.fetch_add(1, std::memory_order_relaxed);
      if (!response.ok()) {
        transport_errors.fetch_add(1, std::memory_order_relaxed);
        book.AddInDoubt({writer.index(), std::move(op), sent});
        break;  // park until the harness restarted the server and resolved it
      }
      auto answers = ParseAnswer(op, response);
      if (!answers) {
        book.Violation("writer " + std::to_string(writer.index()) + ": " +
                       answers.error().message());
        writer.Abandon();
        continue;
      }
      for (size_t i = 0; i < answers->size(); ++i) {
        if ((*answers)[i].status != 201) {
          book.Violation("a first attempt of " + op.keys[i].run_id + "/" + op.keys[i].client_id +
                         " answered " + std::to_string((*answers)[i].status) + ", not 201");
        }
        (void)book.Ack(op.keys[i], (*answers)[i].placement);
      }
      writer.Applied(op);
    }
  }
}

void RunReader(size_t index, Coordinator& coordinator, Book& book, const WorkloadOptions& options) {
  std::mt19937_64 random(index * 7919 + 17);
  std::uint64_t generation = 0;
  std::uint16_t port = 0;
  HttpConnection connection(0, options.reader_token, options.request_timeout);
  while (coordinator.AwaitUp(&generation, &port)) {
    connection.Retarget(port);
    while (coordinator.IsUp(generation)) {
      const std::string run = book.RandomRun(random());
      std::string target;
      switch (random() % 4) {
        case 0:
          target = "/v1/runs?limit=" + std::to_string(kReaderPage);
          break;
        case 1:
          target = run.empty() ? "/v1/runs/counts" : "/v1/runs/" + run;
          break;
        case 2:
          target = "/v1/runs/counts";
          break;
        default:
          target = run.empty() ? "/v1/runs/counts" : "/v1/runs/" + run + "/events?limit=100";
          break;
      }
      const HttpResponse response = connection.Send("GET", target);
      read_requests.fetch_add(1, std::memory_order_relaxed);
      if (!response.ok()) {
        transport_errors.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      if (response.status != 200) {
        book.Violation("GET " + target + " answered " + std::to_string(response.status) + ": " +
                       response.body.substr(0, 300));
        continue;
      }
      auto body = ParseBody(response.body);
      if (!body) {
        book.Violation("GET " + target + ": the body is not JSON");
        continue;
      }
      auto observe = [&book](const Json& run_state) {
        const std::string id = StringOr(run_state, "id");
        const double version = NumberOr(run_state, "version", 0);
        if (!id.empty() && version > 0) book.Observed(id, static_cast<std::uint32_t>(version));
      };
      if (const Json* items = body->Find("items");
          items && items->is_array() && target.starts_with("/v1/runs?")) {
        for (const Json& item : items->array()) observe(item);
      } else if (body->Find("version") != nullptr) {
        observe(*body);
      }
    }
  }
}

WorkloadCounters Counters() {
  return {write_requests.load(), read_requests.load(), transport_errors.load()};
}

}  // namespace runledger::tools::reliability
