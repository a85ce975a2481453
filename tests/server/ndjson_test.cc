#include "server/ndjson.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace runledger::server {
namespace {

std::vector<std::pair<size_t, std::string>> Lines(std::string_view body) {
  std::vector<std::pair<size_t, std::string>> out;
  for (const NdjsonLine& line : SplitNdjsonLines(body)) out.emplace_back(line.number, std::string(line.text));
  return out;
}

using Expected = std::vector<std::pair<size_t, std::string>>;

TEST(NdjsonTest, NumbersLinesCountingBlankOnes) {
  EXPECT_EQ(Lines("a\n\nb\n  \t\nc"), (Expected{{1, "a"}, {3, "b"}, {5, "c"}}));
}

TEST(NdjsonTest, DropsOneTrailingCarriageReturn) {
  EXPECT_EQ(Lines("a\r\nb\r\r\n\r\n"), (Expected{{1, "a"}, {2, "b\r"}}));
}

TEST(NdjsonTest, AFinalNewlineAddsNoLine) {
  EXPECT_EQ(Lines("a\n"), (Expected{{1, "a"}}));
  EXPECT_EQ(Lines(""), Expected{});
  EXPECT_EQ(Lines("\n\n"), Expected{});
}

TEST(NdjsonTest, KeepsBytesOtherThanBlanks) {
  const std::string body("\0\n\xFF \n\v", 6);
  EXPECT_EQ(Lines(body), (Expected{{1, std::string("\0", 1)}, {2, "\xFF "}, {3, "\v"}}));
}

TEST(NdjsonTest, ViewsPointIntoTheBody) {
  const std::string body = "x\ny";
  const auto lines = SplitNdjsonLines(body);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text.data(), body.data() + 2);
}

}  // namespace
}  // namespace runledger::server
