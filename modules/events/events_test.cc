// Unit tests of the events module against the SDK's fake host: recurrence in local time across
// daylight saving changes, windows and paging, registrations, iCalendar both ways.
#include "events.h"

#include <gtest/gtest.h>

#include <map>

#include "absl/time/civil_time.h"
#include "civitas/events/v1/events.pb.h"
#include "civitas/json.h"
#include "civitas/testing/fake_host.h"
#include "event_time.h"
#include "ical.h"
#include "rrule.h"

extern "C" const civitas_module_def* civitas_module_entry_v1(void);

namespace {

namespace pb = civitas::events::v1;
using civitas::testing::Caller;
using civitas::testing::FakeHost;

constexpr char kService[] = "civitas.events.v1.EventsService";
const Caller kEditor = Caller::WithRole("kulturbuero", CIVITAS_ROLE_EDITOR);

absl::TimeZone Berlin() {
  absl::TimeZone z;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Berlin", &z));
  return z;
}

int64_t LocalMicros(int y, int m, int d, int hh, int mm = 0) {
  return absl::ToUnixMicros(absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, 0), Berlin()));
}

void SetTime(int64_t micros, google::protobuf::Timestamp* t) { civitas::SetMicros(micros, t); }

std::string LocalText(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M %Z", absl::FromUnixMicros(civitas::ToMicros(t)),
                          Berlin());
}

class EventsTest : public ::testing::Test {
 protected:
  EventsTest() : host_(civitas_module_entry_v1(), "dortmund", R"({"time_zone": "Europe/Berlin"})") {
    host_.SetNowMicros(LocalMicros(2026, 10, 1, 9));
  }

  template <class Req, class Resp>
  int32_t Call(const char* method, const Req& req, Resp* resp, const Caller& caller = kEditor,
               std::string* error = nullptr) {
    std::string e;
    int32_t rc = host_.Unary(kService, method, req, resp, caller, &e);
    if (error) *error = e;
    return rc;
  }

  pb::Event Create(pb::Event e) {
    pb::CreateEventRequest req;
    *req.mutable_event() = e;
    pb::Event out;
    std::string error;
    EXPECT_EQ(Call("CreateEvent", req, &out, kEditor, &error), CIVITAS_OK) << error;
    return out;
  }

  static pb::Event Simple(const std::string& title, int64_t start, int64_t minutes) {
    pb::Event e;
    e.set_title(title);
    SetTime(start, e.mutable_start_time());
    SetTime(start + minutes * 60'000'000, e.mutable_end_time());
    return e;
  }

  std::vector<std::string> Window(int64_t from, int64_t to, pb::ListEventsRequest req = {}) {
    SetTime(from, req.mutable_start_time());
    SetTime(to, req.mutable_end_time());
    req.set_page_size(100);
    pb::ListEventsResponse resp;
    std::string error;
    EXPECT_EQ(Call("ListEvents", req, &resp, Caller::Anonymous(), &error), CIVITAS_OK) << error;
    std::vector<std::string> out;
    for (const auto& o : resp.occurrences()) {
      out.push_back(o.event().title() + " " + LocalText(o.start_time()));
    }
    return out;
  }

  FakeHost host_;
};

