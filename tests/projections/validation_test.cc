// The schema rules of SPEC section 2: the shared corpus (tests/schemas/corpus.jsonl,
// also checked against the published JSON Schemas by python3-jsonschema) and
// a few rules the corpus cannot express as parsed JSON.

#include "projections/validation.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "ledger/json.h"

#ifndef CORPUS_PATH
#error "CORPUS_PATH must name tests/schemas/corpus.jsonl"
#endif

namespace runledger::projections {
namespace {

// The raw text of the "instance" member of a corpus line, as written by
// make_corpus.py (json.dumps: `"instance": <value>, "valid": <bool>}` last),
// so that I-JSON rules apply to it exactly as to a request body.
std::optional<std::string> InstanceText(const std::string& line) {
  constexpr std::string_view kInstance = "\"instance\": ";
  constexpr std::string_view kValid = ", \"valid\": ";
  const size_t begin = line.find(kInstance);
  const size_t end = line.rfind(kValid);
  if (begin == std::string::npos || end == std::string::npos || end < begin) return std::nullopt;
  return line.substr(begin + kInstance.size(), end - begin - kInstance.size());
}

// ok when the body would be accepted by POST /v1/runs/{id}/events as far as
// the schema goes: I-JSON, then the envelope and payload rules.
Status ValidateBody(std::string_view text) {
  auto parsed = ledger::ParseJson(text);
  if (!parsed) return parsed.error();
  return ValidateEventEnvelope(*parsed, /*bulk=*/false);
}

TEST(ValidationTest, AgreesWithTheSchemaCorpus) {
  std::ifstream corpus(CORPUS_PATH);
  if (!corpus) GTEST_SKIP() << "no corpus at " << CORPUS_PATH << " yet";
  int cases = 0;
  int line_number = 0;
  ledger::JsonParseOptions lenient;
  lenient.allow_large_integer_literals = true;
  for (std::string line; std::getline(corpus, line);) {
    ++line_number;
    if (line.empty()) continue;
    auto entry = ledger::ParseJson(std::string_view(line), lenient);
    ASSERT_TRUE(entry.has_value()) << "corpus line " << line_number << ": " << entry.error().ToString();
    const Json* name = entry->Find("name");
    const Json* schema = entry->Find("schema");
    const Json* valid = entry->Find("valid");
    ASSERT_TRUE(name && schema && valid && valid->is_bool()) << "corpus line " << line_number;
    if (schema->string() != "event") continue;
    const auto text = InstanceText(line);
    ASSERT_TRUE(text.has_value()) << "corpus line " << line_number << " has an unexpected layout";
    const Status verdict = ValidateBody(*text);
    EXPECT_EQ(verdict.ok(), valid->boolean())
        << name->string() << " (line " << line_number << "): the corpus says "
        << (valid->boolean() ? "valid" : "invalid") << ", we say " << verdict.ToString() << "\n  "
        << text->substr(0, 200);
    if (!verdict.ok()) {
      EXPECT_TRUE(verdict.code() == Code::kUnprocessable || verdict.code() == Code::kBadRequest)
          << name->string() << ": " << verdict.ToString();
    }
    ++cases;
  }
  EXPECT_GT(cases, 100);
}

TEST(ValidationTest, IJsonViolationsAreSchemaViolations) {
  for (const char* body : {
           R"({"type":"started","data":{"worker":"w","worker":"v"}})",
           R"({"type":"progressed","data":{"processed":9007199254740992}})",
           R"({"type":"logged","data":{"level":"info","message":"m","fields":{"n":-9007199254740992}}})",
           R"({"type":"progressed","data":{"processed":1e400}})",
           "{\"type\":\"logged\",\"data\":{\"level\":\"info\",\"message\":\"\xff\"}}",
           R"({"type":"logged","data":{"level":"info","message":"\ud800"}})",
       }) {
    const Status s = ValidateBody(body);
    EXPECT_EQ(s.code(), Code::kUnprocessable) << body << ": " << s.ToString();
    EXPECT_EQ(s.reason(), "schema_violation") << body;
  }
  EXPECT_TRUE(ValidateBody(R"({"type":"progressed","data":{"processed":9007199254740991}})").ok());
}

// SPEC: a logged message is at most 64 KiB, counted in bytes of UTF-8 (and
// so are error.message and reason). The schemas can only count code points,
// so the band between (over 65,536 bytes, within 65,536 code points) is
// tested here rather than in the shared corpus.
TEST(ValidationTest, FreeTextIsLimitedTo64KiBOfUtf8) {
  auto repeat = [](std::string_view unit, size_t times) {
    std::string out;
    for (size_t i = 0; i < times; ++i) out.append(unit);
    return out;
  };
  const std::string two_byte = "\\u00e9";  // é, as a JSON escape: 2 bytes once decoded
  const std::string at_limit = repeat(two_byte, 32768);
  const std::string over_limit = repeat(two_byte, 32769);
  const std::string four_byte_over = repeat("\\ud83d\\ude00", 16385);  // 65,540 bytes
  EXPECT_TRUE(ValidateBody(R"({"type":"logged","data":{"level":"info","message":")" + at_limit + "\"}}").ok());
  for (const std::string& body : {
           R"({"type":"logged","data":{"level":"info","message":")" + over_limit + "\"}}",
           R"({"type":"logged","data":{"level":"info","message":")" + four_byte_over + "\"}}",
           R"({"type":"ended","data":{"status":"failure","error":{"message":")" + over_limit + "\"}}}",
           R"({"type":"ended","data":{"status":"aborted","aborted_by":{"kind":"system","id":"s"},"reason":")" +
               over_limit + "\"}}",
       }) {
    const Status s = ValidateBody(body);
    EXPECT_EQ(s.code(), Code::kUnprocessable) << body.substr(0, 60) << ": " << s.ToString();
    EXPECT_EQ(s.reason(), "schema_violation");
    EXPECT_NE(s.message().find("64 KiB"), std::string::npos) << s.message();
  }
}

