// civitas/config.h: every refusal names the key and what it accepts; absent keys keep defaults.
#include "civitas/config.h"

#include <gtest/gtest.h>

#include "civitas/content.h"

namespace civitas {
namespace {

Status Read(const std::string& json, int* threshold, std::string* name = nullptr) {
  ConfigReader reader;
  if (Status s = ConfigReader::Parse(json, &reader); !s.ok()) return s;
  std::string unused;
  reader.Int("flag_threshold", 1, 1000, threshold).String("erased_name", name ? name : &unused, 20);
  return reader.Finish();
}

TEST(ConfigReaderTest, AbsentKeysKeepTheirDefaults) {
  int threshold = 3;
  std::string name = "Gelöscht";
  EXPECT_TRUE(Read(R"({})", &threshold, &name).ok());
  EXPECT_EQ(threshold, 3);
  EXPECT_EQ(name, "Gelöscht");
  EXPECT_TRUE(Read(R"({"flag_threshold": 7, "erased_name": "weg"})", &threshold, &name).ok());
  EXPECT_EQ(threshold, 7);
  EXPECT_EQ(name, "weg");
}

TEST(ConfigReaderTest, TheGatewaysOwnKeysAreAlwaysAccepted) {
  int threshold = 3;
  EXPECT_TRUE(Read(R"({"default_language": "de", "time_zone": "Europe/Berlin"})", &threshold).ok());
}

TEST(ConfigReaderTest, WrongTypesAndRangesNameTheKeyAndTheRange) {
  int threshold = 3;
  EXPECT_EQ(Read(R"({"flag_threshold": "5"})", &threshold).message(),
            "flag_threshold must be a whole number from 1 to 1000, got \"5\"");
  EXPECT_EQ(Read(R"({"flag_threshold": 0})", &threshold).message(),
            "flag_threshold must be a whole number from 1 to 1000, got 0");
  EXPECT_EQ(Read(R"({"flag_threshold": 2.5})", &threshold).message(),
            "flag_threshold must be a whole number from 1 to 1000, got 2.5");
  EXPECT_EQ(Read(R"({"flag_threshold": 1e300})", &threshold).message(),
            "flag_threshold must be a whole number from 1 to 1000, got 1e+300");
  EXPECT_EQ(Read(R"({"flag_threshold": true})", &threshold).message(),
            "flag_threshold must be a whole number from 1 to 1000, got true");
  EXPECT_EQ(Read(R"({"flag_threshold": null})", &threshold).code(), CIVITAS_INVALID_ARGUMENT);
  EXPECT_EQ(Read(R"({"erased_name": ["a"]})", &threshold).message(),
            "erased_name must be a string of at most 20 bytes, got a list");
  EXPECT_EQ(Read(R"({"erased_name": "a name far longer than twenty bytes"})", &threshold).message(),
            "erased_name must be a string of at most 20 bytes, got \"a name far longer than "
            "twenty bytes\"");
  EXPECT_EQ(threshold, 3) << "a refused value is never stored";
}

TEST(ConfigReaderTest, UnknownKeysAreRefusedWithTheKnownOnes) {
  int threshold = 3;
  Status s = Read(R"({"flag_treshold": 5})", &threshold);
  EXPECT_EQ(s.code(), CIVITAS_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(),
            "unknown config key 'flag_treshold'; the keys here are erased_name, flag_threshold");
}

TEST(ConfigReaderTest, TheFirstErrorWins) {
  int threshold = 3;
  EXPECT_EQ(Read(R"({"flag_threshold": -1, "erased_name": 5, "typo": 1})", &threshold).message(),
            "flag_threshold must be a whole number from 1 to 1000, got -1");
}

TEST(ConfigReaderTest, NotAnObjectOrNotJsonIsRefused) {
  int threshold = 3;
  EXPECT_EQ(Read("[1]", &threshold).message(), "module config must be a mapping of keys");
  EXPECT_EQ(Read("{", &threshold).code(), CIVITAS_INVALID_ARGUMENT);
}

TEST(ConfigReaderTest, NestedBlocksAreStrictToo) {
  double min_lat = -90;
  bool enabled = false;
  auto read = [&](const std::string& json) {
    ConfigReader reader;
    if (Status s = ConfigReader::Parse(json, &reader); !s.ok()) return s;
    reader
        .Object("area", [&](ConfigReader& area) { area.Number("min_latitude", -90, 90, &min_lat); })
        .Bool("enabled", &enabled);
    return reader.Finish();
  };
  EXPECT_TRUE(read(R"({"area": {"min_latitude": 51.4}, "enabled": true})").ok());
  EXPECT_DOUBLE_EQ(min_lat, 51.4);
  EXPECT_TRUE(enabled);
  EXPECT_EQ(read(R"({"area": {"min_lat": 51.4}})").message(),
            "unknown config key 'area.min_lat'; the keys here are min_latitude");
  EXPECT_EQ(read(R"({"area": {"min_latitude": 91}})").message(),
            "area.min_latitude must be a number from -90 to 90, got 91");
  EXPECT_EQ(read(R"({"area": 5})").message(), "area must be a mapping of keys, got 5");
  EXPECT_EQ(read(R"({"enabled": "yes"})").message(), "enabled must be true or false, got \"yes\"");
}

TEST(ConfigReaderTest, IntegersOfEveryWidthAreRangeCheckedBeforeTheCast) {
  size_t bytes = 1;
  ConfigReader reader;
  ASSERT_TRUE(ConfigReader::Parse(R"({"max_photo_bytes": -1})", &reader).ok());
  reader.Int("max_photo_bytes", 0, 3 << 20, &bytes);
  EXPECT_EQ(reader.Finish().message(),
            "max_photo_bytes must be a whole number from 0 to 3145728, got -1");
  EXPECT_EQ(bytes, 1u);
}

TEST(CategoriesConfigTest, EntriesAreStrict) {
  auto parse = [](const std::string& json) {
    ConfigReader reader;
    Categories categories;
    if (Status s = ConfigReader::Parse(json, &reader); !s.ok()) return s;
    if (Status s = Categories::Parse(reader, "de", {}, &categories); !s.ok()) return s;
    return reader.Finish();
  };
  EXPECT_TRUE(parse(R"({"categories": [{"id": "kultur", "names": {"de": "Kultur"}}]})").ok());
  EXPECT_EQ(parse(R"({"categories": [{"id": "kultur", "nmae": "Kultur"}]})").message(),
            "unknown config key 'categories[0].nmae'; the keys here are id, name, names");
  EXPECT_EQ(parse(R"({"categories": [{"id": "kultur", "names": {"de": 5}}]})").message(),
            "categories[0].names.de must be a string, got 5");
  EXPECT_EQ(parse(R"({"categories": "kultur"})").message(),
            "categories must be a list, got \"kultur\"");
  EXPECT_EQ(parse(R"({"categories": ["kultur"]})").message(),
            "categories[0] must be a mapping with id and name or names, got \"kultur\"");
}

}  // namespace
}  // namespace civitas
