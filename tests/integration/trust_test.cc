// Who may do what, from outside: administration only through the admin socket or with a token
// (never because of a peer address), the operator above a city's admin, tokens that count only
// in the cities they were issued for, bundles that cannot name a path, and registries that only a
// city's config names.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "civitas/noticeboard/v1/noticeboard.grpc.pb.h"
#include "civitas/registry/v1/registry.grpc.pb.h"
#include "services/bundle/bundle.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace admin = civitas::gateway::v1;
namespace nb = civitas::noticeboard::v1;
namespace fs = std::filesystem;

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

// AdminService through the admin socket (token empty) or the gRPC port.
std::unique_ptr<admin::AdminService::Stub> Admin(const GatewayProcess& gw, bool socket) {
  return admin::AdminService::NewStub(socket ? gw.admin_channel() : gw.channel());
}

grpc::Status ListCities(const GatewayProcess& gw, bool socket, const std::string& token,
                        admin::ListCitiesResponse* out = nullptr) {
  grpc::ClientContext ctx;
  Prepare(&ctx, "", token);
  admin::ListCitiesResponse response;
  return Admin(gw, socket)->ListCities(&ctx, admin::ListCitiesRequest(), out ? out : &response);
}

grpc::Status CreateCity(const GatewayProcess& gw, bool socket, const std::string& token,
                        const std::string& yaml) {
  grpc::ClientContext ctx;
  Prepare(&ctx, "", token);
  admin::CreateCityRequest request;
  request.set_city_yaml(yaml);
  admin::City city;
  return Admin(gw, socket)->CreateCity(&ctx, request, &city);
}

grpc::Status InstallBundle(const GatewayProcess& gw, const std::string& city,
                           const std::string& path) {
  grpc::ClientContext ctx;
  Prepare(&ctx, "", "", absl::Seconds(60));
  admin::InstallModuleRequest request;
  request.set_parent("cities/" + city);
  request.set_bundle_path(path);
  admin::Module module;
  return Admin(gw, true)->InstallModule(&ctx, request, &module);
}

grpc::Status InstallFromRegistry(const GatewayProcess& gw, const std::string& city,
                                 const std::string& registry, const std::string& version = "1.0.0",
                                 absl::Duration timeout = absl::Seconds(60)) {
  grpc::ClientContext ctx;
  Prepare(&ctx, "", "", timeout);
  admin::InstallModuleRequest request;
  request.set_parent("cities/" + city);
  request.mutable_registry()->set_target(registry);
  request.mutable_registry()->set_module_id("civitas.noticeboard");
  request.mutable_registry()->set_version(version);
  admin::Module module;
  return Admin(gw, true)->InstallModule(&ctx, request, &module);
}

constexpr char kTwoCities[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
cities:
  - id: dortmund
  - id: schwerte
)";

