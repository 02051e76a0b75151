#include "services/gateway/appconfig/appconfig_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "civitas/text.h"
#include "services/bundle/bundle.h"

namespace civitas::gateway::appconfig {

namespace {

constexpr size_t kMaxLanguages = 20;
constexpr size_t kMaxNavigation = 50;
constexpr size_t kMaxTabs = 5;
constexpr size_t kMaxFeatures = 100;
constexpr size_t kMaxOnboarding = 10;
constexpr size_t kMaxUrl = 2048;

// [a-z][a-z0-9<extra>]* with 1 to `max` characters.
bool IsToken(const std::string& s, size_t max, absl::string_view extra) {
  if (s.empty() || s.size() > max || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || absl::StrContains(extra, c);
  });
}

Refusal Invalid(std::string reason, std::string field, std::string message) {
  return {grpc::StatusCode::INVALID_ARGUMENT, std::move(reason), std::move(field),
          std::move(message)};
}

// The checks, each returning the first refusal.
class Checker {
 public:
  Checker(const ac::AppConfig& config, const ModuleScreens& modules)
      : config_(config), modules_(modules) {}

  std::optional<Refusal> Run() {
    if (auto r = Text("display_name", config_.display_name(), 1, 100)) return r;
    if (auto r = Languages()) return r;
    if (auto r = TimeZone()) return r;
    if (auto r = MapArea()) return r;
    if (auto r = Theme()) return r;
    if (auto r = DeepLinkScheme()) return r;
    if (auto r = Navigation()) return r;
    if (auto r = Features()) return r;
    if (auto r = Onboarding()) return r;
    if (auto r = Legal()) return r;
    if (auto r = ContactInfo()) return r;
    return Versions();
  }

 private:
  static std::optional<Refusal> Text(const std::string& field, const std::string& value, size_t min,
                                     size_t max) {
    std::string e = CheckLength(field, value, min, max);
    if (e.empty()) return std::nullopt;
    return Invalid("APP_CONFIG_INVALID", field, std::move(e));
  }

  // Empty (if allowed) or https.
  static std::optional<Refusal> Url(const std::string& field, const std::string& value,
                                    bool required) {
    if (value.empty()) {
      if (!required) return std::nullopt;
      return Invalid("LEGAL_PAGE_MISSING", field,
                     field + " is required: German public bodies must link it in their app");
    }
    if (auto r = Text(field, value, 1, kMaxUrl)) return r;
    if (!IsHttpsUrl(value)) {
      return Invalid("URL_NOT_ALLOWED", field,
                     absl::StrCat(field, " must be an https URL with a host, got '",
                                  TruncateUtf8(value, 80), "'"));
    }
    return std::nullopt;
  }

  std::optional<Refusal> Languages() {
    if (config_.languages().empty() || config_.languages_size() > static_cast<int>(kMaxLanguages)) {
      return Invalid("APP_CONFIG_INVALID", "languages",
                     absl::StrCat("languages must list 1 to ", kMaxLanguages,
                                  " language tags, got ", config_.languages_size()));
    }
    for (int i = 0; i < config_.languages_size(); ++i) {
      const std::string& tag = config_.languages(i);
      const std::string field = absl::StrCat("languages[", i, "]");
      if (tag.size() > 35 || !IsLanguageTag(tag)) {
        return Invalid("APP_CONFIG_INVALID", field,
                       absl::StrCat(field, " '", TruncateUtf8(tag, 40),
                                    "' is not a language tag like 'de' or 'en-GB'"));
      }
      if (!languages_.insert(tag).second) {
        return Invalid("APP_CONFIG_INVALID", field,
                       absl::StrCat(field, " '", tag, "' is listed twice"));
      }
    }
    if (!languages_.count(config_.default_language())) {
      return Invalid(
          "APP_CONFIG_INVALID", "default_language",
          absl::StrCat("default_language '", TruncateUtf8(config_.default_language(), 40),
                       "' must be one of languages"));
    }
    return std::nullopt;
  }

  std::optional<Refusal> TimeZone() {
    const std::string& tz = config_.time_zone();
    if (tz.empty()) return std::nullopt;
    absl::TimeZone zone;
    if (tz.size() > 64 || !IsToken(absl::AsciiStrToLower(tz), 64, "_/+-") ||
        !absl::LoadTimeZone(tz, &zone)) {
      return Invalid("APP_CONFIG_INVALID", "time_zone",
                     absl::StrCat("time_zone '", TruncateUtf8(tz, 64),
                                  "' is not an IANA time zone like 'Europe/Berlin'"));
    }
    return std::nullopt;
  }

