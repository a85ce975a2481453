// Malformed and hostile requests sent over raw TCP to the real server (SPEC
// section 4): broken JSON, deep nesting, huge numbers, invalid UTF-8, wrong
// types, oversize fields and bodies, header injection, path traversal,
// duplicate keys, bad cursors and times, wrong methods and routes, wrong
// content types, bad Idempotency-Key / If-Match / Last-Event-ID, NUL bytes,
// absurd limits. Each must be answered with its 4xx (the exact status and
// code where the SPEC's condition table defines them) and a problem body
// with `code` and `request_id`; afterwards the ledger holds exactly what it
// held before, verifies, and the server still answers /healthz.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ledger/event_store.h"
#include "ledger/json.h"
#include "tests/testing/server_harness.h"

namespace runledger::server {
namespace {

using ledger::Json;
using runledger::testing::HttpClient;
using runledger::testing::IsProblem;
using runledger::testing::ParseBody;
using runledger::testing::RunIn;
using runledger::testing::TokenFor;

// One request as bytes on the wire. status 0: any 4xx; code "": any code.
struct BadRequest {
  std::string name;
  std::string raw;
  unsigned status = 0;
  std::string code;
};

// The runs the corpus aims at.
struct Runs {
  std::string queued, running, success, deleted;
};

// A well-formed HTTP/1.1 request. `extra` holds whole header lines ("A: b\r\n").
std::string Raw(std::string_view method, std::string_view target, std::string_view body = "",
                std::string_view content_type = "application/json", std::string_view extra = "",
                std::string_view token = "admin") {
  std::string raw = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!token.empty()) raw += "Authorization: Bearer " + TokenFor(token) + "\r\n";
  if (!content_type.empty()) raw += "Content-Type: " + std::string(content_type) + "\r\n";
  raw += std::string(extra);
  raw += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  return raw + std::string(body);
}

std::string Nested(int depth, std::string_view open, std::string_view close, std::string_view inner = "1") {
  std::string text;
  for (int i = 0; i < depth; ++i) text += open;
  text += inner;
  for (int i = 0; i < depth; ++i) text += close;
  return text;
}

const std::string kCreated =
    R"({"operation":"scan","datastore":{"id":"ds1"},"triggered_by":{"kind":"api","id":"ci"}})";

// kCreated with `members` added ("," + members before the closing brace).
std::string CreatedWith(std::string_view members) {
  return kCreated.substr(0, kCreated.size() - 1) + "," + std::string(members) + "}";
}

void Add(std::vector<BadRequest>& cases, std::string name, std::string raw, unsigned status = 0,
         std::string code = "") {
  cases.push_back({std::move(name), std::move(raw), status, std::move(code)});
}

void BrokenJson(std::vector<BadRequest>& c, const Runs& runs) {
  const std::vector<std::string> broken = {
      "{", "}", "[", "{\"operation\":", "{\"operation\":\"scan\"", "{\"a\":1}}", "{\"a\" 1}",
      "{'operation':'scan'}", "{operation:\"scan\"}", "nul", "tru", "fals", "01", "1.", ".5", "+1",
      "-", "1e", "[1,]", "{\"a\":1,}", "{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}", "\"unterminated",
      "{\"a\":\"tab\there\"}", "{\"a\":\"nl\nhere\"}", "{} {}", "{}garbage", "NaN", "Infinity",
      "{\"total\":-Infinity}", "[1 2]", "\xEF\xBB\xBF{}" /* BOM */, "{\"a\":0x10}"};
  int n = 0;
  for (const std::string& body : broken) {
    Add(c, "broken json #" + std::to_string(n++) + " on POST /v1/runs", Raw("POST", "/v1/runs", body), 400,
        "bad_request");
  }
  Add(c, "broken json on append", Raw("POST", "/v1/runs/" + runs.running + "/events", "{\"type\":"), 400,
      "bad_request");
  Add(c, "broken json on abort", Raw("POST", "/v1/runs/" + runs.running + "/abort", "{\"reason\""), 400,
      "bad_request");
  Add(c, "broken json on rerun", Raw("POST", "/v1/runs/" + runs.success + "/rerun", "[1,"), 400, "bad_request");
  Add(c, "NUL byte in a JSON body", Raw("POST", "/v1/runs", std::string("{\"operation\":\"sc\0an\"}", 21)), 400,
      "bad_request");
  Add(c, "NUL byte after the JSON text", Raw("POST", "/v1/runs", std::string("{}\0", 3)), 400, "bad_request");
}

void HostileJson(std::vector<BadRequest>& c, const Runs& runs) {
  const std::string events = "/v1/runs/" + runs.running + "/events";
  // Deep nesting: past ledger::kMaxJsonDepth (64) is an I-JSON limit, 422.
  Add(c, "65 nested arrays", Raw("POST", "/v1/runs", Nested(65, "[", "]")), 422, "schema_violation");
  Add(c, "100000 nested arrays", Raw("POST", "/v1/runs", Nested(100000, "[", "]")), 422, "schema_violation");
  Add(c, "100000 nested objects", Raw("POST", "/v1/runs", Nested(100000, "{\"a\":", "}")), 422,
      "schema_violation");
  Add(c, "deep config", Raw("POST", "/v1/runs", CreatedWith("\"config\":" + Nested(70, "{\"k\":", "}"))), 422,
      "schema_violation");
  Add(c, "deep event data", Raw("POST", events, R"({"type":"logged","data":)" + Nested(200, "[", "]") + "}"),
      422, "schema_violation");
  Add(c, "unclosed nesting", Raw("POST", "/v1/runs", std::string(5000, '[')), 0);
  // Numbers outside I-JSON.
  for (const char* number : {"1e400", "-1e400", "9007199254740992", "-9007199254740992",
                             "123456789012345678901234567890", "18446744073709551616"}) {
    Add(c, std::string("config number ") + number,
        Raw("POST", "/v1/runs", CreatedWith(std::string("\"config\":{\"n\":") + number + "}")), 422,
        "schema_violation");
  }
  for (const char* total : {"-1", "1.5", "1e300", "\"3\"", "true", "9007199254740993"}) {
    Add(c, std::string("total ") + total, Raw("POST", "/v1/runs", CreatedWith(std::string("\"total\":") + total)),
        422, "schema_violation");
  }
  Add(c, "processed 1e400", Raw("POST", events, R"({"type":"progressed","data":{"processed":1e400}})"), 422,
      "schema_violation");
  Add(c, "processed -1", Raw("POST", events, R"({"type":"progressed","data":{"processed":-1}})"), 422,
      "schema_violation");
  Add(c, "metric 2^53", Raw("POST", events,
                            R"({"type":"progressed","data":{"processed":0,"metrics":{"m":9007199254740992}}})"),
      422, "schema_violation");
  // Invalid UTF-8 and unpaired surrogates, in values and keys.
  const std::vector<std::pair<std::string, std::string>> utf8 = {
      {"byte FF", "\xFF"},           {"lone continuation", "\x80"}, {"overlong NUL", "\xC0\x80"},
      {"overlong slash", "\xE0\x80\xAF"}, {"truncated", "\xE2\x82"}, {"UTF-8 surrogate", "\xED\xA0\x80"},
      {"above U+10FFFF", "\xF4\x90\x80\x80"}, {"5-byte form", "\xF8\x88\x80\x80\x80"},
      {"escaped lone high surrogate", "\\ud800"}, {"escaped lone low surrogate", "\\udc00"},
      {"escaped reversed pair", "\\udc00\\ud800"}};
  for (const auto& [name, bytes] : utf8) {
    Add(c, "invalid UTF-8 (" + name + ") in a value",
        Raw("POST", "/v1/runs", CreatedWith("\"unit\":\"x" + bytes + "\"")), 422, "schema_violation");
  }
  Add(c, "invalid UTF-8 in a key", Raw("POST", "/v1/runs", CreatedWith("\"config\":{\"\xFF\":1}")), 422,
      "schema_violation");
  Add(c, "invalid UTF-8 in a log message",
      Raw("POST", events, "{\"type\":\"logged\",\"data\":{\"level\":\"info\",\"message\":\"\xC3\"}}"), 422,
      "schema_violation");
  // Duplicate keys, at every level.
  Add(c, "duplicate top-level key",
      Raw("POST", "/v1/runs", CreatedWith(R"("operation":"sync")")), 422, "schema_violation");
  Add(c, "duplicate key in config", Raw("POST", "/v1/runs", CreatedWith(R"("config":{"a":1,"a":2})")), 422,
      "schema_violation");
  Add(c, "duplicate key spelled with an escape",
      Raw("POST", "/v1/runs", CreatedWith(R"("config":{"a":1,"\u0061":2})")), 422, "schema_violation");
  Add(c, "duplicate key in event", Raw("POST", events, R"({"type":"logged","type":"logged","data":{}})"), 422,
      "schema_violation");
  Add(c, "duplicate key in event data",
      Raw("POST", events, R"({"type":"logged","data":{"level":"info","message":"a","message":"b"}})"), 422,
      "schema_violation");
  Add(c, "duplicate reason on abort", Raw("POST", "/v1/runs/" + runs.running + "/abort",
                                          R"({"reason":"a","reason":"b"})"),
      422, "schema_violation");
}

void WrongTypes(std::vector<BadRequest>& c, const Runs& runs) {
  const std::string events = "/v1/runs/" + runs.running + "/events";
  const std::vector<std::pair<std::string, std::string>> created = {
      {"body is an array", "[]"},
      {"body is a string", "\"scan\""},
      {"body is null", "null"},
      {"body is a number", "42"},
      {"empty object", "{}"},
      {"operation is a number", R"({"operation":1,"datastore":{"id":"ds1"},"triggered_by":{"kind":"api","id":"c"}})"},
      {"unknown operation", R"({"operation":"drop","datastore":{"id":"ds1"},"triggered_by":{"kind":"api","id":"c"}})"},
      {"datastore is a string", R"({"operation":"scan","datastore":"ds1","triggered_by":{"kind":"api","id":"c"}})"},
      {"datastore without id", R"({"operation":"scan","datastore":{},"triggered_by":{"kind":"api","id":"c"}})"},
      {"triggered_by is an array", R"({"operation":"scan","datastore":{"id":"ds1"},"triggered_by":[]})"},
      {"triggered_by unknown kind", R"({"operation":"scan","datastore":{"id":"ds1"},"triggered_by":{"kind":"cron","id":"c"}})"},
      {"containers is a string", CreatedWith(R"("containers":"a")")},
      {"containers holds numbers", CreatedWith(R"("containers":[1,2])")},
      {"config is an array", CreatedWith(R"("config":[])")},
      {"unit is a number", CreatedWith(R"("unit":7)")},
      {"unknown member", CreatedWith(R"("owner":"me")")},
      {"client sends rerun_of", CreatedWith(R"("rerun_of":")" + runs.success + "\"")},
      {"client sends resumed_from", CreatedWith(R"("resumed_from":")" + runs.success + "\"")},
      {"run_id is not a UUID", CreatedWith(R"("run_id":"../../etc/passwd")")},
      {"run_id is a number", CreatedWith(R"("run_id":12)")},
      {"client sends seq", CreatedWith(R"("seq":1)")},
      {"client sends hash", CreatedWith(R"("hash":"00")")},
  };
  for (const auto& [name, body] : created) {
    Add(c, "POST /v1/runs: " + name, Raw("POST", "/v1/runs", body), 422, "schema_violation");
  }
  const std::vector<std::pair<std::string, std::string>> event = {
      {"type is a number", R"({"type":5,"data":{}})"},
      {"unknown type", R"({"type":"exploded","data":{}})"},
      {"type deleted", R"({"type":"deleted","data":{}})"},
      {"no data", R"({"type":"logged"})"},
      {"data is an array", R"({"type":"logged","data":[]})"},
      {"client sends seq", R"({"type":"logged","data":{"level":"info","message":"m"},"seq":9})"},
      {"client sends position", R"({"type":"logged","data":{"level":"info","message":"m"},"position":9})"},
      {"client sends recorded_at", R"({"type":"logged","data":{"level":"info","message":"m"},"recorded_at":"2026-01-01T00:00:00Z"})"},
      {"client sends principal", R"({"type":"logged","data":{"level":"info","message":"m"},"principal":"root"})"},
      {"client sends hash", R"({"type":"logged","data":{"level":"info","message":"m"},"hash":"ab"})"},
      {"id is empty", R"({"type":"logged","id":"","data":{"level":"info","message":"m"}})"},
      {"id is a number", R"({"type":"logged","id":5,"data":{"level":"info","message":"m"}})"},
      {"id of 129 characters", R"({"type":"logged","id":")" + std::string(129, 'i') + R"(","data":{"level":"info","message":"m"}})"},
      {"occurred_at is not a time", R"({"type":"logged","occurred_at":"yesterday","data":{"level":"info","message":"m"}})"},
      {"occurred_at month 13", R"({"type":"logged","occurred_at":"2026-13-01T00:00:00Z","data":{"level":"info","message":"m"}})"},
      {"unknown log level", R"({"type":"logged","data":{"level":"fatal","message":"m"}})"},
      {"message is a number", R"({"type":"logged","data":{"level":"info","message":1}})"},
      {"message over 64 KiB", R"({"type":"logged","data":{"level":"info","message":")" + std::string(65537, 'm') + "\"}}"},
      {"processed is a string", R"({"type":"progressed","data":{"processed":"1"}})"},
      {"container status unknown", R"({"type":"progressed","data":{"processed":0,"containers":[{"name":"a","status":"lost"}]}})"},
      {"ended with unknown status", R"({"type":"ended","data":{"status":"exploded"}})"},
      {"failure without error", R"({"type":"ended","data":{"status":"failure"}})"},
      {"success with error", R"({"type":"ended","data":{"status":"success","error":{"message":"x"}}})"},
      {"aborted by a user through the event route", R"({"type":"ended","data":{"status":"aborted","aborted_by":{"kind":"user","id":"u"}}})"},
      {"started with unknown member", R"({"type":"started","data":{"worker":"w","pid":1}})"},
  };
  for (const auto& [name, body] : event) {
    Add(c, "append: " + name, Raw("POST", events, body), 422, "schema_violation");
  }
  Add(c, "abort with unknown member", Raw("POST", "/v1/runs/" + runs.running + "/abort", R"({"why":"x"})"), 422,
      "schema_violation");
  Add(c, "abort reason is a number", Raw("POST", "/v1/runs/" + runs.running + "/abort", R"({"reason":5})"), 422,
      "schema_violation");
  Add(c, "rerun with a reason", Raw("POST", "/v1/runs/" + runs.success + "/rerun", R"({"reason":"x"})"), 422,
      "schema_violation");
  Add(c, "delete reason is an object", Raw("DELETE", "/v1/runs/" + runs.success, R"({"reason":{}})"), 422,
      "schema_violation");
}

