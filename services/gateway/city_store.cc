#include "services/gateway/city_store.h"

#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace civitas::gateway {
namespace {

// Adds little-endian uint64 operands; a missing or malformed base counts as 0. Counters (votes,
// supports, thanks) merge without read-modify-write, so concurrent increments never conflict.
class U64AddOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    uint64_t base = existing ? DecodeU64(existing->ToStringView()) : 0;
    *new_value = EncodeU64(base + DecodeU64(value.ToStringView()));
    return true;
  }
  const char* Name() const override { return "civitas.uint64add"; }
};

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(std::string(what), ": ", s.ToString()));
}

// The shared block cache, in shards of at least 16 MiB. A block larger than its shard is evicted
// as soon as it has been used: with RocksDB's default (64 shards, 1 MiB each for 64 MiB), the
// bloom filter of a 30 MB table (1.4 MB) was read from disk and checksummed again on every point
// read. A table file is at most 64 MB (target_file_size_base), so its filter (about 3 MB at 10
// bits per key) and index always fit.
std::shared_ptr<rocksdb::Cache> NewBlockCache(uint64_t bytes) {
  int shard_bits = 0;
  while (shard_bits < 6 && (bytes >> (shard_bits + 1)) >= (16ull << 20)) ++shard_bits;
  rocksdb::LRUCacheOptions options;
  options.capacity = bytes;
  options.num_shard_bits = shard_bits;
  return rocksdb::NewLRUCache(options);
}

}  // namespace

std::string EncodeU64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

uint64_t DecodeU64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes.size() && i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
  }
  return v;
}

std::string ModuleKeyPrefix(std::string_view module_id) {
  std::string p;
  p.reserve(module_id.size() + 2);
  p.push_back('\x01');
  p.append(module_id);
  p.push_back('\0');
  return p;
}

std::string SystemKey(std::string_view key) {
  return std::string(1, '\0') + "sys/" + std::string(key);
}

StorageEnvironment::StorageEnvironment(const StorageConfig& config, rocksdb::Env* env)
    : block_cache_(NewBlockCache(config.block_cache_bytes)),
      // Memtables of all cities are charged to the block cache, so one number bounds both.
      write_buffers_(
          std::make_shared<rocksdb::WriteBufferManager>(config.write_buffer_bytes, block_cache_)),
      merge_operator_(std::make_shared<U64AddOperator>()),
      durability_(config.durability),
      city_quota_bytes_(config.city_quota_bytes),
      env_(env) {
  configured_open_files_ = config.max_open_files_per_city;
  write_options_.sync = config.durability == Durability::kSync;
  deferred_write_options_.sync = false;
}

int StorageEnvironment::FitDescriptors(size_t cities, uint64_t descriptor_limit) {
  if (configured_open_files_ > 0) {
    max_open_files_ = static_cast<int>(configured_open_files_);
    return max_open_files_;
  }
  // Besides its table files a city holds a WAL, a MANIFEST, an info LOG and its LOCK; the other
  // half of the limit is for those, connections and modules.
  const uint64_t room = std::max<uint64_t>(cities + 8, 16);
  const uint64_t per_city = descriptor_limit / 2 / room;
  max_open_files_ = static_cast<int>(std::clamp<uint64_t>(per_city, 16, 256));
  return max_open_files_;
}

rocksdb::Options StorageEnvironment::CityOptions() const {
  rocksdb::Options o;
  o.create_if_missing = true;
  if (env_ != nullptr) o.env = env_;
  o.write_buffer_manager = write_buffers_;
  o.merge_operator = merge_operator_;
  // A counter merged thousands of times (supports of one idea) is collapsed in the memtable
  // every few merges, so reading it stays one lookup instead of applying every operand.
  o.max_successive_merges = 16;
  // A bloom filter over the memtable's keys: a point read of a key the memtable does not hold
  // (most reads: "has this user already supported/voted?") skips the skip-list search.
  o.memtable_prefix_bloom_size_ratio = 0.02;
  o.memtable_whole_key_filtering = true;
  o.write_buffer_size = 8 << 20;
  o.max_write_buffer_number = 2;
  o.max_open_files = max_open_files_;
  o.keep_log_file_num = 3;
  o.max_log_file_size = 4 << 20;
  o.recycle_log_file_num = 0;
  o.max_background_jobs = 2;  // RocksDB's thread pools are process-wide: shared by every city
  o.compression = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = block_cache_;
  table.cache_index_and_filter_blocks = true;
  // Index and filter blocks go to the cache's high-priority pool: data blocks do not evict them.
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

absl::StatusOr<std::unique_ptr<CityStore>> CityStore::Open(const StorageEnvironment& env,
                                                           const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create city data directory '", dir, "': ", ec.message()));
  }
  rocksdb::TransactionDBOptions txn_options;
  txn_options.transaction_lock_timeout = 2000;  // ms; a contended counter waits, then ABORTED
  rocksdb::TransactionDB* raw = nullptr;
  rocksdb::Status s = rocksdb::TransactionDB::Open(env.CityOptions(), txn_options, dir, &raw);
  if (!s.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open city database '", dir, "': ", s.ToString()));
  }
  return std::unique_ptr<CityStore>(
      new CityStore(env, dir, std::unique_ptr<rocksdb::TransactionDB>(raw)));
}

