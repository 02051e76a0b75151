#include "services/gateway/module_loader.h"

#include <dlfcn.h>
#include <google/protobuf/descriptor.pb.h>

#include <cstddef>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace civitas::gateway {
namespace {

// The part of civitas_module_def that every 1.x module has.
constexpr size_t kMinModuleDefSize = offsetof(civitas_module_def, destroy) + sizeof(void*);

absl::Status Refuse(const std::string& path, absl::string_view reason) {
  return absl::FailedPreconditionError(absl::StrCat("module '", path, "' refused: ", reason));
}

bool IsSet(const char* s) { return s != nullptr && s[0] != '\0'; }

}  // namespace

std::string LoadedModule::abi_version() const {
  return absl::StrCat(def_->abi_major, ".", def_->abi_minor);
}

decltype(civitas_module_def::migrate) LoadedModule::migrate() const {
  if (def_->struct_size < offsetof(civitas_module_def, migrate) + sizeof(void*)) return nullptr;
  return def_->migrate;
}

uint32_t LoadedModule::flags() const { return CIVITAS_MODULE_HAS(def_, flags) ? def_->flags : 0; }

decltype(civitas_module_def::migrate_down) LoadedModule::migrate_down() const {
  return CIVITAS_MODULE_HAS(def_, migrate_down) ? def_->migrate_down : nullptr;
}

decltype(civitas_module_def::export_personal_data) LoadedModule::export_personal_data() const {
  return CIVITAS_MODULE_HAS(def_, export_personal_data) ? def_->export_personal_data : nullptr;
}

decltype(civitas_module_def::erase_personal_data) LoadedModule::erase_personal_data() const {
  return CIVITAS_MODULE_HAS(def_, erase_personal_data) ? def_->erase_personal_data : nullptr;
}

decltype(civitas_module_def::push_topics) LoadedModule::push_topics() const {
  return CIVITAS_MODULE_HAS(def_, push_topics) ? def_->push_topics : nullptr;
}

