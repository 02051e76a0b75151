// The news module through the real gateway: roles for every method, paging while articles are
// inserted, offline sync with concurrent writers, the live stream, atomic imports and
// civitasctl import from a file and from another city's RSS URL; four-eyes review and the
// article history with their roles, bounds and write-rate limit.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "civitas/news/v1/news.grpc.pb.h"
#include "tests/integration/gateway_process.h"

namespace civitas::testing {
namespace {

namespace pb = civitas::news::v1;

constexpr char kConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
logging:
  access_log: false
cities:
  - id: dortmund
    modules:
      - id: civitas.news
        config:
          site_url: https://www.dortmund.example
  - id: schwerte
    modules:
      - id: civitas.news
)";

class NewsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, kConfig);
    ASSERT_NE(gw_, nullptr);
    stub_ = pb::NewsService::NewStub(gw_->channel());
    editor_ = keys_->Mint("presseamt", "*", {"editor"});
    citizen_ = keys_->Mint("anna", "*", {});
  }

  pb::Article Create(const std::string& title, const std::string& city = "dortmund") {
    grpc::ClientContext ctx;
    Prepare(&ctx, city, editor_);
    pb::CreateArticleRequest req;
    req.mutable_article()->set_title(title);
    req.mutable_article()->set_state(pb::Article::PUBLISHED);
    pb::Article out;
    grpc::Status s = stub_->CreateArticle(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  std::vector<pb::Article> ListAll(const std::string& city = "dortmund", int page_size = 7) {
    std::vector<pb::Article> all;
    std::string token;
    do {
      grpc::ClientContext ctx;
      Prepare(&ctx, city);
      pb::ListArticlesRequest req;
      req.set_page_size(page_size);
      req.set_page_token(token);
      pb::ListArticlesResponse resp;
      grpc::Status s = stub_->ListArticles(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      all.insert(all.end(), resp.articles().begin(), resp.articles().end());
      token = resp.next_page_token();
    } while (!token.empty());
    return all;
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<pb::NewsService::Stub> stub_;
  std::string editor_, citizen_;
};

TEST_F(NewsIntegrationTest, EveryWriteNeedsAnEditorAndReadsAreOpen) {
  const pb::Article a = Create("Rathaus geöffnet");
  struct Try {
    const char* method;
    std::function<grpc::Status(grpc::ClientContext*)> call;
  };
  const std::vector<Try> writes = {
      {"CreateArticle",
       [&](grpc::ClientContext* c) {
         pb::CreateArticleRequest r;
         r.mutable_article()->set_title("x");
         pb::Article o;
         return stub_->CreateArticle(c, r, &o);
       }},
      {"UpdateArticle",
       [&](grpc::ClientContext* c) {
         pb::UpdateArticleRequest r;
         *r.mutable_article() = a;
         pb::Article o;
         return stub_->UpdateArticle(c, r, &o);
       }},
      {"DeleteArticle",
       [&](grpc::ClientContext* c) {
         pb::DeleteArticleRequest r;
         r.set_name(a.name());
         google::protobuf::Empty o;
         return stub_->DeleteArticle(c, r, &o);
       }},
      {"PublishArticle",
       [&](grpc::ClientContext* c) {
         pb::PublishArticleRequest r;
         r.set_name(a.name());
         pb::Article o;
         return stub_->PublishArticle(c, r, &o);
       }},
      {"ImportFeed",
       [&](grpc::ClientContext* c) {
         pb::ImportFeedRequest r;
         r.set_document("<rss/>");
         pb::ImportFeedResponse o;
         return stub_->ImportFeed(c, r, &o);
       }},
  };
  const std::string forged = citizen_.substr(0, citizen_.size() - 4) + "AAAA";
  const std::string expired =
      keys_->Mint("presseamt", "*", {"editor"}, absl::Seconds(1), absl::Now() - absl::Hours(2));
  for (const Try& t : writes) {
    for (const auto& [token, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
             {"", grpc::StatusCode::UNAUTHENTICATED},
             {citizen_, grpc::StatusCode::PERMISSION_DENIED},
             {forged, grpc::StatusCode::UNAUTHENTICATED},
             {expired, grpc::StatusCode::UNAUTHENTICATED}}) {
      grpc::ClientContext ctx;
      Prepare(&ctx, "dortmund", token);
      EXPECT_EQ(t.call(&ctx).error_code(), code) << t.method;
    }
  }
  grpc::ClientContext ctx;
  Prepare(&ctx, "dortmund");
  pb::GetArticleRequest get;
  get.set_name(a.name());
  pb::Article out;
  ASSERT_TRUE(stub_->GetArticle(&ctx, get, &out).ok());
  EXPECT_EQ(out.title(), "Rathaus geöffnet");
  EXPECT_TRUE(out.author().empty());
  // Nothing the refused calls tried is there; the article is unchanged.
  EXPECT_EQ(ListAll().size(), 1u);
  EXPECT_EQ(out.etag(), a.etag());
  // Cities are separate: Schwerte has no articles.
  EXPECT_TRUE(ListAll("schwerte").empty());
}

TEST_F(NewsIntegrationTest, PagingSeesEveryArticleOnceWhileNewOnesArrive) {
  std::set<std::string> before;
  for (int i = 0; i < 40; ++i) before.insert(Create("Alt " + std::to_string(i)).name());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 200; ++i) Create("Neu " + std::to_string(i));
  });
  std::vector<pb::Article> seen = ListAll("dortmund", 3);
  stop = true;
  writer.join();
  std::map<std::string, int> count;
  for (const auto& a : seen) ++count[a.name()];
  for (const auto& [name, n] : count) EXPECT_EQ(n, 1) << name << " listed twice";
  for (const std::string& name : before) EXPECT_EQ(count[name], 1) << name << " skipped";
}

