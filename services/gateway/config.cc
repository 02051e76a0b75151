#include "services/gateway/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "civitas/json.h"
#include "services/auth/jwks_fetcher.h"
#include "services/bundle/bundle.h"

namespace civitas::gateway {
namespace {

// Thrown inside the parser only; ParseConfig turns it into a Status.
struct ConfigError {
  std::string message;
};

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void Fail(const YAML::Node& node, const std::string& path,
                         const std::string& what) const {
    int line = node.Mark().line >= 0 ? node.Mark().line + 1 : 0;
    throw ConfigError{absl::StrCat(source_, ":", line, ": ", path, ": ", what)};
  }

  // Checks that `node` is a map whose keys are all in `allowed`.
  void ExpectMap(const YAML::Node& node, const std::string& path,
                 const std::set<std::string>& allowed) const {
    if (!node.IsMap()) Fail(node, path, "must be a mapping (key: value)");
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) {
        Fail(kv.first, path.empty() ? key : path + "." + key,
             absl::StrCat("unknown key; expected one of: ", absl::StrJoin(allowed, ", ")));
      }
    }
  }

  std::string String(const YAML::Node& node, const std::string& path) const {
    if (!node.IsScalar()) Fail(node, path, "must be a string");
    return node.Scalar();
  }

  bool Bool(const YAML::Node& node, const std::string& path) const {
    std::string v = absl::AsciiStrToLower(String(node, path));
    if (v == "true" || v == "yes" || v == "on") return true;
    if (v == "false" || v == "no" || v == "off") return false;
    Fail(node, path, absl::StrCat("must be true or false, got '", v, "'"));
  }

  uint64_t Uint(const YAML::Node& node, const std::string& path, uint64_t min, uint64_t max) const {
    std::string v = String(node, path);
    uint64_t out = 0;
    if (!absl::SimpleAtoi(v, &out) || out < min || out > max) {
      Fail(node, path,
           absl::StrCat("must be a whole number from ", min, " to ", max, ", got '", v, "'"));
    }
    return out;
  }

  std::string source_;
};

bool IsCityId(const std::string& id) {
  if (id.empty() || id.size() > 63) return false;
  for (char c : id) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) return false;
  }
  return true;
}

std::vector<std::string> StringList(const Parser& p, const YAML::Node& node,
                                    const std::string& path, const std::string& what) {
  if (!node.IsSequence()) p.Fail(node, path, "must be a list of " + what);
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string v = p.String(node[i], absl::StrCat(path, "[", i, "]"));
    if (v.empty()) p.Fail(node[i], absl::StrCat(path, "[", i, "]"), "must not be empty");
    out.push_back(std::move(v));
  }
  return out;
}

// A module's config is free-form YAML handed to the module as JSON.
void AppendJsonString(const std::string& s, std::string* out) {
  out->append(civitas::JsonQuote(std::string_view(s.data(), s.size())));
}

void YamlToJson(const YAML::Node& node, std::string* out) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out->append("null");
      return;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      double number;
      // Quoted scalars stay strings; plain ones that read as numbers or booleans are typed.
      if (node.Tag() != "!") {
        if (s == "true" || s == "false") {
          out->append(s);
          return;
        }
        if (absl::SimpleAtod(s, &number) && !s.empty() &&
            s.find_first_not_of("0123456789+-.eE") == std::string::npos) {
          out->append(s);
          return;
        }
      }
      AppendJsonString(s, out);
      return;
    }
    case YAML::NodeType::Sequence: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : node) {
        if (!first) out->push_back(',');
        first = false;
        YamlToJson(item, out);
      }
      out->push_back(']');
      return;
    }
    case YAML::NodeType::Map: {
      out->push_back('{');
      bool first = true;
      for (const auto& kv : node) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(kv.first.as<std::string>(), out);
        out->push_back(':');
        YamlToJson(kv.second, out);
      }
      out->push_back('}');
      return;
    }
  }
}

// True for an https URL (http only to the machine itself) whose origin cannot add directives to
// the console's Content-Security-Policy, where it is written.
bool SafeConsoleUrl(const std::string& url, bool allow_query) {
  const bool https = absl::StartsWith(url, "https://");
  const bool loopback = absl::StartsWith(url, "http://127.0.0.1") ||
                        absl::StartsWith(url, "http://localhost") ||
                        absl::StartsWith(url, "http://[::1]");
  if (!https && !loopback) return false;
  const size_t host_start = url.find("://") + 3;
  const size_t host_end = std::min(url.find('/', host_start), url.size());
  if (host_end <= host_start) return false;
  if (url.find_first_of("?# \"\'<>;,\\{}", host_start) < host_end) return false;
  return url.find_first_of(allow_query ? " \"\'<>\\" : "?# \"\'<>;,\\", host_start) ==
         std::string::npos;
}

