#pragma once

// The state of one API request, shared by the route files
// (api.cc: routing and access; api_writes.cc; api_reads.cc).

#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger/export.h"
#include "ledger/json_writer.h"
#include "ledger/time.h"
#include "server/api.h"
#include "server/problem.h"
#include "server/query_string.h"

namespace runledger::server {

using ledger::Json;
using ledger::JsonWriter;
using projections::RunState;

inline constexpr size_t kDefaultPageLimit = 100;
inline constexpr size_t kMaxPageLimit = 1000;
inline constexpr size_t kMaxIdempotencyKeyBytes = 255;


// One request: parsed target, caller, and the helpers every route uses.
class Api::Call : public std::enable_shared_from_this<Api::Call> {
 public:
  Call(Api& api, Request request, std::shared_ptr<Exchange> exchange)
      : api_(api), request_(std::move(request)), exchange_(std::move(exchange)),
        started_(std::chrono::steady_clock::now()) {
    request_id_ = RequestIdFor(request_.base());
    const std::string_view target = request_.target();
    const size_t q = target.find('?');
    path_ = std::string(target.substr(0, q));
    if (q != std::string_view::npos) query_ = ParseQueryString(target.substr(q + 1));
    parts_ = SplitPath(path_);
  }

  void Run();

 private:
  // --- plumbing --------------------------------------------------------------
  const std::string* Param(const std::string& name) const {
    auto it = query_.find(name);
    return it == query_.end() ? nullptr : &it->second;
  }
  std::string Header(http::field field) const { return std::string(request_[field]); }
  std::string Header(std::string_view name) const { return std::string(request_[name]); }

  void Send(Response response) {
    response.set("X-Request-Id", request_id_);
    RecordAnswer(response.result_int());
    exchange_->Send(std::move(response));
  }
  // The request's metrics and access log line, once its answer is done.
  void RecordAnswer(unsigned status) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    api_.metrics_.RecordRequest(route_, status, seconds);
    WriteAccessLog(status, seconds);
  }
  void WriteAccessLog(unsigned status, double seconds) {
    std::string line;
    JsonWriter w(&line);
    w.BeginObject().Key("ts").String(ledger::FormatTimestampMs(ledger::NowUnixMs()))
        .Key("method").String(request_.method_string()).Key("path").String(path_)
        .Key("route").String(route_).Key("status").Uint(status)
        .Key("latency_ms").Number(static_cast<double>(static_cast<std::int64_t>(seconds * 1e6)) / 1000.0)
        .Key("principal").String(principal_ ? principal_->name : "")
        .Key("request_id").String(request_id_).EndObject();
    line.push_back('\n');
    api_.access_log_.Write(line);
  }
  Response Json200(unsigned status, std::string body) {
    Response response(static_cast<http::status>(status), request_.version());
    response.set(http::field::content_type, "application/json");
    response.set(http::field::cache_control, "no-store");
    response.body() = std::move(body);
    return response;
  }
  void SendJson(unsigned status, std::string body) { Send(Json200(status, std::move(body))); }
  void Fail(const Status& status, const std::optional<RunState>& run = std::nullopt) {
    ProblemMembers extra;
    if (status.code() == Code::kConflict && run) {
      extra = [run](JsonWriter& w) {
        w.Key("current_status").String(run->status);
        w.Key("allowed_actions").BeginArray();
        for (const auto& action : run->Actions()) w.String(action);
        w.EndArray();
      };
    }
    Send(ProblemFromStatus(status, request_id_, request_.version(), request_.keep_alive(), extra));
  }
  void Problem(unsigned status, std::string_view code, std::string_view detail) {
    Send(MakeProblem(status, code, obsolete_reason(static_cast<http::status>(status)), detail,
                     request_id_, request_.version(), request_.keep_alive()));
  }
  static std::string obsolete_reason(http::status status) {
    return std::string(http::obsolete_reason(status));
  }

