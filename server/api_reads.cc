// Read routes: runs, listings, events, logs, history, the ledger, and the
// Server-Sent Events streams.

#include <algorithm>

#include "ledger/time.h"
#include "ledger/uuid.h"
#include "server/internal/api_call.h"

namespace runledger::server {
namespace {

// A stream's catch-up is written in one burst on the handler's thread,
// before the connection can send any of it. A burst past the transport's
// backlog bound (ServerOptions::sse_backlog_bytes, 1 MiB by default) would
// drop the connection with nothing sent, every time the client retried, and
// the rest of the catch-up would still be read for nothing. So a catch-up
// stops at kCatchUpBytesMax and the stream ends cleanly: the client has every
// frame up to the last id and resumes from it with Last-Event-ID.
constexpr size_t kCatchUpBytesMax = 512 * 1024;

class CatchUp {
 public:
  explicit CatchUp(EventStream& stream) : stream_(stream) {}
  // Writes `frame`; false (stop reading) once the burst is full or the
  // stream refused it.
  bool Write(std::string frame) {
    if (!full_ && bytes_ > 0 && bytes_ + frame.size() > kCatchUpBytesMax) full_ = true;
    if (full_) return false;
    bytes_ += frame.size();
    full_ = !stream_.Write(std::move(frame));
    return !full_;
  }
  // True if the catch-up was cut short; the stream then ends after the
  // frames already queued.
  bool EndIfCut() {
    if (full_) stream_.Close();
    return full_;
  }

 private:
  EventStream& stream_;
  size_t bytes_ = 0;
  bool full_ = false;
};

void WriteEventItems(JsonWriter& w, const std::vector<std::string>& items) {
  w.Key("items").BeginArray();
  for (const auto& item : items) w.Raw(item);
  w.EndArray();
}

std::string LogLine(const ledger::Event& e) {
  std::string line = ledger::FormatTimestampMs(e.recorded_at_ms) + " ";
  const Json* level = e.data.Find("level");
  std::string upper = level && level->is_string() ? level->string() : "INFO";
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  line += upper;
  if (const Json* container = e.data.Find("container"); container && container->is_string()) {
    line += " [" + container->string() + "]";
  }
  line += " ";
  const Json* message = e.data.Find("message");
  for (char c : message && message->is_string() ? message->string() : std::string()) {
    if (c == '\n') {
      line += "\\n";
    } else if (c != '\r') {
      line.push_back(c);
    }
  }
  line.push_back('\n');
  return line;
}

}  // namespace

void Api::Call::GetRun(const std::string& run_id) {
  route_ = "get_run";
  auto run = VisibleRun(run_id, IncludeDeleted());
  if (!run) return;
  const std::string* at_seq = Param("at_seq");
  const std::string* as_of = Param("as_of");
  if (at_seq && as_of) return Problem(400, "bad_request", "at_seq and as_of cannot be combined");
  if (!at_seq && !as_of) {
    Response response = Json200(200, run->ToJson(IncludeDeleted()));
    response.set(http::field::etag, "\"" + std::to_string(run->version) + "\"");
    return Send(std::move(response));
  }
  std::optional<RunState> state;
  if (at_seq) {
    std::uint64_t seq = 0;
    if (!ParseUint("at_seq", &seq)) return;
    if (seq < 1 || seq > run->version) {
      return Problem(400, "bad_request", "at_seq must be between 1 and " + std::to_string(run->version));
    }
    auto past = api_.queries_.RunAtSeq(run->id, static_cast<std::uint32_t>(seq));
    if (!past) return Fail(past.error());
    state = std::move(*past);
  } else {
    const auto ms = ledger::ParseRfc3339Ms(*as_of);
    if (!ms) return Problem(400, "bad_request", "as_of must be an RFC 3339 date-time");
    auto past = api_.queries_.RunAsOf(run->id, *ms);
    if (!past) return Fail(past.error());
    if (!past->has_value()) return Problem(404, "run_not_found", "the run did not exist yet at " + *as_of);
    state = std::move(*past);
  }
  if (!state) return Fail(Status::Internal("the run's past state is missing"));
  Response response = Json200(200, projections::RunJson(*state, IncludeDeleted() && state->deleted()));
  response.set(http::field::etag, "\"" + std::to_string(state->version) + "\"");
  Send(std::move(response));
}

bool Api::Call::ParseRunFilter(projections::RunFilter* f) {
  auto list = [&](const char* name, std::vector<std::string>* out,
                  std::initializer_list<const char*> allowed) {
    const std::string* text = Param(name);
    if (!text) return true;
    *out = SplitComma(*text);
    for (const auto& value : *out) {
      if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return value == a; })) {
        Problem(400, "bad_request", std::string(name) + " has an unknown value " + value);
        return false;
      }
    }
    return true;
  };
  if (!list("status", &f->statuses, {"queued", "running", "success", "failure", "aborted"})) return false;
  if (!list("operation", &f->operations,
            {"sync", "profile", "scan", "external_scan", "export", "materialize", "promote"})) {
    return false;
  }
  if (const std::string* ds = Param("datastore")) f->datastore = *ds;
  if (const std::string* by = Param("triggered_by")) f->triggered_by = *by;
  if (const std::string* warning = Param("warning")) {
    if (*warning != "true" && *warning != "false") {
      Problem(400, "bad_request", "warning must be true or false");
      return false;
    }
    f->warning = *warning == "true";
  }
  for (auto [name, out] : {std::pair{"rerun_of", &f->rerun_of}, std::pair{"resumed_from", &f->resumed_from}}) {
    if (const std::string* id = Param(name)) {
      *out = ledger::ParseUuid(*id);
      if (!*out) {
        Problem(400, "bad_request", std::string(name) + " must be a run id");
        return false;
      }
    }
  }
  for (auto [name, out] : {std::pair{"created_after", &f->created_after_ms},
                           std::pair{"created_before", &f->created_before_ms}}) {
    if (const std::string* at = Param(name)) {
      *out = ledger::ParseRfc3339Ms(*at);
      if (!*out) {
        Problem(400, "bad_request", std::string(name) + " must be an RFC 3339 date-time");
        return false;
      }
    }
  }
  f->include_deleted = IncludeDeleted();
  f->visible_datastores = principal_->VisibleDatastores();
  return true;
}

