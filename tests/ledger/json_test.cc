#include "ledger/json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace runledger::ledger {
namespace {

Json Parsed(std::string_view text) {
  Result<Json> result = ParseJson(text);
  EXPECT_TRUE(result.has_value()) << text << " -> " << result.status().ToString();
  return result ? *result : Json();
}

void ExpectBadRequest(std::string_view text) {
  SCOPED_TRACE(testing::Message() << "input: " << text);
  Result<Json> result = ParseJson(text);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code(), Code::kBadRequest) << result.error().ToString();
  EXPECT_EQ(result.error().reason(), "bad_request");
  EXPECT_FALSE(result.error().message().empty());
}

// Returns the message, for tests that check where the problem is named.
std::string ExpectSchemaViolation(std::string_view text) {
  SCOPED_TRACE(testing::Message() << "input: " << text);
  Result<Json> result = ParseJson(text);
  if (result.has_value()) {
    ADD_FAILURE() << "parsed";
    return "";
  }
  EXPECT_EQ(result.error().code(), Code::kUnprocessable) << result.error().ToString();
  EXPECT_EQ(result.error().reason(), "schema_violation");
  return result.error().message();
}

std::string Nested(int depth, std::string_view open, std::string_view close) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += open;
  text += "1";
  for (int i = 0; i < depth; ++i) text += close;
  return text;
}

// ---- The document model.

TEST(Json, DefaultIsNull) {
  Json j;
  EXPECT_TRUE(j.is_null());
  EXPECT_EQ(j.kind(), Json::Kind::kNull);
}

TEST(Json, FactoriesMakeTheirKind) {
  EXPECT_TRUE(Json::Bool(true).boolean());
  EXPECT_EQ(Json::Bool(false).kind(), Json::Kind::kBool);
  EXPECT_EQ(Json::Number(2.5).number(), 2.5);
  EXPECT_EQ(Json::String("x").string(), "x");
  EXPECT_EQ(Json::MakeArray({Json(), Json::Bool(true)}).array().size(), 2u);
  EXPECT_EQ(Json::MakeObject({{"a", Json()}}).object().at(0).first, "a");
  EXPECT_TRUE(Json::MakeArray().is_array());
  EXPECT_TRUE(Json::MakeObject().is_object());
}

TEST(Json, ReadAccessorsOfAnotherKindGiveEmptyValues) {
  const Json s = Json::String("text");
  EXPECT_FALSE(s.boolean());
  EXPECT_EQ(s.number(), 0.0);
  EXPECT_TRUE(s.array().empty());
  EXPECT_TRUE(s.object().empty());
  EXPECT_EQ(Json::Number(1).string(), "");
}

TEST(Json, MutableAccessorsTurnOtherKindsIntoContainers) {
  Json j;
  j.array().push_back(Json::Number(1));
  EXPECT_TRUE(j.is_array());
  EXPECT_EQ(j.array().size(), 1u);
  Json k = Json::Number(3);
  k.object().emplace_back("a", Json());
  EXPECT_TRUE(k.is_object());
}

TEST(Json, FindReturnsMemberOrNull) {
  Json j = Json::MakeObject({{"a", Json::Number(1)}, {"b", Json::String("x")}});
  ASSERT_NE(j.Find("b"), nullptr);
  EXPECT_EQ(j.Find("b")->string(), "x");
  EXPECT_EQ(j.Find("c"), nullptr);
  EXPECT_EQ(Json::MakeArray().Find("a"), nullptr);
  EXPECT_EQ(Json::String("a").Find("a"), nullptr);
  const Json& cj = j;
  EXPECT_EQ(cj.Find("a")->number(), 1);
}

TEST(Json, SetReplacesInPlaceOrAppends) {
  Json j = Json::MakeObject({{"a", Json::Number(1)}, {"b", Json::Number(2)}});
  j.Set("a", Json::String("one"));
  j.Set("c", Json::Number(3));
  ASSERT_EQ(j.object().size(), 3u);
  EXPECT_EQ(j.object()[0].first, "a");
  EXPECT_EQ(j.object()[0].second.string(), "one");
  EXPECT_EQ(j.object()[2].first, "c");
}

