#include "services/common/backups.h"

#include <rocksdb/env.h>
#include <rocksdb/utilities/backup_engine.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace civitas::common {
namespace {

constexpr uint64_t kProgressStep = 1 << 20;

rocksdb::BackupEngineOptions Options(const std::string& dir) {
  rocksdb::BackupEngineOptions o(dir);
  o.share_table_files = true;  // incremental: a table file is copied once
  o.sync = true;
  o.callback_trigger_interval_size = kProgressStep;
  return o;
}

BackupInfo Convert(const rocksdb::BackupInfo& info) {
  return {info.backup_id, info.timestamp, info.size, info.number_files};
}

absl::Status Failed(const rocksdb::Status& s, const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> OpenReadOnly(
    const std::string& backup_dir) {
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus s =
      rocksdb::BackupEngineReadOnly::Open(Options(backup_dir), rocksdb::Env::Default(), &raw);
  if (!s.ok()) return Failed(s, absl::StrCat("cannot open backups in '", backup_dir, "'"));
  return std::unique_ptr<rocksdb::BackupEngineReadOnly>(raw);
}

}  // namespace

absl::StatusOr<BackupInfo> CreateBackup(rocksdb::DB* db, const std::string& backup_dir,
                                        const std::function<void(int64_t)>& progress) {
  std::error_code ec;
  std::filesystem::create_directories(backup_dir, ec);
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus s =
      rocksdb::BackupEngine::Open(Options(backup_dir), rocksdb::Env::Default(), &raw);
  if (!s.ok()) return Failed(s, absl::StrCat("cannot open backups in '", backup_dir, "'"));
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions options;
  options.flush_before_backup = true;
  int64_t copied = 0;
  options.progress_callback = [&] {
    copied += kProgressStep;
    if (progress) progress(copied);
  };
  rocksdb::BackupID id = 0;
  s = engine->CreateNewBackup(options, db, &id);
  if (!s.ok()) return Failed(s, "backup failed");
  rocksdb::BackupInfo info;
  if (rocksdb::Status st = engine->GetBackupInfo(id, &info); !st.ok()) {
    return Failed(st, "backup info");
  }
  return Convert(info);
}

absl::StatusOr<std::vector<BackupInfo>> ListBackups(const std::string& backup_dir) {
  if (!std::filesystem::exists(backup_dir)) return std::vector<BackupInfo>{};
  absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> engine = OpenReadOnly(backup_dir);
  if (!engine.ok()) return engine.status();
  std::vector<rocksdb::BackupInfo> infos;
  (*engine)->GetBackupInfo(&infos);
  std::vector<BackupInfo> out;
  for (const auto& i : infos) out.push_back(Convert(i));
  return out;
}

absl::StatusOr<BackupInfo> VerifyBackup(const std::string& backup_dir, uint32_t id) {
  absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> engine = OpenReadOnly(backup_dir);
  if (!engine.ok()) return engine.status();
  rocksdb::BackupInfo info;
  if (rocksdb::Status st = (*engine)->GetBackupInfo(id, &info); !st.ok()) {
    return absl::NotFoundError(absl::StrCat("no backup ", id, " in '", backup_dir, "'"));
  }
  rocksdb::IOStatus s = (*engine)->VerifyBackup(id, /*verify_with_checksum=*/true);
  if (!s.ok()) {
    return absl::DataLossError(absl::StrCat("backup ", id, " is damaged: ", s.ToString()));
  }
  return Convert(info);
}

absl::StatusOr<BackupInfo> RestoreBackup(const std::string& backup_dir, uint32_t id,
                                         const std::string& db_dir, bool overwrite) {
  std::error_code ec;
  if (std::filesystem::exists(db_dir + "/CURRENT", ec) && !overwrite) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", db_dir,
                     "' already holds a database; restore into an empty folder (a fresh "
                     "instance), or stop its gateway and allow overwriting"));
  }
  std::filesystem::create_directories(db_dir, ec);
  absl::StatusOr<std::unique_ptr<rocksdb::BackupEngineReadOnly>> engine = OpenReadOnly(backup_dir);
  if (!engine.ok()) return engine.status();
  std::vector<rocksdb::BackupInfo> infos;
  (*engine)->GetBackupInfo(&infos);
  if (infos.empty()) return absl::NotFoundError(absl::StrCat("no backups in '", backup_dir, "'"));
  if (id == 0) id = infos.back().backup_id;
  rocksdb::BackupInfo info;
  if (rocksdb::Status st = (*engine)->GetBackupInfo(id, &info); !st.ok()) {
    return absl::NotFoundError(absl::StrCat("no backup ", id, " in '", backup_dir, "'"));
  }
  rocksdb::IOStatus s =
      (*engine)->RestoreDBFromBackup(rocksdb::RestoreOptions(), id, db_dir, db_dir);
  if (!s.ok()) return Failed(s, "restore failed");
  return Convert(info);
}

}  // namespace civitas::common
