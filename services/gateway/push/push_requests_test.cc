#include "services/gateway/push/push_requests.h"

#include <gtest/gtest.h>

namespace civitas::gateway::push {
namespace {

std::vector<PushTopic> Topics() {
  return {{"abfall", {{"de", "Abfall"}, {"en", "Waste"}}}, {"baustellen", {{"de", "Baustellen"}}}};
}

notify::Device WebPush() {
  notify::Device d;
  d.set_platform(notify::Device::WEB_PUSH);
  d.mutable_web_push()->set_endpoint("https://push.example/x");
  d.mutable_web_push()->set_p256dh(
      "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
  d.mutable_web_push()->set_auth("BTBZMqHH6r4Tts7J_aSIgg");
  return d;
}

TEST(CheckPushAddress, WebPushAndTokens) {
  EXPECT_TRUE(CheckPushAddress(WebPush()).ok());
  notify::Device d = WebPush();
  d.mutable_web_push()->set_auth("c2hvcnQ");
  EXPECT_FALSE(CheckPushAddress(d).ok());
  d = WebPush();
  d.mutable_web_push()->set_p256dh("AAAA");
  EXPECT_FALSE(CheckPushAddress(d).ok());
  d = WebPush();
  d.mutable_web_push()->set_endpoint("https://push.example/" + std::string(1100, 'a'));
  EXPECT_FALSE(CheckPushAddress(d).ok());
  d = WebPush();
  d.set_token("x");
  EXPECT_FALSE(CheckPushAddress(d).ok());
  notify::Device fcm;
  fcm.set_platform(notify::Device::FCM);
  EXPECT_FALSE(CheckPushAddress(fcm).ok());
  fcm.set_token("abc:def");
  EXPECT_TRUE(CheckPushAddress(fcm).ok());
  fcm.set_token(std::string(5000, 'a'));
  EXPECT_FALSE(CheckPushAddress(fcm).ok());
  fcm.set_token("with space");
  EXPECT_FALSE(CheckPushAddress(fcm).ok());
  notify::Device none;
  EXPECT_FALSE(CheckPushAddress(none).ok());
}

TEST(CheckDeviceSettings, TopicsLanguageQuietHours) {
  notify::Device d = WebPush();
  d.add_topics("abfall");
  EXPECT_TRUE(CheckDeviceSettings(d, Topics()).ok());
  d.add_topics("abfall");
  EXPECT_FALSE(CheckDeviceSettings(d, Topics()).ok());  // twice
  d.clear_topics();
  d.add_topics("unknown");
  EXPECT_FALSE(CheckDeviceSettings(d, Topics()).ok());
  d.clear_topics();
  d.set_language_code("not a language");
  EXPECT_FALSE(CheckDeviceSettings(d, Topics()).ok());
  d.set_language_code("de-AT");
  d.mutable_quiet_hours()->set_start_time("22:00");
  d.mutable_quiet_hours()->set_end_time("7:00");
  EXPECT_FALSE(CheckDeviceSettings(d, Topics()).ok());
  d.mutable_quiet_hours()->set_end_time("07:00");
  EXPECT_TRUE(CheckDeviceSettings(d, Topics()).ok());
}

TEST(QuietHours, AcrossMidnight) {
  notify::QuietHours q;
  q.set_start_time("22:00");
  q.set_end_time("07:00");
  EXPECT_TRUE(InQuietHours(q, 23 * 60));
  EXPECT_TRUE(InQuietHours(q, 3 * 60));
  EXPECT_FALSE(InQuietHours(q, 7 * 60));
  EXPECT_FALSE(InQuietHours(q, 12 * 60));
  notify::QuietHours none;
  EXPECT_FALSE(InQuietHours(none, 0));
  absl::TimeZone berlin;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Berlin", &berlin));
  const absl::Time late = absl::FromCivil(absl::CivilMinute(2026, 3, 1, 23, 30), berlin);
  EXPECT_EQ(QuietHoursEnd(q, late, berlin),
            absl::FromCivil(absl::CivilMinute(2026, 3, 2, 7, 0), berlin));
  const absl::Time early = absl::FromCivil(absl::CivilMinute(2026, 3, 2, 5, 0), berlin);
  EXPECT_EQ(QuietHoursEnd(q, early, berlin),
            absl::FromCivil(absl::CivilMinute(2026, 3, 2, 7, 0), berlin));
  const absl::Time noon = absl::FromCivil(absl::CivilMinute(2026, 3, 2, 12, 0), berlin);
  EXPECT_EQ(QuietHoursEnd(q, noon, berlin), noon);
}

notify::Message Valid() {
  notify::Message m;
  m.set_topic("abfall");
  notify::MessageText* de = m.add_texts();
  de->set_language_code("de");
  de->set_title("Biotonne morgen");
  de->set_body("Bitte bis 6 Uhr an die Straße stellen.");
  notify::MessageText* en = m.add_texts();
  en->set_language_code("en");
  en->set_title("Organic bin tomorrow");
  m.set_deep_link("civitas://abfall/kalender");
  return m;
}

TEST(CheckMessage, Bounds) {
  const absl::Time now = absl::Now();
  EXPECT_TRUE(CheckMessage(Valid(), Topics(), now).ok());
  notify::Message m = Valid();
  m.set_topic("nope");
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  m = Valid();
  m.mutable_texts(0)->set_title("");
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  m = Valid();
  m.mutable_texts(0)->set_title(std::string(121, 'a'));
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  m = Valid();
  m.mutable_texts(1)->set_language_code("de");
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  m = Valid();
  m.mutable_texts(0)->set_body(std::string(1001, 'a'));
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  m = Valid();
  m.mutable_texts(0)->set_title("\xff\xfe");
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  for (const char* link : {"javascript:alert(1)", "http://x.example", "no scheme", "data:x"}) {
    m = Valid();
    m.set_deep_link(link);
    EXPECT_FALSE(CheckMessage(m, Topics(), now).ok()) << link;
  }
  m = Valid();
  m.mutable_send_time()->set_seconds(absl::ToUnixSeconds(now + absl::Hours(24 * 31)));
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  // A module may schedule further ahead (an event reminder), within the bound it is given.
  EXPECT_TRUE(CheckMessage(m, Topics(), now, absl::Hours(24 * 400)).ok());
  m = Valid();
  m.set_image_url("https://stadt.example/bilder/tonne.jpg");
  EXPECT_TRUE(CheckMessage(m, Topics(), now).ok());
  for (const std::string& image : std::vector<std::string>{
           "http://stadt.example/a.jpg", "javascript:alert(1)", "https://", "https://a b.example/",
           "https://x.example/" + std::string(1020, 'a')}) {
    m.set_image_url(image);
    EXPECT_FALSE(CheckMessage(m, Topics(), now).ok()) << image;
  }
  m = Valid();
  m.clear_texts();
  for (int i = 0; i < 11; ++i) {
    notify::MessageText* t = m.add_texts();
    t->set_language_code(std::string("l") + static_cast<char>('a' + i));
    t->set_title("x");
  }
  EXPECT_FALSE(CheckMessage(m, Topics(), now).ok());
  // 1,000 characters of 4-byte UTF-8 fit the field but not one push record.
  m = Valid();
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "\xf0\x9f\x97\x91";
  m.mutable_texts(0)->set_body(big);
  absl::Status s = CheckMessage(m, Topics(), now);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("bytes"), std::string::npos) << s;
}

TEST(PayloadJson, LanguageFallback) {
  notify::Message m = Valid();
  m.set_name("messages/0123456789abcdef0123456789abcdef");
  EXPECT_NE(PayloadJson(m, "en", "de").find("\"title\":\"Organic bin tomorrow\""),
            std::string::npos);
  EXPECT_NE(PayloadJson(m, "en-GB", "de").find("\"language\":\"en\""), std::string::npos);
  EXPECT_NE(PayloadJson(m, "fr", "de").find("\"language\":\"de\""), std::string::npos);
  EXPECT_NE(PayloadJson(m, "fr", "it").find("\"language\":\"de\""), std::string::npos);
  EXPECT_EQ(PayloadJson(m, "de", "de").find("\"image\""), std::string::npos);
  m.set_image_url("https://stadt.example/a.jpg");
  EXPECT_NE(PayloadJson(m, "de", "de").find("\"image\":\"https://stadt.example/a.jpg\""),
            std::string::npos);
  m.mutable_texts(0)->set_title("Zitat \"x\"\n");
  EXPECT_NE(PayloadJson(m, "de", "de").find("\"title\":\"Zitat \\\"x\\\"\\n\""), std::string::npos);
}

}  // namespace
}  // namespace civitas::gateway::push
