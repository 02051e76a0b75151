// Accept-Language on the JSON/HTTP side: which language a header prefers, and when it stands in
// for a request's language_code.
#include "services/gateway/http_rule.h"

#include <gtest/gtest.h>

#include "civitas/news/v1/news.pb.h"

namespace civitas::gateway {
namespace {

TEST(PreferredLanguageTest, HighestQualityFirstOfEquals) {
  EXPECT_EQ(PreferredLanguage("tr-TR,tr;q=0.9,de;q=0.8"), "tr-TR");
  EXPECT_EQ(PreferredLanguage("de;q=0.5, en;q=0.9"), "en");
  EXPECT_EQ(PreferredLanguage("*, fr;q=0.1"), "fr");
  EXPECT_EQ(PreferredLanguage("en;q=0, uk"), "uk");
  EXPECT_EQ(PreferredLanguage("<script>, ;q=1"), "");
  EXPECT_EQ(PreferredLanguage(""), "");
}

TEST(AcceptLanguageTest, FillsOnlyAMissingLanguageCodeOfABodylessRequest) {
  (void)civitas::news::v1::ListArticlesRequest::descriptor();
  const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      "civitas.news.v1.NewsService");
  ASSERT_NE(service, nullptr);
  HttpBinding list;
  list.descriptor = service->FindMethodByName("ListArticles");
  ASSERT_NE(list.descriptor, nullptr);
  EXPECT_TRUE(UsesAcceptLanguage(list));
  EXPECT_EQ(QueryWithAcceptLanguage(list, "", "tr"), "language_code=tr");
  EXPECT_EQ(QueryWithAcceptLanguage(list, "page_size=5", "tr"), "page_size=5&language_code=tr");
  EXPECT_EQ(QueryWithAcceptLanguage(list, "language_code=en", "tr"), "language_code=en");
  EXPECT_EQ(QueryWithAcceptLanguage(list, "languageCode=en", "tr"), "languageCode=en");
  EXPECT_EQ(QueryWithAcceptLanguage(list, "page_size=5", ""), "page_size=5");

  HttpBinding create;
  create.descriptor = service->FindMethodByName("CreateArticle");
  create.body = "article";
  EXPECT_FALSE(UsesAcceptLanguage(create)) << "a body names its own language";
  EXPECT_EQ(QueryWithAcceptLanguage(create, "", "tr"), "");
}

TEST(BuildRequestTest, BodyIsTheInnerMessageOrTheGrpcRequestShape) {
  (void)civitas::news::v1::CreateArticleRequest::descriptor();
  const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
      "civitas.news.v1.NewsService");
  ASSERT_NE(service, nullptr);
  HttpBinding create;
  create.descriptor = service->FindMethodByName("CreateArticle");
  create.body = "article";
  // The body is the article itself (docs/api.md) ...
  auto inner = BuildRequest(create, {}, "", R"({"title": "Neue Spielplätze"})");
  ASSERT_TRUE(inner.ok()) << inner.status();
  civitas::news::v1::CreateArticleRequest request;
  ASSERT_TRUE(request.ParseFromString(*inner));
  EXPECT_EQ(request.article().title(), "Neue Spielplätze");
  // ... or, as the gRPC request is written, {"article": {...}}: the same request.
  auto wrapped = BuildRequest(create, {}, "", R"({"article": {"title": "Neue Spielplätze"}})");
  ASSERT_TRUE(wrapped.ok()) << wrapped.status();
  EXPECT_EQ(*wrapped, *inner);
  // Anything else beside it is not the gRPC shape, and the error names the inner message.
  auto mixed = BuildRequest(create, {}, "", R"({"article": {"title": "x"}, "title": "y"})");
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("civitas.news.v1.Article"), std::string::npos)
      << mixed.status();
}

}  // namespace
}  // namespace civitas::gateway
