// civitas SDK: push notifications from a module (ABI 1.3; the gateway's docs/push.md).
//
// A module declares its topics (ModuleBuilder::PushTopics) and queues a message inside the
// transaction of the change that causes it (Transaction::Push): the article and its push, or a
// report's new status and the note to its reporter, commit together or not at all. The gateway
// delivers from its own threads after the commit, to Web Push, FCM and APNs devices.
//
//   civitas::PushMessage m;
//   m.topic = "verkehr";                       // one of the module's PushTopics ids
//   m.texts = {{"de", "Vollsperrung B1", "Ab Montag ..."}};
//   m.deep_link = "civitas://news/articles/42";
//   std::string name;                          // "messages/…", for CancelPush
//   civitas::Status s = txn.Push(m, &name);    // then txn.Commit()
#ifndef CIVITAS_PUSH_H_
#define CIVITAS_PUSH_H_

#include <civitas/abi.h>
#include <civitas/json.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace civitas {

// A topic devices can opt into. `id`: 1 to 48 characters of a-z, 0-9, '-' and '_'; the city sees it
// as "<module_id>.<id>". `titles`: BCP 47 language -> title (1 to 120 characters), at least one.
struct PushTopic {
  std::string id;
  std::map<std::string, std::string> titles;
};

struct PushText {
  std::string language_code;  // "de"
  std::string title;          // 1 to 120 characters
  std::string body;           // at most 1,000 characters
};

struct PushMessage {
  std::string topic;            // a PushTopic id of this module, or several: "all,verkehr"
  std::string subject;          // optional: only this signed-in subject's own devices
  std::vector<PushText> texts;  // 1 to 10, each language once
  std::string deep_link;        // optional: https or an app link like civitas://news/articles/1
  std::string image_url;        // optional: https
  bool urgent = false;          // delivered in quiet hours too
  int64_t send_time_unix_micros = 0;  // 0 = now; at most 400 days ahead
};

// The JSON array civitas_module_def.push_topics writes.
inline std::string PushTopicsJson(const std::vector<PushTopic>& topics) {
  std::string out = "[";
  for (size_t i = 0; i < topics.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"id\":" + JsonQuote(topics[i].id) + ",\"titles\":{";
    bool first = true;
    for (const auto& [language, title] : topics[i].titles) {
      if (!first) out += ',';
      first = false;
      out += JsonQuote(language) + ":" + JsonQuote(title);
    }
    out += "}}";
  }
  return out + "]";
}

namespace internal {

// Fills the C view of `m`; `texts` keeps the text array alive for the call.
inline civitas_push_message PushMessageView(const PushMessage& m,
                                            std::vector<civitas_push_text>* texts) {
  texts->clear();
  for (const PushText& t : m.texts) {
    texts->push_back(civitas_push_text{t.language_code.data(), t.language_code.size(),
                                       t.title.data(), t.title.size(), t.body.data(),
                                       t.body.size()});
  }
  civitas_push_message c{};
  c.struct_size = sizeof(c);
  c.topic = m.topic.data();
  c.topic_size = m.topic.size();
  c.subject = m.subject.data();
  c.subject_size = m.subject.size();
  c.texts = texts->data();
  c.text_count = texts->size();
  c.deep_link = m.deep_link.data();
  c.deep_link_size = m.deep_link.size();
  c.image_url = m.image_url.data();
  c.image_url_size = m.image_url.size();
  c.urgent = m.urgent ? 1 : 0;
  c.send_time_unix_micros = m.send_time_unix_micros;
  return c;
}

}  // namespace internal
}  // namespace civitas

#endif  // CIVITAS_PUSH_H_