// A city's `console:` block: where its staff sign in, which map tiles the console shows.
void ParseConsole(const Parser& p, const YAML::Node& n, const std::string& path, CityConfig* city) {
  p.ExpectMap(n, path,
              {"oidc_issuer", "oidc_client_id", "oidc_scope", "map_tile_url", "map_attribution"});
  ConsoleConfig& c = city->console;
  if (n["oidc_issuer"]) c.oidc_issuer = p.String(n["oidc_issuer"], path + ".oidc_issuer");
  if (n["oidc_client_id"]) {
    c.oidc_client_id = p.String(n["oidc_client_id"], path + ".oidc_client_id");
  }
  if (n["oidc_scope"]) c.oidc_scope = p.String(n["oidc_scope"], path + ".oidc_scope");
  if (n["map_tile_url"]) c.map_tile_url = p.String(n["map_tile_url"], path + ".map_tile_url");
  if (n["map_attribution"]) {
    c.map_attribution = p.String(n["map_attribution"], path + ".map_attribution");
  }
  if (!c.map_tile_url.empty()) {
    if (!SafeConsoleUrl(c.map_tile_url, true)) {
      p.Fail(n["map_tile_url"], path + ".map_tile_url",
             absl::StrCat("must be an https URL (http only on loopback) with a plain host, got '",
                          c.map_tile_url, "'"));
    }
    for (const char* part : {"{z}", "{x}", "{y}"}) {
      if (c.map_tile_url.find(part) == std::string::npos) {
        p.Fail(n["map_tile_url"], path + ".map_tile_url",
               absl::StrCat("must contain {z}, {x} and {y}, got '", c.map_tile_url, "'"));
        break;
      }
    }
  }
  if (c.map_attribution.size() > 200) {
    p.Fail(n["map_attribution"], path + ".map_attribution", "must be at most 200 characters");
  }
  while (absl::EndsWith(c.oidc_issuer, "/")) c.oidc_issuer.pop_back();
  if (c.oidc_issuer.empty() != c.oidc_client_id.empty()) {
    p.Fail(n, path, "needs both oidc_issuer and oidc_client_id (or neither)");
  }
  if (c.oidc_issuer.empty()) return;
  // Tokens travel through this URL: plain http only to the machine itself (development).
  if (!SafeConsoleUrl(c.oidc_issuer, false)) {
    p.Fail(n["oidc_issuer"], path + ".oidc_issuer",
           absl::StrCat("must be an https URL without query or fragment (http only on "
                        "loopback), got '",
                        c.oidc_issuer, "'"));
  }
  if (c.oidc_scope.find("openid") == std::string::npos) {
    p.Fail(n["oidc_scope"], path + ".oidc_scope", "must include 'openid'");
  }
}

// An operator's https endpoint for a push provider: a plain origin (the gateway appends the
// provider's paths), trailing slashes dropped.
std::string ProviderEndpoint(const Parser& p, const YAML::Node& n, const std::string& path) {
  std::string url = p.String(n, path);
  while (absl::EndsWith(url, "/")) url.pop_back();
  const bool https = absl::StartsWith(url, "https://") && url.size() > 8;
  if (!https || url.find_first_of("@?# \"'<>\\", 8) != std::string::npos ||
      url.find('/', 8) != std::string::npos) {
    p.Fail(
        n, path,
        absl::StrCat("must be an https URL with a host only (no path, user info or query), got '",
                     url, "'"));
  }
  return url;
}

// `push.fcm:` and `push.apns:`, each all or nothing.
void ParsePushProviders(const Parser& p, const YAML::Node& n, const std::string& path,
                        CityPushConfig* c) {
  auto required = [&](const YAML::Node& block, const std::string& bpath, const char* key) {
    if (!block[key]) p.Fail(block, bpath, absl::StrCat("needs '", key, "'"));
    const std::string v = p.String(block[key], absl::StrCat(bpath, ".", key));
    if (v.empty()) p.Fail(block[key], absl::StrCat(bpath, ".", key), "must not be empty");
    return v;
  };
  auto plain = [&](const YAML::Node& node, const std::string& vpath, const std::string& v,
                   size_t min, size_t max, const char* extra) {
    bool ok = v.size() >= min && v.size() <= max;
    for (char ch : v) ok &= absl::ascii_isalnum(ch) || std::strchr(extra, ch) != nullptr;
    if (!ok) {
      const std::string count =
          min == max ? absl::StrCat("exactly ", min) : absl::StrCat(min, " to ", max);
      p.Fail(node, vpath,
             absl::StrCat("must be ", count, " letters or digits",
                          *extra ? absl::StrCat(" or '", extra, "'") : "", ", got '", v, "'"));
    }
  };
  if (const YAML::Node f = n["fcm"]) {
    const std::string fpath = path + ".fcm";
    p.ExpectMap(f, fpath, {"project_id", "service_account_file", "endpoint", "ca_file"});
    FcmConfig fcm;
    fcm.project_id = required(f, fpath, "project_id");
    plain(f["project_id"], fpath + ".project_id", fcm.project_id, 1, 64, "-");
    fcm.service_account_file = required(f, fpath, "service_account_file");
    if (f["endpoint"]) fcm.endpoint = ProviderEndpoint(p, f["endpoint"], fpath + ".endpoint");
    if (f["ca_file"]) fcm.ca_file = p.String(f["ca_file"], fpath + ".ca_file");
    c->fcm = std::move(fcm);
  }
  if (const YAML::Node a = n["apns"]) {
    const std::string apath = path + ".apns";
    p.ExpectMap(a, apath, {"team_id", "key_id", "key_file", "topic", "endpoint", "ca_file"});
    ApnsConfig apns;
    apns.team_id = required(a, apath, "team_id");
    plain(a["team_id"], apath + ".team_id", apns.team_id, 10, 10, "");
    apns.key_id = required(a, apath, "key_id");
    plain(a["key_id"], apath + ".key_id", apns.key_id, 10, 10, "");
    apns.key_file = required(a, apath, "key_file");
    apns.topic = required(a, apath, "topic");
    plain(a["topic"], apath + ".topic", apns.topic, 1, 200, ".-_");
    if (a["endpoint"]) apns.endpoint = ProviderEndpoint(p, a["endpoint"], apath + ".endpoint");
    if (a["ca_file"]) apns.ca_file = p.String(a["ca_file"], apath + ".ca_file");
    c->apns = std::move(apns);
  }
}

