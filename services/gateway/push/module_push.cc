#include "services/gateway/push/module_push.h"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "civitas/text.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "services/gateway/log.h"
#include "services/gateway/module_instance.h"
#include "services/gateway/push/push_keys.h"
#include "services/gateway/push/push_requests.h"
#include "services/gateway/push/push_store.h"
#include "services/gateway/route_table.h"

namespace civitas::gateway::push {

namespace {

constexpr size_t kMaxModuleTopicIdChars = 48;
constexpr size_t kMaxTopicTitleChars = 120;

absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }

bool IsTopicId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxModuleTopicIdChars) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

absl::string_view View(const char* data, size_t size) {
  return data == nullptr ? absl::string_view() : absl::string_view(data, size);
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t micros = absl::ToUnixMicros(t);
  out->set_seconds(micros / 1000000);
  out->set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
}

}  // namespace

absl::StatusOr<std::vector<PushTopic>> ParseModuleTopics(absl::string_view module_id,
                                                         absl::string_view json) {
  const std::string where = absl::StrCat("module '", module_id, "' push_topics: ");
  google::protobuf::ListValue list;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &list).ok()) {
    return Invalid(where + "not a JSON array of {\"id\", \"titles\"} objects");
  }
  if (static_cast<size_t>(list.values_size()) > kMaxModuleTopics) {
    return Invalid(
        absl::StrCat(where, "at most ", kMaxModuleTopics, " topics, got ", list.values_size()));
  }
  std::vector<PushTopic> out;
  std::set<std::string> seen;
  for (int i = 0; i < list.values_size(); ++i) {
    const std::string at = absl::StrCat(where, "entry ", i, ": ");
    const google::protobuf::Value& v = list.values(i);
    if (!v.has_struct_value()) return Invalid(at + "not an object");
    const auto& fields = v.struct_value().fields();
    auto id = fields.find("id");
    if (id == fields.end() || !IsTopicId(id->second.string_value())) {
      return Invalid(at + "\"id\" must be 1 to 48 characters of a-z, 0-9, '-' and '_'");
    }
    PushTopic topic;
    topic.id = absl::StrCat(module_id, ".", id->second.string_value());
    if (!seen.insert(topic.id).second) return Invalid(at + "\"id\" is listed twice");
    auto titles = fields.find("titles");
    if (titles == fields.end() || !titles->second.has_struct_value() ||
        titles->second.struct_value().fields().empty()) {
      return Invalid(at + "\"titles\" must be an object of BCP 47 language to title");
    }
    for (const auto& [lang, title] : titles->second.struct_value().fields()) {
      if (!IsLanguageTag(lang)) return Invalid(at + "a title's key must be a BCP 47 language");
      const std::string& text = title.string_value();
      const std::optional<size_t> chars = Utf8Length(text);
      if (text.empty() || !chars || *chars > kMaxTopicTitleChars) {
        return Invalid(absl::StrCat(at, "the title in '", lang, "' must have 1 to ",
                                    kMaxTopicTitleChars, " characters"));
      }
      topic.titles[lang] = text;
    }
    for (const auto& [key, unused] : fields) {
      if (key != "id" && key != "titles") return Invalid(at + "unknown key \"" + key + "\"");
    }
    out.push_back(std::move(topic));
  }
  return out;
}

std::vector<CityTopic> CityTopics(const CityRoutes& routes, const CityPushConfig& config) {
  std::vector<CityTopic> out;
  for (const PushTopic& t : config.topics) out.push_back({t, ""});
  for (const std::shared_ptr<ModuleInstance>& instance : routes.instances) {
    absl::StatusOr<std::shared_ptr<const std::vector<PushTopic>>> topics = instance->PushTopics();
    if (!topics.ok()) {
      Log(LogLevel::kWarning, "module push topics refused",
          {{"city", routes.config.id},
           {"module", instance->module().module_id()},
           {"error", std::string(topics.status().message())}});
      continue;
    }
    for (const PushTopic& t : **topics) out.push_back({t, instance->module().module_id()});
  }
  return out;
}

std::vector<PushTopic> TopicsOf(const std::vector<CityTopic>& topics) {
  std::vector<PushTopic> out;
  out.reserve(topics.size());
  for (const CityTopic& t : topics) out.push_back(t.topic);
  return out;
}