  std::optional<Refusal> MapArea() {
    if (!config_.has_map_area()) return std::nullopt;
    const ac::MapArea& a = config_.map_area();
    auto lat = [](double v) { return v >= -90 && v <= 90; };
    auto lng = [](double v) { return v >= -180 && v <= 180; };
    if (!lat(a.south_latitude()) || !lat(a.north_latitude()) ||
        !(a.south_latitude() < a.north_latitude())) {
      return Invalid("APP_CONFIG_INVALID", "map_area.south_latitude",
                     "map_area needs -90 <= south_latitude < north_latitude <= 90");
    }
    if (!lng(a.west_longitude()) || !lng(a.east_longitude()) ||
        !(a.west_longitude() < a.east_longitude())) {
      return Invalid("APP_CONFIG_INVALID", "map_area.west_longitude",
                     "map_area needs -180 <= west_longitude < east_longitude <= 180");
    }
    return std::nullopt;
  }

  std::optional<Refusal> Theme() {
    const ac::Theme& t = config_.theme();
    for (const auto& [field, value] :
         {std::pair<const char*, const std::string&>{"theme.primary_color", t.primary_color()},
          {"theme.accent_color", t.accent_color()},
          {"theme.background_color", t.background_color()}}) {
      if (!value.empty() && !IsColor(value)) {
        return Invalid("APP_CONFIG_INVALID", field,
                       absl::StrCat(field, " must be a colour like '#0a5c9e', got '",
                                    TruncateUtf8(value, 20), "'"));
      }
    }
    if (auto r = Url("theme.logo_url", t.logo_url(), false)) return r;
    return Url("theme.logo_dark_url", t.logo_dark_url(), false);
  }

  std::optional<Refusal> DeepLinkScheme() {
    const std::string& s = config_.deep_link_scheme();
    if (s.empty()) return std::nullopt;
    static const std::set<std::string> kReserved = {"http", "https", "javascript", "data",   "file",
                                                    "blob", "about", "vbscript",   "mailto", "tel"};
    if (!IsToken(s, 32, "+.-") || kReserved.count(s)) {
      return Invalid("APP_CONFIG_INVALID", "deep_link_scheme",
                     absl::StrCat("deep_link_scheme must be the app's own scheme "
                                  "([a-z][a-z0-9+.-]*, at most 32 characters, not a web scheme), "
                                  "got '",
                                  TruncateUtf8(s, 40), "'"));
    }
    return std::nullopt;
  }

  // Titles per language: exactly the declared languages, each within the length bounds. With
  // `optional`, an empty map is fine too.
  std::optional<Refusal> Titles(const std::string& field,
                                const google::protobuf::Map<std::string, std::string>& titles,
                                size_t min, size_t max, bool optional) {
    if (optional && titles.empty()) return std::nullopt;
    for (const std::string& lang : config_.languages()) {
      auto it = titles.find(lang);
      const std::string path = absl::StrCat(field, ".", lang);
      if (it == titles.end()) {
        return Invalid("TITLE_MISSING", path,
                       absl::StrCat(path, " is missing: every language of the configuration (",
                                    absl::StrJoin(config_.languages(), ", "), ") needs one"));
      }
      if (auto r = Text(path, it->second, min, max)) return r;
    }
    for (const auto& [lang, text] : titles) {
      if (!languages_.count(lang)) {
        const std::string path = absl::StrCat(field, ".", TruncateUtf8(lang, 40));
        return Invalid("APP_CONFIG_INVALID", path,
                       absl::StrCat(path, ": '", TruncateUtf8(lang, 40),
                                    "' is not one of languages; add it there first"));
      }
    }
    return std::nullopt;
  }