// A city's `push:` block.
void ParsePush(const Parser& p, const YAML::Node& n, const std::string& path, CityConfig* city) {
  p.ExpectMap(
      n, path,
      {"topics", "allowed_hosts", "allow_loopback", "vapid_subject", "ca_file", "fcm", "apns"});
  CityPushConfig& c = city->push;
  if (const YAML::Node topics = n["topics"]) {
    if (!topics.IsSequence()) p.Fail(topics, path + ".topics", "must be a list of {id, titles}");
    std::set<std::string> ids;
    for (size_t t = 0; t < topics.size(); ++t) {
      const std::string tpath = absl::StrCat(path, ".topics[", t, "]");
      p.ExpectMap(topics[t], tpath, {"id", "titles"});
      if (!topics[t]["id"] || !topics[t]["titles"])
        p.Fail(topics[t], tpath, "needs an id and titles");
      PushTopic topic;
      topic.id = p.String(topics[t]["id"], tpath + ".id");
      bool id_ok = !topic.id.empty() && topic.id.size() <= 64;
      for (char ch : topic.id)
        id_ok &= absl::ascii_islower(ch) || absl::ascii_isdigit(ch) || ch == '-';
      if (!id_ok) {
        p.Fail(topics[t]["id"], tpath + ".id",
               absl::StrCat("must match [a-z0-9-]{1,64}, got '", topic.id, "'"));
      }
      if (!ids.insert(topic.id).second) {
        p.Fail(topics[t]["id"], tpath + ".id",
               absl::StrCat("topic '", topic.id, "' is listed twice"));
      }
      const YAML::Node titles = topics[t]["titles"];
      if (!titles.IsMap() || titles.size() == 0) {
        p.Fail(titles, tpath + ".titles", "must map languages to titles, e.g. {de: Abfall}");
      }
      for (const auto& kv : titles) {
        const std::string lang = kv.first.as<std::string>();
        const std::string title = p.String(kv.second, tpath + ".titles." + lang);
        if (lang.empty() || lang.size() > 35 || title.empty() || title.size() > 200) {
          p.Fail(kv.first, tpath + ".titles." + lang,
                 "needs a language of at most 35 characters and a title of 1 to 200 bytes");
        }
        topic.titles[lang] = title;
      }
      c.topics.push_back(std::move(topic));
    }
  }
  if (n["allowed_hosts"]) {
    c.allowed_hosts = StringList(p, n["allowed_hosts"], path + ".allowed_hosts", "host names");
    for (std::string& h : c.allowed_hosts) h = absl::AsciiStrToLower(h);
  }
  if (n["allow_loopback"]) c.allow_loopback = p.Bool(n["allow_loopback"], path + ".allow_loopback");
  if (n["vapid_subject"]) {
    c.vapid_subject = p.String(n["vapid_subject"], path + ".vapid_subject");
    if (!absl::StartsWith(c.vapid_subject, "mailto:") &&
        !absl::StartsWith(c.vapid_subject, "https://")) {
      p.Fail(
          n["vapid_subject"], path + ".vapid_subject",
          absl::StrCat("must be a mailto: or https: URI (RFC 8292), got '", c.vapid_subject, "'"));
    }
  }
  if (n["ca_file"]) c.ca_file = p.String(n["ca_file"], path + ".ca_file");
  ParsePushProviders(p, n, path, &c);
}