absl::StatusOr<std::shared_ptr<const LoadedModule>> ModuleLoader::Load(const std::string& path) {
  std::error_code ec;
  std::string canonical = std::filesystem::canonical(path, ec).string();
  if (ec) return Refuse(path, absl::StrCat("the file cannot be read (", ec.message(), ")"));

  absl::MutexLock lock(&mu_);
  if (auto it = loaded_.find(canonical); it != loaded_.end()) return it->second;

  // RTLD_LOCAL: the module's symbols never satisfy another module's references.
  void* handle = dlopen(canonical.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    return Refuse(path, absl::StrCat("it is not a loadable shared library (",
                                     err ? err : "unknown error", ")"));
  }
  auto entry =
      reinterpret_cast<civitas_module_entry_fn>(dlsym(handle, CIVITAS_MODULE_ENTRY_SYMBOL));
  if (entry == nullptr) {
    return Refuse(path, absl::StrCat("it does not export ", CIVITAS_MODULE_ENTRY_SYMBOL,
                                     "; build it with the civitas SDK (civitas_add_module)"));
  }
  const civitas_module_def* def = entry();
  if (def == nullptr) return Refuse(path, "its entry symbol returned no module definition");
  if (def->struct_size < sizeof(uint32_t) * 2) {
    return Refuse(path, "its module definition is truncated");
  }
  if (def->abi_major != CIVITAS_ABI_MAJOR) {
    return Refuse(path, absl::StrCat("it was built for civitas ABI ", def->abi_major, ".",
                                     def->abi_minor, " but this gateway speaks ABI ",
                                     CIVITAS_ABI_MAJOR, ".x; rebuild it against this SDK"));
  }
  if (def->abi_minor > CIVITAS_ABI_MINOR) {
    return Refuse(path, absl::StrCat("it needs civitas ABI ", def->abi_major, ".", def->abi_minor,
                                     " but this gateway offers only ", CIVITAS_ABI_MAJOR, ".",
                                     CIVITAS_ABI_MINOR,
                                     "; upgrade the gateway or use an older module version"));
  }
  if (def->struct_size < kMinModuleDefSize) {
    return Refuse(path,
                  absl::StrCat("its module definition has ", def->struct_size,
                               " bytes, fewer than ABI 1.0 requires (", kMinModuleDefSize, ")"));
  }
  if (def->pointer_size != sizeof(void*)) {
    return Refuse(path, absl::StrCat("it was built for ", def->pointer_size * 8,
                                     "-bit pointers; this gateway is ", sizeof(void*) * 8, "-bit"));
  }
  if (!IsSet(def->module_id) || !IsSet(def->version)) {
    return Refuse(path, "it declares no module id or version");
  }
  if (def->init == nullptr || def->handle == nullptr) {
    return Refuse(path, "it declares no init or handle function");
  }
  if (def->service_count == 0 || def->services == nullptr) {
    return Refuse(path, "it declares no services");
  }

  auto module = std::shared_ptr<LoadedModule>(new LoadedModule());
  module->def_ = def;
  module->path_ = canonical;
  module->module_id_ = def->module_id;
  module->version_ = def->version;
  module->build_id_ = IsSet(def->build_id) ? def->build_id : "";

  // Its descriptors go into a pool of its own: two modules may ship different versions of a
  // shared file without colliding.
  google::protobuf::FileDescriptorSet files;
  if (def->descriptor_set == nullptr || def->descriptor_set_size == 0 ||
      !files.ParseFromArray(def->descriptor_set, static_cast<int>(def->descriptor_set_size))) {
    return Refuse(path, "its embedded descriptor set is not a valid FileDescriptorSet");
  }
  module->pool_ = std::make_unique<google::protobuf::DescriptorPool>();
  for (const auto& file : files.file()) {
    if (module->pool_->FindFileByName(file.name()) != nullptr) continue;
    if (module->pool_->BuildFile(file) == nullptr) {
      return Refuse(path, absl::StrCat("its descriptor set does not build: file '", file.name(),
                                       "' is inconsistent or misses an import"));
    }
  }

  for (size_t s = 0; s < def->service_count; ++s) {
    const civitas_service_def& sd = def->services[s];
    if (!IsSet(sd.full_name)) return Refuse(path, absl::StrCat("service #", s, " has no name"));
    const google::protobuf::ServiceDescriptor* service =
        module->pool_->FindServiceByName(sd.full_name);
    if (service == nullptr) {
      return Refuse(path, absl::StrCat("it declares service ", sd.full_name,
                                       " but its descriptor set does not define it"));
    }
    ServiceInfo info{sd.full_name, {}};
    for (size_t m = 0; m < sd.method_count; ++m) {
      const civitas_method_def& md = sd.methods[m];
      const google::protobuf::MethodDescriptor* method =
          IsSet(md.name) ? service->FindMethodByName(md.name) : nullptr;
      if (method == nullptr) {
        return Refuse(path,
                      absl::StrCat("method ", sd.full_name, ".", md.name ? md.name : "(unnamed)",
                                   " is not in its descriptor set"));
      }
      if (method->client_streaming()) {
        return Refuse(path, absl::StrCat("method ", method->full_name(),
                                         " streams from the client, which the ABI does not "
                                         "support"));
      }
      if (md.kind != CIVITAS_METHOD_UNARY && md.kind != CIVITAS_METHOD_SERVER_STREAMING) {
        return Refuse(path,
                      absl::StrCat("method ", method->full_name(), " has unknown kind ", md.kind));
      }
      if ((md.kind == CIVITAS_METHOD_SERVER_STREAMING) != method->server_streaming()) {
        return Refuse(path, absl::StrCat("method ", method->full_name(), " is declared ",
                                         md.kind == CIVITAS_METHOD_UNARY ? "unary" : "streaming",
                                         " but its proto says otherwise"));
      }
      if (md.required_role < CIVITAS_ROLE_ANONYMOUS || md.required_role > CIVITAS_ROLE_ADMIN) {
        return Refuse(path, absl::StrCat("method ", method->full_name(), " requires unknown role ",
                                         md.required_role));
      }
      info.methods.push_back(MethodInfo{
          md.name, absl::StrCat("/", sd.full_name, "/", md.name),
          static_cast<civitas_method_kind>(md.kind), static_cast<civitas_role>(md.required_role),
          static_cast<uint32_t>(s), static_cast<uint32_t>(m), method});
    }
    module->services_.push_back(std::move(info));
  }

  loaded_[canonical] = module;
  return std::shared_ptr<const LoadedModule>(module);
}

}  // namespace civitas::gateway