void Sizes(std::vector<BadRequest>& c, const Runs& runs) {
  const std::string big(1 << 20, 'x');
  Add(c, "body of 1 MiB + 1 on POST /v1/runs",
      Raw("POST", "/v1/runs", "{\"a\":\"" + big.substr(0, (1 << 20) - 7) + "\"}"), 413, "payload_too_large");
  Add(c, "announced body over 1 MiB, none sent",
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TokenFor("admin") +
          "\r\nContent-Type: application/json\r\nContent-Length: 1048577\r\n\r\n",
      413, "payload_too_large");
  Add(c, "announced append body of 1 GiB",
      "POST /v1/runs/" + runs.running + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
          TokenFor("worker") + "\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n",
      413, "payload_too_large");
  Add(c, "announced bulk body over 64 MiB",
      "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TokenFor("worker") +
          "\r\nContent-Type: application/x-ndjson\r\nContent-Length: 67108865\r\n\r\n",
      413, "payload_too_large");
  Add(c, "chunked body over 1 MiB",
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TokenFor("admin") +
          "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n" + big + "x\r\n0\r\n\r\n",
      413, "payload_too_large");
  Add(c, "a field of 1 MiB in a body of 1 MiB + 20",
      Raw("POST", "/v1/runs/" + runs.running + "/events", R"({"type":"logged","data":{"m":")" + big + "\"}}"), 413,
      "payload_too_large");
  Add(c, "header of 20 KiB",
      Raw("GET", "/v1/runs", "", "", "X-Padding: " + std::string(20 << 10, 'p') + "\r\n"), 431, "headers_too_large");
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  Add(c, "2000 header lines", Raw("GET", "/v1/runs", "", "", many), 431, "headers_too_large");
  Add(c, "target of 20 KiB", Raw("GET", "/v1/runs?x=" + std::string(20 << 10, 'a')), 431, "headers_too_large");
  Add(c, "token of 17 KiB", Raw("GET", "/v1/runs", "", "", "Authorization: Bearer " + std::string(17 << 10, 't') + "\r\n", ""),
      431, "headers_too_large");
  Add(c, "Content-Length overflows 64 bits",
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 99999999999999999999999\r\n\r\n{}",
      0);
  Add(c, "negative Content-Length",
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: -5\r\n\r\n{}",
      400, "bad_request");
  Add(c, "non-numeric Content-Length",
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: two\r\n\r\n{}",
      400, "bad_request");
}

