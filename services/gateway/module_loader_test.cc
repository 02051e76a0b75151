// Every refusal of the loader, one fixture each (tests/fixtures/modules/broken.c): the module is
// refused with FAILED_PRECONDITION and the one sentence that names the file and the reason.
#include "services/gateway/module_loader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace civitas::gateway {
namespace {

struct Refusal {
  std::string fixture;  // civitas.testing.<fixture>.so, or a path the test makes
  std::string reason;   // a part of the sentence
};

std::string FixturePath(const std::string& name) {
  return absl::StrCat(CIVITAS_FIXTURE_MODULE_DIR, "/civitas.testing.", name, ".so");
}

const std::vector<Refusal>& Refusals() {
  static const auto* const kRefusals = new std::vector<Refusal>{
      {"missing_file", "the file cannot be read"},
      {"not_loadable", "it is not a loadable shared library ("},
      {"no_entry", "it does not export civitas_module_entry_v1; build it with the civitas SDK"},
      {"null_def", "its entry symbol returned no module definition"},
      {"truncated", "its module definition is truncated"},
      {"abi_major", "it was built for civitas ABI 99.0 but this gateway speaks ABI 1.x"},
      {"newer_minor", absl::StrCat("it needs civitas ABI 1.", CIVITAS_ABI_MINOR + 1,
                                   " but this gateway offers only 1.", CIVITAS_ABI_MINOR)},
      {"short_def", "fewer than ABI 1.0 requires"},
      {"pointer_size", "it was built for 32-bit pointers; this gateway is 64-bit"},
      {"no_id", "it declares no module id or version"},
      {"no_handle", "it declares no init or handle function"},
      {"no_services", "it declares no services"},
      {"bad_descriptors", "its embedded descriptor set is not a valid FileDescriptorSet"},
      {"unbuildable_descriptors",
       "its descriptor set does not build: file 'broken_import.proto' is inconsistent or misses "
       "an import"},
      {"unnamed_service", "service #0 has no name"},
      {"unknown_service",
       "it declares service civitas.testing.v1.MissingService but its descriptor set does not "
       "define it"},
      {"unknown_method",
       "method civitas.testing.v1.BrokenService.Missing is not in its descriptor"},
      {"client_streaming",
       "method civitas.testing.v1.BrokenService.Upload streams from the client, which the ABI "
       "does not support"},
      {"unknown_kind", "method civitas.testing.v1.BrokenService.Do has unknown kind 7"},
      {"kind_mismatch",
       "method civitas.testing.v1.BrokenService.Watch is declared unary but its proto says "
       "otherwise"},
      {"unknown_role", "method civitas.testing.v1.BrokenService.Do requires unknown role 99"},
  };
  return *kRefusals;
}

class LoaderRefusalTest : public testing::TestWithParam<Refusal> {};

TEST_P(LoaderRefusalTest, RefusesWithOneSentence) {
  const Refusal& r = GetParam();
  const std::string path = FixturePath(r.fixture);
  if (r.fixture != "missing_file") {
    ASSERT_TRUE(std::ifstream(path).good()) << "fixture not built: " << path;
  }
  ModuleLoader loader;
  absl::StatusOr<std::shared_ptr<const LoadedModule>> loaded = loader.Load(path);
  ASSERT_FALSE(loaded.ok()) << r.fixture << " was loaded";
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(loaded.status().message());
  EXPECT_TRUE(absl::StartsWith(message, absl::StrCat("module '", path, "' refused: "))) << message;
  EXPECT_TRUE(absl::StrContains(message, r.reason)) << message;
}

INSTANTIATE_TEST_SUITE_P(EveryRefusal, LoaderRefusalTest, testing::ValuesIn(Refusals()),
                         [](const testing::TestParamInfo<Refusal>& info) {
                           return info.param.fixture;
                         });

// Guards the table above against a refusal added to the loader without a fixture.
TEST(LoaderRefusalTest, EveryRefusalSiteHasAFixture) {
  std::ifstream in(CIVITAS_LOADER_SOURCE);
  ASSERT_TRUE(in.good()) << CIVITAS_LOADER_SOURCE;
  std::stringstream source;
  source << in.rdbuf();
  const std::string text = source.str();
  size_t sites = 0;
  for (size_t at = text.find("return Refuse("); at != std::string::npos;
       at = text.find("return Refuse(", at + 1)) {
    ++sites;
  }
  EXPECT_EQ(sites, Refusals().size())
      << "module_loader.cc has " << sites << " refusals; give each new one a fixture in "
      << "tests/fixtures/modules/broken.c and a line here";
}

TEST(ModuleLoaderTest, LoadsAValidModuleOnceAndSharesIt) {
  ModuleLoader loader;
  const std::string path = absl::StrCat(CIVITAS_FIXTURE_MODULE_DIR, "/civitas.testing.counter.so");
  absl::StatusOr<std::shared_ptr<const LoadedModule>> a = loader.Load(path);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<std::shared_ptr<const LoadedModule>> b = loader.Load(path);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ((*a)->module_id(), "civitas.testing.counter");
}

}  // namespace
}  // namespace civitas::gateway
