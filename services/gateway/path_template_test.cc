#include "services/gateway/path_template.h"

#include <gtest/gtest.h>

namespace civitas::gateway {
namespace {

TEST(PathTemplateTest, BindsVariablesAndVerbs) {
  auto t = PathTemplate::Parse("/v1/{name=articles/*}:publish");
  ASSERT_TRUE(t.ok()) << t.status();
  std::map<std::string, std::string> vars;
  EXPECT_TRUE(t->Match("/v1/articles/a%2Fb:publish", &vars));
  EXPECT_EQ(vars["name"], "articles/a/b");
  vars.clear();
  EXPECT_FALSE(t->Match("/v1/articles/a", &vars));
  EXPECT_FALSE(t->Match("/v1/articles/a:archive", &vars));
  EXPECT_FALSE(t->Match("/v1/events/a:publish", &vars));
}

TEST(PathTemplateTest, DoubleStarTakesTheRest) {
  auto t = PathTemplate::Parse("/files/{path=**}");
  ASSERT_TRUE(t.ok()) << t.status();
  std::map<std::string, std::string> vars;
  EXPECT_TRUE(t->Match("/files/a/b/c", &vars));
  EXPECT_EQ(vars["path"], "a/b/c");
  EXPECT_FALSE(PathTemplate::Parse("/files/**/x").ok());
}

TEST(PathTemplateTest, RefusesBrokenTemplates) {
  EXPECT_FALSE(PathTemplate::Parse("v1/articles").ok());
  EXPECT_FALSE(PathTemplate::Parse("/v1/{name").ok());
  EXPECT_FALSE(PathTemplate::Parse("/v1//x").ok());
}

TEST(PathTemplateTest, LeadingLiteralsStopAtTheFirstVariable) {
  auto t = PathTemplate::Parse("/v1/{name=articles/*}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->LeadingLiterals(5), (std::vector<std::string>{"v1", "articles"}));
  EXPECT_EQ(t->LeadingLiterals(1), (std::vector<std::string>{"v1"}));
  auto u = PathTemplate::Parse("/{x}/feed");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->LeadingLiterals(2).empty());
}

TEST(PathTemplateTest, OpenApiPathGivesEachWildcardAParameter) {
  auto path = [](const std::string& text, std::vector<PathTemplate::Parameter>* params) {
    auto t = PathTemplate::Parse(text);
    EXPECT_TRUE(t.ok()) << text;
    return t->OpenApiPath(params);
  };
  std::vector<PathTemplate::Parameter> p;
  EXPECT_EQ(path("/v1/{name=events/*}:register", &p), "/v1/events/{eventsId}:register");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].name, "eventsId");
  EXPECT_EQ(p[0].field_path, "name");
  p.clear();
  EXPECT_EQ(path("/v1/{parent=ideas/*}/comments/{comment_id}", &p),
            "/v1/ideas/{ideasId}/comments/{comment_id}");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[1].field_path, "comment_id");
  p.clear();
  EXPECT_EQ(path("/v1/{article.name=articles/*}", &p), "/v1/articles/{articlesId}");
  EXPECT_EQ(p[0].field_path, "article.name");
  p.clear();
  EXPECT_EQ(path("/open311/v2/{path=**}", &p), "/open311/v2/{path}");
  p.clear();
  EXPECT_EQ(path("/v1/{x.y}", &p), "/v1/{x_y}");  // OpenAPI names have no dots here
  EXPECT_EQ(path("/v1/articles", &p), "/v1/articles");
}

TEST(PercentDecodeTest, DecodesAndRefusesBrokenEscapes) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b+c", true, &out));
  EXPECT_EQ(out, "a b c");
  EXPECT_TRUE(PercentDecode("a+b", false, &out));
  EXPECT_EQ(out, "a+b");
  EXPECT_FALSE(PercentDecode("%4", false, &out));
  EXPECT_FALSE(PercentDecode("%zz", false, &out));
}

}  // namespace
}  // namespace civitas::gateway
