#include "events.h"

#include <algorithm>
#include <set>
#include <utility>

#include "civitas/config.h"
#include "civitas/json.h"
#include "civitas/text.h"
#include "ical.h"

namespace events {
namespace {

using civitas::CheckText;
using civitas::InvalidArgument;
using civitas::OkStatus;
using civitas::Status;
using civitas::ToMicros;

constexpr char kTopic[] = "events";
constexpr int64_t kSecond = 1000000;
constexpr int64_t kDay = 86400 * kSecond;
// Single events up to this long are indexed by start (w/); longer ones are listed in r/.
constexpr int64_t kShortEvent = 7 * kDay;
constexpr int kMaxPage = 100;

int64_t Micros(const google::protobuf::Timestamp& t) { return ToMicros(t); }

std::string Hex(int64_t micros) { return civitas::Hex16(static_cast<uint64_t>(micros)); }

// 8-byte little-endian seat counter.
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

const std::set<std::string>& WritablePaths() {
  static const std::set<std::string> paths = {"title",
                                              "description",
                                              "language_code",
                                              "localizations",
                                              "start_time",
                                              "end_time",
                                              "time_zone",
                                              "all_day",
                                              "recurrence_rule",
                                              "excluded_starts",
                                              "location",
                                              "categories",
                                              "organizer",
                                              "free",
                                              "price_info",
                                              "accessibility_notes",
                                              "image",
                                              "url",
                                              "status",
                                              "capacity",
                                              "registration_open"};
  return paths;
}

void CopyField(const std::string& path, const pb::Event& from, pb::Event* to) {
  if (path == "title") to->set_title(from.title());
  if (path == "description") to->set_description(from.description());
  if (path == "language_code") to->set_language_code(from.language_code());
  if (path == "localizations") *to->mutable_localizations() = from.localizations();
  if (path == "start_time") *to->mutable_start_time() = from.start_time();
  if (path == "end_time") *to->mutable_end_time() = from.end_time();
  if (path == "time_zone") to->set_time_zone(from.time_zone());
  if (path == "all_day") to->set_all_day(from.all_day());
  if (path == "recurrence_rule") to->set_recurrence_rule(from.recurrence_rule());
  if (path == "excluded_starts") *to->mutable_excluded_starts() = from.excluded_starts();
  if (path == "location") {
    if (from.has_location()) {
      *to->mutable_location() = from.location();
    } else {
      to->clear_location();
    }
  }
  if (path == "categories") *to->mutable_categories() = from.categories();
  if (path == "organizer") to->set_organizer(from.organizer());
  if (path == "free") to->set_free(from.free());
  if (path == "price_info") to->set_price_info(from.price_info());
  if (path == "accessibility_notes") to->set_accessibility_notes(from.accessibility_notes());
  if (path == "image") {
    if (from.has_image()) {
      *to->mutable_image() = from.image();
    } else {
      to->clear_image();
    }
  }
  if (path == "url") to->set_url(from.url());
  if (path == "status") to->set_status(from.status());
  if (path == "capacity") to->set_capacity(from.capacity());
  if (path == "registration_open") to->set_registration_open(from.registration_open());
}

absl::TimeZone ZoneOf(const pb::Event& e, const absl::TimeZone& fallback) {
  absl::TimeZone zone;
  return !e.time_zone().empty() && absl::LoadTimeZone(e.time_zone(), &zone) ? zone : fallback;
}

bool Recurring(const pb::Event& e) { return !e.recurrence_rule().empty(); }

bool InRWindowIndex(const pb::Event& e) {
  return Recurring(e) || Micros(e.end_time()) - Micros(e.start_time()) > kShortEvent;
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
  for (const std::string& w : wanted) {
    if (w.empty() || civitas::PrimaryLanguage(stored.language_code()) == w) break;
    bool found = false;
    for (const pb::Localization& l : stored.localizations()) {
      if (civitas::PrimaryLanguage(l.language_code()) == w) {
        out.set_language_code(l.language_code());
        out.set_title(l.title());
        out.set_description(l.description());
        found = true;
        break;
      }
    }
    if (found) break;
  }
  if (!language.empty()) out.clear_localizations();
  return out;
}

Status Calendar::Normalize(pb::Event* e) const {
  Status s;
  if (e->language_code().empty()) e->set_language_code(config_.default_language);
  if (e->time_zone().empty()) e->set_time_zone(config_.time_zone);
  if (e->status() == pb::Event::STATUS_UNSPECIFIED) e->set_status(pb::Event::SCHEDULED);
  e->set_title(civitas::StripHtml(e->title()));
  e->set_description(civitas::StripHtml(e->description()));
  if (s = CheckText("event.title", e->title(), 1, 200); !s.ok()) return s;
  if (s = CheckText("event.description", e->description(), 0, 20000); !s.ok()) return s;
  if (s = CheckText("event.organizer", e->organizer(), 0, 200); !s.ok()) return s;
  if (s = CheckText("event.price_info", e->price_info(), 0, 200); !s.ok()) return s;
  if (s = CheckText("event.accessibility_notes", e->accessibility_notes(), 0, 1000); !s.ok())
    return s;
  if (!civitas::IsLanguageTag(e->language_code())) {
    return InvalidArgument("event.language_code '" + e->language_code() +
                           "' is not a language tag like 'de' or 'en-GB'");
  }
  std::set<std::string> languages = {civitas::PrimaryLanguage(e->language_code())};
  if (e->localizations_size() > 20)
    return InvalidArgument("event.localizations has at most 20 entries");
  for (int i = 0; i < e->localizations_size(); ++i) {
    pb::Localization* l = e->mutable_localizations(i);
    const std::string where = "event.localizations[" + std::to_string(i) + "]";
    if (!civitas::IsLanguageTag(l->language_code())) {
      return InvalidArgument(where + ".language_code '" + l->language_code() +
                             "' is not a language tag like 'de' or 'en-GB'");
    }
    if (!languages.insert(civitas::PrimaryLanguage(l->language_code())).second) {
      return InvalidArgument(where + ".language_code '" + l->language_code() + "' is used twice");
    }
    l->set_title(civitas::StripHtml(l->title()));
    l->set_description(civitas::StripHtml(l->description()));
    if (s = CheckText(where + ".title", l->title(), 1, 200); !s.ok()) return s;
    if (s = CheckText(where + ".description", l->description(), 0, 20000); !s.ok()) return s;
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(e->time_zone(), &zone)) {
    return InvalidArgument("event.time_zone '" + e->time_zone() +
                           "' is not an IANA time zone like 'Europe/Berlin'");
  }
  if (!e->has_start_time()) return InvalidArgument("event.start_time is required");
  if (!e->has_end_time()) return InvalidArgument("event.end_time is required");
  if (!civitas::ValidTimestamp(e->start_time()) || !civitas::ValidTimestamp(e->end_time())) {
    return InvalidArgument("event times must lie between the years 1 and 9999");
  }
  if (Micros(e->end_time()) <= Micros(e->start_time())) {
    return InvalidArgument("event.end_time must be after event.start_time");
  }
  if (Micros(e->end_time()) - Micros(e->start_time()) > 400 * kDay) {
    return InvalidArgument("an event lasts at most 400 days; use a recurrence for series");
  }
  if (e->all_day()) {
    for (const auto* t : {&e->start_time(), &e->end_time()}) {
      const absl::CivilSecond local = absl::ToCivilSecond(absl::FromUnixMicros(Micros(*t)), zone);
      if (local.hour() || local.minute() || local.second()) {
        return InvalidArgument(
            "an all_day event starts and ends at local midnight in its time_zone (end exclusive)");
      }
    }
  }
  if (Recurring(*e)) {
    RRule rule;
    std::string error;
    if (!RRule::Parse(e->recurrence_rule(), zone, &rule, &error)) {
      return InvalidArgument("event." + error);
    }
    e->set_recurrence_rule(rule.ToString());
    if (rule.freq == RRule::Freq::kDaily &&
        Micros(e->end_time()) - Micros(e->start_time()) > kDay * rule.interval) {
      return InvalidArgument("occurrences of a recurring event must not overlap");
    }
  }
  if (e->excluded_starts_size() > 1000)
    return InvalidArgument("event.excluded_starts has at most 1000 entries");
  for (const auto& x : e->excluded_starts()) {
    if (!civitas::ValidTimestamp(x)) {
      return InvalidArgument("event.excluded_starts must lie between the years 1 and 9999");
    }
  }
  if (e->has_location()) {
    const pb::Location& l = e->location();
    if (s = CheckText("event.location.name", l.name(), 0, 200); !s.ok()) return s;
    if (s = CheckText("event.location.address", l.address(), 0, 300); !s.ok()) return s;
    if (l.has_point()) {
      if (s = civitas::CheckCoordinates("event.location.point", l.point().latitude(),
                                        l.point().longitude());
          !s.ok()) {
        return s;
      }
    }
  }
  if (e->categories_size() > 5) return InvalidArgument("event.categories has at most 5 entries");
  std::set<std::string> seen;
  for (const std::string& c : e->categories()) {
    if (s = config_.categories.Check("event.categories", c); !s.ok()) return s;
    if (!seen.insert(c).second) return InvalidArgument("event.categories lists '" + c + "' twice");
  }
  if (e->has_image()) {
    if (e->image().url().empty())
      return InvalidArgument("event.image.url is required with an image");
    if (s = civitas::CheckHttpUrl("event.image.url", e->image().url()); !s.ok()) return s;
    if (s = CheckText("event.image.alt_text", e->image().alt_text(), 1, 300); !s.ok()) return s;
  }
  if (s = civitas::CheckHttpUrl("event.url", e->url()); !s.ok()) return s;
  if (!pb::Event::Status_IsValid(e->status())) {
    return InvalidArgument("event.status has an unknown value " + std::to_string(e->status()));
  }
  if (e->capacity() < 0 || e->capacity() > 100000) {
    return InvalidArgument("event.capacity must be between 0 and 100000, got " +
                           std::to_string(e->capacity()));
  }
  if (e->registration_open() && e->capacity() == 0) {
    return InvalidArgument("event.registration_open needs a capacity above 0");
  }
  return OkStatus();
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
    return InvalidArgument("page_token is not one this server issued for this query");
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
      if (!d.ok()) return d;
    }
    return Save(txn, &before, nullptr, now);
  });
  if (!s.ok()) return s;
  Announce(pb::EventChange::DELETED, before);
  return OkStatus();
}

