// civitas/json.h's JsonWriter: commas, nesting and quoting, read back by the SDK's own parser.
#include <gtest/gtest.h>

#include "civitas/json.h"

namespace civitas {
namespace {

TEST(JsonWriterTest, WritesNestedObjectsAndArrays) {
  JsonWriter w;
  w.BeginArray();
  w.BeginObject()
      .Member("name", "Straße \"A\"\n")
      .Member("count", 3)
      .Member("big", int64_t{1} << 40)
      .Member("open", true)
      .Key("missing")
      .StringOrNull("")
      .Key("present")
      .StringOrNull("x")
      .Key("lat")
      .Fixed(51.5136, 6)
      .Key("tags")
      .BeginArray()
      .String("a")
      .String("b")
      .EndArray()
      .Key("empty")
      .BeginObject()
      .EndObject()
      .EndObject();
  w.BeginObject().EndObject();
  w.EndArray();
  EXPECT_EQ(w.text(),
            "[{\"name\":\"Straße \\\"A\\\"\\n\",\"count\":3,\"big\":1099511627776,\"open\":true,"
            "\"missing\":null,\"present\":\"x\",\"lat\":51.513600,\"tags\":[\"a\",\"b\"],"
            "\"empty\":{}},{}]");
  JsonValue parsed;
  std::string error;
  ASSERT_TRUE(ParseJson(w.text(), &parsed, &error)) << error;
  EXPECT_EQ(parsed.items()[0]["name"].AsString(), "Straße \"A\"\n");
  EXPECT_TRUE(parsed.items()[0]["missing"].is_null());
}

TEST(JsonWriterTest, EmptyContainers) {
  JsonWriter w;
  w.BeginArray().EndArray();
  EXPECT_EQ(w.text(), "[]");
}

}  // namespace
}  // namespace civitas