void Api::Call::ListRuns(bool counts) {
  route_ = counts ? "count_runs" : "list_runs";
  projections::RunFilter filter;
  if (!ParseRunFilter(&filter)) return;
  std::string body;
  JsonWriter w(&body);
  if (counts) {
    filter.statuses.clear();
    auto result = api_.queries_.CountRuns(filter);
    if (!result) return Fail(result.error());
    w.BeginObject().Key("queued").Int(result->queued).Key("running").Int(result->running)
        .Key("success").Int(result->success).Key("failure").Int(result->failure)
        .Key("aborted").Int(result->aborted).EndObject();
    return SendJson(200, std::move(body));
  }
  size_t limit = 50;
  if (!ParseLimit(&limit, 50)) return;
  std::optional<std::string> cursor;
  if (const std::string* c = Param("cursor")) cursor = *c;
  auto page = api_.queries_.ListRuns(filter, limit, cursor);
  if (!page) return Fail(page.error());
  w.BeginObject().Key("items").BeginArray();
  for (const auto& run : page->items) {
    std::string item;
    run.AppendJson(filter.include_deleted, &item);
    w.Raw(item);
  }
  w.EndArray().Key("next_cursor");
  if (page->next_cursor) w.String(*page->next_cursor); else w.Null();
  w.EndObject();
  SendJson(200, std::move(body));
}

void Api::Call::RunEvents(const std::string& run_id, bool logs) {
  route_ = logs ? "run_logs" : "run_events";
  auto run = VisibleRun(run_id, !logs && IncludeDeleted());
  if (!run) return;
  std::uint64_t after_seq = 0;
  if (!ParseUint("after_seq", &after_seq, UINT32_MAX)) return;
  int min_level = 0;
  if (const std::string* level = Param("level")) {
    min_level = projections::LogLevelRank(*level);
    if (min_level < 0) return Problem(400, "bad_request", "level must be debug, info, warning or error");
  }
  if (logs && WantsEventStream()) {
    if (!ParseLastEventId(&after_seq, UINT32_MAX)) return;
    return StreamLogs(run->id, static_cast<std::uint32_t>(after_seq), min_level);
  }
  const std::string accept = Header(http::field::accept);
  if (logs && accept.find("text/plain") != std::string::npos) return DownloadLog(run->id, min_level);
  size_t limit = kDefaultPageLimit;
  if (!ParseLimit(&limit)) return;
  auto page = api_.queries_.RunEvents(run->id, static_cast<std::uint32_t>(after_seq), limit, logs, min_level);
  if (!page) return Fail(page.error());
  std::string body;
  JsonWriter w(&body);
  w.BeginObject();
  WriteEventItems(w, page->items);
  w.Key("next_after_seq");
  if (page->next) w.Uint(*page->next); else w.Null();
  w.EndObject();
  SendJson(200, std::move(body));
}

