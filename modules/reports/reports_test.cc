// Unit tests of the reports module against the SDK's fake host.
#include "reports.h"

#include <gtest/gtest.h>

#include "civitas/json.h"
#include "civitas/reports/v1/reports.pb.h"
#include "civitas/testing/fake_host.h"

extern "C" const civitas_module_def* civitas_module_entry_v1(void);

namespace {

namespace pb = civitas::reports::v1;
using civitas::testing::Caller;
using civitas::testing::FakeHost;

constexpr char kService[] = "civitas.reports.v1.ReportsService";
const Caller kAdmin = Caller::WithRole("it", CIVITAS_ROLE_ADMIN);
const Caller kEditor = Caller::WithRole("tiefbauamt", CIVITAS_ROLE_EDITOR);
const Caller kAnna = Caller::Citizen("anna");
const std::string kJpeg = std::string("\xFF\xD8\xFF\xE0", 4) + std::string(100, 'x');

class ReportsTest : public ::testing::Test {
 protected:
  ReportsTest()
      : host_(civitas_module_entry_v1(), "dortmund",
              R"({"area": {"min_latitude": 51.41, "max_latitude": 51.60, "min_longitude": 7.30,
                           "max_longitude": 7.64}, "public_url": "https://api.dortmund.example"})") {
    host_.SetNowMicros(1'790'000'000'000'000);
    pb::PutServiceRequest put;
    pb::Service* s = put.mutable_service();
    s->set_name("services/schlagloch");
    s->set_display_name("Schlagloch");
    s->set_group("Straßen");
    s->set_department("Tiefbauamt");
    auto* size = s->add_attributes();
    size->set_code("groesse");
    size->set_description("Wie groß ist das Loch?");
    size->set_datatype(pb::Attribute::SINGLE_VALUE_LIST);
    size->set_required(true);
    size->set_order(1);
    for (const char* k : {"klein", "mittel", "gross"}) {
      auto* v = size->add_values();
      v->set_key(k);
      v->set_name(k);
    }
    auto* depth = s->add_attributes();
    depth->set_code("tiefe_cm");
    depth->set_description("Tiefe in cm");
    depth->set_datatype(pb::Attribute::NUMBER);
    depth->set_order(2);
    pb::Service out;
    std::string error;
    EXPECT_EQ(host_.Unary(kService, "PutService", put, &out, kAdmin, &error), CIVITAS_OK) << error;
  }
  pb::Report Valid() {
    pb::Report r;
    r.set_service("services/schlagloch");
    r.set_description("Tiefes Schlagloch vor Hausnummer 12");
    r.mutable_location()->set_latitude(51.5136);
    r.mutable_location()->set_longitude(7.4653);
    auto* a = r.add_attributes();
    a->set_code("groesse");
    a->add_values("gross");
    r.mutable_contact()->set_email("anna@example.org");
    return r;
  }
  int32_t Create(const pb::Report& r, const Caller& who, pb::Report* out,
                 std::string* error = nullptr) {
    pb::CreateReportRequest req;
    *req.mutable_report() = r;
    return host_.Unary(kService, "CreateReport", req, out, who, error);
  }
  FakeHost host_;
};

