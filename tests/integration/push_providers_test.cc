// FCM and APNs delivery through the real gateway, against tests/push/providers.js: a local
// HTTPS/HTTP/2 fake of FCM (with its OAuth 2 token endpoint) and of APNs that verifies every JWT
// with Node's crypto against public keys this test makes with openssl, checks paths, headers and
// bodies, and answers as the device token asks (ok, gone, unreg, busy, revoke, hang). Web Push
// goes to tests/push/receiver.js, for the test that a hung provider holds up nobody else.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "civitas/json.h"
#include "civitas/notify/v1/notify.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace nt = civitas::notify::v1;

// unna: FCM and APNs at the fakes, Web Push to the receiver; quick retries, two threads per
// provider, requests that end after 10 s (the hung provider). soest: neither FCM nor APNs
// configured.
constexpr char kConfig[] = R"(
data_dir: {dir}/data
auth:
  jwks_file: jwks.json
logging:
  access_log: false
push:
  retry_base_seconds: 1
  retry_max_seconds: 2
  max_attempts: 4
  request_timeout_seconds: 10
  web_push_connections: 2
  fcm_connections: 2
  apns_connections: 2
cities:
  - id: unna
    push:
      allow_loopback: true
      ca_file: {dir}/receiver/cert.pem
      topics:
        - {id: fcm-ok, titles: {de: "FCM"}}
        - {id: fcm-gone, titles: {de: "FCM"}}
        - {id: fcm-busy, titles: {de: "FCM"}}
        - {id: fcm-revoke, titles: {de: "FCM"}}
        - {id: apns-ok, titles: {de: "APNs"}}
        - {id: apns-gone, titles: {de: "APNs"}}
        - {id: apns-busy, titles: {de: "APNs"}}
        - {id: apns-revoke, titles: {de: "APNs"}}
        - {id: mixed, titles: {de: "Alle"}}
        - {id: backlog, titles: {de: "Viele"}}
        - {id: after-backlog, titles: {de: "Danach"}}
      fcm:
        project_id: civitas-unna
        service_account_file: {dir}/fakes/service-account.json
        endpoint: https://127.0.0.1:{fcm_port}
        ca_file: {dir}/fakes/cert.pem
      apns:
        team_id: TEAM123456
        key_id: KEY1234567
        key_file: {dir}/fakes/apns.p8
        topic: de.unna.app
        endpoint: https://127.0.0.1:{apns_port}
        ca_file: {dir}/fakes/cert.pem
  - id: soest
    push:
      topics:
        - {id: abfall, titles: {de: "Abfall"}}
)";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

civitas::JsonValue Json(const std::string& text) {
  civitas::JsonValue v;
  civitas::ParseJson(text, &v);
  return v;
}

std::string Openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  std::string out;
  EXPECT_EQ(RunCommand(args, &out), 0) << out;
  return out;
}