  std::optional<Refusal> Navigation() {
    if (config_.navigation_size() > static_cast<int>(kMaxNavigation)) {
      return Invalid("APP_CONFIG_INVALID", "navigation",
                     absl::StrCat("navigation has at most ", kMaxNavigation, " entries, got ",
                                  config_.navigation_size()));
    }
    std::set<std::string> ids;
    size_t tabs = 0;
    for (int i = 0; i < config_.navigation_size(); ++i) {
      const ac::NavigationEntry& e = config_.navigation(i);
      const std::string at = absl::StrCat("navigation[", i, "]");
      if (!IsToken(e.id(), 64, "_-")) {
        return Invalid("APP_CONFIG_INVALID", at + ".id",
                       absl::StrCat(at, ".id must match [a-z][a-z0-9_-]* (at most 64), got '",
                                    TruncateUtf8(e.id(), 70), "'"));
      }
      if (!ids.insert(e.id()).second) {
        return Invalid("APP_CONFIG_INVALID", at + ".id",
                       absl::StrCat(at, ".id '", e.id(), "' is used by an earlier entry"));
      }
      if (e.placement() == ac::NavigationEntry::PLACEMENT_UNSPECIFIED ||
          !ac::NavigationEntry::Placement_IsValid(e.placement())) {
        return Invalid("APP_CONFIG_INVALID", at + ".placement",
                       at + ".placement must be TAB, TILE or MENU");
      }
      if (e.placement() == ac::NavigationEntry::TAB && ++tabs > kMaxTabs) {
        return Invalid(
            "APP_CONFIG_INVALID", at + ".placement",
            absl::StrCat("at most ", kMaxTabs, " entries may be tabs; ", at, " is the next"));
      }
      if (auto r = Titles(at + ".titles", e.titles(), 1, 60, false)) return r;
      if (!e.icon().empty() && !IsToken(e.icon(), 64, "_-")) {
        return Invalid("APP_CONFIG_INVALID", at + ".icon",
                       absl::StrCat(at, ".icon must match [a-z][a-z0-9_-]* (at most 64)"));
      }
      if (auto r = Target(at, e)) return r;
    }
    return std::nullopt;
  }

  std::optional<Refusal> Target(const std::string& at, const ac::NavigationEntry& e) {
    switch (e.target_case()) {
      case ac::NavigationEntry::kScreen: {
        const std::string& module = e.screen().module_id();
        auto it = modules_.find(module);
        if (it == modules_.end()) {
          std::vector<std::string> served;
          for (const auto& [id, screens] : modules_) served.push_back(id);
          return Invalid("TARGET_NOT_ENABLED", at + ".screen.module_id",
                         absl::StrCat(at, ".screen.module_id '", TruncateUtf8(module, 80),
                                      "' is not a module this city serves (",
                                      served.empty() ? "none" : absl::StrJoin(served, ", "), ")"));
        }
        if (!it->second.count(e.screen().screen())) {
          return Invalid(
              "SCREEN_UNKNOWN", at + ".screen.screen",
              absl::StrCat(at, ".screen.screen '", TruncateUtf8(e.screen().screen(), 80),
                           "' is not a screen of ", module, " (",
                           it->second.empty() ? "it has none" : absl::StrJoin(it->second, ", "),
                           ")"));
        }
        return std::nullopt;
      }
      case ac::NavigationEntry::kWebUrl:
        if (e.web_url().empty()) break;
        return Url(at + ".web_url", e.web_url(), false);
      case ac::NavigationEntry::kDeepLink: {
        const std::string field = at + ".deep_link";
        if (auto r = Text(field, e.deep_link(), 1, kMaxUrl)) return r;
        const std::string& scheme = config_.deep_link_scheme();
        const std::string prefix = scheme + ":";
        const bool printable = std::all_of(e.deep_link().begin(), e.deep_link().end(), [](char c) {
          return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
        });
        if (scheme.empty() || !absl::StartsWith(e.deep_link(), prefix) ||
            e.deep_link().size() == prefix.size() || !printable) {
          return Invalid(
              "URL_NOT_ALLOWED", field,
              scheme.empty()
                  ? field + " needs deep_link_scheme: set the app's scheme first"
                  : absl::StrCat(field, " must be a link of the app's scheme '", prefix,
                                 "…' without spaces, got '", TruncateUtf8(e.deep_link(), 80), "'"));
        }
        return std::nullopt;
      }
      case ac::NavigationEntry::TARGET_NOT_SET:
        break;
    }
    return Invalid("APP_CONFIG_INVALID", at + ".target",
                   at + " needs exactly one target: screen, web_url or deep_link");
  }

  std::optional<Refusal> Features() {
    if (config_.features_size() > static_cast<int>(kMaxFeatures)) {
      return Invalid("APP_CONFIG_INVALID", "features",
                     absl::StrCat("features has at most ", kMaxFeatures, " switches, got ",
                                  config_.features_size()));
    }
    for (const auto& [id, on] : config_.features()) {
      if (!IsToken(id, 64, "_.-")) {
        const std::string field = absl::StrCat("features.", TruncateUtf8(id, 70));
        return Invalid("APP_CONFIG_INVALID", field,
                       field + ": a feature id must match [a-z][a-z0-9_.-]* (at most 64)");
      }
    }
    return std::nullopt;
  }

