#include "events.h"

#include <algorithm>
#include <set>
#include <utility>

#include "civitas/config.h"
#include "civitas/json.h"
#include "civitas/text.h"
#include "event_time.h"
#include "ical.h"
#include "validation.h"

namespace events {
namespace {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;
using civitas::ToMicros;

std::vector<civitas::Categories::Category> DefaultCategories() {
  return {{"kultur", {{"de", "Kultur"}, {"en", "Culture"}}},
          {"musik", {{"de", "Musik"}, {"en", "Music"}}},
          {"sport", {{"de", "Sport"}, {"en", "Sports"}}},
          {"familie", {{"de", "Familie & Kinder"}, {"en", "Family & children"}}},
          {"maerkte", {{"de", "Märkte & Feste"}, {"en", "Markets & festivals"}}},
          {"politik", {{"de", "Politik & Beteiligung"}, {"en", "Politics & participation"}}},
          {"bildung", {{"de", "Bildung & Kurse"}, {"en", "Learning & courses"}}},
          {"umwelt", {{"de", "Umwelt"}, {"en", "Environment"}}}};
}

}  // namespace

std::vector<Slot> Occurrences(const pb::Event& event, const absl::TimeZone& fallback, int64_t from,
                              int64_t to, size_t limit) {
  std::vector<Slot> out;
  const absl::TimeZone zone = ZoneOf(event, fallback);
  const absl::Time first = absl::FromUnixMicros(Micros(event.start_time()));
  const absl::CivilSecond first_local = absl::ToCivilSecond(first, zone);
  const absl::CivilSecond end_local =
      absl::ToCivilSecond(absl::FromUnixMicros(Micros(event.end_time())), zone);
  // Later occurrences keep the first one's local duration (10:00-12:00 stays 10:00-12:00).
  const int64_t local_seconds = end_local - first_local;
  std::optional<RRule> rule;
  if (Recurring(event)) {
    RRule parsed;
    std::string error;
    if (!RRule::Parse(event.recurrence_rule(), zone, &parsed, &error)) return out;
    rule = parsed;
  }
  std::set<int64_t> excluded;
  for (const auto& x : event.excluded_starts()) excluded.insert(Micros(x));
  Expand(rule, first_local, zone, [&](absl::CivilSecond local) {
    const int64_t start = absl::ToUnixMicros(absl::FromCivil(local, zone));
    if (start >= to) return false;
    const int64_t end = absl::ToUnixMicros(absl::FromCivil(local + local_seconds, zone));
    if (end > from && !excluded.count(start)) out.push_back({start, std::max(end, start)});
    return out.size() < limit;
  });
  return out;
}

Status ParseConfig(const std::string& json, const std::string& city_id, Config* config) {
  civitas::ConfigReader reader;
  if (Status s = civitas::ConfigReader::Parse(json, &reader); !s.ok()) return s;
  std::string language = "de";
  config->time_zone = "Europe/Berlin";
  config->calendar_name = "Veranstaltungen " + city_id;
  reader.String("default_language", &language, 35)
      .String("time_zone", &config->time_zone, 100)
      .String("calendar_name", &config->calendar_name, 200);
  config->default_language = civitas::PrimaryLanguage(language);
  if (Status s = civitas::Categories::Parse(reader, config->default_language, DefaultCategories(),
                                            &config->categories);
      !s.ok()) {
    return s;
  }
  if (Status s = reader.Finish(); !s.ok()) return s;
  if (!absl::LoadTimeZone(config->time_zone, &config->zone)) {
    return InvalidArgument("time_zone '" + config->time_zone + "' is not an IANA time zone");
  }
  return OkStatus();
}

Status Calendar::Create(civitas::City city, std::unique_ptr<Calendar>* out) {
  Config config;
  if (Status s = ParseConfig(city.ConfigJson(), std::string(city.id()), &config); !s.ok()) return s;
  *out = std::make_unique<Calendar>(city, std::move(config));
  return OkStatus();
}

Status Calendar::LoadLongEvents(std::shared_ptr<const LongEvents>* out) const {
  std::lock_guard<std::mutex> lock(cache_mu_);
  const uint64_t generation = generation_.load();
  if (long_events_ && cached_generation_ == generation) {
    *out = long_events_;
    return OkStatus();
  }
  auto fresh = std::make_shared<LongEvents>();
  civitas::ScanOptions scan;
  scan.prefix = "r/";
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::vector<std::string> ids;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    ids.emplace_back(key.substr(2));
    return true;
  });
  if (!s.ok()) return s;
  for (const std::string& id : ids) {
    auto e = std::make_shared<pb::Event>();
    s = Load(id, e.get());
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    (*fresh)[id] = std::move(e);
  }
  // Writes that committed while this was read bump the generation: the next reader reloads.
  long_events_ = fresh;
  cached_generation_ = generation;
  *out = fresh;
  return OkStatus();
}

