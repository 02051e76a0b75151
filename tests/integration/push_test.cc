// Push notifications through the real gateway: registration and its abuse cases, the
// request-forgery guard, and Web Push end to end against a push service built on code nobody
// here wrote (tests/push/receiver.js: npm http_ece decrypts, Node's crypto verifies VAPID).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "civitas/gateway/v1/privacy.grpc.pb.h"
#include "civitas/news/v1/news.grpc.pb.h"
#include "civitas/notify/v1/notify.grpc.pb.h"
#include "civitas/reports/v1/reports.grpc.pb.h"
#include "tests/integration/gateway_process.h"
#include "tests/integration/push_receiver.h"

namespace civitas::testing {
namespace {

namespace nt = civitas::notify::v1;

// unna: Web Push to the receiver on loopback (allowed for the test), quick retries.
// soest: the production rules (no loopback). hamm: only for the registration flood.
// lippstadt: the malformed registrations. werl: a city that allows some push service hosts only.
// bergkamen: news and reports, which send through the host API.
// (Anonymous registrations are limited per city and client address, and every test's client
// is 127.0.0.1: each city's bucket is spent by one test only.)
constexpr char kConfig[] = R"(
data_dir: {dir}/data
auth:
  jwks_file: jwks.json
logging:
  access_log: false
push:
  web_push_connections: 4  # DeletingACityWhileItsDeliveriesRetry: at most 4 requests in flight
  retry_base_seconds: 1
  retry_max_seconds: 2
  max_attempts: 4
  request_timeout_seconds: 5
cities:
  - id: unna
    push:
      allow_loopback: true
      ca_file: {dir}/receiver/cert.pem
      vapid_subject: "mailto:push@unna.example"
      topics:
        - id: abfall
          titles: {de: "Abfuhrtermine", en: "Waste collection"}
        - id: baustellen
          titles: {de: "Baustellen"}
  - id: soest
    push:
      topics:
        - id: abfall
          titles: {de: "Abfall"}
  - id: hamm
    push:
      allow_loopback: true
      topics:
        - id: abfall
          titles: {de: "Abfall"}
  - id: lippstadt
    push:
      allow_loopback: true
      topics:
        - id: abfall
          titles: {de: "Abfall"}
  - id: werl
    push:
      allow_loopback: true
      allowed_hosts: ["*.push.example"]
  - id: bergkamen
    push:
      allow_loopback: true
      ca_file: {dir}/receiver/cert.pem
    modules:
      - id: civitas.news
      - id: civitas.reports
        config:
          area: {min_latitude: 51.5, max_latitude: 51.7, min_longitude: 7.5, max_longitude: 7.8}
)";

class PushTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(NewTempDir("push"));
    keys_ = new TestKeys(*dir_);
    receiver_ = new Receiver(*dir_ + "/receiver", std::string(CIVITAS_SOURCE_DIR) + "/tests/push");
    gw_ = GatewayProcess::Start(*dir_, kConfig).release();
  }
  static void TearDownTestSuite() {
    delete gw_;
    delete receiver_;
    delete keys_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(gw_, nullptr);
    stub_ = nt::NotifyService::NewStub(gw_->channel());
  }

  grpc::Status Register(const std::string& city, const nt::Device& device,
                        nt::RegisterDeviceResponse* out, const std::string& token = "") {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, token);
    nt::RegisterDeviceRequest req;
    *req.mutable_device() = device;
    return stub_->RegisterDevice(&ctx, req, out);
  }
  nt::Device WebPushDevice(const std::string& endpoint) {
    nt::Device d;
    d.set_platform(nt::Device::WEB_PUSH);
    d.mutable_web_push()->set_endpoint(endpoint);
    d.mutable_web_push()->set_p256dh(
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
    d.mutable_web_push()->set_auth("BTBZMqHH6r4Tts7J_aSIgg");
    return d;
  }
  grpc::Status Delete(const std::string& city, const std::string& name, const std::string& secret,
                      const std::string& token = "") {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, token);
    nt::DeleteDeviceRequest req;
    req.set_name(name);
    req.set_registration_secret(secret);
    google::protobuf::Empty out;
    return stub_->DeleteDevice(&ctx, req, &out);
  }
  grpc::Status SetTopics(const std::string& city, const std::string& name,
                         const std::string& secret, std::vector<std::string> topics,
                         nt::Device* out, const std::string& token = "") {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, token);
    nt::SetDeviceTopicsRequest req;
    req.set_name(name);
    req.set_registration_secret(secret);
    for (const std::string& t : topics) req.add_topics(t);
    return stub_->SetDeviceTopics(&ctx, req, out);
  }

  static std::string* dir_;
  static TestKeys* keys_;
  static Receiver* receiver_;
  static GatewayProcess* gw_;
  std::unique_ptr<nt::NotifyService::Stub> stub_;
};

std::string* PushTest::dir_ = nullptr;
TestKeys* PushTest::keys_ = nullptr;
Receiver* PushTest::receiver_ = nullptr;
GatewayProcess* PushTest::gw_ = nullptr;

