// Unit tests of the reports module against the SDK's fake host.
#include "reports.h"

#include <gtest/gtest.h>
#include <jpeglib.h>  // after <cstdio>: it needs FILE
#include <png.h>
#include <webp/encode.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

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
// Real images, written by the formats' reference encoders: photos are decoded, so hand-made
// headers no longer pass.
std::vector<unsigned char> Gradient(int width, int height, int channels) {
  std::vector<unsigned char> pixels(static_cast<size_t>(width) * height * channels);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 7 % 251);
  return pixels;
}

std::string MakeJpeg(int width, int height, bool progressive = false) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr errors;
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 80, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<unsigned char> pixels = Gradient(width, height, 3);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = pixels.data() + static_cast<size_t>(cinfo.next_scanline) * width * 3;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string jpeg(reinterpret_cast<char*>(out), size);
  std::free(out);
  return jpeg;
}

std::string MakePng(int width, int height) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_RGB;
  std::vector<unsigned char> pixels = Gradient(width, height, 3);
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  std::string png(size, '\0');
  png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr);
  png.resize(size);
  return png;
}

std::string MakeWebp(int width, int height) {
  std::vector<unsigned char> pixels = Gradient(width, height, 3);
  uint8_t* out = nullptr;
  const size_t size = WebPEncodeRGB(pixels.data(), width, height, width * 3, 80, &out);
  std::string webp(reinterpret_cast<char*>(out), size);
  WebPFree(out);
  return webp;
}

const std::string kJpeg = MakeJpeg(3, 2);
const std::string kPng = std::string(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00"
    "\x02\x08\x02\x00\x00\x00\xfd\xd4\x9a\x73\x00\x00\x00\x0b\x49\x44\x41\x54\x78\x9c\x63\x60\x40"
    "\x06\x00\x00\x0e\x00\x01\xa9\x91\x73\xb1\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
    68);
const std::string kHugePng = std::string(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x01\x86\xa0\x00\x01\x86"
    "\xa0\x08\x02\x00\x00\x00\x27\x30\x9c\x9f\x00\x00\x00\x09\x49\x44\x41\x54\x78\x9c\x63\x00\x00"
    "\x00\x01\x00\x01\x5e\xff\x7d\xf9\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
    66);

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
         r->add_photos()->set_data(std::string("\xFF\xD8\xFF", 3) + std::string(100, 'x'));
       },
       "report.photos[0] has a JPEG segment past the end"},
      {[](pb::Report* r) { r->add_photos()->set_data(kHugePng); }, "100000 x 100000 pixels"},
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

