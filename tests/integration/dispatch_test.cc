// Calls through the real gateway: routing by city, roles, bad input, streams, deadlines, load.
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/testing/v1/places.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nb = civitas::noticeboard::v1;
namespace places = civitas::testing::v1;

constexpr char kTwoCities[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: {dir}/jwks.json
cities:
  - id: dortmund
    hosts: [app.dortmund.example]
    modules:
      - id: civitas.noticeboard
      - id: civitas.testing.places
        path: {fixtures}/civitas.testing.places.so
  - id: schwerte
    modules:
      - id: civitas.noticeboard
)";

class DispatchTest : public ::testing::Test {
 protected:
  void StartGateway(const std::string& config = kTwoCities, std::vector<std::string> args = {}) {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gateway_ = GatewayProcess::Start(dir_, config, std::move(args));
    ASSERT_NE(gateway_, nullptr);
    board_ = nb::NoticeboardService::NewStub(gateway_->channel());
    places_ = places::PlacesService::NewStub(gateway_->channel());
  }

  grpc::Status CreateNotice(const std::string& city, const std::string& token,
                            const std::string& title, nb::Notice* out = nullptr) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, token);
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title(title);
    nb::Notice ignored;
    return board_->CreateNotice(&ctx, req, out ? out : &ignored);
  }

  nb::ListNoticesResponse List(const std::string& city) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    nb::ListNoticesResponse resp;
    grpc::Status s = board_->ListNotices(&ctx, nb::ListNoticesRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gateway_;
  std::unique_ptr<nb::NoticeboardService::Stub> board_;
  std::unique_ptr<places::PlacesService::Stub> places_;
};

TEST_F(DispatchTest, RoutesEachCallToItsCitysData) {
  StartGateway();
  const std::string anna = keys_->Mint("anna", "dortmund", {});
  const std::string ben = keys_->Mint("ben", "schwerte", {});
  ASSERT_TRUE(CreateNotice("dortmund", anna, "Dortmund only").ok());
  ASSERT_TRUE(CreateNotice("schwerte", ben, "Schwerte only").ok());

  nb::ListNoticesResponse dortmund = List("dortmund");
  ASSERT_EQ(dortmund.notices_size(), 1);
  EXPECT_EQ(dortmund.notices(0).title(), "Dortmund only");
  EXPECT_TRUE(dortmund.notices(0).author().empty()) << "anonymous readers never see a subject";
  nb::ListNoticesResponse schwerte = List("schwerte");
  ASSERT_EQ(schwerte.notices_size(), 1);
  EXPECT_EQ(schwerte.notices(0).title(), "Schwerte only");
}

