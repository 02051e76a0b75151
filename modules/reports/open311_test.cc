// The Open311 GeoReport v2 rendering, tested directly against the specification's field lists
// (https://wiki.open311.org/GeoReport_v2): every field present, nothing else, the types it names.
#include "open311.h"

#include <gtest/gtest.h>

#include <set>

namespace reports {
namespace {

std::set<std::string> Keys(const civitas::JsonValue& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.members()) keys.insert(key);
  return keys;
}

civitas::JsonValue Parse(const std::string& json) {
  civitas::JsonValue v;
  std::string error;
  EXPECT_TRUE(civitas::ParseJson(json, &v, &error)) << error << ": " << json;
  return v;
}

pb::Report Report() {
  pb::Report r;
  r.set_name("reports/00000000000000ab");
  r.set_service("services/schlagloch");
  r.set_status(pb::Report::IN_PROGRESS);
  r.set_status_note("Kolonne ist unterwegs");
  r.set_description("Tiefes \"Loch\" vor Nr. 12");
  r.set_department("Tiefbauamt");
  r.set_address("Kampstraße 12");
  r.mutable_location()->set_latitude(51.5136);
  r.mutable_location()->set_longitude(7.4653);
  r.mutable_create_time()->set_seconds(1'790'000'000);
  r.mutable_update_time()->set_seconds(1'790'003'600);
  return r;
}

TEST(Open311Test, ARequestHasEveryGeoReportField) {
  civitas::JsonWriter out;
  open311::WriteRequest(Report(), {"Schlagloch", "https://api.example/cities/do/v1/p/1"}, out);
  const civitas::JsonValue v = Parse(out.text());
  EXPECT_EQ(Keys(v), (std::set<std::string>{
                         "service_request_id", "status", "status_notes", "service_name",
                         "service_code", "description", "agency_responsible", "service_notice",
                         "requested_datetime", "updated_datetime", "expected_datetime", "address",
                         "address_id", "zipcode", "lat", "long", "media_url"}));
  EXPECT_EQ(v["service_request_id"].AsString(), "00000000000000ab");
  EXPECT_EQ(v["status"].AsString(), "open");
  EXPECT_EQ(v["status_notes"].AsString(), "Kolonne ist unterwegs");
  EXPECT_EQ(v["service_name"].AsString(), "Schlagloch");
  EXPECT_EQ(v["service_code"].AsString(), "schlagloch");
  EXPECT_EQ(v["description"].AsString(), "Tiefes \"Loch\" vor Nr. 12");
  EXPECT_EQ(v["agency_responsible"].AsString(), "Tiefbauamt");
  EXPECT_TRUE(v["service_notice"].is_null());
  EXPECT_EQ(v["requested_datetime"].AsString(), "2026-09-21T14:13:20Z");
  EXPECT_EQ(v["updated_datetime"].AsString(), "2026-09-21T15:13:20Z");
  EXPECT_TRUE(v["expected_datetime"].is_null());
  EXPECT_EQ(v["address"].AsString(), "Kampstraße 12");
  EXPECT_TRUE(v["address_id"].is_null());
  EXPECT_TRUE(v["zipcode"].is_null());
  EXPECT_TRUE(v["lat"].is_number());
  EXPECT_DOUBLE_EQ(v["lat"].AsNumber(), 51.5136);
  EXPECT_DOUBLE_EQ(v["long"].AsNumber(), 7.4653);
  EXPECT_EQ(v["media_url"].AsString(), "https://api.example/cities/do/v1/p/1");
  EXPECT_NE(out.text().find("\"lat\":51.513600,\"long\":7.465300"), std::string::npos)
      << "six decimals, about 0.1 m: " << out.text();
}

TEST(Open311Test, UnknownFieldsAreNullAndClosedStatesAreClosed) {
  pb::Report r = Report();
  r.clear_status_note();
  r.clear_department();
  r.clear_address();
  r.clear_location();
  civitas::JsonWriter out;
  open311::WriteRequest(r, {"schlagloch", ""}, out);
  const civitas::JsonValue v = Parse(out.text());
  EXPECT_EQ(Keys(v).size(), 17u);
  for (const char* field :
       {"status_notes", "agency_responsible", "address", "lat", "long", "media_url"}) {
    EXPECT_TRUE(v[field].is_null()) << field << " in " << out.text();
  }
  for (auto status : {pb::Report::RESOLVED, pb::Report::REJECTED, pb::Report::DUPLICATE}) {
    EXPECT_STREQ(Open311Status(status), "closed");
  }
  for (auto status : {pb::Report::SUBMITTED, pb::Report::IN_PROGRESS}) {
    EXPECT_STREQ(Open311Status(status), "open");
  }
}

pb::Service Service() {
  pb::Service s;
  s.set_name("services/schlagloch");
  s.set_display_name("Schlagloch");
  s.set_description("Schäden an Fahrbahn und Gehweg");
  s.set_group("Straße");
  s.add_keywords("straße");
  s.add_keywords("loch");
  pb::Attribute* a = s.add_attributes();
  a->set_code("groesse");
  a->set_description("Wie groß?");
  a->set_datatype(pb::Attribute::SINGLE_VALUE_LIST);
  a->set_required(true);
  a->set_order(1);
  a->set_datatype_description("eine Größe");
  auto* choice = a->add_values();
  choice->set_key("klein");
  choice->set_name("Klein");
  return s;
}

TEST(Open311Test, AServiceHasEveryGeoReportField) {
  civitas::JsonWriter out;
  out.BeginArray();
  open311::WriteService(Service(), out);
  pb::Service plain = Service();
  plain.clear_attributes();
  open311::WriteService(plain, out);
  out.EndArray();
  const civitas::JsonValue list = Parse(out.text());
  ASSERT_EQ(list.items().size(), 2u);
  const civitas::JsonValue& v = list.items()[0];
  EXPECT_EQ(Keys(v), (std::set<std::string>{"service_code", "service_name", "description",
                                            "metadata", "type", "keywords", "group"}));
  EXPECT_EQ(v["service_code"].AsString(), "schlagloch");
  EXPECT_EQ(v["service_name"].AsString(), "Schlagloch");
  EXPECT_EQ(v["description"].AsString(), "Schäden an Fahrbahn und Gehweg");
  EXPECT_TRUE(v["metadata"].AsBool(false)) << "it has attributes";
  EXPECT_FALSE(list.items()[1]["metadata"].AsBool(true));
  EXPECT_EQ(v["type"].AsString(), "realtime");
  EXPECT_EQ(v["keywords"].AsString(), "straße,loch");
  EXPECT_EQ(v["group"].AsString(), "Straße");
}

TEST(Open311Test, AServiceDefinitionListsItsAttributes) {
  const civitas::JsonValue v = Parse(open311::ServiceDefinition(Service()));
  EXPECT_EQ(Keys(v), (std::set<std::string>{"service_code", "attributes"}));
  ASSERT_EQ(v["attributes"].items().size(), 1u);
  const civitas::JsonValue& a = v["attributes"].items()[0];
  EXPECT_EQ(Keys(a),
            (std::set<std::string>{"variable", "code", "datatype", "required",
                                   "datatype_description", "order", "description", "values"}));
  EXPECT_TRUE(a["variable"].AsBool());
  EXPECT_EQ(a["code"].AsString(), "groesse");
  EXPECT_EQ(a["datatype"].AsString(), "singlevaluelist");
  EXPECT_TRUE(a["required"].AsBool());
  EXPECT_EQ(a["order"].AsNumber(), 1);
  EXPECT_EQ(a["values"].items()[0]["key"].AsString(), "klein");
  EXPECT_EQ(a["values"].items()[0]["name"].AsString(), "Klein");
}

}  // namespace
}  // namespace reports
