// The events module: what happens in the city, with recurrences, seats and iCalendar.
//
// Keys (inside the module's namespace; <id> is 16 hex digits, times are 16 hex digits of unix
// microseconds):
//   e/<id>                          Event as stored
//   w/<start><id>                   single events up to kShortEvent long, by start: a window is
//                                   one range scan from (window start - kShortEvent)
//   r/<id>                          recurring and longer events (few; scanned whole and expanded)
//   x/<uid>                         id of an event imported from iCalendar
//   s/<id>/<occurrence>/<subject>   Registration
//   n/<id>/<occurrence>             seats taken (8-byte counter, read and written under a lock)
//   m/<subject>\0<occurrence><id>   the subject's registrations, soonest first
//   p/<id>/<occurrence>/<subject>   message name of the registration's reminder push (ABI 1.3,
//                                   reminders.cc); only while one is queued
//   ~...                            change log (civitas/changes.h)
#ifndef CIVITAS_MODULES_EVENTS_EVENTS_H_
#define CIVITAS_MODULES_EVENTS_EVENTS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "civitas/cache.h"
#include "civitas/changes.h"
#include "civitas/content.h"
#include "civitas/events/v1/events.pb.h"
#include "civitas/module.h"
#include "civitas/push.h"
#include "rrule.h"

namespace events {

namespace pb = ::civitas::events::v1;

struct Config {
  std::string default_language = "de";
  std::string time_zone = "Europe/Berlin";
  absl::TimeZone zone;
  civitas::Categories categories;
  std::string calendar_name;
};

civitas::Status ParseConfig(const std::string& json, const std::string& city_id, Config* config);

// One occurrence, in absolute time.
struct Slot {
  int64_t start = 0, end = 0;  // unix micros
};

// The occurrences of `event` that overlap [from, to), in order (EXDATEs removed).
std::vector<Slot> Occurrences(const pb::Event& event, const absl::TimeZone& zone, int64_t from,
                              int64_t to, size_t limit = 10000);

// The key of a registration's reminder, p/<id>/<occurrence>/<subject>.
std::string ReminderKey(std::string_view id, std::string_view occurrence, std::string_view subject);

class Calendar {
 public:
  static civitas::Status Create(civitas::City city, std::unique_ptr<Calendar>* out);
  Calendar(civitas::City city, Config config) : city_(city), config_(std::move(config)) {}

  civitas::Status ListEvents(civitas::Call& call, const pb::ListEventsRequest& request,
                             pb::ListEventsResponse* response);
  civitas::Status GetEvent(civitas::Call& call, const pb::GetEventRequest& request,
                           pb::Event* response);
  civitas::Status CreateEvent(civitas::Call& call, const pb::CreateEventRequest& request,
                              pb::Event* response);
  civitas::Status UpdateEvent(civitas::Call& call, const pb::UpdateEventRequest& request,
                              pb::Event* response);
  civitas::Status DeleteEvent(civitas::Call& call, const pb::DeleteEventRequest& request,
                              google::protobuf::Empty* response);
  civitas::Status RegisterForEvent(civitas::Call& call, const pb::RegisterForEventRequest& request,
                                   pb::Registration* response);
  civitas::Status CancelRegistration(civitas::Call& call,
                                     const pb::CancelRegistrationRequest& request,
                                     google::protobuf::Empty* response);
  civitas::Status ListEventRegistrations(civitas::Call& call,
                                         const pb::ListEventRegistrationsRequest& request,
                                         pb::ListEventRegistrationsResponse* response);
  civitas::Status ListMyRegistrations(civitas::Call& call,
                                      const pb::ListMyRegistrationsRequest& request,
                                      pb::ListMyRegistrationsResponse* response);
  civitas::Status ListCategories(civitas::Call& call, const pb::ListCategoriesRequest& request,
                                 pb::ListCategoriesResponse* response);
  civitas::Status WatchEvents(civitas::Call& call, const pb::WatchEventsRequest& request,
                              civitas::ServerWriter<pb::EventChange>& writer);
  civitas::Status ListChanges(civitas::Call& call, const pb::ListChangesRequest& request,
                              pb::ListChangesResponse* response);
  civitas::Status ExportCalendar(civitas::Call& call, const pb::ExportCalendarRequest& request,
                                 google::api::HttpBody* response);
  // A citizen's data (ABI 1.2): their registrations.
  civitas::Status ExportPersonalData(std::string_view subject, std::string* json);
  // Cancels the subject's registrations (a seat of an occurrence still ahead is freed; past ones
  // stay counted, without the subject).
  civitas::Status ErasePersonalData(std::string_view subject);
  civitas::Status ImportCalendar(civitas::Call& call, const pb::ImportCalendarRequest& request,
                                 pb::ImportCalendarResponse* response);
  // Push topics (ABI 1.3): "reminders", a registrant's reminder the day before.
  civitas::Status PushTopics(std::vector<civitas::PushTopic>* topics);

