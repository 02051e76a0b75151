#include "services/gateway/city_store.h"

#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/utilities/transaction.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

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

TEST(StorageEnvironmentTest, AllCitiesTableFilesFitHalfTheDescriptorLimit) {
  StorageEnvironment env{StorageConfig{}};
  // A whole state on one gateway under a 20,000 descriptor limit: 396 cities (and room for 8
  // more) keep at most half of it.
  const int per_city = env.FitDescriptors(396, 20000);
  EXPECT_LE(uint64_t{static_cast<uint64_t>(per_city)} * (396 + 8), 10000u);
  EXPECT_GE(per_city, 16);
  EXPECT_EQ(env.CityOptions().max_open_files, per_city);
  // One city and plenty of descriptors: RocksDB's 256, no more.
  EXPECT_EQ(env.FitDescriptors(1, 1 << 20), 256);
  // Never below 16, however tight (RocksDB needs a few files open to work at all).
  EXPECT_EQ(env.FitDescriptors(5000, 1024), 16);
  // An operator's choice wins.
  StorageConfig fixed;
  fixed.max_open_files_per_city = 100;
  StorageEnvironment chosen{fixed};
  EXPECT_EQ(chosen.FitDescriptors(396, 20000), 100);
}

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

// Holds every sync of a write-ahead log while closed, and counts the syncs.
class SyncGate {
 public:
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = false;
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [&] { return !closed_; });
    --waiting_;
    ++syncs_;
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  int syncs() {
    std::lock_guard<std::mutex> lock(mu_);
    return syncs_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  int waiting_ = 0;
  int syncs_ = 0;
};

class GatedWal : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  GatedWal(std::unique_ptr<rocksdb::FSWritableFile> file, SyncGate* gate)
      : FSWritableFileOwnerWrapper(std::move(file)), gate_(gate) {}
  rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    gate_->Pass();
    return target()->Sync(o, d);
  }
  rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
    gate_->Pass();
    return target()->Fsync(o, d);
  }

 private:
  SyncGate* gate_;
};

class GatedFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit GatedFileSystem(SyncGate* gate)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), gate_(gate) {}
  const char* Name() const override { return "GatedFileSystem"; }
  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* file,
                                    rocksdb::IODebugContext* dbg) override {
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, file, dbg);
    if (s.ok() && name.ends_with(".log")) {
      *file = std::make_unique<GatedWal>(std::move(*file), gate_);
    }
    return s;
  }

 private:
  SyncGate* gate_;
};