TEST_F(PushTest, RegisterChangeAndDeleteWithTheSecret) {
  nt::Device device = WebPushDevice(receiver_->Endpoint("/push/anonymous"));
  device.add_topics("abfall");
  device.set_language_code("de");
  nt::RegisterDeviceResponse reg;
  grpc::Status s = Register("unna", device, &reg);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(reg.device().name().size(), std::string("devices/").size() + 32);
  EXPECT_EQ(reg.registration_secret().size(), 43u);
  EXPECT_FALSE(reg.device().has_web_push());  // the push address is never returned
  EXPECT_FALSE(reg.device().has_owner());
  ASSERT_EQ(reg.device().topics_size(), 1);

  nt::Device out;
  s = SetTopics("unna", reg.device().name(), "wrong-secret", {"baustellen"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = SetTopics("unna", reg.device().name(), "", {"baustellen"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = SetTopics("unna", reg.device().name(), reg.registration_secret(), {"nope"}, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  s = SetTopics("unna", reg.device().name(), reg.registration_secret(), {"baustellen", "abfall"},
                &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.topics_size(), 2);

  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna");
    nt::UpdateDeviceRequest req;
    req.mutable_device()->set_name(reg.device().name());
    req.mutable_device()->mutable_quiet_hours()->set_start_time("22:00");
    req.mutable_device()->mutable_quiet_hours()->set_end_time("07:00");
    req.mutable_update_mask()->add_paths("quiet_hours");
    req.set_registration_secret(reg.registration_secret());
    nt::Device updated;
    s = stub_->UpdateDevice(&ctx, req, &updated);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(updated.quiet_hours().start_time(), "22:00");
  }
  {
    // A new push address is checked like a registration's.
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna");
    nt::UpdateDeviceRequest req;
    req.mutable_device()->set_name(reg.device().name());
    *req.mutable_device()->mutable_web_push() = WebPushDevice("https://10.0.0.1/x").web_push();
    req.mutable_update_mask()->add_paths("web_push");
    req.set_registration_secret(reg.registration_secret());
    nt::Device updated;
    s = stub_->UpdateDevice(&ctx, req, &updated);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna");
    nt::UpdateDeviceRequest req;
    req.mutable_device()->set_name(reg.device().name());
    req.mutable_update_mask()->add_paths("platform");
    req.set_registration_secret(reg.registration_secret());
    nt::Device updated;
    EXPECT_EQ(stub_->UpdateDevice(&ctx, req, &updated).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  // The same secret does not work for the same device in another city.
  EXPECT_EQ(Delete("hamm", reg.device().name(), reg.registration_secret()).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete("unna", reg.device().name(), reg.registration_secret() + "x").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  s = Delete("unna", reg.device().name(), reg.registration_secret());
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Delete("unna", reg.device().name(), reg.registration_secret()).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete("unna", "devices/../../etc", "x").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PushTest, TheSignedInOwnerNeedsNoSecretAndNobodyElseGetsIn) {
  const std::string owner = keys_->Mint("citizen-owner", "unna", {});
  const std::string other = keys_->Mint("citizen-other", "unna", {});
  nt::RegisterDeviceResponse reg;
  grpc::Status s = Register("unna", WebPushDevice(receiver_->Endpoint("/push/owned")), &reg, owner);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(reg.device().has_owner());
  nt::Device out;
  EXPECT_EQ(SetTopics("unna", reg.device().name(), "", {"abfall"}, &out, other).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Delete("unna", reg.device().name(), "", other).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Delete("unna", reg.device().name(), "").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);  // anonymous
  s = SetTopics("unna", reg.device().name(), "", {"abfall"}, &out, owner);
  EXPECT_TRUE(s.ok()) << s.error_message();
  s = Delete("unna", reg.device().name(), "", owner);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(PushTest, OversizeAndMalformedFieldsAreRefused) {
  nt::RegisterDeviceResponse reg;
  nt::Device big = WebPushDevice(receiver_->Endpoint("/push/" + std::string(2000, 'a')));
  EXPECT_EQ(Register("lippstadt", big, &reg).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  nt::Device token;
  token.set_platform(nt::Device::FCM);
  token.set_token(std::string(5000, 't'));
  EXPECT_EQ(Register("lippstadt", token, &reg).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  nt::Device topics = WebPushDevice(receiver_->Endpoint("/push/t"));
  for (int i = 0; i < 65; ++i) topics.add_topics("abfall");
  EXPECT_EQ(Register("lippstadt", topics, &reg).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  nt::Device keys = WebPushDevice(receiver_->Endpoint("/push/k"));
  keys.mutable_web_push()->set_p256dh("AAAA");
  EXPECT_EQ(Register("lippstadt", keys, &reg).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  nt::Device none;
  EXPECT_EQ(Register("lippstadt", none, &reg).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  const std::string editor = keys_->Mint("editor-1", "unna", {"editor"});
  grpc::ClientContext ctx;
  Prepare(&ctx, "unna", editor);
  nt::SendMessageRequest req;
  req.mutable_message()->set_topic("abfall");
  nt::MessageText* t = req.mutable_message()->add_texts();
  t->set_language_code("de");
  t->set_title(std::string(121, 'x'));
  nt::Message out;
  EXPECT_EQ(stub_->SendMessage(&ctx, req, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(PushTest, SendingNeedsTheEditorRole) {
  nt::SendMessageRequest req;
  req.mutable_message()->set_topic("abfall");
  nt::MessageText* t = req.mutable_message()->add_texts();
  t->set_language_code("de");
  t->set_title("Test");
  nt::Message out;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna");
    EXPECT_EQ(stub_->SendMessage(&ctx, req, &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", keys_->Mint("citizen-x", "unna", {}));
    EXPECT_EQ(stub_->SendMessage(&ctx, req, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", keys_->Mint("editor-elsewhere", "soest", {"editor"}));
    EXPECT_EQ(stub_->SendMessage(&ctx, req, &out).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);  // a token of another city
  }
}

TEST_F(PushTest, AnonymousRegistrationFloodIsLimitedPerAddress) {
  int refused = 0, ok = 0;
  for (int i = 0; i < 12; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm");
    nt::RegisterDeviceRequest req;
    *req.mutable_device() = WebPushDevice(receiver_->Endpoint("/push/flood"));
    nt::RegisterDeviceResponse out;
    grpc::Status s = stub_->RegisterDevice(&ctx, req, &out);
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      EXPECT_EQ(ctx.GetServerTrailingMetadata().count("retry-after"), 1u);
      ++refused;
    }
  }
  EXPECT_EQ(ok, 5);  // the burst
  EXPECT_EQ(refused, 7);
  // Reads are not limited: the same client lists the topics 40 times.
  for (int i = 0; i < 40; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "hamm");
    nt::ListTopicsResponse out;
    grpc::Status s = stub_->ListTopics(&ctx, nt::ListTopicsRequest(), &out);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
  }
}

TEST_F(PushTest, EndpointsThatReachInsideAreRefusedAndNeverConnected) {
  // A listener on loopback: the refused registration must never connect to it.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t len = sizeof(addr);
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  int probes = 0;
  for (const std::string& endpoint :
       {absl::StrCat("https://127.0.0.1:", port, "/x"),
        absl::StrCat("https://localhost:", port, "/x"), absl::StrCat("https://[::1]:", port, "/x"),
        std::string("https://10.0.0.1/x"), std::string("https://192.168.178.1/x"),
        std::string("https://169.254.169.254/latest"), std::string("https://[fe80::1]/x"),
        std::string("https://[fd00:ec2::254]/x"), std::string("https://0.0.0.0/x"),
        absl::StrCat("http://127.0.0.1:", port, "/x"),
        absl::StrCat("https://user@127.0.0.1:", port, "/x")}) {
    nt::RegisterDeviceResponse reg;
    // Signed in, each as someone else: the refusal is the guard's, not the rate limit's.
    grpc::Status s = Register("soest", WebPushDevice(endpoint), &reg,
                              keys_->Mint(absl::StrCat("prober-", ++probes), "soest", {}));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << endpoint;
    EXPECT_EQ(s.error_message().find("127.0.0.1"), std::string::npos) << s.error_message();
  }
  // The allow-list: loopback is allowed in werl, but 127.0.0.1 is no *.push.example.
  nt::RegisterDeviceResponse reg;
  grpc::Status s = Register("werl", WebPushDevice(receiver_->Endpoint("/push/x")), &reg);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("allowed_hosts"), std::string::npos) << s.error_message();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LT(accept(listener, nullptr, nullptr), 0) << "the gateway connected to a refused endpoint";
  close(listener);
}

TEST_F(PushTest, WebPushEndToEnd) {
  nt::ListTopicsResponse topics;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna");
    nt::ListTopicsRequest req;
    req.set_language_code("en");
    grpc::Status s = stub_->ListTopics(&ctx, req, &topics);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(topics.topics_size(), 2);
  EXPECT_EQ(topics.topics(0).title(), "Waste collection");
  EXPECT_EQ(topics.topics(1).title(), "Baustellen");  // no English title: the city's language
  EXPECT_EQ(topics.web_push_public_key().size(), 87u);

  // Signed-in devices (each subject has its own registration bucket).
  auto add = [&](const std::string& path, const std::string& topic, const std::string& lang) {
    nt::Device d;
    d.set_platform(nt::Device::WEB_PUSH);
    *d.mutable_web_push() = receiver_->Subscription(path);
    d.add_topics(topic);
    d.set_language_code(lang);
    nt::RegisterDeviceResponse reg;
    grpc::Status s = Register("unna", d, &reg, keys_->Mint("citizen" + path, "unna", {}));
    EXPECT_TRUE(s.ok()) << s.error_message();
    return reg;
  };
  const nt::RegisterDeviceResponse ok = add("/push/one", "abfall", "en");
  const nt::RegisterDeviceResponse gone = add("/gone/two", "abfall", "de");
  const nt::RegisterDeviceResponse busy = add("/busy/three", "abfall", "de");
  add("/push/other-topic", "baustellen", "de");

  const std::string editor = keys_->Mint("redaktion", "unna", {"editor"});
  nt::Message sent;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", editor);
    nt::SendMessageRequest req;
    req.mutable_message()->set_topic("abfall");
    nt::MessageText* de = req.mutable_message()->add_texts();
    de->set_language_code("de");
    de->set_title("Biotonne morgen");
    de->set_body("Bitte bis 6 Uhr an die Straße stellen.");
    nt::MessageText* en = req.mutable_message()->add_texts();
    en->set_language_code("en");
    en->set_title("Organic bin tomorrow");
    en->set_body("Put it out by 6 am.");
    req.mutable_message()->set_deep_link("civitas://abfall/kalender");
    req.mutable_message()->set_urgent(true);
    grpc::Status s = stub_->SendMessage(&ctx, req, &sent);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(sent.device_count(), 3);
  EXPECT_EQ(sent.sender(), "redaktion");

  nt::Message state;
  for (int i = 0; i < 150; ++i) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", editor);
    nt::GetMessageRequest req;
    req.set_name(sent.name());
    ASSERT_TRUE(stub_->GetMessage(&ctx, req, &state).ok());
    if (state.counts().pending() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(state.counts().pending(), 0) << gw_->log();
  EXPECT_EQ(state.counts().delivered(), 2);  // one at once, one after a 429
  EXPECT_EQ(state.counts().removed(), 1);    // the 410
  EXPECT_EQ(state.counts().failed(), 0);

  const std::string message_id = sent.name().substr(sent.name().find('/') + 1);
  int one = 0, busy_tries = 0, gone_tries = 0;
  for (const std::string& r : receiver_->Received()) {
    const std::string path = Field(r, "path");
    if (Field(r, "topic") != message_id) continue;  // another test's message
    EXPECT_EQ(Field(r, "ok"), "true") << "VAPID: " << r;
    EXPECT_EQ(Field(r, "decrypt_error"), "") << r;
    EXPECT_EQ(Field(r, "content_encoding"), "aes128gcm");
    EXPECT_EQ(Field(r, "urgency"), "high");
    EXPECT_EQ(Field(r, "topic"), message_id);
    EXPECT_EQ(Field(r, "ttl"), "86400");
    EXPECT_EQ(Field(r, "k"), topics.web_push_public_key());
    EXPECT_EQ(Field(r, "sub"), "mailto:push@unna.example");
    EXPECT_EQ(Field(r, "http_version"), "2.0");
    if (path == "/push/one") {
      ++one;
      const std::string plain = Field(r, "plaintext");
      EXPECT_NE(plain.find("Organic bin tomorrow"), std::string::npos) << plain;
      EXPECT_NE(plain.find(sent.name()), std::string::npos) << plain;
      EXPECT_NE(plain.find("civitas://abfall/kalender"), std::string::npos) << plain;
    } else if (path == "/busy/three") {
      ++busy_tries;
      EXPECT_NE(Field(r, "plaintext").find("Biotonne morgen"), std::string::npos) << r;
    } else if (path == "/gone/two") {
      ++gone_tries;
    } else if (path == "/push/other-topic") {
      ADD_FAILURE() << "a device of another topic got the message: " << r;
    }
  }
  EXPECT_EQ(one, 1);
  EXPECT_EQ(busy_tries, 2);  // 429 with Retry-After, then taken
  EXPECT_EQ(gone_tries, 1);
  // The 410 removed the device: its secret finds nothing any more.
  nt::Device out;
  EXPECT_EQ(SetTopics("unna", gone.device().name(), gone.registration_secret(), {"abfall"}, &out)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(
      SetTopics("unna", ok.device().name(), ok.registration_secret(), {"abfall"}, &out).ok());
  (void)busy;
  // The gateway never logged a push address.
  EXPECT_EQ(gw_->log().find(receiver_->Endpoint("")), std::string::npos);

  // /metrics counts per city and provider.
  std::string metrics;
  ASSERT_EQ(
      RunCommand({"curl", "-s", absl::StrCat("http://127.0.0.1:", gw_->metrics_port(), "/metrics")},
                 &metrics),
      0);
  auto value = [&](const std::string& series) {
    const size_t at = metrics.find(series + " ");
    if (at == std::string::npos) return -1.0;
    return std::atof(metrics.c_str() + at + series.size() + 1);
  };
  const std::string labels = "{city=\"unna\",provider=\"web_push\"}";
  EXPECT_GE(value("civitas_push_queued_total{city=\"unna\"}"), 3) << metrics;
  EXPECT_GE(value("civitas_push_delivered_total" + labels), 2) << metrics;
  EXPECT_GE(value("civitas_push_retried_total" + labels), 1) << metrics;
  EXPECT_GE(value("civitas_push_removed_total" + labels), 1) << metrics;
  EXPECT_GE(value("civitas_push_oldest_pending_seconds{city=\"unna\"}"), 0) << metrics;
  EXPECT_EQ(metrics.find(receiver_->Endpoint("")), std::string::npos);
}

TEST_F(PushTest, QuietHoursHoldBackAllButUrgentMessages) {
  // Quiet hours around now, in the city's time zone.
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  const absl::Time now = absl::Now();
  auto clock = [&](absl::Time t) { return absl::FormatTime("%H:%M", t, berlin); };
  auto add = [&](const std::string& path, bool quiet) {
    nt::Device d;
    d.set_platform(nt::Device::WEB_PUSH);
    *d.mutable_web_push() = receiver_->Subscription(path);
    d.add_topics("baustellen");
    if (quiet) {
      d.mutable_quiet_hours()->set_start_time(clock(now - absl::Hours(1)));
      d.mutable_quiet_hours()->set_end_time(clock(now + absl::Hours(1)));
    }
    nt::RegisterDeviceResponse reg;
    grpc::Status s = Register("unna", d, &reg, keys_->Mint("citizen" + path, "unna", {}));
    EXPECT_TRUE(s.ok()) << s.error_message();
  };
  add("/push/quiet", true);
  add("/push/awake", false);
  const std::string editor = keys_->Mint("redaktion-bau", "unna", {"editor"});
  auto send = [&](bool urgent) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", editor);
    nt::SendMessageRequest req;
    req.mutable_message()->set_topic("baustellen");
    nt::MessageText* de = req.mutable_message()->add_texts();
    de->set_language_code("de");
    de->set_title(urgent ? "Wasserrohrbruch Hauptstraße" : "Baustelle Ringstraße ab Montag");
    req.mutable_message()->set_urgent(urgent);
    nt::Message sent;
    grpc::Status s = stub_->SendMessage(&ctx, req, &sent);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return sent;
  };
  auto wait_delivered = [&](const nt::Message& sent, int64_t delivered) {
    nt::Message state;
    for (int i = 0; i < 100; ++i) {
      grpc::ClientContext ctx;
      Prepare(&ctx, "unna", editor);
      nt::GetMessageRequest req;
      req.set_name(sent.name());
      EXPECT_TRUE(stub_->GetMessage(&ctx, req, &state).ok());
      if (state.counts().delivered() >= delivered) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return state;
  };
  const nt::Message normal = send(false);
  const nt::Message urgent = send(true);
  const nt::Message normal_state = wait_delivered(normal, normal.device_count() - 1);
  const nt::Message urgent_state = wait_delivered(urgent, urgent.device_count());
  // Devices of this topic from other tests count too: compare with the device count.
  EXPECT_EQ(normal_state.counts().pending(), 1) << "the quiet device waits";
  EXPECT_EQ(normal_state.counts().delivered(), normal.device_count() - 1);
  EXPECT_EQ(urgent_state.counts().pending(), 0);
  EXPECT_EQ(urgent_state.counts().delivered(), urgent.device_count());
  int quiet_got = 0;
  for (const std::string& r : receiver_->Received()) {
    if (Field(r, "path") != "/push/quiet") continue;
    ++quiet_got;
    EXPECT_NE(Field(r, "plaintext").find("Wasserrohrbruch"), std::string::npos) << r;
    EXPECT_EQ(Field(r, "urgency"), "high");
  }
  EXPECT_EQ(quiet_got, 1) << "only the urgent message during quiet hours";
}

TEST_F(PushTest, ExportAndErasureIncludeTheOwnersDevices) {
  namespace pv = civitas::gateway::v1;
  const std::string citizen = keys_->Mint("citizen-privacy", "unna", {});
  nt::Device d;
  d.set_platform(nt::Device::WEB_PUSH);
  *d.mutable_web_push() = receiver_->Subscription("/push/privacy");
  nt::RegisterDeviceResponse reg;
  ASSERT_TRUE(Register("unna", d, &reg, citizen).ok());
  auto privacy = pv::PrivacyService::NewStub(gw_->channel());
  auto export_push = [&]() {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", citizen);
    pv::ExportMyDataResponse out;
    grpc::Status s = privacy->ExportMyData(&ctx, pv::ExportMyDataRequest(), &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const pv::ModuleData& m : out.modules()) {
      if (m.module_id() == "civitas.notify") return m.data_json();
    }
    return std::string("(none)");
  };
  const std::string exported = export_push();
  EXPECT_NE(exported.find(receiver_->Endpoint("/push/privacy")), std::string::npos) << exported;
  EXPECT_NE(exported.find(reg.device().name()), std::string::npos) << exported;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", citizen);
    pv::EraseMyDataRequest req;
    req.set_confirm("ERASE");
    pv::EraseMyDataResponse out;
    grpc::Status s = privacy->EraseMyData(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_NE(std::find(out.erased_modules().begin(), out.erased_modules().end(), "civitas.notify"),
              out.erased_modules().end());
  }
  nt::Device after;
  EXPECT_EQ(SetTopics("unna", reg.device().name(), "", {"abfall"}, &after, citizen).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(export_push(), "{\"devices\":[]}");
}

TEST_F(PushTest, CivitasctlSendsAndReports) {
  nt::Device d;
  d.set_platform(nt::Device::WEB_PUSH);
  *d.mutable_web_push() = receiver_->Subscription("/push/ctl");
  d.add_topics("baustellen");
  nt::RegisterDeviceResponse reg;
  ASSERT_TRUE(Register("unna", d, &reg, keys_->Mint("citizen-ctl", "unna", {})).ok());
  const std::string editor = keys_->Mint("redaktion-ctl", "unna", {"editor"});
  const std::vector<std::string> common = {"--city",      "unna",    "--gateway",
                                           gw_->target(), "--token", editor};
  auto ctl = [&](std::vector<std::string> argv, std::string* out) {
    argv.insert(argv.begin(), CtlBinary());
    argv.insert(argv.end(), common.begin(), common.end());
    return RunCommand(argv, out);
  };
  std::string out;
  ASSERT_EQ(ctl({"push", "devices"}, &out), 0) << out;
  EXPECT_NE(out.find("baustellen"), std::string::npos) << out;
  EXPECT_EQ(out.find("/push/ctl"), std::string::npos) << "never an address: " << out;
  ASSERT_EQ(ctl({"push", "send", "--topic", "baustellen", "--title", "Sperrung Bahnhofstraße",
                 "--body", "Ab 8 Uhr.", "--link", "https://unna.example/baustellen", "--image",
                 "https://unna.example/bilder/bahnhofstrasse.jpg"},
                &out),
            0)
      << out;
  const size_t at = out.find("messages/");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string name = out.substr(at, std::string("messages/").size() + 32);
  // Other tests' devices of this topic may wait for their quiet hours: follow this one.
  auto got_it = [&] {
    for (const std::string& r : receiver_->Received()) {
      if (Field(r, "path") == "/push/ctl" &&
          Field(r, "plaintext").find("Sperrung Bahnhofstraße") != std::string::npos) {
        EXPECT_NE(Field(r, "plaintext").find("https://unna.example/bilder/bahnhofstrasse.jpg"),
                  std::string::npos)
            << "the image reaches the device: " << r;
        return true;
      }
    }
    return false;
  };
  std::string status;
  bool got = false;
  for (int i = 0; i < 50 && !got; ++i) {
    // Polling is reading: never rate limited.
    ASSERT_EQ(ctl({"push", "status", name}, &status), 0) << status;
    got = got_it();
    if (!got) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(ctl({"push", "status", name}, &status), 0) << status;
  EXPECT_NE(status.find(name), std::string::npos) << status;
  EXPECT_EQ(status.find("delivered 0"), std::string::npos) << status;
  // Cancelling after delivery withdraws nothing: what was delivered stays delivered.
  ASSERT_EQ(ctl({"push", "cancel", name}, &status), 0) << status;
  EXPECT_NE(status.find("cancelled " + name), std::string::npos) << status;
  EXPECT_EQ(status.find("delivered 0"), std::string::npos) << status;
  EXPECT_TRUE(got);
  // Without the editor role: refused, with the gateway's reason.
  std::vector<std::string> argv = {CtlBinary(), "push",        "send",    "--city",     "unna",
                                   "--gateway", gw_->target(), "--topic", "baustellen", "--title",
                                   "x"};
  EXPECT_EQ(RunCommand(argv, &out), 1);
  EXPECT_NE(out.find("UNAUTHENTICATED"), std::string::npos) << out;
}

TEST_F(PushTest, TheJsonApiServesTheSameService) {
  const std::string base = absl::StrCat("http://127.0.0.1:", gw_->http_port(), "/cities/werl/v1");
  std::string out;
  ASSERT_EQ(RunCommand({"curl", "-s", base + "/topics"}, &out), 0) << out;
  EXPECT_NE(out.find("\"webPushPublicKey\":\"B"), std::string::npos) << out;
  // A registration over HTTP meets the same guard (werl allows *.push.example only).
  ASSERT_EQ(
      RunCommand({"curl", "-s", "-X", "POST", "-H", "content-type: application/json", "-d",
                  absl::StrCat(R"({"platform":"WEB_PUSH","webPush":{"endpoint":")",
                               receiver_->Endpoint("/push/http"),
                               R"(","p256dh":"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-)",
                               R"(JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",)",
                               R"("auth":"BTBZMqHH6r4Tts7J_aSIgg"}})"),
                  base + "/devices"},
                 &out),
      0);
  EXPECT_NE(out.find("allowed_hosts"), std::string::npos) << out;
  EXPECT_NE(out.find("INVALID_ARGUMENT"), std::string::npos) << out;
}

TEST_F(PushTest, DeletingACityWhileItsDeliveriesRetry) {
  namespace gv = civitas::gateway::v1;
  auto admin = gv::AdminService::NewStub(gw_->admin_channel());
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    gv::CreateCityRequest req;
    req.set_city_yaml(absl::StrCat("id: kamen\npush:\n  allow_loopback: true\n  ca_file: ", *dir_,
                                   "/receiver/cert.pem\n  topics:\n    - id: abfall\n"
                                   "      titles: {de: Abfall}\n"));
    gv::City out;
    grpc::Status s = admin->CreateCity(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  constexpr int kDevices = 20;
  for (int i = 0; i < kDevices; ++i) {
    nt::Device d;
    d.set_platform(nt::Device::WEB_PUSH);
    // Each answers 429 (Retry-After: 1) first: the deliveries are still retrying at the delete.
    *d.mutable_web_push() = receiver_->Subscription(absl::StrCat("/busy/kamen-", i));
    d.add_topics("abfall");
    nt::RegisterDeviceResponse reg;
    grpc::Status s =
        Register("kamen", d, &reg, keys_->Mint(absl::StrCat("kamen-citizen-", i), "kamen", {}));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "kamen", keys_->Mint("kamen-redaktion", "kamen", {"editor"}));
    nt::SendMessageRequest req;
    req.mutable_message()->set_topic("abfall");
    nt::MessageText* t = req.mutable_message()->add_texts();
    t->set_language_code("de");
    t->set_title("Gelbe Säcke morgen");
    nt::Message sent;
    grpc::Status s = stub_->SendMessage(&ctx, req, &sent);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(sent.device_count(), kDevices);
  }
  auto kamen_requests = [&] {
    int n = 0;
    for (const std::string& r : receiver_->Received()) {
      n += Field(r, "path").rfind("/busy/kamen-", 0) == 0;
    }
    return n;
  };
  for (int i = 0; i < 100 && kamen_requests() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(kamen_requests(), 0);
  {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    gv::DeleteCityRequest req;
    req.set_name("cities/kamen");
    req.set_confirm("kamen");
    gv::DeleteCityResponse out;
    grpc::Status s = admin->DeleteCity(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const int at_delete = kamen_requests();
  EXPECT_LT(at_delete, 2 * kDevices) << "not every retry was done before the delete";
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  // Requests already in flight may still arrive (one per delivery thread); no retry starts.
  EXPECT_LE(kamen_requests(), at_delete + 4);
  EXPECT_TRUE(gw_->running());
  EXPECT_FALSE(std::filesystem::exists(*dir_ + "/data/cities/kamen"));
  nt::RegisterDeviceResponse reg;
  EXPECT_EQ(Register("kamen", WebPushDevice(receiver_->Endpoint("/push/k")), &reg).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext ctx;
  Prepare(&ctx, "unna");
  nt::ListTopicsResponse topics;
  EXPECT_TRUE(stub_->ListTopics(&ctx, nt::ListTopicsRequest(), &topics).ok())
      << "the other cities serve on";
}

// Modules send through the host API (ABI 1.3): topics they declare, a push in the same commit as
// the change, to a topic or to one signed-in citizen's own devices.
TEST_F(PushTest, ModulesSendWithTheChangeThatCausedIt) {
  nt::ListTopicsResponse topics;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen");
    grpc::Status s = stub_->ListTopics(&ctx, nt::ListTopicsRequest(), &topics);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  std::map<std::string, nt::Topic> by_id;
  for (const nt::Topic& t : topics.topics()) by_id[t.topic_id()] = t;
  ASSERT_TRUE(by_id.count("civitas.news.all")) << topics.DebugString();
  EXPECT_EQ(by_id["civitas.news.all"].module(), "civitas.news");
  EXPECT_EQ(by_id["civitas.news.verkehr"].title(), "Verkehr");
  EXPECT_EQ(by_id["civitas.reports.status"].titles().at("en"), "My reports");

  auto add = [&](const std::string& path, const std::string& topic, const std::string& token,
                 grpc::Status* status) {
    nt::Device d;
    d.set_platform(nt::Device::WEB_PUSH);
    *d.mutable_web_push() = receiver_->Subscription(path);
    d.add_topics(topic);
    nt::RegisterDeviceResponse reg;
    *status = Register("bergkamen", d, &reg, token);
    return reg;
  };
  grpc::Status s;
  add("/module/nope", "civitas.news.nope", "", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "not a topic of the city";
  add("/module/news", "civitas.news.verkehr", "", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string anna = keys_->Mint("anna", "bergkamen", {});
  add("/module/anna", "civitas.reports.status", anna, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  add("/module/ben", "civitas.reports.status", keys_->Mint("ben", "bergkamen", {}), &s);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // An article published with notify reaches the devices of its category.
  const std::string editor = keys_->Mint("presse", "bergkamen", {"editor"});
  auto news = civitas::news::v1::NewsService::NewStub(gw_->channel());
  civitas::news::v1::Article article;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", editor);
    civitas::news::v1::CreateArticleRequest req;
    req.mutable_article()->set_title("Vollsperrung der Unnaer Straße");
    req.mutable_article()->set_teaser("Ab Montag für zwei Wochen.");
    req.mutable_article()->set_body("Umleitung über die B233.");
    req.mutable_article()->add_categories("verkehr");
    s = news->CreateArticle(&ctx, req, &article);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  auto publish = [&](bool notify) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", editor);
    civitas::news::v1::PublishArticleRequest req;
    req.set_name(article.name());
    req.set_notify(notify);
    civitas::news::v1::Article out;
    return news->PublishArticle(&ctx, req, &out);
  };
  s = publish(true);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(publish(true).error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "pushed once";

  // A flood of articles published with notify stops at the module's push limit: the refused
  // publication is not written either (the article stays a draft), and says when to retry.
  {
    const absl::Time start = absl::Now();
    int published = 0;
    grpc::Status refused;
    civitas::news::v1::Article last;
    for (int i = 0; i < 40 && refused.ok(); ++i) {
      grpc::ClientContext create;
      Prepare(&create, "bergkamen", editor);
      civitas::news::v1::CreateArticleRequest req;
      req.mutable_article()->set_title(absl::StrCat("Meldung ", i));
      req.mutable_article()->set_body("Text");
      ASSERT_TRUE(news->CreateArticle(&create, req, &last).ok());
      grpc::ClientContext ctx;
      Prepare(&ctx, "bergkamen", editor);
      civitas::news::v1::PublishArticleRequest pub;
      pub.set_name(last.name());
      pub.set_notify(true);
      civitas::news::v1::Article out;
      refused = news->PublishArticle(&ctx, pub, &out);
      if (refused.ok()) ++published;
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << refused.error_message();
    EXPECT_NE(refused.error_message().find("push messages a minute"), std::string::npos)
        << refused.error_message();
    // A burst of 10 (one spent above), refilled at 20 a minute while the loop ran.
    EXPECT_GE(published, 9);
    EXPECT_LE(published, 9 + static_cast<int>(seconds / 3) + 1) << seconds << " s";
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", editor);
    civitas::news::v1::GetArticleRequest get;
    get.set_name(last.name());
    civitas::news::v1::Article stored;
    ASSERT_TRUE(news->GetArticle(&ctx, get, &stored).ok());
    EXPECT_EQ(stored.state(), civitas::news::v1::Article::DRAFT);
  }

  // A report's status change reaches its reporter's devices only.
  auto reports = civitas::reports::v1::ReportsService::NewStub(gw_->channel());
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", keys_->Mint("it", "bergkamen", {"admin"}));
    civitas::reports::v1::PutServiceRequest req;
    req.mutable_service()->set_name("services/ampel");
    req.mutable_service()->set_display_name("Ampel defekt");
    civitas::reports::v1::Service out;
    s = reports->PutService(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  civitas::reports::v1::Report report;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", anna);
    civitas::reports::v1::CreateReportRequest req;
    req.mutable_report()->set_service("services/ampel");
    req.mutable_report()->set_description("Die Ampel am Markt bleibt rot.");
    req.mutable_report()->mutable_location()->set_latitude(51.59);
    req.mutable_report()->mutable_location()->set_longitude(7.66);
    s = reports->CreateReport(&ctx, req, &report);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", editor);
    civitas::reports::v1::UpdateReportStatusRequest req;
    req.set_name(report.name());
    req.set_status(civitas::reports::v1::Report::IN_PROGRESS);
    req.set_note("Die Technik ist unterwegs.");
    civitas::reports::v1::Report out;
    s = reports->UpdateReportStatus(&ctx, req, &out);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Both arrive, decrypted and signed as every Web Push; nobody else gets either.
  std::string news_plain, anna_plain;
  for (int i = 0; i < 100 && (news_plain.empty() || anna_plain.empty()); ++i) {
    for (const std::string& r : receiver_->Received()) {
      const std::string path = Field(r, "path");
      if (path == "/module/news") news_plain = Field(r, "plaintext");
      if (path == "/module/anna") anna_plain = Field(r, "plaintext");
      if (path == "/module/ben" || path == "/module/nope") {
        ADD_FAILURE() << "a device that should get nothing got: " << r;
      }
      if (absl::StartsWith(path, "/module/")) {
        EXPECT_EQ(Field(r, "ok"), "true") << "VAPID: " << r;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(news_plain.find("Vollsperrung der Unnaer Straße"), std::string::npos) << news_plain;
  EXPECT_NE(news_plain.find("civitas://" + article.name()), std::string::npos) << news_plain;
  EXPECT_NE(news_plain.find("civitas.news.all"), std::string::npos) << news_plain;
  EXPECT_NE(anna_plain.find("Ihre Meldung wird bearbeitet"), std::string::npos) << anna_plain;
  EXPECT_NE(anna_plain.find("Die Technik ist unterwegs."), std::string::npos) << anna_plain;
  EXPECT_NE(anna_plain.find("civitas.reports.status"), std::string::npos) << anna_plain;
  int news_copies = 0;
  for (const std::string& r : receiver_->Received())
    news_copies += Field(r, "path") == "/module/news";
  EXPECT_EQ(news_copies, 1);
}

TEST_F(PushTest, EditorsCancelWhatWasNotDeliveredYet) {
  nt::Device d;
  d.set_platform(nt::Device::FCM);
  d.set_token("fcm-token-of-carla");
  d.add_topics("civitas.news.all");
  nt::RegisterDeviceResponse reg;
  grpc::Status s = Register("bergkamen", d, &reg, keys_->Mint("carla", "bergkamen", {}));
  ASSERT_TRUE(s.ok()) << s.error_message();
  const std::string editor = keys_->Mint("presse2", "bergkamen", {"editor"});
  nt::Message sent;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", editor);
    nt::SendMessageRequest req;
    req.mutable_message()->set_topic("civitas.news.all");
    nt::MessageText* de = req.mutable_message()->add_texts();
    de->set_language_code("de");
    de->set_title("Weihnachtsmarkt eröffnet");
    req.mutable_message()->mutable_send_time()->set_seconds(
        absl::ToUnixSeconds(absl::Now() + absl::Hours(1)));
    s = stub_->SendMessage(&ctx, req, &sent);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_GE(sent.device_count(), 1);
  auto cancel = [&](const std::string& name, const std::string& token, nt::Message* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "bergkamen", token);
    nt::CancelMessageRequest req;
    req.set_name(name);
    return stub_->CancelMessage(&ctx, req, out);
  };
  nt::Message out;
  EXPECT_EQ(cancel(sent.name(), "", &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(cancel(sent.name(), keys_->Mint("carla", "bergkamen", {}), &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(cancel("messages/../../x", editor, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(cancel("messages/00000000000000000000000000000000", editor, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
  s = cancel(sent.name(), editor, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.counts().pending(), 0);
  EXPECT_EQ(out.counts().cancelled(), sent.device_count());
  s = cancel(sent.name(), editor, &out);  // again: nothing changes
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.counts().cancelled(), sent.device_count());
}

}  // namespace
}  // namespace civitas::testing
