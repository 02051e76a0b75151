// Loads feature modules (shared libraries behind sdk/include/civitas/abi.h) and refuses, with one
// clear sentence, any module that is not compatible: the loader never crashes on a bad module.
#ifndef CIVITAS_GATEWAY_MODULE_LOADER_H_
#define CIVITAS_GATEWAY_MODULE_LOADER_H_

#include <google/protobuf/descriptor.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "civitas/abi.h"

namespace civitas::gateway {

struct MethodInfo {
  std::string name;       // "ListNotices"
  std::string full_path;  // "/civitas.noticeboard.v1.NoticeboardService/ListNotices"
  civitas_method_kind kind;
  civitas_role required_role;
  uint32_t service_index;
  uint32_t method_index;
  const google::protobuf::MethodDescriptor* descriptor;  // in LoadedModule::pool()
};

struct ServiceInfo {
  std::string full_name;
  std::vector<MethodInfo> methods;
};

// One module shared library, loaded once per process and never unloaded (its code may still be
// on a stack; dlclose of third-party code is not worth that risk).
class LoadedModule {
 public:
  const civitas_module_def& def() const { return *def_; }
  const std::string& path() const { return path_; }
  const std::string& module_id() const { return module_id_; }
  const std::string& version() const { return version_; }
  const std::string& build_id() const { return build_id_; }
  std::string abi_version() const;
  // The module's migrate entry (ABI 1.1+), or null.
  decltype(civitas_module_def::migrate) migrate() const;
  // ABI 1.2 entries; 0 / null for modules built against an older minor.
  uint32_t flags() const;
  decltype(civitas_module_def::migrate_down) migrate_down() const;
  decltype(civitas_module_def::export_personal_data) export_personal_data() const;
  decltype(civitas_module_def::erase_personal_data) erase_personal_data() const;
  // ABI 1.3; nullptr for older modules and modules that send no push notifications.
  decltype(civitas_module_def::push_topics) push_topics() const;
  // True if the module declares export and erasure of a citizen's data.
  bool supports_personal_data() const {
    return export_personal_data() != nullptr && erase_personal_data() != nullptr;
  }
  const std::vector<ServiceInfo>& services() const { return services_; }
  // The module's own descriptors, apart from every other module's.
  const google::protobuf::DescriptorPool& pool() const { return *pool_; }

 private:
  friend class ModuleLoader;
  LoadedModule() = default;

  const civitas_module_def* def_ = nullptr;
  std::string path_;
  std::string module_id_;
  std::string version_;
  std::string build_id_;
  std::vector<ServiceInfo> services_;
  std::unique_ptr<google::protobuf::DescriptorPool> pool_;
};

class ModuleLoader {
 public:
  // Loads (or returns the already loaded) module at `path`. A refusal is FAILED_PRECONDITION with
  // a message that names the file and the reason.
  absl::StatusOr<std::shared_ptr<const LoadedModule>> Load(const std::string& path);

 private:
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<const LoadedModule>> loaded_ ABSL_GUARDED_BY(mu_);
};

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_MODULE_LOADER_H_