TEST_F(EventsTest, WeeklyRecurrenceKeepsLocalTimeAcrossTheEndOfDaylightSavingTime) {
  // Sundays 10:00-11:30 from 18 October 2026; DST ends on 25 October 2026 in Europe/Berlin.
  pb::Event e = Simple("Stadtführung", LocalMicros(2026, 10, 18, 10), 90);
  e.set_recurrence_rule("FREQ=WEEKLY;COUNT=4");
  pb::Event created = Create(e);
  EXPECT_EQ(Window(LocalMicros(2026, 10, 1, 0), LocalMicros(2026, 12, 1, 0)),
            (std::vector<std::string>{
                "Stadtführung 2026-10-18 10:00 CEST", "Stadtführung 2026-10-25 10:00 CET",
                "Stadtführung 2026-11-01 10:00 CET", "Stadtführung 2026-11-08 10:00 CET"}));
  // Each occurrence ends 90 local minutes later, also on the day the clocks change.
  pb::ListEventsRequest req;
  SetTime(LocalMicros(2026, 10, 24, 0), req.mutable_start_time());
  SetTime(LocalMicros(2026, 10, 26, 0), req.mutable_end_time());
  pb::ListEventsResponse resp;
  ASSERT_EQ(Call("ListEvents", req, &resp, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(resp.occurrences_size(), 1);
  EXPECT_EQ(LocalText(resp.occurrences(0).end_time()), "2026-10-25 11:30 CET");
}

TEST_F(EventsTest, MonthlyRulesExceptionsAndUntil) {
  pb::Event market = Simple("Trödelmarkt", LocalMicros(2026, 10, 1, 8), 360);
  market.set_recurrence_rule("FREQ=MONTHLY;BYDAY=-1SA;UNTIL=20261231T235959Z");
  SetTime(LocalMicros(2026, 11, 28, 8), market.add_excluded_starts());
  Create(market);
  pb::Event council = Simple("Ratssitzung", LocalMicros(2026, 10, 31, 15), 180);
  council.set_recurrence_rule("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3");
  Create(council);
  EXPECT_EQ(Window(LocalMicros(2026, 10, 1, 0), LocalMicros(2027, 3, 1, 0)),
            (std::vector<std::string>{
                "Trödelmarkt 2026-10-31 08:00 CET", "Ratssitzung 2026-10-31 15:00 CET",
                "Ratssitzung 2026-11-30 15:00 CET", "Trödelmarkt 2026-12-26 08:00 CET",
                "Ratssitzung 2026-12-31 15:00 CET"}));
}

TEST(RRuleTest, RefusesMalformedRulesPrecisely) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"FREQ=HOURLY", "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY"},
      {"COUNT=3", "FREQ is required"},
      {"FREQ=DAILY;COUNT=0", "COUNT must be 1 to 5000"},
      {"FREQ=DAILY;INTERVAL=x", "INTERVAL must be 1 to 1000"},
      {"FREQ=WEEKLY;BYDAY=XX", "has no weekday"},
      {"FREQ=WEEKLY;BYDAY=2MO", "ordinals like 2MO need FREQ=MONTHLY"},
      {"FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY entry '32'"},
      {"FREQ=DAILY;COUNT=2;UNTIL=20270101", "COUNT and UNTIL cannot both"},
      {"FREQ=DAILY;BYHOUR=3", "'BYHOUR' is not supported"},
      {"FREQ=DAILY;UNTIL=tomorrow", "UNTIL must look like"},
  };
  for (const auto& [rule, expected] : cases) {
    events::RRule r;
    std::string error;
    EXPECT_FALSE(events::RRule::Parse(rule, Berlin(), &r, &error)) << rule;
    EXPECT_NE(error.find(expected), std::string::npos) << rule << ": " << error;
  }
}

