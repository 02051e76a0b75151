#include "services/gateway/route_table.h"

#include <gtest/gtest.h>

namespace civitas::gateway {
namespace {

std::map<std::string, CityRoutes> Cities(std::vector<std::string> ids) {
  std::map<std::string, CityRoutes> out;
  for (const std::string& id : ids) {
    CityRoutes r;
    r.config.id = id;
    r.config.hosts = {id + ".example"};
    out[id] = std::move(r);
  }
  return out;
}

TEST(RouteTableTest, OneCityNeedsNoHint) {
  RouteTable table(Cities({"demo"}));
  const CityRoutes* city = nullptr;
  ASSERT_TRUE(table.ResolveCity("", "", &city).ok());
  EXPECT_EQ(city->config.id, "demo");
}

TEST(RouteTableTest, MetadataThenAuthority) {
  RouteTable table(Cities({"dortmund", "schwerte"}));
  const CityRoutes* city = nullptr;
  ASSERT_TRUE(table.ResolveCity("schwerte", "dortmund.example", &city).ok());
  EXPECT_EQ(city->config.id, "schwerte");
  ASSERT_TRUE(table.ResolveCity("", "DORTMUND.example:443", &city).ok());
  EXPECT_EQ(city->config.id, "dortmund");
}

TEST(RouteTableTest, UnknownCityIsNotFoundAndNamesTheCities) {
  RouteTable table(Cities({"dortmund", "schwerte"}));
  const CityRoutes* city = nullptr;
  grpc::Status s = table.ResolveCity("hagen", "", &city);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find("'hagen'"), std::string::npos);
  EXPECT_NE(s.error_message().find("dortmund, schwerte"), std::string::npos);
}

TEST(RouteTableTest, SeveralCitiesWithoutHintIsInvalidArgument) {
  RouteTable table(Cities({"dortmund", "schwerte"}));
  const CityRoutes* city = nullptr;
  grpc::Status s = table.ResolveCity("", "127.0.0.1:50051", &city);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("x-civitas-city"), std::string::npos);
}

TEST(RouteTableTest, UnknownMethodIsUnimplemented) {
  RouteTable table(Cities({"demo"}));
  const CityRoutes& city = table.cities().at("demo");
  Route route;
  grpc::Status s = table.ResolveMethod(city, "/x.v1.Nope/Do", &route);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(s.error_message().find("/x.v1.Nope/Do"), std::string::npos);
}

}  // namespace
}  // namespace civitas::gateway