Status Calendar::Load(const std::string& id, pb::Event* event, civitas::Transaction* txn,
                      bool for_update) const {
  std::string bytes;
  Status s = txn ? txn->Get("e/" + id, &bytes, for_update) : city_.store().Get("e/" + id, &bytes);
  if (s.code() == CIVITAS_NOT_FOUND)
    return civitas::NotFound("event 'events/" + id + "' does not exist");
  if (!s.ok()) return s;
  if (!event->ParseFromString(bytes)) return civitas::Internal("stored event is corrupt");
  return OkStatus();
}

pb::Event Calendar::View(const pb::Event& stored, const std::string& language) const {
  pb::Event out = stored;
  const std::string wanted[] = {civitas::PrimaryLanguage(language), config_.default_language};
  // The language asked for, else the city's, else the event's own; a translation without a
  // description shows the original's (the same rules as the news module's).
  for (const std::string& w : wanted) {
    if (w.empty()) continue;
    if (civitas::PrimaryLanguage(stored.language_code()) == w) break;
    bool found = false;
    for (const pb::Localization& l : stored.localizations()) {
      if (civitas::PrimaryLanguage(l.language_code()) == w) {
        out.set_language_code(l.language_code());
        out.set_title(l.title());
        if (!l.description().empty()) out.set_description(l.description());
        found = true;
        break;
      }
    }
    if (found) break;
  }
  if (!language.empty()) out.clear_localizations();
  return out;
}

Status Calendar::Save(civitas::Transaction& txn, const pb::Event* before, const pb::Event* after,
                      int64_t now) const {
  const std::string id = (before ? before->name() : after->name()).substr(7);
  Status s;
  if (before) {
    s = InRWindowIndex(*before) ? txn.Delete("r/" + id)
                                : txn.Delete("w/" + Hex(Micros(before->start_time())) + id);
    if (!s.ok()) return s;
  }
  if (!after) {
    if (s = txn.Delete("e/" + id); !s.ok()) return s;
    if (!before->external_id().empty()) {
      if (s = txn.Delete("x/" + before->external_id()); !s.ok()) return s;
    }
    return changes_.Record(txn, id, now);
  }
  if (s = txn.Put("e/" + id, after->SerializeAsString()); !s.ok()) return s;
  s = InRWindowIndex(*after) ? txn.Put("r/" + id, "")
                             : txn.Put("w/" + Hex(Micros(after->start_time())) + id, "");
  if (!s.ok()) return s;
  return changes_.Record(txn, id, now);
}

void Calendar::Announce(pb::EventChange::Type type, const pb::Event& event) const {
  Invalidate();  // called after every committed write
  pb::EventChange change;
  change.set_type(type);
  if (type == pb::EventChange::DELETED) {
    change.mutable_event()->set_name(event.name());
  } else {
    *change.mutable_event() = event;
  }
  (void)city_.Publish(kTopic, change);
}

Status Calendar::Candidates(int64_t from, int64_t to, std::vector<std::string>* ids) const {
  civitas::ScanOptions shorts;
  shorts.prefix = "w/";
  shorts.start = "w/" + Hex(std::max<int64_t>(0, from - kShortEvent));
  shorts.limit = CIVITAS_SCAN_MAX_LIMIT;
  Status s = city_.store().Scan(shorts, [&](std::string_view key, std::string_view) {
    if (key.size() != 2 + 32) return true;
    if (static_cast<int64_t>(civitas::ParseHex(key.substr(2, 16))) >= to) return false;
    ids->emplace_back(key.substr(18));
    return true;
  });
  if (!s.ok()) return s;
  civitas::ScanOptions longs;
  longs.prefix = "r/";
  longs.limit = CIVITAS_SCAN_MAX_LIMIT;
  return city_.store().Scan(longs, [&](std::string_view key, std::string_view) {
    ids->emplace_back(key.substr(2));
    return true;
  });
}