TEST_F(ReportsTest, OneDeviceSendsTenAnonymousReportsADay) {
  const int64_t noon = 1'800'000'000LL * 1'000'000;  // 2027-01-15, a day's middle (UTC)
  host_.SetNowMicros(noon);
  pb::Report r = Valid();
  r.set_device_id("phone-1");
  pb::Report out;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Create(r, Caller::Anonymous(), &out), CIVITAS_OK) << i;
  const auto before = host_.data();
  std::string error;
  EXPECT_EQ(Create(r, Caller::Anonymous(), &out, &error), CIVITAS_RESOURCE_EXHAUSTED);
  EXPECT_NE(error.find("this device has sent 10 reports without signing in today"),
            std::string::npos)
      << error;
  EXPECT_EQ(host_.data(), before) << "a refused report leaves nothing";
  EXPECT_EQ(Create(r, kAnna, &out), CIVITAS_OK) << "signed in, the device does not count";
  pb::Report other = Valid();
  other.set_device_id("phone-2");
  EXPECT_EQ(Create(other, Caller::Anonymous(), &out), CIVITAS_OK);
  host_.SetNowMicros(noon + 86'400LL * 1'000'000);
  EXPECT_EQ(Create(r, Caller::Anonymous(), &out), CIVITAS_OK) << "a new day";
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

TEST_F(ReportsTest, TheReporterHearsOfEveryStatusChangeOnTheirOwnDevices) {
  std::string topics;
  ASSERT_EQ(host_.PushTopicsJson(&topics), CIVITAS_OK);
  EXPECT_EQ(topics, R"([{"id":"status","titles":{"de":"Meine Meldungen","en":"My reports"}}])");
  pb::Report mine, anonymous;
  ASSERT_EQ(Create(Valid(), kAnna, &mine), CIVITAS_OK);
  pb::Report sent_anonymously = Valid();
  sent_anonymously.set_device_id("phone-1");
  ASSERT_EQ(Create(sent_anonymously, Caller::Anonymous(), &anonymous), CIVITAS_OK);
  EXPECT_TRUE(host_.pushes().empty()) << "filing a report tells nobody";
  pb::UpdateReportStatusRequest req;
  req.set_name(mine.name());
  req.set_status(pb::Report::IN_PROGRESS);
  req.set_note("Der Bauhof ist unterwegs.");
  pb::Report updated;
  ASSERT_EQ(host_.Unary(kService, "UpdateReportStatus", req, &updated, kEditor), CIVITAS_OK);
  req.set_name(anonymous.name());
  ASSERT_EQ(host_.Unary(kService, "UpdateReportStatus", req, &updated, kEditor), CIVITAS_OK);
  const std::vector<civitas::testing::RecordedPush> pushes = host_.pushes();
  ASSERT_EQ(pushes.size(), 1u) << "an anonymous reporter has no devices to tell";
  EXPECT_EQ(pushes[0].topic, "status");
  EXPECT_EQ(pushes[0].subject, "anna");
  ASSERT_EQ(pushes[0].texts.size(), 2u);
  EXPECT_EQ(std::get<1>(pushes[0].texts[0]), "Ihre Meldung wird bearbeitet");
  EXPECT_EQ(std::get<2>(pushes[0].texts[0]), "Der Bauhof ist unterwegs.");
  EXPECT_EQ(std::get<1>(pushes[0].texts[1]), "Your report is being worked on");
  EXPECT_EQ(pushes[0].deep_link, "civitas://" + mine.name());
  // A refused change queues nothing.
  req.set_name(mine.name());
  req.set_status(pb::Report::REJECTED);
  req.clear_note();
  EXPECT_EQ(host_.Unary(kService, "UpdateReportStatus", req, &updated, kEditor),
            CIVITAS_INVALID_ARGUMENT);
  EXPECT_EQ(host_.pushes().size(), 1u);
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

TEST_F(ReportsTest, ExportsAndErasesTheReportersPersonalDataButKeepsTheReport) {
  pb::Report r = Valid();
  r.set_description("Schlagloch, Fotos folgen");
  r.mutable_contact()->set_name("Anna Beispiel");
  r.mutable_contact()->set_phone("+49 231 555 0100");
  r.set_device_id("annas-telefon-7");
  pb::Report filed, other;
  ASSERT_EQ(Create(r, kAnna, &filed), CIVITAS_OK);
  pb::Report by_ben = Valid();
  by_ben.mutable_contact()->set_email("ben@example.org");
  ASSERT_EQ(Create(by_ben, Caller::Citizen("ben"), &other), CIVITAS_OK);

  std::string json, error;
  ASSERT_EQ(host_.ExportPersonalData("anna", &json, &error), CIVITAS_OK) << error;
  civitas::JsonValue parsed;
  ASSERT_TRUE(civitas::ParseJson(json, &parsed, &error)) << error << ": " << json;
  EXPECT_NE(json.find(filed.name()), std::string::npos) << json;
  EXPECT_NE(json.find("anna@example.org"), std::string::npos) << json;
  EXPECT_NE(json.find("+49 231 555 0100"), std::string::npos) << json;
  EXPECT_EQ(json.find("ben@example.org"), std::string::npos) << "only the subject's reports";

  ASSERT_EQ(host_.ErasePersonalData("anna", &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.ErasePersonalData("anna", &error), CIVITAS_OK) << "idempotent: " << error;
  for (const auto& [key, value] : host_.data()) {
    for (const char* personal : {"anna", "Anna Beispiel", "+49 231 555 0100", "annas-telefon-7"}) {
      EXPECT_EQ(key.find(personal), std::string::npos) << key;
      EXPECT_EQ(value.find(personal), std::string::npos) << personal << " still in " << key;
    }
  }
  pb::GetReportRequest get;
  get.set_name(filed.name());
  pb::Report seen;
  ASSERT_EQ(host_.Unary(kService, "GetReport", get, &seen, kEditor), CIVITAS_OK);
  EXPECT_EQ(seen.description(), r.description()) << "the report itself stays";
  EXPECT_FALSE(seen.has_contact());
  EXPECT_TRUE(seen.reporter().empty());
  EXPECT_TRUE(seen.device_id().empty());
  get.set_name(other.name());
  ASSERT_EQ(host_.Unary(kService, "GetReport", get, &seen, kEditor), CIVITAS_OK);
  EXPECT_EQ(seen.contact().email(), "ben@example.org") << "other reporters keep theirs";
  ASSERT_EQ(host_.ExportPersonalData("anna", &json, &error), CIVITAS_OK) << error;
  EXPECT_EQ(json, "{\"reports\":[]}");
  EXPECT_EQ(host_.ErasePersonalData("", &error), CIVITAS_INVALID_ARGUMENT);
}

namespace {

TEST(CheckImageTest, WholeFilesPassAndPiecesOrBombsDoNot) {
  reports::ImageInfo info;
  EXPECT_EQ(reports::CheckImage(kPng, 8192, 40'000'000, &info), "");
  EXPECT_EQ(info.content_type, "image/png");
  EXPECT_EQ(info.width, 2u);
  EXPECT_EQ(info.height, 2u);
  EXPECT_EQ(reports::CheckImage(kJpeg, 8192, 40'000'000, &info), "");
  EXPECT_EQ(info.content_type, "image/jpeg");
  EXPECT_EQ(info.width, 3u);
  EXPECT_EQ(info.height, 2u);

  std::string flipped = kPng;
  flipped[40] ^= 1;  // a bit of the image data
  EXPECT_NE(reports::CheckImage(flipped, 8192, 40'000'000, &info).find("wrong checksum"),
            std::string::npos);
  EXPECT_NE(reports::CheckImage(kPng + "trailing", 8192, 40'000'000, &info).find("after the end"),
            std::string::npos);
  EXPECT_NE(reports::CheckImage(kPng.substr(0, 40), 8192, 40'000'000, &info), "");
  EXPECT_NE(reports::CheckImage(kJpeg.substr(0, kJpeg.size() - 2), 8192, 40'000'000, &info)
                .find("end-of-image"),
            std::string::npos);
  EXPECT_NE(reports::CheckImage(kJpeg, 2, 40'000'000, &info).find("at most 2 on a side"),
            std::string::npos);
  EXPECT_NE(reports::CheckImage(kHugePng, 8192, 40'000'000, &info).find("100000 x 100000"),
            std::string::npos);
  // A WebP whose RIFF size lies.
  std::string webp = std::string("RIFF\xff\xff\x00\x00WEBPVP8L", 16) + std::string(20, '\0');
  EXPECT_NE(reports::CheckImage(webp, 8192, 40'000'000, &info).find("RIFF size"),
            std::string::npos);
}

// The container checks pass for these; only decoding finds what is wrong.
TEST(CheckImageTest, EveryPixelIsDecoded) {
  reports::ImageInfo info;
  for (const std::string& image : {MakeJpeg(640, 480), MakeJpeg(333, 77, /*progressive=*/true),
                                   MakePng(640, 480), MakeWebp(640, 480), MakeWebp(5, 3)}) {
    EXPECT_EQ(reports::CheckImage(image, 8192, 40'000'000, &info), "") << info.content_type;
  }
  EXPECT_EQ(info.width, 5u);

  // A JPEG whose scan is cut in half, still ending with its end-of-image marker.
  const std::string jpeg = MakeJpeg(640, 480);
  const size_t scan = jpeg.find("\xFF\xDA");
  ASSERT_NE(scan, std::string::npos);
  const std::string cut = jpeg.substr(0, scan + (jpeg.size() - scan) / 2) + "\xFF\xD9";
  EXPECT_NE(reports::CheckImage(cut, 8192, 40'000'000, &info).find("does not decode"),
            std::string::npos)
      << reports::CheckImage(cut, 8192, 40'000'000, &info);

  // A JPEG of thousands of empty scans: refused before decoding.
  std::string scans = jpeg.substr(0, jpeg.size() - 2);
  for (int i = 0; i < 1000; ++i) scans += std::string("\xFF\xDA\x00\x02", 4);
  scans += "\xFF\xD9";
  EXPECT_NE(reports::CheckImage(scans, 8192, 40'000'000, &info).find("more than 100 scans"),
            std::string::npos);

  // A PNG whose compressed data is noise, with correct chunk checksums.
  std::string png = MakePng(64, 64);
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  const uint32_t length = (static_cast<unsigned char>(png[idat - 4]) << 24) |
                          (static_cast<unsigned char>(png[idat - 3]) << 16) |
                          (static_cast<unsigned char>(png[idat - 2]) << 8) |
                          static_cast<unsigned char>(png[idat - 1]);
  for (uint32_t i = 2; i < length; ++i) png[idat + 4 + i] = static_cast<char>(i * 31);
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const unsigned char*>(png.data() + idat), length + 4));
  for (int i = 0; i < 4; ++i) png[idat + 4 + length + i] = static_cast<char>(crc >> (24 - 8 * i));
  EXPECT_NE(reports::CheckImage(png, 8192, 40'000'000, &info).find("does not decode"),
            std::string::npos)
      << reports::CheckImage(png, 8192, 40'000'000, &info);

  // A WebP whose image data is overwritten, RIFF size intact.
  std::string webp = MakeWebp(640, 480);
  for (size_t i = 40; i < webp.size(); ++i) webp[i] = static_cast<char>(i * 13);
  EXPECT_NE(reports::CheckImage(webp, 8192, 40'000'000, &info).find("does not decode"),
            std::string::npos)
      << reports::CheckImage(webp, 8192, 40'000'000, &info);
}

}  // namespace

namespace {

class ClaimTest : public ReportsTest {
 protected:
  int32_t Claim(const std::string& name, const std::string& secret, const Caller& who,
                pb::Report* out, std::string* reason = nullptr) {
    pb::ClaimReportRequest req;
    req.set_name(name);
    req.set_claim_secret(secret);
    civitas::testing::CallResult r =
        host_.Call(kService, "ClaimReport", req.SerializeAsString(), who);
    if (reason) *reason = r.reason;
    if (r.code == CIVITAS_OK) out->ParseFromString(r.reply);
    return r.code;
  }
  std::vector<std::string> Mine(const Caller& who) {
    pb::ListMyReportsRequest req;
    pb::ListReportsResponse out;
    EXPECT_EQ(host_.Unary(kService, "ListMyReports", req, &out, who), CIVITAS_OK);
    std::vector<std::string> names;
    for (const pb::Report& r : out.reports()) names.push_back(r.name());
    return names;
  }
};

TEST_F(ClaimTest, TheSenderOfAnAnonymousReportClaimsItOnceSignedIn) {
  pb::Report r = Valid();
  r.set_device_id("phone-1");
  pb::Report sent;
  ASSERT_EQ(Create(r, Caller::Anonymous(), &sent), CIVITAS_OK);
  ASSERT_EQ(sent.claim_secret().size(), 32u) << "128 bits, as hex";
  host_.SetNowMicros(1'790'000'001'000'000);  // a second later
  pb::Report signed_in;
  ASSERT_EQ(Create(Valid(), kAnna, &signed_in), CIVITAS_OK);
  EXPECT_TRUE(signed_in.claim_secret().empty()) << "a signed-in report is the account's already";
  pb::GetReportRequest get;
  get.set_name(sent.name());
  pb::Report read;
  ASSERT_EQ(host_.Unary(kService, "GetReport", get, &read, kEditor), CIVITAS_OK);
  EXPECT_TRUE(read.claim_secret().empty()) << "the secret is never shown again";

  // A wrong secret, and a sign-in of someone else with a wrong one: refused, nothing changes.
  const auto before = host_.data();
  pb::Report out;
  std::string reason;
  EXPECT_EQ(Claim(sent.name(), std::string(32, '0'), kAnna, &out, &reason),
            CIVITAS_PERMISSION_DENIED);
  EXPECT_EQ(reason, "CLAIM_SECRET_INVALID");
  EXPECT_EQ(Claim(sent.name(), "", kAnna, &out), CIVITAS_INVALID_ARGUMENT);
  EXPECT_EQ(host_.data(), before);

  ASSERT_EQ(Claim(sent.name(), sent.claim_secret(), kAnna, &out), CIVITAS_OK);
  EXPECT_EQ(out.reporter(), "anna");
  EXPECT_TRUE(out.reported_by_caller());
  EXPECT_EQ(Mine(kAnna), (std::vector<std::string>{signed_in.name(), sent.name()}))
      << "newest first, the claimed one by its creation time";
  EXPECT_EQ(Claim(sent.name(), sent.claim_secret(), kAnna, &out), CIVITAS_OK) << "idempotent";
  EXPECT_EQ(Mine(kAnna).size(), 2u);
  // The secret worked once: nobody else can take the report with it now.
  EXPECT_EQ(Claim(sent.name(), sent.claim_secret(), Caller::Citizen("ben"), &out, &reason),
            CIVITAS_PERMISSION_DENIED);
  EXPECT_EQ(reason, "CLAIM_SECRET_INVALID");
  EXPECT_TRUE(Mine(Caller::Citizen("ben")).empty());
  // A signed-in report cannot be claimed by anyone else.
  EXPECT_EQ(Claim(signed_in.name(), sent.claim_secret(), Caller::Citizen("ben"), &out),
            CIVITAS_PERMISSION_DENIED);
  EXPECT_EQ(Claim("reports/0123456789abcdef", sent.claim_secret(), kAnna, &out), CIVITAS_NOT_FOUND);
}

}  // namespace