TEST(AdminAccessTest, TheAdminSocketNeedsNoTokenButTcpAlwaysDoesEvenFromLoopback) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  auto gw = GatewayProcess::Start(dir, kTwoCities);
  ASSERT_NE(gw, nullptr);

  // The socket's file mode is the access control: the gateway's user only, by default.
  struct stat st;
  ASSERT_EQ(stat(gw->admin_socket().c_str(), &st), 0) << gw->admin_socket();
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, getuid());

  admin::ListCitiesResponse cities;
  grpc::Status s = ListCities(*gw, /*socket=*/true, "", &cities);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(cities.cities_size(), 2);

  // 127.0.0.1 is where an nginx on the same host comes from: it grants nothing.
  s = ListCities(*gw, /*socket=*/false, "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("admin or operator token"), std::string::npos);
  s = ListCities(*gw, false, keys.Mint("anna", "dortmund", {"citizen"}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = CreateCity(*gw, false, "", "id: evil\ntrusted_publishers: []\n");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_TRUE(ListCities(*gw, false, keys.Mint("ops", "*", {"operator"})).ok());

  // Every admin call leaves one audit line: method, caller, peer, city, outcome.
  const std::string log = gw->log();
  EXPECT_NE(
      log.find(
          R"x("method":"CreateCity","subject":"(none)","operator":"false","peer":"ipv4:127.0.0.1:)x"),
      std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("outcome":"UNAUTHENTICATED")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("method":"ListCities","subject":"local admin socket","operator":"true")"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("method":"ListCities","subject":"ops","operator":"true")"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("subject":"anna","operator":"false")"), std::string::npos) << log;

  // A second gateway does not take over a socket that is in use.
  const std::string dir2 = NewTempDir("gw2");
  std::ofstream(dir2 + "/gateway.yaml")
      << absl::StrReplaceAll(kTwoCities, {{"{dir}", dir2}, {"{modules}", ModuleDir()}})
      << "admin:\n  socket: " << gw->admin_socket() << "\n";
  std::ofstream(dir2 + "/jwks.json") << Read(keys.jwks_path());
  std::string output;
  EXPECT_NE(RunCommand({GatewayBinary(), "--config", dir2 + "/gateway.yaml", "--listen",
                        "127.0.0.1:0", "--http_listen", "127.0.0.1:0"},
                       &output),
            0);
  EXPECT_NE(output.find("is in use"), std::string::npos) << output;
  EXPECT_TRUE(ListCities(*gw, true, "").ok());
}

TEST(AdminAccessTest, TrustingLoopbackIsAConfigErrorThatSaysWhatReplacedIt) {
  const std::string dir = NewTempDir("cfg");
  std::ofstream(dir + "/gateway.yaml") << "admin:\n  trust_loopback: true\ncities:\n  - id: a\n";
  std::string output;
  EXPECT_NE(
      RunCommand({GatewayBinary(), "--config", dir + "/gateway.yaml", "--check-config"}, &output),
      0);
  EXPECT_NE(output.find("admin.trust_loopback: was removed"), std::string::npos) << output;
  EXPECT_NE(output.find("admin.socket"), std::string::npos) << output;
}

TEST(AdminAccessTest, OnlyTheOperatorCreatesCitiesAndTrustsPublishers) {
  const std::string dir = NewTempDir("gw");
  TestKeys keys(dir);
  // Audit lines are written whatever the log level.
  auto gw = GatewayProcess::Start(dir, absl::StrCat(kTwoCities, "logging:\n  level: error\n"));
  ASSERT_NE(gw, nullptr);
  const std::string trusting = absl::StrCat(
      "id: hagen\ntrusted_publishers:\n  - name: mallory\n    key: ",
      "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nmodules:\n  - id: civitas.noticeboard\n"
      "    path: /tmp/mallory.so\n");
  // A city's admin, and an admin of every city, are still not the operator.
  for (const std::string& token :
       {keys.Mint("it-dortmund", "dortmund", {"admin"}), keys.Mint("it-all", "*", {"admin"})}) {
    grpc::Status s = CreateCity(*gw, false, token, trusting);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("instance operator"), std::string::npos) << s.error_message();
    grpc::ClientContext ctx;
    Prepare(&ctx, "", token);
    admin::DeleteCityRequest del;
    del.set_name("cities/schwerte");
    del.set_confirm("schwerte");
    admin::DeleteCityResponse deleted;
    s = Admin(*gw, false)->DeleteCity(&ctx, del, &deleted);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  }
  admin::ListCitiesResponse cities;
  ASSERT_TRUE(ListCities(*gw, true, "", &cities).ok());
  EXPECT_EQ(cities.cities_size(), 2);

  // The admin of Dortmund manages Dortmund's modules, not Schwerte's.
  const std::string dortmund_admin = keys.Mint("it-dortmund", "dortmund", {"admin"});
  for (const auto& [city, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"dortmund", grpc::StatusCode::OK}, {"schwerte", grpc::StatusCode::PERMISSION_DENIED}}) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "", dortmund_admin);
    admin::ListModulesRequest request;
    request.set_parent("cities/" + city);
    admin::ListModulesResponse response;
    EXPECT_EQ(Admin(*gw, false)->ListModules(&ctx, request, &response).error_code(), code) << city;
  }

  // The operator may, over the network with its token.
  grpc::Status s = CreateCity(*gw, false, keys.Mint("ops", "*", {"operator"}),
                              "id: hagen\nmodules:\n  - id: civitas.noticeboard\n");
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(ListCities(*gw, true, "", &cities).ok());
  EXPECT_EQ(cities.cities_size(), 3);
  const std::string log = gw->log();
  EXPECT_NE(log.find(R"("method":"CreateCity","subject":"it-all","operator":"false")"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("city":"hagen","outcome":"OK")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("level":"audit","msg":"admin call","method":"CreateCity")"),
            std::string::npos)
      << log;
}

