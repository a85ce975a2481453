// Compliance routes (SPEC section 6): GET /v1/export and GET /v1/ledger/proof.

#include <cstdio>
#include <memory>

#include "ledger/export.h"
#include "ledger/merkle.h"
#include "ledger/uuid.h"
#include "projections/export_filter.h"
#include "server/internal/api_call.h"

namespace runledger::server {
namespace {

// What a client refused with 503 exports_busy is told to wait, in seconds.
constexpr int kExportRetryAfterSeconds = 5;

Status ExportsStopping() {
  return {Code::kUnavailable, "export_stopped", "the server is stopping"};
}

void WriteHashes(JsonWriter& w, const std::vector<ledger::Hash>& hashes) {
  w.BeginArray();
  for (const auto& h : hashes) w.String(ledger::ToHex(h));
  w.EndArray();
}

}  // namespace

// Checks the parameters here, on the I/O thread, then hands the export to a
// worker: WriteExport blocks while the client reads.
void Api::Call::Export() {
  route_ = "export";
  if (!RequireRole({Role::kAuditor})) return;
  ledger::ExportRequest r;
  const std::string* from = Param("from");
  const std::string* to = Param("to");
  const auto from_ms = from ? ledger::ParseRfc3339Ms(*from) : std::nullopt;
  const auto to_ms = to ? ledger::ParseRfc3339Ms(*to) : std::nullopt;
  if (!from_ms || !to_ms)
    return Problem(400, "bad_request", "from and to must be RFC 3339 date-times");
  r.from_ms = *from_ms;
  r.to_ms = *to_ms;
  const std::string* format = Param("format");
  if (format && *format != "ndjson" && *format != "csv") {
    return Problem(400, "bad_request", "format must be ndjson or csv");
  }
  r.format =
      format && *format == "csv" ? ledger::ExportFormat::kCsv : ledger::ExportFormat::kNdjson;
  projections::ExportFilter filter;
  if (const std::string* ds = Param("datastore")) filter.datastore = *ds;
  if (const std::string* text = Param("run_id")) {
    filter.run_id = ledger::ParseUuid(*text);
    if (!filter.run_id) return Problem(400, "bad_request", "run_id must be a run id");
  }
  if (Param("since_size")) {
    std::uint64_t since = 0;
    if (!ParseUint("since_size", &since)) return;
    r.since_size = since;
  }
  projections::ApplyExportFilter(api_.queries_, filter, &r);
  if (r.matches) {
    // A filtered CSV may go a long way without a row, hence without a Write
    // that could fail: let StopWorkers() end it there too.
    r.matches = [matches = std::move(r.matches),
                 &exports = api_.exports_](const ledger::Event& e) -> Result<bool> {
      if (exports.stopping()) return ExportsStopping();
      return matches(e);
    };
  }
  const bool accepted = api_.exports_.TryRun(
      [self = shared_from_this(), r = std::move(r)] { self->StreamExport(r); });
  if (!accepted) {
    Response busy =
        MakeProblem(503, "exports_busy", obsolete_reason(http::status::service_unavailable),
                    "at most " + std::to_string(api_.options_.exports_max) +
                        " exports run at once; retry later",
                    request_id_, request_.version(), request_.keep_alive());
    busy.set(http::field::retry_after, std::to_string(kExportRetryAfterSeconds));
    Send(std::move(busy));
  }
}

// The headers go with the first chunk, so an error found before it
// (empty_range, out_of_range, no checkpoint) is still a problem answer; one
// found after it can only cut the connection, and the bundle, which then
// lacks its trailer, fails verification.
void Api::Call::StreamExport(const ledger::ExportRequest& request) {
  const bool csv = request.format == ledger::ExportFormat::kCsv;
  ledger::ExportSummary summary;  // first and last are set before the first chunk
  std::unique_ptr<BodyWriter> body;
  std::uint64_t bytes_written = 0;
  const Status s = ledger::WriteExport(
      api_.ledger_.store(), request,
      [&](std::string_view chunk) {
        if (!body) {
          Response headers = Json200(200, "");
          headers.set(http::field::content_type,
                      csv ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson");
          headers.set(http::field::content_disposition,
                      "attachment; filename=\"runledger-export-" + std::to_string(summary.first) +
                          "-" + std::to_string(summary.last) + (csv ? ".csv\"" : ".ndjson\""));
          headers.set("X-Request-Id", request_id_);
          body = exchange_->StartBody(std::move(headers));
        }
        bytes_written += chunk.size();
        return body->Write(std::string(chunk));
      },
      &summary);
  if (!body) return Fail(s.ok() ? Status::Internal("the export wrote nothing") : s);
  if (s.ok()) {
    body->Finish();
  } else {
    body->Abort();
    std::fprintf(stderr, "runledger: export %s cut after %llu bytes: %s\n", request_id_.c_str(),
                 static_cast<unsigned long long>(bytes_written), s.message().c_str());
  }
  RecordAnswer(200);
}

void Api::Call::Proof() {
  route_ = "ledger_proof";
  if (!RequireRole({Role::kAuditor})) return;
  auto& store = api_.ledger_.store();
  const auto cp = store.LatestCheckpoint();
  const std::uint64_t signed_size = cp ? cp->size : 0;
  const bool inclusion = Param("position") != nullptr;
  if (inclusion == (Param("from_size") || Param("to_size"))) {
    return Problem(400, "bad_request", "give position=N[&tree_size=S] or from_size=A&to_size=B");
  }
  auto beyond = [&](std::uint64_t size) {
    Problem(422, "out_of_range",
            "size " + std::to_string(size) + " is beyond the latest checkpoint's size " +
                std::to_string(signed_size));
  };
  std::string body;
  JsonWriter w(&body);
  if (inclusion) {
    std::uint64_t position = 0;
    std::uint64_t tree_size = signed_size;
    if (!ParseUint("position", &position) || !ParseUint("tree_size", &tree_size)) return;
    if (position == 0) return Problem(400, "bad_request", "position starts at 1");
    if (tree_size > signed_size) return beyond(tree_size);
    if (position > tree_size) {
      return Problem(422, "out_of_range",
                     "position " + std::to_string(position) + " is not in a tree of size " +
                         std::to_string(tree_size));
    }
    auto path = ledger::InclusionProof(store, position - 1, tree_size);
    if (!path) return Fail(path.error());
    auto leaf = store.Subtree({0, position - 1});
    if (!leaf) return Fail(leaf.error());
    w.BeginObject().Key("position").Uint(position).Key("tree_size").Uint(tree_size);
    w.Key("leaf_hash").String(ledger::ToHex(*leaf)).Key("path");
    WriteHashes(w, *path);
    w.EndObject();
    return SendJson(200, std::move(body));
  }
  if (!Param("from_size") || !Param("to_size")) {
    return Problem(400, "bad_request", "a consistency proof needs from_size and to_size");
  }
  std::uint64_t from_size = 0;
  std::uint64_t to_size = 0;
  if (!ParseUint("from_size", &from_size) || !ParseUint("to_size", &to_size)) return;
  if (to_size > signed_size) return beyond(to_size);
  if (from_size > to_size) return Problem(422, "out_of_range", "from_size is larger than to_size");
  auto path = ledger::ConsistencyProof(store, from_size, to_size);
  if (!path) return Fail(path.error());
  w.BeginObject().Key("from_size").Uint(from_size).Key("to_size").Uint(to_size).Key("path");
  WriteHashes(w, *path);
  w.EndObject();
  SendJson(200, std::move(body));
}

}  // namespace runledger::server