Status Calendar::ListEvents(civitas::Call& call, const pb::ListEventsRequest& request,
                            pb::ListEventsResponse* response) {
  Status s;
  if (s = civitas::CheckPageSize(request.page_size(), kMaxPage); !s.ok()) return s;
  if (s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok()) return s;
  if (!request.category().empty()) {
    if (s = config_.categories.Check("category", request.category()); !s.ok()) return s;
  }
  if ((request.has_start_time() && !civitas::ValidTimestamp(request.start_time())) ||
      (request.has_end_time() && !civitas::ValidTimestamp(request.end_time()))) {
    return InvalidArgument("start_time and end_time must lie between the years 1 and 9999");
  }
  const int64_t now = city_.NowMicros();
  const int64_t from = request.has_start_time() ? Micros(request.start_time()) : now;
  const int64_t to = request.has_end_time() ? Micros(request.end_time()) : from + 30 * kDay;
  if (to <= from) return InvalidArgument("end_time must be after start_time");
  if (to - from > 366 * kDay) return InvalidArgument("the window is at most 366 days long");
  const bool near = request.has_near();
  if (near) {
    if (s = civitas::CheckCoordinates("near", request.near().latitude(),
                                      request.near().longitude());
        !s.ok()) {
      return s;
    }
    if (!(request.radius_meters() >= 1 && request.radius_meters() <= 100000)) {
      return InvalidArgument("radius_meters must be between 1 and 100000 with near");
    }
  }
  // Page token: "<start><id>" of the last occurrence returned.
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() != 32 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued for this query")
        .WithReason("PAGE_TOKEN_INVALID");
  }
  const int size = request.page_size() == 0 ? 20 : request.page_size();
  // An unset window start means "now": such pages are cached with the time they were made.
  const uint64_t generation = pages_.generation();
  const std::string cache_key = "e" + request.SerializeAsString();
  if (std::string cached; pages_.Get(cache_key, now, &cached)) {
    call.ReplySerialized(std::move(cached));
    return OkStatus();
  }
  struct Hit {
    std::string key;  // <start><id>
    Slot slot;
    std::shared_ptr<const pb::Event> event;
    double distance;
  };
  std::vector<Hit> hits;
  // Adds the event's occurrences in the window that pass the filters; returns how many.
  auto consider = [&](std::shared_ptr<const pb::Event> e, const std::string& id) {
    if (!request.category().empty() && std::find(e->categories().begin(), e->categories().end(),
                                                 request.category()) == e->categories().end()) {
      return 0;
    }
    double distance = 0;
    if (near) {
      if (!e->location().has_point()) return 0;
      distance = civitas::DistanceMeters(request.near().latitude(), request.near().longitude(),
                                         e->location().point().latitude(),
                                         e->location().point().longitude());
      if (distance > request.radius_meters()) return 0;
    }
    int added = 0;
    for (const Slot& slot : Occurrences(*e, config_.zone, from, to)) {
      std::string key = Hex(slot.start) + id;
      if (!token.empty() && key <= token) continue;
      hits.push_back({std::move(key), slot, e, distance});
      ++added;
    }
    return added;
  };
  // Recurring and long events, from memory.
  std::shared_ptr<const LongEvents> longs;
  if (s = LoadLongEvents(&longs); !s.ok()) return s;
  for (const auto& [id, e] : *longs) consider(e, id);
  // Single events in start order: once size + 1 of them are in, later ones cannot make the page.
  civitas::ScanOptions shorts;
  shorts.prefix = "w/";
  shorts.start = "w/" + Hex(std::max<int64_t>(0, from - kShortEvent));
  if (!token.empty()) shorts.start = std::max(shorts.start, "w/" + token.substr(0, 16));
  shorts.limit = CIVITAS_SCAN_MAX_LIMIT;
  std::vector<std::string> ids;
  s = city_.store().Scan(shorts, [&](std::string_view key, std::string_view) {
    if (key.size() != 2 + 32) return true;
    if (static_cast<int64_t>(civitas::ParseHex(key.substr(2, 16))) >= to) return false;
    ids.emplace_back(key.substr(18));
    return true;
  });
  if (!s.ok()) return s;
  int singles = 0;
  for (const std::string& id : ids) {
    auto e = std::make_shared<pb::Event>();
    s = Load(id, e.get());
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    singles += consider(e, id);
    if (singles > size) break;
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) { return a.key < b.key; });
  for (size_t i = 0; i < hits.size() && static_cast<int>(i) < size; ++i) {
    const Hit& h = hits[i];
    pb::Occurrence* o = response->add_occurrences();
    *o->mutable_event() = View(*h.event, request.language_code().empty() ? config_.default_language
                                                                         : request.language_code());
    civitas::SetMicros(h.slot.start, o->mutable_start_time());
    civitas::SetMicros(h.slot.end, o->mutable_end_time());
    o->set_distance_meters(h.distance);
    if (h.event->capacity() > 0) {
      std::string count;
      const std::string id = h.event->name().substr(7);
      Status c = city_.store().Get("n/" + id + "/" + Hex(h.slot.start), &count);
      const int taken = c.ok() ? static_cast<int>(civitas::DecodeU64(count)) : 0;
      o->set_registered(taken);
      o->set_seats_left(std::max(0, h.event->capacity() - taken));
    }
  }
  if (static_cast<int>(hits.size()) > size) response->set_next_page_token(hits[size - 1].key);
  pages_.Put(cache_key, generation, now, response->SerializeAsString());
  return OkStatus();
}

