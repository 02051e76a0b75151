#include "services/gateway/appconfig/appconfig_rules.h"

#include <gtest/gtest.h>

#include "services/gateway/appconfig/appconfig_edit.h"

namespace civitas::gateway::appconfig {
namespace {

// A configuration that passes, for a city serving news and reports.
ac::AppConfig Valid() {
  ac::AppConfig c;
  c.set_display_name("Soest");
  c.set_default_language("de");
  c.add_languages("de");
  c.add_languages("en");
  c.set_time_zone("Europe/Berlin");
  c.set_deep_link_scheme("soest-app");
  c.mutable_theme()->set_primary_color("#0a5C9e");
  c.mutable_theme()->set_logo_url("https://soest.example/logo.svg");
  ac::MapArea* area = c.mutable_map_area();
  area->set_south_latitude(51.5);
  area->set_north_latitude(51.6);
  area->set_west_longitude(8.0);
  area->set_east_longitude(8.2);
  ac::NavigationEntry* news = c.add_navigation();
  news->set_id("news");
  news->set_placement(ac::NavigationEntry::TAB);
  (*news->mutable_titles())["de"] = "Aktuelles";
  (*news->mutable_titles())["en"] = "News";
  news->mutable_screen()->set_module_id("civitas.news");
  news->mutable_screen()->set_screen("news.list");
  ac::NavigationEntry* web = c.add_navigation();
  web->set_id("waste");
  web->set_placement(ac::NavigationEntry::TILE);
  (*web->mutable_titles())["de"] = "Abfall";
  (*web->mutable_titles())["en"] = "Waste";
  web->set_web_url("https://soest.example/abfall");
  ac::NavigationEntry* link = c.add_navigation();
  link->set_id("settings");
  link->set_placement(ac::NavigationEntry::MENU);
  (*link->mutable_titles())["de"] = "Einstellungen";
  (*link->mutable_titles())["en"] = "Settings";
  link->set_deep_link("soest-app://settings");
  (*c.mutable_features())["reports.anonymous"] = true;
  ac::OnboardingPage* page = c.add_onboarding();
  (*page->mutable_titles())["de"] = "Willkommen";
  (*page->mutable_titles())["en"] = "Welcome";
  c.mutable_legal()->set_imprint_url("https://soest.example/impressum");
  c.mutable_legal()->set_privacy_url("https://soest.example/datenschutz");
  c.mutable_legal()->set_accessibility_url("https://soest.example/barrierefreiheit");
  c.mutable_contact()->set_email("rathaus@soest.example");
  c.mutable_contact()->set_phone("+49 2921 103-0");
  c.mutable_min_supported_version()->set_ios("2.4.0");
  return c;
}

ModuleScreens Served() {
  ModuleScreens m;
  for (const char* id : {"civitas.news", "civitas.reports"}) {
    for (const std::string& s : ScreensOf(id)) m[id].insert(s);
  }
  return m;
}

// The refusal of `config`, which must be one.
Refusal RefusalOf(const ac::AppConfig& config) {
  std::optional<Refusal> r = CheckAppConfig(config, Served());
  EXPECT_TRUE(r.has_value());
  return r.value_or(Refusal{});
}

TEST(AppConfigRulesTest, AValidConfigurationPasses) {
  std::optional<Refusal> r = CheckAppConfig(Valid(), Served());
  EXPECT_FALSE(r.has_value()) << r->field << ": " << r->message;
}

TEST(AppConfigRulesTest, ANavigationTargetMustBeAScreenOfAModuleTheCityServes) {
  ac::AppConfig c = Valid();
  c.mutable_navigation(0)->mutable_screen()->set_module_id("civitas.events");
  Refusal r = RefusalOf(c);
  EXPECT_EQ(r.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(r.reason, "TARGET_NOT_ENABLED");
  EXPECT_EQ(r.field, "navigation[0].screen.module_id");
  EXPECT_NE(r.message.find("civitas.news, civitas.reports"), std::string::npos) << r.message;

  c = Valid();
  c.mutable_navigation(0)->mutable_screen()->set_screen("news.archive");
  r = RefusalOf(c);
  EXPECT_EQ(r.reason, "SCREEN_UNKNOWN");
  EXPECT_EQ(r.field, "navigation[0].screen.screen");
}

TEST(AppConfigRulesTest, EveryDeclaredLanguageNeedsEveryTitle) {
  ac::AppConfig c = Valid();
  c.add_languages("fr");
  Refusal r = RefusalOf(c);
  EXPECT_EQ(r.reason, "TITLE_MISSING");
  EXPECT_EQ(r.field, "navigation[0].titles.fr");

  c = Valid();
  (*c.mutable_navigation(2)->mutable_titles())["tr"] = "Ayarlar";
  r = RefusalOf(c);
  EXPECT_EQ(r.reason, "APP_CONFIG_INVALID");
  EXPECT_EQ(r.field, "navigation[2].titles.tr");

  c = Valid();
  (*c.mutable_onboarding(0)->mutable_texts())["de"] = "Hallo";
  r = RefusalOf(c);
  EXPECT_EQ(r.reason, "TITLE_MISSING");
  EXPECT_EQ(r.field, "onboarding[0].texts.en");
}

TEST(AppConfigRulesTest, LanguagesAreTagsWithoutDuplicatesAndIncludeTheDefault) {
  ac::AppConfig c = Valid();
  c.set_default_language("fr");
  EXPECT_EQ(RefusalOf(c).field, "default_language");
  c = Valid();
  c.add_languages("de");
  EXPECT_EQ(RefusalOf(c).field, "languages[2]");
  c = Valid();
  c.set_languages(1, "english");
  EXPECT_EQ(RefusalOf(c).field, "languages[1]");
  c = Valid();
  c.clear_languages();
  EXPECT_EQ(RefusalOf(c).field, "languages");
}

TEST(AppConfigRulesTest, WebTargetsAreHttpsAndDeepLinksUseTheAppsScheme) {
  for (const char* url :
       {"javascript:alert(1)", "http://soest.example/", "https://", "https://user@evil.example/",
        "https://soest.example/a b", "data:text/html,hi", "HTTPS://soest.example"}) {
    ac::AppConfig c = Valid();
    c.mutable_navigation(1)->set_web_url(url);
    Refusal r = RefusalOf(c);
    EXPECT_EQ(r.reason, "URL_NOT_ALLOWED") << url;
    EXPECT_EQ(r.field, "navigation[1].web_url") << url;
  }
  for (const char* link :
       {"other-app://x", "soest-app:", "javascript:alert(1)", "soest-app://a b"}) {
    ac::AppConfig c = Valid();
    c.mutable_navigation(2)->set_deep_link(link);
    Refusal r = RefusalOf(c);
    EXPECT_EQ(r.reason, "URL_NOT_ALLOWED") << link;
    EXPECT_EQ(r.field, "navigation[2].deep_link") << link;
  }
  ac::AppConfig c = Valid();
  c.set_deep_link_scheme("javascript");
  EXPECT_EQ(RefusalOf(c).field, "deep_link_scheme");
  c = Valid();
  c.mutable_navigation(1)->clear_web_url();
  EXPECT_EQ(RefusalOf(c).field, "navigation[1].target");
  c = Valid();
  c.mutable_theme()->set_logo_url("http://soest.example/logo.svg");
  EXPECT_EQ(RefusalOf(c).field, "theme.logo_url");
}

TEST(AppConfigRulesTest, ColoursMapAreaAndVersionsAreChecked) {
  for (const char* color : {"red", "#12345", "#1234567", "#12345g", "0a5c9e"}) {
    ac::AppConfig c = Valid();
    c.mutable_theme()->set_accent_color(color);
    EXPECT_EQ(RefusalOf(c).field, "theme.accent_color") << color;
  }
  ac::AppConfig c = Valid();
  c.mutable_map_area()->set_north_latitude(91);
  EXPECT_EQ(RefusalOf(c).field, "map_area.south_latitude");
  c = Valid();
  c.mutable_map_area()->set_west_longitude(9);
  EXPECT_EQ(RefusalOf(c).field, "map_area.west_longitude");
  c = Valid();
  c.mutable_min_supported_version()->set_android("2.4");
  EXPECT_EQ(RefusalOf(c).field, "min_supported_version.android");
  c = Valid();
  c.set_time_zone("Europe/Soest");
  EXPECT_EQ(RefusalOf(c).field, "time_zone");
}

TEST(AppConfigRulesTest, LegalPagesAreRequired) {
  ac::AppConfig c = Valid();
  c.mutable_legal()->clear_accessibility_url();
  Refusal r = RefusalOf(c);
  EXPECT_EQ(r.reason, "LEGAL_PAGE_MISSING");
  EXPECT_EQ(r.field, "legal.accessibility_url");
}

TEST(AppConfigRulesTest, TextMustBeUtf8AndWithinItsLength) {
  ac::AppConfig c = Valid();
  (*c.mutable_navigation(0)->mutable_titles())["en"] = "N\xc3\x28ws";
  Refusal r = RefusalOf(c);
  EXPECT_EQ(r.field, "navigation[0].titles.en");
  EXPECT_NE(r.message.find("UTF-8"), std::string::npos);
  c = Valid();
  (*c.mutable_navigation(0)->mutable_titles())["en"] = std::string(61, 'x');
  EXPECT_EQ(RefusalOf(c).field, "navigation[0].titles.en");
  c = Valid();
  c.set_display_name("");
  EXPECT_EQ(RefusalOf(c).field, "display_name");
}

TEST(AppConfigRulesTest, CountsAndTheWholeSizeAreBounded) {
  ac::AppConfig c = Valid();
  for (int i = 0; i < 4; ++i) *c.add_navigation() = c.navigation(0);
  for (int i = 3; i < 7; ++i) c.mutable_navigation(i)->set_id("tab" + std::to_string(i));
  c.mutable_navigation(1)->set_placement(ac::NavigationEntry::TAB);
  c.mutable_navigation(2)->set_placement(ac::NavigationEntry::TAB);
  EXPECT_EQ(RefusalOf(c).field, "navigation[5].placement");  // the sixth tab
  c = Valid();
  c.mutable_navigation(1)->set_id("news");
  EXPECT_EQ(RefusalOf(c).field, "navigation[1].id");
  c = Valid();
  c.mutable_contact()->set_address(std::string(kMaxAppConfigBytes, 'x'));
  Refusal r = RefusalOf(c);
  EXPECT_EQ(r.reason, "APP_CONFIG_TOO_LARGE");
  EXPECT_EQ(r.field, "app_config");
}

TEST(AppConfigEditTest, EtagsNameVersions) {
  EXPECT_EQ(EtagOf(12), "W/\"12\"");
  EXPECT_EQ(VersionOfEtag("W/\"12\""), 12);
  EXPECT_FALSE(VersionOfEtag("\"12\"").has_value());
  EXPECT_FALSE(VersionOfEtag("W/\"-1\"").has_value());
  EXPECT_FALSE(VersionOfEtag("W/\"\"").has_value());
}

TEST(AppConfigEditTest, TheDefaultComesFromTheCityAndAnUpdateReplacesWhatItsMaskNames) {
  CityConfig city;
  city.id = "werl";
  city.default_language = "de";
  city.time_zone = "Europe/Berlin";
  ac::AppConfig current = DefaultAppConfig(city);
  EXPECT_EQ(current.display_name(), "werl");
  EXPECT_EQ(current.version(), 0);
  EXPECT_EQ(current.etag(), "W/\"0\"");
  ASSERT_EQ(current.languages_size(), 1);

  ac::AppConfig update = Valid();
  google::protobuf::FieldMask mask;
  mask.add_paths("theme");
  mask.add_paths("features");
  ASSERT_FALSE(ApplyUpdate(update, mask, &current).has_value());
  EXPECT_EQ(current.display_name(), "werl");
  EXPECT_EQ(current.theme().primary_color(), "#0a5C9e");
  EXPECT_TRUE(current.features().at("reports.anonymous"));
  mask.add_paths("etag");
  std::optional<Refusal> r = ApplyUpdate(update, mask, &current);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->field, "update_mask");
  ASSERT_FALSE(ApplyUpdate(update, google::protobuf::FieldMask(), &current).has_value());
  EXPECT_EQ(current.display_name(), "Soest");
  EXPECT_EQ(current.navigation_size(), 3);
}

}  // namespace
}  // namespace civitas::gateway::appconfig
