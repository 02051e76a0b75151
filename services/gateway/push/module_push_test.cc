// The rules of modules' push topics and messages (module_push.h), as pure functions. The whole
// path through a real gateway and push service is in tests/integration/push_test.cc.
#include "services/gateway/push/module_push.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace civitas::gateway::push {
namespace {

TEST(ParseModuleTopics, PrefixesIdsWithTheModule) {
  absl::StatusOr<std::vector<PushTopic>> topics = ParseModuleTopics(
      "civitas.news", R"([{"id":"all","titles":{"de":"Alle Nachrichten","en":"All news"}},)"
                      R"({"id":"bau_stellen","titles":{"de":"Baustellen"}}])");
  ASSERT_TRUE(topics.ok()) << topics.status();
  ASSERT_EQ(topics->size(), 2u);
  EXPECT_EQ((*topics)[0].id, "civitas.news.all");
  EXPECT_EQ((*topics)[0].titles.at("en"), "All news");
  EXPECT_EQ((*topics)[1].id, "civitas.news.bau_stellen");
  EXPECT_TRUE(ParseModuleTopics("m", "[]").ok());
}

TEST(ParseModuleTopics, RefusesWhatAbiHForbids) {
  std::string many = "[";
  for (int i = 0; i < 65; ++i) {
    many += (i ? "," : "") + std::string(R"({"id":"t)") + std::to_string(i) +
            R"(","titles":{"de":"x"}})";
  }
  many += "]";
  for (const std::string& json : std::vector<std::string>{
           "", "{}", "[1]", R"([{"titles":{"de":"x"}}])", R"([{"id":"Gross","titles":{"de":"x"}}])",
           R"([{"id":"a.b","titles":{"de":"x"}}])", R"([{"id":"a","titles":{}}])",
           R"([{"id":"a"}])", R"([{"id":"a","titles":{"no language!":"x"}}])",
           R"([{"id":"a","titles":{"de":""}}])",
           R"([{"id":"a","titles":{"de":"x"}},{"id":"a","titles":{"de":"y"}}])",
           R"([{"id":"a","titles":{"de":"x"},"colour":"red"}])",
           R"([{"id":")" + std::string(49, 'a') + R"(","titles":{"de":"x"}}])", many}) {
    absl::StatusOr<std::vector<PushTopic>> topics = ParseModuleTopics("m", json);
    EXPECT_EQ(topics.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_NE(std::string(topics.status().message()).find("module 'm' push_topics"),
              std::string::npos)
        << topics.status();
  }
}

// A message a module might send, over `texts` (kept alive by the caller).
civitas_push_message Message(const char* topic, std::vector<civitas_push_text>* texts) {
  static const std::string de = "de", title = "Vollsperrung", body = "Ab Montag";
  texts->push_back({de.data(), de.size(), title.data(), title.size(), body.data(), body.size()});
  civitas_push_message m{};
  m.struct_size = sizeof(m);
  m.topic = topic;
  m.topic_size = std::string(topic).size();
  m.texts = texts->data();
  m.text_count = texts->size();
  return m;
}

const std::vector<PushTopic> kTopics = {{"civitas.news.all", {{"de", "Alle"}}},
                                        {"civitas.news.verkehr", {{"de", "Verkehr"}}}};

TEST(MessageFromModule, BecomesAMessageOfTheModulesTopics) {
  std::vector<civitas_push_text> texts;
  civitas_push_message in = Message("all,verkehr,all", &texts);
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  in.send_time_unix_micros = absl::ToUnixMicros(now + absl::Hours(24 * 90));
  std::string subject = "left over";
  absl::Time due;
  absl::StatusOr<notify::Message> m =
      MessageFromModule(in, "civitas.news", kTopics, now, &subject, &due);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->topic(), "civitas.news.all");
  ASSERT_EQ(m->more_topics_size(), 1);  // "all" twice counts once
  EXPECT_EQ(m->more_topics(0), "civitas.news.verkehr");
  EXPECT_EQ(m->module(), "civitas.news");
  EXPECT_EQ(m->texts(0).title(), "Vollsperrung");
  EXPECT_EQ(due, now + absl::Hours(24 * 90));  // a module may schedule beyond 30 days
  EXPECT_TRUE(subject.empty());
  EXPECT_EQ(m->name().size(), std::string("messages/").size() + 32);
}

TEST(MessageFromModule, RefusesWithTheRightCode) {
  const absl::Time now = absl::Now();
  std::string subject;
  absl::Time due;
  auto code = [&](civitas_push_message in) {
    return MessageFromModule(in, "civitas.news", kTopics, now, &subject, &due).status().code();
  };
  std::vector<civitas_push_text> texts;
  civitas_push_message in = Message("verkehr", &texts);
  EXPECT_EQ(code(in), absl::StatusCode::kOk);

  civitas_push_message truncated = in;
  truncated.struct_size = offsetof(civitas_push_message, urgent);
  EXPECT_EQ(code(truncated), absl::StatusCode::kInvalidArgument);

  for (const char* topic : {"nope", "", "verkehr,nope", "civitas.news.all", "a b"}) {
    civitas_push_message other = in;
    other.topic = topic;
    other.topic_size = std::string(topic).size();
    EXPECT_EQ(code(other), absl::StatusCode::kNotFound) << topic;
  }

  civitas_push_message none = in;
  none.text_count = 0;
  EXPECT_EQ(code(none), absl::StatusCode::kInvalidArgument);
  civitas_push_message too_many = in;
  too_many.text_count = 11;
  EXPECT_EQ(code(too_many), absl::StatusCode::kInvalidArgument);

  civitas_push_message far = in;
  far.send_time_unix_micros = absl::ToUnixMicros(now + absl::Hours(24 * 401));
  EXPECT_EQ(code(far), absl::StatusCode::kInvalidArgument);

  const std::string bad_utf8 = "\xff\xfe";
  civitas_push_message subject_bad = in;
  subject_bad.subject = bad_utf8.data();
  subject_bad.subject_size = bad_utf8.size();
  EXPECT_EQ(code(subject_bad), absl::StatusCode::kInvalidArgument);

  const std::string link = "javascript:alert(1)";
  civitas_push_message bad_link = in;
  bad_link.deep_link = link.data();
  bad_link.deep_link_size = link.size();
  EXPECT_EQ(code(bad_link), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace civitas::gateway::push