Status Calendar::FindOccurrence(const pb::Event& event, const google::protobuf::Timestamp* start,
                                Slot* slot) const {
  if (start && !civitas::ValidTimestamp(*start)) {
    return InvalidArgument("occurrence_start must lie between the years 1 and 9999");
  }
  const int64_t wanted = start ? Micros(*start) : Micros(event.start_time());
  for (const Slot& s : Occurrences(event, config_.zone, wanted, wanted + 1, 1)) {
    if (s.start == wanted) {
      *slot = s;
      return OkStatus();
    }
  }
  return civitas::NotFound(
      "event '" + event.name() + "' has no occurrence starting at " +
      absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMicros(wanted), absl::UTCTimeZone()));
}

Status Calendar::ChangeSeat(civitas::Call& call, const std::string& name,
                            const google::protobuf::Timestamp* start, bool take,
                            pb::Registration* out) {
  std::string id;
  if (Status s = civitas::IdFromName("events", name, &id); !s.ok()) return s;
  const std::string subject(call.subject());
  if (subject.find('\0') != std::string::npos) return InvalidArgument("subject contains NUL");
  const int64_t now = city_.NowMicros();
  pb::Event event;
  if (Status s = Load(id, &event); !s.ok()) return s;
  Slot slot;
  if (Status s = FindOccurrence(event, start, &slot); !s.ok()) return s;
  const std::string occ = Hex(slot.start);
  const std::string seat = "s/" + id + "/" + occ + "/" + subject;
  const std::string mine = "m/" + subject + '\0' + occ + id;
  const std::string count_key = "n/" + id + "/" + occ;
  Status result = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    // The event is read again under the transaction: a change in between is seen.
    pb::Event current;
    if (Status l = Load(id, &current, &txn); !l.ok()) return l;
    std::string bytes;
    Status held = txn.Get(seat, &bytes, /*for_update=*/true);
    if (!held.ok() && held.code() != CIVITAS_NOT_FOUND) return held;
    std::string count_bytes;
    Status c = txn.Get(count_key, &count_bytes, /*for_update=*/true);
    if (!c.ok() && c.code() != CIVITAS_NOT_FOUND) return c;
    const uint64_t taken = c.ok() ? civitas::DecodeU64(count_bytes) : 0;
    if (!take) {
      if (!held.ok()) {
        return civitas::NotFound("you have no registration for this occurrence of '" + name + "'");
      }
      Status d = txn.Delete(seat);
      if (d.ok()) d = txn.Delete(mine);
      if (d.ok())
        d = taken <= 1 ? txn.Delete(count_key) : txn.Put(count_key, civitas::EncodeU64(taken - 1));
      return d;
    }
    if (held.ok()) {
      return civitas::AlreadyExists("you are already registered for this occurrence of '" + name +
                                    "'");
    }
    if (current.capacity() == 0) {
      return civitas::FailedPrecondition("event '" + name + "' takes no registrations");
    }
    if (!current.registration_open()) {
      return civitas::FailedPrecondition("registration for '" + name + "' is closed");
    }
    if (current.status() != pb::Event::SCHEDULED) {
      return civitas::FailedPrecondition("event '" + name + "' is " +
                                         pb::Event::Status_Name(current.status()));
    }
    if (slot.start <= now) {
      return civitas::FailedPrecondition("this occurrence of '" + name + "' has already begun");
    }
    if (taken >= static_cast<uint64_t>(current.capacity())) {
      return civitas::FailedPrecondition("no seats left: all " +
                                         std::to_string(current.capacity()) +
                                         " seats of this occurrence are taken");
    }
    pb::Registration r;
    r.set_name(name + "/registrations/" + std::to_string(slot.start / kSecond));
    r.set_event(name);
    civitas::SetMicros(slot.start, r.mutable_occurrence_start());
    civitas::SetMicros(now, r.mutable_create_time());
    r.set_event_title(current.title());
    Status w = txn.Put(seat, r.SerializeAsString());
    if (w.ok()) w = txn.Put(mine, "");
    if (w.ok()) w = txn.Put(count_key, civitas::EncodeU64(taken + 1));
    if (w.ok() && out) *out = r;
    return w;
  });
  if (result.ok()) pages_.Invalidate();  // seat counts changed
  return result;
}