Status Calendar::GetEvent(civitas::Call&, const pb::GetEventRequest& request, pb::Event* response) {
  std::string id;
  if (Status s = civitas::IdFromName("events", request.name(), &id); !s.ok()) return s;
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok()) {
    return s;
  }
  pb::Event stored;
  if (Status s = Load(id, &stored); !s.ok()) return s;
  *response = View(stored, request.language_code());
  return OkStatus();
}

Status Calendar::CreateEvent(civitas::Call&, const pb::CreateEventRequest& request,
                             pb::Event* response) {
  if (!request.has_event()) return InvalidArgument("event is required");
  pb::Event e = request.event();
  e.clear_name();
  e.clear_external_id();
  e.clear_create_time();
  e.clear_update_time();
  e.clear_etag();
  if (Status s = Normalize(&e); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  const std::string id = civitas::NewResourceId();
  e.set_name("events/" + id);
  civitas::SetMicros(now, e.mutable_create_time());
  civitas::SetMicros(now, e.mutable_update_time());
  e.set_etag(civitas::NextEtag("", now));
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    std::string existing;
    if (txn.Get("e/" + id, &existing).ok()) return civitas::Aborted("id collision, retry");
    return Save(txn, nullptr, &e, now);
  });
  if (!s.ok()) return s;
  Announce(pb::EventChange::CREATED, e);
  *response = e;
  return OkStatus();
}

Status Calendar::UpdateEvent(civitas::Call&, const pb::UpdateEventRequest& request,
                             pb::Event* response) {
  std::string id;
  if (Status s = civitas::IdFromName("events", request.event().name(), &id, "event.name");
      !s.ok()) {
    return s;
  }
  std::vector<std::string> paths(request.update_mask().paths().begin(),
                                 request.update_mask().paths().end());
  if (paths.empty()) paths.assign(WritablePaths().begin(), WritablePaths().end());
  for (const std::string& p : paths) {
    if (!WritablePaths().count(p)) {
      return InvalidArgument("update_mask: '" + p + "' is not a writable field of Event");
    }
  }
  const int64_t now = city_.NowMicros();
  pb::Event after;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    pb::Event before;
    if (Status l = Load(id, &before, &txn, true); !l.ok()) return l;
    if (Status e = civitas::CheckEtag(request.event().etag(), before.etag(), "event"); !e.ok()) {
      return e;
    }
    after = before;
    for (const std::string& p : paths) CopyField(p, request.event(), &after);
    if (Status v = Normalize(&after); !v.ok()) return v;
    civitas::SetMicros(now, after.mutable_update_time());
    after.set_etag(civitas::NextEtag(before.etag(), now));
    if (Status f = FollowReminders(txn, before, after, now); !f.ok()) return f;
    return Save(txn, &before, &after, now);
  });
  if (!s.ok()) return s;
  Announce(pb::EventChange::CHANGED, after);
  *response = after;
  return OkStatus();
}