TEST_F(DispatchTest, CityFromAuthorityWhenNoMetadata) {
  StartGateway();
  ASSERT_TRUE(CreateNotice("dortmund", keys_->Mint("anna", "dortmund", {}), "hi").ok());
  grpc::ChannelArguments args;
  args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "app.dortmund.example");
  auto stub = nb::NoticeboardService::NewStub(
      grpc::CreateCustomChannel(gateway_->target(), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  Prepare(&ctx);
  nb::ListNoticesResponse resp;
  ASSERT_TRUE(stub->ListNotices(&ctx, nb::ListNoticesRequest(), &resp).ok());
  EXPECT_EQ(resp.notices_size(), 1);
}

TEST_F(DispatchTest, UnknownCityMissingCityAndDisabledModuleAreClearErrors) {
  StartGateway();
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hagen");
    nb::ListNoticesResponse resp;
    grpc::Status s = board_->ListNotices(&ctx, nb::ListNoticesRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_NE(s.error_message().find("city 'hagen'"), std::string::npos) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    nb::ListNoticesResponse resp;
    grpc::Status s = board_->ListNotices(&ctx, nb::ListNoticesRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("x-civitas-city"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "schwerte");
    places::CountKeysResponse resp;
    grpc::Status s = places_->CountKeys(&ctx, places::CountKeysRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_NE(s.error_message().find("not enabled for city 'schwerte'"), std::string::npos)
        << s.error_message();
  }
}

TEST_F(DispatchTest, RolesAndTokens) {
  StartGateway();
  const std::string anna = keys_->Mint("anna", "dortmund", {});
  nb::Notice notice;
  ASSERT_TRUE(CreateNotice("dortmund", anna, "Anna's", &notice).ok());

  // Anonymous write: UNAUTHENTICATED, naming the role.
  grpc::Status s = CreateNotice("dortmund", "", "anonymous");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("role citizen"), std::string::npos) << s.error_message();

  // Expired, forged and malformed tokens.
  s = CreateNotice(
      "dortmund",
      keys_->Mint("anna", "dortmund", {}, absl::Minutes(1), absl::Now() - absl::Hours(2)), "x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("expired"), std::string::npos) << s.error_message();
  TestKeys other(NewTempDir("other-keys"));
  s = CreateNotice("dortmund", other.Mint("mallory", "dortmund", {"admin"}), "x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("signature does not match"), std::string::npos)
      << s.error_message();
  s = CreateNotice("dortmund", "not-a-token", "x");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // Another citizen may not delete Anna's notice; an editor of Schwerte is no editor in Dortmund;
  // an editor of Dortmund may.
  auto del = [&](const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", token);
    nb::DeleteNoticeRequest req;
    req.set_name(notice.name());
    google::protobuf::Empty out;
    return board_->DeleteNotice(&ctx, req, &out);
  };
  EXPECT_EQ(del(keys_->Mint("ben", "dortmund", {})).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // (A token issued for Schwerte is nobody in Dortmund: refused as a token, not as a role.)
  s = del(keys_->Mint("clerk", "schwerte", {"editor"}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("not issued for city 'dortmund'"), std::string::npos)
      << s.error_message();
  EXPECT_TRUE(del(keys_->Mint("clerk", "dortmund", {"editor"})).ok());
  EXPECT_EQ(List("dortmund").notices_size(), 0);
}

// Raw bytes through the generic stub, the way a broken client would send them.
grpc::Status RawUnary(GatewayProcess& gw, const std::string& method, const std::string& body,
                      const std::string& city, std::string* response = nullptr) {
  grpc::GenericStub stub(gw.channel());
  grpc::ClientContext ctx;
  Prepare(&ctx, city);
  grpc::CompletionQueue cq;
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1), reply;
  auto call = stub.PrepareUnaryCall(&ctx, method, request, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&reply, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  if (response && status.ok()) {
    std::vector<grpc::Slice> slices;
    (void)reply.Dump(&slices);
    for (auto& s : slices) response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return status;
}

TEST_F(DispatchTest, BadInputGetsAClearErrorAndTheGatewayKeepsServing) {
  StartGateway(std::string(kTwoCities) + "limits:\n  max_request_bytes: 65536\n");
  const std::string list = "/civitas.noticeboard.v1.NoticeboardService/ListNotices";

  grpc::Status s = RawUnary(*gateway_, list, std::string("\xff\xff\xff\xff", 4), "dortmund");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("ListNoticesRequest"), std::string::npos) << s.error_message();

  s = RawUnary(*gateway_, list, std::string(100000, 'x'), "dortmund");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();

  s = RawUnary(*gateway_, "/civitas.noticeboard.v1.NoticeboardService/Explode", "", "dortmund");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(s.error_message().find("Explode"), std::string::npos);

  s = RawUnary(*gateway_, "/nobody.v1.Nothing/Nope", "", "dortmund");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);

  // Invalid UTF-8 in a string field.
  nb::GetNoticeRequest bad_utf8;
  bad_utf8.set_name("notices/ok");
  std::string bytes = bad_utf8.SerializeAsString();
  bytes.replace(bytes.find("ok"), 2, "\xc3\x28");
  s = RawUnary(*gateway_, "/civitas.noticeboard.v1.NoticeboardService/GetNotice", bytes,
               "dortmund");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  nb::ListNoticesRequest huge;
  huge.set_page_size(1 << 30);
  s = RawUnary(*gateway_, list, huge.SerializeAsString(), "dortmund");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("page_size must be between 0 and 100"), std::string::npos);

  // Still serving, and nothing was written.
  EXPECT_EQ(List("dortmund").notices_size(), 0);
}

TEST_F(DispatchTest, DeadlineReachesTheModule) {
  StartGateway();
  grpc::ClientContext ctx;
  Prepare(&ctx, "dortmund", "", absl::Milliseconds(300));
  places::SleepRequest req;
  req.set_millis(5000);
  places::SleepResponse resp;
  const auto start = std::chrono::steady_clock::now();
  grpc::Status s = places_->Sleep(&ctx, req, &resp);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(took, std::chrono::seconds(3));
  // The handler thread was given back: the next call runs.
  grpc::ClientContext ctx2;
  Prepare(&ctx2, "dortmund");
  req.set_millis(1);
  EXPECT_TRUE(places_->Sleep(&ctx2, req, &resp).ok());
  EXPECT_TRUE(resp.completed());
}

TEST_F(DispatchTest, FullHandlerQueueAnswersResourceExhausted) {
  // No write-rate limits: every RESOURCE_EXHAUSTED here must come from the full queue.
  StartGateway(std::string(kTwoCities) +
               "limits:\n  handler_threads: 1\n  handler_queue: 2\n"
               "  write_rate: {anonymous_per_peer: {per_minute: 0}}\n");
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&] {
      grpc::ClientContext ctx;
      Prepare(&ctx, "dortmund");
      places::SleepRequest req;
      req.set_millis(300);
      places::SleepResponse resp;
      grpc::Status s = places_->Sleep(&ctx, req, &resp);
      if (s.ok()) {
        ++ok;
      } else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        ++exhausted;
        EXPECT_NE(s.error_message().find("retry"), std::string::npos);
      } else {
        ++other;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(exhausted.load(), 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(ok + exhausted, 12);
}

TEST_F(DispatchTest, WatchSendsSnapshotThenLiveNotices) {
  StartGateway();
  const std::string anna = keys_->Mint("anna", "dortmund", {});
  ASSERT_TRUE(CreateNotice("dortmund", anna, "before").ok());

  grpc::ClientContext ctx;
  Prepare(&ctx, "dortmund", "", absl::Seconds(20));
  nb::WatchNoticesRequest req;
  req.set_initial_count(5);
  auto reader = board_->WatchNotices(&ctx, req);
  nb::Notice n;
  ASSERT_TRUE(reader->Read(&n));
  EXPECT_EQ(n.title(), "before");

  // Notices of another city never reach this stream; this city's do.
  ASSERT_TRUE(CreateNotice("schwerte", keys_->Mint("ben", "schwerte", {}), "elsewhere").ok());
  ASSERT_TRUE(CreateNotice("dortmund", anna, "live 1").ok());
  ASSERT_TRUE(CreateNotice("dortmund", anna, "live 2").ok());
  ASSERT_TRUE(reader->Read(&n));
  EXPECT_EQ(n.title(), "live 1");
  ASSERT_TRUE(reader->Read(&n));
  EXPECT_EQ(n.title(), "live 2");
  ctx.TryCancel();
  while (reader->Read(&n)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  // The gateway keeps serving after the stream went away.
  EXPECT_EQ(List("dortmund").notices_size(), 3);
}

// Without the edge in front, one client address may hold only so many live streams, however
// many connections it opens.
TEST_F(DispatchTest, LiveStreamsAreCappedPerClientAddressAcrossConnections) {
  StartGateway(std::string(kTwoCities) +
               "limits:\n  max_follows_per_connection: 2\n  max_follows_per_address: 3\n");
  ASSERT_TRUE(CreateNotice("dortmund", keys_->Mint("anna", "dortmund", {}), "before").ok());
  // Each stub on its own connection.
  auto connect = [&] {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return nb::NoticeboardService::NewStub(
        grpc::CreateCustomChannel(gateway_->target(), grpc::InsecureChannelCredentials(), args));
  };
  struct Watch {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<nb::Notice>> reader;
    bool live = false;
  };
  // An accepted stream follows first and then sends the newest notice; a refused one ends.
  auto open = [](nb::NoticeboardService::Stub& stub, Watch* w) {
    Prepare(&w->ctx, "dortmund", "", absl::Seconds(20));
    nb::WatchNoticesRequest req;
    req.set_initial_count(1);
    w->reader = stub.WatchNotices(&w->ctx, req);
    nb::Notice n;
    w->live = w->reader->Read(&n);
  };
  auto end = [](Watch* w) {
    w->ctx.TryCancel();
    nb::Notice n;
    while (w->reader->Read(&n)) {
    }
    return w->reader->Finish();
  };
  auto a = connect();
  auto b = connect();
  std::vector<std::unique_ptr<Watch>> watches;
  for (auto* stub : {a.get(), a.get(), b.get(), b.get()}) {
    watches.push_back(std::make_unique<Watch>());
    open(*stub, watches.back().get());
  }
  int live = 0;
  for (auto& w : watches) {
    if (w->live) {
      ++live;
      continue;
    }
    grpc::Status refused = w->reader->Finish();
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << refused.error_message();
    EXPECT_NE(refused.error_message().find("limits.max_follows_per_address"), std::string::npos)
        << refused.error_message();
  }
  EXPECT_EQ(live, 3) << "two connections of one address, at most three live streams";

  // Closing one makes room again (the gateway counts it off as the cancellation arrives).
  for (auto& w : watches) {
    if (w->live) {
      end(w.get());
      w->live = false;
      break;
    }
  }
  bool accepted = false;
  for (int attempt = 0; attempt < 100 && !accepted; ++attempt) {
    Watch again;
    open(*b, &again);
    accepted = again.live;
    end(&again);
    if (!accepted) absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(accepted);
  for (auto& w : watches) {
    if (w->live) end(w.get());
  }
}

TEST_F(DispatchTest, ConcurrentReadModifyWriteLosesNothing) {
  // 201 anonymous writes from one client: write-rate limits are abuse_test's.
  StartGateway(std::string(kTwoCities) +
               "limits:\n  write_rate: {anonymous_per_peer: {per_minute: 0}}\n");
  std::vector<std::thread> clients;
  std::atomic<int> failures{0};
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "dortmund");
        places::IncrementResponse resp;
        grpc::Status s = places_->Increment(&ctx, places::IncrementRequest(), &resp);
        if (!s.ok()) {
          ++failures;
          ADD_FAILURE() << s.error_message();
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  grpc::ClientContext ctx;
  Prepare(&ctx, "dortmund");
  places::IncrementResponse last;
  ASSERT_TRUE(places_->Increment(&ctx, places::IncrementRequest(), &last).ok());
  EXPECT_EQ(last.value(), 8 * 25 + 1 - failures.load());
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace civitas::testing

namespace civitas::testing {
namespace {

TEST(AuthConfigTest, Hs256TokensOnlyWhenTheConfigAllowsThem) {
  const std::string dir = NewTempDir("gw");
  std::ofstream(dir + "/secret") << "a-development-secret-of-at-least-32-bytes\n";
  auto gw = GatewayProcess::Start(dir, R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  allow_hs256: true
  hs256_secret_file: secret
cities:
  - id: dev
    modules:
      - id: civitas.noticeboard
)");
  ASSERT_NE(gw, nullptr);
  std::string token;
  ASSERT_EQ(RunCommand({CtlBinary(), "token", "mint", "--city", "dev", "--subject", "dev-user",
                        "--hs256-secret-file", dir + "/secret"},
                       &token),
            0)
      << token;
  token = std::string(absl::StripAsciiWhitespace(token));
  auto board = nb::NoticeboardService::NewStub(gw->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx, "", token);
  nb::CreateNoticeRequest req;
  req.mutable_notice()->set_title("hs256");
  nb::Notice out;
  grpc::Status s = board->CreateNotice(&ctx, req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.author(), "dev-user");

  // The same token against a gateway that does not allow HS256.
  const std::string dir2 = NewTempDir("gw2");
  TestKeys keys(dir2);
  auto strict = GatewayProcess::Start(dir2, R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
cities:
  - id: dev
    modules:
      - id: civitas.noticeboard
)");
  ASSERT_NE(strict, nullptr);
  auto board2 = nb::NoticeboardService::NewStub(strict->channel());
  grpc::ClientContext ctx2;
  Prepare(&ctx2, "", token);
  s = board2->CreateNotice(&ctx2, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("HS256"), std::string::npos) << s.error_message();
}

TEST(AuthConfigTest, AdminServiceOverTheNetworkNeedsATokenEvenFromLoopback) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
cities:
  - id: dev
  - id: ops
)");
  ASSERT_NE(gw, nullptr);
  std::string output;
  EXPECT_NE(
      RunCommand({CtlBinary(), "modules", "--city", "dev", "--gateway", gw->target()}, &output), 0);
  EXPECT_NE(output.find("needs an admin or operator token"), std::string::npos) << output;
  EXPECT_NE(output.find("UNAUTHENTICATED"), std::string::npos) << output;
  EXPECT_NE(RunCommand({CtlBinary(), "modules", "--city", "dev", "--gateway", gw->target(),
                        "--token", keys.Mint("mayor", "dev", {"editor"})},
                       &output),
            0);
  EXPECT_NE(output.find("needs role admin in city 'dev'"), std::string::npos) << output;
  EXPECT_EQ(RunCommand({CtlBinary(), "modules", "--city", "dev", "--gateway", gw->target(),
                        "--token", keys.Mint("it-dept", "dev", {"admin"})},
                       &output),
            0)
      << output;
  // The admin of "dev" sees its city only, and administers nothing of "ops".
  EXPECT_EQ(RunCommand({CtlBinary(), "cities", "--gateway", gw->target(), "--token",
                        keys.Mint("it-dept", "dev", {"admin"})},
                       &output),
            0)
      << output;
  EXPECT_NE(output.find("dev"), std::string::npos) << output;
  EXPECT_EQ(output.find("ops"), std::string::npos) << output;
  EXPECT_NE(RunCommand({CtlBinary(), "modules", "--city", "ops", "--gateway", gw->target(),
                        "--token", keys.Mint("it-dept", "dev", {"admin"})},
                       &output),
            0);
  EXPECT_NE(output.find("PERMISSION_DENIED"), std::string::npos) << output;
  EXPECT_EQ(RunCommand({CtlBinary(), "cities", "--gateway", gw->target(), "--token",
                        keys.Mint("operator", "*", {"operator"})},
                       &output),
            0)
      << output;
  EXPECT_NE(output.find("ops"), std::string::npos);
  // The token may come from the environment too.
  EXPECT_EQ(RunCommand({"sh", "-c",
                        "CIVITAS_TOKEN=" + keys.Mint("operator", "*", {"operator"}) + " " +
                            CtlBinary() + " cities --gateway " + gw->target()},
                       &output),
            0)
      << output;
}

}  // namespace
}  // namespace civitas::testing
