#include "services/gateway/console_files.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "civitas/json.h"
#include "services/gateway/log.h"

namespace civitas::gateway {

namespace {

constexpr size_t kMaxFileBytes = 16 << 20;

std::string ContentTypeOf(const std::string& name) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json; charset=utf-8"},
      {".map", "application/json; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  };
  for (const auto& [suffix, type] : kTypes) {
    if (absl::EndsWith(name, suffix)) return type;
  }
  return "application/octet-stream";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Percent-decodes a path; false for a malformed escape.
bool DecodePath(const std::string& in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

// A relative file name inside the console directory: segments of [A-Za-z0-9._-], none empty and
// none starting with a dot (no "..", no hidden files).
bool SafeRelativePath(const std::string& path) {
  if (path.empty() || path.size() > 255) return false;
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment[0] == '.') return false;
    for (char c : segment) {
      if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != '-') return false;
    }
  }
  return true;
}

std::string Fnv1a64(const std::string& data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return absl::StrFormat("\"%016x-%x\"", h, data.size());
}

bool EtagMatches(const std::string& if_none_match, const std::string& etag) {
  if (if_none_match.empty()) return false;
  for (absl::string_view candidate : absl::StrSplit(if_none_match, ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    if (absl::StartsWith(candidate, "W/")) candidate.remove_prefix(2);
    if (candidate == "*" || candidate == etag) return true;
  }
  return false;
}

// "https://login.example:8443/realms/x" -> "https://login.example:8443".
std::string OriginOf(const std::string& url) {
  const size_t host = url.find("://");
  if (host == std::string::npos) return "";
  const size_t end = url.find('/', host + 3);
  return end == std::string::npos ? url : url.substr(0, end);
}

}  // namespace

std::string DefaultConsoleDir() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "share/civitas/console";
  return (exe.parent_path().parent_path() / "share" / "civitas" / "console").string();
}

ConsoleFiles::ConsoleFiles(std::string dir, const GatewayConfig& config,
                           const std::string& dev_signing_key)
    : dir_(std::move(dir)), roles_claim_(config.auth.roles_claim) {
  std::set<std::string> providers, tile_servers;
  for (const CityConfig& c : config.cities) {
    cities_.push_back({c.id, c.display_name.empty() ? c.id : c.display_name, c.default_language,
                       c.time_zone, c.console});
    if (!c.console.oidc_issuer.empty()) providers.insert(OriginOf(c.console.oidc_issuer));
    if (!c.console.map_tile_url.empty()) tile_servers.insert(OriginOf(c.console.map_tile_url));
  }
  std::string connect = "'self'", img = "'self' data:";
  for (const std::string& origin : providers) absl::StrAppend(&connect, " ", origin);
  for (const std::string& origin : tile_servers) absl::StrAppend(&img, " ", origin);
  content_security_policy_ =
      absl::StrCat("default-src 'none'; script-src 'self'; style-src 'self'; img-src ", img,
                   "; connect-src ", connect,
                   "; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
                   "frame-ancestors 'none'");
  if (!dev_signing_key.empty()) {
    auto signer = auth::TokenSigner::FromPrivateKeyPem(dev_signing_key, "civitas-dev");
    if (signer.ok()) {
      signer_ = std::move(*signer);
    } else {
      Log(LogLevel::kWarning, "console development sign-in is off: the key does not load",
          {{"reason", std::string(signer.status().message())}});
    }
  }
}

ConsoleFiles::~ConsoleFiles() = default;

std::vector<std::pair<std::string, std::string>> ConsoleFiles::SecurityHeaders() const {
  return {{"Content-Security-Policy", content_security_policy_},
          {"Referrer-Policy", "no-referrer"},
          {"X-Frame-Options", "DENY"},
          {"Cross-Origin-Opener-Policy", "same-origin"}};
}

HttpResponse ConsoleFiles::Plain(int status, std::string text) const {
  return {status, "text/plain; charset=utf-8", std::move(text) + "\n", SecurityHeaders()};
}