TEST(Json, SetOnNonObjectMakesAnObject) {
  Json j;
  j.Set("k", Json::Bool(true));
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j.Find("k")->boolean());
}

TEST(Json, EraseRemovesAndKeepsOrder) {
  Json j = Json::MakeObject({{"a", Json()}, {"b", Json()}, {"c", Json()}});
  EXPECT_TRUE(j.Erase("b"));
  EXPECT_FALSE(j.Erase("b"));
  ASSERT_EQ(j.object().size(), 2u);
  EXPECT_EQ(j.object()[0].first, "a");
  EXPECT_EQ(j.object()[1].first, "c");
  Json s = Json::String("b");
  EXPECT_FALSE(s.Erase("b"));
}

TEST(Json, AsSafeIntegerAcceptsIntegralValuesWithinTwoToThe53) {
  EXPECT_EQ(Json::Number(9007199254740991.0).AsSafeInteger(), 9007199254740991);
  EXPECT_EQ(Json::Number(-9007199254740991.0).AsSafeInteger(), -9007199254740991);
  EXPECT_EQ(Json::Number(1.0).AsSafeInteger(), 1);
  EXPECT_EQ(Json::Number(-0.0).AsSafeInteger(), 0);
  EXPECT_EQ(Json::Number(0).AsSafeInteger(), 0);
}

TEST(Json, AsSafeIntegerRejectsEverythingElse) {
  EXPECT_EQ(Json::Number(9007199254740992.0).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::Number(-9007199254740992.0).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::Number(1e300).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::Number(1.5).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::Number(-0.5).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::Number(std::nan("")).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::Number(std::numeric_limits<double>::infinity()).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::String("1").AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json::Bool(true).AsSafeInteger(), std::nullopt);
  EXPECT_EQ(Json().AsSafeInteger(), std::nullopt);
}

TEST(Json, EqualityIgnoresMemberOrder) {
  EXPECT_EQ(Parsed(R"({"a":1,"b":{"x":[1,2],"y":null}})"),
            Parsed(R"({"b":{"y":null,"x":[1,2]},"a":1})"));
}

TEST(Json, EqualityComparesNumbersByValue) {
  EXPECT_EQ(Json::Number(-0.0), Json::Number(0.0));
  EXPECT_EQ(Parsed("1.0"), Parsed("1"));
  EXPECT_EQ(Parsed("1e2"), Parsed("100"));
  EXPECT_NE(Json::Number(std::nan("")), Json::Number(std::nan("")));
}

TEST(Json, EqualityDistinguishesKindsValuesAndArrayOrder) {
  EXPECT_NE(Json::Number(1), Json::Bool(true));
  EXPECT_NE(Json(), Json::Bool(false));
  EXPECT_NE(Json::String("1"), Json::Number(1));
  EXPECT_NE(Parsed("[1,2]"), Parsed("[2,1]"));
  EXPECT_NE(Parsed("[1,2]"), Parsed("[1,2,3]"));
  EXPECT_NE(Parsed(R"({"a":1})"), Parsed(R"({"a":2})"));
  EXPECT_NE(Parsed(R"({"a":1})"), Parsed(R"({"a":1,"b":1})"));
  EXPECT_NE(Parsed(R"({"a":1,"b":1})"), Parsed(R"({"a":1})"));
  EXPECT_NE(Parsed(R"({"a":1})"), Parsed(R"({"b":1})"));
  EXPECT_EQ(Json(), Json());
  EXPECT_EQ(Parsed("[]"), Json::MakeArray());
  EXPECT_NE(Parsed("[]"), Json::MakeObject());
}

// ---- Parsing valid JSON.