 private:
  civitas::Status Load(const std::string& id, pb::Event* event, civitas::Transaction* txn = nullptr,
                       bool for_update = false) const;
  // Ids of events that may have occurrences in [from, to).
  civitas::Status Candidates(int64_t from, int64_t to, std::vector<std::string>* ids) const;
  // Defaults filled in, then every field checked.
  civitas::Status Normalize(pb::Event* event) const;
  civitas::Status Save(civitas::Transaction& txn, const pb::Event* before, const pb::Event* after,
                       int64_t now) const;
  void Announce(pb::EventChange::Type type, const pb::Event& event) const;
  pb::Event View(const pb::Event& stored, const std::string& language) const;
  // Resolves an occurrence of `event` (unset = the first); NOT_FOUND if it is not one.
  // Keys of m/<subject>\0… (the subject's registrations).
  civitas::Status RegistrationKeysOf(std::string_view subject,
                                     std::vector<std::string>* keys) const;
  civitas::Status FindOccurrence(const pb::Event& event, const google::protobuf::Timestamp* start,
                                 Slot* slot) const;
  // The reminder of `subject`'s registration for the occurrence of `event` at `start`, sent 24
  // hours before it; none for an anonymous caller, a start 24 hours or less or more than 401
  // days ahead, or an event that is cancelled or postponed.
  std::optional<civitas::PushMessage> Reminder(const pb::Event& event, int64_t start,
                                               std::string_view subject, int64_t now) const;
  // Queues that reminder in `txn` and stores its name; OK without one on a gateway before 1.3.
  civitas::Status QueueReminder(civitas::Transaction& txn, const pb::Event& event, int64_t start,
                                std::string_view subject, int64_t now) const;
  // Cancels the registration's reminder, if it has one, and forgets its name.
  civitas::Status WithdrawReminder(civitas::Transaction& txn, const std::string& id,
                                   const std::string& occurrence, std::string_view subject) const;
  // After an update, for every registration of the event: a reminder that would now read
  // differently is withdrawn, and one is queued if the occurrence is still there and due one.
  civitas::Status FollowReminders(civitas::Transaction& txn, const pb::Event& before,
                                  const pb::Event& after, int64_t now) const;
  civitas::Status ChangeSeat(civitas::Call& call, const std::string& name,
                             const google::protobuf::Timestamp* start, bool take,
                             pb::Registration* out);

  // Recurring and long events (the r/ set), parsed, for ListEvents. Every committed write bumps
  // generation_ (see Save's callers), and a reader reloads when its copy is older.
  using LongEvents = std::map<std::string, std::shared_ptr<const pb::Event>>;
  civitas::Status LoadLongEvents(std::shared_ptr<const LongEvents>* out) const;
  void Invalidate() const {
    ++generation_;
    pages_.Invalidate();
  }

  civitas::City city_;
  Config config_;
  civitas::ChangeLog changes_{"~"};
  mutable std::mutex cache_mu_;
  mutable std::atomic<uint64_t> generation_{0};
  mutable uint64_t cached_generation_ = 0;
  mutable std::shared_ptr<const LongEvents> long_events_;
  // ListEvents pages for one second or until the next write (registrations included).
  mutable civitas::ResponseCache pages_{1'000'000};
};

}  // namespace events

#endif  // CIVITAS_MODULES_EVENTS_EVENTS_H_
