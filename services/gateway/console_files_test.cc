#include "services/gateway/console_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "civitas/abi.h"
#include "services/auth/city_trust.h"
#include "services/auth/token.h"

namespace civitas::gateway {
namespace {

namespace fs = std::filesystem;

std::string Header(const HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

HttpRequest Get(const std::string& target) {
  HttpRequest r;
  r.method = "GET";
  r.target = target;
  r.headers["host"] = "127.0.0.1:8080";
  return r;
}

class ConsoleFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("console_files_test." + std::to_string(getpid()));
    fs::remove_all(base_);
    fs::create_directories(base_ / "console" / "assets");
    Write(base_ / "console" / "index.html", "<!doctype html><title>x</title>");
    Write(base_ / "console" / "assets" / "app.js", "console.log(1);");
    Write(base_ / "console" / "app.css", "body{}");
    Write(base_ / "console" / ".hidden", "hidden");
    Write(base_ / "secret.txt", "TOP-SECRET");
    fs::create_symlink(base_ / "secret.txt", base_ / "console" / "link.txt");
    config_.cities.push_back({});
    config_.cities[0].id = "demo";
    config_.cities[0].display_name = "Demo-Stadt";
    config_.cities[0].time_zone = "Europe/Berlin";
  }
  void TearDown() override { fs::remove_all(base_); }

  static void Write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

  HttpResponse Serve(const ConsoleFiles& files, const HttpRequest& r) {
    return files.Serve(r, r.target.substr(0, r.target.find('?')));
  }

  std::string DevKey(std::string* jwks) {
    const std::string key = (base_ / "dev.pem").string(), set = (base_ / "dev.jwks").string();
    EXPECT_TRUE(auth::GenerateDevKeyPair(key, set, "civitas-dev").ok());
    std::ifstream k(key), j(set);
    std::string pem((std::istreambuf_iterator<char>(k)), std::istreambuf_iterator<char>());
    jwks->assign((std::istreambuf_iterator<char>(j)), std::istreambuf_iterator<char>());
    return pem;
  }

  fs::path base_;
  GatewayConfig config_;
};

TEST_F(ConsoleFilesTest, RootRedirectsToTheConsole) {
  ConsoleFiles files((base_ / "console").string(), config_, "");
  for (const char* target : {"/", "/console", "/?x=1"}) {
    HttpResponse r = Serve(files, Get(target));
    EXPECT_EQ(r.status, 308) << target;
    EXPECT_EQ(Header(r, "Location"), "/console/") << target;
  }
  EXPECT_TRUE(ConsoleFiles::Handles("/"));
  EXPECT_TRUE(ConsoleFiles::Handles("/console/x.js"));
  EXPECT_FALSE(ConsoleFiles::Handles("/consoles"));
  EXPECT_FALSE(ConsoleFiles::Handles("/v1/articles"));
}

TEST_F(ConsoleFilesTest, ServesFilesWithTypesPolicyAndEtag) {
  ConsoleFiles files((base_ / "console").string(), config_, "");
  HttpResponse index = Serve(files, Get("/console/"));
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>x</title>");
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  const std::string csp = Header(index, "Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-eval"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  const std::string etag = Header(index, "ETag");
  ASSERT_FALSE(etag.empty());

  HttpResponse js = Serve(files, Get("/console/assets/app.js?v=2"));
  ASSERT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Serve(files, Get("/console/app.css")).content_type, "text/css; charset=utf-8");
  EXPECT_NE(Header(js, "ETag"), etag);

  HttpRequest again = Get("/console/index.html");
  again.headers["if-none-match"] = "\"other\", " + etag;
  HttpResponse not_modified = Serve(files, again);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_TRUE(not_modified.body.empty());
  EXPECT_EQ(Header(not_modified, "ETag"), etag);

  // A new build is a new ETag: the old one no longer matches.
  Write(base_ / "console" / "index.html", "<!doctype html><title>y</title>");
  HttpResponse changed = Serve(files, again);
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(Header(changed, "ETag"), etag);

  HttpRequest head = Get("/console/");
  head.method = "HEAD";
  HttpResponse h = Serve(files, head);
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());
}