HttpResponse ConsoleFiles::JsonBody(int status, std::string json) const {
  HttpResponse r{status, "application/json; charset=utf-8", std::move(json) + "\n",
                 SecurityHeaders()};
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse ConsoleFiles::JsonProblem(int status, const std::string& message) const {
  return JsonBody(status, absl::StrCat("{\"error\":{\"code\":", status,
                                       ",\"message\":", civitas::JsonQuote(message), "}}"));
}

bool ConsoleFiles::Handles(const std::string& path) {
  return path == "/" || path == "/console" || absl::StartsWith(path, "/console/");
}

HttpResponse ConsoleFiles::Serve(const HttpRequest& request, const std::string& path) const {
  if (path == "/console/dev-token") {
    return DevToken(request);
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = Plain(405, "the console is read with GET");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (path == "/" || path == "/console") {
    HttpResponse r = Plain(308, "the console is at /console/");
    r.headers.emplace_back("Location", "/console/");
    return r;
  }
  if (path == "/console/settings.json") return Settings();
  std::string relative;
  if (!DecodePath(path.substr(std::string("/console/").size()), &relative)) {
    return Plain(400, "malformed percent-escape in the path");
  }
  if (relative.empty()) relative = "index.html";
  if (!SafeRelativePath(relative)) {
    return Plain(404, "no such console file");
  }
  HttpResponse r = ServeFile(request, relative);
  if (request.method == "HEAD") r.body.clear();
  return r;
}

HttpResponse ConsoleFiles::ServeFile(const HttpRequest& request,
                                     const std::string& relative) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path root = fs::canonical(dir_, ec);
  if (ec) {
    return Plain(404, absl::StrCat("the console is not built (no directory ", dir_,
                                   "); build the target 'console'"));
  }
  const fs::path file = fs::canonical(root / relative, ec);
  // canonical() follows symbolic links: whatever the name, the file must be inside the root.
  const std::string root_prefix = root.string() + "/";
  if (ec || !absl::StartsWith(file.string(), root_prefix) || !fs::is_regular_file(file, ec)) {
    return Plain(404, "no such console file");
  }
  const uintmax_t size = fs::file_size(file, ec);
  if (ec || size > kMaxFileBytes) return Plain(404, "no such console file");
  std::ifstream in(file, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return Plain(500, "the console file cannot be read");
  const std::string etag = Fnv1a64(data);
  HttpResponse r{200, ContentTypeOf(relative), "", SecurityHeaders()};
  r.headers.emplace_back("ETag", etag);
  // Revalidated on every load: a new build is seen at once, an unchanged one costs a 304.
  r.headers.emplace_back("Cache-Control", "no-cache");
  if (EtagMatches(request.Header("if-none-match"), etag)) {
    r.status = 304;
    return r;
  }
  r.body = std::move(data);
  return r;
}

HttpResponse ConsoleFiles::Settings() const {
  std::string json = "{\"cities\":[";
  for (size_t i = 0; i < cities_.size(); ++i) {
    const City& c = cities_[i];
    absl::StrAppend(&json, i ? "," : "", "{\"id\":", civitas::JsonQuote(c.id),
                    ",\"display_name\":", civitas::JsonQuote(c.display_name),
                    ",\"default_language\":", civitas::JsonQuote(c.default_language),
                    ",\"time_zone\":", civitas::JsonQuote(c.time_zone),
                    ",\"map\":{\"tile_url\":", civitas::JsonQuote(c.console.map_tile_url),
                    ",\"attribution\":", civitas::JsonQuote(c.console.map_attribution),
                    "},\"oidc\":");
    if (c.console.oidc_issuer.empty()) {
      absl::StrAppend(&json, "null}");
    } else {
      absl::StrAppend(&json, "{\"issuer\":", civitas::JsonQuote(c.console.oidc_issuer),
                      ",\"client_id\":", civitas::JsonQuote(c.console.oidc_client_id),
                      ",\"scope\":", civitas::JsonQuote(c.console.oidc_scope), "}}");
    }
  }
  absl::StrAppend(&json, "],\"roles_claim\":", civitas::JsonQuote(roles_claim_),
                  ",\"dev_sign_in\":", signer_ ? "true" : "false", "}");
  return JsonBody(200, json);
}

HttpResponse ConsoleFiles::DevToken(const HttpRequest& request) const {
  if (!signer_) {
    return JsonProblem(404,
                       "development sign-in exists only while the gateway uses the demo's "
                       "development key; sign in with the city's identity provider");
  }
  if (request.method != "POST") {
    HttpResponse r = JsonProblem(405, "POST {\"city\": ..., \"role\": ...} to get a token");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  // A JSON content type cannot be sent cross-origin without a preflight, which is not answered:
  // another site open in the same browser cannot obtain a token.
  if (!absl::StartsWith(absl::AsciiStrToLower(request.Header("content-type")),
                        "application/json")) {
    return JsonProblem(415, "send the request as application/json");
  }
  if (const std::string origin = request.Header("origin"); !origin.empty()) {
    const std::string host = request.Header("host");
    if (origin != "http://" + host && origin != "https://" + host) {
      return JsonProblem(403, "development tokens are given to the console's own origin only");
    }
  }
  google::protobuf::Struct body;
  if (!google::protobuf::util::JsonStringToMessage(request.body, &body).ok()) {
    return JsonProblem(400, "the body must be a JSON object {\"city\": ..., \"role\": ...}");
  }
  const auto& fields = body.fields();
  auto text = [&](const char* key) {
    auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second.string_value();
  };
  const std::string city = text("city"), role = text("role");
  bool known_city = false;
  for (const City& c : cities_) known_city = known_city || c.id == city;
  if (!known_city) {
    return JsonProblem(400, absl::StrCat("city '", city, "' is not hosted by this gateway"));
  }
  if (role != "citizen" && role != "editor" && role != "moderator" && role != "admin") {
    return JsonProblem(
        400, absl::StrCat("role must be citizen, editor, moderator or admin, got '", role, "'"));
  }
  // An app developer may sign in as several people ("subject": "anna" -> "dev-anna"); the
  // prefix keeps development accounts apart from any real one.
  const std::string subject = text("subject");
  if (subject.size() > 40 || !std::all_of(subject.begin(), subject.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      })) {
    return JsonProblem(400, "subject must be at most 40 of a-z, 0-9 and '-'");
  }
  auth::MintRequest mint;
  mint.subject = "dev-" + (subject.empty() ? role : subject);
  mint.roles_by_city[city] = {role};
  mint.roles_claim = roles_claim_;
  mint.now = absl::Now();
  mint.ttl = absl::Hours(8);
  absl::StatusOr<std::string> token = signer_->Mint(mint);
  if (!token.ok()) return JsonProblem(500, std::string(token.status().message()));
  Log(LogLevel::kInfo, "console development token minted",
      {{"city", city}, {"role", role}, {"subject", mint.subject}});
  return JsonBody(200, absl::StrCat("{\"token\":", civitas::JsonQuote(*token), ",\"subject\":",
                                    civitas::JsonQuote(mint.subject), ",\"development\":true}"));
}

}  // namespace civitas::gateway