TEST_F(EventsTest, ValidatesAndWritesNothingOnRefusal) {
  struct Case {
    std::function<void(pb::Event*)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](pb::Event* e) { SetTime(civitas::ToMicros(e->start_time()) - 1, e->mutable_end_time()); },
       "event.end_time must be after event.start_time"},
      {[](pb::Event* e) { e->set_recurrence_rule("FREQ=SOMETIMES"); }, "event.recurrence_rule"},
      {[](pb::Event* e) { e->mutable_location()->mutable_point()->set_latitude(123); },
       "latitude in [-90, 90]"},
      {[](pb::Event* e) { e->set_time_zone("Mars/Olympus"); }, "not an IANA time zone"},
      {[](pb::Event* e) { e->add_categories("raves"); }, "unknown category 'raves'"},
      {[](pb::Event* e) { e->set_capacity(-1); }, "capacity must be between 0 and 100000"},
      {[](pb::Event* e) { e->set_registration_open(true); }, "registration_open needs a capacity"},
      {[](pb::Event* e) { e->set_title(""); }, "event.title must have 1 to 200 characters, got 0"},
      {[](pb::Event* e) { e->set_all_day(true); }, "starts and ends at local midnight"},
  };
  for (const Case& c : cases) {
    pb::CreateEventRequest req;
    *req.mutable_event() = Simple("Konzert", LocalMicros(2026, 10, 10, 20), 120);
    c.edit(req.mutable_event());
    pb::Event out;
    std::string error;
    EXPECT_EQ(Call("CreateEvent", req, &out, kEditor, &error), CIVITAS_INVALID_ARGUMENT)
        << c.expected;
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
  EXPECT_TRUE(host_.data().empty());
  pb::ListEventsRequest req;
  SetTime(LocalMicros(2026, 1, 1, 0), req.mutable_start_time());
  SetTime(LocalMicros(2028, 1, 1, 0), req.mutable_end_time());
  pb::ListEventsResponse resp;
  std::string error;
  EXPECT_EQ(Call("ListEvents", req, &resp, Caller::Anonymous(), &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("at most 366 days"), std::string::npos);
}

TEST_F(EventsTest, PagesByStartAndFindsEventsNearAPoint) {
  for (int i = 0; i < 7; ++i) {
    pb::Event e = Simple("E" + std::to_string(i), LocalMicros(2026, 10, 2 + i, 18), 60);
    e.mutable_location()->mutable_point()->set_latitude(51.5136 + i * 0.01);  // ~1.1 km apart
    e.mutable_location()->mutable_point()->set_longitude(7.4653);
    Create(e);
  }
  pb::ListEventsRequest req;
  req.set_page_size(3);
  std::vector<std::string> titles;
  std::string token;
  do {
    req.set_page_token(token);
    pb::ListEventsResponse resp;
    ASSERT_EQ(Call("ListEvents", req, &resp, Caller::Anonymous()), CIVITAS_OK);
    for (const auto& o : resp.occurrences()) titles.push_back(o.event().title());
    token = resp.next_page_token();
  } while (!token.empty());
  EXPECT_EQ(titles, (std::vector<std::string>{"E0", "E1", "E2", "E3", "E4", "E5", "E6"}));

  pb::ListEventsRequest near;
  near.mutable_near()->set_latitude(51.5136);
  near.mutable_near()->set_longitude(7.4653);
  near.set_radius_meters(2500);
  EXPECT_EQ(Window(LocalMicros(2026, 10, 1, 0), LocalMicros(2026, 10, 31, 0), near).size(), 3u);
}

TEST_F(EventsTest, RegistrationsRespectCapacityAndAreOnePerUser) {
  pb::Event e = Simple("Kochkurs", LocalMicros(2026, 10, 6, 18), 120);
  e.set_recurrence_rule("FREQ=WEEKLY;COUNT=3");
  e.set_capacity(2);
  e.set_registration_open(true);
  const pb::Event created = Create(e);
  pb::RegisterForEventRequest reg;
  reg.set_name(created.name());
  SetTime(LocalMicros(2026, 10, 13, 18), reg.mutable_occurrence_start());
  pb::Registration r;
  std::string error;
  ASSERT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("anna")), CIVITAS_OK);
  EXPECT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("anna")), CIVITAS_ALREADY_EXISTS);
  ASSERT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("ben")), CIVITAS_OK);
  EXPECT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("cem"), &error),
            CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("no seats left"), std::string::npos) << error;
  // Another occurrence has its own seats; a time that is no occurrence is NOT_FOUND.
  SetTime(LocalMicros(2026, 10, 20, 18), reg.mutable_occurrence_start());
  EXPECT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("cem")), CIVITAS_OK);
  SetTime(LocalMicros(2026, 10, 21, 18), reg.mutable_occurrence_start());
  EXPECT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("cem")), CIVITAS_NOT_FOUND);

  pb::CancelRegistrationRequest cancel;
  cancel.set_name(created.name());
  SetTime(LocalMicros(2026, 10, 13, 18), cancel.mutable_occurrence_start());
  google::protobuf::Empty empty;
  ASSERT_EQ(Call("CancelRegistration", cancel, &empty, Caller::Citizen("anna")), CIVITAS_OK);
  EXPECT_EQ(Call("CancelRegistration", cancel, &empty, Caller::Citizen("anna")), CIVITAS_NOT_FOUND);
  SetTime(LocalMicros(2026, 10, 13, 18), reg.mutable_occurrence_start());
  EXPECT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("cem")), CIVITAS_OK)
      << "a seat freed";

  pb::ListMyRegistrationsResponse mine;
  ASSERT_EQ(
      Call("ListMyRegistrations", pb::ListMyRegistrationsRequest(), &mine, Caller::Citizen("cem")),
      CIVITAS_OK);
  ASSERT_EQ(mine.registrations_size(), 2);
  EXPECT_EQ(LocalText(mine.registrations(0).occurrence_start()), "2026-10-13 18:00 CEST");
  EXPECT_EQ(mine.registrations(0).event_title(), "Kochkurs");

  std::vector<std::string> seats;
  pb::ListEventsRequest list;
  pb::ListEventsResponse resp;
  ASSERT_EQ(Call("ListEvents", list, &resp, Caller::Anonymous()), CIVITAS_OK);
  for (const auto& o : resp.occurrences()) {
    seats.push_back(std::to_string(o.registered()) + "/" + std::to_string(o.seats_left()));
  }
  EXPECT_EQ(seats, (std::vector<std::string>{"0/2", "2/0", "1/1"}));
}