// A city store whose WAL syncs pass through a gate the test controls.
class DeferredSyncTest : public CityStoreTest {
 protected:
  void SetUp() override {
    CityStoreTest::SetUp();
    StorageConfig config;
    config.durability = Durability::kSync;
    storage_ = std::make_unique<StorageEnvironment>(config, env_with_gate_.get());
    auto store = CityStore::Open(*storage_, dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  void TearDown() override {
    gate_.Open();
    store_.reset();
    storage_.reset();
    CityStoreTest::TearDown();
  }

  // Commits one Put the way a unary call's handler does; returns the commit's ticket.
  uint64_t CommitInCall(const std::string& key) {
    DeferredSync scope;
    DeferredSync* deferred = nullptr;
    const rocksdb::WriteOptions& options = store_->TransactionWriteOptions(&deferred);
    EXPECT_EQ(deferred, &scope);
    EXPECT_FALSE(options.sync);
    std::unique_ptr<rocksdb::Transaction> txn(store_->db()->BeginTransaction(options));
    EXPECT_TRUE(txn->Put(key, "v").ok());
    EXPECT_TRUE(txn->Commit().ok());
    store_->NoteDeferredCommit(deferred);
    EXPECT_EQ(scope.store(), store_.get());
    EXPECT_GT(scope.ticket(), 0u);
    return scope.ticket();
  }

  bool WaitFor(const std::function<bool()>& condition) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!condition()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  SyncGate gate_;
  std::unique_ptr<rocksdb::Env> env_with_gate_ =
      rocksdb::NewCompositeEnv(std::make_shared<GatedFileSystem>(&gate_));
  std::unique_ptr<StorageEnvironment> storage_;
  std::unique_ptr<CityStore> store_;
};

TEST_F(DeferredSyncTest, ACommitIsReportedDurableOnlyAfterTheWalSync) {
  gate_.Close();
  const uint64_t ticket = CommitInCall("k");
  std::promise<absl::Status> durable;
  std::future<absl::Status> reported = durable.get_future();
  store_->WhenDurable(ticket, [&](absl::Status s) { durable.set_value(s); });
  ASSERT_TRUE(WaitFor([&] { return gate_.waiting() == 1; })) << "no WAL sync was started";
  EXPECT_EQ(reported.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "reported durable while the WAL sync was still held";
  gate_.Open();
  ASSERT_EQ(reported.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(reported.get().ok());
  // Already durable: answered at once, without another sync.
  const int syncs = gate_.syncs();
  bool at_once = false;
  store_->WhenDurable(ticket, [&](absl::Status s) { at_once = s.ok(); });
  EXPECT_TRUE(at_once);
  EXPECT_EQ(gate_.syncs(), syncs);
}

TEST_F(DeferredSyncTest, ConcurrentCommitsShareOneSync) {
  constexpr int kCalls = 32;
  gate_.Close();
  const int syncs_before = gate_.syncs();
  std::atomic<int> answered{0}, failed{0};
  // The first call's sync is held at the gate while the others commit.
  store_->WhenDurable(CommitInCall("first"), [&](absl::Status s) {
    if (!s.ok()) ++failed;
    ++answered;
  });
  ASSERT_TRUE(WaitFor([&] { return gate_.waiting() == 1; }));
  std::vector<std::thread> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.emplace_back([&, i] {
      store_->WhenDurable(CommitInCall("k" + std::to_string(i)), [&](absl::Status s) {
        if (!s.ok()) ++failed;
        ++answered;
      });
    });
  }
  for (auto& t : calls) t.join();
  EXPECT_EQ(answered.load(), 0);
  gate_.Open();
  ASSERT_TRUE(WaitFor([&] { return answered.load() == kCalls + 1; }));
  EXPECT_EQ(failed.load(), 0);
  // The held sync, then one that covers all 32 commits made while it was held.
  EXPECT_EQ(gate_.syncs() - syncs_before, 2);
}

TEST_F(DeferredSyncTest, WithoutACallScopeCommitsAreSyncedThemselves) {
  DeferredSync* deferred;
  {
    DeferredSync gone;  // only for a non-null value the call must overwrite
    deferred = &gone;
  }
  EXPECT_TRUE(store_->TransactionWriteOptions(&deferred).sync);
  EXPECT_EQ(deferred, nullptr);
}

TEST_F(CityStoreTest, AsyncDurabilityNeverDefers) {
  StorageConfig config;
  config.durability = Durability::kAsync;
  StorageEnvironment storage(config);
  auto store = CityStore::Open(storage, dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  DeferredSync scope;
  DeferredSync* deferred = &scope;
  EXPECT_FALSE((*store)->TransactionWriteOptions(&deferred).sync);
  EXPECT_EQ(deferred, nullptr);
}

void DeleteString(const rocksdb::Slice&, void* value) { delete static_cast<std::string*>(value); }

// A table's filter block grows with the table (about 3 MB for the largest, 64 MB, file). It must
// stay in the shared cache once read; in RocksDB's default 1 MiB shards it was evicted at once,
// and every point read loaded it from disk again.
TEST(BlockCacheTest, AFilterOfTheLargestTableStaysCached) {
  StorageEnvironment env{StorageConfig{}};  // default 64 MiB cache
  const std::shared_ptr<rocksdb::Cache>& cache = env.block_cache();
  for (int i = 0; i < 4; ++i) {
    const std::string key = "filter-of-table-" + std::to_string(i);
    rocksdb::Cache::Handle* handle = nullptr;
    ASSERT_TRUE(cache
                    ->Insert(key, new std::string(3 << 20, 'f'), 3 << 20, &DeleteString, &handle,
                             rocksdb::Cache::Priority::HIGH)
                    .ok());
    cache->Release(handle);
  }
  for (int i = 0; i < 4; ++i) {
    rocksdb::Cache::Handle* handle = cache->Lookup("filter-of-table-" + std::to_string(i));
    EXPECT_NE(handle, nullptr) << "a 3 MB block was evicted right after use";
    if (handle != nullptr) cache->Release(handle);
  }
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
