// Sharing modules between cities, end to end: a registry process, gateways of two cities, and
// civitasctl doing what the people of those cities would do.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "civitas/abi.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/testing/v1/counter.grpc.pb.h"
#include "services/bundle/bundle.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace admin = civitas::gateway::v1;
namespace nb = civitas::noticeboard::v1;

class SharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("share");
    std::filesystem::create_directories(dir_ + "/registry");
    Ctl({"keys", "generate", "--out", dir_ + "/dortmund"});
    dortmund_key_ = Read(dir_ + "/dortmund.pub");
    std::string out = Ctl({"registry", "token"});
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::ConsumePrefix(&line, "token:"))
        token_ = std::string(absl::StripAsciiWhitespace(line));
      if (absl::ConsumePrefix(&line, "token_sha256:")) {
        token_sha_ = std::string(absl::StripAsciiWhitespace(line));
      }
    }
    ASSERT_FALSE(token_.empty());
    // A second publisher, for the ownership of module ids.
    Ctl({"keys", "generate", "--out", dir_ + "/herne"});
    herne_key_ = Read(dir_ + "/herne.pub");
    out = Ctl({"registry", "token"});
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::ConsumePrefix(&line, "token:")) {
        herne_token_ = std::string(absl::StripAsciiWhitespace(line));
      }
      if (absl::ConsumePrefix(&line, "token_sha256:")) {
        herne_sha_ = std::string(absl::StripAsciiWhitespace(line));
      }
    }
    registry_ =
        GatewayProcess::StartBinary(RegistryBinary(), dir_ + "/registry", RegistryConfig(""));
    ASSERT_NE(registry_, nullptr);
  }

  std::string RegistryConfig(const std::string& extra) const {
    return absl::StrCat(
        "data_dir: {dir}/data\npublishers:\n  - name: dortmund\n    key: ", dortmund_key_,
        "\n    token_sha256: ", token_sha_, "\n  - name: herne\n    key: ", herne_key_,
        "\n    token_sha256: ", herne_sha_, "\n", extra);
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream b;
    b << in.rdbuf();
    return std::string(absl::StripAsciiWhitespace(b.str()));
  }

  // Runs civitasctl; fails the test unless it exits with `expect` (0 = success, 1 = any failure).
  std::string Ctl(std::vector<std::string> args, int expect = 0) {
    args.insert(args.begin(), CtlBinary());
    std::string output;
    int rc = RunCommand(args, &output);
    EXPECT_EQ(rc != 0, expect != 0) << absl::StrJoin(args, " ") << "\n" << output;
    return output;
  }

  // Packs and signs a module library as `publisher` with `key` (a keys-generate prefix).
  std::string Bundle(const std::string& library, const std::string& name,
                     const std::string& publisher = "dortmund", const std::string& key = "") {
    const std::string path = dir_ + "/" + name + ".civmod";
    Ctl({"module", "pack", library, "--publisher", publisher, "--license", "EUPL-1.2",
         "--description", "Notice board for neighbourhoods", "--out", path});
    Ctl({"module", "sign", path, "--key", (key.empty() ? dir_ + "/dortmund" : key) + ".key"});
    return path;
  }

  std::unique_ptr<GatewayProcess> StartCityB(const std::string& dir,
                                             const std::string& extra_trust = "") {
    keys_ = std::make_unique<TestKeys>(dir);
    const std::string trust =
        absl::StrCat("    registries:\n      - name: ruhr\n        target: ", registry_->target(),
                     "\n", "    trusted_publishers:\n      - name: dortmund\n",
                     "        key: ", dortmund_key_, "\n", extra_trust);
    return GatewayProcess::Start(dir, absl::StrCat(R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
admin:
  bundle_import_dir: )",
                                                   dir_, R"(
cities:
  - id: schwerte
)",
                                                   trust, "  - id: unna\n", trust));
  }

  std::vector<nb::Notice> Notices(GatewayProcess& gw, const std::string& city) {
    auto board = nb::NoticeboardService::NewStub(gw.channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, city);
    nb::ListNoticesRequest req;
    req.set_page_size(100);
    nb::ListNoticesResponse resp;
    grpc::Status s = board->ListNotices(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.notices().begin(), resp.notices().end()};
  }

  nb::Notice Create(GatewayProcess& gw, const std::string& city, const std::string& title) {
    auto board = nb::NoticeboardService::NewStub(gw.channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, city, keys_->Mint("anna", city, {}));
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title(title);
    nb::Notice out;
    grpc::Status s = board->CreateNotice(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::string dir_;
  std::string dortmund_key_, token_, token_sha_;
  std::string herne_key_, herne_token_, herne_sha_;
  std::unique_ptr<GatewayProcess> registry_;
  std::unique_ptr<TestKeys> keys_;
};

TEST_F(SharingTest, PublishInstallUpgradeUnderLoadAndRollBack) {
  // City A (Dortmund) runs the notice board it built, and publishes it.
  const std::string dir_a = NewTempDir("dortmund");
  TestKeys keys_a(dir_a);
  auto gateway_a = GatewayProcess::Start(dir_a, R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
cities:
  - id: dortmund
    modules:
      - id: civitas.noticeboard
)");
  ASSERT_NE(gateway_a, nullptr);
  const std::string v10 = Bundle(ModuleDir() + "/civitas.noticeboard.so", "noticeboard-1.0.0");
  EXPECT_NE(Ctl({"module", "verify", v10, "--publisher-key", "dortmund=" + dortmund_key_})
                .find("OK: civitas.noticeboard 1.0.0 signed by dortmund"),
            std::string::npos);
  EXPECT_NE(Ctl({"module", "publish", v10, "--registry", registry_->target(), "--publisher-token",
                 token_})
                .find("published modules/civitas.noticeboard/versions/1.0.0"),
            std::string::npos);
  EXPECT_NE(Ctl({"registry", "list", "--registry", registry_->target(), "--search", "neighbour"})
                .find("civitas.noticeboard\t1.0.0\tdortmund\tEUPL-1.2"),
            std::string::npos);

  // City B (Schwerte) installs it from the registry and serves it.
  auto b = StartCityB(NewTempDir("schwerte"));
  ASSERT_NE(b, nullptr);
  const std::vector<std::string> at_b = {"--admin-socket", b->admin_socket()};
  auto install = [&](const std::string& verb, const std::string& ref, const std::string& city,
                     int expect = 0) {
    std::vector<std::string> args = {"module",           verb, ref, "--city", city, "--registry",
                                     registry_->target()};
    args.insert(args.end(), at_b.begin(), at_b.end());
    return Ctl(args, expect);
  };
  // As an operator types it: the registry comes from the environment.
  {
    std::string output;
    const std::string command =
        absl::StrCat("CIVITAS_REGISTRY=ruhr CIVITAS_ADMIN_SOCKET=", b->admin_socket(), " ",
                     CtlBinary(), " module install civitas.noticeboard@1.0.0 --city schwerte");
    ASSERT_EQ(RunCommand({"sh", "-c", command}, &output), 0) << output;
  }
  EXPECT_EQ(ListModules(*b, "schwerte")["civitas.noticeboard"].version(), "1.0.0");
  EXPECT_EQ(ListModules(*b, "schwerte")["civitas.noticeboard"].publisher(), "dortmund");
  const nb::Notice flohmarkt = Create(*b, "schwerte", "  Flohmarkt am Sonntag  ");
  Create(*b, "schwerte", "Repair Café");
  ASSERT_EQ(Notices(*b, "schwerte").size(), 2u);

  // Dortmund publishes 1.1.0; Schwerte upgrades while clients keep calling.
  const std::string v11 =
      Bundle(FixtureDir() + "/next/civitas.noticeboard.so", "noticeboard-1.1.0");
  Ctl({"module", "publish", v11, "--registry", registry_->target(), "--publisher-token", token_});
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      auto board = nb::NoticeboardService::NewStub(b->channel());
      while (!stop.load()) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "schwerte");
        nb::GetNoticeRequest get;
        get.set_name(flohmarkt.name());
        nb::Notice n;
        grpc::Status s = board->GetNotice(&ctx, get, &n);
        if (s.ok()) {
          ++ok;
        } else {
          ++failed;
          ADD_FAILURE() << "call failed during upgrade: " << s.error_message();
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const int before_upgrade = ok.load();
  install("upgrade", "civitas.noticeboard@1.1.0", "schwerte");
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(before_upgrade, 0);
  EXPECT_GT(ok.load(), before_upgrade);

  auto modules = ListModules(*b, "schwerte");
  EXPECT_EQ(modules["civitas.noticeboard"].version(), "1.1.0");
  EXPECT_EQ(modules["civitas.noticeboard"].previous_version(), "1.0.0");
  // 1.1's migration ran once for the city's existing data.
  std::set<std::string> titles;
  for (const auto& n : Notices(*b, "schwerte")) titles.insert(n.title());
  EXPECT_TRUE(titles.count("Flohmarkt am Sonntag")) << "migrated title";
  Create(*b, "schwerte", "Neu seit 1.1");
  ASSERT_EQ(Notices(*b, "schwerte").size(), 3u);

  // Two versions of one module serve two cities of one gateway at the same time.
  install("install", "civitas.noticeboard@1.0.0", "unna");
  EXPECT_EQ(ListModules(*b, "unna")["civitas.noticeboard"].version(), "1.0.0");
  EXPECT_EQ(ListModules(*b, "schwerte")["civitas.noticeboard"].version(), "1.1.0");
  Create(*b, "unna", "Unna hat auch ein Brett");
  EXPECT_EQ(Notices(*b, "unna").size(), 1u);

  // A downgrade needs --force; rollback is the way back.
  EXPECT_NE(install("install", "civitas.noticeboard@1.0.0", "schwerte", 1)
                .find("would downgrade city 'schwerte' from 1.1.0"),
            std::string::npos);
  std::vector<std::string> rollback = {"module", "rollback", "civitas.noticeboard", "--city",
                                       "schwerte"};
  rollback.insert(rollback.end(), at_b.begin(), at_b.end());
  Ctl(rollback);
  modules = ListModules(*b, "schwerte");
  EXPECT_EQ(modules["civitas.noticeboard"].version(), "1.0.0");
  // 1.1 declares that 1.0 reads its data: the rollback keeps everything, also what was written
  // under 1.1 (tests/integration/upgrade_test.cc covers the other ways back).
  titles.clear();
  for (const auto& n : Notices(*b, "schwerte")) titles.insert(n.title());
  EXPECT_EQ(titles, (std::set<std::string>{"Flohmarkt am Sonntag", "Repair Café", "Neu seit 1.1"}));
  EXPECT_NE(Ctl(rollback, 1).find("no version of civitas.noticeboard before 1.0.0"),
            std::string::npos);

  // Pins survive a restart.
  const std::string dir_b = b->dir();
  EXPECT_EQ(b->Terminate(), 0);
  auto again = GatewayProcess::Start(dir_b, Read(dir_b + "/gateway.yaml"));
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(ListModules(*again, "schwerte")["civitas.noticeboard"].version(), "1.0.0");
  EXPECT_EQ(ListModules(*again, "unna")["civitas.noticeboard"].version(), "1.0.0");
  EXPECT_EQ(Notices(*again, "unna").size(), 1u);
}

TEST_F(SharingTest, RefusalsAreClearAndChangeNothing) {
  Ctl({"keys", "generate", "--out", dir_ + "/hagen"});
  Ctl({"keys", "generate", "--out", dir_ + "/dortmund-old"});
  const std::string old_key = Read(dir_ + "/dortmund-old.pub");
  auto b = StartCityB(
      NewTempDir("schwerte"),
      absl::StrCat("      - name: dortmund\n        key: ", old_key, "\n        revoked: true\n"));
  ASSERT_NE(b, nullptr);
  const std::string v10 = Bundle(ModuleDir() + "/civitas.noticeboard.so", "nb10");
  Ctl({"module", "install", "--bundle", v10, "--city", "schwerte", "--admin-socket",
       b->admin_socket()});
  const auto baseline = ListModules(*b, "schwerte");
  ASSERT_EQ(baseline.at("civitas.noticeboard").version(), "1.0.0");

  auto refused = [&](const std::string& bundle_path, const std::string& reason) {
    std::string out = Ctl({"module", "install", "--bundle", bundle_path, "--city", "schwerte",
                           "--admin-socket", b->admin_socket()},
                          1);
    EXPECT_NE(out.find(reason), std::string::npos) << out;
    auto now = ListModules(*b, "schwerte");
    EXPECT_EQ(now.size(), baseline.size());
    EXPECT_EQ(now["civitas.noticeboard"].version(), "1.0.0");
    EXPECT_EQ(now["civitas.noticeboard"].state(), admin::MODULE_STATE_SERVING);
    // Nothing of a refused bundle stays in the module store, wherever it was refused.
    std::set<std::string> stored;
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(b->dir() + "/data/modules")) {
      if (e.is_directory()) {
        stored.insert(std::filesystem::relative(e.path(), b->dir() + "/data/modules").string());
      }
    }
    EXPECT_EQ(stored, (std::set<std::string>{"civitas.noticeboard", "civitas.noticeboard/1.0.0"}))
        << "after refusing " << bundle_path;
  };

  // Tampered: one byte of the library changed after signing.
  std::ifstream in(v10, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto files = bundle::ReadTar(bytes);
  ASSERT_TRUE(files.ok());
  (*files)[bundle::kModuleFile][4000] ^= 0x01;
  std::ofstream(dir_ + "/tampered.civmod", std::ios::binary) << bundle::WriteTar(*files);
  refused(dir_ + "/tampered.civmod", "module.so' does not match its SHA-256");

  const std::string next = FixtureDir() + "/next/civitas.noticeboard.so";
  refused(Bundle(next, "unknown", "hagen", dir_ + "/hagen"), "publisher 'hagen' is not trusted");
  refused(Bundle(next, "revoked", "dortmund", dir_ + "/dortmund-old"),
          "signed with a revoked key of publisher 'dortmund'");
  refused(Bundle(next, "wrong-key", "dortmund", dir_ + "/hagen"),
          "signature does not match any trusted key of publisher 'dortmund'");
  refused(Bundle(FixtureDir() + "/civitas.testing.abi_major.so", "abi99"),
          "was built for civitas ABI 99.0");
  refused(Bundle(FixtureDir() + "/civitas.testing.service_taken.so", "taken"),
          "service civitas.noticeboard.v1.NoticeboardService is already served in city "
          "'schwerte' by module 'civitas.noticeboard'");

  // The registry refuses too.
  const std::string publish_ok = Bundle(next, "publishable");
  Ctl({"module", "publish", publish_ok, "--registry", registry_->target(), "--publisher-token",
       token_});
  EXPECT_NE(Ctl({"module", "publish", publish_ok, "--registry", registry_->target(),
                 "--publisher-token", token_},
                1)
                .find("already published"),
            std::string::npos);
  EXPECT_NE(Ctl({"module", "publish", publish_ok, "--registry", registry_->target(),
                 "--publisher-token", "guessed"},
                1)
                .find("UNAUTHENTICATED"),
            std::string::npos);
  EXPECT_NE(Ctl({"module", "publish", dir_ + "/wrong-key.civmod", "--registry", registry_->target(),
                 "--publisher-token", token_},
                1)
                .find("not signed with the key registered for 'dortmund'"),
            std::string::npos);
}

TEST_F(SharingTest, AModuleIdBelongsToWhoPublishedItFirst) {
  const std::string reg = registry_->target();
  Ctl({"module", "publish", Bundle(ModuleDir() + "/civitas.noticeboard.so", "nb10"), "--registry",
       reg, "--publisher-token", token_});
  // Herne signs a newer version of Dortmund's module with its own, registered key.
  const std::string next = FixtureDir() + "/next/civitas.noticeboard.so";
  const std::string herne11 = Bundle(next, "herne-nb11", "herne", dir_ + "/herne");
  EXPECT_NE(
      Ctl({"module", "publish", herne11, "--registry", reg, "--publisher-token", herne_token_}, 1)
          .find("civitas.noticeboard belongs to publisher 'dortmund'"),
      std::string::npos);
  // Only the owner adds publishers.
  EXPECT_NE(Ctl({"registry", "add-publisher", "civitas.noticeboard", "--publisher", "herne",
                 "--registry", reg, "--publisher-token", herne_token_},
                1)
                .find("only they may add publishers"),
            std::string::npos);
  EXPECT_NE(Ctl({"registry", "add-publisher", "civitas.noticeboard", "--publisher", "nobody",
                 "--registry", reg, "--publisher-token", token_},
                1)
                .find("no publisher 'nobody' is registered"),
            std::string::npos);
  EXPECT_NE(Ctl({"registry", "add-publisher", "civitas.noticeboard", "--publisher", "herne",
                 "--registry", reg, "--publisher-token", token_})
                .find("may be published by: dortmund herne"),
            std::string::npos);
  EXPECT_NE(
      Ctl({"module", "publish", herne11, "--registry", reg, "--publisher-token", herne_token_})
          .find("published modules/civitas.noticeboard/versions/1.1.0"),
      std::string::npos);
  // Names that are paths are refused before anything is looked up.
  EXPECT_NE(Ctl({"registry", "add-publisher", "../x", "--publisher", "herne", "--registry", reg,
                 "--publisher-token", token_},
                1)
                .find("INVALID_ARGUMENT"),
            std::string::npos);
}

TEST_F(SharingTest, TheRegistrySpeaksTlsToCtlAndToGateways) {
  const std::string tls = dir_ + "/tls";
  std::filesystem::create_directories(tls);
  std::string output;
  ASSERT_EQ(RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", tls + "/key.pem",
                        "-out", tls + "/cert.pem"},
                       &output),
            0)
      << output;
  std::filesystem::create_directories(dir_ + "/tls-registry");
  auto secure = GatewayProcess::StartBinary(
      RegistryBinary(), dir_ + "/tls-registry",
      RegistryConfig(
          absl::StrCat("tls:\n  cert_file: ", tls, "/cert.pem\n  key_file: ", tls, "/key.pem\n")));
  ASSERT_NE(secure, nullptr);
  const std::string v10 = Bundle(ModuleDir() + "/civitas.noticeboard.so", "nb10");
  // Plaintext does not get through; with the CA it does.
  Ctl({"module", "publish", v10, "--registry", secure->target(), "--publisher-token", token_}, 1);
  Ctl({"module", "publish", v10, "--registry", secure->target(), "--registry-ca", tls + "/cert.pem",
       "--publisher-token", token_});

  const std::string dir_b = NewTempDir("schwerte");
  keys_ = std::make_unique<TestKeys>(dir_b);
  auto b = GatewayProcess::Start(dir_b, absl::StrCat(R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
cities:
  - id: schwerte
    registries:
      - name: ruhr-tls
        target: )",
                                                     secure->target(), "\n        ca_file: ", tls,
                                                     R"(/cert.pem
      - name: ruhr-plain
        target: )",
                                                     secure->target(), R"(
    trusted_publishers:
      - name: dortmund
        key: )",
                                                     dortmund_key_, "\n"));
  ASSERT_NE(b, nullptr);
  const std::vector<std::string> at_b = {"--admin-socket", b->admin_socket()};
  std::vector<std::string> install = {"module",     "install",        "civitas.noticeboard@1.0.0",
                                      "--city",     "schwerte",       "--registry",
                                      "ruhr-plain", "--admin-socket", b->admin_socket()};
  const std::string plain = Ctl(install, 1);
  EXPECT_NE(plain.find("registry 'ruhr-plain' could not be reached"), std::string::npos) << plain;
  install[6] = "ruhr-tls";
  Ctl(install);
  EXPECT_EQ(ListModules(*b, "schwerte")["civitas.noticeboard"].version(), "1.0.0");
  Create(*b, "schwerte", "über TLS installiert");
  EXPECT_EQ(Notices(*b, "schwerte").size(), 1u);
}

