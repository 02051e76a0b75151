// Per-city storage: one RocksDB TransactionDB per city directory, so a city can be backed up,
// moved or deleted on its own. All cities of a process share one block cache, one write-buffer
// budget and RocksDB's background threads (StorageEnvironment).
#ifndef CIVITAS_GATEWAY_CITY_STORE_H_
#define CIVITAS_GATEWAY_CITY_STORE_H_

#include <rocksdb/cache.h>
#include <rocksdb/utilities/transaction_db.h>
#include <rocksdb/write_buffer_manager.h>

#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/gateway/config.h"
#include "services/gateway/deferred_sync.h"

namespace civitas::gateway {

class StorageEnvironment {
 public:
  // `env` replaces RocksDB's default environment (tests: a file system that gates syncs).
  explicit StorageEnvironment(const StorageConfig& config, rocksdb::Env* env = nullptr);
  rocksdb::Options CityOptions() const;
  // Sets the table files each city keeps open for `cities` cities (storage.max_open_files_per_
  // city, or if that is 0: half the descriptor soft limit shared by the cities plus room for a
  // few added while serving, from 16 to 256 each). Call before the cities open; returns it.
  int FitDescriptors(size_t cities, uint64_t descriptor_limit);
  int max_open_files() const { return max_open_files_; }
  // Writes synced as configured (storage.durability).
  const rocksdb::WriteOptions& write_options() const { return write_options_; }
  // Writes whose sync is deferred to a DeferredSync (never synced by themselves).
  const rocksdb::WriteOptions& deferred_write_options() const { return deferred_write_options_; }
  Durability durability() const { return durability_; }
  uint64_t city_quota_bytes() const { return city_quota_bytes_; }
  const std::shared_ptr<rocksdb::Cache>& block_cache() const { return block_cache_; }
  // Runs the cities' WAL syncs for deferred commits (shared by all cities of the process).
  boost::asio::thread_pool& sync_pool() const { return sync_pool_; }

 private:
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::shared_ptr<rocksdb::MergeOperator> merge_operator_;
  rocksdb::WriteOptions write_options_;
  rocksdb::WriteOptions deferred_write_options_;
  Durability durability_;
  uint64_t city_quota_bytes_ = 0;
  rocksdb::Env* env_;
  mutable boost::asio::thread_pool sync_pool_{2};
  int max_open_files_ = 256;
  uint32_t configured_open_files_ = 0;
};

class CityStore {
 public:
  // Opens (creating if needed) the city's database in `dir`.
  static absl::StatusOr<std::unique_ptr<CityStore>> Open(const StorageEnvironment& env,
                                                         const std::string& dir);
  ~CityStore();
  CityStore(const CityStore&) = delete;
  CityStore& operator=(const CityStore&) = delete;

  rocksdb::TransactionDB* db() const { return db_.get(); }
  const rocksdb::WriteOptions& write_options() const { return env_.write_options(); }
  const std::string& dir() const { return dir_; }

  // Write options for a transaction begun on this thread: deferred when a DeferredSync is
  // installed and writes must be durable; then `*scope` is that DeferredSync (else nullptr) and,
  // after a commit that wrote, the caller hands it over with NoteDeferredCommit(scope).
  const rocksdb::WriteOptions& TransactionWriteOptions(DeferredSync** scope) const;
  void NoteDeferredCommit(DeferredSync* scope);
  // Runs `done` (on a sync thread, or at once if already true) when every deferred commit
  // noted up to `ticket` is on disk, or with the error if the sync failed.
  void WhenDurable(uint64_t ticket, std::function<void(absl::Status)> done);
  // For the metrics: deferred commits so far and the WAL syncs that answered them.
  struct SyncCounts {
    uint64_t commits = 0;
    uint64_t syncs = 0;
  };
  SyncCounts sync_counts();
  // RocksDB's memory outside the block cache: memtables (also charged to the cache) and table
  // readers, in bytes.
  uint64_t MemtableBytes() const;
  uint64_t TableReaderBytes() const;
  // What the city's data takes: RocksDB's estimate of live data in tables plus the memtables,
  // re-read at most once a second (the commit path asks on every write).
  uint64_t StorageBytes();
  // OK, or RESOURCE_EXHAUSTED once StorageBytes() reaches storage.city_quota_mb.
  absl::Status CheckQuota();

  // The gateway's own bookkeeping keys (seed markers, versions), apart from every module.
  absl::StatusOr<bool> GetSystem(std::string_view key, std::string* value) const;
  absl::Status PutSystem(std::string_view key, std::string_view value);
  // Visits every bookkeeping key starting with `prefix` (the key without its system prefix).
  absl::Status ScanSystem(
      std::string_view prefix,
      const std::function<void(absl::string_view key, absl::string_view value)>& visit) const;

  // Flushes memtables and closes the database.
  absl::Status Close();

 private:
  CityStore(const StorageEnvironment& env, std::string dir,
            std::unique_ptr<rocksdb::TransactionDB> db)
      : env_(env), dir_(std::move(dir)), db_(std::move(db)) {}
  // Syncs the WAL until no deferred commit waits; runs on the environment's sync pool.
  void SyncLoop();

  const StorageEnvironment& env_;
  std::string dir_;
  std::unique_ptr<rocksdb::TransactionDB> db_;
  std::atomic<uint64_t> storage_bytes_{0};
  std::atomic<int64_t> storage_read_micros_{0};  // when storage_bytes_ was read; 0 = never

  absl::Mutex sync_mu_;
  uint64_t committed_ ABSL_GUARDED_BY(sync_mu_) = 0;  // deferred commits noted so far
  uint64_t durable_ ABSL_GUARDED_BY(sync_mu_) = 0;    // of those, known to be on disk
  uint64_t syncs_ ABSL_GUARDED_BY(sync_mu_) = 0;      // SyncWAL calls made for them
  bool sync_idle_ ABSL_GUARDED_BY(sync_mu_) = true;   // no SyncLoop running
  std::vector<std::pair<uint64_t, std::function<void(absl::Status)>>> waiters_
      ABSL_GUARDED_BY(sync_mu_);
};

// Key layout inside a city database:
//   0x00 "sys/" <key>                  gateway bookkeeping
//   0x01 <module id> 0x00 <module key>  one namespace per module; ids never contain 0x00, so no
//                                       namespace is a prefix of another.
std::string ModuleKeyPrefix(std::string_view module_id);
std::string SystemKey(std::string_view key);

// Encoding of txn_add_u64 counters: unsigned 64-bit little-endian.
std::string EncodeU64(uint64_t value);
uint64_t DecodeU64(std::string_view bytes);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_CITY_STORE_H_
