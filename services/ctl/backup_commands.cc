// civitasctl backup create | list | verify (through the gateway, while it serves) and restore
// (offline, into a city folder no gateway has open).
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "services/common/backups.h"
#include "services/ctl/commands.h"

namespace civitas::ctl {
namespace {

namespace v1 = civitas::gateway::v1;

void Print(const v1::Backup& b) {
  std::cout << b.backup_id() << "\t"
            << absl::FormatTime("%Y-%m-%d %H:%M:%S UTC",
                                absl::FromUnixSeconds(b.create_time_unix()), absl::UTCTimeZone())
            << "\t" << b.size_bytes() << " bytes\t" << b.file_count() << " files\n";
}

}  // namespace

int BackupCreate(const Args& args) {
  const std::string city = args.Get("city");
  if (city.empty()) return Usage("backup create needs --city");
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 3600);
  v1::CreateBackupRequest request;
  request.set_parent("cities/" + city);
  auto reader = stub->CreateBackup(&ctx, request);
  v1::BackupProgress progress;
  v1::Backup done;
  std::cerr << "backing up city " << city << " while it serves";
  while (reader->Read(&progress)) {
    if (progress.has_backup()) {
      done = progress.backup();
    } else {
      std::cerr << "\rbacking up city " << city << ": " << (progress.bytes_copied() >> 20)
                << " MiB copied" << std::flush;
    }
  }
  std::cerr << "\n";
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FailedAdmin(args, s);
  std::cout << "backup " << done.backup_id() << " of city " << city << " in " << done.backup_dir()
            << "\n";
  Print(done);
  return 0;
}

int BackupList(const Args& args) {
  const std::string city = args.Get("city");
  if (city.empty()) return Usage("backup list needs --city");
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx);
  v1::ListBackupsRequest request;
  request.set_parent("cities/" + city);
  v1::ListBackupsResponse response;
  grpc::Status s = stub->ListBackups(&ctx, request, &response);
  if (!s.ok()) return FailedAdmin(args, s);
  for (const v1::Backup& b : response.backups()) Print(b);
  return 0;
}

int BackupVerify(const Args& args) {
  const std::string city = args.Get("city");
  if (city.empty() || !args.Has("id")) return Usage("backup verify needs --city and --id");
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 3600);
  v1::VerifyBackupRequest request;
  request.set_name("cities/" + city + "/backups/" + args.Get("id"));
  v1::Backup backup;
  grpc::Status s = stub->VerifyBackup(&ctx, request, &backup);
  if (!s.ok()) return FailedAdmin(args, s);
  std::cout << "OK: every file of backup " << backup.backup_id() << " matches its checksum\n";
  return 0;
}

int BackupRestore(const Args& args) {
  const std::string city = args.Get("city");
  const std::string from = args.Get("backup-dir");
  const std::string to = args.Get("data-dir");
  uint32_t id = 0;
  if (city.empty() || from.empty() || to.empty() ||
      (args.Has("id") && !absl::SimpleAtoi(args.Get("id"), &id))) {
    return Usage(
        "backup restore needs --city, --backup-dir (the city's backup folder) and "
        "--data-dir (the data_dir of the instance to restore into); --id defaults to "
        "the latest");
  }
  const std::string target = absl::StrCat(to, "/cities/", city);
  std::cerr << "restoring city " << city << " from " << from << " into " << target << "...\n";
  absl::StatusOr<civitas::common::BackupInfo> info =
      civitas::common::RestoreBackup(from, id, target, args.Has("overwrite"));
  if (!info.ok()) return Failed(std::string(info.status().message()));
  std::cout << "restored backup " << info->id << " (" << info->size_bytes << " bytes) into "
            << target << "; start a gateway with data_dir " << to << " to serve it\n";
  return 0;
}

}  // namespace civitas::ctl
