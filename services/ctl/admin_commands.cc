// civitasctl commands that talk to a gateway's AdminService.
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_split.h"
#include "civitas/gateway/v1/admin.grpc.pb.h"
#include "services/ctl/commands.h"

namespace civitas::ctl {
namespace {

namespace v1 = civitas::gateway::v1;

void PrintModule(const v1::Module& m) {
  const bool serving = m.state() == v1::MODULE_STATE_SERVING;
  std::cout << m.module_id() << "\t" << (m.version().empty() ? "-" : m.version()) << "\tABI "
            << (m.abi_version().empty() ? "-" : m.abi_version()) << "\t"
            << (serving ? "serving" : "FAILED") << "\t"
            << (m.supports_personal_data() ? "erasure" : "NO erasure");
  if (!m.publisher().empty()) std::cout << "\tpublisher " << m.publisher();
  if (!m.previous_version().empty()) std::cout << "\t(rollback to " << m.previous_version() << ")";
  std::cout << "\n";
  for (const std::string& svc : m.services()) std::cout << "    " << svc << "\n";
  if (!serving) std::cout << "    error: " << m.error() << "\n";
}

}  // namespace

int Cities(const Args& args) {
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  std::string token;
  do {
    grpc::ClientContext ctx;
    Prepare(args, &ctx);
    v1::ListCitiesRequest request;
    request.set_page_token(token);
    v1::ListCitiesResponse response;
    grpc::Status s = stub->ListCities(&ctx, request, &response);
    if (!s.ok()) return FailedAdmin(args, s);
    for (const v1::City& c : response.cities()) {
      std::cout << c.city_id() << "\t" << c.display_name() << "\t" << c.time_zone() << "\t"
                << c.module_ids_size() << " modules\n";
    }
    token = response.next_page_token();
  } while (!token.empty());
  return 0;
}

int Modules(const Args& args) {
  const std::string city = args.Get("city");
  if (city.empty()) return Usage("modules needs --city");
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  std::string token;
  int failed = 0;
  do {
    grpc::ClientContext ctx;
    Prepare(args, &ctx);
    v1::ListModulesRequest request;
    request.set_parent("cities/" + city);
    request.set_page_token(token);
    v1::ListModulesResponse response;
    grpc::Status s = stub->ListModules(&ctx, request, &response);
    if (!s.ok()) return FailedAdmin(args, s);
    for (const v1::Module& m : response.modules()) {
      failed += m.state() == v1::MODULE_STATE_SERVING ? 0 : 1;
      PrintModule(m);
    }
    token = response.next_page_token();
  } while (!token.empty());
  return failed == 0 ? 0 : 3;
}

// civitasctl module install|upgrade ID@VERSION --city C (--registry HOST:PORT | --bundle FILE)
int ModuleInstall(const Args& args, bool upgrade) {
  const std::string city = args.Get("city");
  if ((args.words.size() < 3 && !args.Has("bundle")) || city.empty()) {
    return Usage(std::string("module ") + (upgrade ? "upgrade" : "install") +
                 " needs MODULE@VERSION (or --bundle FILE) and --city");
  }
  v1::InstallModuleRequest request;
  request.set_parent("cities/" + city);
  const std::string ref = args.Has("bundle") ? args.Get("bundle") : args.words[2];
  if (args.Has("bundle")) {
    // The gateway reads the file itself: pass a path it can see.
    std::error_code ec;
    std::string path = std::filesystem::absolute(args.Get("bundle"), ec).string();
    request.set_bundle_path(ec ? args.Get("bundle") : path);
  } else {
    std::vector<std::string> parts = absl::StrSplit(ref, '@');
    const char* env = std::getenv("CIVITAS_REGISTRY");
    const std::string registry = args.Get("registry", env ? env : "");
    if (parts.size() != 2 || parts[0].empty() || parts[1].empty() || registry.empty()) {
      return Usage(
          "give MODULE@VERSION and a registry (--registry HOST:PORT or $CIVITAS_REGISTRY), "
          "or --bundle FILE");
    }
    request.mutable_registry()->set_target(registry);
    request.mutable_registry()->set_module_id(parts[0]);
    request.mutable_registry()->set_version(parts[1]);
  }
  request.set_config_json(args.Get("config"));
  request.set_force(args.Has("force"));
  request.set_require_installed(upgrade);
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 120);
  std::cerr << (upgrade ? "upgrading " : "installing ") << ref << " in city " << city
            << ": downloading, verifying the signature and hashes, loading...\n";
  v1::Module module;
  grpc::Status s = stub->InstallModule(&ctx, request, &module);
  if (!s.ok()) return FailedAdmin(args, s);
  PrintModule(module);
  return 0;
}

