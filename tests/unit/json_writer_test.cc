#include "core/json_writer.h"

#include <cmath>

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

TEST(JsonWriter, WritesNestedValuesWithCommas) {
  std::string out;
  JsonWriter writer(out);
  writer.BeginObject()
      .Field("a", 1)
      .Key("b")
      .BeginArray()
      .Int(1)
      .String("x")
      .EndArray()
      .EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":[1,"x"]})");
}

TEST(JsonWriter, EscapesControlCharactersAndQuotes) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\n\x01");
  EXPECT_EQ(out, R"("a\"b\\c\n\u0001")");
}

TEST(JsonWriter, NonFiniteNumbersBecomeNull) {
  std::string out;
  AppendJsonNumber(out, std::nan(""));
  EXPECT_EQ(out, "null");
}

}  // namespace
}  // namespace fraudguard