TEST(ValidationTest, ServerFieldsAreRejected) {
  for (const char* field : {"seq", "position", "recorded_at", "principal", "hash", "v", "run_id",
                            "idempotency_key_sha256"}) {
    const std::string body =
        std::string(R"({"type":"started","data":{"worker":"w"},")") + field + R"(":"1"})";
    EXPECT_FALSE(ValidateBody(body).ok()) << field;
  }
}

TEST(ValidationTest, BulkLinesNeedARunIdAndAnId) {
  auto bulk = [](std::string_view text) {
    auto parsed = ledger::ParseJson(text);
    EXPECT_TRUE(parsed.has_value());
    return ValidateEventEnvelope(*parsed, /*bulk=*/true);
  };
  EXPECT_TRUE(bulk(R"({"run_id":"0190f000-0000-7000-8000-000000000001","id":"e1","type":"started","data":{"worker":"w"}})")
                  .ok());
  EXPECT_EQ(bulk(R"({"run_id":"0190f000-0000-7000-8000-000000000001","type":"started","data":{"worker":"w"}})")
                .reason(),
            "schema_violation");
  EXPECT_EQ(bulk(R"({"id":"e1","type":"started","data":{"worker":"w"}})").reason(), "schema_violation");
  EXPECT_EQ(bulk(R"({"run_id":"not-a-uuid","id":"e1","type":"started","data":{"worker":"w"}})").reason(),
            "schema_violation");
}

TEST(ValidationTest, ClientEventIdsAreOneTo128CodePoints) {
  EXPECT_FALSE(IsValidClientEventId(Json::String("")));
  EXPECT_TRUE(IsValidClientEventId(Json::String("a")));
  EXPECT_TRUE(IsValidClientEventId(Json::String(std::string(128, 'x'))));
  EXPECT_FALSE(IsValidClientEventId(Json::String(std::string(129, 'x'))));
  std::string accents;
  for (int i = 0; i < 128; ++i) accents += "\xc3\xa9";  // 128 code points, 256 bytes
  EXPECT_TRUE(IsValidClientEventId(Json::String(accents)));
  EXPECT_FALSE(IsValidClientEventId(Json::Number(1)));
}

TEST(ValidationTest, OccurredAtIsAnRfc3339DateTime) {
  EXPECT_TRUE(IsRfc3339("2026-05-01T12:34:56Z"));
  EXPECT_TRUE(IsRfc3339("2026-05-01T12:34:56.123456+02:00"));
  EXPECT_FALSE(IsRfc3339("2026-05-01 12:34:56Z"));
  EXPECT_FALSE(IsRfc3339("2026-05-01"));
  EXPECT_FALSE(IsRfc3339("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(IsRfc3339("yesterday"));
}

}  // namespace
}  // namespace runledger::projections
