// The host API's contract, run against both hosts a module meets: the SDK's FakeHost (its unit
// tests) and the gateway's table (host_api.cc, over a real city database). Every case must give
// the same answer on both, so a module that passes on the fake does not fail in the gateway.
// Then what only the gateway has: a city store that is closed or detached.
#include "services/gateway/host_api.h"

#include <civitas/testing/fake_host.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/gateway/city_store.h"
#include "services/gateway/module_instance.h"
#include "services/gateway/module_loader.h"

namespace civitas::gateway {
namespace {

// What a module sees of its host: the table and its city handle.
struct HostView {
  const civitas_host_api* api = nullptr;
  civitas_city_host* city = nullptr;
};

// ---- the fake: a module definition whose init remembers what the FakeHost handed it ----------

HostView captured;

int32_t CaptureInit(const civitas_host_api* host, civitas_city_host* city, void** out, char*,
                    size_t) {
  captured = {host, city};
  *out = nullptr;
  return CIVITAS_OK;
}
int32_t NoHandle(void*, civitas_call_host*, uint32_t, uint32_t, const uint8_t*, size_t) {
  return CIVITAS_UNIMPLEMENTED;
}

const civitas_module_def* CaptureDef() {
  static const civitas_module_def def = [] {
    civitas_module_def d{};
    d.struct_size = sizeof(d);
    d.abi_major = CIVITAS_ABI_MAJOR;
    d.abi_minor = CIVITAS_ABI_MINOR;
    d.pointer_size = sizeof(void*);
    d.module_id = "civitas.testing.capture";
    d.version = "1.0.0";
    d.init = &CaptureInit;
    d.handle = &NoHandle;
    return d;
  }();
  return &def;
}

// ---- the real host: a module instance over a city database in a temporary folder ------------
// (of the `throwing` fixture, whose init and destroy do nothing; the test calls the host itself)

class RealHost {
 public:
  RealHost() {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = absl::StrCat(test->test_suite_name(), "_", test->name());
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = absl::StrCat(::testing::TempDir(), "/host_api_test_", name);
    std::filesystem::remove_all(dir_);
    auto store = CityStore::Open(env_, dir_);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto module =
        loader_.Load(absl::StrCat(CIVITAS_FIXTURE_MODULE_DIR, "/civitas.testing.throwing.so"));
    EXPECT_TRUE(module.ok()) << module.status();
    CityConfig city;
    city.id = "testcity";
    auto instance = ModuleInstance::Create(*module, city, ModuleConfig{}, store_.get());
    EXPECT_TRUE(instance.ok()) << instance.status();
    instance_ = *std::move(instance);
  }
  ~RealHost() {
    instance_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  HostView view() const {
    return {HostApiTable(), reinterpret_cast<civitas_city_host*>(instance_.get())};
  }
  CityStore& store() { return *store_; }
  ModuleInstance& instance() { return *instance_; }

 private:
  std::string dir_;
  StorageEnvironment env_{StorageConfig{}};
  std::unique_ptr<CityStore> store_;
  ModuleLoader loader_;
  std::shared_ptr<ModuleInstance> instance_;
};

// ---- the table -------------------------------------------------------------------------------

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

void Append(void* sink, const uint8_t* data, size_t size) {
  static_cast<std::string*>(sink)->append(reinterpret_cast<const char*>(data), size);
}

// Writes key = value in one transaction; the code of the first step that fails, else commit's.
int32_t Put(const HostView& h, const std::string& key, const std::string& value) {
  civitas_txn_host* txn = h.api->txn_begin(h.city);
  if (txn == nullptr) return -1;
  if (int32_t rc = h.api->txn_put(txn, Bytes(key), key.size(), Bytes(value), value.size());
      rc != CIVITAS_OK) {
    h.api->txn_rollback(txn);
    return rc;
  }
  return h.api->txn_commit(txn);
}

// "<code>" or "<code> <value>" of a committed read.
std::string Get(const HostView& h, const std::string& key) {
  std::string value;
  const int32_t rc = h.api->kv_get(h.city, nullptr, Bytes(key), key.size(), &value, &Append);
  return rc == CIVITAS_OK ? absl::StrCat(rc, " ", value) : absl::StrCat(rc);
}

// "<code>: k1,k2,..." of a scan.
std::string Scan(const HostView& h, const std::string& prefix, const std::string& start,
                 uint32_t limit, bool reverse,
                 uint32_t struct_size = sizeof(civitas_scan_options)) {
  civitas_scan_options o{};
  o.struct_size = struct_size;
  o.prefix = Bytes(prefix);
  o.prefix_size = prefix.size();
  o.start = Bytes(start);
  o.start_size = start.size();
  o.limit = limit;
  o.reverse = reverse ? 1 : 0;
  std::vector<std::string> keys;
  const int32_t rc =
      h.api->kv_scan(h.city, nullptr, &o, &keys,
                     [](void* ctx, const uint8_t* k, size_t ks, const uint8_t*, size_t) -> int32_t {
                       static_cast<std::vector<std::string>*>(ctx)->emplace_back(
                           reinterpret_cast<const char*>(k), ks);
                       return 0;
                     });
  return absl::StrCat(rc, ": ", absl::StrJoin(keys, ","));
}

// One step inside a transaction that is then rolled back: its code.
int32_t InTxn(const HostView& h, const std::function<int32_t(civitas_txn_host*)>& step) {
  civitas_txn_host* txn = h.api->txn_begin(h.city);
  if (txn == nullptr) return -1;
  const int32_t rc = step(txn);
  h.api->txn_rollback(txn);
  return rc;
}

const std::string kLargestKey(CIVITAS_MAX_KEY_SIZE, 'k');
const std::string kTooLongKey(CIVITAS_MAX_KEY_SIZE + 1, 'k');

struct KvCase {
  std::string name;
  std::function<std::string(const HostView&)> run;
  std::string expected;
};

std::string Code(int32_t rc) { return absl::StrCat(rc); }

const std::vector<KvCase>& Cases() {
  static const auto* const kCases = new std::vector<KvCase>{
      {"MissingKeyIsNotFound", [](const HostView& h) { return Get(h, "nothing"); },
       Code(CIVITAS_NOT_FOUND)},
      {"PutThenGet",
       [](const HostView& h) {
         const std::string put = Code(Put(h, "a", "1"));  // before the read
         return put + " " + Get(h, "a");
       },
       "0 0 1"},
      {"EmptyKeyAndEmptyValue",
       [](const HostView& h) {
         const std::string put = Code(Put(h, "", ""));  // before the read
         return put + " " + Get(h, "");
       },
       "0 0 "},
      {"LargestKeyIsStored",
       [](const HostView& h) {
         const std::string put = Code(Put(h, kLargestKey, "v"));  // before the read
         return put + " " + Get(h, kLargestKey);
       },
       "0 0 v"},
      {"TooLongKeyIsRefusedByPut", [](const HostView& h) { return Code(Put(h, kTooLongKey, "v")); },
       Code(CIVITAS_INVALID_ARGUMENT)},
      {"TooLongKeyIsRefusedByGet", [](const HostView& h) { return Get(h, kTooLongKey); },
       Code(CIVITAS_INVALID_ARGUMENT)},
      {"TooLongKeyIsRefusedByTxnGet",
       [](const HostView& h) {
         return Code(InTxn(h, [&](civitas_txn_host* t) {
           std::string v;
           return h.api->txn_get(t, Bytes(kTooLongKey), kTooLongKey.size(), 1, &v, &Append);
         }));
       },
       Code(CIVITAS_INVALID_ARGUMENT)},
      {"TooLongKeyIsRefusedByDelete",
       [](const HostView& h) {
         return Code(InTxn(h, [&](civitas_txn_host* t) {
           return h.api->txn_delete(t, Bytes(kTooLongKey), kTooLongKey.size());
         }));
       },
       Code(CIVITAS_INVALID_ARGUMENT)},
      {"TooLongKeyIsRefusedByAddU64",
       [](const HostView& h) {
         return Code(InTxn(h, [&](civitas_txn_host* t) {
           return h.api->txn_add_u64(t, Bytes(kTooLongKey), kTooLongKey.size(), 1);
         }));
       },
       Code(CIVITAS_INVALID_ARGUMENT)},
      {"TooLargeValueIsRefused",
       [](const HostView& h) {
         return Code(Put(h, "big", std::string(CIVITAS_MAX_VALUE_SIZE + 1, 'v')));
       },
       Code(CIVITAS_INVALID_ARGUMENT)},
      {"TooLongScanPrefixIsRefused",
       [](const HostView& h) { return Scan(h, kTooLongKey, "", 10, false); },
       Code(CIVITAS_INVALID_ARGUMENT) + ": "},
      {"TooLongScanStartIsRefused",
       [](const HostView& h) { return Scan(h, "", kTooLongKey, 10, false); },
       Code(CIVITAS_INVALID_ARGUMENT) + ": "},
      {"ScanLimitZeroIsRefused", [](const HostView& h) { return Scan(h, "", "", 0, false); },
       Code(CIVITAS_INVALID_ARGUMENT) + ": "},
      {"ScanLimitAboveMaximumIsRefused",
       [](const HostView& h) { return Scan(h, "", "", CIVITAS_SCAN_MAX_LIMIT + 1, false); },
       Code(CIVITAS_INVALID_ARGUMENT) + ": "},
      {"TruncatedScanOptionsAreRefused",
       [](const HostView& h) {
         return Scan(h, "", "", 10, false, offsetof(civitas_scan_options, reverse));
       },
       Code(CIVITAS_INVALID_ARGUMENT) + ": "},
      {"ScansStayInsideThePrefix",
       [](const HostView& h) {
         for (const char* k : {"a", "b/1", "b/2", "b/3", "c"}) Put(h, k, "x");
         return Scan(h, "b/", "", 10, false) + " | " + Scan(h, "b/", "", 10, true);
       },
       "0: b/1,b/2,b/3 | 0: b/3,b/2,b/1"},
      {"ScanStartIsInclusiveBothWays",
       [](const HostView& h) {
         for (const char* k : {"b/1", "b/2", "b/3"}) Put(h, k, "x");
         return Scan(h, "b/", "b/2", 10, false) + " | " + Scan(h, "b/", "b/2", 10, true) + " | " +
                Scan(h, "b/", "b/25", 10, true) + " | " + Scan(h, "b/", "a", 10, true) + " | " +
                Scan(h, "b/", "z", 10, true);
       },
       "0: b/2,b/3 | 0: b/2,b/1 | 0: b/2,b/1 | 0:  | 0: b/3,b/2,b/1"},
      {"ScanLimitCounts",
       [](const HostView& h) {
         for (const char* k : {"b/1", "b/2", "b/3"}) Put(h, k, "x");
         return Scan(h, "b/", "", 2, false);
       },
       "0: b/1,b/2"},
      {"TransactionsReadTheirOwnWrites",
       [](const HostView& h) {
         civitas_txn_host* t = h.api->txn_begin(h.city);
         const std::string k = "mine";
         h.api->txn_put(t, Bytes(k), k.size(), Bytes(std::string("1")), 1);
         std::string inside;
         const int32_t in = h.api->kv_get(h.city, t, Bytes(k), k.size(), &inside, &Append);
         const std::string outside = Get(h, k);
         const int32_t commit = h.api->txn_commit(t);
         return absl::StrCat(in, " ", inside, " | ", outside, " | ", commit, " | ", Get(h, k));
       },
       absl::StrCat("0 1 | ", CIVITAS_NOT_FOUND, " | 0 | 0 1")},
      {"RollbackWritesNothing",
       [](const HostView& h) {
         InTxn(h, [&](civitas_txn_host* t) {
           return h.api->txn_put(t, Bytes(std::string("gone")), 4, Bytes(std::string("1")), 1);
         });
         return Get(h, "gone");
       },
       Code(CIVITAS_NOT_FOUND)},
      {"CountersAreLittleEndianU64",
       [](const HostView& h) {
         for (int64_t delta : {5, -2}) {
           civitas_txn_host* t = h.api->txn_begin(h.city);
           h.api->txn_add_u64(t, Bytes(std::string("n")), 1, delta);
           h.api->txn_commit(t);
         }
         std::string v;
         const int32_t rc = h.api->kv_get(h.city, nullptr, Bytes(std::string("n")), 1, &v, &Append);
         return absl::StrCat(rc, " ", v.size(), " ", static_cast<int>(v[0]));
       },
       "0 8 3"},
      {"DeleteRemoves",
       [](const HostView& h) {
         Put(h, "d", "1");
         civitas_txn_host* t = h.api->txn_begin(h.city);
         h.api->txn_delete(t, Bytes(std::string("d")), 1);
         const std::string commit = Code(h.api->txn_commit(t));  // before the read
         return commit + " " + Get(h, "d");
       },
       absl::StrCat("0 ", CIVITAS_NOT_FOUND)},
      {"EmptyTopicIsRefused",
       [](const HostView& h) {
         return Code(h.api->publish(h.city, "", 0, Bytes(std::string("m")), 1));
       },
       Code(CIVITAS_INVALID_ARGUMENT)},
  };
  return *kCases;
}

class FakeHostContractTest : public ::testing::TestWithParam<KvCase> {};
class GatewayHostContractTest : public ::testing::TestWithParam<KvCase> {};

TEST_P(FakeHostContractTest, AnswersAsTheGatewayDoes) {
  civitas::testing::FakeHost fake(CaptureDef());
  ASSERT_TRUE(fake.ok());
  EXPECT_EQ(GetParam().run(captured), GetParam().expected);
}

TEST_P(GatewayHostContractTest, AnswersAsDocumented) {
  RealHost real;
  EXPECT_EQ(GetParam().run(real.view()), GetParam().expected);
}

auto CaseName = [](const ::testing::TestParamInfo<KvCase>& info) { return info.param.name; };
INSTANTIATE_TEST_SUITE_P(Kv, FakeHostContractTest, ::testing::ValuesIn(Cases()), CaseName);
INSTANTIATE_TEST_SUITE_P(Kv, GatewayHostContractTest, ::testing::ValuesIn(Cases()), CaseName);

// ---- a closed or detached store: the documented failure, never a null dereference ------------

void ExpectStorageRefused(const HostView& h) {
  EXPECT_EQ(h.api->txn_begin(h.city), nullptr);
  EXPECT_EQ(Get(h, "a"), Code(CIVITAS_UNAVAILABLE));
  EXPECT_EQ(Scan(h, "", "", 10, false), Code(CIVITAS_UNAVAILABLE) + ": ");
  EXPECT_EQ(Put(h, "a", "1"), -1);  // no transaction to write in
}

TEST(ClosedStoreTest, StorageCallsOnAClosedStoreFailAsDocumented) {
  RealHost real;
  ASSERT_EQ(Put(real.view(), "a", "1"), CIVITAS_OK);
  ASSERT_TRUE(real.store().Close().ok());
  ExpectStorageRefused(real.view());
}

TEST(ClosedStoreTest, ADetachedInstanceNoLongerReachesItsStore) {
  RealHost real;
  ASSERT_EQ(Put(real.view(), "a", "1"), CIVITAS_OK);
  real.instance().Retire();
  real.instance().DetachStore();
  ExpectStorageRefused(real.view());
  // The store itself is untouched and still open for the gateway.
  EXPECT_NE(real.store().db(), nullptr);
}

}  // namespace
}  // namespace civitas::gateway
