// A module whose entries throw across the ABI (tests/fixtures/modules/throwing.cc): each throw is
// a refusal or a failed call with a reason, and the gateway goes on.
#include "services/gateway/module_instance.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace civitas::gateway {
namespace {

class TestCall final : public HostCall {
 public:
  std::optional<std::string> Metadata(std::string_view) const override { return std::nullopt; }
  int64_t DeadlineMicros() const override { return INT64_MAX; }
  bool IsCancelled() const override { return false; }
  int32_t Send(std::string) override { return CIVITAS_FAILED_PRECONDITION; }
};

class ThrowingModuleTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/module_instance_test_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    auto store = CityStore::Open(env_, dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto module =
        loader_.Load(absl::StrCat(CIVITAS_FIXTURE_MODULE_DIR, "/civitas.testing.throwing.so"));
    ASSERT_TRUE(module.ok()) << module.status();
    CityConfig city;
    city.id = "testcity";
    auto instance = ModuleInstance::Create(*module, city, ModuleConfig{}, store_.get());
    ASSERT_TRUE(instance.ok()) << instance.status();
    instance_ = *std::move(instance);
  }
  void TearDown() override {
    instance_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  StorageEnvironment env_{StorageConfig{}};
  std::unique_ptr<CityStore> store_;
  ModuleLoader loader_;
  std::shared_ptr<ModuleInstance> instance_;
};

TEST_F(ThrowingModuleTest, AMigrationThatThrowsAnIntIsARefusal) {
  const absl::Status s = instance_->Migrate("0.9.0");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "failed to migrate city 'testcity' from 0.9.0"))
      << s.message();
  EXPECT_TRUE(absl::StrContains(s.message(), "migrate threw an exception (not a std::exception)"))
      << s.message();
}

TEST_F(ThrowingModuleTest, ADownMigrationThatThrowsIsARefusal) {
  const absl::Status s = instance_->MigrateDown("0.9.0");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "migrate_down threw an exception")) << s.message();
}

TEST_F(ThrowingModuleTest, AHandlerThatThrowsFailsItsCallOnly) {
  TestCall call;
  const MethodInfo& method = instance_->module().services().at(0).methods.at(0);
  EXPECT_EQ(instance_->Handle(&call, method, ""), CIVITAS_INTERNAL);
  EXPECT_TRUE(absl::StrContains(call.error(), "handler threw an exception")) << call.error();
  EXPECT_EQ(instance_->in_flight(), 0);
}

TEST_F(ThrowingModuleTest, PersonalDataHooksThatThrowStdExceptionsSayWhat) {
  std::string json;
  const absl::Status exported = instance_->ExportPersonalData("anna", &json);
  EXPECT_EQ(exported.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(exported.message(), "no export today")) << exported.message();
  const absl::Status erased = instance_->ErasePersonalData("anna");
  EXPECT_EQ(erased.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StrContains(erased.message(), "no erasure today")) << erased.message();
  EXPECT_EQ(instance_->in_flight(), 0);
}

}  // namespace
}  // namespace civitas::gateway
