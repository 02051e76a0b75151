// Durability under SIGKILL: with the default `sync` durability, every write the gateway
// acknowledged is there after a crash, and counters equal the writes that were acknowledged.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/testing/v1/places.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;
namespace places = civitas::testing::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
cities:
  - id: bochum
    modules:
      - id: civitas.noticeboard
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
)";

TEST(CrashTest, AcknowledgedWritesSurviveSigkill) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  const std::string token = keys.Mint("anna", "bochum", {});
  std::mt19937 rng(std::random_device{}());
  std::set<std::string> acknowledged_notices;
  int64_t acknowledged_increments = 0;
  int64_t acknowledged_thanks = 0;
  std::string thanked;  // one notice everyone thanks

  for (int round = 0; round < 8; ++round) {
    auto gw = GatewayProcess::Start(dir, kConfig);
    ASSERT_NE(gw, nullptr);
    auto board = nb::NoticeboardService::NewStub(gw->channel());
    auto counter = places::PlacesService::NewStub(gw->channel());

    // Everything acknowledged before this start must be here.
    std::set<std::string> present;
    std::string page;
    do {
      grpc::ClientContext ctx;
      Prepare(&ctx);
      nb::ListNoticesRequest req;
      req.set_page_size(100);
      req.set_page_token(page);
      nb::ListNoticesResponse resp;
      ASSERT_TRUE(board->ListNotices(&ctx, req, &resp).ok());
      for (const auto& n : resp.notices()) present.insert(n.name());
      page = resp.next_page_token();
    } while (!page.empty());
    for (const std::string& name : acknowledged_notices) {
      ASSERT_TRUE(present.count(name)) << "acknowledged notice lost: " << name;
    }
    if (!thanked.empty()) {
      grpc::ClientContext ctx;
      Prepare(&ctx);
      nb::GetNoticeRequest get;
      get.set_name(thanked);
      nb::Notice n;
      ASSERT_TRUE(board->GetNotice(&ctx, get, &n).ok());
      // Every acknowledged thank is counted; a thank that was in flight at the kill may be too.
      EXPECT_GE(n.thanks_count(), acknowledged_thanks);
      EXPECT_LE(n.thanks_count(), acknowledged_thanks + 2);
      acknowledged_thanks = n.thanks_count();
    } else {
      grpc::ClientContext ctx;
      Prepare(&ctx, "", token);
      nb::CreateNoticeRequest req;
      req.mutable_notice()->set_title("danke");
      nb::Notice n;
      ASSERT_TRUE(board->CreateNotice(&ctx, req, &n).ok());
      thanked = n.name();
      acknowledged_notices.insert(n.name());
    }
    {
      // The read-modify-write counter: its value is the number of acknowledged increments,
      // or one more if an increment was committed but its answer lost in the kill.
      grpc::ClientContext ctx;
      Prepare(&ctx);
      places::IncrementResponse resp;
      ASSERT_TRUE(counter->Increment(&ctx, places::IncrementRequest(), &resp).ok());
      EXPECT_GE(resp.value() - 1, acknowledged_increments);
      EXPECT_LE(resp.value() - 1, acknowledged_increments + 2);
      acknowledged_increments = resp.value();
    }

    // Write load from three clients, then SIGKILL at a random moment.
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w) {
      writers.emplace_back([&, w] {
        for (int i = 0; !stop.load(); ++i) {
          grpc::ClientContext ctx;
          Prepare(&ctx, "", token, absl::Seconds(5));
          grpc::Status s;
          if (w == 0) {
            nb::CreateNoticeRequest req;
            req.mutable_notice()->set_title("round " + std::to_string(round));
            nb::Notice n;
            s = board->CreateNotice(&ctx, req, &n);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acknowledged_notices.insert(n.name());
            }
          } else if (w == 1) {
            places::IncrementResponse resp;
            s = counter->Increment(&ctx, places::IncrementRequest(), &resp);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acknowledged_increments = std::max<int64_t>(acknowledged_increments, resp.value());
            }
          } else {
            nb::ThankNoticeRequest thank;
            thank.set_name(thanked);
            nb::Notice n;
            s = board->ThankNotice(&ctx, thank, &n);
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(mu);
              acknowledged_thanks = std::max<int64_t>(acknowledged_thanks, n.thanks_count());
            }
          }
          if (!s.ok()) break;  // the gateway is gone
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    gw->Kill();
    stop = true;
    for (auto& t : writers) t.join();
  }
  EXPECT_GT(acknowledged_notices.size(), 8u) << "the load wrote something each round";
}

}  // namespace
}  // namespace civitas::testing
