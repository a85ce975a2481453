#include "server/api.h"

#include "server/internal/api_call.h"

#include <chrono>
#include <iostream>
#include <map>

#include "ledger/json_writer.h"
#include "ledger/sha256.h"
#include "ledger/time.h"
#include "projections/validation.h"
#include "server/problem.h"
#include "server/web_assets.h"

namespace runledger::server {

Api::Api(ApiOptions options, projections::RunLedger& ledger)
    : options_(options),
      ledger_(ledger),
      queries_(ledger.store(), &ledger.summaries()),
      reads_(options.read_workers),
      exports_(options.exports_max) {}

void Api::SetTokens(std::shared_ptr<const TokenFile> tokens) {
  {
    std::lock_guard lock(tokens_mutex_);
    tokens_ = tokens;
  }
  live_.CloseWhere([&tokens](const std::string& principal) { return !tokens->HasName(principal); });
}

std::uint64_t Api::BodyLimit(const http::request_header<>& header) {
  const std::string_view target = header.target();
  const bool bulk = header.method() == http::verb::post &&
                    (target == "/v1/events" || target.starts_with("/v1/events?"));
  return bulk ? options_.bulk_body_limit_bytes : options_.body_limit_bytes;
}

void Api::Handle(Request request, std::shared_ptr<Exchange> exchange) {
  std::make_shared<Call>(*this, std::move(request), std::move(exchange))->Run();
}

bool Api::Call::Authenticate() {
  if (api_.options_.local_mode) {
    local_.name = "local";
    local_.role = Role::kAdmin;
    principal_ = &local_;
    return true;
  }
  {
    std::lock_guard lock(api_.tokens_mutex_);
    tokens_ = api_.tokens_;
  }
  const std::string auth = Header(http::field::authorization);
  constexpr std::string_view kBearer = "Bearer ";
  if (tokens_ && auth.size() > kBearer.size() && auth.compare(0, kBearer.size(), kBearer) == 0) {
    principal_ = tokens_->Authenticate(std::string_view(auth).substr(kBearer.size()));
  }
  if (principal_ == nullptr) {
    Response response = MakeProblem(401, "unauthorized", "Unauthorized",
                                    "a valid bearer token is required", request_id_,
                                    request_.version(), request_.keep_alive());
    response.set(http::field::www_authenticate, "Bearer");
    Send(std::move(response));
    return false;
  }
  return true;
}

std::optional<projections::RunSummary> Api::Call::VisibleRun(const std::string& id_text,
                                                             bool allow_deleted) {
  const auto id = ledger::ParseUuid(id_text);
  std::optional<projections::RunSummary> run;
  if (id) {
    auto found = api_.queries_.GetRunSummary(*id);
    if (!found) {
      Fail(found.error());
      return std::nullopt;
    }
    run = std::move(*found);
  }
  if (!run || (run->deleted() && !allow_deleted) || !principal_->CanView(run->datastore_id)) {
    Problem(404, "run_not_found", "no run " + id_text);
    return std::nullopt;
  }
  return run;
}

bool Api::Call::ParseUint(const char* name, std::uint64_t* out, std::uint64_t max) {
  const std::string* text = Param(name);
  if (!text) return true;
  const auto value = ParseDecimal(*text, max);
  if (!value) {
    Problem(400, "bad_request", std::string(name) + " must be a non-negative integer");
    return false;
  }
  *out = *value;
  return true;
}

bool Api::Call::ParseLastEventId(std::uint64_t* out, std::uint64_t max) {
  const std::string text = Header("Last-Event-ID");
  if (text.empty()) return true;
  const auto value = ParseDecimal(text, max);
  if (!value) {
    Problem(400, "bad_request", "Last-Event-ID must be a non-negative integer");
    return false;
  }
  *out = *value;
  return true;
}

bool Api::Call::ParseLimit(size_t* limit, size_t fallback) {
  std::uint64_t value = fallback;
  if (!ParseUint("limit", &value)) return false;
  if (value < 1 || value > kMaxPageLimit) {
    Problem(400, "bad_request", "limit must be between 1 and 1000");
    return false;
  }
  *limit = static_cast<size_t>(value);
  return true;
}

bool Api::Call::RequireJsonBody(std::string_view type) {
  if (request_.body().empty() && type == "application/json") return true;
  // The media type without its parameters, compared case-insensitively
  // (RFC 9110 section 8.3.1): "application/json; charset=utf-8" is JSON,
  // "application/jsonp" is not.
  const std::string content_type = Header(http::field::content_type);
  std::string_view media = std::string_view(content_type).substr(0, content_type.find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t')) media.remove_suffix(1);
  if (!boost::beast::iequals(media, type)) {
    Problem(415, "unsupported_media_type", "the body must be " + std::string(type));
    return false;
  }
  return true;
}

bool Api::Call::RequireValidIdempotencyKey() {
  const size_t count = request_.count("Idempotency-Key");
  if (count == 0) return true;
  const std::string_view key = request_["Idempotency-Key"];
  bool ok = count == 1 && !key.empty() && key.size() <= kMaxIdempotencyKeyBytes;
  for (char c : key) ok = ok && c >= 0x21 && c <= 0x7E;
  if (!ok) {
    Problem(400, "bad_request", "Idempotency-Key must be one header of 1 to " +
                                    std::to_string(kMaxIdempotencyKeyBytes) + " visible ASCII characters");
  }
  return ok;
}

void Api::Call::Run() {
  if (api_.options_.local_mode) {
    const std::string host = Header(http::field::host);
    const std::string origin = Header(http::field::origin);
    if (!IsLoopbackHost(host) || (!origin.empty() && !IsLoopbackOrigin(origin))) {
      route_ = "rejected";
      Problem(403, "forbidden", "without --tokens only loopback Host and Origin are served");
      return;
    }
  }
  const bool long_read = (request_.method() == http::verb::get || request_.method() == http::verb::head) &&
                         IsLongRead(parts_, query_) && !WantsEventStream();
  if (long_read && api_.reads_.TryRun([self = shared_from_this()] { self->Route(); })) return;
  Route();
}

bool IsLongRead(const std::vector<std::string>& p, const std::map<std::string, std::string>& query) {
  if (p.size() < 2 || p[0] != "v1" || p[1] == "export") return false;
  if (p.size() == 2) return p[1] == "events";
  if (p[1] == "ledger") return p.size() == 3 && p[2] == "proof";
  if (p[1] != "runs") return false;
  if (p.size() == 3) return p[2] == "counts" || query.count("as_of") > 0 || query.count("at_seq") > 0;
  return p.size() == 4 && p[3] == "history";
}

void Api::Call::Route() {
  const auto method = request_.method();
  const auto& p = parts_;
  const bool get = method == http::verb::get || method == http::verb::head;
  // Routes without authentication.
  if (path_ == "/healthz" && get) {
    route_ = "healthz";
    const bool ok = api_.ledger_.store().writable();
    SendJson(ok ? 200 : 503, ok ? R"({"status":"ok"})" : R"({"status":"unavailable"})");
    return;
  }
  if (path_ == "/metrics" && get) {
    route_ = "metrics";
    auto& store = api_.ledger_.store();
    const auto cp = store.LatestCheckpoint();
    Response response = Json200(
        200, api_.metrics_.Render(
                 {{"runledger_ledger_events", static_cast<double>(store.size())},
                  {"runledger_ledger_checkpoint_size", cp ? static_cast<double>(cp->size) : 0.0},
                  {"runledger_ledger_writable", store.writable() ? 1.0 : 0.0},
                  {"runledger_live_subscriptions", static_cast<double>(api_.live_.size())},
                  {"runledger_exports_in_flight", static_cast<double>(api_.exports_in_flight())}}) +
                 RenderCommitStats(store.Stats()));
    response.set(http::field::content_type, "text/plain; version=0.0.4");
    Send(std::move(response));
    return;
  }
  if (get && (p.empty() || p[0] != "v1")) {
    route_ = "web";
    if (const WebAsset* asset = FindWebAsset(path_ == "/" ? "/index.html" : path_)) {
      Response response(http::status::ok, request_.version());
      response.set(http::field::content_type, asset->content_type);
      response.set("Content-Security-Policy", "default-src 'self'");
      response.set("X-Content-Type-Options", "nosniff");
      response.body() = std::string(asset->body);
      Send(std::move(response));
      return;
    }
  }
  if (p.size() >= 2 && p[0] == "v1" && get) {
    if (p.size() == 3 && p[1] == "ledger" && p[2] == "key") {
      route_ = "ledger_key";
      Response response = Json200(200, api_.ledger_.store().PublicKeyPem());
      response.set(http::field::content_type, "application/x-pem-file");
      Send(std::move(response));
      return;
    }
    if (p.size() == 2 && p[1] == "openapi.json") {
      route_ = "openapi";
      if (const WebAsset* asset = FindWebAsset("/openapi.json")) {
        SendJson(200, std::string(asset->body));
      } else {
        Problem(404, "not_found", "no OpenAPI description is built in");
      }
      return;
    }
  }
  if (p.empty() || p[0] != "v1") {
    Problem(404, "not_found", "no route " + path_);
    return;
  }
  if (!Authenticate()) return;
  const bool post = method == http::verb::post;
  if (p.size() == 2 && p[1] == "me" && get) return GetMe();
  if (p.size() == 2 && p[1] == "runs") {
    if (post) return CreateRun();
    if (get) return ListRuns(false);
  }
  if (p.size() == 3 && p[1] == "runs" && p[2] == "counts" && get) return ListRuns(true);
  if (p.size() == 3 && p[1] == "runs" && p[2] == "live" && get) return LiveRuns();
  if (p.size() == 2 && p[1] == "events") {
    if (post) return BulkIngest();
    if (get) return LedgerEvents();
  }
  if (p.size() == 3 && p[1] == "ledger" && p[2] == "checkpoint" && get) return Checkpoint();
  if (p.size() == 3 && p[1] == "ledger" && p[2] == "proof" && get) return Proof();
  if (p.size() == 2 && p[1] == "export" && get) return Export();
  if (p.size() == 3 && p[1] == "runs") {
    if (get) return GetRun(p[2]);
    if (method == http::verb::delete_) return RunAction(p[2], projections::Action::kDelete);
  }
  if (p.size() == 4 && p[1] == "runs") {
    if (p[3] == "events" && post) return AppendEvent(p[2]);
    if (p[3] == "events" && get) return RunEvents(p[2], false);
    if (p[3] == "logs" && get) return RunEvents(p[2], true);
    if (p[3] == "history" && get) return RunHistory(p[2]);
    if (post && p[3] == "abort") return RunAction(p[2], projections::Action::kAbort);
    if (post && p[3] == "resume") return RunAction(p[2], projections::Action::kResume);
    if (post && p[3] == "rerun") return RunAction(p[2], projections::Action::kRerun);
  }
  Problem(404, "not_found", "no route " + std::string(request_.method_string()) + " " + path_);
}

void Api::Call::GetMe() {
  route_ = "me";
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("name").String(principal_->name).Key("role").String(RoleName(principal_->role));
  w.Key("datastores").BeginObject();
  if (principal_->role == Role::kMember) {
    for (const auto& [ds, grant] : principal_->datastores) {
      w.Key(ds).String(grant == Grant::kEditor ? "editor" : "viewer");
    }
  }
  w.EndObject().EndObject();
  SendJson(200, std::move(body));
}

void Api::Call::Checkpoint() {
  route_ = "ledger_checkpoint";
  const auto cp = api_.ledger_.store().LatestCheckpoint();
  if (!cp) return Problem(404, "no_checkpoint", "the ledger holds no event yet");
  SendJson(200, cp->ToJson());
}

}  // namespace runledger::server