// Tokens count only in the cities they were issued for.
class CityTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    auto signer = auth::TokenSigner::FromPrivateKeyPem(Read(dir_ + "/signing-key.pem"), "test-key");
    ASSERT_TRUE(signer.ok());
    signer_ = std::move(*signer);
    gw_ = GatewayProcess::Start(dir_, R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
  max_token_lifetime_seconds: 7200
cities:
  - id: dortmund
    modules: [{id: civitas.noticeboard}]
  - id: schwerte
    modules: [{id: civitas.noticeboard}]
  - id: unna
    auth:
      accept_citizens_of: [dortmund]
    modules: [{id: civitas.noticeboard}]
  - id: hagen
    auth:
      issuers: [https://login.hagen.example]
      audiences: [civitas-hagen]
    modules: [{id: civitas.noticeboard}]
)");
    ASSERT_NE(gw_, nullptr);
  }

  grpc::Status Post(const std::string& city, const std::string& token, nb::Notice* out = nullptr) {
    auto board = nb::NoticeboardService::NewStub(gw_->channel());
    grpc::ClientContext ctx;
    Prepare(&ctx, city, token);
    nb::CreateNoticeRequest req;
    req.mutable_notice()->set_title("Fahrrad gefunden");
    nb::Notice notice;
    return board->CreateNotice(&ctx, req, out ? out : &notice);
  }

  std::string Mint(const std::string& issuer, const std::string& audience,
                   std::map<std::string, std::vector<std::string>> roles,
                   absl::Duration ttl = absl::Hours(1)) {
    auth::MintRequest r;
    r.subject = "anna";
    r.issuer = issuer;
    r.audience = audience;
    r.roles_by_city = std::move(roles);
    r.ttl = ttl;
    return *signer_->Mint(r);
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<auth::TokenSigner> signer_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(CityTokenTest, ACitizenOfOneCityWritesNothingInAnother) {
  const std::string dortmund = keys_->Mint("anna", "dortmund", {});
  nb::Notice notice;
  grpc::Status s = Post("dortmund", dortmund, &notice);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(notice.author(), "anna");
  s = Post("schwerte", dortmund);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("not issued for city 'schwerte'"), std::string::npos)
      << s.error_message();
  // Unna accepts Dortmund's citizens (one login for the region) ...
  s = Post("unna", dortmund, &notice);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(notice.author(), "anna");
  // ... but not Schwerte's.
  s = Post("unna", keys_->Mint("anna", "schwerte", {}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // Reading needs no sign-in anywhere: the refusal is about the token, not the city.
  auto board = nb::NoticeboardService::NewStub(gw_->channel());
  grpc::ClientContext ctx;
  Prepare(&ctx, "schwerte");
  nb::ListNoticesResponse list;
  ASSERT_TRUE(board->ListNotices(&ctx, nb::ListNoticesRequest(), &list).ok());
  EXPECT_EQ(list.notices_size(), 0);
}

TEST_F(CityTokenTest, ACityWithItsOwnLoginNeedsItsIssuerAndAudience) {
  const std::string hagen = "https://login.hagen.example";
  // The city's own identity provider knows nothing of civitas roles: iss and aud are enough.
  EXPECT_TRUE(Post("hagen", Mint(hagen, "civitas-hagen", {})).ok());
  grpc::Status s = Post("hagen", Mint("https://login.dortmund.example", "civitas-hagen", {}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  s = Post("hagen", Mint(hagen, "civitas-dortmund", {}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // Naming the city in the roles claim does not replace its issuer.
  s = Post("hagen", keys_->Mint("anna", "hagen", {"editor"}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  // And Hagen's login is nobody in Dortmund.
  s = Post("dortmund", Mint(hagen, "civitas-hagen", {}));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
}

TEST_F(CityTokenTest, LongLivedTokensAreRefused) {
  EXPECT_TRUE(Post("dortmund", keys_->Mint("anna", "dortmund", {}, absl::Hours(2))).ok());
  grpc::Status s = Post("dortmund", keys_->Mint("anna", "dortmund", {}, absl::Hours(30 * 24)));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
  EXPECT_NE(s.error_message().find("at most 7200"), std::string::npos) << s.error_message();
}

// A signed bundle whose manifest says `id` / `version`: what a malicious publisher can make.
std::string SignedBundleClaiming(const std::string& id, const std::string& version,
                                 const bundle::KeyPair& keys) {
  auto packed =
      bundle::Pack(ModuleDir() + "/civitas.noticeboard.so", {"dortmund", "EUPL-1.2", "x", 0});
  EXPECT_TRUE(packed.ok()) << packed.status();
  auto files = bundle::ReadTar(*packed);
  std::string& manifest = (*files)[bundle::kManifestFile];
  manifest = absl::StrReplaceAll(manifest, {{"\"civitas.noticeboard\"", "\"" + id + "\""},
                                            {"\"1.0.0\"", "\"" + version + "\""}});
  (*files)[bundle::kSignatureFile] = *bundle::Sign(keys.private_pem, manifest);
  return bundle::WriteTar(*files);
}

class BundleImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = *bundle::GenerateKeyPair();
    fs::create_directories(dir_ + "/import");
    fs::create_directories(dir_ + "/outside");
    gw_ = GatewayProcess::Start(dir_, absl::StrCat(R"(
data_dir: {dir}/data
module_dir: {modules}
admin:
  bundle_import_dir: {dir}/import
cities:
  - id: dortmund
    trusted_publishers:
      - name: dortmund
        key: )",
                                                   keys_.public_key, "\n"));
    ASSERT_NE(gw_, nullptr);
  }

  std::string dir_;
  bundle::KeyPair keys_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(BundleImportTest, AManifestThatNamesAPathIsRefusedAndLeavesNothing) {
  for (const auto& [id, version] : std::vector<std::pair<std::string, std::string>>{
           {"../../../escaped", "1.0.0"},
           {"civitas.noticeboard", "1.0.0/../../../../escaped"},
           {"/tmp/escaped", "1.0.0"}}) {
    const std::string path = dir_ + "/import/evil.civmod";
    std::ofstream(path, std::ios::binary) << SignedBundleClaiming(id, version, keys_);
    grpc::Status s = InstallBundle(*gw_, "dortmund", path);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id << " " << version;
    EXPECT_NE(s.error_message().find("is not"), std::string::npos) << s.error_message();
  }
  EXPECT_FALSE(fs::exists(dir_ + "/escaped"));
  EXPECT_FALSE(fs::exists("/tmp/escaped"));
  EXPECT_TRUE(!fs::exists(dir_ + "/data/modules") || fs::is_empty(dir_ + "/data/modules"));
  EXPECT_TRUE(ListModules(*gw_, "dortmund").empty());
}

TEST_F(BundleImportTest, OnlyRegularFilesBelowTheImportFolderAreRead) {
  const std::string good = SignedBundleClaiming("civitas.noticeboard", "1.0.0", keys_);
  std::ofstream(dir_ + "/outside/nb.civmod", std::ios::binary) << good;
  fs::create_symlink(dir_ + "/outside/nb.civmod", dir_ + "/import/link.civmod");
  fs::create_directory_symlink(dir_ + "/outside", dir_ + "/import/linked-dir");
  for (const std::string& path :
       {dir_ + "/outside/nb.civmod", dir_ + "/import/link.civmod",
        dir_ + "/import/linked-dir/nb.civmod", dir_ + "/import/../outside/nb.civmod",
        std::string("/etc/passwd"), dir_ + "/import"}) {
    grpc::Status s = InstallBundle(*gw_, "dortmund", path);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << path << ": " << s.error_message();
    EXPECT_NE(s.error_message().find("admin.bundle_import_dir"), std::string::npos)
        << s.error_message();
  }
  EXPECT_TRUE(ListModules(*gw_, "dortmund").empty());
  // A bundle the operator put into the import folder installs.
  std::ofstream(dir_ + "/import/nb.civmod", std::ios::binary) << good;
  grpc::Status s = InstallBundle(*gw_, "dortmund", dir_ + "/import/nb.civmod");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ListModules(*gw_, "dortmund")["civitas.noticeboard"].version(), "1.0.0");
}

// A listening socket nobody accepts on: whether the gateway connected shows in its backlog.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  bool SomeoneConnected() {
    int c = accept(fd_, nullptr, nullptr);
    if (c >= 0) close(c);
    return c >= 0;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(RegistryChoiceTest, ACityInstallsOnlyFromRegistriesItsConfigNames) {
  Listener trap;
  std::string closed_target;
  {
    Listener closed_soon;  // its port is closed again once this scope ends
    closed_target = closed_soon.target();
  }
  const std::string dir = NewTempDir("gw");
  auto gw = GatewayProcess::Start(dir, absl::StrCat(R"(
data_dir: {dir}/data
module_dir: {modules}
cities:
  - id: dortmund
    registries:
      - name: ruhr
        target: )",
                                                    closed_target, "\n"));
  ASSERT_NE(gw, nullptr);
  for (const std::string& target :
       {trap.target(), std::string("nowhere"), std::string("169.254.169.254:80")}) {
    grpc::Status s = InstallFromRegistry(*gw, "dortmund", target);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
    EXPECT_NE(s.error_message().find("installs only from the registries its config names (ruhr)"),
              std::string::npos)
        << s.error_message();
  }
  EXPECT_FALSE(trap.SomeoneConnected()) << "the gateway dialed an address a caller made up";

  // A configured registry that is down: one message, whatever the reason.
  grpc::Status s = InstallFromRegistry(*gw, "dortmund", "ruhr");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_EQ(s.error_message(),
            "registry 'ruhr' could not be reached or did not answer; see the gateway's log");
  EXPECT_TRUE(ListModules(*gw, "dortmund").empty());
}

// A compromised registry: answers every download with the same bundle (signed by a key the city
// trusts), after a delay.
class HostileRegistry final : public civitas::registry::v1::RegistryService::Service {
 public:
  HostileRegistry(std::string bundle, absl::Duration delay)
      : bundle_(std::move(bundle)), delay_(delay) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~HostileRegistry() override { server_->Shutdown(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  grpc::Status GetBundle(grpc::ServerContext*, const civitas::registry::v1::GetBundleRequest* r,
                         civitas::registry::v1::Bundle* out) override {
    absl::SleepFor(delay_);
    out->set_name(r->name());
    out->set_content(bundle_);
    return grpc::Status::OK;
  }

 private:
  std::string bundle_;
  absl::Duration delay_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::unique_ptr<GatewayProcess> StartWithRegistry(const std::string& dir, const std::string& target,
                                                  const bundle::KeyPair& keys) {
  return GatewayProcess::Start(dir, absl::StrCat(R"(
data_dir: {dir}/data
module_dir: {modules}
cities:
  - id: dortmund
    registries: [{name: ruhr, target: ")",
                                                 target, R"("}]
    trusted_publishers:
      - name: dortmund
        key: )",
                                                 keys.public_key, "\n"));
}

TEST(RegistryChoiceTest, ABundleOtherThanTheOneAskedForIsRefused) {
  const bundle::KeyPair keys = *bundle::GenerateKeyPair();
  HostileRegistry registry(SignedBundleClaiming("civitas.noticeboard", "1.0.0", keys),
                           absl::ZeroDuration());
  auto gw = StartWithRegistry(NewTempDir("gw"), registry.target(), keys);
  ASSERT_NE(gw, nullptr);
  // Asked for 2.0.0 (say, with a security fix), answered with the old 1.0.0: refused.
  grpc::Status s = InstallFromRegistry(*gw, "dortmund", "ruhr", "2.0.0");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("with a bundle of civitas.noticeboard 1.0.0"), std::string::npos)
      << s.error_message();
  EXPECT_TRUE(ListModules(*gw, "dortmund").empty());
  // What it asked for it takes.
  s = InstallFromRegistry(*gw, "dortmund", "ruhr", "1.0.0");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ListModules(*gw, "dortmund")["civitas.noticeboard"].version(), "1.0.0");
}

TEST(RegistryChoiceTest, AnInstallWhoseClientGaveUpChangesNothing) {
  const bundle::KeyPair keys = *bundle::GenerateKeyPair();
  HostileRegistry slow(SignedBundleClaiming("civitas.noticeboard", "1.0.0", keys),
                       absl::Seconds(2));
  auto gw = StartWithRegistry(NewTempDir("gw"), slow.target(), keys);
  ASSERT_NE(gw, nullptr);
  grpc::Status s = InstallFromRegistry(*gw, "dortmund", "ruhr", "1.0.0", absl::Milliseconds(500));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  // The download finishes after the client left; the gateway must not install it then.
  bool finished = false;
  for (int i = 0; i < 100 && !finished; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    finished = gw->log().find(R"("method":"InstallModule")") != std::string::npos;
  }
  ASSERT_TRUE(finished) << gw->log();
  EXPECT_NE(gw->log().find(R"("outcome":"CANCELLED")"), std::string::npos) << gw->log();
  EXPECT_TRUE(ListModules(*gw, "dortmund").empty());
}

}  // namespace
}  // namespace civitas::testing
