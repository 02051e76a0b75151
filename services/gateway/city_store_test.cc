#include "services/gateway/city_store.h"

#include <gtest/gtest.h>
#include <rocksdb/utilities/transaction.h>

#include <filesystem>

namespace civitas::gateway {
namespace {

class CityStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/city_store_test_" +
           testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  StorageEnvironment env_{StorageConfig{}};
};

TEST_F(CityStoreTest, CountersMergeAndSurviveReopen) {
  {
    auto store = CityStore::Open(env_, dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 5; ++i) {
      std::unique_ptr<rocksdb::Transaction> txn(
          (*store)->db()->BeginTransaction((*store)->write_options()));
      ASSERT_TRUE(txn->Merge("counter", EncodeU64(i == 4 ? static_cast<uint64_t>(-1) : 3)).ok());
      ASSERT_TRUE(txn->Commit().ok());
    }
    ASSERT_TRUE((*store)->PutSystem("seeded", "1").ok());
  }
  auto store = CityStore::Open(env_, dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  std::string value;
  ASSERT_TRUE((*store)->db()->Get(rocksdb::ReadOptions(), "counter", &value).ok());
  EXPECT_EQ(DecodeU64(value), 11u);  // 4 * 3 - 1
  std::string marker;
  auto found = (*store)->GetSystem("seeded", &marker);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(*found);
  EXPECT_EQ(marker, "1");
}

TEST(KeyLayoutTest, NoModuleNamespaceIsAPrefixOfAnother) {
  const std::string a = ModuleKeyPrefix("city.news");
  const std::string b = ModuleKeyPrefix("city.news2");
  const std::string c = ModuleKeyPrefix("city");
  EXPECT_NE(b.rfind(a, 0), 0u);
  EXPECT_NE(a.rfind(c, 0), 0u);
  EXPECT_NE(SystemKey("x").rfind(c, 0), 0u);
}

TEST(KeyLayoutTest, U64RoundTrip) {
  EXPECT_EQ(DecodeU64(EncodeU64(0x0102030405060708ull)), 0x0102030405060708ull);
  EXPECT_EQ(EncodeU64(1), std::string("\x01\0\0\0\0\0\0\0", 8));
}

}  // namespace
}  // namespace civitas::gateway