TEST(JsonParse, ReadsEveryKind) {
  Json j = Parsed(R"({"n":null,"t":true,"f":false,"i":-12,"d":0.25,"s":"x","a":[1,[]],"o":{}})");
  ASSERT_TRUE(j.is_object());
  EXPECT_TRUE(j.Find("n")->is_null());
  EXPECT_TRUE(j.Find("t")->boolean());
  EXPECT_TRUE(j.Find("f")->is_bool());
  EXPECT_FALSE(j.Find("f")->boolean());
  EXPECT_EQ(j.Find("i")->number(), -12);
  EXPECT_EQ(j.Find("d")->number(), 0.25);
  EXPECT_EQ(j.Find("s")->string(), "x");
  ASSERT_EQ(j.Find("a")->array().size(), 2u);
  EXPECT_TRUE(j.Find("a")->array()[1].is_array());
  EXPECT_TRUE(j.Find("o")->is_object());
}

TEST(JsonParse, KeepsMemberOrderAsParsed) {
  Json j = Parsed(R"({"z":1,"a":2,"m":3})");
  ASSERT_EQ(j.object().size(), 3u);
  EXPECT_EQ(j.object()[0].first, "z");
  EXPECT_EQ(j.object()[1].first, "a");
  EXPECT_EQ(j.object()[2].first, "m");
}

TEST(JsonParse, ReadsTopLevelScalars) {
  EXPECT_EQ(Parsed("42"), Json::Number(42));
  EXPECT_EQ(Parsed(" -1.5e3 "), Json::Number(-1500));
  EXPECT_EQ(Parsed("\"s\""), Json::String("s"));
  EXPECT_EQ(Parsed("true"), Json::Bool(true));
  EXPECT_EQ(Parsed("false"), Json::Bool(false));
  EXPECT_EQ(Parsed("null"), Json());
  EXPECT_EQ(Parsed("\n\t [ ] \r\n"), Json::MakeArray());
}

TEST(JsonParse, UnescapesStrings) {
  EXPECT_EQ(Parsed(R"("a\"b\\c\/d\b\f\n\r\t")").string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(Parsed(R"("\u00e9\u20ac")").string(), "\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(Parsed(R"("\ud83d\ude00")").string(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(Parsed(R"("\uD83D\uDE00")").string(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(Parsed(R"("a\u0000b")").string(), std::string("a\0b", 3));
  EXPECT_EQ(Parsed("\"h\xC3\xA9llo \xF0\x9F\x98\x80\"").string(), "h\xC3\xA9llo \xF0\x9F\x98\x80");
  EXPECT_NE(Parsed(R"({"k\u0041":1})").Find("kA"), nullptr);
}

TEST(JsonParse, AcceptsIntegersUpToTwoToThe53MinusOne) {
  EXPECT_EQ(Parsed("9007199254740991").number(), 9007199254740991.0);
  EXPECT_EQ(Parsed("-9007199254740991").number(), -9007199254740991.0);
  EXPECT_EQ(Parsed("[0, -0, 1000000000000000]").array().size(), 3u);
  EXPECT_TRUE(std::signbit(Parsed("-0").number()));
}

TEST(JsonParse, AcceptsLargeNumbersWrittenWithFractionOrExponent) {
  // Only integer literals are range-checked; these are finite doubles.
  EXPECT_EQ(Parsed("9007199254740993.0").number(), 9007199254740992.0);
  EXPECT_EQ(Parsed("1e20").number(), 1e20);
  EXPECT_EQ(Parsed("1.7976931348623157e308").number(), 1.7976931348623157e308);
  EXPECT_EQ(Parsed("-1E+300").number(), -1e300);
}

TEST(JsonParse, ReadsUnderflowAsZero) {
  EXPECT_EQ(Parsed("1e-400").number(), 0.0);
  EXPECT_TRUE(std::signbit(Parsed("-1e-400").number()));
  EXPECT_EQ(Parsed("0.00000000001e-320").number(), 0.0);
  EXPECT_EQ(Parsed("5e-324").number(), 5e-324);
  EXPECT_EQ(Parsed("2.4703282292062328e-324").number(), 5e-324);
  EXPECT_EQ(Parsed("0e999").number(), 0.0);
  EXPECT_EQ(Parsed("-0.0e-999").number(), 0.0);
}

TEST(JsonParse, RoundsDecimalsCorrectly) {
  EXPECT_EQ(Parsed("0.1").number(), 0.1);
  EXPECT_EQ(Parsed("333333333.33333329").number(), 333333333.33333329);
  EXPECT_EQ(Parsed("2.2250738585072011e-308").number(), 2.2250738585072011e-308);
}

TEST(JsonParse, AcceptsNestingUpToTheLimit) {
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth, "[", "]")).has_value());
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth, "{\"k\":", "}")).has_value());
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth / 2, "[{\"k\":", "}]")).has_value());
}