void Transport(std::vector<BadRequest>& c) {
  const std::string auth = "Authorization: Bearer " + TokenFor("admin") + "\r\n";
  // Header injection: CR or LF inside a header value, and other framing tricks.
  Add(c, "bare CR in a header value", "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                                          "X-Request-Id: abc\rSet-Cookie: evil=1\r\n\r\n", 400, "bad_request");
  Add(c, "bare CR in the Authorization value",
      "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TokenFor("admin") +
          "\rX-Admin: 1\r\n\r\n", 400, "bad_request");
  Add(c, "CR CR LF line end", "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\r\n" + auth + "\r\n", 400,
      "bad_request");
  Add(c, "NUL in a header value", "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                                      std::string("X-Request-Id: a\0b\r\n\r\n", 21), 400, "bad_request");
  Add(c, "NUL in the target", std::string("GET /v1/runs\0/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 43), 400,
      "bad_request");
  Add(c, "space in a header name", "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n", 400,
      "bad_request");
  Add(c, "header line without a colon", "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nNoColonHere\r\n\r\n", 400,
      "bad_request");
  Add(c, "header name with a colon only", "GET /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n: empty\r\n\r\n", 400,
      "bad_request");
  Add(c, "request smuggling: two Content-Lengths",
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
          "Content-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}",
      400, "bad_request");
  Add(c, "request smuggling: chunked then identity",
      "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
          "Content-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
      0);
  Add(c, "bad chunk size", "POST /v1/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n" + auth +
                               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
      400, "bad_request");
  Add(c, "garbage request line", "GARBAGE\r\n\r\n", 400, "bad_request");
  Add(c, "TLS client hello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400,
      "bad_request");
  Add(c, "HTTP/0.9 request", "GET /healthz\r\n\r\n", 400, "bad_request");
  Add(c, "unknown HTTP version", "GET /healthz HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request");
  Add(c, "extra token in the request line", "GET /healthz HTTP/1.1 extra\r\nHost: 127.0.0.1\r\n\r\n", 400,
      "bad_request");
  Add(c, "two spaces in the request line", "GET  /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400,
      "bad_request");
  Add(c, "space inside the target", "GET /v1/runs /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request");
  Add(c, "control character in the target", "GET /v1/\x01runs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400,
      "bad_request");
  Add(c, "DEL in the target", "GET /v1/\x7fruns HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request");
  Add(c, "method with a slash", "GE/T /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "bad_request");
}

void Paths(std::vector<BadRequest>& c, const Runs& runs) {
  for (const char* target :
       {"/v1/runs/../../etc/passwd", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd",
        "/..%2f..%2fetc%2fpasswd", "/..%252f..%252fetc%252fpasswd", "/....//....//etc/passwd",
        "/..\\..\\etc\\passwd", "/..%5c..%5cetc%5cpasswd", "/%c0%ae%c0%ae/etc/passwd", "//etc/passwd",
        "/index.html/../../etc/passwd", "/app.js/..%2f..%2fsecret", "/.%2e/.%2e/etc/passwd",
        "/v1/../../etc/passwd", "/v1/%2e%2e/%2e%2e/etc/passwd", "/web/../../../data/db/CURRENT",
        "/signing-key.pem", "/data/signing-key.pem", "/%00", "/index.html%00.js", "/.git/config",
        "http://evil.example/etc/passwd", "/v2/runs", "/v1", "/v1/", "/v1/nope", "/v1/runs/x/y/z/w",
        "/v1//runs", "/v1/ledger", "/v1/ledger/proof/extra", "/V1/runs"}) {
    Add(c, std::string("traversal or unknown route GET ") + target, Raw("GET", target), 404);
  }
  for (const std::string& id : {std::string("%2e%2e"), std::string(".."), std::string("..%2f..%2fetc%2fpasswd"),
                                std::string("%00"), std::string("%ff%fe"), runs.running + "%00",
                                runs.running + "%2f..", std::string(36, 'z'), std::string(5000, 'a'),
                                std::string("00000000-0000-0000-0000-000000000000"), runs.deleted}) {
    Add(c, "GET /v1/runs/" + id.substr(0, 40), Raw("GET", "/v1/runs/" + id), 404, "run_not_found");
  }
  Add(c, "append to ../../", Raw("POST", "/v1/runs/..%2f../events", R"({"type":"logged","data":{"level":"info","message":"m"}})"),
      404, "run_not_found");
  Add(c, "abort a run that does not exist", Raw("POST", "/v1/runs/00000000-0000-7000-8000-000000000000/abort"), 404,
      "run_not_found");
  Add(c, "delete a deleted run", Raw("DELETE", "/v1/runs/" + runs.deleted), 404, "run_not_found");
  Add(c, "history of a deleted run", Raw("GET", "/v1/runs/" + runs.deleted + "/history"), 404, "run_not_found");
  Add(c, "unknown sub-route of a run", Raw("GET", "/v1/runs/" + runs.running + "/secrets"), 404);
  Add(c, "events of a run under a trailing segment", Raw("GET", "/v1/runs/" + runs.running + "/events/extra"), 404);
}

void Methods(std::vector<BadRequest>& c, const Runs& runs) {
  const std::string run = "/v1/runs/" + runs.running;
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {"PUT", "/v1/runs"},         {"PATCH", run},           {"DELETE", "/v1/runs"},
      {"POST", "/healthz"},        {"PUT", "/v1/events"},    {"DELETE", "/v1/events"},
      {"POST", run},               {"PUT", run + "/events"}, {"GET", run + "/abort"},
      {"GET", run + "/rerun"},     {"DELETE", run + "/events"}, {"POST", "/v1/ledger/checkpoint"},
      {"POST", "/v1/export"},      {"POST", "/v1/runs/counts"}, {"TRACE", "/v1/runs"},
      {"OPTIONS", "/v1/runs"},     {"PROPFIND", "/v1/runs"}, {"FOO", "/v1/runs"}};
  for (const auto& [method, target] : wrong) {
    Add(c, "wrong method " + method + " " + target, Raw(method, target, "", ""), 0);
  }
  Add(c, "CONNECT", "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n", 0);
}

void ContentTypes(std::vector<BadRequest>& c, const Runs& runs) {
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                           "application/xml", "application/jsonp", "application/json-seq", "application/x-ndjson",
                           "json", "*/*"}) {
    Add(c, std::string("POST /v1/runs as ") + type, Raw("POST", "/v1/runs", kCreated, type), 415,
        "unsupported_media_type");
  }
  Add(c, "POST /v1/runs without Content-Type", Raw("POST", "/v1/runs", kCreated, ""), 415, "unsupported_media_type");
  Add(c, "append as text/plain", Raw("POST", "/v1/runs/" + runs.running + "/events",
                                     R"({"type":"logged","data":{"level":"info","message":"m"}})", "text/plain"),
      415, "unsupported_media_type");
  Add(c, "abort as form", Raw("POST", "/v1/runs/" + runs.running + "/abort", "reason=x",
                              "application/x-www-form-urlencoded"),
      415, "unsupported_media_type");
  for (const char* type : {"application/json", "text/plain", "application/x-www-form-urlencoded", ""}) {
    Add(c, std::string("bulk as ") + (*type ? type : "nothing"),
        Raw("POST", "/v1/events",
            "{\"run_id\":\"" + runs.running + R"(","id":"b1","type":"logged","data":{"level":"info","message":"m"}})",
            type, "", "worker"),
        415, "unsupported_media_type");
  }
}