void Api::Call::DownloadLog(const ledger::Uuid& run_id, int min_level) {
  std::string text;
  std::uint32_t after = 0;
  for (;;) {
    auto page = api_.queries_.RunEvents(run_id, after, kMaxPageLimit, true, min_level);
    if (!page) return Fail(page.error());
    for (const auto& stored : page->items) {
      auto event = ledger::DecodeEvent(stored);
      if (event) text += LogLine(*event);
    }
    if (!page->next) break;
    after = static_cast<std::uint32_t>(*page->next);
  }
  Response response = Json200(200, std::move(text));
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::content_disposition,
               "attachment; filename=\"run-" + ledger::FormatUuid(run_id) + ".log\"");
  Send(std::move(response));
}

void Api::Call::StreamLogs(const ledger::Uuid& run_id, std::uint32_t after_seq, int min_level) {
  Response headers(http::status::ok, request_.version());
  headers.set("X-Request-Id", request_id_);
  auto stream = exchange_->StartStream(std::move(headers));
  auto subscription = api_.live_.Subscribe(
      stream, principal_->name,
      [run_id, min_level](const LiveItem& item, std::uint64_t* id, bool* close_after) -> std::string {
        const ledger::Event& e = item.event;
        if (e.run_id != run_id) return {};
        *id = e.seq;
        if (e.type == "ended" || e.type == "deleted") {
          *close_after = true;
          return ": run ended\n\n";
        }
        if (e.type != "logged") return {};
        const Json* level = e.data.Find("level");
        if (!level || projections::LogLevelRank(level->string()) < min_level) return {};
        return SseFrame(e.seq, e.stored);
      });
  stream->OnClose([subscription] {});
  std::uint32_t sent = after_seq;
  CatchUp catch_up(*stream);
  for (bool more = true; more;) {
    auto page = api_.queries_.RunEvents(run_id, sent, kMaxPageLimit, false);
    if (!page) break;
    for (const auto& stored : page->items) {
      auto event = ledger::DecodeEvent(stored);
      if (!event) continue;
      if (event->type == "logged") {
        const Json* level = event->data.Find("level");
        if (level && projections::LogLevelRank(level->string()) >= min_level &&
            !catch_up.Write(SseFrame(event->seq, event->stored))) {
          more = false;
          break;
        }
      }
      sent = event->seq;
    }
    if (!page->next) break;
  }
  api_.metrics_.RecordRequest(route_, 200, 0);
  if (catch_up.EndIfCut()) return;
  subscription->Release(sent);
  auto now = api_.queries_.GetRun(run_id);
  if (now && now->has_value() && (projections::IsTerminal((*now)->status) || (*now)->deleted())) {
    stream->Close();
  }
}

void Api::Call::RunHistory(const std::string& run_id) {
  route_ = "run_history";
  const bool with_deleted = IncludeDeleted();
  auto run = VisibleRun(run_id, with_deleted);
  if (!run) return;
  std::uint64_t after_seq = 0;
  size_t limit = kDefaultPageLimit;
  if (!ParseUint("after_seq", &after_seq, UINT32_MAX) || !ParseLimit(&limit)) return;
  auto page = api_.queries_.History(run->id, static_cast<std::uint32_t>(after_seq), limit, with_deleted);
  if (!page) return Fail(page.error());
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("items").BeginArray();
  for (const auto& item : page->items) {
    w.BeginObject().Key("seq").Uint(item.seq).Key("event").Raw(item.event).Key("state").Raw(item.state).EndObject();
  }
  w.EndArray().Key("next_after_seq");
  if (page->next_after_seq) w.Uint(*page->next_after_seq); else w.Null();
  w.EndObject();
  SendJson(200, std::move(body));
}