TEST_F(ConsoleFilesTest, RefusesPathsOutsideTheDirectory) {
  ConsoleFiles files((base_ / "console").string(), config_, "");
  for (const char* target :
       {"/console/../secret.txt", "/console/%2e%2e/secret.txt", "/console/%2E%2E%2Fsecret.txt",
        "/console/assets/..%2f..%2fsecret.txt", "/console/assets/../../secret.txt",
        "/console//etc/passwd", "/console/%2fetc%2fpasswd", "/console/.hidden", "/console/link.txt",
        "/console/assets/%00app.js", "/console/assets\\..\\..\\secret.txt", "/console/missing.js",
        "/console/assets"}) {
    HttpResponse r = Serve(files, Get(target));
    EXPECT_EQ(r.status, 404) << target;
    EXPECT_EQ(r.body.find("TOP-SECRET"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("hidden"), std::string::npos) << target;
  }
  EXPECT_EQ(Serve(files, Get("/console/%zz")).status, 400);
  EXPECT_EQ(Serve(files, Get("/console/abc%2")).status, 400);
}

TEST_F(ConsoleFilesTest, OnlyReadsAreAllowedAndMissingBuildIsExplained) {
  ConsoleFiles files((base_ / "console").string(), config_, "");
  HttpRequest post = Get("/console/index.html");
  post.method = "POST";
  HttpResponse r = Serve(files, post);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET, HEAD");

  ConsoleFiles unbuilt((base_ / "nowhere").string(), config_, "");
  HttpResponse missing = Serve(unbuilt, Get("/console/"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("not built"), std::string::npos);
}

TEST_F(ConsoleFilesTest, SettingsNameTheCitiesAndTheirTimeZones) {
  ConsoleFiles files((base_ / "console").string(), config_, "");
  HttpResponse r = Serve(files, Get("/console/settings.json"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json; charset=utf-8");
  EXPECT_NE(r.body.find("\"time_zone\":\"Europe/Berlin\""), std::string::npos);
  EXPECT_NE(r.body.find("\"display_name\":\"Demo-Stadt\""), std::string::npos);
  EXPECT_NE(r.body.find("\"dev_sign_in\":false"), std::string::npos);
}

TEST_F(ConsoleFilesTest, DevTokenIsRefusedWithoutTheDevelopmentKey) {
  ConsoleFiles files((base_ / "console").string(), config_, "");
  EXPECT_FALSE(files.dev_sign_in());
  HttpRequest post = Get("/console/dev-token");
  post.method = "POST";
  post.headers["content-type"] = "application/json";
  post.body = R"({"city": "demo", "role": "admin"})";
  HttpResponse r = Serve(files, post);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body.find("token\":"), std::string::npos);
  EXPECT_NE(r.body.find("development key"), std::string::npos);
  // A key that does not load does not turn it on either.
  ConsoleFiles broken((base_ / "console").string(), config_, "not a pem");
  EXPECT_FALSE(broken.dev_sign_in());
  EXPECT_EQ(Serve(broken, post).status, 404);
}

TEST_F(ConsoleFilesTest, DevTokenMintsAVerifiableTokenForTheChosenRole) {
  std::string jwks;
  ConsoleFiles files((base_ / "console").string(), config_, DevKey(&jwks));
  ASSERT_TRUE(files.dev_sign_in());
  EXPECT_NE(Serve(files, Get("/console/settings.json")).body.find("\"dev_sign_in\":true"),
            std::string::npos);
  HttpRequest post = Get("/console/dev-token");
  post.method = "POST";
  post.headers["content-type"] = "application/json";
  post.headers["origin"] = "http://127.0.0.1:8080";
  post.body = R"({"city": "demo", "role": "editor"})";
  HttpResponse r = Serve(files, post);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  const size_t start = r.body.find("\"token\":\"") + 9;
  const std::string token = r.body.substr(start, r.body.find('"', start) - start);
  auth::VerifierOptions options;
  options.jwks_json = jwks;
  auto verifier = auth::TokenVerifier::Create(options);
  ASSERT_TRUE(verifier.ok());
  auto claims = (*verifier)->Verify(token, absl::Now());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "dev-editor");
  const auth::CityTrust demo{"demo", {}, {}, {}}, other{"other", {}, {}, {}};
  EXPECT_TRUE(auth::RolesIn(*claims, demo) & CIVITAS_ROLE_BIT(CIVITAS_ROLE_EDITOR));
  EXPECT_FALSE(auth::RolesIn(*claims, demo) & CIVITAS_ROLE_BIT(CIVITAS_ROLE_ADMIN));
  EXPECT_EQ(auth::RolesIn(*claims, other), 0u) << "a token for the demo counts nowhere else";

  // A chosen subject, for an app developer who needs several citizens.
  post.body = R"({"city": "demo", "role": "citizen", "subject": "anna"})";
  r = Serve(files, post);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"subject\":\"dev-anna\""), std::string::npos) << r.body;
}

