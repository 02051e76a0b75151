#include "services/gateway/multipart.h"

#include <gtest/gtest.h>

#include "civitas/reports/v1/reports.pb.h"
#include "google/protobuf/util/json_util.h"

namespace civitas::gateway {
namespace {

constexpr char kType[] = "multipart/form-data; boundary=\"xYz\"";

std::string Form(const std::vector<std::string>& parts) {
  std::string body = "preamble\r\n";
  for (const std::string& p : parts) body += "--xYz\r\n" + p + "\r\n";
  return body + "--xYz--\r\nepilogue";
}

std::string Field(const std::string& name, const std::string& value) {
  return "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value;
}

std::string File(const std::string& name, const std::string& filename, const std::string& type,
                 const std::string& data) {
  return "Content-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename +
         "\"\r\nContent-Type: " + type + "\r\n\r\n" + data;
}

const UploadLimits kReports = UploadRoutes().at("/civitas.reports.v1.ReportsService/CreateReport");

TEST(MultipartTest, ReportsPromiseThreePhotosOfOneMebibyte) {
  EXPECT_EQ(kReports.max_files, 3u);
  EXPECT_EQ(kReports.max_file_bytes, 1u << 20);
  EXPECT_TRUE(IsMultipartForm("Multipart/Form-Data; boundary=a"));
  EXPECT_FALSE(IsMultipartForm("application/json"));
}

TEST(MultipartTest, PartsWithBinaryDataAndTheirHeaders) {
  const std::string jpeg("\xFF\xD8\r\n--xY\0z", 10);  // looks almost like a boundary
  auto parts = ParseMultipartForm(kType,
                                  Form({Field("report", R"({"description": "Loch"})"),
                                        File("photos", "a.jpg", "image/jpeg", jpeg)}),
                                  kReports);
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "report");
  EXPECT_EQ((*parts)[0].data, R"({"description": "Loch"})");
  EXPECT_EQ((*parts)[1].filename, "a.jpg");
  EXPECT_EQ((*parts)[1].content_type, "image/jpeg");
  EXPECT_EQ((*parts)[1].data, jpeg);
}

TEST(MultipartTest, LimitsAreTheRoutesAndNameThePart) {
  const std::string mib(1u << 20, 'x');
  auto at_limit = ParseMultipartForm(
      kType,
      Form({File("photos", "1.jpg", "image/jpeg", mib), File("photos", "2.jpg", "image/jpeg", mib),
            File("photos", "3.jpg", "image/jpeg", mib)}),
      kReports);
  EXPECT_TRUE(at_limit.ok()) << at_limit.status();
  auto big = ParseMultipartForm(kType, Form({File("photos", "big.jpg", "image/jpeg", mib + "x")}),
                                kReports);
  ASSERT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find("big.jpg"), std::string::npos) << big.status();
  auto four = ParseMultipartForm(
      kType,
      Form({File("photos", "1", "image/png", "a"), File("photos", "2", "image/png", "b"),
            File("photos", "3", "image/png", "c"), File("photos", "4", "image/png", "d")}),
      kReports);
  EXPECT_EQ(four.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(MultipartTest, MalformedFormsAreRefused) {
  for (const char* type : {"multipart/form-data", "multipart/form-data; boundary="}) {
    EXPECT_EQ(ParseMultipartForm(type, Form({}), kReports).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_FALSE(ParseMultipartForm(kType, "no boundary here", kReports).ok());
  EXPECT_FALSE(ParseMultipartForm(kType, "--xYz\r\nname-less\r\n\r\nx\r\n--xYz--", kReports).ok());
  EXPECT_FALSE(ParseMultipartForm(kType, "--xYz\r\n" + Field("a", "never closed"), kReports).ok());
}

TEST(MultipartTest, FormBecomesTheReportWithItsPhotos) {
  const auto* type = civitas::reports::v1::Report::descriptor();
  auto parts = ParseMultipartForm(
      kType,
      Form({Field("report", R"({"service": "services/schlagloch", "description": "Loch"})"),
            File("photos", "a.png", "image/png", std::string("\x89PNG\0", 5))}),
      kReports);
  ASSERT_TRUE(parts.ok()) << parts.status();
  auto json = FormToJson(*parts, type, "report");
  ASSERT_TRUE(json.ok()) << json.status();
  civitas::reports::v1::Report report;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &report).ok()) << *json;
  EXPECT_EQ(report.description(), "Loch");
  ASSERT_EQ(report.photos_size(), 1);
  EXPECT_EQ(report.photos(0).content_type(), "image/png");
  EXPECT_EQ(report.photos(0).data(), std::string("\x89PNG\0", 5));

  // A part that is neither the JSON nor a file of a file field is named in the refusal.
  auto stray = FormToJson({{"comment", "", "", "hi"}}, type, "report");
  ASSERT_FALSE(stray.ok());
  EXPECT_NE(stray.status().message().find("'comment'"), std::string::npos) << stray.status();
  auto not_files = FormToJson({{"description", "x.txt", "text/plain", "hi"}}, type, "report");
  EXPECT_FALSE(not_files.ok());
}

}  // namespace
}  // namespace civitas::gateway