void Api::Call::LedgerEvents() {
  route_ = "ledger_events";
  if (!RequireRole({Role::kAuditor})) return;
  projections::AuditFilter f;
  if (const std::string* types = Param("type")) f.types = SplitComma(*types);
  if (const std::string* v = Param("principal")) f.principal = *v;
  if (const std::string* v = Param("datastore")) f.datastore = *v;
  if (const std::string* v = Param("operation")) f.operation = *v;
  if (const std::string* v = Param("run_id")) {
    f.run_id = ledger::ParseUuid(*v);
    if (!f.run_id) return Problem(400, "bad_request", "run_id must be a run id");
  }
  for (auto [name, out] : {std::pair{"from", &f.from_ms}, std::pair{"to", &f.to_ms}}) {
    if (const std::string* at = Param(name)) {
      *out = ledger::ParseRfc3339Ms(*at);
      if (!*out) return Problem(400, "bad_request", std::string(name) + " must be an RFC 3339 date-time");
    }
  }
  std::uint64_t after = 0;
  size_t limit = kDefaultPageLimit;
  if (!ParseUint("after", &after) || !ParseLimit(&limit)) return;
  if (!WantsEventStream()) {
    auto page = api_.queries_.AuditEvents(f, after, limit);
    if (!page) return Fail(page.error());
    std::string body;
    JsonWriter w(&body);
    w.BeginObject();
    WriteEventItems(w, page->items);
    w.Key("next_after");
    if (page->next) w.Uint(*page->next); else w.Null();
    w.EndObject();
    return SendJson(200, std::move(body));
  }
  if (!ParseLastEventId(&after)) return;
  Response headers(http::status::ok, request_.version());
  headers.set("X-Request-Id", request_id_);
  auto stream = exchange_->StartStream(std::move(headers));
  auto subscription = api_.live_.Subscribe(
      stream, principal_->name, [f](const LiveItem& item, std::uint64_t* id, bool*) -> std::string {
        const ledger::Event& e = item.event;
        *id = e.position;
        const bool match =
            (f.types.empty() || std::find(f.types.begin(), f.types.end(), e.type) != f.types.end()) &&
            (!f.principal || e.principal == *f.principal) && (!f.run_id || e.run_id == *f.run_id) &&
            (!f.datastore || item.change.datastore_id == *f.datastore) &&
            (!f.operation || item.change.operation == *f.operation) &&
            (!f.to_ms || e.recorded_at_ms < *f.to_ms);
        return match ? SseFrame(e.position, e.stored) : std::string();
      });
  stream->OnClose([subscription] {});
  // The catch-up sends what is durable now, the subscription the rest. The
  // size is read after subscribing, so every later event reaches the
  // subscription; reading it after the catch-up instead would drop an event
  // committed in between.
  const std::uint64_t through = std::max(after, api_.ledger_.store().size());
  std::uint64_t sent = after;
  CatchUp catch_up(*stream);
  for (bool more = true; more;) {
    auto page = api_.queries_.AuditEvents(f, sent, kMaxPageLimit);
    if (!page) break;
    for (const auto& stored : page->items) {
      auto event = ledger::DecodeEvent(stored);
      if (!event) continue;
      if (event->position > through) break;
      if (!catch_up.Write(SseFrame(event->position, stored))) {
        more = false;
        break;
      }
      sent = event->position;
    }
    if (!page->next || *page->next >= through) break;
    sent = std::max(sent, *page->next);
  }
  api_.metrics_.RecordRequest(route_, 200, 0);
  if (catch_up.EndIfCut()) return;
  subscription->Release(through);
}

void Api::Call::LiveRuns() {
  route_ = "runs_live";
  const auto visible = principal_->VisibleDatastores();
  std::uint64_t after = 0;
  const bool resuming = !Header("Last-Event-ID").empty();
  if (!ParseLastEventId(&after)) return;
  Response headers(http::status::ok, request_.version());
  headers.set("X-Request-Id", request_id_);
  auto stream = exchange_->StartStream(std::move(headers));
  auto may_view = [visible](const std::string& ds) {
    return !visible || std::find(visible->begin(), visible->end(), ds) != visible->end();
  };
  auto subscription = api_.live_.Subscribe(
      stream, principal_->name,
      [may_view](const LiveItem& item, std::uint64_t* id, bool*) -> std::string {
        *id = item.change.position;
        if (!may_view(item.change.datastore_id)) return {};
        return SseFrame(item.change.position, item.change.state_json);
      });
  stream->OnClose([subscription] {});
  std::uint64_t covered = api_.ledger_.store().size();
  if (resuming) {
    // Coalesced catch-up: each run changed after `after` once, at its latest change.
    std::map<ledger::Uuid, std::uint64_t> latest;
    for (std::uint64_t position = after;;) {
      auto page = api_.queries_.AuditEvents({}, position, kMaxPageLimit);
      if (!page) break;
      for (const auto& stored : page->items) {
        auto event = ledger::DecodeEvent(stored);
        if (!event) continue;
        latest[event->run_id] = event->position;
        position = event->position;
      }
      if (!page->next) break;
      position = std::max(position, *page->next);
    }
    std::vector<std::pair<std::uint64_t, ledger::Uuid>> order;
    for (const auto& [run, position] : latest) order.emplace_back(position, run);
    std::sort(order.begin(), order.end());
    covered = 0;
    CatchUp catch_up(*stream);
    for (const auto& [position, run_id] : order) {
      auto run = api_.queries_.GetRunSummary(run_id);
      if (!run || !run->has_value() || !may_view((*run)->datastore_id)) continue;
      if (!catch_up.Write(SseFrame(position, (*run)->ToJson(/*with_deleted=*/true)))) break;
      covered = std::max(covered, position);
    }
    if (catch_up.EndIfCut()) return api_.metrics_.RecordRequest(route_, 200, 0);
    covered = std::max(covered, order.empty() ? after : order.back().first);
  }
  subscription->Release(covered);
  api_.metrics_.RecordRequest(route_, 200, 0);
}

}  // namespace runledger::server