  // --- access ----------------------------------------------------------------
  bool Authenticate();
  bool RequireRole(std::initializer_list<Role> roles) {
    for (Role role : roles) {
      if (principal_->role == role || principal_->role == Role::kAdmin) return true;
    }
    Problem(403, "forbidden", "your role may not use this route");
    return false;
  }
  projections::Caller CallerOf() const {
    return {principal_->name, principal_->role == Role::kMember};
  }
  // Loads a run the caller may view; answers 404 otherwise.
  // Wraps a ledger callback so that it runs on this request's I/O thread
  // instead of the committer's.
  projections::Done OnIoThread(projections::Done done) {
    return [exchange = exchange_, done = std::move(done)](const Status& status,
                                                          projections::Outcome outcome) mutable {
      exchange->Defer([done = std::move(done), status, outcome = std::move(outcome)]() mutable {
        done(status, std::move(outcome));
      });
    };
  }
  std::optional<projections::RunSummary> VisibleRun(const std::string& id_text, bool allow_deleted);
  // `run`, or for a 409 that came without one (an idempotency conflict) the
  // run `id` as it is now, so that every 409 carries its status and actions.
  std::optional<RunState> ConflictRun(const Status& status, std::optional<RunState> run,
                                      const std::optional<ledger::Uuid>& id);
  bool ParseLimit(size_t* limit, size_t fallback = kDefaultPageLimit);
  bool ParseUint(const char* name, std::uint64_t* out, std::uint64_t max = UINT64_MAX);
  // Last-Event-ID (SSE resumption): absent or empty leaves *out; otherwise a
  // decimal <= max or 400 bad_request (answered; returns false).
  bool ParseLastEventId(std::uint64_t* out, std::uint64_t max = UINT64_MAX);
  bool IncludeDeleted() const {
    const std::string* flag = Param("include_deleted");
    return flag && *flag == "true" && principal_->SeesDeleted();
  }
  bool RequireJsonBody(std::string_view type = "application/json");
  // An Idempotency-Key, when sent, is one header of 1..kMaxIdempotencyKeyBytes
  // visible ASCII characters (a UUID, say); else 400 (answered; false).
  bool RequireValidIdempotencyKey();
  std::optional<std::string> IdempotencyKeyHash() const {
    auto key = request_.find("Idempotency-Key");
    if (key == request_.end()) return std::nullopt;
    return ledger::ToHex(ledger::Sha256(key->value()));
  }
  bool WantsEventStream() const {
    return std::string_view(request_[http::field::accept]).find("text/event-stream") != std::string_view::npos;
  }

  // --- routes ----------------------------------------------------------------
  void Route();
  void GetMe();
  void CreateRun();
  void AppendEvent(const std::string& run_id);
  void BulkIngest();
  struct BulkLine;
  struct BulkIngestState;
  void AnswerBulk(const BulkIngestState& bulk);
  std::string LineProblem(const Status& status, size_t line_number) const;
  void RunAction(const std::string& run_id, projections::Action action);
  void GetRun(const std::string& run_id);
  void ListRuns(bool counts);
  void RunEvents(const std::string& run_id, bool logs);
  void RunHistory(const std::string& run_id);
  void LedgerEvents();
  void LiveRuns();
  void StreamLogs(const ledger::Uuid& run_id, std::uint32_t after_seq, int min_level);
  void DownloadLog(const ledger::Uuid& run_id, int min_level);
  void Checkpoint();
  void Export();
  void StreamExport(const ledger::ExportRequest& request);  // on an export worker
  void Proof();
  bool ParseRunFilter(projections::RunFilter* filter);

  Api& api_;
  Request request_;
  std::shared_ptr<Exchange> exchange_;
  std::chrono::steady_clock::time_point started_;
  std::string request_id_;
  std::string path_;
  std::vector<std::string> parts_;
  std::map<std::string, std::string> query_;
  std::string route_ = "unmatched";
  Principal local_;
  const Principal* principal_ = nullptr;
  std::shared_ptr<const TokenFile> tokens_;  // keeps principal_ alive
};

}  // namespace runledger::server