TEST_F(ConsoleFilesTest, DevTokenRefusesWrongCallers) {
  std::string jwks;
  ConsoleFiles files((base_ / "console").string(), config_, DevKey(&jwks));
  HttpRequest post = Get("/console/dev-token");
  post.method = "POST";
  post.headers["content-type"] = "application/json";
  post.body = R"({"city": "demo", "role": "editor"})";

  HttpRequest get = post;
  get.method = "GET";
  EXPECT_EQ(Serve(files, get).status, 405);

  HttpRequest form = post;
  form.headers["content-type"] = "text/plain";  // a cross-site form could send this
  EXPECT_EQ(Serve(files, form).status, 415);

  HttpRequest foreign = post;
  foreign.headers["origin"] = "https://evil.example";
  EXPECT_EQ(Serve(files, foreign).status, 403);

  for (const char* body :
       {R"({"city": "demo", "role": "root"})", R"({"city": "elsewhere", "role": "editor"})", "[1,2",
        "", R"({"city": "demo"})",
        R"({"city": "demo", "role": "citizen", "subject": "Anna/.."})"}) {
    HttpRequest bad = post;
    bad.body = body;
    HttpResponse r = Serve(files, bad);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(r.body.find("token\":"), std::string::npos) << body;
  }
}

TEST(ConsoleConfigTest, ParsesTheSignInBlock) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(
      "cities:\n  - id: a\n    console:\n      oidc_issuer: https://login.a.example/realms/x/\n"
      "      oidc_client_id: civitas-console\n  - id: b\n",
      "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cities[0].console.oidc_issuer, "https://login.a.example/realms/x");
  EXPECT_EQ(c->cities[0].console.oidc_client_id, "civitas-console");
  EXPECT_EQ(c->cities[0].console.oidc_scope, "openid");
  EXPECT_TRUE(c->cities[1].console.oidc_issuer.empty());
}

TEST(ConsoleConfigTest, RefusesUnsafeOrIncompleteSignIn) {
  const std::pair<const char*, const char*> cases[] = {
      {"oidc_issuer: http://login.a.example\n      oidc_client_id: c", "must be an https URL"},
      {"oidc_issuer: https://login.a.example?x=1\n      oidc_client_id: c", "without query"},
      {"oidc_issuer: https://\n      oidc_client_id: c", "must be an https URL"},
      // It becomes part of the console's Content-Security-Policy: no way to add directives.
      {"oidc_issuer: \"https://a.example; script-src *\"\n      oidc_client_id: c",
       "must be an https URL"},
      {"oidc_issuer: https://a.example,https://b.example\n      oidc_client_id: c",
       "must be an https URL"},
      {"oidc_issuer: https://login.a.example", "needs both"},
      {"oidc_client_id: c", "needs both"},
      {"oidc_issuer: https://l.example\n      oidc_client_id: c\n      oidc_scope: email",
       "must include 'openid'"},
      {"issuer: https://l.example", "unknown key"},
  };
  for (const auto& [block, expected] : cases) {
    absl::StatusOr<GatewayConfig> c = ParseConfig(
        absl::StrCat("cities:\n  - id: a\n    console:\n      ", block, "\n"), "t.yaml");
    ASSERT_FALSE(c.ok()) << block;
    EXPECT_NE(c.status().message().find(expected), std::string::npos) << c.status().message();
    EXPECT_NE(c.status().message().find("cities[0].console"), std::string::npos)
        << c.status().message();
  }
  // http on loopback is for development and tests.
  EXPECT_TRUE(ParseConfig("cities:\n  - id: a\n    console: {oidc_issuer: 'http://127.0.0.1:9/x',"
                          " oidc_client_id: c}\n",
                          "t.yaml")
                  .ok());
}