Status Calendar::RegisterForEvent(civitas::Call& call, const pb::RegisterForEventRequest& request,
                                  pb::Registration* response) {
  return ChangeSeat(call, request.name(),
                    request.has_occurrence_start() ? &request.occurrence_start() : nullptr, true,
                    response);
}

Status Calendar::CancelRegistration(civitas::Call& call,
                                    const pb::CancelRegistrationRequest& request,
                                    google::protobuf::Empty*) {
  return ChangeSeat(call, request.name(),
                    request.has_occurrence_start() ? &request.occurrence_start() : nullptr, false,
                    nullptr);
}

Status Calendar::ListMyRegistrations(civitas::Call& call,
                                     const pb::ListMyRegistrationsRequest& request,
                                     pb::ListMyRegistrationsResponse* response) {
  if (Status s = civitas::CheckPageSize(request.page_size(), kMaxPage); !s.ok()) return s;
  const std::string& token = request.page_token();
  if (!token.empty() && (token.size() != 32 || !civitas::IsLowerHex(token))) {
    return InvalidArgument("page_token is not one this server issued");
  }
  const int size = request.page_size() == 0 ? 20 : request.page_size();
  const std::string subject(call.subject());
  civitas::ScanOptions scan;
  scan.prefix = "m/" + subject + '\0';
  if (!token.empty()) scan.start = scan.prefix + token + '\x01';
  scan.limit = static_cast<uint32_t>(size) + 1;
  std::vector<std::string> tails;
  Status s = city_.store().Scan(scan, [&](std::string_view key, std::string_view) {
    tails.emplace_back(key.substr(scan.prefix.size()));
    return true;
  });
  if (!s.ok()) return s;
  for (size_t i = 0; i < tails.size() && static_cast<int>(i) < size; ++i) {
    const std::string occ = tails[i].substr(0, 16), id = tails[i].substr(16);
    std::string bytes;
    s = city_.store().Get("s/" + id + "/" + occ + "/" + subject, &bytes);
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    response->add_registrations()->ParseFromString(bytes);
  }
  if (static_cast<int>(tails.size()) > size) response->set_next_page_token(tails[size - 1]);
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

Status Calendar::ExportCalendar(civitas::Call&, const pb::ExportCalendarRequest& request,
                                google::api::HttpBody* response) {
  Status s;
  if (s = civitas::CheckLanguageTag("language_code", request.language_code()); !s.ok()) return s;
  if (!request.category().empty()) {
    if (s = config_.categories.Check("category", request.category()); !s.ok()) return s;
  }
  if ((request.has_start_time() && !civitas::ValidTimestamp(request.start_time())) ||
      (request.has_end_time() && !civitas::ValidTimestamp(request.end_time()))) {
    return InvalidArgument("start_time and end_time must lie between the years 1 and 9999");
  }
  const int64_t from = request.has_start_time() ? Micros(request.start_time()) : city_.NowMicros();
  const int64_t to = request.has_end_time() ? Micros(request.end_time()) : from + 366 * kDay;
  if (to <= from || to - from > 800 * kDay) {
    return InvalidArgument("end_time must be after start_time and at most 800 days later");
  }
  std::vector<std::string> ids;
  if (s = Candidates(from, to, &ids); !s.ok()) return s;
  IcalCalendar cal;
  cal.name = config_.calendar_name;
  cal.prodid = "-//civitas//events " + std::string(city_.id()) + "//DE";
  const std::string host = std::string(city_.id()) + ".civitas";
  std::vector<std::pair<int64_t, IcalEvent>> ordered;
  for (const std::string& id : ids) {
    pb::Event stored;
    Status l = Load(id, &stored);
    if (l.code() == CIVITAS_NOT_FOUND) continue;
    if (!l.ok()) return l;
    if (!request.category().empty() &&
        std::find(stored.categories().begin(), stored.categories().end(), request.category()) ==
            stored.categories().end()) {
      continue;
    }
    if (Occurrences(stored, config_.zone, from, to, 1).empty()) continue;
    const pb::Event e = View(stored, request.language_code());
    IcalEvent v;
    v.uid = !stored.external_id().empty() ? stored.external_id() : id + "@" + host;
    v.summary = e.title();
    v.description = e.description();
    if (!e.price_info().empty() || e.free()) {
      v.description += (v.description.empty() ? "" : "\n\n") +
                       (e.free() ? std::string("Eintritt frei") : e.price_info());
    }
    v.location = e.location().name();
    if (!e.location().address().empty()) {
      v.location += (v.location.empty() ? "" : ", ") + e.location().address();
    }
    if (e.location().has_point()) {
      v.has_geo = true;
      v.latitude = e.location().point().latitude();
      v.longitude = e.location().point().longitude();
    }
    v.url = e.url();
    v.status = e.status() == pb::Event::CANCELLED   ? "CANCELLED"
               : e.status() == pb::Event::POSTPONED ? "TENTATIVE"
                                                    : "CONFIRMED";
    for (const std::string& c : e.categories()) {
      v.categories.push_back(config_.categories.DisplayName(c, request.language_code()));
    }
    v.start = absl::FromUnixMicros(Micros(e.start_time()));
    v.end = absl::FromUnixMicros(Micros(e.end_time()));
    v.all_day = e.all_day();
    v.tzid = e.time_zone();
    v.rrule = e.recurrence_rule();
    for (const auto& x : e.excluded_starts()) v.exdates.push_back(absl::FromUnixMicros(Micros(x)));
    v.stamp = absl::FromUnixMicros(Micros(e.update_time()));
    ordered.emplace_back(Micros(e.start_time()), std::move(v));
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [start, v] : ordered) cal.events.push_back(std::move(v));
  response->set_content_type("text/calendar; charset=utf-8");
  response->set_data(RenderCalendar(cal));
  return OkStatus();
}

Status Calendar::ImportCalendar(civitas::Call&, const pb::ImportCalendarRequest& request,
                                pb::ImportCalendarResponse* response) {
  if (request.document().empty()) return InvalidArgument("document is empty");
  if (!request.category().empty()) {
    if (Status s = config_.categories.Check("category", request.category()); !s.ok()) return s;
  }
  if (!civitas::Utf8Length(request.document())) {
    return InvalidArgument("document is not valid UTF-8 (RFC 5545 requires UTF-8)");
  }
  IcalCalendar cal;
  std::string error;
  if (!ParseCalendar(request.document(), config_.zone, &cal, &error)) {
    return InvalidArgument("document: " + error);
  }
  // Every VEVENT becomes an event and is checked before anything is written.
  std::vector<pb::Event> incoming;
  for (const IcalEvent& v : cal.events) {
    const std::string where = "VEVENT " + v.uid;
    if (v.uid.size() > 500) return InvalidArgument(where.substr(0, 60) + "…: UID longer than 500");
    pb::Event e;
    e.set_external_id(v.uid);
    e.set_title(civitas::TruncateUtf8(v.summary.empty() ? "(ohne Titel)" : v.summary, 199));
    e.set_description(civitas::TruncateUtf8(v.description, 19999));
    civitas::SetMicros(absl::ToUnixMicros(v.start), e.mutable_start_time());
    civitas::SetMicros(absl::ToUnixMicros(v.end), e.mutable_end_time());
    e.set_time_zone(v.tzid.empty() || v.tzid == "UTC" ? config_.time_zone : v.tzid);
    e.set_all_day(v.all_day);
    e.set_recurrence_rule(v.rrule);
    for (absl::Time x : v.exdates) {
      civitas::SetMicros(absl::ToUnixMicros(x), e.add_excluded_starts());
    }
    if (!v.location.empty()) e.mutable_location()->set_name(civitas::TruncateUtf8(v.location, 199));
    if (v.has_geo) {
      e.mutable_location()->mutable_point()->set_latitude(v.latitude);
      e.mutable_location()->mutable_point()->set_longitude(v.longitude);
    }
    if (civitas::CheckHttpUrl("url", v.url).ok()) e.set_url(v.url);
    e.set_status(v.status == "CANCELLED"   ? pb::Event::CANCELLED
                 : v.status == "TENTATIVE" ? pb::Event::POSTPONED
                                           : pb::Event::SCHEDULED);
    if (!request.category().empty()) e.add_categories(request.category());
    if (Status s = Normalize(&e); !s.ok()) return InvalidArgument(where + ": " + s.message());
    incoming.push_back(std::move(e));
  }
  const int64_t now = city_.NowMicros();
  std::vector<std::pair<pb::EventChange::Type, pb::Event>> written;
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    written.clear();
    response->Clear();
    std::set<std::string> seen;
    for (pb::Event& e : incoming) {
      if (!seen.insert(e.external_id()).second) continue;
      const std::string xkey = "x/" + e.external_id();
      std::string id;
      Status found = txn.Get(xkey, &id, true);
      if (!found.ok() && found.code() != CIVITAS_NOT_FOUND) return found;
      if (found.ok()) {
        pb::Event before;
        if (Status l = Load(id, &before, &txn, true); !l.ok()) return l;
        pb::Event after = before;
        for (const char* p :
             {"title", "description", "start_time", "end_time", "time_zone", "all_day",
              "recurrence_rule", "excluded_starts", "location", "url", "status"}) {
          CopyField(p, e, &after);
        }
        pb::Event a = after, b = before;
        if (a.SerializeAsString() == b.SerializeAsString()) {
          response->set_unchanged(response->unchanged() + 1);
          continue;
        }
        civitas::SetMicros(now, after.mutable_update_time());
        after.set_etag(civitas::NextEtag(before.etag(), now));
        if (Status w = Save(txn, &before, &after, now); !w.ok()) return w;
        response->set_updated(response->updated() + 1);
        response->add_names(after.name());
        written.emplace_back(pb::EventChange::CHANGED, after);
        continue;
      }
      id = civitas::NewResourceId();
      e.set_name("events/" + id);
      civitas::SetMicros(now, e.mutable_create_time());
      civitas::SetMicros(now, e.mutable_update_time());
      e.set_etag(civitas::NextEtag("", now));
      if (Status w = txn.Put(xkey, id); !w.ok()) return w;
      if (Status w = Save(txn, nullptr, &e, now); !w.ok()) return w;
      response->set_created(response->created() + 1);
      response->add_names(e.name());
      written.emplace_back(pb::EventChange::CREATED, e);
    }
    return OkStatus();
  });
  if (!s.ok()) return s;
  for (const auto& [type, e] : written) Announce(type, e);
  return OkStatus();
}