void Queries(std::vector<BadRequest>& c, const Runs& runs) {
  const std::string run = "/v1/runs/" + runs.running;
  auto bad = [&](std::string target, std::string_view token = "admin") {
    Add(c, "GET " + target.substr(0, 80), Raw("GET", target, "", "", "", token), 400, "bad_request");
  };
  for (const std::string& cursor :
       {std::string("zz"), std::string(""), std::string(48, 'G'), std::string(48, 'A'), std::string(47, '0'),
        std::string(49, '0'), std::string(10000, 'f'), std::string(46, '0') + "%00", std::string("%ff%ff"),
        std::string("-1"), std::string(48, '0').replace(0, 3, "%20")}) {
    bad("/v1/runs?cursor=" + cursor);
  }
  for (const std::string limit : {"0", "1001", "-1", "1e3", "", "99999999999999999999999", "0x10", "1.0", "%00",
                                   "+5", "%2b5", "5%20", "18446744073709551616", "twenty"}) {
    bad("/v1/runs?limit=" + limit);
    bad(run + "/events?limit=" + limit);
  }
  for (const std::string after : {"-1", "abc", "18446744073709551616", "1e2", ""}) {
    bad("/v1/events?after=" + after);
    bad(run + "/history?after_seq=" + after);
  }
  bad(run + "/events?after_seq=4294967296");
  bad(run + "/logs?after_seq=4294967296");
  for (const std::string at : {"0", "99", "-1", "1e1", "x"}) bad(run + "?at_seq=" + at);
  bad(run + "?at_seq=1&as_of=2026-01-01T00:00:00Z");
  for (const std::string time :
       {"yesterday", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T25:00:00Z",
        "2026-01-01T00:00:00", "2026-01-01", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00.Z",
        "%00", "9999999999999", "2026-01-01T00:00:00Z%00"}) {
    bad(run + "?as_of=" + time);
    bad("/v1/runs?created_after=" + time);
  }
  bad("/v1/runs?created_before=never");
  bad("/v1/events?from=never");
  bad("/v1/events?to=2026-01-01T00:00:60.1Zjunk");
  bad("/v1/export?from=never&to=2026-01-01T00:00:00Z");
  bad("/v1/export?from=2026-01-01T00:00:00Z");
  // A bound whose offset leaves years 0000..9999 could not be written in the
  // bundle's header (which verify-export then refused).
  bad("/v1/export?from=0000-01-01T00:00:00%2B01:00&to=2100-01-01T00:00:00Z");
  bad("/v1/export?from=2000-01-01T00:00:00Z&to=9999-12-31T23:59:59-01:00");
  bad("/v1/export?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&format=xml");
  bad("/v1/export?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&since_size=-1");
  bad("/v1/export?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z&run_id=..%2f..");
  bad("/v1/ledger/proof?position=abc");
  bad("/v1/ledger/proof?position=0");
  bad("/v1/ledger/proof");
  bad("/v1/ledger/proof?position=1&from_size=1&to_size=2");
  bad("/v1/ledger/proof?from_size=1");
  bad("/v1/runs?status=exploded");
  bad("/v1/runs?status=queued,%00");
  bad("/v1/runs?operation=rm%20-rf");
  bad("/v1/runs?warning=maybe");
  bad("/v1/runs?rerun_of=not-a-uuid");
  bad("/v1/runs?resumed_from=%ff");
  bad("/v1/events?run_id=..%2f..%2fetc");
  bad(run + "/logs?level=fatal");
  bad(run + "/logs?level=%00");
  Add(c, "proof beyond the checkpoint", Raw("GET", "/v1/ledger/proof?position=999999"), 422, "out_of_range");
  Add(c, "consistency from > to", Raw("GET", "/v1/ledger/proof?from_size=3&to_size=2"), 422, "out_of_range");
  Add(c, "export of an empty range",
      Raw("GET", "/v1/export?from=1999-01-01T00:00:00Z&to=1999-01-02T00:00:00Z"), 422, "empty_range");
}