Status Calendar::DeleteEvent(civitas::Call&, const pb::DeleteEventRequest& request,
                             google::protobuf::Empty*) {
  std::string id;
  if (Status s = civitas::IdFromName("events", request.name(), &id); !s.ok()) return s;
  const int64_t now = city_.NowMicros();
  // Registrations go with the event (and from their holders' lists), in the same transaction.
  std::vector<std::string> seats;
  civitas::ScanOptions scan;
  scan.prefix = "s/" + id + "/";
  scan.limit = CIVITAS_SCAN_MAX_LIMIT;
  if (Status s = city_.store().Scan(scan,
                                    [&](std::string_view key, std::string_view) {
                                      seats.emplace_back(key);
                                      return true;
                                    });
      !s.ok()) {
    return s;
  }
  pb::Event before;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    if (Status l = Load(id, &before, &txn, true); !l.ok()) return l;
    if (Status e = civitas::CheckEtag(request.etag(), before.etag(), "event"); !e.ok()) return e;
    for (const std::string& key : seats) {
      // s/<id>/<occurrence>/<subject>
      const std::string occurrence = key.substr(2 + 16 + 1, 16);
      const std::string subject = key.substr(2 + 16 + 1 + 16 + 1);
      Status d = txn.Delete(key);
      if (d.ok()) d = txn.Delete("m/" + subject + '\0' + occurrence + id);
      if (d.ok()) d = txn.Delete("n/" + id + "/" + occurrence);
      if (d.ok()) d = WithdrawReminder(txn, id, occurrence, subject);
      if (!d.ok()) return d;
    }
    return Save(txn, &before, nullptr, now);
  });
  if (!s.ok()) return s;
  Announce(pb::EventChange::DELETED, before);
  return OkStatus();
}

Status Calendar::ListCategories(civitas::Call&, const pb::ListCategoriesRequest& request,
                                pb::ListCategoriesResponse* response) {
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok()) {
    return s;
  }
  for (const auto& c : config_.categories.list()) {
    pb::Category* out = response->add_categories();
    out->set_id(c.id);
    out->set_display_name(config_.categories.DisplayName(c.id, request.language_code()));
  }
  return OkStatus();
}

Status Calendar::WatchEvents(civitas::Call&, const pb::WatchEventsRequest&,
                             civitas::ServerWriter<pb::EventChange>& writer) {
  return writer.Follow(kTopic);
}

Status Calendar::ListChanges(civitas::Call&, const pb::ListChangesRequest& request,
                             pb::ListChangesResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), 500); !s.ok()) return s;
  if (Status s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok()) {
    return s;
  }
  civitas::ChangeLog::Page page;
  Status s = changes_.Read(city_.store(), request.sync_token(), city_.NowMicros(),
                           request.page_size() == 0 ? 100 : request.page_size(), &page);
  if (!s.ok()) return s;
  for (const std::string& id : page.ids) {
    pb::Event stored;
    Status l = Load(id, &stored);
    if (l.ok()) {
      *response->add_upserts() = View(stored, request.language_code());
    } else if (l.code() == CIVITAS_NOT_FOUND) {
      response->add_removed("events/" + id);
    } else {
      return l;
    }
  }
  response->set_next_sync_token(page.next_token);
  response->set_has_more(page.has_more);
  return OkStatus();
}

}  // namespace events

CIVITAS_MODULE(
    civitas::ModuleBuilder<events::Calendar>("civitas.events", "1.0.0", &events::Calendar::Create)
        .Service("civitas.events.v1.EventsService")
        .Unary("ListEvents", civitas::Role::kAnonymous, &events::Calendar::ListEvents)
        .Unary("GetEvent", civitas::Role::kAnonymous, &events::Calendar::GetEvent)
        .Unary("CreateEvent", civitas::Role::kEditor, &events::Calendar::CreateEvent)
        .Unary("UpdateEvent", civitas::Role::kEditor, &events::Calendar::UpdateEvent)
        .Unary("DeleteEvent", civitas::Role::kEditor, &events::Calendar::DeleteEvent)
        .Unary("RegisterForEvent", civitas::Role::kCitizen, &events::Calendar::RegisterForEvent)
        .Unary("CancelRegistration", civitas::Role::kCitizen, &events::Calendar::CancelRegistration)
        .Unary("ListEventRegistrations", civitas::Role::kEditor,
               &events::Calendar::ListEventRegistrations)
        .Unary("ListMyRegistrations", civitas::Role::kCitizen,
               &events::Calendar::ListMyRegistrations)
        .Unary("ListCategories", civitas::Role::kAnonymous, &events::Calendar::ListCategories)
        .ServerStream("WatchEvents", civitas::Role::kAnonymous, &events::Calendar::WatchEvents)
        .Unary("ListChanges", civitas::Role::kAnonymous, &events::Calendar::ListChanges)
        .Unary("ExportCalendar", civitas::Role::kAnonymous, &events::Calendar::ExportCalendar)
        .Unary("ImportCalendar", civitas::Role::kEditor, &events::Calendar::ImportCalendar)
        .PersonalData(&events::Calendar::ExportPersonalData, &events::Calendar::ErasePersonalData)
        .PushTopics(&events::Calendar::PushTopics))
