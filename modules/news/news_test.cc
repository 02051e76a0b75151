// Unit tests of the news module's logic against the SDK's fake host.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "article_fields.h"
#include "civitas/content.h"
#include "civitas/json.h"
#include "civitas/news/v1/news.pb.h"
#include "civitas/testing/fake_host.h"
#include "feed.h"
#include "history.h"

extern "C" const civitas_module_def* civitas_module_entry_v1(void);

namespace {

namespace pb = civitas::news::v1;
using civitas::testing::Caller;
using civitas::testing::FakeHost;

constexpr char kService[] = "civitas.news.v1.NewsService";
constexpr int64_t kNow = 1'790'000'000'000'000;  // 2026-09-21
constexpr int64_t kHour = 3'600'000'000;

const Caller kEditor = Caller::WithRole("presseamt", CIVITAS_ROLE_EDITOR);

class NewsTest : public ::testing::Test {
 protected:
  NewsTest()
      : host_(civitas_module_entry_v1(), "dortmund",
              R"({"default_language": "de", "site_url": "https://www.dortmund.example/",
                  "feed_title": "Stadt Dortmund - Nachrichten"})") {
    host_.SetNowMicros(kNow);
  }

  template <class Req, class Resp>
  int32_t Call(const char* method, const Req& req, Resp* resp, const Caller& caller = kEditor,
               std::string* error = nullptr) {
    std::string e;
    int32_t rc = host_.Unary(kService, method, req, resp, caller, &e);
    if (error) *error = e;
    return rc;
  }

  pb::Article Create(const std::string& title, bool publish = true, int64_t publish_at = 0,
                     bool pinned = false, const std::vector<std::string>& categories = {}) {
    pb::CreateArticleRequest req;
    pb::Article* a = req.mutable_article();
    a->set_title(title);
    a->set_teaser("Teaser " + title);
    a->set_body("Body " + title);
    a->set_pinned(pinned);
    for (const auto& c : categories) a->add_categories(c);
    if (publish) a->set_state(pb::Article::PUBLISHED);
    if (publish_at) {
      a->mutable_publish_time()->set_seconds(publish_at / 1000000);
    }
    pb::Article out;
    std::string error;
    EXPECT_EQ(Call("CreateArticle", req, &out, kEditor, &error), CIVITAS_OK) << error;
    return out;
  }

  std::vector<std::string> Titles(const pb::ListArticlesRequest& req,
                                  const Caller& caller = Caller::Anonymous()) {
    pb::ListArticlesResponse resp;
    std::string error;
    EXPECT_EQ(Call("ListArticles", req, &resp, caller, &error), CIVITAS_OK) << error;
    std::vector<std::string> titles;
    for (const auto& a : resp.articles()) titles.push_back(a.title());
    return titles;
  }

  FakeHost host_;
};