TEST_F(NewsIntegrationTest, SyncClientsEndWithTheServersVisibleSet) {
  std::atomic<bool> stop{false};
  auto writer = [&](int seed) {
    std::vector<pb::Article> mine;
    for (int i = 0; !stop && i < 400; ++i) {
      if (i % 4 == 3 && !mine.empty()) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "dortmund", editor_);
        pb::DeleteArticleRequest del;
        del.set_name(mine.back().name());
        google::protobuf::Empty e;
        EXPECT_TRUE(stub_->DeleteArticle(&ctx, del, &e).ok());
        mine.pop_back();
      } else if (i % 4 == 2 && !mine.empty()) {
        grpc::ClientContext ctx;
        Prepare(&ctx, "dortmund", editor_);
        pb::UpdateArticleRequest up;
        up.mutable_article()->set_name(mine.front().name());
        up.mutable_article()->set_title("Geändert " + std::to_string(i));
        up.mutable_update_mask()->add_paths("title");
        pb::Article o;
        EXPECT_TRUE(stub_->UpdateArticle(&ctx, up, &o).ok());
      } else {
        mine.push_back(Create("W" + std::to_string(seed) + "-" + std::to_string(i)));
      }
    }
  };
  std::map<std::string, std::string> replica;
  std::string token;
  auto sync = [&] {
    bool more = true;
    while (more) {
      grpc::ClientContext ctx;
      Prepare(&ctx, "dortmund");
      pb::ListChangesRequest req;
      req.set_sync_token(token);
      req.set_page_size(25);
      pb::ListChangesResponse resp;
      grpc::Status s = stub_->ListChanges(&ctx, req, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (const auto& a : resp.upserts()) replica[a.name()] = a.title();
      for (const auto& n : resp.removed()) replica.erase(n);
      token = resp.next_sync_token();
      more = resp.has_more();
    }
  };
  std::thread w1(writer, 1), w2(writer, 2);
  for (int i = 0; i < 30; ++i) {
    sync();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  w1.join();
  w2.join();
  sync();
  std::map<std::string, std::string> visible;
  for (const auto& a : ListAll("dortmund", 100)) visible[a.name()] = a.title();
  EXPECT_FALSE(visible.empty());
  EXPECT_EQ(replica, visible);
}

TEST_F(NewsIntegrationTest, WatchersSeePublishChangeAndRemoval) {
  grpc::ClientContext watch_ctx;
  Prepare(&watch_ctx, "dortmund", "", absl::Seconds(20));
  auto reader = stub_->WatchArticles(&watch_ctx, pb::WatchArticlesRequest());
  // The stream is followed once the server has the call; give it a moment, then write.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  pb::Article a = Create("Live");
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", editor_);
    pb::UpdateArticleRequest up;
    up.mutable_article()->set_name(a.name());
    up.mutable_article()->set_title("Live geändert");
    up.mutable_update_mask()->add_paths("title");
    pb::Article o;
    ASSERT_TRUE(stub_->UpdateArticle(&ctx, up, &o).ok());
    grpc::ClientContext del_ctx;
    Prepare(&del_ctx, "dortmund", editor_);
    pb::DeleteArticleRequest del;
    del.set_name(a.name());
    google::protobuf::Empty e;
    ASSERT_TRUE(stub_->DeleteArticle(&del_ctx, del, &e).ok());
  }
  std::vector<std::pair<pb::ArticleEvent::Type, std::string>> events;
  pb::ArticleEvent event;
  while (events.size() < 3 && reader->Read(&event)) {
    events.emplace_back(event.type(), event.article().title());
    EXPECT_EQ(event.article().name(), a.name());
  }
  watch_ctx.TryCancel();
  EXPECT_EQ(events, (std::vector<std::pair<pb::ArticleEvent::Type, std::string>>{
                        {pb::ArticleEvent::PUBLISHED, "Live"},
                        {pb::ArticleEvent::CHANGED, "Live geändert"},
                        {pb::ArticleEvent::REMOVED, ""}}));
}

