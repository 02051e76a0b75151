#include "services/gateway/appconfig/appconfig_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace civitas::gateway::appconfig {
namespace {

class AppConfigStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/appconfig_store_test_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    auto store = CityStore::Open(env_, dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    city_ = std::move(*store);
    configs_ = std::make_unique<AppConfigStore>(city_.get());
  }
  void TearDown() override {
    configs_.reset();
    ASSERT_TRUE(city_->Close().ok());
  }

  static ac::AppConfig Named(const std::string& name) {
    ac::AppConfig c;
    c.set_display_name(name);
    return c;
  }

  std::string dir_;
  StorageEnvironment env_{StorageConfig{}};
  std::unique_ptr<CityStore> city_;
  std::unique_ptr<AppConfigStore> configs_;
};

TEST_F(AppConfigStoreTest, VersionsAreNumberedAndKeptAndOutputFieldsAreNotStored) {
  EXPECT_EQ(*configs_->CurrentVersion(), 0);
  ac::AppConfig first = Named("Unna");
  first.set_etag("W/\"0\"");
  first.add_modules()->set_module_id("civitas.news");
  auto v1 = configs_->Append(first, 0, 0, absl::FromUnixSeconds(1000));
  ASSERT_TRUE(v1.ok()) << v1.status();
  EXPECT_EQ(v1->version(), 1);
  EXPECT_EQ(v1->name(), "appconfig/versions/1");
  EXPECT_EQ(v1->create_time().seconds(), 1000);
  EXPECT_TRUE(v1->app_config().etag().empty());
  EXPECT_EQ(v1->app_config().modules_size(), 0);
  auto v2 = configs_->Append(Named("Unna an der Ruhr"), 1, 0, absl::Now());
  ASSERT_TRUE(v2.ok()) << v2.status();
  EXPECT_EQ(*configs_->CurrentVersion(), 2);
  auto back = configs_->Get(1);
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ((*back)->app_config().display_name(), "Unna");
  EXPECT_FALSE(configs_->Get(3)->has_value());
  auto restored = configs_->Append((*back)->app_config(), 2, 1, absl::Now());
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->version(), 3);
  EXPECT_EQ(restored->restored_from(), 1);
}

TEST_F(AppConfigStoreTest, AStaleBaseIsAbortedAndWritesNothing) {
  ASSERT_TRUE(configs_->Append(Named("A"), 0, 0, absl::Now()).ok());
  auto stale = configs_->Append(Named("B"), 0, 0, absl::Now());
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*configs_->CurrentVersion(), 1);
  EXPECT_FALSE(configs_->Get(2)->has_value());
}

TEST_F(AppConfigStoreTest, KeysLiveInTheGatewayKeySpace) {
  EXPECT_EQ(VersionKey(7), "appconfig/v/00000000000000000007");
  EXPECT_EQ(CurrentVersionKey(), "appconfig/current");
  ASSERT_TRUE(configs_->Append(Named("A"), 0, 0, absl::Now()).ok());
  std::string value;
  ASSERT_TRUE(*city_->GetSystem(VersionKey(1), &value));
  ASSERT_TRUE(*city_->GetSystem(CurrentVersionKey(), &value));
  EXPECT_EQ(value, "1");
}

}  // namespace
}  // namespace civitas::gateway::appconfig