// One entry of `cities:`. `city_ids` and `host_owner` catch duplicates across entries.
CityConfig ParseCity(const Parser& p, const YAML::Node& n, const std::string& path,
                     std::set<std::string>* city_ids,
                     std::map<std::string, std::string>* host_owner) {
  p.ExpectMap(
      n, path,
      {"id", "display_name", "default_language", "time_zone", "hosts", "modules", "seed_file",
       "trusted_publishers", "cors_origins", "auth", "registries", "console", "push"});
  CityConfig city;
  if (!n["id"]) p.Fail(n, path + ".id", "is required");
  city.id = p.String(n["id"], path + ".id");
  if (!IsCityId(city.id)) {
    p.Fail(n["id"], path + ".id", absl::StrCat("must match [a-z0-9-]{1,63}, got '", city.id, "'"));
  }
  if (!city_ids->insert(city.id).second) {
    p.Fail(n["id"], path + ".id", absl::StrCat("city '", city.id, "' is listed twice"));
  }
  city.display_name =
      n["display_name"] ? p.String(n["display_name"], path + ".display_name") : city.id;
  if (n["default_language"]) {
    city.default_language = p.String(n["default_language"], path + ".default_language");
  }
  if (n["time_zone"]) city.time_zone = p.String(n["time_zone"], path + ".time_zone");
  if (n["seed_file"]) city.seed_file = p.String(n["seed_file"], path + ".seed_file");
  if (const YAML::Node origins = n["cors_origins"]) {
    if (!origins.IsSequence()) {
      p.Fail(origins, path + ".cors_origins", "must be a list of origins like https://app.example");
    }
    for (size_t o = 0; o < origins.size(); ++o) {
      const std::string where = absl::StrCat(path, ".cors_origins[", o, "]");
      std::string origin = p.String(origins[o], where);
      const bool scheme =
          absl::StartsWith(origin, "https://") || absl::StartsWith(origin, "http://");
      if (origin != "*" && (!scheme || absl::StrContains(origin.substr(8), "/"))) {
        p.Fail(origins[o], where,
               absl::StrCat("must be '*' or an origin like https://app.example (scheme and host, "
                            "no path), got '",
                            origin, "'"));
      }
      city.cors_origins.push_back(origin);
    }
  }
  if (const YAML::Node console = n["console"]) ParseConsole(p, console, path + ".console", &city);
  if (const YAML::Node push = n["push"]) ParsePush(p, push, path + ".push", &city);
  if (const YAML::Node hosts = n["hosts"]) {
    if (!hosts.IsSequence()) p.Fail(hosts, path + ".hosts", "must be a list of host names");
    for (size_t h = 0; h < hosts.size(); ++h) {
      std::string host =
          absl::AsciiStrToLower(p.String(hosts[h], absl::StrCat(path, ".hosts[", h, "]")));
      auto [it, fresh] = host_owner->emplace(host, city.id);
      if (!fresh) {
        p.Fail(hosts[h], absl::StrCat(path, ".hosts[", h, "]"),
               absl::StrCat("host '", host, "' already selects city '", it->second, "'"));
      }
      city.hosts.push_back(host);
    }
  }
  if (const YAML::Node trusted = n["trusted_publishers"]) {
    if (!trusted.IsSequence()) {
      p.Fail(trusted, path + ".trusted_publishers", "must be a list of {name, key}");
    }
    for (size_t t = 0; t < trusted.size(); ++t) {
      const std::string tpath = absl::StrCat(path, ".trusted_publishers[", t, "]");
      p.ExpectMap(trusted[t], tpath, {"name", "key", "revoked"});
      TrustedPublisher pub;
      if (!trusted[t]["name"] || !trusted[t]["key"]) {
        p.Fail(trusted[t], tpath, "needs a name and a key");
      }
      pub.name = p.String(trusted[t]["name"], tpath + ".name");
      pub.public_key = p.String(trusted[t]["key"], tpath + ".key");
      std::string raw;
      if (!absl::Base64Unescape(pub.public_key, &raw) || raw.size() != 32) {
        p.Fail(trusted[t]["key"], tpath + ".key",
               "must be the base64 of a 32-byte Ed25519 public key (civitasctl keys generate)");
      }
      if (trusted[t]["revoked"]) pub.revoked = p.Bool(trusted[t]["revoked"], tpath + ".revoked");
      city.trusted_publishers.push_back(std::move(pub));
    }
  }
  if (const YAML::Node a = n["auth"]) {
    p.ExpectMap(a, path + ".auth", {"issuers", "audiences", "accept_citizens_of"});
    if (a["issuers"]) {
      city.auth.issuers = StringList(p, a["issuers"], path + ".auth.issuers", "issuer URLs");
    }
    if (a["audiences"]) {
      city.auth.audiences = StringList(p, a["audiences"], path + ".auth.audiences", "audiences");
    }
    if (a["accept_citizens_of"]) {
      city.auth.accept_citizens_of =
          StringList(p, a["accept_citizens_of"], path + ".auth.accept_citizens_of", "city ids");
      for (size_t i = 0; i < city.auth.accept_citizens_of.size(); ++i) {
        const std::string& other = city.auth.accept_citizens_of[i];
        if (!IsCityId(other) || other == city.id) {
          p.Fail(a["accept_citizens_of"][i],
                 absl::StrCat(path, ".auth.accept_citizens_of[", i, "]"),
                 absl::StrCat("must be the id of another city, got '", other, "'"));
        }
      }
    }
  }
  if (const YAML::Node regs = n["registries"]) {
    if (!regs.IsSequence()) {
      p.Fail(regs, path + ".registries", "must be a list of {name, target, ca_file}");
    }
    std::set<std::string> names;
    for (size_t r = 0; r < regs.size(); ++r) {
      const std::string rpath = absl::StrCat(path, ".registries[", r, "]");
      p.ExpectMap(regs[r], rpath, {"name", "target", "ca_file"});
      if (!regs[r]["name"] || !regs[r]["target"])
        p.Fail(regs[r], rpath, "needs a name and a target");
      RegistryEndpoint reg;
      reg.name = p.String(regs[r]["name"], rpath + ".name");
      reg.target = p.String(regs[r]["target"], rpath + ".target");
      if (reg.name.empty() || !names.insert(reg.name).second) {
        p.Fail(regs[r]["name"], rpath + ".name", "must be a unique, non-empty name");
      }
      if (reg.target.rfind(':') == std::string::npos || absl::StartsWith(reg.target, "unix:")) {
        p.Fail(regs[r]["target"], rpath + ".target",
               "must be HOST:PORT, e.g. registry.ruhr.example:443");
      }
      if (regs[r]["ca_file"]) reg.ca_file = p.String(regs[r]["ca_file"], rpath + ".ca_file");
      city.registries.push_back(std::move(reg));
    }
  }
  if (const YAML::Node mods = n["modules"]) {
    if (!mods.IsSequence()) p.Fail(mods, path + ".modules", "must be a list of modules");
    std::set<std::string> seen;
    for (size_t m = 0; m < mods.size(); ++m) {
      const std::string mpath = absl::StrCat(path, ".modules[", m, "]");
      p.ExpectMap(mods[m], mpath, {"id", "path", "config"});
      ModuleConfig mod;
      mod.line = mods[m].Mark().line + 1;
      if (!mods[m]["id"]) p.Fail(mods[m], mpath + ".id", "is required");
      mod.id = p.String(mods[m]["id"], mpath + ".id");
      if (!bundle::IsModuleId(mod.id)) {
        p.Fail(mods[m]["id"], mpath + ".id",
               absl::StrCat("must match ", bundle::kModuleIdPattern, ", got '", mod.id, "'"));
      }
      if (!seen.insert(mod.id).second) {
        p.Fail(mods[m]["id"], mpath + ".id",
               absl::StrCat("module '", mod.id, "' is enabled twice for this city"));
      }
      if (mods[m]["path"]) mod.path = p.String(mods[m]["path"], mpath + ".path");
      if (const YAML::Node cfg = mods[m]["config"]) {
        if (!cfg.IsMap()) p.Fail(cfg, mpath + ".config", "must be a mapping");
        YamlToJson(cfg, &mod.config_json);
      } else {
        mod.config_json = "{}";
      }
      city.modules.push_back(std::move(mod));
    }
  }
  return city;
}

