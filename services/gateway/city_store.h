// Per-city storage: one RocksDB TransactionDB per city directory, so a city can be backed up,
// moved or deleted on its own. All cities of a process share one block cache, one write-buffer
// budget and RocksDB's background threads (StorageEnvironment).
#ifndef CIVITAS_GATEWAY_CITY_STORE_H_
#define CIVITAS_GATEWAY_CITY_STORE_H_

#include <rocksdb/cache.h>
#include <rocksdb/utilities/transaction_db.h>
#include <rocksdb/write_buffer_manager.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/gateway/config.h"

namespace civitas::gateway {

class StorageEnvironment {
 public:
  explicit StorageEnvironment(const StorageConfig& config);
  rocksdb::Options CityOptions() const;
  const rocksdb::WriteOptions& write_options() const { return write_options_; }
  Durability durability() const { return durability_; }

 private:
  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::shared_ptr<rocksdb::MergeOperator> merge_operator_;
  rocksdb::WriteOptions write_options_;
  Durability durability_;
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

  const StorageEnvironment& env_;
  std::string dir_;
  std::unique_ptr<rocksdb::TransactionDB> db_;
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