TEST(JsonParse, LargeIntegerLiteralsAreAllowedByOption) {
  JsonParseOptions lenient;
  lenient.allow_large_integer_literals = true;
  Result<Json> j = ParseJson("[100000000000000000000, -9007199254740993]", lenient);
  ASSERT_TRUE(j.has_value()) << j.status().ToString();
  EXPECT_EQ(j->array()[0].number(), 1e20);
  EXPECT_EQ(j->array()[1].number(), -9007199254740992.0);
  // Still not beyond a finite double.
  std::string huge(400, '9');
  EXPECT_EQ(ParseJson(huge, lenient).error().code(), Code::kUnprocessable);
}

TEST(JsonParse, ReadsPaddedInputWithoutCopy) {
  simdjson::padded_string padded(std::string_view(R"({"a":[1,2,3]})"));
  Result<Json> j = ParseJson(simdjson::padded_string_view(padded));
  ASSERT_TRUE(j.has_value());
  EXPECT_EQ(j->Find("a")->array().size(), 3u);
}

TEST(JsonParse, ReadsInputsLargerThanTheThreadBuffer) {
  std::string text = "[";
  for (int i = 0; i < 90000; ++i) text += "\"0123456789\",";
  text += "1]";
  Result<Json> j = ParseJson(text);
  ASSERT_TRUE(j.has_value()) << j.status().ToString();
  EXPECT_EQ(j->array().size(), 90001u);
  EXPECT_TRUE(ParseJson("[1]").has_value());  // the small path still works
}