  std::optional<Refusal> Onboarding() {
    if (config_.onboarding_size() > static_cast<int>(kMaxOnboarding)) {
      return Invalid("APP_CONFIG_INVALID", "onboarding",
                     absl::StrCat("onboarding has at most ", kMaxOnboarding, " pages, got ",
                                  config_.onboarding_size()));
    }
    for (int i = 0; i < config_.onboarding_size(); ++i) {
      const ac::OnboardingPage& p = config_.onboarding(i);
      const std::string at = absl::StrCat("onboarding[", i, "]");
      if (auto r = Titles(at + ".titles", p.titles(), 1, 80, false)) return r;
      if (auto r = Titles(at + ".texts", p.texts(), 0, 1000, true)) return r;
      if (auto r = Url(at + ".image_url", p.image_url(), false)) return r;
    }
    return std::nullopt;
  }

  std::optional<Refusal> Legal() {
    const ac::LegalPages& l = config_.legal();
    if (auto r = Url("legal.imprint_url", l.imprint_url(), true)) return r;
    if (auto r = Url("legal.privacy_url", l.privacy_url(), true)) return r;
    return Url("legal.accessibility_url", l.accessibility_url(), true);
  }

  std::optional<Refusal> ContactInfo() {
    const ac::Contact& c = config_.contact();
    if (auto r = Text("contact.email", c.email(), 0, 254)) return r;
    if (!c.email().empty()) {
      const size_t at = c.email().find('@');
      if (at == 0 || at == std::string::npos || at + 1 >= c.email().size() ||
          c.email().find('@', at + 1) != std::string::npos ||
          c.email().find_first_of(" \t\r\n<>") != std::string::npos) {
        return Invalid("APP_CONFIG_INVALID", "contact.email",
                       "contact.email must be an e-mail address like 'rathaus@stadt.example'");
      }
    }
    if (c.phone().size() > 32 ||
        c.phone().find_first_not_of("0123456789 +()/-") != std::string::npos) {
      return Invalid("APP_CONFIG_INVALID", "contact.phone",
                     "contact.phone may hold digits, spaces and +()/- only, at most 32");
    }
    if (auto r = Text("contact.address", c.address(), 0, 300)) return r;
    return Url("contact.web_url", c.web_url(), false);
  }

  std::optional<Refusal> Versions() {
    const ac::MinSupportedVersion& v = config_.min_supported_version();
    for (const auto& [field, value] :
         {std::pair<const char*, const std::string&>{"min_supported_version.ios", v.ios()},
          {"min_supported_version.android", v.android()},
          {"min_supported_version.web", v.web()}}) {
      if (value.empty()) continue;
      if (value.size() > 64 || !bundle::IsSemver(value)) {
        return Invalid("APP_CONFIG_INVALID", field,
                       absl::StrCat(field, " must be a semantic version like '2.4.0', got '",
                                    TruncateUtf8(value, 40), "'"));
      }
    }
    return std::nullopt;
  }

  const ac::AppConfig& config_;
  const ModuleScreens& modules_;
  std::set<std::string> languages_;
};

}  // namespace

std::vector<std::string> ScreensOf(const std::string& module_id) {
  static const std::map<std::string, std::vector<std::string>> kScreens = {
      {"civitas.news", {"news.list", "news.article"}},
      {"civitas.events", {"events.list", "events.event", "events.calendar"}},
      {"civitas.reports", {"reports.new", "reports.list", "reports.report", "reports.map"}},
      {"civitas.participation",
       {"participation.ideas", "participation.idea", "participation.polls", "participation.poll"}},
      {"civitas.noticeboard", {"noticeboard.list"}},
  };
  auto it = kScreens.find(module_id);
  return it == kScreens.end() ? std::vector<std::string>{} : it->second;
}

bool IsColor(const std::string& s) {
  return s.size() == 7 && s[0] == '#' &&
         std::all_of(s.begin() + 1, s.end(), [](char c) { return absl::ascii_isxdigit(c); });
}

bool IsHttpsUrl(const std::string& s) {
  constexpr absl::string_view kScheme = "https://";
  if (s.size() > kMaxUrl || !absl::StartsWith(s, kScheme)) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '\\') return false;
  }
  const absl::string_view rest = absl::string_view(s).substr(kScheme.size());
  const absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const absl::string_view host = authority.substr(authority.rfind('@') + 1);
  return !host.empty() && host[0] != ':' && !absl::StrContains(authority, '@');
}

std::optional<Refusal> CheckAppConfig(const ac::AppConfig& config, const ModuleScreens& modules) {
  ac::AppConfig stored = config;
  stored.clear_modules();
  if (stored.ByteSizeLong() > kMaxAppConfigBytes) {
    return Invalid("APP_CONFIG_TOO_LARGE", "app_config",
                   absl::StrCat("the configuration has ", stored.ByteSizeLong(), " bytes; at most ",
                                kMaxAppConfigBytes, " are stored"));
  }
  return Checker(config, modules).Run();
}

}  // namespace civitas::gateway::appconfig