// {per_minute: N, burst: M}; per_minute 0 turns the limit off.
RateLimit ParseRateLimit(const Parser& p, const YAML::Node& node, const std::string& path) {
  p.ExpectMap(node, path, {"per_minute", "burst"});
  RateLimit r;
  if (!node["per_minute"]) p.Fail(node, path, "needs per_minute (0 turns the limit off)");
  r.per_minute =
      static_cast<uint32_t>(p.Uint(node["per_minute"], path + ".per_minute", 0, 1u << 24));
  if (node["burst"]) {
    r.burst = static_cast<uint32_t>(p.Uint(node["burst"], path + ".burst", 1, 1u << 24));
  }
  return r;
}

// limits.write_rate: {per_subject, anonymous_per_peer, per_peer, methods: {"/pkg.S/M": {...}},
// client_ip_header, max_buckets}.
void ParseWriteRate(const Parser& p, const YAML::Node& w, WriteRateConfig* out) {
  const std::string path = "limits.write_rate";
  p.ExpectMap(w, path,
              {"per_subject", "anonymous_per_peer", "anonymous_mib_per_peer_per_day", "per_peer",
               "methods", "client_ip_header", "max_buckets", "exempt_staff"});
  if (w["exempt_staff"]) out->exempt_staff = p.Bool(w["exempt_staff"], path + ".exempt_staff");
  if (w["per_subject"])
    out->per_subject = ParseRateLimit(p, w["per_subject"], path + ".per_subject");
  if (w["anonymous_per_peer"]) {
    out->anonymous_per_peer =
        ParseRateLimit(p, w["anonymous_per_peer"], path + ".anonymous_per_peer");
  }
  if (w["per_peer"]) out->per_peer = ParseRateLimit(p, w["per_peer"], path + ".per_peer");
  if (w["anonymous_mib_per_peer_per_day"]) {
    out->anonymous_bytes_per_peer_per_day =
        p.Uint(w["anonymous_mib_per_peer_per_day"], path + ".anonymous_mib_per_peer_per_day", 0,
               1u << 20)
        << 20;
  }
  if (w["client_ip_header"]) {
    out->client_ip_header =
        absl::AsciiStrToLower(p.String(w["client_ip_header"], path + ".client_ip_header"));
  }
  if (w["max_buckets"]) {
    out->max_buckets =
        static_cast<uint32_t>(p.Uint(w["max_buckets"], path + ".max_buckets", 16, 1u << 26));
  }
  if (const YAML::Node m = w["methods"]) {
    if (!m.IsMap()) p.Fail(m, path + ".methods", "must map method paths to limits");
    for (const auto& entry : m) {
      const std::string method = entry.first.as<std::string>();
      const std::string mpath = path + ".methods." + method;
      if (method.size() < 4 || method[0] != '/' || method.find('/', 1) == std::string::npos) {
        p.Fail(entry.first, mpath, "must be a full method path, e.g. /pkg.Service/Method");
      }
      p.ExpectMap(entry.second, mpath, {"per_subject", "anonymous_per_peer", "per_peer"});
      WriteRateConfig::Override& o = out->methods[method];
      if (entry.second["per_subject"]) {
        o.per_subject = ParseRateLimit(p, entry.second["per_subject"], mpath + ".per_subject");
      }
      if (entry.second["anonymous_per_peer"]) {
        o.anonymous_per_peer =
            ParseRateLimit(p, entry.second["anonymous_per_peer"], mpath + ".anonymous_per_peer");
      }
      if (entry.second["per_peer"]) {
        o.per_peer = ParseRateLimit(p, entry.second["per_peer"], mpath + ".per_peer");
      }
    }
  }
}

