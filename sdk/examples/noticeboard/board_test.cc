// Unit tests of the notice board's logic against the SDK's fake host.
#include <gtest/gtest.h>

#include "civitas/noticeboard/v1/noticeboard.pb.h"
#include "civitas/testing/fake_host.h"

extern "C" const civitas_module_def* civitas_module_entry_v1(void);

namespace {

namespace pb = civitas::noticeboard::v1;
using civitas::testing::Caller;
using civitas::testing::FakeHost;

constexpr char kService[] = "civitas.noticeboard.v1.NoticeboardService";

pb::Notice Create(FakeHost& host, const std::string& title, const Caller& caller) {
  pb::CreateNoticeRequest req;
  req.mutable_notice()->set_title(title);
  pb::Notice out;
  std::string error;
  EXPECT_EQ(host.Unary(kService, "CreateNotice", req, &out, caller, &error), CIVITAS_OK) << error;
  return out;
}

TEST(NoticeboardTest, CreatesListsNewestFirstAndPages) {
  FakeHost host(civitas_module_entry_v1());
  ASSERT_TRUE(host.ok()) << host.init_error();
  for (int i = 0; i < 5; ++i) {
    host.SetNowMicros(1'000'000'000 + i);
    Create(host, "Notice " + std::to_string(i), Caller::Citizen("anna"));
  }
  pb::ListNoticesRequest list;
  list.set_page_size(3);
  pb::ListNoticesResponse page;
  ASSERT_EQ(host.Unary(kService, "ListNotices", list, &page), CIVITAS_OK);
  ASSERT_EQ(page.notices_size(), 3);
  EXPECT_EQ(page.notices(0).title(), "Notice 4");
  EXPECT_EQ(page.notices(2).title(), "Notice 2");
  EXPECT_TRUE(page.notices(0).author().empty()) << "anonymous callers never see the subject";
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  pb::ListNoticesResponse rest;
  ASSERT_EQ(host.Unary(kService, "ListNotices", list, &rest), CIVITAS_OK);
  ASSERT_EQ(rest.notices_size(), 2);
  EXPECT_EQ(rest.notices(0).title(), "Notice 1");
  EXPECT_TRUE(rest.next_page_token().empty());
}

TEST(NoticeboardTest, ValidatesWithPreciseMessages) {
  FakeHost host(civitas_module_entry_v1());
  struct Case {
    pb::CreateNoticeRequest req;
    std::string expected;
  };
  std::vector<Case> cases(4);
  cases[0].expected = "title must have 1 to 120 characters, got 0";
  cases[1].req.mutable_notice()->set_title(std::string(121, 'x'));
  cases[1].expected = "got 121";
  cases[2].req.mutable_notice()->set_title("ok");
  cases[2].req.mutable_notice()->mutable_location()->set_latitude(91);
  cases[2].expected = "latitude in [-90, 90]";
  cases[3].req.mutable_notice()->set_title("ok");
  cases[3].req.mutable_notice()->set_body(std::string(2001, 'b'));
  cases[3].expected = "at most 2000 characters, got 2001";
  for (const Case& c : cases) {
    std::string error;
    EXPECT_EQ(host.Unary(kService, "CreateNotice", c.req, static_cast<pb::Notice*>(nullptr),
                         Caller::Citizen("anna"), &error),
              CIVITAS_INVALID_ARGUMENT);
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
  EXPECT_TRUE(host.data().empty()) << "a refused write must leave nothing behind";

  pb::ListNoticesRequest list;
  list.set_page_size(5000);
  std::string error;
  EXPECT_EQ(host.Unary(kService, "ListNotices", list,
                       static_cast<pb::ListNoticesResponse*>(nullptr), Caller::Anonymous(), &error),
            CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("between 0 and 100, got 5000"), std::string::npos);
}

TEST(NoticeboardTest, CountsThanksAndOnlyAuthorOrEditorDeletes) {
  FakeHost host(civitas_module_entry_v1());
  pb::Notice n = Create(host, "Katze zugelaufen", Caller::Citizen("anna"));
  pb::ThankNoticeRequest thank;
  thank.set_name(n.name());
  pb::Notice thanked;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(host.Unary(kService, "ThankNotice", thank, &thanked, Caller::Citizen("ben")),
              CIVITAS_OK);
  }
  EXPECT_EQ(thanked.thanks_count(), 3);

  pb::DeleteNoticeRequest del;
  del.set_name(n.name());
  std::string error;
  EXPECT_EQ(
      host.Unary(kService, "DeleteNotice", del, static_cast<google::protobuf::Empty*>(nullptr),
                 Caller::Citizen("ben"), &error),
      CIVITAS_PERMISSION_DENIED);
  EXPECT_EQ(
      host.Unary(kService, "DeleteNotice", del, static_cast<google::protobuf::Empty*>(nullptr),
                 Caller::WithRole("clerk", CIVITAS_ROLE_EDITOR)),
      CIVITAS_OK);
  EXPECT_TRUE(host.data().empty()) << "the notice and its counter are both gone";
}

TEST(NoticeboardTest, WatchFollowsThenSendsSnapshotAndCreatePublishes) {
  FakeHost host(civitas_module_entry_v1());
  Create(host, "one", Caller::Citizen("anna"));
  ASSERT_EQ(host.published().size(), 1u);
  EXPECT_EQ(host.published()[0].first, "notices");
  pb::WatchNoticesRequest watch;
  watch.set_initial_count(10);
  civitas::testing::CallResult r = host.Call(kService, "WatchNotices", watch.SerializeAsString());
  ASSERT_EQ(r.code, CIVITAS_OK);
  EXPECT_EQ(r.follow_topic, "notices");
  ASSERT_EQ(r.sent.size(), 1u);
  pb::Notice first;
  ASSERT_TRUE(first.ParseFromString(r.sent[0]));
  EXPECT_EQ(first.title(), "one");
}

TEST(NoticeboardTest, MigrationFrom10TrimsTitlesOnlyOnce) {
  FakeHost host(civitas_module_entry_v1());
  pb::Notice spaced = Create(host, "  Flohmarkt  ", Caller::Citizen("anna"));
  pb::Notice clean = Create(host, "Clean", Caller::Citizen("anna"));
  const auto before = host.data();
  ASSERT_EQ(host.Migrate("1.1.0"), CIVITAS_OK);
  EXPECT_EQ(host.data(), before) << "nothing to do when coming from 1.1";
  ASSERT_EQ(host.Migrate("1.0.0"), CIVITAS_OK);
  pb::GetNoticeRequest get;
  get.set_name(spaced.name());
  pb::Notice got;
  ASSERT_EQ(host.Unary(kService, "GetNotice", get, &got), CIVITAS_OK);
  EXPECT_EQ(got.title(), "Flohmarkt");
  get.set_name(clean.name());
  ASSERT_EQ(host.Unary(kService, "GetNotice", get, &got), CIVITAS_OK);
  EXPECT_EQ(got.title(), "Clean");
}

TEST(NoticeboardTest, MalformedRequestIsInvalidArgument) {
  FakeHost host(civitas_module_entry_v1());
  civitas::testing::CallResult r = host.Call(kService, "GetNotice", std::string("\xff\xff\xff", 3));
  EXPECT_EQ(r.code, CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(r.error.find("civitas.noticeboard.v1.GetNoticeRequest"), std::string::npos);
}

}  // namespace

namespace {

TEST(NoticeboardTest, OthersSeeTheChosenDisplayNameNeverTheSubject) {
  FakeHost host(civitas_module_entry_v1());
  pb::CreateNoticeRequest req;
  req.mutable_notice()->set_title("Schlüssel gefunden");
  req.mutable_notice()->set_body("Am Spielplatz Hoeschpark, bitte melden.");
  req.mutable_notice()->set_author_display_name("Frau K. aus der Nordstadt");
  pb::Notice mine;
  std::string error;
  ASSERT_EQ(host.Unary(kService, "CreateNotice", req, &mine, Caller::Citizen("sub-8812"), &error),
            CIVITAS_OK)
      << error;
  EXPECT_EQ(mine.author(), "sub-8812") << "the author sees their own subject";
  EXPECT_TRUE(mine.authored_by_caller());
  for (const Caller& other : {Caller::Anonymous(), Caller::Citizen("ben")}) {
    pb::GetNoticeRequest get;
    get.set_name(mine.name());
    pb::Notice seen;
    ASSERT_EQ(host.Unary(kService, "GetNotice", get, &seen, other), CIVITAS_OK);
    EXPECT_TRUE(seen.author().empty());
    EXPECT_FALSE(seen.authored_by_caller());
    EXPECT_EQ(seen.author_display_name(), "Frau K. aus der Nordstadt");
    pb::ListNoticesResponse page;
    ASSERT_EQ(host.Unary(kService, "ListNotices", pb::ListNoticesRequest(), &page, other),
              CIVITAS_OK);
    ASSERT_EQ(page.notices_size(), 1);
    EXPECT_TRUE(page.notices(0).author().empty());
  }
  req.mutable_notice()->set_author_display_name(std::string(61, 'x'));
  EXPECT_EQ(host.Unary(kService, "CreateNotice", req, &mine, Caller::Citizen("sub-8812"), &error),
            CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("author_display_name"), std::string::npos) << error;
}

TEST(NoticeboardTest, ExportsAndErasesAuthorship) {
  FakeHost host(civitas_module_entry_v1());
  pb::CreateNoticeRequest req;
  req.mutable_notice()->set_title("Katze entlaufen");
  req.mutable_notice()->set_author_display_name("Kim M.");
  pb::Notice kims, bens;
  ASSERT_EQ(host.Unary(kService, "CreateNotice", req, &kims, Caller::Citizen("kim-77")),
            CIVITAS_OK);
  req.mutable_notice()->set_author_display_name("Ben");
  ASSERT_EQ(host.Unary(kService, "CreateNotice", req, &bens, Caller::Citizen("ben")), CIVITAS_OK);

  std::string json, error;
  ASSERT_EQ(host.ExportPersonalData("kim-77", &json, &error), CIVITAS_OK) << error;
  EXPECT_NE(json.find(kims.name()), std::string::npos) << json;
  EXPECT_NE(json.find("Kim M."), std::string::npos) << json;
  EXPECT_EQ(json.find(bens.name()), std::string::npos) << json;

  ASSERT_EQ(host.ErasePersonalData("kim-77", &error), CIVITAS_OK) << error;
  ASSERT_EQ(host.ErasePersonalData("kim-77", &error), CIVITAS_OK) << "idempotent: " << error;
  for (const auto& [key, value] : host.data()) {
    EXPECT_EQ(value.find("kim-77"), std::string::npos) << key;
    EXPECT_EQ(value.find("Kim M."), std::string::npos) << key;
  }
  pb::GetNoticeRequest get;
  get.set_name(bens.name());
  pb::Notice seen;
  ASSERT_EQ(host.Unary(kService, "GetNotice", get, &seen, Caller::Citizen("ben")), CIVITAS_OK);
  EXPECT_EQ(seen.author(), "ben") << "other authors keep theirs";
  ASSERT_EQ(host.ExportPersonalData("kim-77", &json, &error), CIVITAS_OK) << error;
  EXPECT_EQ(json, "{\"notices\":[]}");
}

}  // namespace
