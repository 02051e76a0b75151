#include "services/gateway/push/fcm.h"

#include <gtest/gtest.h>

#include "civitas/json.h"

namespace civitas::gateway::push {
namespace {

notify::Message Sample(bool urgent) {
  notify::Message m;
  m.set_name("messages/0123456789abcdef0123456789abcdef");
  m.set_topic("abfall");
  notify::MessageText* de = m.add_texts();
  de->set_language_code("de");
  de->set_title("Biotonne \"morgen\"");
  de->set_body("Bis 6 Uhr.");
  notify::MessageText* en = m.add_texts();
  en->set_language_code("en");
  en->set_title("Organic bin");
  m.set_deep_link("civitas://abfall");
  m.set_urgent(urgent);
  return m;
}

civitas::JsonValue Parse(const std::string& text) {
  civitas::JsonValue v;
  std::string error;
  EXPECT_TRUE(civitas::ParseJson(text, &v, &error)) << error << ": " << text;
  return v;
}

AttemptResult Answer(long code, std::string body) {
  AttemptResult r;
  r.http_status = code;
  r.body = std::move(body);
  return r;
}

TEST(Fcm, ServiceAccountFields) {
  absl::StatusOr<ServiceAccount> a = ParseServiceAccount(
      R"({"type":"service_account","client_email":"push@p.iam.gserviceaccount.com",)"
      R"("private_key":"-----BEGIN PRIVATE KEY-----\nAB\n-----END PRIVATE KEY-----\n",)"
      R"("private_key_id":"abc","token_uri":"https://oauth2.example/token"})");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->client_email, "push@p.iam.gserviceaccount.com");
  EXPECT_EQ(a->private_key_pem.substr(0, 28), "-----BEGIN PRIVATE KEY-----\n");
  EXPECT_EQ(a->private_key_id, "abc");
  EXPECT_EQ(a->token_uri, "https://oauth2.example/token");
  a = ParseServiceAccount(R"({"client_email":"a@b","private_key":"x"})");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->token_uri, "https://oauth2.googleapis.com/token");
  EXPECT_FALSE(ParseServiceAccount("not json").ok());
  EXPECT_NE(ParseServiceAccount(R"({"private_key":"x"})").status().message().find("client_email"),
            std::string::npos);
  EXPECT_NE(ParseServiceAccount(R"({"client_email":"a@b"})").status().message().find("private_key"),
            std::string::npos);
  EXPECT_NE(ParseServiceAccount(R"({"client_email":"a@b","private_key":"x",)"
                                R"("token_uri":"http://t.example"})")
                .status()
                .message()
                .find("https"),
            std::string::npos);
}

TEST(Fcm, AssertionAndTokenRequest) {
  ServiceAccount a;
  a.client_email = "push@p.iam.gserviceaccount.com";
  a.token_uri = "https://oauth2.example/token";
  const civitas::JsonValue c = Parse(FcmAssertionClaims(a, absl::FromUnixSeconds(1000)));
  EXPECT_EQ(c["iss"].AsString(), a.client_email);
  EXPECT_EQ(c["scope"].AsString(), "https://www.googleapis.com/auth/firebase.messaging");
  EXPECT_EQ(c["aud"].AsString(), a.token_uri);
  EXPECT_EQ(c["iat"].AsNumber(), 1000);
  EXPECT_EQ(c["exp"].AsNumber(), 4600);
  EXPECT_EQ(
      FcmTokenRequestBody("aa.bb_-.cc"),
      "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=aa.bb_-.cc");
}

TEST(Fcm, AccessTokenAnswer) {
  const absl::Time now = absl::FromUnixSeconds(1000);
  absl::StatusOr<AccessToken> t = ParseAccessTokenAnswer(
      R"({"access_token":"ya29.x","expires_in":3599,"token_type":"Bearer"})", now);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->value, "ya29.x");
  EXPECT_EQ(t->refresh_at, now + absl::Seconds(3599 - 300));
  t = ParseAccessTokenAnswer(R"({"access_token":"y","expires_in":60})", now);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->refresh_at, now) << "a short-lived token is fetched anew next time";
  EXPECT_FALSE(ParseAccessTokenAnswer(R"({"expires_in":60})", now).ok());
  EXPECT_FALSE(ParseAccessTokenAnswer(R"({"access_token":"y"})", now).ok());
  EXPECT_FALSE(ParseAccessTokenAnswer(R"({"access_token":"y\r\nX: 1","expires_in":60})", now).ok());
  EXPECT_FALSE(
      ParseAccessTokenAnswer(R"({"access_token":"y","expires_in":60,"token_type":"mac"})", now)
          .ok());
}

TEST(Fcm, SendUrlAndMessage) {
  FcmConfig config;
  config.project_id = "civitas-unna";
  EXPECT_EQ(FcmSendUrl(config),
            "https://fcm.googleapis.com/v1/projects/civitas-unna/messages:send");
  const civitas::JsonValue m =
      Parse(FcmMessageJson(Sample(true), "tok\"en:1", "de-AT", "en"))["message"];
  EXPECT_EQ(m["token"].AsString(), "tok\"en:1");
  EXPECT_EQ(m["notification"]["title"].AsString(), "Biotonne \"morgen\"");
  EXPECT_EQ(m["notification"]["body"].AsString(), "Bis 6 Uhr.");
  EXPECT_EQ(m["data"]["message"].AsString(), "messages/0123456789abcdef0123456789abcdef");
  EXPECT_EQ(m["data"]["topic"].AsString(), "abfall");
  EXPECT_EQ(m["data"]["language"].AsString(), "de");
  EXPECT_EQ(m["data"]["deep_link"].AsString(), "civitas://abfall");
  EXPECT_EQ(m["data"]["urgent"].AsString(), "true");
  for (const auto& [key, value] : m["data"].members()) {
    EXPECT_TRUE(value.is_string()) << key << ": FCM data values are strings";
  }
  EXPECT_EQ(m["android"]["priority"].AsString(), "high");
  EXPECT_EQ(m["android"]["collapse_key"].AsString(), "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(m["android"]["ttl"].AsString(), "86400s");
  const civitas::JsonValue normal =
      Parse(FcmMessageJson(Sample(false), "t", "fr", "en"))["message"];
  EXPECT_EQ(normal["android"]["priority"].AsString(), "normal");
  EXPECT_EQ(normal["notification"]["title"].AsString(), "Organic bin");
  EXPECT_FALSE(normal["notification"]["body"].is_null());
  EXPECT_TRUE(normal["notification"]["image"].is_null());
  notify::Message pictured = Sample(false);
  pictured.set_image_url("https://stadt.example/tonne.jpg");
  const civitas::JsonValue with_image = Parse(FcmMessageJson(pictured, "t", "de", "de"))["message"];
  EXPECT_EQ(with_image["notification"]["image"].AsString(), "https://stadt.example/tonne.jpg");
  EXPECT_EQ(with_image["data"]["image"].AsString(), "https://stadt.example/tonne.jpg");
}

TEST(Fcm, Answers) {
  AttemptResult r = Answer(200, R"({"name":"projects/p/messages/1"})");
  ClassifyFcmAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kByStatus);
  r = Answer(404, R"({"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":)"
                  R"("type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":)"
                  R"("UNREGISTERED"}]}})");
  ClassifyFcmAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kGone);
  EXPECT_EQ(r.detail, "UNREGISTERED");
  r = Answer(400, R"({"error":{"code":400,"status":"INVALID_ARGUMENT","details":[{"errorCode":)"
                  R"("UNREGISTERED"}]}})");
  ClassifyFcmAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kGone) << "400 naming UNREGISTERED";
  r = Answer(404, "");
  ClassifyFcmAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kGone);
  r = Answer(400, R"({"error":{"code":400,"status":"INVALID_ARGUMENT"}})");
  ClassifyFcmAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kRefused);
  EXPECT_EQ(r.detail, "INVALID_ARGUMENT");
  r = Answer(403, R"({"error":{"details":[{"errorCode":"SENDER_ID_MISMATCH"}]}})");
  ClassifyFcmAnswer(&r);
  EXPECT_EQ(r.verdict, Verdict::kRefused);
  for (long code : {401L, 429L, 500L, 503L}) {
    r = Answer(code, R"({"error":{"status":"UNAVAILABLE"}})");
    ClassifyFcmAnswer(&r);
    EXPECT_EQ(r.verdict, Verdict::kByStatus) << code;
  }
}

}  // namespace
}  // namespace civitas::gateway::push
