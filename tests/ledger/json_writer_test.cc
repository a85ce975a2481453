#include "ledger/json_writer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "ledger/json.h"

namespace runledger::ledger {
namespace {

TEST(JsonWriter, InsertsCommasBetweenMembersAndElements) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject()
      .Key("a")
      .Int(1)
      .Key("b")
      .BeginArray()
      .Bool(true)
      .Null()
      .String("x")
      .EndArray()
      .Key("c")
      .BeginObject()
      .EndObject()
      .Key("d")
      .BeginArray()
      .BeginObject()
      .Key("e")
      .Int(2)
      .EndObject()
      .BeginObject()
      .EndObject()
      .EndArray()
      .EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[true,null,"x"],"c":{},"d":[{"e":2},{}]})");
}

TEST(JsonWriter, KeepsInsertionOrder) {
  std::string out;
  JsonWriter(&out).BeginObject().Key("z").Int(1).Key("a").Int(2).EndObject();
  EXPECT_EQ(out, R"({"z":1,"a":2})");
}

TEST(JsonWriter, WritesEmptyContainers) {
  std::string out;
  JsonWriter(&out).BeginArray().BeginArray().EndArray().BeginObject().EndObject().EndArray();
  EXPECT_EQ(out, "[[],{}]");
}

TEST(JsonWriter, EscapesStringsAndKeysLikeCanonicalJson) {
  std::string out;
  JsonWriter(&out).BeginObject().Key("k\"\n").String("a\\b\x01\xE2\x80\xA8/").EndObject();
  EXPECT_EQ(out, "{\"k\\\"\\n\":\"a\\\\b\\u0001\xE2\x80\xA8/\"}");
}

TEST(JsonWriter, WritesIntegerExtremes) {
  std::string out;
  JsonWriter(&out)
      .BeginArray()
      .Int(std::numeric_limits<std::int64_t>::min())
      .Int(std::numeric_limits<std::int64_t>::max())
      .Uint(std::numeric_limits<std::uint64_t>::max())
      .Int(0)
      .Uint(0)
      .EndArray();
  EXPECT_EQ(out, "[-9223372036854775808,9223372036854775807,18446744073709551615,0,0]");
}

TEST(JsonWriter, WritesNumbersInCanonicalLayout) {
  std::string out;
  JsonWriter(&out)
      .BeginArray()
      .Number(1e21)
      .Number(-0.0)
      .Number(0.5)
      .Number(1e-7)
      .Number(100)
      .EndArray();
  EXPECT_EQ(out, "[1e+21,0,0.5,1e-7,100]");
}

TEST(JsonWriter, ValueWritesCanonicalForm) {
  Result<Json> j = ParseJson(R"({"b":[1.50,{"d":1,"c":2}],"a":"x"})");
  ASSERT_TRUE(j.has_value());
  std::string out;
  JsonWriter(&out).BeginObject().Key("event").Value(*j).Key("n").Int(1).EndObject();
  EXPECT_EQ(out, R"({"event":{"a":"x","b":[1.5,{"c":2,"d":1}]},"n":1})");
}

TEST(JsonWriter, RawInsertsPreSerializedValues) {
  std::string out;
  JsonWriter(&out).BeginArray().Raw(R"({"x":1})").Raw("2").String("s").EndArray();
  EXPECT_EQ(out, R"([{"x":1},2,"s"])");
  out.clear();
  JsonWriter(&out).BeginObject().Key("a").Raw("[1, 2]").Key("b").Raw("null").EndObject();
  EXPECT_EQ(out, R"({"a":[1, 2],"b":null})");
}

TEST(JsonWriter, AppendsToExistingText) {
  std::string out = "data: ";
  JsonWriter(&out).BeginObject().Key("ok").Bool(false).EndObject();
  EXPECT_EQ(out, R"(data: {"ok":false})");
}

TEST(JsonWriter, WritesTopLevelScalar) {
  std::string out;
  JsonWriter(&out).String("only");
  EXPECT_EQ(out, "\"only\"");
}

TEST(JsonWriter, ManySmallValuesStayLinear) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (int i = 0; i < 100000; ++i) w.String("abc").Number(0.5);
  w.EndArray();
  EXPECT_EQ(out.size(), 2 + 100000 * std::string_view(R"("abc",0.5,)").size() - 1);
}

TEST(JsonWriter, OutputParsesBack) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("size").Uint(3).Key("path").BeginArray();
  for (const char* h : {"ab", "cd", "ef"}) w.String(h);
  w.EndArray().Key("nested").BeginObject().Key("x").Number(0.1).EndObject().EndObject();
  Result<Json> parsed = ParseJson(out);
  ASSERT_TRUE(parsed.has_value()) << out;
  EXPECT_EQ(parsed->Find("path")->array().size(), 3u);
  EXPECT_EQ(parsed->Find("nested")->Find("x")->number(), 0.1);
}

}  // namespace
}  // namespace runledger::ledger
