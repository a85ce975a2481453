#include "tools/bench/http_workloads.h"

namespace runledger::tools::bench {
namespace {

namespace http = boost::beast::http;

constexpr size_t kOpenRunsPerBulkConnection = 60;

}  // namespace

SingleAppends::SingleAppends(size_t connections, std::uint64_t seed, RunRegistry* registry,
                             bool any_2xx)
    : generator_(seed), workers_(connections), registry_(registry), any_2xx_(any_2xx) {}

bool SingleAppends::Next(size_t conn, HttpCall* call) {
  Worker& w = workers_[conn];
  if (!w.run || w.next == w.run->events.size()) {
    w.run = std::make_unique<RunScript>(generator_.NextRun());
    w.next = 0;
  }
  const BenchEvent& e = w.run->events[w.next++];
  call->method = http::verb::post;
  call->target = e.type == "created" ? "/v1/runs" : "/v1/runs/" + w.run->id_text + "/events";
  call->body = e.body;
  call->content_type = "application/json";
  call->expect_status = any_2xx_ ? 0 : 201;
  return true;
}

void SingleAppends::Succeeded(size_t conn, const HttpCall& call, std::string_view) {
  const Worker& w = workers_[conn];
  if (registry_ && call.target == "/v1/runs")
    registry_->push_back({w.run->id_text, w.run->datastore});
}

BulkIngest::BulkIngest(size_t connections, size_t lines, std::uint64_t seed, RunRegistry* registry,
                       std::uint64_t max_runs)
    : lines_(lines), feeds_(connections), registry_(registry) {
  const std::uint64_t per_connection =
      max_runs == 0 ? 0 : (max_runs + connections - 1) / connections;
  for (size_t i = 0; i < connections; ++i) {
    feeds_[i].generator = std::make_unique<WorkloadGenerator>(seed * 7919 + i);
    feeds_[i].runs = std::make_unique<RunInterleaver>(*feeds_[i].generator,
                                                      kOpenRunsPerBulkConnection, per_connection);
  }
}

bool BulkIngest::Next(size_t conn, HttpCall* call) {
  Feed& feed = feeds_[conn];
  feed.created_in_flight.clear();
  call->body.reserve(lines_ * 460);
  size_t lines = 0;
  for (; lines < lines_; ++lines) {
    const auto view = feed.runs->Next();
    if (!view) break;
    call->body += view->event->line;
    call->body.push_back('\n');
    if (view->event->seq == 1)
      feed.created_in_flight.push_back({view->run->id_text, view->run->datastore});
  }
  if (lines == 0) return false;
  call->method = http::verb::post;
  call->target = "/v1/events";
  call->content_type = "application/x-ndjson";
  call->expect_status = 200;
  call->expect_bulk_created = true;
  call->units = lines;
  return true;
}

void BulkIngest::Succeeded(size_t conn, const HttpCall&, std::string_view) {
  if (!registry_) return;
  for (auto& run : feeds_[conn].created_in_flight) registry_->push_back(std::move(run));
  feeds_[conn].created_in_flight.clear();
}

bool RunDiscovery::Next(size_t, HttpCall* call) {
  if (done_ || registry_->size() >= max_runs_) return false;
  call->method = http::verb::get;
  call->target = "/v1/runs?limit=1000" + (cursor_.empty() ? "" : "&cursor=" + cursor_);
  return true;
}

void RunDiscovery::Succeeded(size_t, const HttpCall&, std::string_view body) {
  // Each item starts [{"id":"<uuid>" or ,{"id":"<uuid>" (nested objects
  // follow a colon) and names "datastore":{"id":"<id>".
  auto string_after = [&body](std::string_view marker, size_t from, size_t* end) -> std::string {
    const size_t at = body.find(marker, from);
    if (at == std::string_view::npos) return "";
    const size_t start = at + marker.size();
    *end = body.find('"', start);
    return *end == std::string_view::npos ? "" : std::string(body.substr(start, *end - start));
  };
  size_t at = 0;
  for (;;) {
    size_t id_end = 0, ds_end = 0;
    std::string id = string_after("{\"id\":\"", at, &id_end);
    if (id.empty()) break;
    const size_t brace = id_end - id.size() - 7;
    if (id.size() != 36 || brace == 0 || (body[brace - 1] != '[' && body[brace - 1] != ',')) {
      at = id_end;
      continue;
    }
    std::string datastore = string_after("\"datastore\":{\"id\":\"", id_end, &ds_end);
    if (datastore.empty()) break;
    registry_->push_back({std::move(id), std::move(datastore)});
    at = ds_end;
  }
  size_t end = 0;
  cursor_ = string_after("\"next_cursor\":\"", 0, &end);
  done_ = cursor_.empty();
}

bool ReadMix::Next(size_t, HttpCall* call) {
  if (registry_.empty()) return false;
  const KnownRun& run = registry_[generator_.Next() % registry_.size()];
  const int roll = generator_.Uniform(1, 100);
  call->method = http::verb::get;
  call->expect_status = 200;
  if (roll <= 40) {
    call->kind = 0;
    call->target = "/v1/runs/" + run.id;
  } else if (roll <= 70) {
    call->kind = 1;
    static const char* const kFilters[] = {"",
                                           "&status=running",
                                           "&status=failure",
                                           "&operation=scan,profile",
                                           "&warning=true",
                                           "&status=failure&operation=scan",
                                           "&datastore=",
                                           "&datastore=&status=success"};
    std::string filter = kFilters[generator_.Next() % std::size(kFilters)];
    if (const size_t at = filter.find("datastore="); at != std::string::npos) {
      filter.insert(at + 10, run.datastore);
    }
    call->target = "/v1/runs?limit=50" + filter;
  } else if (roll <= 85) {
    call->kind = 2;
    call->target = "/v1/runs/" + run.id + "/events?limit=100";
  } else {
    call->kind = 3;
    call->target = "/v1/runs/" + run.id + "/logs?limit=100";
  }
  return true;
}

}  // namespace runledger::tools::bench