GatewayConfig ParseRoot(const Parser& p, const YAML::Node& root) {
  GatewayConfig c;
  p.ExpectMap(root, "",
              {"listen", "http_listen", "metrics_listen", "data_dir", "module_dir", "storage",
               "limits", "auth", "admin", "logging", "backup_dir", "push", "cities"});
  if (const YAML::Node push = root["push"]) {
    p.ExpectMap(
        push, "push",
        {"web_push_connections", "fcm_connections", "apns_connections", "retry_base_seconds",
         "retry_max_seconds", "max_attempts", "request_timeout_seconds"});
    auto u32 = [&](const char* key, uint32_t* field, uint64_t min, uint64_t max) {
      if (push[key])
        *field = static_cast<uint32_t>(p.Uint(push[key], absl::StrCat("push.", key), min, max));
    };
    u32("web_push_connections", &c.push.web_push_connections, 1, 256);
    u32("fcm_connections", &c.push.fcm_connections, 1, 256);
    u32("apns_connections", &c.push.apns_connections, 1, 256);
    u32("retry_base_seconds", &c.push.retry_base_seconds, 1, 86400);
    u32("retry_max_seconds", &c.push.retry_max_seconds, 1, 7 * 86400);
    u32("max_attempts", &c.push.max_attempts, 1, 100);
    u32("request_timeout_seconds", &c.push.request_timeout_seconds, 1, 300);
  }
  if (root["listen"]) {
    c.listen = p.String(root["listen"], "listen");
    if (c.listen.rfind(':') == std::string::npos) {
      p.Fail(root["listen"], "listen", "must be HOST:PORT, e.g. 127.0.0.1:50051");
    }
  }
  if (root["http_listen"]) {
    c.http_listen = p.String(root["http_listen"], "http_listen");
    if (c.http_listen.rfind(':') == std::string::npos) {
      p.Fail(root["http_listen"], "http_listen", "must be HOST:PORT, e.g. 127.0.0.1:8080");
    }
  }
  if (root["metrics_listen"]) {
    c.metrics_listen = p.String(root["metrics_listen"], "metrics_listen");
    if (!c.metrics_listen.empty() && c.metrics_listen.rfind(':') == std::string::npos) {
      p.Fail(root["metrics_listen"], "metrics_listen",
             "must be HOST:PORT, e.g. 127.0.0.1:9090, or \"\" for no metrics listener");
    }
  }
  if (const YAML::Node l = root["logging"]) {
    p.ExpectMap(l, "logging", {"level", "access_log"});
    if (l["level"]) {
      c.logging.level = p.String(l["level"], "logging.level");
      if (c.logging.level != "debug" && c.logging.level != "info" && c.logging.level != "warning" &&
          c.logging.level != "error") {
        p.Fail(l["level"], "logging.level",
               "must be debug, info, warning or error, got '" + c.logging.level + "'");
      }
    }
    if (l["access_log"]) c.logging.access_log = p.Bool(l["access_log"], "logging.access_log");
  }
  if (root["data_dir"]) c.data_dir = p.String(root["data_dir"], "data_dir");
  if (root["module_dir"]) c.module_dir = p.String(root["module_dir"], "module_dir");
  if (root["backup_dir"]) c.backup_dir = p.String(root["backup_dir"], "backup_dir");

  if (const YAML::Node s = root["storage"]) {
    p.ExpectMap(s, "storage",
                {"durability", "block_cache_mb", "write_buffer_mb", "city_quota_mb",
                 "max_open_files_per_city"});
    if (s["durability"]) {
      std::string d = p.String(s["durability"], "storage.durability");
      if (d == "sync") {
        c.storage.durability = Durability::kSync;
      } else if (d == "async") {
        c.storage.durability = Durability::kAsync;
      } else {
        p.Fail(s["durability"], "storage.durability",
               absl::StrCat("must be 'sync' or 'async', got '", d, "'"));
      }
    }
    if (s["block_cache_mb"]) {
      c.storage.block_cache_bytes =
          p.Uint(s["block_cache_mb"], "storage.block_cache_mb", 1, 1 << 20) << 20;
    }
    if (s["write_buffer_mb"]) {
      c.storage.write_buffer_bytes =
          p.Uint(s["write_buffer_mb"], "storage.write_buffer_mb", 1, 1 << 20) << 20;
    }
    if (s["city_quota_mb"]) {
      c.storage.city_quota_bytes =
          p.Uint(s["city_quota_mb"], "storage.city_quota_mb", 0, 1ull << 30) << 20;
    }
    if (s["max_open_files_per_city"]) {
      c.storage.max_open_files_per_city = static_cast<uint32_t>(
          p.Uint(s["max_open_files_per_city"], "storage.max_open_files_per_city", 0, 1 << 20));
      if (c.storage.max_open_files_per_city > 0 && c.storage.max_open_files_per_city < 16) {
        p.Fail(s["max_open_files_per_city"], "storage.max_open_files_per_city",
               absl::StrCat("must be 0 (chosen at start) or from 16 to 1048576, got ",
                            c.storage.max_open_files_per_city));
      }
    }
  }

  if (const YAML::Node l = root["limits"]) {
    p.ExpectMap(l, "limits",
                {"max_request_bytes",
                 "max_response_bytes",
                 "handler_threads",
                 "handler_queue",
                 "completion_queues",
                 "drain_seconds",
                 "stream_buffer_messages",
                 "grpc_max_concurrent_streams",
                 "grpc_max_metadata_bytes",
                 "grpc_memory_mb",
                 "grpc_handshake_timeout_seconds",
                 "max_follows_per_connection",
                 "max_follows_per_address",
                 "max_follows_per_city",
                 "http_max_connections",
                 "http_max_header_bytes",
                 "http_max_url_bytes",
                 "http_body_buffer_mb",
                 "http_header_timeout_seconds",
                 "http_body_timeout_seconds",
                 "http_cache_ttl_ms",
                 "http_cache_mb",
                 "write_rate"});
    auto u32 = [&](const char* key, uint32_t* field, uint64_t min, uint64_t max) {
      if (l[key])
        *field = static_cast<uint32_t>(p.Uint(l[key], absl::StrCat("limits.", key), min, max));
    };
    u32("max_request_bytes", &c.limits.max_request_bytes, 1024, 1u << 30);
    u32("max_response_bytes", &c.limits.max_response_bytes, 1024, 1u << 30);
    u32("handler_threads", &c.limits.handler_threads, 0, 1024);
    u32("handler_queue", &c.limits.handler_queue, 1, 1u << 20);
    u32("completion_queues", &c.limits.completion_queues, 0, 64);
    u32("drain_seconds", &c.limits.drain_seconds, 0, 3600);
    u32("stream_buffer_messages", &c.limits.stream_buffer_messages, 1, 1u << 20);
    u32("grpc_max_concurrent_streams", &c.limits.grpc_max_concurrent_streams, 1, 10000);
    u32("grpc_max_metadata_bytes", &c.limits.grpc_max_metadata_bytes, 1024, 1u << 20);
    u32("grpc_memory_mb", &c.limits.grpc_memory_mb, 16, 1u << 20);
    u32("grpc_handshake_timeout_seconds", &c.limits.grpc_handshake_timeout_seconds, 1, 600);
    u32("max_follows_per_connection", &c.limits.max_follows_per_connection, 1, 10000);
    u32("max_follows_per_address", &c.limits.max_follows_per_address, 0, 1u << 20);
    u32("max_follows_per_city", &c.limits.max_follows_per_city, 1, 1u << 20);
    u32("http_max_connections", &c.limits.http_max_connections, 1, 1u << 20);
    u32("http_max_header_bytes", &c.limits.http_max_header_bytes, 1024, 1u << 20);
    u32("http_max_url_bytes", &c.limits.http_max_url_bytes, 256, 1u << 20);
    u32("http_body_buffer_mb", &c.limits.http_body_buffer_mb, 1, 1u << 20);
    u32("http_header_timeout_seconds", &c.limits.http_header_timeout_seconds, 1, 3600);
    u32("http_body_timeout_seconds", &c.limits.http_body_timeout_seconds, 1, 3600);
    u32("http_cache_ttl_ms", &c.limits.http_cache_ttl_ms, 0, 60000);
    u32("http_cache_mb", &c.limits.http_cache_mb, 1, 1u << 16);
    if (c.limits.max_request_bytes > (uint64_t{c.limits.http_body_buffer_mb} << 20)) {
      p.Fail(l, "limits.http_body_buffer_mb",
             absl::StrCat("must hold at least one request of limits.max_request_bytes (",
                          c.limits.max_request_bytes, " bytes), got ", c.limits.http_body_buffer_mb,
                          " MiB"));
    }
    if (const YAML::Node w = l["write_rate"]) ParseWriteRate(p, w, &c.limits.write_rate);
  }

  if (const YAML::Node a = root["auth"]) {
    p.ExpectMap(a, "auth",
                {"jwks_file", "issuer", "audience", "roles_claim", "allow_hs256",
                 "hs256_secret_file", "leeway_seconds", "max_token_lifetime_seconds",
                 "operator_issuers", "oidc_issuers", "oidc_ca_file", "oidc_refetch_seconds"});
    if (a["jwks_file"]) c.auth.jwks_file = p.String(a["jwks_file"], "auth.jwks_file");
    if (a["issuer"]) c.auth.issuer = p.String(a["issuer"], "auth.issuer");
    if (a["audience"]) c.auth.audience = p.String(a["audience"], "auth.audience");
    if (a["roles_claim"]) c.auth.roles_claim = p.String(a["roles_claim"], "auth.roles_claim");
    if (a["allow_hs256"]) c.auth.allow_hs256 = p.Bool(a["allow_hs256"], "auth.allow_hs256");
    if (a["hs256_secret_file"]) {
      c.auth.hs256_secret_file = p.String(a["hs256_secret_file"], "auth.hs256_secret_file");
    }
    if (a["leeway_seconds"]) {
      c.auth.leeway_seconds =
          static_cast<uint32_t>(p.Uint(a["leeway_seconds"], "auth.leeway_seconds", 0, 3600));
    }
    if (a["max_token_lifetime_seconds"]) {
      c.auth.max_token_lifetime_seconds = static_cast<uint32_t>(
          p.Uint(a["max_token_lifetime_seconds"], "auth.max_token_lifetime_seconds", 60, 2592000));
    }
    if (a["operator_issuers"]) {
      c.auth.operator_issuers =
          StringList(p, a["operator_issuers"], "auth.operator_issuers", "issuer URLs");
    }
    if (a["oidc_issuers"]) {
      c.auth.oidc_issuers = StringList(p, a["oidc_issuers"], "auth.oidc_issuers", "issuer URLs");
      for (size_t i = 0; i < c.auth.oidc_issuers.size(); ++i) {
        if (absl::Status s = auth::CheckKeyUrl(c.auth.oidc_issuers[i]); !s.ok()) {
          p.Fail(a["oidc_issuers"][i], "auth.oidc_issuers", std::string(s.message()));
        }
      }
    }
    if (a["oidc_ca_file"]) c.auth.oidc_ca_file = p.String(a["oidc_ca_file"], "auth.oidc_ca_file");
    if (a["oidc_refetch_seconds"]) {
      c.auth.oidc_refetch_seconds = static_cast<uint32_t>(
          p.Uint(a["oidc_refetch_seconds"], "auth.oidc_refetch_seconds", 1, 3600));
    }
    if (c.auth.allow_hs256 && c.auth.hs256_secret_file.empty()) {
      p.Fail(a, "auth.hs256_secret_file", "is required when allow_hs256 is true");
    }
    if (!c.auth.allow_hs256 && !c.auth.hs256_secret_file.empty()) {
      p.Fail(a["hs256_secret_file"], "auth.hs256_secret_file",
             "is set but allow_hs256 is false; HS256 is for development and must be enabled "
             "explicitly");
    }
  }

  if (const YAML::Node a = root["admin"]) {
    if (a["trust_loopback"]) {
      p.Fail(a["trust_loopback"], "admin.trust_loopback",
             "was removed: a network address never grants administration. Local tools use the "
             "admin socket (admin.socket, default <data_dir>/admin.sock; civitasctl uses it by "
             "default), remote ones an admin or operator token (civitasctl --token)");
    }
    p.ExpectMap(a, "admin", {"socket", "socket_mode", "bundle_import_dir"});
    if (a["socket"]) {
      c.admin.socket = p.String(a["socket"], "admin.socket");
      if (absl::StartsWith(c.admin.socket, "unix:")) c.admin.socket = c.admin.socket.substr(5);
      if (c.admin.socket.empty()) {
        p.Fail(a["socket"], "admin.socket", "must be a file path, or 'none' for no socket");
      }
    }
    if (a["socket_mode"]) {
      const std::string mode = p.String(a["socket_mode"], "admin.socket_mode");
      if (mode == "0600" || mode == "600") {
        c.admin.socket_mode = 0600;
      } else if (mode == "0660" || mode == "660") {
        c.admin.socket_mode = 0660;
      } else {
        p.Fail(a["socket_mode"], "admin.socket_mode",
               absl::StrCat("must be \"0600\" (the gateway's user) or \"0660\" (and its group), "
                            "got '",
                            mode, "'"));
      }
    }
    if (a["bundle_import_dir"]) {
      c.admin.bundle_import_dir = p.String(a["bundle_import_dir"], "admin.bundle_import_dir");
    }
  }

  const YAML::Node cities = root["cities"];
  if (!cities || !cities.IsSequence() || cities.size() == 0) {
    p.Fail(cities ? cities : root, "cities", "must list at least one city");
  }
  std::set<std::string> city_ids;
  std::map<std::string, std::string> host_owner;
  for (size_t i = 0; i < cities.size(); ++i) {
    c.cities.push_back(
        ParseCity(p, cities[i], absl::StrCat("cities[", i, "]"), &city_ids, &host_owner));
  }
  return c;
}

}  // namespace