Status Calendar::RegistrationKeysOf(std::string_view subject,
                                    std::vector<std::string>* keys) const {
  if (subject.empty() || subject.find('\0') != std::string_view::npos) {
    return InvalidArgument("subject must be non-empty and contain no NUL");
  }
  return city_.store().ScanAll("m/" + std::string(subject) + '\0',
                               [&](std::string_view key, std::string_view) {
                                 keys->emplace_back(key);
                                 return true;
                               });
}

Status Calendar::ExportPersonalData(std::string_view subject, std::string* json) {
  std::vector<std::string> keys;
  if (Status s = RegistrationKeysOf(subject, &keys); !s.ok()) return s;
  const size_t prefix = subject.size() + 3;  // "m/" <subject> "\0"
  *json = "{\"registrations\":[";
  bool first = true;
  for (const std::string& key : keys) {
    const std::string occ = key.substr(prefix, 16), id = key.substr(prefix + 16);
    std::string bytes;
    Status s = city_.store().Get("s/" + id + "/" + occ + "/" + std::string(subject), &bytes);
    if (s.code() == CIVITAS_NOT_FOUND) continue;
    if (!s.ok()) return s;
    pb::Registration r;
    if (!r.ParseFromString(bytes)) return civitas::Internal("stored registration is corrupt");
    if (!first) *json += ",";
    first = false;
    *json += "{\"name\":" + civitas::JsonQuote(r.name()) +
             ",\"event\":" + civitas::JsonQuote(r.event()) +
             ",\"event_title\":" + civitas::JsonQuote(r.event_title()) +
             ",\"occurrence_start_unix\":" + std::to_string(r.occurrence_start().seconds()) +
             ",\"create_time_unix\":" + std::to_string(r.create_time().seconds()) + "}";
  }
  *json += "]}";
  return OkStatus();
}