TEST_F(ReportsTest, ChecksAttributesLocationAndPhotosAndWritesNothingOnRefusal) {
  const auto before = host_.data();
  struct Case {
    std::function<void(pb::Report*)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](pb::Report* r) { r->clear_attributes(); }, "'groesse' is required"},
      {[](pb::Report* r) { r->mutable_attributes(0)->set_values(0, "riesig"); },
       "'riesig' is not one of its values"},
      {[](pb::Report* r) {
         auto* a = r->add_attributes();
         a->set_code("tiefe_cm");
         a->add_values("tief");
       },
       "'tief' is not a number"},
      {[](pb::Report* r) {
         auto* a = r->add_attributes();
         a->set_code("farbe");
         a->add_values("rot");
       },
       "'farbe' is not an attribute"},
      {[](pb::Report* r) { r->mutable_location()->set_latitude(48.1); }, "outside the city's area"},
      {[](pb::Report* r) { r->clear_location(); }, "needs a location or an address"},
      {[](pb::Report* r) { r->set_service("services/ufo"); }, "does not exist"},
      {[](pb::Report* r) { r->add_photos()->set_data("GIF89a......"); }, "not a JPEG, PNG or WebP"},
      {[](pb::Report* r) {
         r->add_photos()->set_data(std::string("\xFF\xD8\xFF", 3) + std::string(2 << 20, 'x'));
       },
       "at most 1048576 are allowed"},
      {[](pb::Report* r) { r->set_description("kurz"); },
       "report.description must have 10 to 4000"},
  };
  for (const Case& c : cases) {
    pb::Report r = Valid();
    c.edit(&r);
    pb::Report out;
    std::string error;
    EXPECT_EQ(Create(r, kAnna, &out, &error), CIVITAS_INVALID_ARGUMENT) << c.expected;
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
  pb::Report anonymous = Valid();
  pb::Report out;
  std::string error;
  EXPECT_EQ(Create(anonymous, Caller::Anonymous(), &out, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("device_id is required"), std::string::npos);
  EXPECT_EQ(host_.data(), before);
}

TEST_F(ReportsTest, ContactIsOnlyForEditorsAndTheReporterAndPhotosAreServed) {
  pb::Report r = Valid();
  r.add_photos()->set_data(kJpeg);
  pb::Report created;
  ASSERT_EQ(Create(r, kAnna, &created), CIVITAS_OK);
  EXPECT_EQ(created.contact().email(), "anna@example.org");
  ASSERT_EQ(created.photo_names_size(), 1);
  EXPECT_EQ(created.department(), "Tiefbauamt");
  pb::GetReportRequest get;
  get.set_name(created.name());
  pb::Report seen;
  ASSERT_EQ(host_.Unary(kService, "GetReport", get, &seen, Caller::Citizen("ben")), CIVITAS_OK);
  EXPECT_FALSE(seen.has_contact()) << "another citizen must not see the contact";
  EXPECT_TRUE(seen.reporter().empty());
  ASSERT_EQ(host_.Unary(kService, "GetReport", get, &seen, kEditor), CIVITAS_OK);
  EXPECT_EQ(seen.contact().email(), "anna@example.org");
  pb::GetReportPhotoRequest photo;
  photo.set_name(created.photo_names(0));
  google::api::HttpBody body;
  ASSERT_EQ(host_.Unary(kService, "GetReportPhoto", photo, &body), CIVITAS_OK);
  EXPECT_EQ(body.content_type(), "image/jpeg");
  EXPECT_EQ(body.data(), kJpeg);
}

TEST_F(ReportsTest, WorkflowDuplicatesAndNearbyQueries) {
  pb::Report first, second, far;
  ASSERT_EQ(Create(Valid(), kAnna, &first), CIVITAS_OK);
  pb::Report near = Valid();
  near.mutable_location()->set_latitude(51.5140);  // ~45 m north
  ASSERT_EQ(Create(near, Caller::Citizen("ben"), &second), CIVITAS_OK);
  pb::Report other = Valid();
  other.mutable_location()->set_latitude(51.55);  // ~4 km north
  ASSERT_EQ(Create(other, kAnna, &far), CIVITAS_OK);

  pb::ListReportsRequest list;
  list.mutable_near()->set_latitude(51.5136);
  list.mutable_near()->set_longitude(7.4653);
  list.set_radius_meters(500);
  pb::ListReportsResponse nearby;
  ASSERT_EQ(host_.Unary(kService, "ListReports", list, &nearby), CIVITAS_OK);
  ASSERT_EQ(nearby.reports_size(), 2);
  EXPECT_EQ(nearby.reports(0).name(), first.name());
  EXPECT_NEAR(nearby.reports(1).distance_meters(), 44.5, 2);

  pb::UpdateReportStatusRequest dup;
  dup.set_name(second.name());
  dup.set_status(pb::Report::DUPLICATE);
  pb::Report updated;
  std::string error;
  EXPECT_EQ(host_.Unary(kService, "UpdateReportStatus", dup, &updated, kEditor, &error),
            CIVITAS_INVALID_ARGUMENT);
  dup.set_duplicate_of(first.name());
  dup.set_note("Bereits gemeldet");
  ASSERT_EQ(host_.Unary(kService, "UpdateReportStatus", dup, &updated, kEditor), CIVITAS_OK);
  EXPECT_EQ(updated.status(), pb::Report::DUPLICATE);
  EXPECT_EQ(updated.history_size(), 2);
  EXPECT_STREQ(reports::Open311Status(updated.status()), "closed");

  pb::ListReportsResponse mine;
  ASSERT_EQ(host_.Unary(kService, "ListMyReports", pb::ListMyReportsRequest(), &mine, kAnna),
            CIVITAS_OK);
  EXPECT_EQ(mine.reports_size(), 2);
}

TEST_F(ReportsTest, Open311ExportFollowsGeoReportV2) {
  pb::Report r = Valid();
  r.set_address("Kampstraße 12");
  r.add_photos()->set_data(kJpeg);
  pb::Report created;
  ASSERT_EQ(Create(r, kAnna, &created), CIVITAS_OK);
  auto get = [&](const std::string& path, std::string* json, const std::string& extra_status = "") {
    pb::GetOpen311Request req;
    req.set_path(path);
    req.set_status(extra_status);
    google::api::HttpBody body;
    int32_t rc = host_.Unary(kService, "GetOpen311", req, &body);
    *json = body.data();
    if (rc == CIVITAS_OK) {
      EXPECT_EQ(body.content_type(), "application/json; charset=utf-8");
    }
    return rc;
  };
  std::string json;
  ASSERT_EQ(get("services.json", &json), CIVITAS_OK);
  civitas::JsonValue v;
  ASSERT_TRUE(civitas::ParseJson(json, &v)) << json;
  ASSERT_EQ(v.items().size(), 1u);
  EXPECT_EQ(v.items()[0]["service_code"].AsString(), "schlagloch");
  EXPECT_TRUE(v.items()[0]["metadata"].AsBool());
  EXPECT_EQ(v.items()[0]["type"].AsString(), "realtime");
  ASSERT_EQ(get("services/schlagloch.json", &json), CIVITAS_OK);
  ASSERT_TRUE(civitas::ParseJson(json, &v)) << json;
  const auto& attr = v["attributes"].items()[0];
  EXPECT_EQ(attr["datatype"].AsString(), "singlevaluelist");
  EXPECT_TRUE(attr["required"].AsBool());
  EXPECT_EQ(attr["values"].items().size(), 3u);
  ASSERT_EQ(get("requests.json", &json), CIVITAS_OK);
  ASSERT_TRUE(civitas::ParseJson(json, &v)) << json;
  ASSERT_EQ(v.items().size(), 1u);
  const civitas::JsonValue& req = v.items()[0];
  EXPECT_EQ(req["service_request_id"].AsString(), created.name().substr(8));
  EXPECT_EQ(req["status"].AsString(), "open");
  EXPECT_EQ(req["service_name"].AsString(), "Schlagloch");
  EXPECT_EQ(req["agency_responsible"].AsString(), "Tiefbauamt");
  EXPECT_EQ(req["address"].AsString(), "Kampstraße 12");
  EXPECT_NEAR(req["lat"].AsNumber(), 51.5136, 1e-6);
  EXPECT_NEAR(req["long"].AsNumber(), 7.4653, 1e-6);
  EXPECT_EQ(req["media_url"].AsString(),
            "https://api.dortmund.example/cities/dortmund/v1/" + created.photo_names(0));
  EXPECT_TRUE(req["expected_datetime"].is_null());
  EXPECT_TRUE(req["requested_datetime"].AsString().size() == 20)
      << req["requested_datetime"].AsString();
  ASSERT_EQ(get("requests.json", &json, "closed"), CIVITAS_OK);
  EXPECT_EQ(json, "[]");
  EXPECT_EQ(get("requests/" + created.name().substr(8) + ".json", &json), CIVITAS_OK);
  EXPECT_EQ(get("discovery.json", &json), CIVITAS_NOT_FOUND);
  EXPECT_EQ(get("requests.json", &json, "pending"), CIVITAS_INVALID_ARGUMENT);
  pb::GetOpen311Request wrong;
  wrong.set_path("services.json");
  wrong.set_jurisdiction_id("schwerte");
  google::api::HttpBody body;
  EXPECT_EQ(host_.Unary(kService, "GetOpen311", wrong, &body), CIVITAS_NOT_FOUND);
}

}  // namespace