TEST(JsonParse, IsSafeFromManyThreads) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &failures] {
      for (int i = 0; i < 500; ++i) {
        std::string text = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
        Result<Json> j = ParseJson(text);
        if (!j || j->Find("i")->number() != i || j->Find("t")->number() != t) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

// ---- Text that is not JSON: 400.

TEST(JsonParse, SyntaxErrorsAreBadRequests) {
  for (std::string_view text : {
           "",
           "   ",
           "{",
           "}",
           "[",
           "[1,2",
           "[1,2,]",
           "[,1]",
           "[1 2]",
           "[1,,2]",
           R"({"a" 1})",
           R"({"a":1,})",
           R"({a:1})",
           R"({"a":1 "b":2})",
           R"({"a"})",
           R"({1:2})",
           "'x'",
           R"("abc)",
           "[1]]",
           "[1] 2",
           "{} {}",
           R"("a" "b")",
           "1 2",
           "tru",
           "truex",
           "nul",
           "nulll",
           "fals",
           "[true1]",
           "[nullx]",
           "True",
           "NULL",
           "NaN",
           "Infinity",
           "-Infinity",
           "undefined",
           "[1]x",
           "/* c */ 1",
           "[x]",
           R"({"a":[1,2})",
           R"([{"a":1])",
           R"({"a":{"b":1})",
           R"({"a":1}})",
           "[1,2]]",
           R"({"a":1,"b"})",
           R"({"a":1,:2})",
           R"({,"a":1})",
           "\"a\"x",
           R"(["a":1])",
           R"([1"a"])",
           "[1 true]",
           "[[1,2]",
           R"({"a":1])",
           "[1}",
           R"({"a":[1}})",
           "[1,\x00 2]",
           "\xC2\xA0[1]",
       }) {
    ExpectBadRequest(text);
  }
}

TEST(JsonParse, MalformedNumbersAreBadRequests) {
  for (std::string_view text :
       {"01",    "-01",  "00",          "1.",         "-",     "+1",     ".5",
        "1e",    "1e+",  "1E-",         "0x10",       "1.5.2", "1e5e5",  "--1",
        "1_000", "[01]", R"({"a":1.})", R"({"a":-})", "[.1]",  "[1.e5]", "-.5"}) {
    ExpectBadRequest(text);
  }
}

TEST(JsonParse, BadEscapesAndRawControlCharactersAreBadRequests) {
  ExpectBadRequest(R"("\x")");
  ExpectBadRequest(R"("\u12g4")");
  ExpectBadRequest(R"("\u12")");
  ExpectBadRequest(R"("\U0041")");
  ExpectBadRequest(R"(["\ud800\u12x4"])");
  ExpectBadRequest(R"({"\q":1})");
  ExpectBadRequest("\"tab\there\"");
  ExpectBadRequest("[\"new\nline\"]");
  ExpectBadRequest(std::string_view("\"nul\0\"", 6));
  ExpectBadRequest(std::string_view("[1]\0", 4));
}

TEST(JsonParse, InvalidUtf8OutsideStringsIsBadRequest) {
  ExpectBadRequest("\xFF");
  ExpectBadRequest("[\"ok\", \xFF]");
  ExpectBadRequest("{\"a\":1}\xC3\xA9");
}

TEST(JsonParse, SyntaxErrorWinsOverEarlierIJsonViolation) {
  ExpectBadRequest(R"({"a":1,"a":2,})");
  ExpectBadRequest(R"([{"a":1,"a":2}, 01])");
  ExpectBadRequest("[1e400, tru]");
  ExpectBadRequest("[\"\xFF\", 01]");
  ExpectBadRequest(R"(["\ud800", "\x"])");
}

// ---- Valid JSON that is not I-JSON: 422.

TEST(JsonParse, DuplicateKeyIsSchemaViolation) {
  std::string message = ExpectSchemaViolation(R"({"a":1,"b":2,"a":3})");
  EXPECT_NE(message.find("duplicate key \"a\""), std::string::npos) << message;
  ExpectSchemaViolation(R"({"a":1,"a":1})");
  ExpectSchemaViolation(R"({"":1,"":2})");
}

TEST(JsonParse, DuplicateKeysAreComparedAfterUnescaping) {
  ExpectSchemaViolation(R"({"a":1,"\u0061":2})");
  ExpectSchemaViolation(R"({"\u00e9":1,"é":2})");
}

TEST(JsonParse, DuplicateKeyDeepInsideIsFoundAndNamed) {
  std::string message =
      ExpectSchemaViolation(R"({"data":{"config":[0,{"x":{"k":1,"j":2,"k":3}}]}})");
  EXPECT_NE(message.find("\"k\""), std::string::npos) << message;
  EXPECT_NE(message.find("/data/config/1/x"), std::string::npos) << message;
}

TEST(JsonParse, DuplicateKeyInLargeObjectIsFound) {
  std::string text = "{";
  for (int i = 0; i < 100; ++i)
    text += "\"key" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  text += "\"key57\":0}";
  std::string message = ExpectSchemaViolation(text);
  EXPECT_NE(message.find("key57"), std::string::npos) << message;
  EXPECT_TRUE(ParseJson(text.substr(0, text.rfind(',')) + "}").has_value());
}

TEST(JsonParse, SameKeyInDifferentObjectsIsFine) {
  EXPECT_TRUE(ParseJson(R"({"a":{"a":1},"b":{"a":2},"c":[{"a":1},{"a":2}]})").has_value());
}

TEST(JsonParse, InvalidUtf8InStringIsSchemaViolation) {
  for (std::string_view text : {
           "\"\xFF\"",              // never valid
           "\"\xC3\x28\"",          // bad continuation
           "\"\xC0\xAF\"",          // overlong '/'
           "\"\xE0\x80\xAF\"",      // overlong, 3 bytes
           "\"\xED\xA0\x80\"",      // UTF-8-encoded surrogate U+D800
           "\"\xF4\x90\x80\x80\"",  // above U+10FFFF
           "\"\xE2\x82\"",          // truncated
           "[\"ok\", {\"k\": \"a\x80z\"}]",
       }) {
    ExpectSchemaViolation(text);
  }
}

TEST(JsonParse, InvalidUtf8IsNamedByItsPointer) {
  std::string message = ExpectSchemaViolation("{\"a\":[1,\"x\xFFy\"]}");
  EXPECT_NE(message.find("UTF-8"), std::string::npos) << message;
  EXPECT_NE(message.find("/a/1"), std::string::npos) << message;
  message = ExpectSchemaViolation("{\"a\":{\"k\xFE\":1}}");
  EXPECT_NE(message.find("/a/k"), std::string::npos) << message;
}

TEST(JsonParse, UnpairedSurrogateEscapeIsSchemaViolation) {
  for (std::string_view text : {R"("\ud800")", R"("\udc00")", R"("\udfff")", R"("\ud800\u0041")",
                                R"("\ud800x")", R"("x\udbff")", R"("\ud800\ud800")",
                                R"(["\ude00\ud83d"])", R"({"\udbff":1})", R"({"k":["\ud83d"]})"}) {
    ExpectSchemaViolation(text);
  }
}

TEST(JsonParse, IntegerLiteralBeyondTwoToThe53IsSchemaViolation) {
  for (std::string_view text : {"9007199254740992", "-9007199254740992", "12345678901234567890",
                                "100000000000000000000000", R"({"total":9999999999999999})"}) {
    ExpectSchemaViolation(text);
  }
  std::string message = ExpectSchemaViolation(R"({"data":{"total":9007199254740993}})");
  EXPECT_NE(message.find("/data/total"), std::string::npos) << message;
  EXPECT_NE(message.find("9007199254740993"), std::string::npos) << message;
}

TEST(JsonParse, NonFiniteNumberIsSchemaViolation) {
  for (std::string_view text : {"1e400", "-1e400", "1.8e308", "[0.1e310]",
                                "1797693134862315800e291", R"({"x":123456789e301})"}) {
    ExpectSchemaViolation(text);
  }
}

TEST(JsonParse, NestingBeyondTheLimitIsSchemaViolation) {
  std::string message = ExpectSchemaViolation(Nested(kMaxJsonDepth + 1, "[", "]"));
  EXPECT_NE(message.find("deeper than 64"), std::string::npos) << message;
  ExpectSchemaViolation(Nested(kMaxJsonDepth + 1, "{\"k\":", "}"));
  ExpectSchemaViolation(Nested(100000, "[", "]"));  // no stack overflow
}

TEST(JsonParse, PointerEscapesTildeAndSlash) {
  std::string message = ExpectSchemaViolation(R"({"a/b":{"c~d":[1e400]}})");
  EXPECT_NE(message.find("/a~1b/c~0d/0"), std::string::npos) << message;
}

TEST(JsonParse, TopLevelViolationIsNamedAsSuch) {
  std::string message = ExpectSchemaViolation("1e999");
  EXPECT_NE(message.find("top level"), std::string::npos) << message;
}

TEST(JsonParse, LongKeysAreAbbreviatedInMessages) {
  std::string key(1000, 'k');
  std::string message = ExpectSchemaViolation("{\"" + key + "\":1,\"" + key + "\":2}");
  EXPECT_LT(message.size(), 300u) << message;
}

}  // namespace
}  // namespace runledger::ledger
