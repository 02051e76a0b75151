// Any text as a gateway config: a clear error or a config, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "services/gateway/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)civitas::gateway::ParseConfig(text, "fuzz.yaml");
  (void)civitas::gateway::ParseCityConfig(text, "fuzz.yaml");
  return 0;
}
