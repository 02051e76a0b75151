// Any bytes as a request to any method of a module, through the SDK's fake host: a gRPC status
// and no crash, whatever the caller's role. Built once per module (see CMakeLists.txt).
#include <cstddef>
#include <cstdint>
#include <string>

#include "civitas/testing/fake_host.h"

extern "C" const civitas_module_def* civitas_module_entry_v1(void);

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static civitas::testing::FakeHost* host =
      new civitas::testing::FakeHost(civitas_module_entry_v1());
  if (size < 3) return 0;
  const civitas_module_def* def = civitas_module_entry_v1();
  const civitas_service_def& service = def->services[data[0] % def->service_count];
  const civitas_method_def& method = service.methods[data[1] % service.method_count];
  static const civitas_role kRoles[] = {CIVITAS_ROLE_EDITOR, CIVITAS_ROLE_MODERATOR,
                                        CIVITAS_ROLE_ADMIN};
  civitas::testing::Caller caller =
      data[2] % 5 == 0   ? civitas::testing::Caller::Anonymous()
      : data[2] % 5 == 1 ? civitas::testing::Caller::Citizen("fuzz")
                         : civitas::testing::Caller::WithRole("staff", kRoles[data[2] % 5 - 2]);
  // Time moves on a little with every input, so schedules, windows and limits are exercised.
  static int64_t now = 1'790'000'000'000'000;
  now += 1'000'000;
  host->SetNowMicros(now);
  const std::string request(reinterpret_cast<const char*>(data + 3), size - 3);
  civitas::testing::CallResult r = host->Call(service.full_name, method.name, request, caller);
  if (r.code < 0 || r.code > 16) __builtin_trap();  // statuses are gRPC codes
  return 0;
}
