// Any bytes as a module bundle: refused with a reason or opened, never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "services/bundle/bundle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<civitas::bundle::OpenedBundle> opened = civitas::bundle::OpenBundle(bytes);
  if (opened.ok()) {
    (void)civitas::bundle::CheckTrust(
        *opened, {{"civitas", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", false}});
  }
  (void)civitas::bundle::CompareVersions(bytes.substr(0, size / 2), bytes.substr(size / 2));
  return 0;
}
