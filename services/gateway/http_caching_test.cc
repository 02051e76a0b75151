// The GET conventions of the JSON/HTTP API: validators, conditional requests, Cache-Control by
// audience, and gzip.
#include "services/gateway/http_caching.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <string>

namespace civitas::gateway {
namespace {

std::string Gunzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 31), Z_OK);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(out.size() - z.avail_out);
  inflateEnd(&z);
  return out;
}

std::string HeaderOf(const HttpResponse& r, const std::string& name) {
  std::string all;
  for (const auto& [k, v] : r.headers) {
    if (k == name) all += (all.empty() ? "" : ", ") + v;
  }
  return all;
}

HttpResponse Json(std::string body) { return HttpResponse{200, "application/json", body, {}}; }

TEST(EtagTest, StableWeakAndDifferentForDifferentBodies) {
  EXPECT_EQ(WeakEtag("{}"), WeakEtag("{}"));
  EXPECT_NE(WeakEtag("{}"), WeakEtag("{ }"));
  EXPECT_EQ(WeakEtag("").substr(0, 3), "W/\"");
  const std::string e = WeakEtag("x");
  EXPECT_TRUE(IfNoneMatchMatches(e, e));
  EXPECT_TRUE(IfNoneMatchMatches(e.substr(2), e)) << "weak comparison ignores W/";
  EXPECT_TRUE(IfNoneMatchMatches("\"other\", " + e, e));
  EXPECT_TRUE(IfNoneMatchMatches("*", e));
  EXPECT_FALSE(IfNoneMatchMatches("\"other\"", e));
}

TEST(EtagTest, EveryByteCountsInWordsAndInTheTail) {
  // Taken eight bytes at a time: order within a word, the tail and the length all matter.
  EXPECT_NE(WeakEtag("abcdefgh"), WeakEtag("bacdefgh"));
  EXPECT_NE(WeakEtag("abcdefghi"), WeakEtag("abcdefghj"));
  EXPECT_NE(WeakEtag(std::string(8, '\0')), WeakEtag(std::string(16, '\0')));
  EXPECT_NE(WeakEtag(""), WeakEtag(std::string(1, '\0')));
}

TEST(AcceptsGzipTest, ReadsQualities) {
  EXPECT_TRUE(AcceptsGzip("gzip, deflate, br"));
  EXPECT_TRUE(AcceptsGzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip(""));
}

TEST(GetConventionsTest, PublicAnswersGetAValidatorAndA304) {
  HttpRequest request;
  HttpResponse r = Json("{\"articles\":[]}");
  ApplyGetConventions(request, false, 0, &r);
  EXPECT_EQ(r.status, 200);
  const std::string etag = HeaderOf(r, "ETag");
  EXPECT_EQ(etag, WeakEtag("{\"articles\":[]}"));
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "public, max-age=0, must-revalidate");
  EXPECT_NE(HeaderOf(r, "Vary").find("Authorization"), std::string::npos);

  request.headers["if-none-match"] = etag;
  HttpResponse again = Json("{\"articles\":[]}");
  ApplyGetConventions(request, false, 0, &again);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(HeaderOf(again, "ETag"), etag);

  HttpResponse changed = Json("{\"articles\":[{}]}");
  ApplyGetConventions(request, false, 0, &changed);
  EXPECT_EQ(changed.status, 200) << "a changed body is sent";

  HttpResponse feed{200, "application/rss+xml", "<rss/>", {}};
  ApplyGetConventions(HttpRequest{}, false, 300, &feed);
  EXPECT_EQ(HeaderOf(feed, "Cache-Control"), "public, max-age=300");
}

TEST(GetConventionsTest, PersonalAnswersAreNeverStoredOrValidated) {
  HttpRequest request;
  request.headers["if-none-match"] = "*";
  HttpResponse r = Json("{\"reports\":[]}");
  ApplyGetConventions(request, true, 300, &r);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(HeaderOf(r, "Cache-Control"), "private, no-store");
  EXPECT_EQ(HeaderOf(r, "ETag"), "");
}

TEST(GetConventionsTest, LargerTextIsGzippedWhenAccepted) {
  std::string big = "{\"articles\":[";
  for (int i = 0; i < 200; ++i) big += "{\"title\":\"Baustelle am Wall\"},";
  big += "{}]}";
  HttpRequest request;
  request.headers["accept-encoding"] = "gzip, br";
  HttpResponse r = Json(big);
  ApplyGetConventions(request, false, 0, &r);
  EXPECT_EQ(HeaderOf(r, "Content-Encoding"), "gzip");
  EXPECT_LT(r.body.size(), big.size() / 5);
  EXPECT_EQ(Gunzip(r.body), big);
  EXPECT_EQ(HeaderOf(r, "ETag"), WeakEtag(big)) << "the validator is the content's";

  HttpResponse small = Json("{}");
  ApplyGetConventions(request, false, 0, &small);
  EXPECT_EQ(HeaderOf(small, "Content-Encoding"), "") << "below 1 KB";

  HttpResponse refused = Json(big);
  ApplyGetConventions(HttpRequest{}, false, 0, &refused);
  EXPECT_EQ(refused.body, big) << "no Accept-Encoding: identity";

  HttpResponse photo{200, "image/jpeg", big, {}};
  ApplyGetConventions(request, false, 300, &photo);
  EXPECT_EQ(HeaderOf(photo, "Content-Encoding"), "") << "images are compressed already";
}

}  // namespace
}  // namespace civitas::gateway
