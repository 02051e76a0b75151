// When a rendered GET answer may be reused: same route table, no write since the render began,
// younger than the TTL; and the memory bound.
#include "services/gateway/rendered_cache.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "services/gateway/route_table.h"

namespace civitas::gateway {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

std::shared_ptr<const RouteTable> NewTable() {
  return std::make_shared<const RouteTable>(std::map<std::string, CityRoutes>{});
}

std::shared_ptr<const RenderedAnswer> Answer(const std::string& body) {
  return Render("application/json", body, 0);
}

TEST(RenderedCacheTest, AnswersWhileNothingChanged) {
  RenderedCache cache(absl::Seconds(5), 1 << 20);
  auto table = NewTable();
  std::atomic<uint64_t> writes{0};
  const std::string key = RenderedCache::Key("demo", "/v1/articles?page_size=20", "de");
  EXPECT_EQ(cache.Get(key, table, kStart), nullptr);
  cache.Put(key, RenderedCache::TicketFor(table, writes, kStart), Answer("{\"a\":1}"));
  auto hit = cache.Get(key, table, kStart + absl::Seconds(4));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->body, "{\"a\":1}");
  EXPECT_EQ(hit->etag, WeakEtag("{\"a\":1}"));
  // Another language or target is another answer.
  EXPECT_EQ(cache.Get(RenderedCache::Key("demo", "/v1/articles?page_size=20", "en"), table, kStart),
            nullptr);
  EXPECT_EQ(cache.stats().hits.load(), 1u);
  EXPECT_EQ(cache.stats().misses.load(), 2u);
}

TEST(RenderedCacheTest, AWriteOfTheModuleMakesItStale) {
  RenderedCache cache(absl::Seconds(5), 1 << 20);
  auto table = NewTable();
  std::atomic<uint64_t> writes{7};
  const std::string key = RenderedCache::Key("demo", "/v1/events", "");
  // A write that commits while the answer is being made: the answer is stale when it is kept.
  RenderedCache::Ticket ticket = RenderedCache::TicketFor(table, writes, kStart);
  writes.fetch_add(1);
  cache.Put(key, ticket, Answer("[]"));
  EXPECT_EQ(cache.Get(key, table, kStart), nullptr);
  // Rendered after it: kept until the next write.
  cache.Put(key, RenderedCache::TicketFor(table, writes, kStart), Answer("[1]"));
  EXPECT_NE(cache.Get(key, table, kStart), nullptr);
  writes.fetch_add(1);
  EXPECT_EQ(cache.Get(key, table, kStart), nullptr);
}

TEST(RenderedCacheTest, ANewRouteTableOrTheTtlEndsIt) {
  RenderedCache cache(absl::Seconds(5), 1 << 20);
  auto table = NewTable();
  std::atomic<uint64_t> writes{0};
  const std::string key = RenderedCache::Key("demo", "/v1/feed", "");
  cache.Put(key, RenderedCache::TicketFor(table, writes, kStart), Answer("<rss/>"));
  EXPECT_EQ(cache.Get(key, table, kStart + absl::Seconds(5)), nullptr);  // TTL over
  EXPECT_EQ(cache.Get(key, table, kStart - absl::Seconds(1)), nullptr);  // clock went back
  EXPECT_NE(cache.Get(key, table, kStart + absl::Seconds(1)), nullptr);
  // A module installed or a city added: a new table, whatever the module wrote.
  EXPECT_EQ(cache.Get(key, NewTable(), kStart + absl::Seconds(1)), nullptr);
  table.reset();
  EXPECT_EQ(cache.Get(key, NewTable(), kStart + absl::Seconds(1)), nullptr);
}

TEST(RenderedCacheTest, AnOlderRenderDoesNotReplaceANewerOne) {
  RenderedCache cache(absl::Seconds(5), 1 << 20);
  auto table = NewTable();
  std::atomic<uint64_t> writes{0};
  const std::string key = RenderedCache::Key("demo", "/v1/ideas", "");
  cache.Put(key, RenderedCache::TicketFor(table, writes, kStart + absl::Seconds(2)), Answer("new"));
  cache.Put(key, RenderedCache::TicketFor(table, writes, kStart + absl::Seconds(1)), Answer("old"));
  auto hit = cache.Get(key, table, kStart + absl::Seconds(3));
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->body, "new");
}

TEST(RenderedCacheTest, StaysWithinItsBytesExpiredFirstThenTheOlderHalf) {
  const size_t max = 64 << 10;
  RenderedCache cache(absl::Seconds(5), max);
  auto table = NewTable();
  std::atomic<uint64_t> writes{0};
  const std::string body(1000, 'x');  // not compressible enough to matter: bytes stay ~1 KB
  for (int i = 0; i < 200; ++i) {
    cache.Put(RenderedCache::Key("demo", "/v1/articles/" + std::to_string(i), ""),
              RenderedCache::TicketFor(table, writes, kStart + absl::Milliseconds(i)),
              Render("application/octet-stream", body, 0));
    EXPECT_LE(cache.bytes(), max);
  }
  EXPECT_GT(cache.stats().evictions.load(), 0u);
  // The newest is kept, the oldest went.
  const absl::Time later = kStart + absl::Seconds(1);
  EXPECT_NE(cache.Get(RenderedCache::Key("demo", "/v1/articles/199", ""), table, later), nullptr);
  EXPECT_EQ(cache.Get(RenderedCache::Key("demo", "/v1/articles/0", ""), table, later), nullptr);
  // One answer larger than an eighth of the cache is never kept.
  cache.Put(RenderedCache::Key("demo", "/v1/big", ""),
            RenderedCache::TicketFor(table, writes, kStart),
            Render("application/octet-stream", std::string(max / 4, 'y'), 0));
  EXPECT_EQ(cache.Get(RenderedCache::Key("demo", "/v1/big", ""), table, kStart), nullptr);
}

TEST(RenderedCacheTest, ZeroTtlKeepsNothing) {
  RenderedCache cache(absl::ZeroDuration(), 1 << 20);
  EXPECT_FALSE(cache.enabled());
  auto table = NewTable();
  std::atomic<uint64_t> writes{0};
  cache.Put("k", RenderedCache::TicketFor(table, writes, kStart), Answer("{}"));
  EXPECT_EQ(cache.Get("k", table, kStart), nullptr);
}

TEST(AnswerFromTest, RevalidationAndEncodingPerRequest) {
  const std::string body = std::string("{\"articles\":[") + std::string(4000, ' ') + "]}";
  auto answer = Render("application/json", body, 0);
  ASSERT_FALSE(answer->gzipped.empty());
  HttpRequest plain;
  HttpResponse r = AnswerFrom(*answer, plain);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
  HttpRequest gz;
  gz.headers["accept-encoding"] = "gzip";
  EXPECT_EQ(AnswerFrom(*answer, gz).body, answer->gzipped);
  HttpRequest inm;
  inm.headers["if-none-match"] = answer->etag;
  r = AnswerFrom(*answer, inm);
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
}

}  // namespace
}  // namespace civitas::gateway