TEST_F(EventsTest, ExportsAndErasesRegistrationsAndFreesTheSeatsAhead) {
  pb::Event e = Simple("Stadtführung", LocalMicros(2026, 9, 20, 14), 90);
  e.set_recurrence_rule("FREQ=WEEKLY;COUNT=3");  // 20 Sep (past), 27 Sep (past), 4 Oct (ahead)
  e.set_capacity(1);
  e.set_registration_open(true);
  const pb::Event created = Create(e);
  pb::RegisterForEventRequest reg;
  reg.set_name(created.name());
  SetTime(LocalMicros(2026, 10, 4, 14), reg.mutable_occurrence_start());
  pb::Registration r;
  const Caller dora = Caller::Citizen("dora-4711");
  ASSERT_EQ(Call("RegisterForEvent", reg, &r, dora), CIVITAS_OK);
  std::string error;
  EXPECT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("emil"), &error),
            CIVITAS_FAILED_PRECONDITION)
      << "the only seat is Dora's";

  std::string json;
  ASSERT_EQ(host_.ExportPersonalData("dora-4711", &json, &error), CIVITAS_OK) << error;
  civitas::JsonValue parsed;
  ASSERT_TRUE(civitas::ParseJson(json, &parsed, &error)) << error << ": " << json;
  EXPECT_NE(json.find(r.name()), std::string::npos) << json;
  EXPECT_NE(json.find("Stadtführung"), std::string::npos) << json;

  ASSERT_EQ(host_.ErasePersonalData("dora-4711", &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.ErasePersonalData("dora-4711", &error), CIVITAS_OK) << "idempotent: " << error;
  for (const auto& [key, value] : host_.data()) {
    EXPECT_EQ(key.find("dora-4711"), std::string::npos) << key;
    EXPECT_EQ(value.find("dora-4711"), std::string::npos) << key;
  }
  ASSERT_EQ(host_.ExportPersonalData("dora-4711", &json, &error), CIVITAS_OK) << error;
  EXPECT_EQ(json, "{\"registrations\":[]}");
  pb::ListMyRegistrationsResponse mine;
  ASSERT_EQ(Call("ListMyRegistrations", pb::ListMyRegistrationsRequest(), &mine, dora), CIVITAS_OK);
  EXPECT_EQ(mine.registrations_size(), 0);
  EXPECT_EQ(Call("RegisterForEvent", reg, &r, Caller::Citizen("emil"), &error), CIVITAS_OK)
      << "the seat ahead was freed: " << error;
  EXPECT_EQ(host_.ExportPersonalData("", &json, &error), CIVITAS_INVALID_ARGUMENT);
}

TEST_F(EventsTest, SyncClientsSeeCreatesChangesAndDeletes) {
  const pb::Event a = Create(Simple("Konzert", LocalMicros(2026, 10, 10, 20), 120));
  const pb::Event b = Create(Simple("Lesung", LocalMicros(2026, 10, 11, 19), 60));
  std::map<std::string, std::string> replica;
  std::string token;
  auto sync = [&] {
    pb::ListChangesRequest req;
    req.set_sync_token(token);
    pb::ListChangesResponse resp;
    ASSERT_EQ(Call("ListChanges", req, &resp, Caller::Anonymous()), CIVITAS_OK);
    for (const auto& e : resp.upserts()) replica[e.name()] = e.title();
    for (const auto& n : resp.removed()) replica.erase(n);
    token = resp.next_sync_token();
  };
  sync();
  EXPECT_EQ(replica.size(), 2u);
  pb::UpdateEventRequest up;
  up.mutable_event()->set_name(a.name());
  up.mutable_event()->set_title("Konzert (verlegt)");
  up.mutable_update_mask()->add_paths("title");
  pb::Event out;
  ASSERT_EQ(Call("UpdateEvent", up, &out), CIVITAS_OK);
  pb::DeleteEventRequest del;
  del.set_name(b.name());
  google::protobuf::Empty empty;
  ASSERT_EQ(Call("DeleteEvent", del, &empty), CIVITAS_OK);
  sync();
  EXPECT_EQ(replica, (std::map<std::string, std::string>{{a.name(), "Konzert (verlegt)"}}));
}