// civitasctl module rollback ID --city C [--restore-checkpoint [--yes]] [--dry-run]
int ModuleRollback(const Args& args) {
  const std::string city = args.Get("city");
  if (args.words.size() < 3 || city.empty())
    return Usage("module rollback needs MODULE and --city");
  v1::RollbackModuleRequest request;
  request.set_name("cities/" + city + "/modules/" + args.words[2]);
  request.set_restore_checkpoint(args.Has("restore-checkpoint"));
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  auto call = [&](bool validate_only, v1::RollbackModuleResponse* response) {
    request.set_validate_only(validate_only);
    grpc::ClientContext ctx;
    Prepare(args, &ctx, 120);
    return stub->RollbackModule(&ctx, request, response);
  };
  const auto undone = [](const v1::RollbackModuleResponse& r) {
    return std::to_string(r.records_created_since()) + " created, " +
           std::to_string(r.records_changed_since()) + " changed and " +
           std::to_string(r.records_deleted_since()) + " deleted";
  };
  // Restoring a checkpoint loses writes: say how many first, and go on only when told to.
  if (args.Has("dry-run") || request.restore_checkpoint()) {
    v1::RollbackModuleResponse plan;
    grpc::Status s = call(true, &plan);
    if (!s.ok()) return FailedAdmin(args, s);
    std::cout << "data: " << v1::RollbackDataHandling_Name(plan.data_handling()) << "\n";
    if (plan.data_handling() == v1::ROLLBACK_DATA_HANDLING_CHECKPOINT_RESTORED) {
      std::cout << "restoring the checkpoint undoes the records " << undone(plan)
                << " since the upgrade\n";
      if (!args.Has("yes") && !args.Has("dry-run")) {
        std::cerr << "nothing changed; add --yes to restore the checkpoint and lose them\n";
        return 1;
      }
    }
    if (args.Has("dry-run")) return 0;
  }
  v1::RollbackModuleResponse response;
  grpc::Status s = call(false, &response);
  if (!s.ok()) return FailedAdmin(args, s);
  PrintModule(response.module());
  std::cout << "data: " << v1::RollbackDataHandling_Name(response.data_handling());
  if (response.data_handling() == v1::ROLLBACK_DATA_HANDLING_CHECKPOINT_RESTORED) {
    std::cout << " (undid the records " << undone(response) << " since the upgrade)";
  }
  std::cout << "\n";
  return 0;
}

// civitasctl city create --file CITY.yaml
int CityCreate(const Args& args) {
  std::string yaml;
  if (!args.Has("file") || !ReadFile(args.Get("file"), &yaml)) {
    return Usage("city create needs --file CITY.yaml (one entry of the config's cities:)");
  }
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 60);
  v1::CreateCityRequest request;
  request.set_city_yaml(yaml);
  v1::City city;
  grpc::Status s = stub->CreateCity(&ctx, request, &city);
  if (!s.ok()) return FailedAdmin(args, s);
  std::cout << "added city " << city.city_id() << " (" << city.display_name() << ") with "
            << city.module_ids_size() << " modules\n";
  return 0;
}

// civitasctl city export --city C --to DIR
int CityExport(const Args& args) {
  const std::string city = args.Get("city"), to = args.Get("to");
  if (city.empty() || to.empty()) return Usage("city export needs --city and --to DIR");
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 3600);
  v1::ExportCityRequest request;
  request.set_parent("cities/" + city);
  request.set_export_dir(to);
  auto reader = stub->ExportCity(&ctx, request);
  v1::BackupProgress progress;
  while (reader->Read(&progress)) {
    if (!progress.has_backup()) {
      std::cerr << "\rexporting city " << city << ": " << (progress.bytes_copied() >> 20) << " MiB"
                << std::flush;
    }
  }
  std::cerr << "\n";
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FailedAdmin(args, s);
  std::cout << "exported city " << city << " to " << to << "; on the new instance run:\n"
            << "  civitasctl backup restore --city " << city << " --backup-dir " << to
            << " --data-dir <its data_dir>\n";
  return 0;
}

// civitasctl city delete --city C --confirm C [--delete-backups]
int CityDelete(const Args& args) {
  const std::string city = args.Get("city");
  if (city.empty()) return Usage("city delete needs --city and --confirm CITY");
  auto stub = v1::AdminService::NewStub(AdminChannel(args));
  grpc::ClientContext ctx;
  Prepare(args, &ctx, 120);
  v1::DeleteCityRequest request;
  request.set_name("cities/" + city);
  request.set_confirm(args.Get("confirm"));
  request.set_delete_backups(args.Has("delete-backups"));
  v1::DeleteCityResponse response;
  grpc::Status s = stub->DeleteCity(&ctx, request, &response);
  if (!s.ok()) return FailedAdmin(args, s);
  std::cout << "deleted city " << city << " and its data (" << response.deleted_data_dir() << ")\n";
  return 0;
}

}  // namespace civitas::ctl
