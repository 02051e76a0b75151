// Module loading through the real gateway: refusals with one clear sentence, modules that share a
// proto file side by side, storage isolation between modules and cities, per-city config.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "civitas/abi.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/testing/v1/places.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace admin = civitas::gateway::v1;
namespace nb = civitas::noticeboard::v1;
namespace places = civitas::testing::v1;

TEST(ModulesTest, BrokenModulesAreRefusedClearlyAndTheCityKeepsServing) {
  const std::string dir = NewTempDir("gw");
  auto gw = GatewayProcess::Start(dir, R"(
data_dir: {dir}/data
module_dir: {modules}
cities:
  - id: hagen
    modules:
      - id: civitas.noticeboard
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
      - id: civitas.testing.no_entry
        path: {fixtures}/civitas.testing.no_entry.so
      - id: civitas.testing.abi_major
        path: {fixtures}/civitas.testing.abi_major.so
      - id: civitas.testing.newer_minor
        path: {fixtures}/civitas.testing.newer_minor.so
      - id: civitas.testing.bad_descriptors
        path: {fixtures}/civitas.testing.bad_descriptors.so
      - id: civitas.testing.service_taken
        path: {fixtures}/civitas.testing.service_taken.so
      - id: civitas.testing.missing
        path: {fixtures}/civitas.testing.missing.so
  - id: unna
    modules:
      - id: civitas.testing.init_fails
        path: {fixtures}/civitas.testing.init_fails.so
)");
  ASSERT_NE(gw, nullptr);
  auto modules = ListModules(*gw, "hagen");
  ASSERT_EQ(modules.size(), 8u);
  modules["civitas.testing.init_fails"] = ListModules(*gw, "unna")["civitas.testing.init_fails"];

  // The two that share civitas/type/v1/geo.proto both serve.
  EXPECT_EQ(modules["civitas.noticeboard"].state(), admin::MODULE_STATE_SERVING);
  EXPECT_EQ(modules["civitas.noticeboard"].version(), "1.0.0");
  EXPECT_EQ(modules["civitas.noticeboard"].abi_version(),
            absl::StrCat(CIVITAS_ABI_MAJOR, ".", CIVITAS_ABI_MINOR));
  EXPECT_EQ(modules["civitas.testing.places"].state(), admin::MODULE_STATE_SERVING);

  const std::map<std::string, std::string> expected = {
      {"civitas.testing.no_entry", "does not export civitas_module_entry_v1"},
      {"civitas.testing.abi_major", "built for civitas ABI 99.0 but this gateway speaks ABI 1.x"},
      {"civitas.testing.newer_minor",
       absl::StrCat("needs civitas ABI 1.", CIVITAS_ABI_MINOR + 1,
                    " but this gateway offers only 1.", CIVITAS_ABI_MINOR)},
      {"civitas.testing.bad_descriptors", "embedded descriptor set is not a valid"},
      {"civitas.testing.init_fails",
       "failed to start for city 'unna': the city's schema version 7 is newer than this module"},
      {"civitas.testing.service_taken",
       "service civitas.noticeboard.v1.NoticeboardService is already served in city 'hagen' by "
       "module 'civitas.noticeboard'"},
      {"civitas.testing.missing", "cannot be read"},
  };
  for (const auto& [id, reason] : expected) {
    const admin::Module& m = modules[id];
    EXPECT_EQ(m.state(), admin::MODULE_STATE_FAILED) << id;
    EXPECT_NE(m.error().find(reason), std::string::npos) << id << ": " << m.error();
    // One sentence, logged too.
    EXPECT_EQ(m.error().find('\n'), std::string::npos) << m.error();
    EXPECT_NE(gw->log().find(id), std::string::npos);
  }

  // The refused impostors declared NoticeboardService too; the real notice board answers it.
  {
    auto board = nb::NoticeboardService::NewStub(gw->channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen");
    nb::ListNoticesResponse resp;
    grpc::Status s = board->ListNotices(&ctx, nb::ListNoticesRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  // The gateway stays up.
  EXPECT_TRUE(gw->running());
  EXPECT_EQ(gw->Terminate(), 0);
}

// A module's config is read against its schema: a typo or a wrong type refuses that module with
// the sentence naming the key, shown by ListModules, while the city serves its other modules.
TEST(ModulesTest, AModuleConfigWithATypoOrAWrongTypeIsRefusedWithTheKey) {
  const std::string dir = NewTempDir("gw");
  auto gw = GatewayProcess::Start(dir, R"(
data_dir: {dir}/data
module_dir: {modules}
cities:
  - id: hagen
    modules:
      - id: civitas.noticeboard
      - id: civitas.participation
        config:
          flag_treshold: 5
      - id: civitas.reports
        config:
          max_photos: "5"
      - id: civitas.news
        config:
          feed_title: Nachrichten aus Hagen
)");
  ASSERT_NE(gw, nullptr);
  auto modules = ListModules(*gw, "hagen");
  const std::map<std::string, std::string> expected = {
      {"civitas.participation", "unknown config key 'flag_treshold'; the keys here are "},
      {"civitas.reports", "max_photos must be a whole number from 0 to 10, got \"5\""},
  };
  for (const auto& [id, reason] : expected) {
    const admin::Module& m = modules[id];
    EXPECT_EQ(m.state(), admin::MODULE_STATE_FAILED) << id;
    EXPECT_NE(m.error().find("failed to start for city 'hagen': " + reason), std::string::npos)
        << id << ": " << m.error();
    EXPECT_EQ(m.error().find('\n'), std::string::npos) << m.error();
  }
  EXPECT_EQ(modules["civitas.noticeboard"].state(), admin::MODULE_STATE_SERVING);
  EXPECT_EQ(modules["civitas.news"].state(), admin::MODULE_STATE_SERVING);
  {
    auto board = nb::NoticeboardService::NewStub(gw->channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen");
    nb::ListNoticesResponse resp;
    grpc::Status s = board->ListNotices(&ctx, nb::ListNoticesRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(gw->running());
  EXPECT_EQ(gw->Terminate(), 0);
}

TEST(ModulesTest, StorageIsIsolatedBetweenModulesAndCities) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: {dir}/jwks.json
cities:
  - id: dortmund
    modules:
      - id: civitas.noticeboard
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
        config:
          greeting: Glück auf
          limit: 5
  - id: schwerte
    modules:
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
)");
  ASSERT_NE(gw, nullptr);
  auto board = nb::NoticeboardService::NewStub(gw->channel());
  auto place = places::PlacesService::NewStub(gw->channel());
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", keys.Mint("anna", "dortmund", {}));
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title("n" + std::to_string(i));
    nb::Notice out;
    ASSERT_TRUE(board->CreateNotice(&ctx, req, &out).ok());
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", keys.Mint("anna", "dortmund", {}));
    places::AddPlaceRequest req;
    req.mutable_place()->set_title("Phoenix-See");
    req.mutable_place()->mutable_point()->set_latitude(51.49);
    places::Place out;
    ASSERT_TRUE(place->AddPlace(&ctx, req, &out).ok());
    EXPECT_DOUBLE_EQ(out.point().latitude(), 51.49);
  }
  auto count = [&](const std::string& city) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    places::CountKeysResponse resp;
    EXPECT_TRUE(place->CountKeys(&ctx, places::CountKeysRequest(), &resp).ok());
    return resp.count();
  };
  // The places module sees its one key, not the notice board's three, and not Dortmund's in
  // Schwerte.
  EXPECT_EQ(count("dortmund"), 1);
  EXPECT_EQ(count("schwerte"), 0);

  auto config = [&](const std::string& city) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    places::GetConfigResponse resp;
    EXPECT_TRUE(place->GetConfig(&ctx, places::GetConfigRequest(), &resp).ok());
    return resp;
  };
  // Each module gets its own config block plus the city's language and time zone.
  auto same_json = [](const std::string& a, const std::string& b) {
    google::protobuf::Struct x, y;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(a, &x).ok()) << a;
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(b, &y).ok()) << b;
    return google::protobuf::util::MessageDifferencer::Equals(x, y);
  };
  EXPECT_TRUE(same_json(config("dortmund").json(),
                        R"({"greeting":"Glück auf","limit":5,"default_language":"de",
                            "time_zone":"Europe/Berlin"})"))
      << config("dortmund").json();
  EXPECT_EQ(config("dortmund").city_id(), "dortmund");
  EXPECT_TRUE(same_json(config("schwerte").json(),
                        R"({"default_language":"de","time_zone":"Europe/Berlin"})"))
      << config("schwerte").json();
}

}  // namespace
}  // namespace civitas::testing