TEST_F(NewsTest, ListsPinnedFirstThenNewestAndPagesStayCorrectUnderInserts) {
  for (int i = 0; i < 5; ++i) {
    host_.SetNowMicros(kNow + i * kHour);
    Create("A" + std::to_string(i));
  }
  host_.SetNowMicros(kNow + 10 * kHour);
  Create("Pinned", true, kNow, /*pinned=*/true);
  pb::ListArticlesRequest req;
  req.set_page_size(3);
  pb::ListArticlesResponse page;
  ASSERT_EQ(Call("ListArticles", req, &page, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(page.articles_size(), 3);
  EXPECT_EQ(page.articles(0).title(), "Pinned");
  EXPECT_EQ(page.articles(1).title(), "A4");
  EXPECT_EQ(page.articles(2).title(), "A3");
  EXPECT_TRUE(page.articles(0).author().empty()) << "citizens do not see editors' subjects";
  // Newer articles arrive between the pages: the next page continues where the first ended.
  Create("Newer 1");
  Create("Newer 2");
  req.set_page_token(page.next_page_token());
  pb::ListArticlesResponse rest;
  ASSERT_EQ(Call("ListArticles", req, &rest, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(rest.articles_size(), 3);
  EXPECT_EQ(rest.articles(0).title(), "A2");
  EXPECT_EQ(rest.articles(2).title(), "A0");
  EXPECT_TRUE(rest.next_page_token().empty());
}

TEST_F(NewsTest, CachedPagesDieWithTheNextWriteAndAfterOneSecond) {
  Create("Erste");
  pb::ListArticlesRequest req;
  EXPECT_EQ(Titles(req), (std::vector<std::string>{"Erste"}));
  EXPECT_EQ(Titles(req), (std::vector<std::string>{"Erste"})) << "served from the cache";
  host_.SetNowMicros(kNow + 10);
  Create("Zweite");
  EXPECT_EQ(Titles(req), (std::vector<std::string>{"Zweite", "Erste"})) << "a write invalidates";
  // Scheduled for 0.5 s from now: not yet there, then there once the cached page is 1 s old.
  pb::Article soon = Create("Bald", true, 0);
  pb::UpdateArticleRequest up;
  up.mutable_article()->set_name(soon.name());
  civitas::SetMicros(kNow + 500'000, up.mutable_article()->mutable_publish_time());
  up.mutable_update_mask()->add_paths("publish_time");
  pb::Article out;
  ASSERT_EQ(Call("UpdateArticle", up, &out), CIVITAS_OK);
  EXPECT_EQ(Titles(req).size(), 2u);
  host_.SetNowMicros(kNow + 600'000);
  EXPECT_EQ(Titles(req).size(), 2u) << "within the second, the cached page may still be served";
  host_.SetNowMicros(kNow + 1'100'000);
  EXPECT_EQ(Titles(req), (std::vector<std::string>{"Bald", "Zweite", "Erste"}));
}

TEST_F(NewsTest, WatchersHearOfScheduledArticlesWhenTheirTimeComes) {
  pb::ListArticlesRequest list;
  Titles(list);  // the module looks for due instants from now on
  Create("Später", true, kNow + 2 * kHour);
  auto events = [&] {
    std::vector<std::string> out;
    for (const auto& [topic, bytes] : host_.published()) {
      pb::ArticleEvent e;
      e.ParseFromString(bytes);
      out.push_back(pb::ArticleEvent::Type_Name(e.type()) + " " + e.article().title());
    }
    return out;
  };
  EXPECT_TRUE(events().empty()) << "a scheduled article is not published yet";
  host_.SetNowMicros(kNow + kHour);
  Titles(list);
  EXPECT_TRUE(events().empty());
  host_.SetNowMicros(kNow + 3 * kHour);
  Titles(list);  // the first request after its time announces it
  EXPECT_EQ(events(), (std::vector<std::string>{"PUBLISHED Später"}));
  Titles(list);
  EXPECT_EQ(events().size(), 1u) << "announced once";
}

TEST_F(NewsTest, ScheduledArticlesAppearAndExpiredOnesDisappearWithoutAJob) {
  Create("Now");
  host_.SetNowMicros(kNow + 1);
  pb::Article later = Create("Later", true, kNow + 2 * kHour);
  EXPECT_EQ(later.state(), pb::Article::SCHEDULED);
  pb::Article draft = Create("Draft", false);
  EXPECT_EQ(draft.state(), pb::Article::DRAFT);
  pb::UpdateArticleRequest expire;
  host_.SetNowMicros(kNow + 2);
  *expire.mutable_article() = Create("Short-lived");
  expire.mutable_article()->mutable_expire_time()->set_seconds((kNow + kHour) / 1000000);
  expire.mutable_update_mask()->add_paths("expire_time");
  pb::Article updated;
  ASSERT_EQ(Call("UpdateArticle", expire, &updated), CIVITAS_OK);

  pb::ListArticlesRequest req;
  EXPECT_EQ(Titles(req), (std::vector<std::string>{"Short-lived", "Now"}));
  pb::GetArticleRequest get;
  get.set_name(later.name());
  pb::Article out;
  EXPECT_EQ(Call("GetArticle", get, &out, Caller::Anonymous()), CIVITAS_NOT_FOUND);
  get.set_name(draft.name());
  EXPECT_EQ(Call("GetArticle", get, &out, Caller::Anonymous()), CIVITAS_NOT_FOUND);
  EXPECT_EQ(Call("GetArticle", get, &out, kEditor), CIVITAS_OK) << "editors see drafts";

  host_.SetNowMicros(kNow + 3 * kHour);
  EXPECT_EQ(Titles(req), (std::vector<std::string>{"Later", "Now"}));
  get.set_name(updated.name());
  ASSERT_EQ(Call("GetArticle", get, &out, kEditor), CIVITAS_OK);
  EXPECT_EQ(out.state(), pb::Article::ARCHIVED);

  pb::ListArticlesRequest all;
  all.set_show_unpublished(true);
  EXPECT_EQ(Titles(all, kEditor).size(), 4u);
  std::string error;
  pb::ListArticlesResponse resp;
  EXPECT_EQ(Call("ListArticles", all, &resp, Caller::Citizen("anna"), &error),
            CIVITAS_PERMISSION_DENIED);
}

TEST_F(NewsTest, LanguageVariantsFallBackToTheCityLanguage) {
  pb::CreateArticleRequest req;
  pb::Article* a = req.mutable_article();
  a->set_title("Baustelle am Wall");
  a->set_state(pb::Article::PUBLISHED);
  pb::Localization* en = a->add_localizations();
  en->set_language_code("en");
  en->set_title("Roadworks on the Wall");
  pb::Article created;
  ASSERT_EQ(Call("CreateArticle", req, &created), CIVITAS_OK);
  EXPECT_EQ(created.language_code(), "de");

  pb::GetArticleRequest get;
  get.set_name(created.name());
  get.set_language_code("en-GB");
  pb::Article out;
  ASSERT_EQ(Call("GetArticle", get, &out, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_EQ(out.title(), "Roadworks on the Wall");
  EXPECT_EQ(out.language_code(), "en");
  EXPECT_EQ(out.available_languages_size(), 2);
  get.set_language_code("fr");
  ASSERT_EQ(Call("GetArticle", get, &out, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_EQ(out.title(), "Baustelle am Wall");

  pb::ListArticlesRequest list;
  list.set_language_code("en");
  EXPECT_EQ(Titles(list), (std::vector<std::string>{"Roadworks on the Wall"}));
  // No Turkish translation: the article is listed all the same, in the city's language, and
  // says so.
  list.set_language_code("tr");
  EXPECT_EQ(Titles(list), (std::vector<std::string>{"Baustelle am Wall"}));
  pb::ListArticlesResponse listed;
  ASSERT_EQ(Call("ListArticles", list, &listed, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(listed.articles_size(), 1);
  EXPECT_EQ(listed.articles(0).language_code(), "de");

  // A partial translation: what it lacks comes from the article's own text.
  pb::CreateArticleRequest partial;
  partial.mutable_article()->set_title("Wochenmarkt fällt aus");
  partial.mutable_article()->set_teaser("Wegen des Stadtfests");
  partial.mutable_article()->set_state(pb::Article::PUBLISHED);
  pb::Localization* tr = partial.mutable_article()->add_localizations();
  tr->set_language_code("tr");
  tr->set_title("Pazar iptal edildi");
  ASSERT_EQ(Call("CreateArticle", partial, &created), CIVITAS_OK);
  get.set_name(created.name());
  get.set_language_code("tr");
  ASSERT_EQ(Call("GetArticle", get, &out, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_EQ(out.title(), "Pazar iptal edildi");
  EXPECT_EQ(out.teaser(), "Wegen des Stadtfests");
  EXPECT_EQ(out.language_code(), "tr");
  list.set_language_code("tr");
  EXPECT_EQ(Titles(list).size(), 2u);
  list.set_language_code("not a tag");
  pb::ListArticlesResponse resp;
  std::string error;
  EXPECT_EQ(Call("ListArticles", list, &resp, Caller::Anonymous(), &error),
            CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("language_code 'not a tag' is not a language tag"), std::string::npos);
}

TEST_F(NewsTest, UpdatesByFieldMaskAndRefusesStaleEtags) {
  pb::Article a = Create("Original");
  pb::UpdateArticleRequest req;
  req.mutable_article()->set_name(a.name());
  req.mutable_article()->set_etag(a.etag());
  req.mutable_article()->set_title("Changed");
  req.mutable_article()->set_teaser("not applied: not in the mask");
  req.mutable_update_mask()->add_paths("title");
  pb::Article out;
  ASSERT_EQ(Call("UpdateArticle", req, &out), CIVITAS_OK);
  EXPECT_EQ(out.title(), "Changed");
  EXPECT_EQ(out.teaser(), "Teaser Original");
  EXPECT_NE(out.etag(), a.etag());

  std::string error;
  EXPECT_EQ(Call("UpdateArticle", req, &out, kEditor, &error), CIVITAS_ABORTED) << "stale etag";
  EXPECT_NE(error.find("stale"), std::string::npos);
  pb::DeleteArticleRequest del;
  del.set_name(a.name());
  del.set_etag(a.etag());
  google::protobuf::Empty empty;
  EXPECT_EQ(Call("DeleteArticle", del, &empty), CIVITAS_ABORTED);

  req.mutable_article()->set_etag("");
  req.mutable_update_mask()->set_paths(0, "author");
  EXPECT_EQ(Call("UpdateArticle", req, &out, kEditor, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("'author' is not a writable field"), std::string::npos) << error;

  del.set_etag("");
  ASSERT_EQ(Call("DeleteArticle", del, &empty), CIVITAS_OK);
  pb::GetArticleRequest get;
  get.set_name(a.name());
  EXPECT_EQ(Call("GetArticle", get, &out), CIVITAS_NOT_FOUND);
}

TEST_F(NewsTest, ValidatesWithPreciseMessagesAndWritesNothing) {
  struct Case {
    std::function<void(pb::Article*)> edit;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {[](pb::Article* a) { a->set_title(""); },
       "article.title must have 1 to 200 characters, got 0"},
      {[](pb::Article* a) { a->set_title(std::string(201, 'x')); }, "got 201"},
      {[](pb::Article* a) { a->set_title("bad \xff utf8"); },
       "a string field that is not valid UTF-8"},
      {[](pb::Article* a) { a->add_categories("nope"); }, "unknown category 'nope'"},
      {[](pb::Article* a) { a->set_language_code("deutsch!"); }, "is not a language tag"},
      {[](pb::Article* a) { a->add_images()->set_url("https://x.example/a.jpg"); },
       "article.images[0].alt_text must have 1 to 300 characters"},
      {[](pb::Article* a) { a->set_link("javascript:alert(1)"); }, "must be an http or https URL"},
      {[](pb::Article* a) {
         a->mutable_publish_time()->set_seconds(2000);
         a->mutable_expire_time()->set_seconds(1000);
       },
       "expire_time must be after article.publish_time"},
      {[](pb::Article* a) { a->set_state(pb::Article::ARCHIVED); }, "may be DRAFT or PUBLISHED"},
      {[](pb::Article* a) {
         auto* l = a->add_localizations();
         l->set_language_code("de");
         l->set_title("Doppelt");
       },
       "localizations[0].language_code 'de' is already used"},
  };
  for (const Case& c : cases) {
    pb::CreateArticleRequest req;
    req.mutable_article()->set_title("Gültig");
    c.edit(req.mutable_article());
    pb::Article out;
    std::string error;
    EXPECT_EQ(Call("CreateArticle", req, &out, kEditor, &error), CIVITAS_INVALID_ARGUMENT)
        << c.expected;
    EXPECT_NE(error.find(c.expected), std::string::npos) << error;
  }
  EXPECT_TRUE(host_.data().empty()) << "a refused write leaves nothing behind";
  pb::ListArticlesRequest list;
  list.set_page_size(101);
  pb::ListArticlesResponse resp;
  std::string error;
  EXPECT_EQ(Call("ListArticles", list, &resp, Caller::Anonymous(), &error),
            CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("page_size must be between 0 and 100, got 101"), std::string::npos);
  list.set_page_size(0);
  list.set_page_token("forged");
  EXPECT_EQ(Call("ListArticles", list, &resp, Caller::Anonymous()), CIVITAS_INVALID_ARGUMENT);
}

TEST_F(NewsTest, StoresNoRawHtml) {
  pb::CreateArticleRequest req;
  pb::Article* a = req.mutable_article();
  a->set_title("<b>Fett</b> & gut");
  a->set_body_format(pb::Article::MARKDOWN);
  a->set_body(
      "Hallo<script>alert(1)</script> [klick](javascript:alert(2)) [ok](https://x.example)"
      "<img src=x onerror=alert(3)>");
  pb::Article out;
  ASSERT_EQ(Call("CreateArticle", req, &out), CIVITAS_OK);
  EXPECT_EQ(out.title(), "Fett & gut");
  EXPECT_EQ(out.body(), "Hallo [klick](#) [ok](https://x.example)");
}

TEST_F(NewsTest, ReplayingChangesYieldsExactlyTheVisibleSet) {
  std::mt19937 rng(7);
  std::map<std::string, pb::Article> replica;
  std::string token;
  std::vector<std::string> names;
  auto sync = [&] {
    for (int guard = 0; guard < 100; ++guard) {
      pb::ListChangesRequest req;
      req.set_sync_token(token);
      req.set_page_size(3);
      pb::ListChangesResponse resp;
      std::string error;
      ASSERT_EQ(Call("ListChanges", req, &resp, Caller::Anonymous(), &error), CIVITAS_OK) << error;
      for (const auto& a : resp.upserts()) replica[a.name()] = a;
      for (const auto& n : resp.removed()) replica.erase(n);
      token = resp.next_sync_token();
      if (!resp.has_more()) return;
    }
    FAIL() << "sync did not converge";
  };
  int64_t now = kNow;
  for (int step = 0; step < 120; ++step) {
    now += kHour / 4;
    host_.SetNowMicros(now);
    const int op = static_cast<int>(rng() % 6);
    if (op <= 1 || names.empty()) {
      const bool scheduled = rng() % 3 == 0;
      pb::Article a = Create("S" + std::to_string(step), rng() % 4 != 0,
                             scheduled ? now + static_cast<int64_t>(rng() % 4) * kHour : 0);
      names.push_back(a.name());
    } else if (op == 2) {
      pb::DeleteArticleRequest del;
      del.set_name(names[rng() % names.size()]);
      google::protobuf::Empty e;
      Call("DeleteArticle", del, &e);  // may already be gone
    } else if (op == 3) {
      pb::UpdateArticleRequest up;
      up.mutable_article()->set_name(names[rng() % names.size()]);
      up.mutable_article()->set_title("U" + std::to_string(step));
      up.mutable_article()->mutable_expire_time()->set_seconds((now + kHour) / 1000000);
      up.mutable_update_mask()->add_paths("title");
      up.mutable_update_mask()->add_paths("expire_time");
      pb::Article out;
      Call("UpdateArticle", up, &out);
    } else if (op == 4) {
      pb::PublishArticleRequest pub;
      pub.set_name(names[rng() % names.size()]);
      pb::Article out;
      Call("PublishArticle", pub, &out);
    } else if (rng() % 2 == 0) {
      sync();
    }
  }
  now += 10 * kHour;  // every schedule and expiry has passed
  host_.SetNowMicros(now);
  sync();
  std::map<std::string, std::string> visible;
  pb::ListArticlesRequest list;
  list.set_page_size(100);
  pb::ListArticlesResponse all;
  ASSERT_EQ(Call("ListArticles", list, &all, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_TRUE(all.next_page_token().empty());
  for (const auto& a : all.articles()) visible[a.name()] = a.title();
  std::map<std::string, std::string> replayed;
  for (const auto& [name, a] : replica) replayed[name] = a.title();
  EXPECT_EQ(replayed, visible);
  EXPECT_FALSE(visible.empty());

  pb::ListChangesRequest bad;
  bad.set_sync_token("garbage");
  pb::ListChangesResponse resp;
  EXPECT_EQ(Call("ListChanges", bad, &resp, Caller::Anonymous()), CIVITAS_INVALID_ARGUMENT);
}

TEST_F(NewsTest, ExportsRssAndAtomAndImportsIdempotently) {
  Create("Neues Freibad", true, 0, false, {"sport"});
  pb::ExportFeedRequest req;
  google::api::HttpBody body;
  ASSERT_EQ(Call("ExportFeed", req, &body, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_EQ(body.content_type(), "application/rss+xml; charset=utf-8");
  EXPECT_NE(body.data().find("<title>Neues Freibad</title>"), std::string::npos) << body.data();
  EXPECT_NE(body.data().find("<category>Sport</category>"), std::string::npos);
  req.set_format(pb::ExportFeedRequest::ATOM);
  ASSERT_EQ(Call("ExportFeed", req, &body, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_EQ(body.content_type(), "application/atom+xml; charset=utf-8");

  // Our own Atom feed parses back into the same item.
  news::FeedChannel channel;
  std::vector<news::FeedItem> items;
  std::string error;
  ASSERT_TRUE(news::ParseFeed(body.data(), &channel, &items, &error)) << error;
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].title, "Neues Freibad");
  EXPECT_EQ(items[0].published, kNow);

  std::string rss = R"(<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0"><channel><title>Kreis</title><link>https://kreis.example/</link>
<item><title>Müll &amp; Abfuhr</title><link>https://kreis.example/1</link><guid>k-1</guid>
<description>&lt;p&gt;Die Abfuhr &amp;amp; mehr&lt;/p&gt;</description>
<pubDate>Mon, 14 Sep 2026 10:00:00 +0200</pubDate></item>
<item><title>Zweites</title><link>https://kreis.example/2</link></item>
</channel></rss>)";
  rss.replace(rss.find("Müll"), std::string("Müll").size(), "M\xfcll");  // Latin-1, as declared
  pb::ImportFeedRequest imp;
  imp.set_document(rss);
  imp.set_category("umwelt");
  pb::ImportFeedResponse result;
  ASSERT_EQ(Call("ImportFeed", imp, &result, kEditor, &error), CIVITAS_OK) << error;
  EXPECT_EQ(result.created(), 2);
  ASSERT_EQ(Call("ImportFeed", imp, &result), CIVITAS_OK);
  EXPECT_EQ(result.created(), 0);
  EXPECT_EQ(result.unchanged(), 2);
  imp.set_document(std::string(rss).replace(rss.find("Zweites"), 7, "Geaendert"));
  ASSERT_EQ(Call("ImportFeed", imp, &result), CIVITAS_OK);
  EXPECT_EQ(result.updated(), 1);
  EXPECT_EQ(result.unchanged(), 1);

  pb::ListArticlesRequest list;
  list.set_category("umwelt");
  pb::ListArticlesResponse page;
  ASSERT_EQ(Call("ListArticles", list, &page, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(page.articles_size(), 2);
  for (const auto& a : page.articles()) {
    EXPECT_TRUE(a.body().empty()) << "lists leave bodies out unless asked";
  }
  list.set_view(pb::ArticleView::FULL);
  ASSERT_EQ(Call("ListArticles", list, &page, Caller::Anonymous()), CIVITAS_OK);
  ASSERT_EQ(page.articles_size(), 2);
  std::set<std::string> titles;
  for (const auto& a : page.articles()) titles.insert(a.title());
  EXPECT_EQ(titles, (std::set<std::string>{"Müll & Abfuhr", "Geaendert"}));
  for (const auto& a : page.articles()) {
    if (a.title() == "Müll & Abfuhr") {
      EXPECT_EQ(a.body(), "Die Abfuhr & mehr");
      EXPECT_EQ(a.publish_time().seconds(), 1789372800);  // 2026-09-14T08:00:00Z
      EXPECT_EQ(a.source(), "https://kreis.example/");
      EXPECT_EQ(a.external_id(), "k-1");
    }
  }

  const auto before = host_.data();
  for (const char* bad : {"<rss><channel><item>", "<html><body>no feed</body></html>", "",
                          "<rss><channel><item><title>x</title></item></channel></rss>"}) {
    imp.set_document(bad);
    EXPECT_EQ(Call("ImportFeed", imp, &result, kEditor, &error), CIVITAS_INVALID_ARGUMENT) << bad;
  }
  EXPECT_EQ(host_.data(), before) << "a refused import writes nothing";
}

TEST(FeedTimeTest, ParsesTheDateFormatsFeedsUse) {
  EXPECT_EQ(news::ParseFeedTime("Tue, 03 Nov 2026 10:00:00 +0100"), 1793696400LL * 1000000);
  EXPECT_EQ(news::ParseFeedTime("Tue, 03 Nov 2026 09:00:00 GMT"), 1793696400LL * 1000000);
  EXPECT_EQ(news::ParseFeedTime("2026-11-03T09:00:00Z"), 1793696400LL * 1000000);
  EXPECT_EQ(news::ParseFeedTime("03 Nov 2026 10:00 CET"), 1793696400LL * 1000000);
  EXPECT_EQ(news::ParseFeedTime("yesterday"), 0);
}

}  // namespace

TEST_F(NewsTest, ExportsAndErasesAnEditorsAuthorshipButKeepsTheArticles) {
  const pb::Article mine = Create("Neue Öffnungszeiten im Bürgeramt");
  std::string json, error;
  ASSERT_EQ(host_.ExportPersonalData("presseamt", &json, &error), CIVITAS_OK) << error;
  civitas::JsonValue parsed;
  ASSERT_TRUE(civitas::ParseJson(json, &parsed, &error)) << error << ": " << json;
  EXPECT_NE(json.find(mine.name()), std::string::npos) << json;
  ASSERT_EQ(host_.ExportPersonalData("someone-else", &json, &error), CIVITAS_OK) << error;
  EXPECT_EQ(json, "{\"authored_articles\":[],\"approved_articles\":[],\"article_changes\":[]}");

  ASSERT_EQ(host_.ErasePersonalData("presseamt", &error), CIVITAS_OK) << error;
  ASSERT_EQ(host_.ErasePersonalData("presseamt", &error), CIVITAS_OK) << "idempotent: " << error;
  for (const auto& [key, value] : host_.data()) {
    EXPECT_EQ(key.find("presseamt"), std::string::npos) << key;
    EXPECT_EQ(value.find("presseamt"), std::string::npos) << key << " = " << value;
  }
  pb::GetArticleRequest get;
  get.set_name(mine.name());
  pb::Article seen;
  ASSERT_EQ(Call("GetArticle", get, &seen), CIVITAS_OK);
  EXPECT_EQ(seen.title(), mine.title()) << "the article stays";
  EXPECT_TRUE(seen.author().empty());
}

namespace {

const Caller kReviewer = Caller::WithRole("lektorat", CIVITAS_ROLE_EDITOR);
const Caller kThird = Caller::WithRole("chefredaktion", CIVITAS_ROLE_EDITOR);

// A city whose articles go out only once a second editor approved them.
class ReviewTest : public NewsTest {
 protected:
  ReviewTest() : review_(civitas_module_entry_v1(), "dortmund", R"({"review_required": true})") {
    review_.SetNowMicros(kNow);
  }

  template <class Req, class Resp>
  int32_t In(const char* method, const Req& req, Resp* resp, const Caller& caller,
             std::string* error = nullptr) {
    std::string e;
    int32_t rc = review_.Unary(kService, method, req, resp, caller, &e);
    if (error) *error = e;
    return rc;
  }

  pb::Article Draft(const std::string& title) {
    pb::CreateArticleRequest req;
    req.mutable_article()->set_title(title);
    req.mutable_article()->set_body("Text " + title);
    pb::Article out;
    std::string error;
    EXPECT_EQ(In("CreateArticle", req, &out, kEditor, &error), CIVITAS_OK) << error;
    return out;
  }

  int32_t Approve(const pb::Article& a, const Caller& who, pb::Article* out,
                  std::string* error = nullptr) {
    pb::ApproveArticleRequest req;
    req.set_name(a.name());
    req.set_etag(a.etag());
    return In("ApproveArticle", req, out, who, error);
  }

  int32_t Publish(const pb::Article& a, const Caller& who, pb::Article* out,
                  std::string* error = nullptr, int64_t at = 0) {
    pb::PublishArticleRequest req;
    req.set_name(a.name());
    req.set_etag(a.etag());
    if (at) civitas::SetMicros(at, req.mutable_publish_time());
    return In("PublishArticle", req, out, who, error);
  }

  FakeHost review_;
};

TEST_F(ReviewTest, AnArticleGoesOutOnlyOnceAnotherEditorApprovedIt) {
  std::string error;
  pb::CreateArticleRequest direct;
  direct.mutable_article()->set_title("Sofort");
  direct.mutable_article()->set_state(pb::Article::PUBLISHED);
  pb::Article out;
  EXPECT_EQ(In("CreateArticle", direct, &out, kEditor, &error), CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("second editor approved it"), std::string::npos) << error;

  pb::Article draft = Draft("Baustelle Wall");
  EXPECT_TRUE(draft.review_required());
  EXPECT_EQ(draft.last_editor(), "presseamt");
  EXPECT_EQ(Publish(draft, kEditor, &out, &error), CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("is not approved"), std::string::npos) << error;
  EXPECT_EQ(Publish(draft, kEditor, &out, &error, kNow + kHour), CIVITAS_FAILED_PRECONDITION)
      << "scheduling is publishing";
  // Publishing through UpdateArticle's state is refused the same way.
  pb::UpdateArticleRequest up;
  up.mutable_article()->set_name(draft.name());
  up.mutable_article()->set_state(pb::Article::PUBLISHED);
  up.mutable_update_mask()->add_paths("state");
  EXPECT_EQ(In("UpdateArticle", up, &out, kEditor, &error), CIVITAS_FAILED_PRECONDITION);

  EXPECT_EQ(Approve(draft, kEditor, &out, &error), CIVITAS_PERMISSION_DENIED);
  EXPECT_NE(error.find("author"), std::string::npos) << error;
  pb::Article approved;
  ASSERT_EQ(Approve(draft, kReviewer, &approved, &error), CIVITAS_OK) << error;
  EXPECT_EQ(approved.approver(), "lektorat");
  EXPECT_TRUE(approved.has_approve_time());
  EXPECT_EQ(approved.etag(), draft.etag()) << "the content did not change";
  ASSERT_EQ(Approve(draft, kThird, &out, &error), CIVITAS_OK) << "approved already: " << error;
  EXPECT_EQ(out.approver(), "lektorat");

  // The author publishes what was approved.
  pb::Article published;
  ASSERT_EQ(Publish(approved, kEditor, &published, &error), CIVITAS_OK) << error;
  EXPECT_EQ(published.state(), pb::Article::PUBLISHED);
  pb::GetArticleRequest get;
  get.set_name(draft.name());
  pb::Article seen;
  ASSERT_EQ(In("GetArticle", get, &seen, Caller::Anonymous()), CIVITAS_OK);
  EXPECT_TRUE(seen.approver().empty() && seen.last_editor().empty() && !seen.review_required())
      << "citizens see no editors";

  // A published article's content changes only by way of a draft and a new approval; its pin
  // may change.
  pb::UpdateArticleRequest edit;
  edit.mutable_article()->set_name(published.name());
  edit.mutable_article()->set_etag(published.etag());
  edit.mutable_article()->set_body("Anderer Text");
  edit.mutable_update_mask()->add_paths("body");
  EXPECT_EQ(In("UpdateArticle", edit, &out, kEditor, &error), CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("as a draft"), std::string::npos) << error;
  pb::UpdateArticleRequest pin;
  pin.mutable_article()->set_name(published.name());
  pin.mutable_article()->set_pinned(true);
  pin.mutable_update_mask()->add_paths("pinned");
  ASSERT_EQ(In("UpdateArticle", pin, &out, kEditor, &error), CIVITAS_OK) << error;
  EXPECT_EQ(out.approver(), "lektorat") << "the pin is not content";
  edit.mutable_article()->set_etag(out.etag());
  edit.mutable_article()->set_state(pb::Article::DRAFT);
  edit.mutable_update_mask()->add_paths("state");
  ASSERT_EQ(In("UpdateArticle", edit, &out, kEditor, &error), CIVITAS_OK) << error;
  EXPECT_TRUE(out.approver().empty() && !out.has_approve_time()) << "the change withdrew it";

  // Whoever changed the content last may not approve it either.
  pb::UpdateArticleRequest fix;
  fix.mutable_article()->set_name(out.name());
  fix.mutable_article()->set_title("Baustelle am Wall");
  fix.mutable_update_mask()->add_paths("title");
  pb::Article fixed;
  ASSERT_EQ(In("UpdateArticle", fix, &fixed, kReviewer, &error), CIVITAS_OK) << error;
  EXPECT_EQ(fixed.last_editor(), "lektorat");
  EXPECT_EQ(Approve(fixed, kReviewer, &out, &error), CIVITAS_PERMISSION_DENIED);
  EXPECT_NE(error.find("changed this article's content last"), std::string::npos) << error;
  EXPECT_EQ(Approve(fixed, kEditor, &out), CIVITAS_PERMISSION_DENIED) << "still the author";
  ASSERT_EQ(Approve(fixed, kThird, &out, &error), CIVITAS_OK) << error;
  ASSERT_EQ(Publish(out, kReviewer, &published, &error, kNow + kHour), CIVITAS_OK) << error;
  EXPECT_EQ(published.state(), pb::Article::SCHEDULED);
}

TEST_F(ReviewTest, ImportedArticlesWaitAsDraftsAndAStaleApprovalIsRefused) {
  const std::string rss =
      "<rss version=\"2.0\"><channel><title>Stadt</title><link>https://www.example/</link>"
      "<item><title>Import</title><guid>g1</guid><description>Text</description></item>"
      "</channel></rss>";
  pb::ImportFeedRequest imp;
  imp.set_document(rss);
  pb::ImportFeedResponse done;
  std::string error;
  ASSERT_EQ(In("ImportFeed", imp, &done, kEditor, &error), CIVITAS_OK) << error;
  ASSERT_EQ(done.names_size(), 1);
  pb::GetArticleRequest get;
  get.set_name(done.names(0));
  pb::Article a;
  ASSERT_EQ(In("GetArticle", get, &a, kEditor), CIVITAS_OK);
  EXPECT_EQ(a.state(), pb::Article::DRAFT);
  // An approval is for the version the approver saw.
  pb::Article stale = a;
  stale.set_etag("0-0");
  pb::Article out;
  EXPECT_EQ(Approve(stale, kReviewer, &out), CIVITAS_ABORTED);
  EXPECT_FALSE(out.has_approve_time());
}

TEST_F(NewsTest, ApprovingInACityWithoutReviewIsRefused) {
  const pb::Article a = Create("Ohne Prüfung");
  EXPECT_FALSE(a.review_required());
  pb::ApproveArticleRequest req;
  req.set_name(a.name());
  pb::Article out;
  std::string error;
  EXPECT_EQ(
      Call("ApproveArticle", req, &out, Caller::WithRole("lektorat", CIVITAS_ROLE_EDITOR), &error),
      CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("review_required is false"), std::string::npos) << error;
  FakeHost typo(civitas_module_entry_v1(), "dortmund", R"({"review_required": "yes"})");
  EXPECT_FALSE(typo.ok());
  EXPECT_NE(typo.init_error().find("review_required"), std::string::npos) << typo.init_error();
}

TEST_F(NewsTest, TheHistorySaysWhoChangedWhatAndWhen) {
  const Caller other = Caller::WithRole("lektorat", CIVITAS_ROLE_EDITOR);
  pb::Article a = Create("Sommerfest", /*publish=*/false);
  pb::UpdateArticleRequest up;
  up.mutable_article()->set_name(a.name());
  up.mutable_article()->set_title("Sommerfest im Park");
  up.mutable_article()->set_teaser(a.teaser());
  up.mutable_update_mask()->add_paths("title");
  up.mutable_update_mask()->add_paths("teaser");
  host_.SetNowMicros(kNow + kHour);
  pb::Article out;
  ASSERT_EQ(Call("UpdateArticle", up, &out, other), CIVITAS_OK);
  host_.SetNowMicros(kNow + 2 * kHour);
  ASSERT_EQ(Call("UpdateArticle", up, &out, other), CIVITAS_OK) << "saved as it was";
  pb::PublishArticleRequest pub;
  pub.set_name(a.name());
  civitas::SetMicros(kNow + 5 * kHour, pub.mutable_publish_time());
  ASSERT_EQ(Call("PublishArticle", pub, &out), CIVITAS_OK);
  host_.SetNowMicros(kNow + 3 * kHour);
  pb::UpdateArticleRequest archive;
  archive.mutable_article()->set_name(a.name());
  archive.mutable_article()->set_state(pb::Article::ARCHIVED);
  archive.mutable_update_mask()->add_paths("state");
  ASSERT_EQ(Call("UpdateArticle", archive, &out, other), CIVITAS_OK);

  pb::ListArticleHistoryRequest req;
  req.set_parent(a.name());
  pb::ListArticleHistoryResponse history;
  std::string error;
  ASSERT_EQ(Call("ListArticleHistory", req, &history, kEditor, &error), CIVITAS_OK) << error;
  ASSERT_EQ(history.entries_size(), 4) << history.DebugString();
  const auto& e = history.entries();
  EXPECT_EQ(e[0].action(), pb::ArticleHistoryEntry::UPDATED);
  EXPECT_EQ(e[0].actor(), "lektorat");
  EXPECT_EQ(std::vector<std::string>(e[0].fields().begin(), e[0].fields().end()),
            std::vector<std::string>{"state"});
  EXPECT_EQ(e[0].state(), pb::Article::ARCHIVED);
  EXPECT_EQ(e[0].etag(), out.etag());
  EXPECT_EQ(civitas::ToMicros(e[0].time()), kNow + 3 * kHour);
  EXPECT_EQ(e[1].action(), pb::ArticleHistoryEntry::SCHEDULED);
  EXPECT_EQ(e[1].actor(), "presseamt");
  EXPECT_EQ(e[2].action(), pb::ArticleHistoryEntry::UPDATED);
  EXPECT_EQ(std::vector<std::string>(e[2].fields().begin(), e[2].fields().end()),
            std::vector<std::string>{"title"})
      << "the teaser was sent unchanged";
  EXPECT_EQ(e[3].action(), pb::ArticleHistoryEntry::CREATED);
  EXPECT_EQ(e[3].state(), pb::Article::DRAFT);

  // Pages of two, then the rest.
  req.set_page_size(2);
  pb::ListArticleHistoryResponse page;
  ASSERT_EQ(Call("ListArticleHistory", req, &page), CIVITAS_OK);
  ASSERT_EQ(page.entries_size(), 2);
  ASSERT_FALSE(page.next_page_token().empty());
  req.set_page_token(page.next_page_token());
  pb::ListArticleHistoryResponse rest;
  ASSERT_EQ(Call("ListArticleHistory", req, &rest), CIVITAS_OK);
  ASSERT_EQ(rest.entries_size(), 2);
  EXPECT_EQ(rest.entries(1).action(), pb::ArticleHistoryEntry::CREATED);
  EXPECT_TRUE(rest.next_page_token().empty());

  // Bounds, with the message a client can act on.
  req.set_page_token("");
  req.set_page_size(101);
  EXPECT_EQ(Call("ListArticleHistory", req, &page, kEditor, &error), CIVITAS_INVALID_ARGUMENT);
  EXPECT_NE(error.find("page_size"), std::string::npos) << error;
  req.set_page_size(0);
  req.set_page_token("zz");
  EXPECT_EQ(Call("ListArticleHistory", req, &page), CIVITAS_INVALID_ARGUMENT);
  req.set_page_token("");
  req.set_parent("articles/0000000000000000");
  EXPECT_EQ(Call("ListArticleHistory", req, &page), CIVITAS_NOT_FOUND);

  // The history goes with the article.
  pb::DeleteArticleRequest del;
  del.set_name(a.name());
  google::protobuf::Empty empty;
  ASSERT_EQ(Call("DeleteArticle", del, &empty), CIVITAS_OK);
  for (const auto& [key, value] : host_.data()) {
    EXPECT_NE(key.rfind(news::HistoryPrefix(a.name().substr(9)), 0), 0u) << key;
  }
}

TEST(ArticleFieldsTest, ChangedFieldsNameWhatDiffersAndWhatIsContent) {
  pb::Article a;
  a.set_title("A");
  a.add_tags("x");
  pb::Article b = a;
  EXPECT_TRUE(news::ChangedFields(a, b).empty());
  b.set_pinned(true);
  b.set_state(pb::Article::ARCHIVED);
  EXPECT_EQ(news::ChangedFields(a, b), (std::vector<std::string>{"pinned", "state"}));
  EXPECT_FALSE(news::ChangesReviewedContent(news::ChangedFields(a, b)));
  b.add_localizations()->set_language_code("en");
  EXPECT_TRUE(news::ChangesReviewedContent(news::ChangedFields(a, b)));
  b.set_etag("other");  // not a field editors write
  EXPECT_EQ(news::ChangedFields(a, b).size(), 3u);
}

TEST(HistoryKeyTest, NewestFirstAndTokensAreTheKeysTail) {
  EXPECT_LT(news::HistoryKey("00000000000000aa", 2, "0000"),
            news::HistoryKey("00000000000000aa", 1, "0000"));
  const std::string key = news::HistoryKey("00000000000000aa", 1, "abcd");
  EXPECT_EQ(key.rfind(news::HistoryPrefix("00000000000000aa"), 0), 0u);
  EXPECT_TRUE(news::IsHistoryPageToken(key.substr(news::HistoryPrefix("00000000000000aa").size())));
  EXPECT_FALSE(news::IsHistoryPageToken("abcd"));
}

}  // namespace

namespace {

// WatchArticles with a resume_token, through the fake host: the events it sends itself.
struct Resumed {
  int32_t code;
  std::string reason;
  std::vector<pb::ArticleEvent> events;
  std::string follows;
};

class NewsResumeTest : public NewsTest {
 protected:
  Resumed Watch(const std::string& token) {
    pb::WatchArticlesRequest req;
    req.set_resume_token(token);
    civitas::testing::CallResult r =
        host_.Call(kService, "WatchArticles", req.SerializeAsString(), Caller::Anonymous());
    Resumed out{r.code, r.reason, {}, r.follow_topic};
    for (const std::string& bytes : r.sent) out.events.emplace_back().ParseFromString(bytes);
    return out;
  }
  // The resume token of the last event published so far.
  std::string LastToken() {
    pb::ArticleEvent e;
    EXPECT_FALSE(host_.published().empty());
    e.ParseFromString(host_.published().back().second);
    EXPECT_FALSE(e.resume_token().empty());
    return e.resume_token();
  }
};

TEST_F(NewsResumeTest, CatchesUpOnWhatChangedSinceTheTokenThenFollows) {
  Create("Gesehen");
  const std::string seen = LastToken();
  const pb::Article missed = Create("Verpasst");
  const pb::Article gone = Create("Gleich weg");
  pb::DeleteArticleRequest del;
  del.set_name(gone.name());
  google::protobuf::Empty empty;
  ASSERT_EQ(Call("DeleteArticle", del, &empty), CIVITAS_OK);

  Resumed r = Watch(seen);
  ASSERT_EQ(r.code, CIVITAS_OK) << r.reason;
  EXPECT_EQ(r.follows, "articles") << "live changes follow the catch-up";
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].type(), pb::ArticleEvent::PUBLISHED);
  EXPECT_EQ(r.events[0].article().name(), missed.name());
  EXPECT_EQ(r.events[0].article().title(), "Verpasst");
  EXPECT_EQ(r.events[1].type(), pb::ArticleEvent::REMOVED);
  EXPECT_EQ(r.events[1].article().name(), gone.name());
  // The last event's token is where the live events go on: resuming from it sends nothing more.
  EXPECT_EQ(r.events[1].resume_token(), LastToken());
  EXPECT_TRUE(Watch(r.events[1].resume_token()).events.empty());
  // Resuming from the first event's token sends the rest again, never less.
  Resumed again = Watch(r.events[0].resume_token());
  ASSERT_FALSE(again.events.empty());
  EXPECT_EQ(again.events.back().article().name(), gone.name());
}

TEST_F(NewsResumeTest, RefusesForeignTokensAndTooLongAnAbsence) {
  Resumed bad = Watch("not-a-token");
  EXPECT_EQ(bad.code, CIVITAS_INVALID_ARGUMENT);
  EXPECT_EQ(bad.reason, "SYNC_TOKEN_INVALID");
  Create("Start");
  const std::string token = LastToken();
  for (int i = 0; i < 501; ++i) Create("Flut " + std::to_string(i));
  Resumed late = Watch(token);
  EXPECT_EQ(late.code, CIVITAS_FAILED_PRECONDITION);
  EXPECT_EQ(late.reason, "RESYNC_REQUIRED");
  EXPECT_TRUE(late.events.empty()) << "nothing is sent before the refusal";
}

TEST_F(NewsResumeTest, ScheduledArticlesThatCameDueAreCaughtUpOn) {
  Create("Jetzt");
  const std::string token = LastToken();
  Create("Später", true, kNow + kHour);  // scheduled: not an event yet
  host_.SetNowMicros(kNow + 2 * kHour);
  Resumed r = Watch(token);
  ASSERT_EQ(r.code, CIVITAS_OK) << r.reason;
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].article().title(), "Später");
  EXPECT_EQ(r.events[0].type(), pb::ArticleEvent::PUBLISHED);
}

}  // namespace

namespace news_push {

using civitas::testing::RecordedPush;

class NewsPushTest : public ::testing::Test {
 protected:
  NewsPushTest() : host_(civitas_module_entry_v1(), "dortmund", R"({"default_language": "de"})") {
    host_.SetNowMicros(kNow);
  }
  template <class Req, class Resp>
  int32_t Call(const char* method, const Req& req, Resp* resp, std::string* error = nullptr) {
    std::string e;
    int32_t rc = host_.Unary(kService, method, req, resp, kEditor, &e);
    if (error) *error = e;
    return rc;
  }
  pb::Article Draft(const std::string& title) {
    pb::CreateArticleRequest req;
    pb::Article* a = req.mutable_article();
    a->set_title(title);
    a->set_teaser("<b>Ab Montag</b> ist die B1 gesperrt.");
    a->set_body("Body");
    a->add_categories("verkehr");
    pb::Localization* en = a->add_localizations();
    en->set_language_code("en");
    en->set_title("B1 closed");
    en->set_teaser("From Monday.");
    pb::Image* image = a->add_images();
    image->set_url("https://www.dortmund.example/b1.jpg");
    image->set_alt_text("Die B1");
    pb::Article out;
    std::string error;
    EXPECT_EQ(Call("CreateArticle", req, &out, &error), CIVITAS_OK) << error;
    return out;
  }
  int32_t Publish(const pb::Article& a, bool notify, int64_t at = 0, std::string* error = nullptr) {
    pb::PublishArticleRequest req;
    req.set_name(a.name());
    req.set_notify(notify);
    if (at) civitas::SetMicros(at, req.mutable_publish_time());
    pb::Article out;
    return Call("PublishArticle", req, &out, error);
  }
  FakeHost host_;
};

TEST_F(NewsPushTest, DeclaresAllNewsAndEveryCategory) {
  std::string json;
  ASSERT_EQ(host_.PushTopicsJson(&json), CIVITAS_OK);
  EXPECT_NE(json.find(R"({"id":"all","titles":{"de":"Alle Nachrichten","en":"All news"}})"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find(R"({"id":"verkehr","titles":{"de":"Verkehr","en":"Traffic"}})"),
            std::string::npos)
      << json;
}

TEST_F(NewsPushTest, PublishingWithNotifyQueuesOnePushInTheSameCommit) {
  const pb::Article a = Draft("Vollsperrung der B1");
  ASSERT_EQ(Publish(a, /*notify=*/false), CIVITAS_OK);
  EXPECT_TRUE(host_.pushes().empty()) << "no push unless asked";
  const pb::Article b = Draft("Vollsperrung der B1, Teil 2");
  ASSERT_EQ(Publish(b, /*notify=*/true), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 1u);
  const RecordedPush p = host_.pushes()[0];
  EXPECT_EQ(p.topic, "all,verkehr");
  EXPECT_TRUE(p.subject.empty());
  ASSERT_EQ(p.texts.size(), 2u);
  EXPECT_EQ(p.texts[0],
            std::make_tuple(std::string("de"), std::string("Vollsperrung der B1, Teil 2"),
                            std::string("Ab Montag ist die B1 gesperrt.")));
  EXPECT_EQ(std::get<1>(p.texts[1]), "B1 closed");
  EXPECT_EQ(p.deep_link, "civitas://" + b.name());
  EXPECT_EQ(p.image_url, "https://www.dortmund.example/b1.jpg");
  EXPECT_EQ(p.send_time_unix_micros, 0) << "now";
  std::string error;
  host_.SetNowMicros(kNow + kHour);
  EXPECT_EQ(Publish(b, true, 0, &error), CIVITAS_FAILED_PRECONDITION);
  EXPECT_NE(error.find("already sent"), std::string::npos) << error;
  EXPECT_EQ(host_.pushes().size(), 1u);
  EXPECT_EQ(Publish(b, false), CIVITAS_OK) << "republishing without a push is fine";
}

TEST_F(NewsPushTest, AScheduledPushMovesWithItsArticleAndGoesWithIt) {
  const pb::Article a = Draft("Stadtfest");
  ASSERT_EQ(Publish(a, true, kNow + 5 * kHour), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 1u);
  EXPECT_EQ(host_.pushes()[0].send_time_unix_micros, kNow + 5 * kHour);
  // Rescheduled without asking again: the push follows the article.
  ASSERT_EQ(Publish(a, false, kNow + 8 * kHour), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 2u);
  EXPECT_TRUE(host_.pushes()[0].cancelled);
  EXPECT_FALSE(host_.pushes()[1].cancelled);
  EXPECT_EQ(host_.pushes()[1].send_time_unix_micros, kNow + 8 * kHour);
  // Deleted before its time: the push is withdrawn.
  pb::DeleteArticleRequest del;
  del.set_name(a.name());
  google::protobuf::Empty empty;
  ASSERT_EQ(Call("DeleteArticle", del, &empty), CIVITAS_OK);
  ASSERT_EQ(host_.pushes().size(), 2u);
  EXPECT_TRUE(host_.pushes()[1].cancelled);
}

}  // namespace news_push
