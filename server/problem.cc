#include "server/problem.h"

#include <cstdint>
#include <random>

#include <simdjson.h>

namespace runledger::server {
namespace {

constexpr std::string_view kProblemContentType = "application/problem+json";
constexpr std::string_view kRequestIdField = "X-Request-Id";
constexpr std::string_view kInternalDetail =
    "The server could not complete the request; report the request_id.";
constexpr std::string_view kUnavailableDetail =
    "The service cannot accept this request right now; retry later.";

// A detail may quote the client's bytes (a path segment, a parameter): keep
// the body valid UTF-8, and so JSON, by writing "?" for each byte of a text
// that is not.
std::string ValidUtf8(std::string_view text) {
  if (simdjson::validate_utf8(text.data(), text.size())) return std::string(text);
  std::string out(text);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  }
  return out;
}

std::string_view TitleFor(unsigned status) {
  std::string_view phrase = http::obsolete_reason(http::int_to_status(status));
  return phrase.empty() ? std::string_view("Error") : phrase;
}

}  // namespace

int HttpStatusFor(Code code) {
  // The one table. A new Code fails to compile here (-Wswitch) until mapped.
  switch (code) {
    case Code::kOk: return 200;
    case Code::kBadRequest: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kNotFound: return 404;
    case Code::kConflict: return 409;
    case Code::kPreconditionFailed: return 412;
    case Code::kPayloadTooLarge: return 413;
    case Code::kUnsupportedMediaType: return 415;
    case Code::kUnprocessable: return 422;
    case Code::kUnavailable: return 503;
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string ProblemJson(unsigned status, std::string_view code,
                        std::string_view title, std::string_view detail,
                        std::string_view request_id,
                        const ProblemMembers& extra) {
  std::string out;
  ledger::JsonWriter w(&out);
  w.BeginObject()
      .Key("type").String("about:blank")
      .Key("title").String(title)
      .Key("status").Uint(status)
      .Key("detail").String(ValidUtf8(detail))
      .Key("code").String(code)
      .Key("request_id").String(request_id);
  if (extra) extra(w);
  w.EndObject();
  return out;
}

Response MakeProblem(unsigned status, std::string_view code,
                     std::string_view title, std::string_view detail,
                     std::string_view request_id, unsigned version,
                     bool keep_alive, const ProblemMembers& extra) {
  Response res{http::int_to_status(status), version};
  // int_to_status maps unknown numbers to `unknown`; keep the number itself.
  res.result(status);
  res.set(http::field::content_type, kProblemContentType);
  res.set(kRequestIdField, request_id);
  res.keep_alive(keep_alive);
  res.body() = ProblemJson(status, code, title, detail, request_id, extra);
  res.prepare_payload();
  return res;
}

Response ProblemFromStatus(const Status& status, std::string_view request_id,
                           unsigned version, bool keep_alive,
                           const ProblemMembers& extra) {
  const unsigned http_status =
      status.ok() ? 500u : static_cast<unsigned>(HttpStatusFor(status.code()));
  std::string_view code = status.reason();
  std::string_view detail = status.message();
  if (http_status == 503) {
    code = "unavailable";
    detail = kUnavailableDetail;
  } else if (http_status >= 500) {
    code = "internal";
    detail = kInternalDetail;
  }
  return MakeProblem(http_status, code, TitleFor(http_status), detail,
                     request_id, version, keep_alive, extra);
}

std::string NewRequestId() {
  // One generator per thread, seeded once from the OS: ids only need to be
  // unique enough to find a request in the logs, not unguessable.
  thread_local std::mt19937_64 engine{[] {
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
  }()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = engine();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xF];
    bits >>= 4;
  }
  return id;
}

bool IsSaneRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

std::string RequestIdFor(const http::request_header<>& header) {
  auto it = header.find(kRequestIdField);
  if (it != header.end() && IsSaneRequestId(it->value())) {
    return std::string(it->value());
  }
  return NewRequestId();
}

}  // namespace runledger::server