Status Calendar::ErasePersonalData(std::string_view subject) {
  std::vector<std::string> keys;
  if (Status s = RegistrationKeysOf(subject, &keys); !s.ok()) return s;
  const size_t prefix = subject.size() + 3;
  const int64_t now = city_.NowMicros();
  Status s = city_.store().RunTransaction([&](civitas::Transaction& txn) {
    for (const std::string& key : keys) {
      const std::string occ = key.substr(prefix, 16), id = key.substr(prefix + 16);
      const std::string seat = "s/" + id + "/" + occ + "/" + std::string(subject);
      std::string bytes;
      Status held = txn.Get(seat, &bytes, /*for_update=*/true);
      if (!held.ok() && held.code() != CIVITAS_NOT_FOUND) return held;
      Status d = txn.Delete(key);
      if (d.ok() && held.ok()) d = txn.Delete(seat);
      const int64_t start = static_cast<int64_t>(civitas::ParseHex(occ));
      if (d.ok() && held.ok() && start > now) {
        // A seat still ahead goes back to the others.
        const std::string count_key = "n/" + id + "/" + occ;
        std::string count_bytes;
        Status c = txn.Get(count_key, &count_bytes, /*for_update=*/true);
        if (!c.ok() && c.code() != CIVITAS_NOT_FOUND) return c;
        const uint64_t taken = c.ok() ? civitas::DecodeU64(count_bytes) : 0;
        d = taken <= 1 ? txn.Delete(count_key) : txn.Put(count_key, civitas::EncodeU64(taken - 1));
      }
      if (!d.ok()) return d;
    }
    return OkStatus();
  });
  if (s.ok() && !keys.empty()) pages_.Invalidate();  // seat counts changed
  return s;
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
        .Unary("ListMyRegistrations", civitas::Role::kCitizen,
               &events::Calendar::ListMyRegistrations)
        .Unary("ListCategories", civitas::Role::kAnonymous, &events::Calendar::ListCategories)
        .ServerStream("WatchEvents", civitas::Role::kAnonymous, &events::Calendar::WatchEvents)
        .Unary("ListChanges", civitas::Role::kAnonymous, &events::Calendar::ListChanges)
        .Unary("ExportCalendar", civitas::Role::kAnonymous, &events::Calendar::ExportCalendar)
        .Unary("ImportCalendar", civitas::Role::kEditor, &events::Calendar::ImportCalendar)
        .PersonalData(&events::Calendar::ExportPersonalData, &events::Calendar::ErasePersonalData))
