#include "ledger/time.h"

#include <gtest/gtest.h>

namespace runledger::ledger {
namespace {

TEST(TimeTest, ParsesOffsetsAndTruncatesFractions) {
  EXPECT_EQ(ParseRfc3339Ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseRfc3339Ms("1970-01-01T01:00:00.1239+01:00"), 123);
  EXPECT_EQ(ParseRfc3339Ms("1969-12-31T23:59:59.999Z"), -1);
}

TEST(TimeTest, RefusesMalformedText) {
  for (const char* bad : {"", "2026-01-01", "2026-01-01T00:00:00", "2026-13-01T00:00:00Z",
                          "2026-02-29T00:00:00Z", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+24:00",
                          "2026-01-01T00:00:00Zjunk"}) {
    EXPECT_EQ(ParseRfc3339Ms(bad), std::nullopt) << bad;
  }
}

// Regression (the round trip fuzz/query_fuzzer.cc checks): an offset could move a date out
// of years 0000..9999, which FormatTimestampMs writes as "-001-..." or
// "10000-...", so an export with such a `from` wrote a header that
// verify-export refused.
TEST(TimeTest, RefusesInstantsOutsideFourDigitYears) {
  EXPECT_EQ(ParseRfc3339Ms("0000-01-01T00:00:00+00:01"), std::nullopt);
  EXPECT_EQ(ParseRfc3339Ms("9999-12-31T23:59:59-00:01"), std::nullopt);
  const auto first = ParseRfc3339Ms("0000-01-01T00:00:00Z");
  const auto last = ParseRfc3339Ms("9999-12-31T23:59:59.999Z");
  ASSERT_TRUE(first && last);
  EXPECT_EQ(FormatTimestampMs(*first), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestampMs(*last), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(ParseRfc3339Ms("0000-01-01T00:59:00+00:59"), first);
}

TEST(TimeTest, FormatsEveryFourDigitYearInstantAsTheParserReadsIt) {
  EXPECT_EQ(FormatTimestampMs(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTimestampMs(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatTimestampMs(1796000000007), "2026-11-30T00:53:20.007Z");
  const std::int64_t first = *ParseRfc3339Ms("0000-01-01T00:00:00Z");
  const std::int64_t last = *ParseRfc3339Ms("9999-12-31T23:59:59.999Z");
  // A stride that is no multiple of a second, a minute or a day.
  for (std::int64_t ms = first; ms <= last; ms += 3'155'692'597'123) {
    const std::string text = FormatTimestampMs(ms);
    EXPECT_EQ(text.size(), 24u) << text;
    EXPECT_EQ(ParseRfc3339Ms(text), ms) << text;
  }
  // Outside four-digit years (never parsed, never recorded) it still writes something.
  EXPECT_EQ(FormatTimestampMs(first - 1).substr(0, 4), "-001");
}

}  // namespace
}  // namespace runledger::ledger