CityStore::~CityStore() { (void)Close(); }

const rocksdb::WriteOptions& CityStore::TransactionWriteOptions(DeferredSync** scope) const {
  *scope = env_.durability() == Durability::kSync ? DeferredSync::Current() : nullptr;
  return *scope != nullptr ? env_.deferred_write_options() : env_.write_options();
}

void CityStore::NoteDeferredCommit(DeferredSync* scope) {
  uint64_t ticket;
  {
    absl::MutexLock lock(&sync_mu_);
    ticket = ++committed_;
  }
  scope->Note(this, ticket);
}

void CityStore::WhenDurable(uint64_t ticket, std::function<void(absl::Status)> done) {
  {
    absl::MutexLock lock(&sync_mu_);
    if (ticket > durable_) {
      waiters_.emplace_back(ticket, std::move(done));
      if (sync_idle_) {
        sync_idle_ = false;
        boost::asio::post(env_.sync_pool(), [this] { SyncLoop(); });
      }
      return;
    }
  }
  done(absl::OkStatus());
}

uint64_t CityStore::MemtableBytes() const {
  uint64_t v = 0;
  if (db_) db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &v);
  return v;
}

uint64_t CityStore::TableReaderBytes() const {
  uint64_t v = 0;
  if (db_) db_->GetIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &v);
  return v;
}

uint64_t CityStore::StorageBytes() {
  const int64_t now = absl::ToUnixMicros(absl::Now());
  int64_t read = storage_read_micros_.load(std::memory_order_acquire);
  if (db_ && (read == 0 || now - read >= 1'000'000) &&
      storage_read_micros_.compare_exchange_strong(read, now)) {
    uint64_t live = 0, memtables = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kEstimateLiveDataSize, &live);
    db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
    storage_bytes_.store(live + memtables, std::memory_order_release);
  }
  return storage_bytes_.load(std::memory_order_acquire);
}

absl::Status CityStore::CheckQuota() {
  const uint64_t quota = env_.city_quota_bytes();
  if (quota == 0) return absl::OkStatus();
  const uint64_t used = StorageBytes();
  if (used < quota) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("this city's storage quota of ", quota >> 20,
                   " MiB (storage.city_quota_mb) is used up (", used >> 20,
                   " MiB stored); new data is refused until the operator raises the quota or "
                   "data is deleted"));
}

CityStore::SyncCounts CityStore::sync_counts() {
  absl::MutexLock lock(&sync_mu_);
  return {committed_, syncs_};
}

void CityStore::SyncLoop() {
  for (;;) {
    uint64_t target;
    {
      absl::MutexLock lock(&sync_mu_);
      target = committed_;
    }
    // Every commit counted in `target` had finished writing its WAL record before it was
    // counted, so this one fsync makes all of them durable; commits arriving meanwhile wait
    // for the next round.
    const rocksdb::Status s = db_->SyncWAL();
    const absl::Status synced =
        s.ok() ? absl::OkStatus()
               : absl::UnavailableError(absl::StrCat(
                     "the change was applied but could not be written to disk (", s.ToString(),
                     "); it may be lost if the server stops; check the server's disk"));
    std::vector<std::function<void(absl::Status)>> ready;
    bool more;
    {
      absl::MutexLock lock(&sync_mu_);
      ++syncs_;
      if (s.ok()) durable_ = std::max(durable_, target);
      auto covered = std::stable_partition(waiters_.begin(), waiters_.end(),
                                           [&](const auto& w) { return w.first > target; });
      for (auto it = covered; it != waiters_.end(); ++it) ready.push_back(std::move(it->second));
      waiters_.erase(covered, waiters_.end());
      more = !waiters_.empty();
      if (!more) sync_idle_ = true;
    }
    // After sync_idle_ is set, Close() may run: nothing below touches the store.
    for (auto& done : ready) done(synced);
    if (!more) return;
  }
}

absl::StatusOr<bool> CityStore::GetSystem(std::string_view key, std::string* value) const {
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), SystemKey(key), value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "read system key");
  return true;
}

absl::Status CityStore::PutSystem(std::string_view key, std::string_view value) {
  return FromRocks(db_->Put(write_options(), SystemKey(key), value), "write system key");
}

absl::Status CityStore::ScanSystem(
    std::string_view prefix,
    const std::function<void(absl::string_view key, absl::string_view value)>& visit) const {
  const std::string start = SystemKey(prefix);
  const size_t skip = SystemKey("").size();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
    visit(absl::string_view(it->key().data() + skip, it->key().size() - skip),
          absl::string_view(it->value().data(), it->value().size()));
  }
  return FromRocks(it->status(), "scan system keys");
}

absl::Status CityStore::Close() {
  if (!db_) return absl::OkStatus();
  {
    // Deferred commits are answered before the database goes away.
    absl::MutexLock lock(&sync_mu_, absl::Condition(&sync_idle_));
  }
  rocksdb::Status flush = db_->FlushWAL(/*sync=*/true);
  // Memtables to SST files, so the next start opens without replaying the WAL.
  if (flush.ok()) flush = db_->Flush(rocksdb::FlushOptions());
  rocksdb::Status close = db_->Close();
  db_.reset();
  if (!flush.ok()) return FromRocks(flush, "flush WAL");
  return FromRocks(close, "close");
}

}  // namespace civitas::gateway