void HeadersOfTheApi(std::vector<BadRequest>& c, const Runs& runs) {
  const std::string events = "/v1/runs/" + runs.running + "/events";
  const std::string progressed = R"({"type":"progressed","data":{"processed":1}})";
  for (const char* if_match : {"\"abc\"", "\"99\"", "\"0\"", "*", "W/\"2\"", "\"\"", "\"-1\"", "\"2", "2\"",
                               "\"99999999999999999999\"", "\"1e1\"", "\"2\", \"3\""}) {
    Add(c, std::string("If-Match: ") + if_match,
        Raw("POST", events, progressed, "application/json", std::string("If-Match: ") + if_match + "\r\n"), 412,
        "version_conflict");
  }
  for (const std::string& key : {std::string(""), std::string(300, 'k'), std::string(" "), std::string("\xFF\xFE"),
                                 std::string("a b"), std::string("key\x7f")}) {
    Add(c, "Idempotency-Key of " + std::to_string(key.size()) + " bad bytes on POST /v1/runs",
        Raw("POST", "/v1/runs", kCreated, "application/json", "Idempotency-Key: " + key + "\r\n"), 400,
        "bad_request");
  }
  Add(c, "bad Idempotency-Key on rerun",
      Raw("POST", "/v1/runs/" + runs.success + "/rerun", "", "", "Idempotency-Key: " + std::string(256, 'r') + "\r\n"),
      400, "bad_request");
  Add(c, "bad Idempotency-Key on abort",
      Raw("POST", "/v1/runs/" + runs.running + "/abort", "", "", "Idempotency-Key: \r\n"), 400, "bad_request");
  const std::string sse = "Accept: text/event-stream\r\n";
  for (const char* last : {"abc", "-1", "1e5", "99999999999999999999", "0x10", "1.5", "%31"}) {
    Add(c, std::string("Last-Event-ID ") + last + " on /v1/runs/live",
        Raw("GET", "/v1/runs/live", "", "", sse + "Last-Event-ID: " + last + "\r\n"), 400, "bad_request");
    Add(c, std::string("Last-Event-ID ") + last + " on /v1/events",
        Raw("GET", "/v1/events", "", "", sse + "Last-Event-ID: " + last + "\r\n"), 400, "bad_request");
  }
  Add(c, "Last-Event-ID past a run's seq range on logs",
      Raw("GET", "/v1/runs/" + runs.running + "/logs", "", "", sse + "Last-Event-ID: 4294967296\r\n"), 400,
      "bad_request");
}

