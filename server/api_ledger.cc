// Compliance routes (SPEC section 6): GET /v1/export and GET /v1/ledger/proof.

#include "ledger/export.h"
#include "ledger/merkle.h"
#include "ledger/uuid.h"
#include "projections/export_filter.h"
#include "server/internal/api_call.h"

namespace runledger::server {
namespace {

// The transport's only streamed body is the SSE stream, which closes a
// reader whose backlog passes 1 MiB and offers no back-pressure, so an
// export is built in memory and sent whole. This bounds that memory (per
// request, one request per I/O thread at a time); a longer export is refused
// with 422 export_too_large and is made offline with `runledger export`.
constexpr size_t kExportBodyMaxBytes = 256 << 20;
void WriteHashes(JsonWriter& w, const std::vector<ledger::Hash>& hashes) {
  w.BeginArray();
  for (const auto& h : hashes) w.String(ledger::ToHex(h));
  w.EndArray();
}

}  // namespace

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
  const bool csv = format && *format == "csv";
  r.format = csv ? ledger::ExportFormat::kCsv : ledger::ExportFormat::kNdjson;
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
  std::string body;
  bool too_large = false;
  ledger::ExportSummary summary;
  const Status s = ledger::WriteExport(
      api_.ledger_.store(), r,
      [&](std::string_view chunk) {
        too_large = body.size() + chunk.size() > kExportBodyMaxBytes;
        if (!too_large) body.append(chunk);
        return !too_large;
      },
      &summary);
  if (too_large) {
    return Problem(422, "export_too_large",
                   "the export passes " + std::to_string(kExportBodyMaxBytes >> 20) +
                       " MiB: narrow from/to, or run `runledger export` on the server");
  }
  if (!s.ok()) return Fail(s);
  Response response = Json200(200, std::move(body));
  response.set(http::field::content_type,
               csv ? "text/csv; charset=utf-8; header=present" : "application/x-ndjson");
  response.set(http::field::content_disposition,
               "attachment; filename=\"runledger-export-" + std::to_string(summary.first) + "-" +
                   std::to_string(summary.last) + (csv ? ".csv\"" : ".ndjson\""));
  Send(std::move(response));
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