// A Node script of tests/push as a child process, its output in <dir>/<name>.log.
class NodeFake {
 public:
  NodeFake(const std::string& dir, const std::string& name, std::vector<std::string> args,
           const std::string& ready_file)
      : log_(dir + "/" + name + ".log") {
    const std::string script = std::string(CIVITAS_SOURCE_DIR) + "/tests/push/" + name + ".js";
    pid_ = fork();
    if (pid_ == 0) {
      const int log = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, 1);
      dup2(log, 2);
      std::vector<char*> argv = {const_cast<char*>("node"), const_cast<char*>(script.c_str())};
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("node", argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !std::filesystem::exists(ready_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(std::filesystem::exists(ready_file)) << name << " did not start: " << log();
  }
  ~NodeFake() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::string log() const { return ReadFile(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

class PushProvidersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(NewTempDir("push-providers"));
    keys_ = new TestKeys(*dir_);
    const std::string f = *dir_ + "/fakes";
    std::filesystem::create_directories(f);
    EXPECT_TRUE(
        std::filesystem::exists(std::string(CIVITAS_SOURCE_DIR) + "/tests/push/node_modules"))
        << "npm packages of tests/push are missing: run `make tools`";
    // The fakes' TLS certificate, the service account's RSA key and the APNs EC P-256 key.
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
             "-keyout", f + "/key.pem", "-out", f + "/cert.pem"});
    Openssl({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
             f + "/sa.pem"});
    Openssl({"pkey", "-in", f + "/sa.pem", "-pubout", "-out", f + "/sa.pub.pem"});
    Openssl({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
             f + "/apns.p8"});
    Openssl({"pkey", "-in", f + "/apns.p8", "-pubout", "-out", f + "/apns.pub.pem"});
    WriteFile(f + "/providers.json",
              absl::StrCat(R"({"cert":")", f, R"(/cert.pem","key":")", f, R"(/key.pem",)",
                           R"("state_dir":")", f, R"(","fcm":{"public_key":")", f,
                           R"(/sa.pub.pem","client_email":"push@civitas-unna.iam.example",)",
                           R"("project_id":"civitas-unna"},"apns":{"public_key":")", f,
                           R"(/apns.pub.pem","team_id":"TEAM123456","key_id":"KEY1234567",)",
                           R"("topic":"de.unna.app"}})"));
    providers_ = new NodeFake(f, "providers", {f + "/providers.json"}, f + "/ports.json");
    const civitas::JsonValue ports = Json(ReadFile(f + "/ports.json"));
    const std::string fcm_port = absl::StrCat(static_cast<int>(ports["fcm"].AsNumber()));
    const std::string apns_port = absl::StrCat(static_cast<int>(ports["apns"].AsNumber()));
    // The service account's JSON key, as Google issues it, its token_uri at the fake.
    WriteFile(f + "/service-account.json",
              absl::StrCat(R"({"type":"service_account","project_id":"civitas-unna",)",
                           R"("private_key_id":"k1","private_key":)",
                           civitas::JsonQuote(ReadFile(f + "/sa.pem")),
                           R"(,"client_email":"push@civitas-unna.iam.example",)",
                           R"("token_uri":"https://127.0.0.1:)", fcm_port, R"(/token"})"));
    const std::string r = *dir_ + "/receiver";
    std::filesystem::create_directories(r);
    Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
             "-keyout", r + "/key.pem", "-out", r + "/cert.pem"});
    receiver_ =
        new NodeFake(r, "receiver", {r + "/cert.pem", r + "/key.pem", r}, r + "/subscription.json");
    const std::string config =
        absl::StrReplaceAll(kConfig, {{"{fcm_port}", fcm_port}, {"{apns_port}", apns_port}});
    gw_ = GatewayProcess::Start(*dir_, config).release();
  }
  static void TearDownTestSuite() {
    delete gw_;
    delete receiver_;
    delete providers_;
    delete keys_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_NE(gw_, nullptr);
    stub_ = nt::NotifyService::NewStub(gw_->channel());
  }

  // A signed-in device (each subject has its own registration bucket); returns it with its
  // secret.
  nt::RegisterDeviceResponse Register(const std::string& city, nt::Device::Platform platform,
                                      const std::string& token, const std::string& topic,
                                      const std::string& language = "de") {
    nt::Device d;
    d.set_platform(platform);
    if (platform == nt::Device::WEB_PUSH) {
      const civitas::JsonValue sub = Json(ReadFile(*dir_ + "/receiver/subscription.json"));
      d.mutable_web_push()->set_endpoint(absl::StrCat(
          "https://127.0.0.1:", static_cast<int>(sub["port"].AsNumber()), "/push/", token));
      d.mutable_web_push()->set_p256dh(sub["p256dh"].AsString());
      d.mutable_web_push()->set_auth(sub["auth"].AsString());
    } else {
      d.set_token(token);
    }
    d.add_topics(topic);
    d.set_language_code(language);
    grpc::ClientContext ctx;
    Prepare(&ctx, city, keys_->Mint("citizen-" + token, city, {}));
    nt::RegisterDeviceRequest req;
    *req.mutable_device() = d;
    nt::RegisterDeviceResponse out;
    grpc::Status s = stub_->RegisterDevice(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  // An editor of its own for each test: SendMessage allows 5 at once per subject.
  static std::string Editor() {
    return absl::StrCat("redaktion-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  nt::Message Send(const std::string& city, const std::string& topic, bool urgent = true) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, keys_->Mint(Editor(), city, {"editor"}));
    nt::SendMessageRequest req;
    req.mutable_message()->set_topic(topic);
    nt::MessageText* de = req.mutable_message()->add_texts();
    de->set_language_code("de");
    de->set_title("Biotonne morgen");
    de->set_body("Bitte bis 6 Uhr an die Straße stellen.");
    nt::MessageText* en = req.mutable_message()->add_texts();
    en->set_language_code("en");
    en->set_title("Organic bin tomorrow");
    req.mutable_message()->set_deep_link("civitas://abfall/kalender");
    req.mutable_message()->set_urgent(urgent);
    nt::Message sent;
    grpc::Status s = stub_->SendMessage(&ctx, req, &sent);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return sent;
  }
  // The message's counts once nothing is pending (or `done` says so), at most `wait`.
  nt::DeliveryCounts Counts(const std::string& city, const nt::Message& sent,
                            absl::Duration wait = absl::Seconds(20),
                            std::function<bool(const nt::DeliveryCounts&)> done = nullptr) {
    const absl::Time until = absl::Now() + wait;
    nt::Message state;
    while (true) {
      grpc::ClientContext ctx;
      Prepare(&ctx, city, keys_->Mint(Editor(), city, {"editor"}));
      nt::GetMessageRequest req;
      req.set_name(sent.name());
      EXPECT_TRUE(stub_->GetMessage(&ctx, req, &state).ok());
      const bool finished = done ? done(state.counts()) : state.counts().pending() == 0;
      if (finished || absl::Now() > until) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return state.counts();
  }
  // What the fakes received for one service ("token", "fcm", "apns"), optionally only for one
  // device token.
  static std::vector<civitas::JsonValue> Received(const std::string& service,
                                                  const std::string& token = "") {
    std::vector<civitas::JsonValue> out;
    for (absl::string_view line : absl::StrSplit(ReadFile(*dir_ + "/fakes/received.jsonl"), '\n')) {
      if (line.empty()) continue;
      civitas::JsonValue v = Json(std::string(line));
      if (v["service"].AsString() != service) continue;
      if (!token.empty() && v["token"].AsString() != token) continue;
      out.push_back(std::move(v));
    }
    return out;
  }
  bool DeviceGone(const std::string& city, const nt::RegisterDeviceResponse& reg) {
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    nt::SetDeviceTopicsRequest req;
    req.set_name(reg.device().name());
    req.set_registration_secret(reg.registration_secret());
    nt::Device out;
    return stub_->SetDeviceTopics(&ctx, req, &out).error_code() == grpc::StatusCode::NOT_FOUND;
  }
  std::string Metrics() {
    std::string out;
    EXPECT_EQ(RunCommand({"curl", "-s",
                          absl::StrCat("http://127.0.0.1:", gw_->metrics_port(), "/metrics")},
                         &out),
              0);
    return out;
  }
  static double Value(const std::string& metrics, const std::string& series) {
    const size_t at = metrics.find(series + " ");
    if (at == std::string::npos) return -1.0;
    return std::atof(metrics.c_str() + at + series.size() + 1);
  }

  static std::string* dir_;
  static TestKeys* keys_;
  static NodeFake* providers_;
  static NodeFake* receiver_;
  static GatewayProcess* gw_;
  std::unique_ptr<nt::NotifyService::Stub> stub_;
};

std::string* PushProvidersTest::dir_ = nullptr;
TestKeys* PushProvidersTest::keys_ = nullptr;
NodeFake* PushProvidersTest::providers_ = nullptr;
NodeFake* PushProvidersTest::receiver_ = nullptr;
GatewayProcess* PushProvidersTest::gw_ = nullptr;

std::string IdOf(const nt::Message& m) { return m.name().substr(m.name().find('/') + 1); }

TEST_F(PushProvidersTest, FcmDeliveredWithItsBearerTokenWhichIsCached) {
  Register("unna", nt::Device::FCM, "ok-fcm-1", "fcm-ok", "de");
  Register("unna", nt::Device::FCM, "ok-fcm-2", "fcm-ok", "en");
  Register("unna", nt::Device::FCM, "ok-fcm-3", "fcm-ok", "de-AT");
  const nt::Message first = Send("unna", "fcm-ok", true);
  nt::DeliveryCounts counts = Counts("unna", first);
  EXPECT_EQ(counts.delivered(), 3) << gw_->log() << providers_->log();
  const nt::Message second = Send("unna", "fcm-ok", false);
  counts = Counts("unna", second);
  EXPECT_EQ(counts.delivered(), 3) << gw_->log();

  const std::vector<civitas::JsonValue> tokens = Received("token");
  ASSERT_EQ(tokens.size(), 1u) << "one token request for six deliveries";
  EXPECT_EQ(tokens[0]["problems"].AsString(), "") << "the assertion as RFC 7523 wants it";
  EXPECT_EQ(tokens[0]["http_version"].AsString(), "2.0");
  const std::string access = tokens[0]["issued"].AsString();
  int got = 0;
  for (const civitas::JsonValue& r : Received("fcm")) {
    if (r["token"].AsString().rfind("ok-fcm-", 0) != 0) continue;
    ++got;
    const bool is_first = r["data_message"].AsString() == first.name();
    EXPECT_EQ(r["problems"].AsString(), "");
    EXPECT_EQ(r["status"].AsNumber(), 200);
    EXPECT_EQ(r["http_version"].AsString(), "2.0");
    EXPECT_EQ(r["access_token"].AsString(), access) << "the cached token";
    EXPECT_EQ(r["collapse_key"].AsString(), IdOf(is_first ? first : second));
    EXPECT_EQ(r["priority"].AsString(), is_first ? "high" : "normal");
    EXPECT_EQ(r["ttl"].AsString(), "86400s");
    EXPECT_EQ(r["data_topic"].AsString(), "fcm-ok");
    EXPECT_EQ(r["data_deep_link"].AsString(), "civitas://abfall/kalender");
    const bool english = r["token"].AsString() == "ok-fcm-2";
    EXPECT_EQ(r["title"].AsString(), english ? "Organic bin tomorrow" : "Biotonne morgen");
    EXPECT_EQ(r["data_language"].AsString(), english ? "en" : "de");
  }
  EXPECT_EQ(got, 6);
}

TEST_F(PushProvidersTest, FcmUnregisteredRemovesTheDevice) {
  const nt::RegisterDeviceResponse gone = Register("unna", nt::Device::FCM, "gone-fcm", "fcm-gone");
  const nt::RegisterDeviceResponse unreg =
      Register("unna", nt::Device::FCM, "unreg-fcm", "fcm-gone");
  const nt::Message sent = Send("unna", "fcm-gone");
  const nt::DeliveryCounts counts = Counts("unna", sent);
  EXPECT_EQ(counts.removed(), 2) << gw_->log();
  EXPECT_EQ(counts.failed(), 0);
  EXPECT_TRUE(DeviceGone("unna", gone)) << "404 UNREGISTERED";
  EXPECT_TRUE(DeviceGone("unna", unreg)) << "400 naming UNREGISTERED";
  EXPECT_EQ(Received("fcm", "gone-fcm").size(), 1u) << "never asked again";
  EXPECT_EQ(Received("fcm", "unreg-fcm").size(), 1u);
}

TEST_F(PushProvidersTest, FcmRetriesA503AfterItsRetryAfter) {
  Register("unna", nt::Device::FCM, "busy-fcm", "fcm-busy");
  const nt::Message sent = Send("unna", "fcm-busy");
  const nt::DeliveryCounts counts = Counts("unna", sent);
  EXPECT_EQ(counts.delivered(), 1) << gw_->log();
  const std::vector<civitas::JsonValue> tries = Received("fcm", "busy-fcm");
  ASSERT_EQ(tries.size(), 2u);
  EXPECT_EQ(tries[0]["status"].AsNumber(), 503);
  EXPECT_EQ(tries[1]["status"].AsNumber(), 200);
}

TEST_F(PushProvidersTest, FcmFetchesANewTokenAfterA401) {
  const size_t before = Received("token").size();
  Register("unna", nt::Device::FCM, "revoke-fcm", "fcm-revoke");
  const nt::Message sent = Send("unna", "fcm-revoke");
  const nt::DeliveryCounts counts = Counts("unna", sent);
  EXPECT_EQ(counts.delivered(), 1) << gw_->log();
  const std::vector<civitas::JsonValue> tries = Received("fcm", "revoke-fcm");
  ASSERT_EQ(tries.size(), 2u);
  EXPECT_EQ(tries[0]["status"].AsNumber(), 401);
  EXPECT_EQ(tries[1]["status"].AsNumber(), 200);
  EXPECT_NE(tries[0]["access_token"].AsString(), tries[1]["access_token"].AsString());
  EXPECT_EQ(Received("token").size(), std::max<size_t>(before, 1) + 1);
}

TEST_F(PushProvidersTest, ApnsDeliveredWithAProviderTokenAndItsHeaders) {
  Register("unna", nt::Device::APNS, "ok-apns-1", "apns-ok", "de");
  Register("unna", nt::Device::APNS, "ok-apns-2", "apns-ok", "en");
  const nt::Message urgent = Send("unna", "apns-ok", true);
  EXPECT_EQ(Counts("unna", urgent).delivered(), 2) << gw_->log() << providers_->log();
  const nt::Message normal = Send("unna", "apns-ok", false);
  EXPECT_EQ(Counts("unna", normal).delivered(), 2) << gw_->log();
  std::set<std::string> jwts;
  int got = 0;
  for (const civitas::JsonValue& r : Received("apns")) {
    if (r["token"].AsString().rfind("ok-apns-", 0) != 0) continue;
    ++got;
    const bool is_urgent = r["message"].AsString() == urgent.name();
    EXPECT_EQ(r["problems"].AsString(), "") << "the fake verified the ES256 JWT and headers";
    EXPECT_EQ(r["status"].AsNumber(), 200);
    EXPECT_EQ(r["http_version"].AsString(), "2.0");
    EXPECT_EQ(r["topic"].AsString(), "de.unna.app");
    EXPECT_EQ(r["push_type"].AsString(), "alert");
    EXPECT_EQ(r["priority"].AsString(), is_urgent ? "10" : "5");
    EXPECT_EQ(r["collapse_id"].AsString(), IdOf(is_urgent ? urgent : normal));
    EXPECT_GT(std::atoll(r["expiration"].AsString().c_str()), absl::ToUnixSeconds(absl::Now()));
    EXPECT_EQ(r["deep_link"].AsString(), "civitas://abfall/kalender");
    const bool english = r["token"].AsString() == "ok-apns-2";
    EXPECT_EQ(r["title"].AsString(), english ? "Organic bin tomorrow" : "Biotonne morgen");
    jwts.insert(r["jwt"].AsString());
  }
  EXPECT_EQ(got, 4);
  EXPECT_EQ(jwts.size(), 1u) << "one provider token for all four";
}

TEST_F(PushProvidersTest, Apns410AndBadDeviceTokenRemoveTheDevice) {
  const nt::RegisterDeviceResponse gone =
      Register("unna", nt::Device::APNS, "gone-apns", "apns-gone");
  const nt::RegisterDeviceResponse bad =
      Register("unna", nt::Device::APNS, "unreg-apns", "apns-gone");
  const nt::DeliveryCounts counts = Counts("unna", Send("unna", "apns-gone"));
  EXPECT_EQ(counts.removed(), 2) << gw_->log();
  EXPECT_TRUE(DeviceGone("unna", gone)) << "410 Unregistered";
  EXPECT_TRUE(DeviceGone("unna", bad)) << "400 BadDeviceToken";
}

TEST_F(PushProvidersTest, ApnsRetriesA429AfterItsRetryAfter) {
  Register("unna", nt::Device::APNS, "busy-apns", "apns-busy");
  const nt::DeliveryCounts counts = Counts("unna", Send("unna", "apns-busy"));
  EXPECT_EQ(counts.delivered(), 1) << gw_->log();
  const std::vector<civitas::JsonValue> tries = Received("apns", "busy-apns");
  ASSERT_EQ(tries.size(), 2u);
  EXPECT_EQ(tries[0]["status"].AsNumber(), 429);
  EXPECT_EQ(tries[1]["status"].AsNumber(), 200);
}

TEST_F(PushProvidersTest, ApnsGetsANewProviderTokenWhenItsOldOneIsRefused) {
  Register("unna", nt::Device::APNS, "revoke-apns", "apns-revoke");
  const nt::DeliveryCounts counts = Counts("unna", Send("unna", "apns-revoke"));
  EXPECT_EQ(counts.delivered(), 1) << gw_->log();
  const std::vector<civitas::JsonValue> tries = Received("apns", "revoke-apns");
  ASSERT_EQ(tries.size(), 2u);
  EXPECT_EQ(tries[0]["status"].AsNumber(), 403);
  EXPECT_EQ(tries[0]["reason"].AsString(), "ExpiredProviderToken");
  EXPECT_EQ(tries[1]["status"].AsNumber(), 200);
  EXPECT_NE(tries[0]["jwt"].AsString(), tries[1]["jwt"].AsString());
}

TEST_F(PushProvidersTest, ACityWithoutProviderConfigFailsThoseDevicesOnce) {
  Register("soest", nt::Device::FCM, "ok-soest-fcm", "abfall");
  Register("soest", nt::Device::APNS, "ok-soest-apns", "abfall");
  for (int i = 0; i < 2; ++i) {
    const nt::DeliveryCounts counts = Counts("soest", Send("soest", "abfall"));
    EXPECT_EQ(counts.failed(), 2) << gw_->log();
    EXPECT_EQ(counts.pending(), 0) << "not retried";
  }
  EXPECT_TRUE(Received("fcm", "ok-soest-fcm").empty());
  EXPECT_TRUE(Received("apns", "ok-soest-apns").empty());
  const std::string log = gw_->log();
  size_t warnings = 0;
  for (size_t at = log.find("push provider not configured"); at != std::string::npos;
       at = log.find("push provider not configured", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 2u) << "once per provider: " << log;
  const std::string metrics = Metrics();
  for (const char* provider : {"fcm", "apns"}) {
    EXPECT_EQ(Value(metrics, absl::StrCat("civitas_push_failed_total{city=\"soest\",provider=\"",
                                          provider, "\",reason=\"provider_not_configured\"}")),
              2)
        << metrics;
  }
}

TEST_F(PushProvidersTest, MetricsPerProviderAndNoTokenInTheLog) {
  Register("unna", nt::Device::FCM, "ok-fcm-metrics", "fcm-ok");
  Register("unna", nt::Device::APNS, "ok-apns-metrics", "apns-ok");
  EXPECT_GE(Counts("unna", Send("unna", "fcm-ok")).delivered(), 1);
  EXPECT_GE(Counts("unna", Send("unna", "apns-ok")).delivered(), 1);
  const std::string metrics = Metrics();
  for (const char* provider : {"fcm", "apns"}) {
    const std::string labels = absl::StrCat("{city=\"unna\",provider=\"", provider, "\"}");
    EXPECT_GE(Value(metrics, "civitas_push_delivered_total" + labels), 1) << metrics;
    EXPECT_GE(Value(metrics, "civitas_push_retried_total" + labels), 0) << metrics;
  }
  EXPECT_GE(Value(metrics, "civitas_push_queued_total{city=\"unna\"}"), 2) << metrics;
  const std::string log = gw_->log();
  for (const char* token :
       {"ok-fcm-metrics", "ok-apns-metrics", "gone-fcm", "busy-apns", "ok-soest-fcm"}) {
    EXPECT_EQ(log.find(token), std::string::npos) << "a device token in the log: " << token;
  }
}

// Last: the hung FCM deliveries keep both FCM threads busy until the gateway stops.
TEST_F(PushProvidersTest, AHungProviderHoldsUpNobodyElse) {
  // FCM never answers these six devices (each request ends after 10 s), as many as all three
  // pools have threads together; APNs and Web Push go on, and FCM has two requests in flight.
  constexpr int kHung = 6;
  for (int i = 0; i < kHung; ++i) {
    Register("unna", nt::Device::FCM, absl::StrCat("hang-fcm-", i), "mixed");
  }
  Register("unna", nt::Device::APNS, "ok-apns-mixed", "mixed");
  Register("unna", nt::Device::WEB_PUSH, "mixed", "mixed");
  const absl::Time start = absl::Now();
  const nt::Message sent = Send("unna", "mixed");
  const nt::DeliveryCounts counts =
      Counts("unna", sent, absl::Seconds(10),
             [](const nt::DeliveryCounts& c) { return c.delivered() >= 2; });
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(counts.delivered(), 2) << gw_->log();
  EXPECT_EQ(counts.pending(), kHung) << "the FCM deliveries still wait for their answers";
  EXPECT_LT(took, absl::Seconds(5)) << "not held up by the hung provider";
  int hung_requests = 0;
  for (int i = 0; i < kHung; ++i) {
    hung_requests += static_cast<int>(Received("fcm", absl::StrCat("hang-fcm-", i)).size());
  }
  EXPECT_EQ(hung_requests, 2) << "push.fcm_connections: 2 requests at once";
  bool web_push = false;
  for (absl::string_view line :
       absl::StrSplit(ReadFile(*dir_ + "/receiver/received.jsonl"), '\n')) {
    web_push |= line.find("\"/push/mixed\"") != absl::string_view::npos &&
                line.find("Biotonne morgen") != absl::string_view::npos;
  }
  EXPECT_TRUE(web_push) << "the Web Push receiver got the message";
  EXPECT_EQ(gw_->log().find("hang-fcm-"), std::string::npos) << "a device token in the log";
}

// After the hung provider: more hung FCM deliveries than its queue takes (1,024) wait in the due
// index, and an APNs delivery due after all of them is still found at once.
TEST_F(PushProvidersTest, ABacklogBeyondAFullQueueHidesNobody) {
  constexpr int kBacklog = 1500;
  for (int i = 0; i < kBacklog; ++i) {
    Register("unna", nt::Device::FCM, absl::StrCat("hang-backlog-", i), "backlog");
  }
  Register("unna", nt::Device::APNS, "ok-apns-after-backlog", "after-backlog");
  const nt::Message backlog = Send("unna", "backlog");
  EXPECT_EQ(backlog.device_count(), kBacklog);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the scanner fills the queue
  const absl::Time start = absl::Now();
  const nt::Message after = Send("unna", "after-backlog");
  const nt::DeliveryCounts counts = Counts("unna", after, absl::Seconds(10));
  EXPECT_EQ(counts.delivered(), 1) << gw_->log();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(Counts("unna", backlog, absl::Seconds(0)).pending(), kBacklog);
}

}  // namespace
}  // namespace civitas::testing