TEST_F(EventsTest, ExportsICalendarAndImportsItIdempotently) {
  pb::Event e = Simple("Lesung; mit Musik, Wein", LocalMicros(2026, 10, 18, 10), 90);
  e.set_recurrence_rule("FREQ=WEEKLY;COUNT=4");
  SetTime(LocalMicros(2026, 11, 1, 10), e.add_excluded_starts());
  e.set_description("Zeile eins\nZeile zwei");
  e.mutable_location()->set_name("Stadtbibliothek");
  e.mutable_location()->mutable_point()->set_latitude(51.51);
  e.mutable_location()->mutable_point()->set_longitude(7.46);
  Create(e);
  pb::ExportCalendarRequest req;
  google::api::HttpBody body;
  ASSERT_EQ(Call("ExportCalendar", req, &body, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_EQ(body.content_type(), "text/calendar; charset=utf-8");
  const std::string& ics = body.data();
  EXPECT_NE(ics.find("DTSTART;TZID=Europe/Berlin:20261018T100000\r\n"), std::string::npos) << ics;
  EXPECT_NE(ics.find("RRULE:FREQ=WEEKLY;COUNT=4\r\n"), std::string::npos);
  EXPECT_NE(ics.find("EXDATE;TZID=Europe/Berlin:20261101T100000\r\n"), std::string::npos);
  EXPECT_NE(ics.find("SUMMARY:Lesung\\; mit Musik\\, Wein\r\n"), std::string::npos);
  EXPECT_NE(ics.find("BEGIN:VTIMEZONE"), std::string::npos);
  for (size_t start = 0, end; (end = ics.find("\r\n", start)) != std::string::npos;
       start = end + 2) {
    EXPECT_LE(end - start, 75u) << "lines are folded at 75 octets";
  }

  // Into another city: the same events, and a second import changes nothing.
  FakeHost other(civitas_module_entry_v1(), "schwerte", R"({"time_zone": "Europe/Berlin"})");
  other.SetNowMicros(LocalMicros(2026, 10, 1, 9));
  pb::ImportCalendarRequest imp;
  imp.set_document(ics);
  pb::ImportCalendarResponse result;
  std::string error;
  ASSERT_EQ(other.Unary(kService, "ImportCalendar", imp, &result, kEditor, &error), CIVITAS_OK)
      << error;
  EXPECT_EQ(result.created(), 1);
  ASSERT_EQ(other.Unary(kService, "ImportCalendar", imp, &result, kEditor), CIVITAS_OK);
  EXPECT_EQ(result.unchanged(), 1);
  pb::ListEventsRequest list;
  SetTime(LocalMicros(2026, 10, 1, 0), list.mutable_start_time());
  SetTime(LocalMicros(2026, 12, 1, 0), list.mutable_end_time());
  pb::ListEventsResponse resp;
  ASSERT_EQ(other.Unary(kService, "ListEvents", list, &resp), CIVITAS_OK);
  std::vector<std::string> got;
  for (const auto& o : resp.occurrences()) got.push_back(LocalText(o.start_time()));
  EXPECT_EQ(got, (std::vector<std::string>{"2026-10-18 10:00 CEST", "2026-10-25 10:00 CET",
                                           "2026-11-08 10:00 CET"}));
  EXPECT_EQ(resp.occurrences(0).event().title(), "Lesung; mit Musik, Wein");
  EXPECT_EQ(resp.occurrences(0).event().description(), "Zeile eins\nZeile zwei");

  const auto before = other.data();
  for (const char* bad :
       {"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "not a calendar",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:2026\r\nEND:VEVENT\r\n"}) {
    imp.set_document(bad);
    EXPECT_EQ(other.Unary(kService, "ImportCalendar", imp, &result, kEditor, &error),
              CIVITAS_INVALID_ARGUMENT)
        << bad;
  }
  EXPECT_EQ(other.data(), before);
}

// The time rules the module's files share (event_time.h), apart from the handlers.
// Reminders (ABI 1.3 push): one to the registrant's own devices 24 hours before the start.
class EventRemindersTest : public EventsTest {
 protected:
  static constexpr int64_t kHour = 3600 * events::kSecond;

  pb::Event Reading(int64_t start, int capacity = 10) {
    pb::Event e = Simple("Lesung im Rathaus", start, 90);
    e.set_capacity(capacity);
    e.set_registration_open(true);
    e.mutable_location()->set_name("Rathaus");
    e.mutable_location()->set_address("Friedensplatz 1");
    pb::Localization* en = e.add_localizations();
    en->set_language_code("en");
    en->set_title("Reading at the town hall");
    return Create(e);
  }
  int32_t Register(const pb::Event& e, const Caller& caller, std::string* error = nullptr) {
    pb::RegisterForEventRequest reg;
    reg.set_name(e.name());
    pb::Registration r;
    return Call("RegisterForEvent", reg, &r, caller, error);
  }
  int32_t Unregister(const pb::Event& e, const Caller& caller) {
    pb::CancelRegistrationRequest cancel;
    cancel.set_name(e.name());
    google::protobuf::Empty empty;
    return Call("CancelRegistration", cancel, &empty, caller);
  }
  // The stored reminder names (p/ keys).
  std::map<std::string, std::string> Reminders() {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : host_.data()) {
      if (key.rfind("p/", 0) == 0) out[key] = value;
    }
    return out;
  }
};

TEST_F(EventRemindersTest, DeclaresTheRemindersTopic) {
  std::string json, error;
  ASSERT_EQ(host_.PushTopicsJson(&json, &error), CIVITAS_OK) << error;
  EXPECT_EQ(json, R"([{"id":"reminders","titles":{"de":"Erinnerungen an meine Termine",)"
                  R"("en":"Reminders of my events"}}])");
}

TEST_F(EventRemindersTest, ARegistrationQueuesOneReminderADayAheadAndCancellingWithdrawsIt) {
  const int64_t start = LocalMicros(2026, 10, 13, 19, 30);
  const pb::Event e = Reading(start);
  std::string error;
  ASSERT_EQ(Register(e, Caller::Citizen("anna"), &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.pushes().size(), 1u);
  const civitas::testing::RecordedPush p = host_.pushes()[0];
  EXPECT_EQ(p.topic, "reminders");
  EXPECT_EQ(p.subject, "anna");
  EXPECT_EQ(p.send_time_unix_micros, start - 24 * kHour);
  EXPECT_EQ(p.deep_link, "civitas://" + e.name());
  EXPECT_FALSE(p.urgent);
  ASSERT_EQ(p.texts.size(), 2u);
  EXPECT_EQ(p.texts[0], std::make_tuple(std::string("de"), std::string("Morgen: Lesung im Rathaus"),
                                        std::string("Beginn 19:30 Uhr am 13.10.2026 · Ort: "
                                                    "Rathaus, Friedensplatz 1")));
  EXPECT_EQ(p.texts[1],
            std::make_tuple(std::string("en"), std::string("Tomorrow: Reading at the town hall"),
                            std::string("Starts 19:30 on Tuesday, 13 October 2026 · Place: "
                                        "Rathaus, Friedensplatz 1")));
  const std::string id = e.name().substr(7);
  EXPECT_EQ(Reminders(), (std::map<std::string, std::string>{
                             {"p/" + id + "/" + events::Hex(start) + "/anna", p.name}}));

  // Someone else's cancellation touches nothing; Anna's withdraws her reminder in its commit.
  EXPECT_EQ(Unregister(e, Caller::Citizen("ben")), CIVITAS_NOT_FOUND);
  EXPECT_FALSE(host_.pushes()[0].cancelled);
  ASSERT_EQ(Unregister(e, Caller::Citizen("anna")), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 1u);
  EXPECT_TRUE(host_.pushes()[0].cancelled);
  EXPECT_TRUE(Reminders().empty());
  // Registering again queues a fresh one.
  ASSERT_EQ(Register(e, Caller::Citizen("anna")), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 2u);
  EXPECT_FALSE(host_.pushes()[1].cancelled);
  EXPECT_EQ(Reminders().size(), 1u);
}

TEST_F(EventRemindersTest, NoneWithinADayOfTheStartBeyond400DaysOrForARefusedRegistration) {
  const int64_t now = LocalMicros(2026, 10, 1, 9);
  std::string error;
  // 23 hours ahead: the registration stands, without a reminder.
  ASSERT_EQ(Register(Reading(now + 23 * kHour), Caller::Citizen("anna"), &error), CIVITAS_OK)
      << error;
  // Exactly 24 hours ahead: the reminder would go now, which is no reminder either.
  ASSERT_EQ(Register(Reading(now + 24 * kHour), Caller::Citizen("anna"), &error), CIVITAS_OK)
      << error;
  // Beyond the gateway's 400 days for a send time.
  ASSERT_EQ(Register(Reading(now + 402 * 24 * kHour), Caller::Citizen("anna"), &error), CIVITAS_OK)
      << error;
  EXPECT_TRUE(host_.pushes().empty());
  EXPECT_TRUE(Reminders().empty());

  // A full event: the one seat's holder has a reminder, the refused citizen none.
  const pb::Event full = Reading(now + 72 * kHour, /*capacity=*/1);
  ASSERT_EQ(Register(full, Caller::Citizen("ben"), &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.pushes().size(), 1u);
  EXPECT_EQ(Register(full, Caller::Citizen("cem"), &error), CIVITAS_FAILED_PRECONDITION);
  EXPECT_EQ(Register(full, Caller::Citizen("ben"), &error), CIVITAS_ALREADY_EXISTS);
  // Registration closed.
  pb::Event closed = Simple("Geschlossene Gesellschaft", now + 72 * kHour, 60);
  closed.set_capacity(5);
  const pb::Event shut = Create(closed);
  EXPECT_EQ(Register(shut, Caller::Citizen("cem"), &error), CIVITAS_FAILED_PRECONDITION);
  // Nobody to remind without a subject (the gateway lets only signed-in citizens register).
  (void)Register(Reading(now + 72 * kHour), Caller::Anonymous(), &error);
  ASSERT_EQ(host_.pushes().size(), 1u);
  EXPECT_EQ(host_.pushes()[0].subject, "ben");
  EXPECT_EQ(Reminders().size(), 1u);
}

TEST_F(EventRemindersTest, RemindersFollowTheEventWhenItMovesIsCalledOffOrDeleted) {
  const int64_t start = LocalMicros(2026, 10, 13, 19, 30);
  const pb::Event e = Reading(start);
  ASSERT_EQ(Register(e, Caller::Citizen("anna")), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 1u);
  pb::Event out;
  std::string error;
  // A new description changes no reminder.
  pb::UpdateEventRequest up;
  up.mutable_event()->set_name(e.name());
  up.mutable_event()->set_description("Mit Musik");
  up.mutable_update_mask()->add_paths("description");
  ASSERT_EQ(Call("UpdateEvent", up, &out, kEditor, &error), CIVITAS_OK) << error;
  EXPECT_EQ(host_.pushes().size(), 1u);
  // A new place rewrites it.
  up = pb::UpdateEventRequest();
  up.mutable_event()->set_name(e.name());
  up.mutable_event()->mutable_location()->set_name("Stadthalle");
  up.mutable_update_mask()->add_paths("location");
  ASSERT_EQ(Call("UpdateEvent", up, &out, kEditor, &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.pushes().size(), 2u);
  EXPECT_TRUE(host_.pushes()[0].cancelled);
  EXPECT_FALSE(host_.pushes()[1].cancelled);
  EXPECT_EQ(std::get<2>(host_.pushes()[1].texts[0]),
            "Beginn 19:30 Uhr am 13.10.2026 · Ort: Stadthalle");
  EXPECT_EQ(host_.pushes()[1].send_time_unix_micros, start - 24 * kHour);
  // Called off: withdrawn, and nothing new.
  up = pb::UpdateEventRequest();
  up.mutable_event()->set_name(e.name());
  up.mutable_event()->set_status(pb::Event::CANCELLED);
  up.mutable_update_mask()->add_paths("status");
  ASSERT_EQ(Call("UpdateEvent", up, &out, kEditor, &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.pushes().size(), 2u);
  EXPECT_TRUE(host_.pushes()[1].cancelled);
  EXPECT_TRUE(Reminders().empty());
  // Scheduled again: the registration has its reminder again.
  up.mutable_event()->set_status(pb::Event::SCHEDULED);
  ASSERT_EQ(Call("UpdateEvent", up, &out, kEditor, &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.pushes().size(), 3u);
  EXPECT_FALSE(host_.pushes()[2].cancelled);
  EXPECT_EQ(host_.pushes()[2].subject, "anna");
  EXPECT_EQ(std::get<2>(host_.pushes()[2].texts[0]),
            "Beginn 19:30 Uhr am 13.10.2026 · Ort: Stadthalle");
  EXPECT_EQ(Reminders().size(), 1u);
  // Anna lets it go, so that what follows concerns the other events only.
  ASSERT_EQ(Unregister(e, Caller::Citizen("anna")), CIVITAS_OK);
  EXPECT_TRUE(host_.pushes()[2].cancelled);

  // Another event is moved: its occurrence is gone, the registration (kept, as before) has no
  // reminder left. Deleting an event withdraws its reminders too.
  const pb::Event moved = Reading(start);
  ASSERT_EQ(Register(moved, Caller::Citizen("ben")), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 4u);
  up = pb::UpdateEventRequest();
  up.mutable_event()->set_name(moved.name());
  SetTime(start + 24 * kHour, up.mutable_event()->mutable_start_time());
  SetTime(start + 25 * kHour, up.mutable_event()->mutable_end_time());
  up.mutable_update_mask()->add_paths("start_time");
  up.mutable_update_mask()->add_paths("end_time");
  ASSERT_EQ(Call("UpdateEvent", up, &out, kEditor, &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.pushes().size(), 4u);
  EXPECT_TRUE(host_.pushes()[3].cancelled);
  const pb::Event gone = Reading(start);
  ASSERT_EQ(Register(gone, Caller::Citizen("cem")), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 5u);
  pb::DeleteEventRequest del;
  del.set_name(gone.name());
  google::protobuf::Empty empty;
  ASSERT_EQ(Call("DeleteEvent", del, &empty, kEditor, &error), CIVITAS_OK) << error;
  EXPECT_TRUE(host_.pushes()[4].cancelled);
  EXPECT_TRUE(Reminders().empty());
}

TEST_F(EventRemindersTest, ErasureWithdrawsTheSubjectsRemindersAndForgetsTheirNames) {
  const pb::Event e = Reading(LocalMicros(2026, 10, 13, 19, 30));
  ASSERT_EQ(Register(e, Caller::Citizen("dora-4711")), CIVITAS_OK);
  ASSERT_EQ(Register(e, Caller::Citizen("emil")), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 2u);
  std::string json, error;
  ASSERT_EQ(host_.ExportPersonalData("dora-4711", &json, &error), CIVITAS_OK) << error;
  EXPECT_NE(json.find("\"reminder_push\":\"" + host_.pushes()[0].name + "\""), std::string::npos)
      << json;
  EXPECT_EQ(json.find(host_.pushes()[1].name), std::string::npos) << "Emil's is his: " << json;
  ASSERT_EQ(host_.ErasePersonalData("dora-4711", &error), CIVITAS_OK) << error;
  EXPECT_TRUE(host_.pushes()[0].cancelled);
  EXPECT_FALSE(host_.pushes()[1].cancelled) << "Emil's stays";
  for (const auto& [key, value] : Reminders()) {
    EXPECT_EQ(key.find("dora-4711"), std::string::npos) << key;
  }
  EXPECT_EQ(Reminders().size(), 1u);
}

TEST(EventTimeTest, ZonesWindowsAndKeysOrder) {
  const absl::TimeZone berlin = absl::FixedTimeZone(3600);
  pb::Event e;
  EXPECT_EQ(events::ZoneOf(e, berlin), berlin) << "no zone: the city's";
  e.set_time_zone("Nowhere/Atlantis");
  EXPECT_EQ(events::ZoneOf(e, berlin), berlin) << "an unknown zone: the city's";
  e.set_time_zone("UTC");
  EXPECT_EQ(events::ZoneOf(e, berlin), absl::UTCTimeZone());

  auto span = [](int64_t length) {
    pb::Event ev;
    civitas::SetMicros(1'800'000'000LL * events::kSecond, ev.mutable_start_time());
    civitas::SetMicros(1'800'000'000LL * events::kSecond + length, ev.mutable_end_time());
    return ev;
  };
  EXPECT_FALSE(events::InRWindowIndex(span(2 * 3600 * events::kSecond)));
  EXPECT_FALSE(events::InRWindowIndex(span(events::kShortEvent))) << "a week exactly: by start";
  EXPECT_TRUE(events::InRWindowIndex(span(events::kShortEvent + 1)));
  pb::Event weekly = span(3600 * events::kSecond);
  weekly.set_recurrence_rule("FREQ=WEEKLY");
  EXPECT_TRUE(events::Recurring(weekly));
  EXPECT_TRUE(events::InRWindowIndex(weekly)) << "every recurring event";

  // Keys built from Hex sort as the times do.
  EXPECT_LT(events::Hex(9), events::Hex(10));
  EXPECT_LT(events::Hex(0xFFFF), events::Hex(0x10000));
  EXPECT_EQ(events::Hex(0).size(), 16u);
}

}  // namespace