absl::StatusOr<notify::Message> MessageFromModule(const civitas_push_message& in,
                                                  absl::string_view module_id,
                                                  const std::vector<PushTopic>& module_topics,
                                                  absl::Time now, std::string* subject,
                                                  absl::Time* due) {
  if (in.struct_size < offsetof(civitas_push_message, send_time_unix_micros) + sizeof(int64_t)) {
    return Invalid("civitas_push_message is truncated: set struct_size = sizeof(the struct)");
  }
  if (in.text_count > 0 && in.texts == nullptr) return Invalid("texts is NULL");
  if (in.text_count > kMaxTexts) {
    return Invalid(absl::StrCat("a message has 1 to ", kMaxTexts, " texts, got ", in.text_count));
  }
  notify::Message m;
  m.set_name("messages/" + NewId());
  std::set<std::string> seen;
  for (absl::string_view topic : absl::StrSplit(View(in.topic, in.topic_size), ',')) {
    if (!IsTopicId(topic)) {
      return absl::NotFoundError(
          "topic must be one or more of the module's push_topics ids, separated by commas");
    }
    const std::string id = absl::StrCat(module_id, ".", topic);
    bool declared = false;
    for (const PushTopic& t : module_topics) declared |= t.id == id;
    if (!declared) {
      return absl::NotFoundError(
          absl::StrCat("topic '", topic, "' is not one of the module's push_topics"));
    }
    if (!seen.insert(id).second) continue;
    if (m.topic().empty()) {
      m.set_topic(id);
    } else {
      m.add_more_topics(id);
    }
  }
  for (size_t i = 0; i < in.text_count; ++i) {
    const civitas_push_text& t = in.texts[i];
    notify::MessageText* out = m.add_texts();
    out->set_language_code(std::string(View(t.language_code, t.language_code_size)));
    out->set_title(std::string(View(t.title, t.title_size)));
    out->set_body(std::string(View(t.body, t.body_size)));
  }
  m.set_deep_link(std::string(View(in.deep_link, in.deep_link_size)));
  m.set_image_url(std::string(View(in.image_url, in.image_url_size)));
  m.set_urgent(in.urgent != 0);
  *due = now;
  if (in.send_time_unix_micros > 0) {
    const absl::Time at = absl::FromUnixMicros(in.send_time_unix_micros);
    SetTime(at, m.mutable_send_time());
    *due = std::max(now, at);
  }
  if (absl::Status s = CheckMessage(m, module_topics, now, kMaxModuleSendAhead); !s.ok()) {
    return s;
  }
  *subject = std::string(View(in.subject, in.subject_size));
  if (subject->size() > 1024 || subject->find('\0') != std::string::npos || !Utf8Length(*subject)) {
    return Invalid("subject must be a signed-in caller's subject (UTF-8, at most 1,024 bytes)");
  }
  SetTime(now, m.mutable_create_time());
  m.set_module(std::string(module_id));
  return m;
}

absl::Status ModuleOutbox::Admit(const std::string& city, const std::string& module, bool personal,
                                 absl::Time now) const {
  const double per_minute =
      personal ? kModulePersonalMessagesPerMinute : kModuleTopicMessagesPerMinute;
  const double burst = personal ? kModulePersonalMessagesBurst : kModuleTopicMessagesBurst;
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = buckets_.try_emplace(absl::StrCat(city, "/", module, personal ? "/p" : "/t"));
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = burst;
  } else {
    b.tokens = std::min(burst, b.tokens + absl::ToDoubleMinutes(now - b.updated) * per_minute);
  }
  b.updated = now;
  if (b.tokens < 1) {
    const int64_t wait = static_cast<int64_t>((1 - b.tokens) / per_minute * 60) + 1;
    return absl::ResourceExhaustedError(absl::StrCat(
        "module '", module, "' may queue at most ", per_minute, personal ? " personal" : " topic",
        " push messages a minute in city '", city, "'; retry in ", wait, " s"));
  }
  b.tokens -= 1;
  return absl::OkStatus();
}

absl::StatusOr<std::string> ModuleOutbox::Queue(ModuleInstance& instance, rocksdb::Transaction* txn,
                                                const civitas_push_message& in,
                                                int64_t* deliveries) const {
  absl::StatusOr<std::shared_ptr<const std::vector<PushTopic>>> topics = instance.PushTopics();
  if (!topics.ok()) return topics.status();
  std::string subject;
  absl::Time due;
  absl::StatusOr<notify::Message> m =
      MessageFromModule(in, instance.module().module_id(), **topics, absl::Now(), &subject, &due);
  if (!m.ok()) return m.status();
  if (absl::Status s =
          Admit(instance.city_id(), instance.module().module_id(), !subject.empty(), absl::Now());
      !s.ok()) {
    return s;
  }
  if (absl::Status s = PushStore::WriteMessage(txn, &*m, absl::ToUnixMicros(due), subject);
      !s.ok()) {
    return s;
  }
  *deliveries = m->device_count();
  Log(LogLevel::kInfo, "push message queued by a module",
      {{"city", instance.city_id()},
       {"module", instance.module().module_id()},
       {"message", m->name()},
       {"topic", m->topic()},
       {"devices", std::to_string(m->device_count())}});
  return m->name();
}

absl::Status ModuleOutbox::Cancel(ModuleInstance& instance, rocksdb::Transaction* txn,
                                  absl::string_view message_name) const {
  constexpr absl::string_view kCollection = "messages/";
  const absl::string_view id =
      message_name.substr(std::min(message_name.size(), kCollection.size()));
  if (!absl::StartsWith(message_name, kCollection) || !IsId(id)) {
    return Invalid("message_name must be \"messages/\" and 32 hexadecimal digits");
  }
  std::string value;
  rocksdb::Status r = txn->Get(rocksdb::ReadOptions(), SystemKey(MessageKey(id)), &value);
  notify::Message m;
  if (r.IsNotFound() ||
      (r.ok() && (!m.ParseFromString(value) || m.module() != instance.module().module_id()))) {
    return absl::NotFoundError(absl::StrCat("no message '", message_name, "' of module '",
                                            instance.module().module_id(), "'"));
  }
  if (!r.ok()) return absl::InternalError("push: read a message: " + r.ToString());
  return PushStore::CancelMessage(txn, std::string(id));
}

}  // namespace civitas::gateway::push
