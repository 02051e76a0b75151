// Any bytes as a request to any method of the notice board, through the SDK's fake host: a status
// and no crash, whatever the caller's role.
#include <cstddef>
#include <cstdint>
#include <string>

#include "civitas/testing/fake_host.h"

extern "C" const civitas_module_def* civitas_module_entry_v1(void);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static civitas::testing::FakeHost* host =
      new civitas::testing::FakeHost(civitas_module_entry_v1());
  if (size < 2) return 0;
  const civitas_module_def* def = civitas_module_entry_v1();
  const civitas_service_def& service = def->services[0];
  const civitas_method_def& method = service.methods[data[0] % service.method_count];
  civitas::testing::Caller caller =
      data[1] % 3 == 0   ? civitas::testing::Caller::Anonymous()
      : data[1] % 3 == 1 ? civitas::testing::Caller::Citizen("fuzz")
                         : civitas::testing::Caller::WithRole("editor", CIVITAS_ROLE_EDITOR);
  const std::string request(reinterpret_cast<const char*>(data + 2), size - 2);
  civitas::testing::CallResult r = host->Call(service.full_name, method.name, request, caller);
  if (r.code < 0 || r.code > 16) __builtin_trap();  // statuses are gRPC codes
  return 0;
}