namespace {

// Loads YAML and runs `parse` on it; every error becomes INVALID_ARGUMENT naming file and line.
template <class Result, class Parse>
absl::StatusOr<Result> ParseYaml(const std::string& yaml_text, const std::string& source_name,
                                 Parse parse) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  Parser parser(source_name);
  try {
    return parse(parser, root);
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.message);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ":", e.mark.line + 1, ": ", e.msg));
  }
}

}  // namespace

absl::StatusOr<GatewayConfig> ParseConfig(const std::string& yaml_text,
                                          const std::string& source_name) {
  return ParseYaml<GatewayConfig>(yaml_text, source_name,
                                  [&](const Parser& p, const YAML::Node& root) {
                                    GatewayConfig config = ParseRoot(p, root);
                                    config.source = source_name;
                                    return config;
                                  });
}

absl::StatusOr<CityConfig> ParseCityConfig(const std::string& yaml_text,
                                           const std::string& source_name) {
  return ParseYaml<CityConfig>(yaml_text, source_name, [](const Parser& p, const YAML::Node& root) {
    std::set<std::string> ids;
    std::map<std::string, std::string> hosts;
    return ParseCity(p, root, "city", &ids, &hosts);
  });
}

absl::StatusOr<GatewayConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read config file '", path, "'"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  absl::StatusOr<GatewayConfig> config = ParseConfig(buffer.str(), path);
  if (!config.ok()) return config;
  // Relative paths in a config file mean: next to the config file.
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto resolve = [&](std::string* p) {
    if (!p->empty() && std::filesystem::path(*p).is_relative()) *p = (base / *p).string();
  };
  resolve(&config->data_dir);
  resolve(&config->module_dir);
  resolve(&config->backup_dir);
  resolve(&config->auth.jwks_file);
  resolve(&config->auth.oidc_ca_file);
  resolve(&config->auth.hs256_secret_file);
  if (config->admin.socket != "none") resolve(&config->admin.socket);
  resolve(&config->admin.bundle_import_dir);
  for (CityConfig& city : config->cities) {
    resolve(&city.seed_file);
    for (RegistryEndpoint& r : city.registries) resolve(&r.ca_file);
    resolve(&city.push.ca_file);
    if (city.push.fcm) {
      resolve(&city.push.fcm->service_account_file);
      resolve(&city.push.fcm->ca_file);
    }
    if (city.push.apns) {
      resolve(&city.push.apns->key_file);
      resolve(&city.push.apns->ca_file);
    }
    for (ModuleConfig& m : city.modules) resolve(&m.path);
  }
  return config;
}

}  // namespace civitas::gateway