TEST_F(NewsIntegrationTest, ImportsAreAtomicIdempotentAndWorkFromCivitasctl) {
  const std::string feed = dir_ + "/feed.xml";
  std::ofstream(feed) << R"(<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Kreis</title><id>urn:kreis</id>
<entry><id>urn:kreis:1</id><title>Erstens</title><updated>2026-01-05T10:00:00Z</updated></entry>
<entry><id>urn:kreis:2</id><title>Zweitens</title><updated>2026-01-06T10:00:00Z</updated></entry>
</feed>)";
  // One bad item refuses the whole import: nothing is written.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "dortmund", editor_);
    pb::ImportFeedRequest req;
    req.set_document(
        "<rss version=\"2.0\"><channel><link>https://a.example/</link>"
        "<item><title>gut</title><guid>1</guid></item><item><title>ohne id</title></item>"
        "</channel></rss>");
    pb::ImportFeedResponse resp;
    grpc::Status s = stub_->ImportFeed(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("item 2 ('ohne id') has no guid"), std::string::npos)
        << s.error_message();
    EXPECT_TRUE(ListAll().empty());
  }
  const std::vector<std::string> base = {CtlBinary(),   "import",   "news",
                                         "--city",      "dortmund", "--gateway",
                                         gw_->target(), "--token",  editor_};
  std::string output;
  std::vector<std::string> argv = base;
  argv.push_back(feed);
  ASSERT_EQ(RunCommand(argv, &output), 0) << output;
  EXPECT_NE(output.find("created 2, updated 0, unchanged 0"), std::string::npos) << output;
  EXPECT_NE(output.find("bytes from"), std::string::npos) << "shows progress: " << output;
  ASSERT_EQ(RunCommand(argv, &output), 0) << output;
  EXPECT_NE(output.find("created 0, updated 0, unchanged 2"), std::string::npos) << output;
  EXPECT_EQ(ListAll().size(), 2u);

  // Schwerte subscribes to Dortmund's RSS URL.
  const std::string url =
      "http://127.0.0.1:" + std::to_string(gw_->http_port()) + "/cities/dortmund/v1/feed";
  argv = base;
  argv[4] = "schwerte";
  argv.push_back(url);
  ASSERT_EQ(RunCommand(argv, &output), 0) << output;
  EXPECT_NE(output.find("fetching " + url), std::string::npos) << output;
  EXPECT_NE(output.find("created 2"), std::string::npos) << output;
  std::set<std::string> titles;
  for (const auto& a : ListAll("schwerte")) {
    titles.insert(a.title());
    EXPECT_EQ(a.source(), url);
    EXPECT_EQ(a.link().rfind("https://www.dortmund.example/articles/", 0), 0u) << a.link();
  }
  EXPECT_EQ(titles, (std::set<std::string>{"Erstens", "Zweitens"}));
  ASSERT_EQ(RunCommand(argv, &output), 0) << output;
  EXPECT_NE(output.find("unchanged 2"), std::string::npos) << output;

  argv = base;
  argv.push_back(dir_ + "/missing.xml");
  EXPECT_NE(RunCommand(argv, &output), 0);
  EXPECT_NE(output.find("cannot read"), std::string::npos) << output;
}

TEST_F(NewsIntegrationTest, ArticlesSurviveARestart) {
  const pb::Article a = Create("Bleibt");
  gw_->Terminate();
  gw_ = GatewayProcess::Start(dir_, kConfig);
  ASSERT_NE(gw_, nullptr);
  stub_ = pb::NewsService::NewStub(gw_->channel());
  auto all = ListAll();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].name(), a.name());
  EXPECT_EQ(all[0].etag(), a.etag());
}

constexpr char kReviewConfig[] = R"(
data_dir: {dir}/data
module_dir: {modules}
auth:
  jwks_file: jwks.json
limits:
  write_rate:
    per_subject: {per_minute: 6, burst: 5}
    exempt_staff: false
logging:
  access_log: false
cities:
  - id: unna
    modules:
      - id: civitas.news
        config:
          review_required: true
)";

class NewsReviewIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = NewTempDir("gw");
    keys_ = std::make_unique<TestKeys>(dir_);
    gw_ = GatewayProcess::Start(dir_, kReviewConfig);
    ASSERT_NE(gw_, nullptr);
    stub_ = pb::NewsService::NewStub(gw_->channel());
    author_ = keys_->Mint("presseamt", "*", {"editor"});
    reviewer_ = keys_->Mint("lektorat", "*", {"editor"});
    citizen_ = keys_->Mint("anna", "*", {});
  }

  grpc::Status Approve(const std::string& token, const std::string& name, pb::Article* out) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", token);
    pb::ApproveArticleRequest req;
    req.set_name(name);
    return stub_->ApproveArticle(&ctx, req, out);
  }

  grpc::Status History(const std::string& token, const std::string& name,
                       pb::ListArticleHistoryResponse* out, int page_size = 0) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", token);
    pb::ListArticleHistoryRequest req;
    req.set_parent(name);
    req.set_page_size(page_size);
    return stub_->ListArticleHistory(&ctx, req, out);
  }

  std::string dir_;
  std::unique_ptr<TestKeys> keys_;
  std::unique_ptr<GatewayProcess> gw_;
  std::unique_ptr<pb::NewsService::Stub> stub_;
  std::string author_, reviewer_, citizen_;
};

TEST_F(NewsReviewIntegrationTest, ASecondEditorApprovesAndTheHistoryNamesEveryone) {
  pb::Article draft;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", author_);
    pb::CreateArticleRequest req;
    req.mutable_article()->set_title("Neue Buslinie");
    ASSERT_TRUE(stub_->CreateArticle(&ctx, req, &draft).ok());
  }
  auto publish = [&](const std::string& token) {
    grpc::ClientContext ctx;
    Prepare(&ctx, "unna", token);
    pb::PublishArticleRequest req;
    req.set_name(draft.name());
    pb::Article out;
    return stub_->PublishArticle(&ctx, req, &out);
  };
  grpc::Status s = publish(author_);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();

  // Who may approve: an editor, not the author.
  pb::Article out;
  EXPECT_EQ(Approve("", draft.name(), &out).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Approve(citizen_, draft.name(), &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  s = Approve(author_, draft.name(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = Approve(reviewer_, draft.name(), &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.approver(), "lektorat");
  s = publish(author_);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Who may read the history: editors.
  pb::ListArticleHistoryResponse history;
  EXPECT_EQ(History("", draft.name(), &history).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(History(citizen_, draft.name(), &history).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  s = History(reviewer_, draft.name(), &history, 101);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << "at most 100 a page";
  s = History(reviewer_, draft.name(), &history);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(history.entries_size(), 3) << history.DebugString();
  EXPECT_EQ(history.entries(0).action(), pb::ArticleHistoryEntry::PUBLISHED);
  EXPECT_EQ(history.entries(0).actor(), "presseamt");
  EXPECT_EQ(history.entries(1).action(), pb::ArticleHistoryEntry::APPROVED);
  EXPECT_EQ(history.entries(1).actor(), "lektorat");
  EXPECT_EQ(history.entries(2).action(), pb::ArticleHistoryEntry::CREATED);

  // Citizens see the article, not who wrote or approved it.
  grpc::ClientContext ctx;
  Prepare(&ctx, "unna");
  pb::GetArticleRequest get;
  get.set_name(draft.name());
  pb::Article seen;
  ASSERT_TRUE(stub_->GetArticle(&ctx, get, &seen).ok());
  EXPECT_TRUE(seen.approver().empty());
  EXPECT_TRUE(seen.author().empty());
}

TEST_F(NewsReviewIntegrationTest, ApprovalsAreWritesUnderTheWriteRateLimitHistoryReadsAreNot) {
  const std::string flooder = keys_->Mint("flut", "*", {"editor"});
  int refused = 0, answered = 0;
  for (int i = 0; i < 12; ++i) {
    pb::Article out;
    grpc::Status s = Approve(flooder, "articles/00000000000000aa", &out);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++refused;
      EXPECT_NE(s.error_message().find("too many writes"), std::string::npos) << s.error_message();
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
      ++answered;
    }
  }
  EXPECT_EQ(answered, 5) << "the burst of 5";
  EXPECT_EQ(refused, 7);
  // Reads are not counted: the history answers on.
  for (int i = 0; i < 12; ++i) {
    pb::ListArticleHistoryResponse history;
    EXPECT_EQ(History(flooder, "articles/00000000000000aa", &history).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // Another editor still writes.
  pb::Article out;
  EXPECT_EQ(Approve(reviewer_, "articles/00000000000000aa", &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace civitas::testing