void Access(std::vector<BadRequest>& c, const Runs& runs) {
  const std::string run = "/v1/runs/" + runs.running;
  Add(c, "no token", Raw("GET", "/v1/runs", "", "", "", ""), 401, "unauthorized");
  Add(c, "unknown token", Raw("GET", "/v1/runs", "", "", "", "nobody"), 401, "unauthorized");
  for (const char* auth : {"Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "bearer token-admin", "Token token-admin",
                           "Bearer token-admin extra", "Bearer  token-admin", "Bearer token-admin\xff"}) {
    Add(c, std::string("Authorization: ") + auth,
        Raw("GET", "/v1/runs", "", "", std::string("Authorization: ") + auth + "\r\n", ""), 401, "unauthorized");
  }
  Add(c, "unknown token on a write", Raw("POST", "/v1/runs", kCreated, "application/json", "", "nobody"), 401,
      "unauthorized");
  Add(c, "auditor creates a run", Raw("POST", "/v1/runs", kCreated, "application/json", "", "auditor"), 403,
      "forbidden");
  Add(c, "viewer creates a run", Raw("POST", "/v1/runs", kCreated, "application/json", "", "viewer"), 403,
      "forbidden");
  Add(c, "outsider creates a run on ds1", Raw("POST", "/v1/runs", kCreated, "application/json", "", "outsider"), 403,
      "forbidden");
  Add(c, "viewer appends", Raw("POST", run + "/events", R"({"type":"logged","data":{"level":"info","message":"m"}})",
                               "application/json", "", "viewer"),
      403, "forbidden");
  Add(c, "worker aborts", Raw("POST", run + "/abort", "", "", "", "worker"), 403, "forbidden");
  Add(c, "viewer aborts", Raw("POST", run + "/abort", "", "", "", "viewer"), 403, "forbidden");
  Add(c, "member reads the ledger", Raw("GET", "/v1/events", "", "", "", "editor"), 403, "forbidden");
  Add(c, "worker exports", Raw("GET", "/v1/export?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z", "", "", "", "worker"),
      403, "forbidden");
  Add(c, "outsider reads a ds1 run", Raw("GET", run, "", "", "", "outsider"), 404, "run_not_found");
  Add(c, "outsider aborts a ds1 run", Raw("POST", run + "/abort", "", "", "", "outsider"), 404, "run_not_found");
}

