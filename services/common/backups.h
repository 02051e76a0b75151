// A city's backups with RocksDB's BackupEngine: incremental (table files are shared between
// backups), checksummed, taken while the city serves. Restore is an offline step into a city
// folder that no gateway has open (civitasctl backup restore).
#ifndef CIVITAS_COMMON_BACKUPS_H_
#define CIVITAS_COMMON_BACKUPS_H_

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace civitas::common {

struct BackupInfo {
  uint32_t id = 0;
  int64_t timestamp = 0;  // seconds since the epoch
  uint64_t size_bytes = 0;
  uint32_t file_count = 0;
};

// `progress` is called with the bytes copied so far (in steps of 1 MiB).
absl::StatusOr<BackupInfo> CreateBackup(rocksdb::DB* db, const std::string& backup_dir,
                                        const std::function<void(int64_t)>& progress);
absl::StatusOr<std::vector<BackupInfo>> ListBackups(const std::string& backup_dir);
// Re-reads every file of the backup and checks its checksum.
absl::StatusOr<BackupInfo> VerifyBackup(const std::string& backup_dir, uint32_t id);
// Restores backup `id` (0 = the latest) into `db_dir`, which must not hold a database unless
// `overwrite`.
absl::StatusOr<BackupInfo> RestoreBackup(const std::string& backup_dir, uint32_t id,
                                         const std::string& db_dir, bool overwrite);

}  // namespace civitas::common

#endif  // CIVITAS_COMMON_BACKUPS_H_
