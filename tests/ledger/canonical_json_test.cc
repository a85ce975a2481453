#include "ledger/canonical_json.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "ledger/json.h"

namespace runledger::ledger {
namespace {

std::string CanonicalOf(std::string_view text) {
  Result<Json> json = ParseJson(text);
  EXPECT_TRUE(json.has_value()) << text << " -> " << json.status().ToString();
  return json ? Canonical(*json) : "";
}

std::string NumberText(double d) {
  std::string out;
  AppendCanonicalNumber(d, &out);
  return out;
}

std::string StringText(std::string_view s) {
  std::string out;
  AppendCanonicalString(s, &out);
  return out;
}

// ---- RFC 8785's published examples.

TEST(CanonicalJson, MatchesRfc8785Section322Sample) {
  const std::string input = R"({
    "numbers": [333333333.33333329, 1E30, 4.50,
                2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })";
  EXPECT_EQ(CanonicalOf(input),
            "{\"literals\":[null,true,false],"
            "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

TEST(CanonicalJson, SortsRfc8785Section323SampleByUtf16) {
  const std::string input = R"({
    "\u20ac": "Euro Sign",
    "\r": "Carriage Return",
    "\ufb33": "Hebrew Letter Dalet With Dagesh",
    "1": "One",
    "\ud83d\ude00": "Emoji: Grinning Face",
    "\u0080": "Control",
    "\u00f6": "Latin Small Letter O With Diaeresis"
  })";
  EXPECT_EQ(CanonicalOf(input),
            "{\"\\r\":\"Carriage Return\","
            "\"1\":\"One\","
            "\"\xC2\x80\":\"Control\","
            "\"\xC3\xB6\":\"Latin Small Letter O With Diaeresis\","
            "\"\xE2\x82\xAC\":\"Euro Sign\","
            "\"\xF0\x9F\x98\x80\":\"Emoji: Grinning Face\","
            "\"\xEF\xAC\xB3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

struct NumberVector {
  std::uint64_t bits;
  const char* text;
};

// RFC 8785 Appendix B, then more values laid out as ECMAScript
// Number.prototype.toString does (checked against node).
constexpr NumberVector kNumberVectors[] = {
    {0x0000000000000000, "0"},
    {0x8000000000000000, "0"},
    {0x0000000000000001, "5e-324"},
    {0x8000000000000001, "-5e-324"},
    {0x7fefffffffffffff, "1.7976931348623157e+308"},
    {0xffefffffffffffff, "-1.7976931348623157e+308"},
    {0x4340000000000000, "9007199254740992"},
    {0xc340000000000000, "-9007199254740992"},
    {0x4430000000000000, "295147905179352830000"},
    {0x44b52d02c7e14af5, "9.999999999999997e+22"},
    {0x44b52d02c7e14af6, "1e+23"},
    {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
    {0x444b1ae4d6e2ef4e, "999999999999999700000"},
    {0x444b1ae4d6e2ef4f, "999999999999999900000"},
    {0x444b1ae4d6e2ef50, "1e+21"},
    {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
    {0x3eb0c6f7a0b5ed8d, "0.000001"},
    {0x41b3de4355555553, "333333333.3333332"},
    {0x41b3de4355555554, "333333333.33333325"},
    {0x41b3de4355555555, "333333333.3333333"},
    {0x41b3de4355555556, "333333333.3333334"},
    {0x41b3de4355555557, "333333333.33333343"},
    {0xbecbf647612f3696, "-0.0000033333333333333333"},
    {0x43143ff3c1cb0959, "1424953923781206.2"},
    // Beyond the appendix.
    {0x4415af1d78b58c40, "100000000000000000000"},
    {0x3e7ad7f29abcaf48, "1e-7"},
    {0x3fd3333333333334, "0.30000000000000004"},
    {0x441ac53a7e04bcda, "123456789012345680000"},
    {0x433fffffffffffff, "9007199254740991"},
    {0xc33fffffffffffff, "-9007199254740991"},
    {0x3ff0000000000000, "1"},
    {0xbff0000000000000, "-1"},
    {0x3fe0000000000000, "0.5"},
    {0x4059000000000000, "100"},
    {0x7e41eb2d66005835, "1.5e+300"},
    {0x0010000000000000, "2.2250738585072014e-308"},
    {0x000fffffffffffff, "2.225073858507201e-308"},
    {0x4012000000000000, "4.5"},
    {0x3f60624dd2f1a9fc, "0.002"},
    {0x3a53ce9a36f23c10, "1e-27"},
    {0x46293e5939a08cea, "1e+30"},
    {0x405edd2f1a9fbe77, "123.456"},
    {0xbeb0c6f7a0b5ed8d, "-0.000001"},
    {0x3e8091b5aeffdb8e, "1.2345e-7"},
    {0x54b249ad2594c37d, "1e+100"},
    {0x43e56a95319d63e1, "12345678901234567000"},
    {0x3fb999999999999a, "0.1"},
    {0x3fd5555555555555, "0.3333333333333333"},
    {0x43f0000000000000, "18446744073709552000"},
};

TEST(CanonicalNumber, MatchesIeee754Vectors) {
  static_assert(std::size(kNumberVectors) >= 30);
  for (const NumberVector& v : kNumberVectors) {
    SCOPED_TRACE(testing::Message() << std::hex << v.bits);
    EXPECT_EQ(NumberText(std::bit_cast<double>(v.bits)), v.text);
  }
}

TEST(CanonicalNumber, VectorsParseBackToTheSameDouble) {
  JsonParseOptions lenient;  // some vectors are integers beyond 2^53
  lenient.allow_large_integer_literals = true;
  for (const NumberVector& v : kNumberVectors) {
    SCOPED_TRACE(v.text);
    Result<Json> parsed = ParseJson(v.text, lenient);
    ASSERT_TRUE(parsed.has_value()) << parsed.status().ToString();
    const double expected = std::bit_cast<double>(v.bits);
    if (expected == 0) {
      EXPECT_EQ(parsed->number(), 0.0);  // -0 is written as 0
    } else {
      EXPECT_EQ(std::bit_cast<std::uint64_t>(parsed->number()), v.bits);
    }
  }
}

TEST(CanonicalNumber, WritesLargeIntegersInFull) {
  EXPECT_EQ(NumberText(1e20), "100000000000000000000");
  EXPECT_EQ(NumberText(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(NumberText(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(NumberText(1e15), "1000000000000000");
}

TEST(CanonicalNumber, SwitchesToExponentAtOneE21) {
  EXPECT_EQ(NumberText(1e21), "1e+21");
  EXPECT_EQ(NumberText(-1e21), "-1e+21");
  EXPECT_EQ(NumberText(1.5e21), "1.5e+21");
  EXPECT_EQ(NumberText(1.7976931348623157e308), "1.7976931348623157e+308");
}

TEST(CanonicalNumber, WritesSmallNumbersAsDecimalsDownToOneE6) {
  EXPECT_EQ(NumberText(1e-6), "0.000001");
  EXPECT_EQ(NumberText(1.5e-6), "0.0000015");
  EXPECT_EQ(NumberText(1e-7), "1e-7");
  EXPECT_EQ(NumberText(1.5e-7), "1.5e-7");
  EXPECT_EQ(NumberText(5e-324), "5e-324");
}

TEST(CanonicalNumber, WritesShortestRoundTripDigits) {
  EXPECT_EQ(NumberText(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(NumberText(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(NumberText(100.0), "100");
  EXPECT_EQ(NumberText(-12.5), "-12.5");
}

TEST(CanonicalNumber, WritesNegativeZeroAsZero) {
  EXPECT_EQ(NumberText(-0.0), "0");
  EXPECT_EQ(NumberText(0.0), "0");
}

TEST(CanonicalNumber, WritesNonFiniteAsNull) {
  EXPECT_EQ(NumberText(std::nan("")), "null");
  EXPECT_EQ(NumberText(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(NumberText(-std::numeric_limits<double>::infinity()), "null");
}

TEST(CanonicalNumber, AppendsWithoutClobbering) {
  std::string out = "x=";
  AppendCanonicalNumber(1.5, &out);
  EXPECT_EQ(out, "x=1.5");
}

// ---- Strings.

TEST(CanonicalString, EscapesOnlyQuoteBackslashAndControls) {
  EXPECT_EQ(StringText("plain"), "\"plain\"");
  EXPECT_EQ(StringText("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
  EXPECT_EQ(StringText("\b\t\n\f\r"), "\"\\b\\t\\n\\f\\r\"");
  EXPECT_EQ(StringText(std::string_view("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(StringText("\x01\x0b\x0e\x1a\x1f"), "\"\\u0001\\u000b\\u000e\\u001a\\u001f\"");
}

TEST(CanonicalString, EscapesEveryControlCharacter) {
  const char* const kExpected[32] = {
      "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
      "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
      "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
      "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f"};
  for (int c = 0; c < 32; ++c) {
    const char byte = static_cast<char>(c);
    EXPECT_EQ(StringText(std::string_view(&byte, 1)), "\"" + std::string(kExpected[c]) + "\"");
  }
}

TEST(CanonicalString, WritesEverythingElseAsRawUtf8) {
  EXPECT_EQ(StringText("\x7f"), "\"\x7f\"");
  EXPECT_EQ(StringText("\xE2\x80\xA8\xE2\x80\xA9"), "\"\xE2\x80\xA8\xE2\x80\xA9\"");  // U+2028/9
  EXPECT_EQ(StringText("h\xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBB\xBF"),
            "\"h\xC3\xA9 \xF0\x9F\x98\x80 \xEF\xBB\xBF\"");
  EXPECT_EQ(CanonicalOf(R"("\u007f\u2028\/\u00e9")"), "\"\x7f\xE2\x80\xA8/\xC3\xA9\"");
}

// The plain byte-by-byte rule, to check the word-at-a-time scan against.
std::string ReferenceEscape(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (byte < 0x20) {
          char code[8];
          std::snprintf(code, sizeof(code), "\\u%04x", byte);
          out += code;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

TEST(CanonicalString, EscapesAtEveryPositionOfLongStrings) {
  // Base text mixes ASCII and multi-byte UTF-8 so that every 8-byte window
  // holds high bytes too.
  const std::string base =
      "ab\xC3\xA9"
      "cdefgh\xE2\x82\xAC"
      "ijklmnop\xF0\x9F\x98\x80"
      "qrstuvwxyz0123456789";
  for (char special : {'"', '\\', '\n', '\x01', '\x1f', '\0', ' ', '\x7f', '!', '['}) {
    for (std::size_t length = 0; length <= base.size(); ++length) {
      for (std::size_t at = 0; at <= length; ++at) {
        std::string s = base.substr(0, length);
        s.insert(at, 1, special);
        ASSERT_EQ(StringText(s), ReferenceEscape(s)) << "length " << length << " at " << at;
      }
    }
  }
  for (int byte = 0; byte < 256; ++byte) {
    const std::string s(17, static_cast<char>(byte));
    ASSERT_EQ(StringText(s), ReferenceEscape(s)) << byte;
  }
}

TEST(CanonicalString, AppendsAfterExistingTextOfAnySize) {
  std::string out(100000, 'x');
  AppendCanonicalString("a\nb", &out);
  EXPECT_EQ(out.size(), 100000u + 6);
  EXPECT_EQ(out.substr(100000), "\"a\\nb\"");
}

// ---- Member order.

TEST(CanonicalKeyOrder, Utf16OrderPutsSurrogatePairsBeforeHighBmp) {
  const std::string kE000 = "\xEE\x80\x80";       // U+E000
  const std::string kFFFF = "\xEF\xBF\xBF";       // U+FFFF
  const std::string k10000 = "\xF0\x90\x80\x80";  // U+10000 = D800 DC00
  const std::string k1F600 = "\xF0\x9F\x98\x80";  // U+1F600 = D83D DE00
  const std::string kD7FF = "\xED\x9F\xBF";       // U+D7FF
  EXPECT_TRUE(Utf16KeyLess(k10000, kE000));
  EXPECT_TRUE(Utf16KeyLess(k1F600, kFFFF));
  EXPECT_TRUE(Utf16KeyLess(k10000, k1F600));
  EXPECT_TRUE(Utf16KeyLess(kD7FF, k10000));
  EXPECT_TRUE(Utf16KeyLess(kE000, kFFFF));
  EXPECT_FALSE(Utf16KeyLess(kE000, k10000));
  EXPECT_TRUE(Utf16KeyLess("a", "b"));
  EXPECT_TRUE(Utf16KeyLess("a", "ab"));
  EXPECT_TRUE(Utf16KeyLess("", "a"));
  EXPECT_TRUE(Utf16KeyLess("Z", "a"));
  EXPECT_FALSE(Utf16KeyLess("a", "a"));
  EXPECT_FALSE(Utf16KeyLess("", ""));
  EXPECT_TRUE(Utf16KeyLess("a" + kE000, "a" + kFFFF));
  EXPECT_TRUE(Utf16KeyLess("x" + k1F600 + "a", "x" + kE000));
}

TEST(CanonicalKeyOrder, SortsObjectMembersWithSurrogatePairs) {
  EXPECT_EQ(CanonicalOf(R"({"\ue000":1,"\uffff":2,"\ud83d\ude00":3,"\ud800\udc00":4,"z":5})"),
            "{\"z\":5,\"\xF0\x90\x80\x80\":4,\"\xF0\x9F\x98\x80\":3,"
            "\"\xEE\x80\x80\":1,\"\xEF\xBF\xBF\":2}");
}

TEST(CanonicalJson, SortsNestedObjectsAtEveryLevel) {
  EXPECT_EQ(CanonicalOf(R"({"b":{"d":1,"c":[{"f":1,"e":{"h":1,"g":2}}]},"a":[3,2,1]})"),
            R"({"a":[3,2,1],"b":{"c":[{"e":{"g":2,"h":1},"f":1}],"d":1}})");
}

TEST(CanonicalJson, SortingDoesNotChangeTheValue) {
  Json j = Json::MakeObject({{"b", Json::Number(1)}, {"a", Json::Number(2)}});
  EXPECT_EQ(Canonical(j), R"({"a":2,"b":1})");
  EXPECT_EQ(j.object()[0].first, "b");
}

TEST(CanonicalJson, WritesScalarsAndEmptyContainers) {
  EXPECT_EQ(Canonical(Json()), "null");
  EXPECT_EQ(Canonical(Json::Bool(true)), "true");
  EXPECT_EQ(Canonical(Json::Bool(false)), "false");
  EXPECT_EQ(Canonical(Json::MakeArray()), "[]");
  EXPECT_EQ(Canonical(Json::MakeObject()), "{}");
  EXPECT_EQ(Canonical(Json::String("")), "\"\"");
  EXPECT_EQ(CanonicalOf(" [ 1 , { } , [ ] , \"\" ] "), "[1,{},[],\"\"]");
}

TEST(CanonicalJson, AppendCanonicalAppends) {
  std::string out = "prefix:";
  AppendCanonical(Json::MakeArray({Json::Number(1)}), &out);
  EXPECT_EQ(out, "prefix:[1]");
}

TEST(CanonicalJson, WritesLargeDocuments) {
  Json big = Json::MakeArray();
  std::string expected = "[";
  for (int i = 0; i < 5000; ++i) {
    big.array().push_back(
        Json::MakeObject({{"i", Json::Number(i + 0.5)}, {"s", Json::String("v\t")}}));
    if (i > 0) expected += ',';
    expected += "{\"i\":" + std::to_string(i) + ".5,\"s\":\"v\\t\"}";
  }
  expected += "]";
  EXPECT_EQ(Canonical(big), expected);
}

TEST(CanonicalJson, ProgrammaticNonFiniteNumbersBecomeNull) {
  EXPECT_EQ(Canonical(Json::MakeArray({Json::Number(std::nan(""))})), "[null]");
}

// ---- Round trips.

TEST(CanonicalRoundTrip, ParseCanonicalParseGivesEqualValues) {
  const std::vector<std::string> corpus = {
      R"({"type":"created","run_id":"018f2a1e-7c3b-7d9a-9a51-2f1c9b3e4d5a","seq":1,"data":{"operation":"scan","datastore":{"id":17},"config":{"sample":0.25,"limit":1000000},"triggered_by":{"kind":"user","id":"alice"},"containers":["orders","customers"],"total":2}})",
      R"({"type":"logged","data":{"level":"warning","message":"line 1\nline 2\t\"q\" \\ \u0001","fields":{"ratio":0.3333333333333333,"n":-42,"ok":false,"none":null}}})",
      R"([1e-7, 1e-6, 1e21, 9.999999999999999e-7, -0, 5e-324, 1.7976931348623157e308, 0.1, 123.456e-2])",
      R"({"\ud83d\ude00":{"\ue000":[1,{"\u00e9":"\u20ac"}],"a":"b"},"\u0000":"nul key","":[]})",
      R"("just a string with \u2028 and \/ and \u007f")",
      R"([[[[[[[[[[{"deep":[[[[]]]]}]]]]]]]]]])",
      R"({"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,"k20":20})",
      "{\"raw\":\"h\xC3\xA9llo \xF0\x9F\x98\x80\",\"\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87\":true}",
      "42",
      "-0.5",
      "true",
      "null",
      "[]",
      "{}",
  };
  for (const std::string& text : corpus) {
    SCOPED_TRACE(text);
    Result<Json> first = ParseJson(text);
    ASSERT_TRUE(first.has_value()) << first.status().ToString();
    const std::string canonical = Canonical(*first);
    Result<Json> second = ParseJson(canonical);
    ASSERT_TRUE(second.has_value()) << canonical << " -> " << second.status().ToString();
    EXPECT_EQ(*first, *second);
    EXPECT_EQ(Canonical(*second), canonical);  // idempotent
  }
}

TEST(CanonicalRoundTrip, IntegralDoublesAbove2To53NeedTheLenientOptionToReadBack) {
  // 1e20 is valid I-JSON, but its canonical form is an integer literal that
  // strict parsing refuses: stored canonical JSON must be read back leniently.
  const std::string canonical = CanonicalOf("[1e20]");
  EXPECT_EQ(canonical, "[100000000000000000000]");
  EXPECT_EQ(ParseJson(canonical).error().code(), Code::kUnprocessable);
  JsonParseOptions lenient;
  lenient.allow_large_integer_literals = true;
  Result<Json> back = ParseJson(canonical, lenient);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->array()[0].number(), 1e20);
}

}  // namespace
}  // namespace runledger::ledger
