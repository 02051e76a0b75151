#include <google/protobuf/descriptor.pb.h>

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "civitas/gateway/v1/privacy.grpc.pb.h"
#include "civitas/notify/v1/notify.grpc.pb.h"
#include "services/gateway/standard_services.h"

namespace civitas::gateway {
namespace {

using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

// Where reflection looks: the gateway's own services, then every module's own pool. Modules
// keep their pools apart, so the same file name may come from several; the first one wins.
class DescriptorSources {
 public:
  DescriptorSources(const RouteTable& table, std::string_view city) {
    pools_.push_back(DescriptorPool::generated_pool());
    services_ = {std::string(grpc::health::v1::Health::service_full_name()),
                 std::string(grpc::reflection::v1::ServerReflection::service_full_name()),
                 std::string(grpc::reflection::v1alpha::ServerReflection::service_full_name()),
                 std::string(civitas::gateway::v1::AdminService::service_full_name()),
                 std::string(civitas::gateway::v1::PrivacyService::service_full_name()),
                 std::string(civitas::notify::v1::NotifyService::service_full_name())};
    std::set<const LoadedModule*> seen;
    for (const auto& [id, routes] : table.cities()) {
      if (!city.empty() && id != city) continue;
      for (const auto& instance : routes.instances) {
        const LoadedModule* m = &instance->module();
        if (!seen.insert(m).second) continue;
        pools_.push_back(&m->pool());
        for (const ServiceInfo& s : m->services()) services_.insert(s.full_name);
      }
    }
  }

  const FileDescriptor* FileByName(const std::string& name) const {
    for (const DescriptorPool* p : pools_) {
      if (const FileDescriptor* f = p->FindFileByName(name)) return f;
    }
    return nullptr;
  }

  const FileDescriptor* FileBySymbol(const std::string& symbol) const {
    for (const DescriptorPool* p : pools_) {
      // The generated pool knows every message the gateway links; expose only its services'.
      if (p == DescriptorPool::generated_pool() && !IsGatewaySymbol(symbol)) continue;
      if (const FileDescriptor* f = p->FindFileContainingSymbol(symbol)) return f;
    }
    return nullptr;
  }

  const google::protobuf::Descriptor* Message(const std::string& name) const {
    for (const DescriptorPool* p : pools_) {
      if (auto* d = p->FindMessageTypeByName(name)) return d;
    }
    return nullptr;
  }

  const std::set<std::string>& services() const { return services_; }

 private:
  // The gateway's own services and the google.rpc error details its answers carry (a client
  // may look up google.rpc.ErrorInfo here to show a status's details).
  static bool IsGatewaySymbol(const std::string& symbol) {
    return symbol.rfind("grpc.health.v1.", 0) == 0 || symbol.rfind("grpc.reflection.", 0) == 0 ||
           symbol.rfind("civitas.gateway.v1.", 0) == 0 ||
           symbol.rfind("civitas.notify.v1.", 0) == 0 || symbol.rfind("google.rpc.", 0) == 0;
  }
  std::vector<const DescriptorPool*> pools_;
  std::set<std::string> services_;
};

// The file first, then every file it imports, each once.
void AddFileWithDeps(const FileDescriptor* file, std::set<std::string>* sent,
                     std::vector<std::string>* out) {
  if (!sent->insert(file->name()).second) return;
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  out->push_back(proto.SerializeAsString());
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddFileWithDeps(file->dependency(i), sent, out);
  }
}

std::string CityOf(grpc::ServerContext* ctx) {
  auto md = ctx->client_metadata().find("x-civitas-city");
  if (md == ctx->client_metadata().end()) return "";
  return std::string(md->second.data(), md->second.size());
}

template <class Request, class Response>
grpc::Status Serve(const RouteTableHolder* routes, grpc::ServerContext* ctx,
                   grpc::ServerReaderWriter<Response, Request>* stream) {
  Request request;
  while (stream->Read(&request)) {
    std::shared_ptr<const RouteTable> table = routes->Get();
    DescriptorSources sources(*table, CityOf(ctx));
    Response response;
    response.set_valid_host(request.host());
    *response.mutable_original_request() = request;
    auto error = [&](grpc::StatusCode code, const std::string& message) {
      response.mutable_error_response()->set_error_code(code);
      response.mutable_error_response()->set_error_message(message);
    };
    auto files = [&](const FileDescriptor* file) {
      std::set<std::string> sent;
      std::vector<std::string> out;
      AddFileWithDeps(file, &sent, &out);
      for (std::string& f : out) {
        response.mutable_file_descriptor_response()->add_file_descriptor_proto(std::move(f));
      }
    };
    switch (request.message_request_case()) {
      case Request::kFileByFilename:
        if (const FileDescriptor* f = sources.FileByName(request.file_by_filename())) {
          files(f);
        } else {
          error(grpc::StatusCode::NOT_FOUND, "file not found: " + request.file_by_filename());
        }
        break;
      case Request::kFileContainingSymbol:
        if (const FileDescriptor* f = sources.FileBySymbol(request.file_containing_symbol())) {
          files(f);
        } else {
          error(grpc::StatusCode::NOT_FOUND,
                "symbol not found: " + request.file_containing_symbol());
        }
        break;
      case Request::kFileContainingExtension:
        error(grpc::StatusCode::NOT_FOUND, "no extensions are served here");
        break;
      case Request::kAllExtensionNumbersOfType:
        if (sources.Message(request.all_extension_numbers_of_type()) != nullptr) {
          response.mutable_all_extension_numbers_response()->set_base_type_name(
              request.all_extension_numbers_of_type());
        } else {
          error(grpc::StatusCode::NOT_FOUND,
                "type not found: " + request.all_extension_numbers_of_type());
        }
        break;
      case Request::kListServices:
        for (const std::string& s : sources.services()) {
          response.mutable_list_services_response()->add_service()->set_name(s);
        }
        break;
      default:
        error(grpc::StatusCode::INVALID_ARGUMENT, "empty reflection request");
        break;
    }
    if (!stream->Write(response)) break;
  }
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ReflectionV1Service::ServerReflectionInfo(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                             grpc::reflection::v1::ServerReflectionRequest>* stream) {
  return Serve(routes_, ctx, stream);
}

grpc::Status ReflectionV1AlphaService::ServerReflectionInfo(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<grpc::reflection::v1alpha::ServerReflectionResponse,
                             grpc::reflection::v1alpha::ServerReflectionRequest>* stream) {
  return Serve(routes_, ctx, stream);
}

}  // namespace civitas::gateway