TEST(PlainCModuleTest, LoadsAndServesThroughTheAbiAlone) {
  const std::string dir = NewTempDir("gw");
  auto gw = GatewayProcess::Start(dir, R"(
data_dir: {dir}/data
cities:
  - id: hagen
    modules:
      - id: civitas.testing.counter
        path: {fixtures}/civitas.testing.counter.so
)");
  ASSERT_NE(gw, nullptr);
  auto counter = civitas::testing::v1::CounterService::NewStub(gw->channel());
  int64_t total = 0;
  for (int delta : {5, 7, 30}) {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    civitas::testing::v1::AddRequest req;
    req.set_delta(delta);
    civitas::testing::v1::AddResponse resp;
    grpc::Status s = counter->Add(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    total = resp.total();
  }
  EXPECT_EQ(total, 42);
  auto stub = civitas::gateway::v1::AdminService::NewStub(gw->admin_channel());
  grpc::ClientContext ctx;
  Prepare(&ctx);
  civitas::gateway::v1::ListModulesRequest req;
  req.set_parent("cities/hagen");
  civitas::gateway::v1::ListModulesResponse resp;
  ASSERT_TRUE(stub->ListModules(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.modules_size(), 1);
  EXPECT_EQ(resp.modules(0).abi_version(), "1.0");  // an older minor still loads
  EXPECT_EQ(resp.modules(0).build_id(), "plain C");
}

}  // namespace
}  // namespace civitas::testing
