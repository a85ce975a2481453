#include "server/query_string.h"

#include <gtest/gtest.h>

namespace runledger::server {
namespace {

TEST(QueryStringTest, PercentDecodeDecodesBytesAndPlus) {
  EXPECT_EQ(PercentDecode("a%20b+c%2Fd%2fe"), "a b c/d/e");
  EXPECT_EQ(PercentDecode("%00%ff"), std::string("\0\xff", 2));
}

TEST(QueryStringTest, PercentDecodeKeepsMalformedEscapes) {
  EXPECT_EQ(PercentDecode("%"), "%");
  EXPECT_EQ(PercentDecode("%4"), "%4");
  EXPECT_EQ(PercentDecode("%zz%4g"), "%zz%4g");
  EXPECT_EQ(PercentDecode("100%"), "100%");
}

TEST(QueryStringTest, SplitPathDecodesAfterSplitting) {
  EXPECT_EQ(SplitPath("/v1/runs/..%2f..%2fetc"), (std::vector<std::string>{"v1", "runs", "../../etc"}));
  EXPECT_EQ(SplitPath("/v1/runs/"), (std::vector<std::string>{"v1", "runs"}));
  EXPECT_EQ(SplitPath("/v1//runs"), (std::vector<std::string>{"v1", "", "runs"}));
  EXPECT_EQ(SplitPath("/"), std::vector<std::string>{});
  EXPECT_EQ(SplitPath("/%2e%2e"), std::vector<std::string>{".."});
}

TEST(QueryStringTest, ParseQueryStringLastValueWins) {
  const auto params = ParseQueryString("limit=1&&limit=5&flag&a%3Db=c%26d&=x");
  EXPECT_EQ(params.at("limit"), "5");
  EXPECT_EQ(params.at("flag"), "");
  EXPECT_EQ(params.at("a=b"), "c&d");
  EXPECT_EQ(params.at(""), "x");
  EXPECT_EQ(params.size(), 4u);
}

TEST(QueryStringTest, SplitCommaDropsEmptyItems) {
  EXPECT_EQ(SplitComma(",a,,b,"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(SplitComma(""), std::vector<std::string>{});
}

TEST(QueryStringTest, ParseDecimalAcceptsOnlyPlainDigitsUpToMax) {
  EXPECT_EQ(ParseDecimal("0"), 0u);
  EXPECT_EQ(ParseDecimal("007"), 7u);
  EXPECT_EQ(ParseDecimal("9999999999999999999"), 9999999999999999999u);
  EXPECT_EQ(ParseDecimal("1000", 1000), 1000u);
  EXPECT_EQ(ParseDecimal("1001", 1000), std::nullopt);
  EXPECT_EQ(ParseDecimal("4294967296", UINT32_MAX), std::nullopt);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1e3", "0x10", "1.0", "18446744073709551616",
                          "00000000000000000001"}) {
    EXPECT_EQ(ParseDecimal(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace runledger::server
