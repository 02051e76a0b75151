// The JSON/HTTP transcoder's request side: any path, query string and JSON body against every
// HTTP binding of the modules' protos. A request message or an INVALID_ARGUMENT, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "civitas/events/v1/events.pb.h"
#include "civitas/news/v1/news.pb.h"
#include "civitas/participation/v1/participation.pb.h"
#include "civitas/reports/v1/reports.pb.h"
#include "services/gateway/http_rule.h"

namespace {

std::vector<civitas::gateway::HttpBinding>* Bindings() {
  static auto* bindings = [] {
    auto* out = new std::vector<civitas::gateway::HttpBinding>;
    // Referencing one message of each file links it (and its services) in.
    const google::protobuf::FileDescriptor* files[] = {
        civitas::news::v1::Article::descriptor()->file(),
        civitas::events::v1::Event::descriptor()->file(),
        civitas::participation::v1::Idea::descriptor()->file(),
        civitas::reports::v1::Report::descriptor()->file()};
    for (const google::protobuf::FileDescriptor* file : files) {
      const google::protobuf::ServiceDescriptor* s = file->service(0);
      for (int m = 0; m < s->method_count(); ++m) {
        if (!civitas::gateway::RulesOf(s->method(m), nullptr, out).ok()) __builtin_trap();
      }
    }
    return out;
  }();
  return bindings;
}

}  // namespace

// Input: <binding index byte><path>\n<query>\n<body>
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto& bindings = *Bindings();
  const civitas::gateway::HttpBinding& binding = bindings[data[0] % bindings.size()];
  const std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t first = rest.find('\n');
  const size_t second = first == std::string::npos ? std::string::npos : rest.find('\n', first + 1);
  const std::string path = rest.substr(0, first);
  const std::string query =
      first == std::string::npos ? "" : rest.substr(first + 1, second - first - 1);
  const std::string body = second == std::string::npos ? "" : rest.substr(second + 1);
  std::map<std::string, std::string> variables;
  binding.path.Match(path, &variables);
  (void)civitas::gateway::PathTemplate::Parse(path);
  absl::StatusOr<std::string> request =
      civitas::gateway::BuildRequest(binding, variables, query, body);
  if (!request.ok() && request.status().code() != absl::StatusCode::kInvalidArgument) {
    __builtin_trap();  // client input can only be wrong, never break the server
  }
  return 0;
}