TEST_F(ConsoleFilesTest, SettingsAndPolicyNameTheCitysIdentityProvider) {
  config_.cities[0].console.oidc_issuer = "https://login.demo.example:8443/realms/staff";
  config_.cities[0].console.oidc_client_id = "console";
  ConsoleFiles files((base_ / "console").string(), config_, "");
  HttpResponse r = Serve(files, Get("/console/settings.json"));
  EXPECT_NE(r.body.find("\"oidc\":{\"issuer\":\"https://login.demo.example:8443/realms/staff\","
                        "\"client_id\":\"console\",\"scope\":\"openid\"}"),
            std::string::npos)
      << r.body;
  // The browser may talk to the provider (discovery, token endpoint) and to nothing else.
  const std::string csp = Header(Serve(files, Get("/console/")), "Content-Security-Policy");
  EXPECT_NE(csp.find("connect-src 'self' https://login.demo.example:8443;"), std::string::npos)
      << csp;
}

TEST(ConsoleConfigTest, MapTilesDefaultToOpenStreetMapAndMustBeSafeForThePolicy) {
  absl::StatusOr<GatewayConfig> c = ParseConfig(
      "cities:\n  - id: a\n  - id: b\n    console:\n"
      "      map_tile_url: https://tiles.b.example/osm/{z}/{x}/{y}.png?key=1\n"
      "      map_attribution: Stadt B\n  - id: c\n    console: {map_tile_url: ''}\n",
      "t.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cities[0].console.map_tile_url, "https://tile.openstreetmap.org/{z}/{x}/{y}.png");
  EXPECT_EQ(c->cities[1].console.map_tile_url, "https://tiles.b.example/osm/{z}/{x}/{y}.png?key=1");
  EXPECT_EQ(c->cities[1].console.map_attribution, "Stadt B");
  EXPECT_TRUE(c->cities[2].console.map_tile_url.empty());
  const std::pair<const char*, const char*> cases[] = {
      {"map_tile_url: http://tiles.example/{z}/{x}/{y}.png", "must be an https URL"},
      {"map_tile_url: https://{s}.tiles.example/{z}/{x}/{y}.png", "with a plain host"},
      {"map_tile_url: \"https://t.example; img-src */{z}/{x}/{y}\"", "must be an https URL"},
      {"map_tile_url: https://t.example/{z}/{x}.png", "must contain {z}, {x} and {y}"},
      {"map_tile_url: https://t.example/{z}/{x}/{y}.png\n      map_tile: x", "unknown key"},
  };
  for (const auto& [block, expected] : cases) {
    absl::StatusOr<GatewayConfig> bad = ParseConfig(
        absl::StrCat("cities:\n  - id: a\n    console:\n      ", block, "\n"), "t.yaml");
    ASSERT_FALSE(bad.ok()) << block;
    EXPECT_NE(bad.status().message().find(expected), std::string::npos) << bad.status().message();
  }
}

TEST_F(ConsoleFilesTest, SettingsAndPolicyNameTheCitysMapTiles) {
  config_.cities[0].console.map_tile_url = "https://tiles.demo.example:8443/{z}/{x}/{y}.png";
  config_.cities[0].console.map_attribution = "Karten: Demo";
  ConsoleFiles files((base_ / "console").string(), config_, "");
  HttpResponse r = Serve(files, Get("/console/settings.json"));
  EXPECT_NE(r.body.find("\"map\":{\"tile_url\":\"https://tiles.demo.example:8443/{z}/{x}/{y}.png\","
                        "\"attribution\":\"Karten: Demo\"}"),
            std::string::npos)
      << r.body;
  // Images from the tile server, and connections still only to the gateway itself.
  const std::string csp = Header(Serve(files, Get("/console/")), "Content-Security-Policy");
  EXPECT_NE(csp.find("img-src 'self' data: https://tiles.demo.example:8443;"), std::string::npos)
      << csp;
  EXPECT_NE(csp.find("connect-src 'self';"), std::string::npos) << csp;
}

}  // namespace
}  // namespace civitas::gateway