void States(std::vector<BadRequest>& c, const Runs& runs) {
  Add(c, "started on a running run",
      Raw("POST", "/v1/runs/" + runs.running + "/events", R"({"type":"started","data":{"worker":"w2"}})"), 409,
      "invalid_transition");
  Add(c, "progress going past total", Raw("POST", "/v1/runs/" + runs.running + "/events",
                                          R"({"type":"progressed","data":{"processed":9007199254740991}})"),
      409, "invalid_transition");
  Add(c, "log on a finished run", Raw("POST", "/v1/runs/" + runs.success + "/events",
                                      R"({"type":"logged","data":{"level":"info","message":"m"}})"),
      409, "invalid_transition");
  Add(c, "abort a finished run", Raw("POST", "/v1/runs/" + runs.success + "/abort"), 409, "action_not_supported");
  Add(c, "delete a running run", Raw("DELETE", "/v1/runs/" + runs.running), 409, "action_not_supported");
  Add(c, "rerun a queued run", Raw("POST", "/v1/runs/" + runs.queued + "/rerun"), 409, "action_not_supported");
  Add(c, "create over an existing run id with another payload",
      Raw("POST", "/v1/runs", R"({"operation":"sync","datastore":{"id":"ds1"},"triggered_by":{"kind":"api","id":"ci"},"run_id":")" +
                                   runs.running + "\"}"),
      409, "idempotency_mismatch");
}

std::vector<BadRequest> Corpus(const Runs& runs) {
  std::vector<BadRequest> cases;
  BrokenJson(cases, runs);
  HostileJson(cases, runs);
  WrongTypes(cases, runs);
  Sizes(cases, runs);
  Transport(cases);
  Paths(cases, runs);
  Methods(cases, runs);
  ContentTypes(cases, runs);
  Queries(cases, runs);
  HeadersOfTheApi(cases, runs);
  Access(cases, runs);
  States(cases, runs);
  return cases;
}

// Any 4xx with a problem body whose request_id repeats X-Request-Id.
::testing::AssertionResult IsClientProblem(const Response& response) {
  const unsigned status = response.result_int();
  if (status < 400 || status >= 500 || response[http::field::content_type] != "application/problem+json") {
    return ::testing::AssertionFailure() << "expected a 4xx problem, got " << status << " "
                                         << response[http::field::content_type] << ": "
                                         << response.body().substr(0, 300);
  }
  auto body = ledger::ParseJson(response.body());
  if (!body) return ::testing::AssertionFailure() << "problem body is not I-JSON: " << body.error().message();
  const Json* code = body->Find("code");
  const Json* request_id = body->Find("request_id");
  if (!code || !code->is_string() || code->string().empty() || !request_id || !request_id->is_string() ||
      request_id->string() != response["X-Request-Id"]) {
    return ::testing::AssertionFailure() << "problem without code or request_id: " << response.body();
  }
  return IsProblem(response, status, code->string());
}

class BadInputTest : public runledger::testing::ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    runs_.queued = RunIn(admin(), "queued");
    runs_.running = RunIn(admin(), "running");
    runs_.success = RunIn(admin(), "success");
    runs_.deleted = RunIn(admin(), "deleted");
  }

  // The latest checkpoint's size once it covers every event (checkpoints
  // follow appends within the store's interval).
  std::uint64_t SettledCheckpointSize(std::uint64_t events) {
    std::uint64_t size = 0;
    runledger::testing::WaitFor([&] {
      const Response r = As("auditor").Send("GET", "/v1/ledger/checkpoint");
      if (r.result_int() != 200) return false;
      size = static_cast<std::uint64_t>(runledger::testing::Num(ParseBody(r), "size"));
      return size == events;
    });
    return size;
  }

  Runs runs_;
};

