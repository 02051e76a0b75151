// Push notifications sent by modules (ABI 1.3, docs/push.md "From modules"): the topics a module
// declares (civitas_module_def.push_topics), the city's whole topic list (its config's, then its
// modules'), and the host API's push_send / push_cancel, which write a message and its deliveries
// into the module's own open transaction, so they commit with the change that caused them.
#ifndef CIVITAS_GATEWAY_PUSH_MODULE_PUSH_H_
#define CIVITAS_GATEWAY_PUSH_MODULE_PUSH_H_

#include <rocksdb/utilities/transaction.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "civitas/abi.h"
#include "civitas/notify/v1/notify.pb.h"
#include "services/gateway/config.h"

namespace civitas::gateway {
class ModuleInstance;
struct CityRoutes;
}  // namespace civitas::gateway

namespace civitas::gateway::push {

namespace notify = ::civitas::notify::v1;

// How far ahead a module may schedule a message (an event reminder the day before an event
// months away); editors' SendMessage keeps kMaxSendAhead.
inline constexpr absl::Duration kMaxModuleSendAhead = absl::Hours(24 * 400);
inline constexpr size_t kMaxModuleTopics = 64;

// A topic of the city: from its config (module empty) or declared by a module.
struct CityTopic {
  PushTopic topic;     // id as devices name it ("abfall-nord", "civitas.news.verkehr")
  std::string module;  // the declaring module's id; empty = the city's config
};

// The JSON a module's push_topics wrote, as the city sees its topics: ids "<module_id>.<id>".
// INVALID_ARGUMENT naming the entry for anything outside abi.h's rules.
absl::StatusOr<std::vector<PushTopic>> ParseModuleTopics(absl::string_view module_id,
                                                         absl::string_view json);

// The city's config topics, then every module's (in the order of the city's modules). A module
// whose push_topics fails is left out and logged; the others still count.
std::vector<CityTopic> CityTopics(const CityRoutes& routes, const CityPushConfig& config);
// Just the topics, for the request checks (push_requests.h).
std::vector<PushTopic> TopicsOf(const std::vector<CityTopic>& topics);

// A module's civitas_push_message as a notify Message (name, create_time and module set), checked
// like SendMessage's (CheckMessage) but for the module's own topics and kMaxModuleSendAhead.
// `*subject` receives the recipient subject (empty = the whole topic); `*due` when to deliver.
absl::StatusOr<notify::Message> MessageFromModule(const civitas_push_message& in,
                                                  absl::string_view module_id,
                                                  const std::vector<PushTopic>& module_topics,
                                                  absl::Time now, std::string* subject,
                                                  absl::Time* due);

// How many messages one module may queue in one city: to a whole topic (every device of it) and
// personal ones (one subject's devices). A flood from a module loop, or an editor publishing
// article after article with notify, stops here: push_send answers RESOURCE_EXHAUSTED and the
// module's change fails with it, nothing is queued.
inline constexpr int kModuleTopicMessagesPerMinute = 20;
inline constexpr int kModuleTopicMessagesBurst = 10;
inline constexpr int kModulePersonalMessagesPerMinute = 600;
inline constexpr int kModulePersonalMessagesBurst = 200;

// What the host API's push entries reach. One per gateway; ModuleInstance keeps a pointer.
class ModuleOutbox {
 public:
  // `on_queued` runs after the module's transaction committed (counts the deliveries, wakes
  // the delivery workers).
  explicit ModuleOutbox(std::function<void(const std::string& city, int64_t deliveries)> on_queued)
      : on_queued_(std::move(on_queued)) {}

  // push_send: checks `in` and writes the message and its deliveries into `txn`. Returns the
  // message's name; *deliveries counts them (reported by Committed after the commit).
  absl::StatusOr<std::string> Queue(ModuleInstance& instance, rocksdb::Transaction* txn,
                                    const civitas_push_message& in, int64_t* deliveries) const;
  // push_cancel: the message's pending deliveries become CANCELLED. NOT_FOUND if the message
  // does not exist or another module (or an editor) sent it.
  absl::Status Cancel(ModuleInstance& instance, rocksdb::Transaction* txn,
                      absl::string_view message_name) const;
  void Committed(const std::string& city, int64_t deliveries) const {
    if (on_queued_ && deliveries > 0) on_queued_(city, deliveries);
  }

 private:
  // Takes one message from the bucket of (city, module, personal); RESOURCE_EXHAUSTED if empty.
  absl::Status Admit(const std::string& city, const std::string& module, bool personal,
                     absl::Time now) const;

  struct Bucket {
    double tokens = 0;
    absl::Time updated;
  };
  std::function<void(const std::string& city, int64_t deliveries)> on_queued_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace civitas::gateway::push

#endif  // CIVITAS_GATEWAY_PUSH_MODULE_PUSH_H_