TEST_F(BadInputTest, EveryHostileRequestIsAClientErrorAndChangesNothing) {
  const std::uint64_t events_before = EventCount();
  ASSERT_EQ(events_before, 10u);
  const std::uint64_t checkpoint_before = SettledCheckpointSize(events_before);
  ASSERT_EQ(checkpoint_before, events_before);

  const std::vector<BadRequest> cases = Corpus(runs_);
  EXPECT_GE(cases.size(), 200u);
  RecordProperty("hostile_requests", static_cast<int>(cases.size()));
  for (const BadRequest& bad : cases) {
    SCOPED_TRACE(bad.name);
    HttpClient raw(server_->port());
    // The server may answer (413, 431) and close before an oversize request
    // is fully written: a failed write still has its answer to read.
    const bool written = raw.WriteRaw(bad.raw);
    const std::string write_error = raw.last_error();
    const std::optional<Response> response = raw.Read(std::chrono::seconds(10));
    ASSERT_TRUE(response.has_value()) << "no answer: " << raw.last_error()
                                      << (written ? "" : "; writing failed: " + write_error);
    if (bad.status == 0) {
      EXPECT_TRUE(IsClientProblem(*response));
    } else if (bad.code.empty()) {
      EXPECT_EQ(response->result_int(), bad.status) << response->body().substr(0, 300);
      EXPECT_TRUE(IsClientProblem(*response));
    } else {
      EXPECT_TRUE(IsProblem(*response, bad.status, bad.code));
    }
  }

  EXPECT_EQ(As("anonymous").Send("GET", "/healthz").result_int(), 200u);
  EXPECT_EQ(EventCount(), events_before);
  EXPECT_EQ(SettledCheckpointSize(events_before), checkpoint_before);

  // What `runledger verify` checks: every leaf and the root against the
  // latest checkpoint, offline.
  server_->Stop();
  ledger::StoreOptions options;
  options.data_dir = server_->data_dir();
  options.start_committer = false;
  auto store = ledger::EventStore::Open(options, nullptr);
  ASSERT_TRUE(store) << store.error().ToString();
  ledger::VerifyReport report;
  const Status verified = ledger::VerifyStore(**store, std::nullopt, &report);
  EXPECT_TRUE(verified.ok()) << verified.ToString();
  EXPECT_EQ(report.events, events_before);
  EXPECT_EQ(report.checkpoint_size, events_before);
}

// Each line of a bulk request is judged alone: hostile lines get their
// problem in place (200 overall), and nothing is appended.
TEST_F(BadInputTest, HostileBulkLinesAreEachRejectedAndAppendNothing) {
  const std::uint64_t events_before = EventCount();
  const std::string id = runs_.running;
  const std::vector<std::pair<std::string, unsigned>> lines = {
      {"{", 400},
      {"[1,]", 400},
      {Nested(100, "[", "]"), 422},
      {R"({"run_id":")" + id + R"(","id":"a","type":"logged","data":{"level":"info","message":"\ud800"}})", 422},
      {"{\"run_id\":\"" + id + "\",\"id\":\"a\",\"type\":\"logged\",\"data\":{\"level\":\"info\",\"message\":\"\xFF\"}}", 422},
      {R"({"run_id":")" + id + R"(","id":"a","id":"b","type":"logged","data":{"level":"info","message":"m"}})", 422},
      {R"({"run_id":")" + id + R"(","type":"logged","data":{"level":"info","message":"no id"}})", 422},
      {R"({"run_id":"../../etc/passwd","id":"a","type":"logged","data":{"level":"info","message":"m"}})", 422},
      {R"({"run_id":")" + id + R"(","id":"a","type":"logged","data":{"level":"info","message":"m"},"seq":1})", 422},
      {R"({"run_id":")" + id + R"(","id":"a","type":"progressed","data":{"processed":1e400}})", 422},
      {R"({"run_id":")" + id + R"(","id":"a","type":"started","data":{"worker":"again"}})", 409},
      {R"({"run_id":"00000000-0000-7000-8000-000000000000","id":"a","type":"logged","data":{"level":"info","message":"m"}})", 404},
      {std::string("{\"run_id\":\"") + id + "\",\"id\":\"a\",\"type\":\"logged\",\"data\":{\"m\":\"" +
           std::string((1 << 20) + 1, 'x') + "\"}}",
       413},
  };
  std::string body;
  for (const auto& [line, status] : lines) body += line + "\r\n\n";  // a blank line after each
  body += std::string("\0\0\0", 3);
  HttpClient raw(server_->port());
  ASSERT_TRUE(raw.WriteRaw(Raw("POST", "/v1/events", body, "application/x-ndjson", "", "worker")));
  const std::optional<Response> response = raw.Read(std::chrono::seconds(30));
  ASSERT_TRUE(response.has_value()) << raw.last_error();
  ASSERT_EQ(response->result_int(), 200u) << response->body().substr(0, 500);
  std::vector<std::string> results;
  const std::string& text = response->body();
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    results.push_back(text.substr(start, end - start));
    start = end == std::string::npos ? text.size() : end + 1;
  }
  ASSERT_EQ(results.size(), lines.size() + 1);  // the NUL line too
  for (size_t i = 0; i < results.size(); ++i) {
    SCOPED_TRACE("result " + std::to_string(i));
    const Json result = ParseBody(results[i]);
    const unsigned expected = i < lines.size() ? lines[i].second : 400;
    EXPECT_EQ(runledger::testing::Num(result, "status"), expected) << results[i].substr(0, 300);
    EXPECT_EQ(runledger::testing::Num(result, "line"), static_cast<double>(2 * i + 1));
    EXPECT_NE(result.Find("code"), nullptr);
    EXPECT_NE(result.Find("request_id"), nullptr);
  }
  EXPECT_EQ(EventCount(), events_before);
}

}  // namespace
}  // namespace runledger::server
