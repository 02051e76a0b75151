#include "services/bundle/bundle.h"

#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "civitas/abi.h"

namespace civitas::bundle {
namespace {

TEST(TarTest, RoundTripsAndIsReproducible) {
  std::map<std::string, std::string> files = {
      {"a.txt", "hello"}, {"big.bin", std::string(70000, '\x07')}, {"empty", ""}};
  const std::string tar = WriteTar(files);
  EXPECT_EQ(tar, WriteTar(files));
  EXPECT_EQ(tar.size() % 512, 0u);
  auto read = ReadTar(tar);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, files);
}

TEST(TarTest, RefusesDamage) {
  std::string tar = WriteTar({{"a", "x"}});
  std::string damaged = tar;
  damaged[10] ^= 1;  // name byte changes, checksum no longer matches
  EXPECT_NE(ReadTar(damaged).status().message().find("damaged"), std::string::npos);
  EXPECT_FALSE(ReadTar(tar.substr(0, 600)).ok());
  EXPECT_FALSE(ReadTar("not a tar").ok());
}

TEST(HashTest, KnownSha256) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(KeysTest, SignAndVerify) {
  auto pair = GenerateKeyPair();
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(*PublicKeyOf(pair->private_pem), pair->public_key);
  auto sig = Sign(pair->private_pem, "manifest");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(VerifySignature(pair->public_key, "manifest", *sig));
  EXPECT_FALSE(VerifySignature(pair->public_key, "manifesT", *sig));
  auto other = GenerateKeyPair();
  EXPECT_FALSE(VerifySignature(other->public_key, "manifest", *sig));
  EXPECT_FALSE(Sign("not a key", "x").ok());
}

TEST(VersionTest, ComparesSemantically) {
  EXPECT_LT(CompareVersions("1.9.2", "1.10.0"), 0);
  EXPECT_GT(CompareVersions("2.0.0", "1.99.99"), 0);
  EXPECT_EQ(CompareVersions("1.2.3", "1.2.3+build.7"), 0);
  EXPECT_LT(CompareVersions("1.2.3-rc.1", "1.2.3"), 0);
  EXPECT_TRUE(IsSemver("0.1.0"));
  EXPECT_FALSE(IsSemver("1.2"));
  EXPECT_FALSE(IsSemver("v1.2.3"));
}

class PackedBundleTest : public testing::Test {
 protected:
  void SetUp() override {
    auto pair = GenerateKeyPair();
    ASSERT_TRUE(pair.ok());
    keys_ = *pair;
    auto packed = Pack(CIVITAS_NOTICEBOARD_MODULE, {"dortmund", "EUPL-1.2", "Notice board", 0});
    ASSERT_TRUE(packed.ok()) << packed.status();
    auto signed_bundle = SignBundle(*packed, keys_.private_pem);
    ASSERT_TRUE(signed_bundle.ok()) << signed_bundle.status();
    bundle_ = *signed_bundle;
  }
  KeyPair keys_;
  std::string bundle_;
};

TEST_F(PackedBundleTest, ManifestDescribesTheModule) {
  auto opened = OpenBundle(bundle_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const auto& m = opened->manifest;
  EXPECT_EQ(m.module_id(), "civitas.noticeboard");
  EXPECT_EQ(m.version(), "1.0.0");
  EXPECT_EQ(m.abi_version(), absl::StrCat(CIVITAS_ABI_MAJOR, ".", CIVITAS_ABI_MINOR));
  EXPECT_EQ(m.publisher(), "dortmund");
  EXPECT_EQ(m.license(), "EUPL-1.2");
  EXPECT_TRUE(m.storage().has_migration());
  EXPECT_TRUE(m.storage().rollback_compatible());
  EXPECT_FALSE(m.storage().has_down_migration());
  ASSERT_EQ(m.services_size(), 1);
  EXPECT_EQ(m.services(0).name(), "civitas.noticeboard.v1.NoticeboardService");
  bool found_create = false;
  for (const auto& method : m.services(0).methods()) {
    if (method.name() == "CreateNotice") {
      found_create = true;
      EXPECT_EQ(method.required_role(), "citizen");
    }
    if (method.name() == "WatchNotices") {
      EXPECT_TRUE(method.server_streaming());
    }
  }
  EXPECT_TRUE(found_create);
  EXPECT_EQ(m.files_size(), 2);
  EXPECT_TRUE(CheckTrust(*opened, {{"dortmund", keys_.public_key, false}}).ok());
}

TEST_F(PackedBundleTest, RefusesWithTheReason) {
  auto opened = OpenBundle(bundle_);
  ASSERT_TRUE(opened.ok());
  auto other = GenerateKeyPair();
  auto reason = [&](const std::vector<TrustedKey>& trusted) {
    return std::string(CheckTrust(*opened, trusted).message());
  };
  EXPECT_NE(reason({{"schwerte", keys_.public_key, false}}).find("'dortmund' is not trusted"),
            std::string::npos);
  EXPECT_NE(reason({{"dortmund", keys_.public_key, true}}).find("revoked key"), std::string::npos);
  EXPECT_NE(reason({{"dortmund", other->public_key, false}}).find("does not match"),
            std::string::npos);
  // Trusting an old key and the current one works.
  EXPECT_TRUE(CheckTrust(*opened, {{"dortmund", other->public_key, false},
                                   {"dortmund", keys_.public_key, false}})
                  .ok());

  // A changed library no longer matches its hash.
  auto files = ReadTar(bundle_);
  std::string& so = (*files)[kModuleFile];
  so[so.size() / 2] ^= 0x20;
  auto tampered = OpenBundle(WriteTar(*files));
  ASSERT_FALSE(tampered.ok());
  EXPECT_EQ(tampered.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(tampered.status().message().find("module.so"), std::string::npos);

  // A changed manifest no longer matches the signature.
  files = ReadTar(bundle_);
  std::string& manifest = (*files)[kManifestFile];
  manifest.replace(manifest.find("Notice board"), 12, "Evil  board!");
  auto rewritten = OpenBundle(WriteTar(*files));
  ASSERT_TRUE(rewritten.ok());
  EXPECT_NE(std::string(CheckTrust(*rewritten, {{"dortmund", keys_.public_key, false}}).message())
                .find("does not match"),
            std::string::npos);

  // Unsigned, extra files.
  files = ReadTar(bundle_);
  files->erase(kSignatureFile);
  EXPECT_NE(std::string(CheckTrust(*OpenBundle(WriteTar(*files)), {}).message()).find("not signed"),
            std::string::npos);
  (*files)["payload.sh"] = "rm -rf /";
  EXPECT_FALSE(OpenBundle(WriteTar(*files)).ok());
}

TEST(ModuleRefTest, IdsAndVersionsAreNeverPaths) {
  for (const char* good : {"civitas.news", "dortmund.waste_calendar", "a.b2.c_d"}) {
    EXPECT_TRUE(IsModuleId(good)) << good;
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "news", "../../../tmp/x", "civitas/news", "Civitas.news",
                                "civitas..news", ".a.b", "a.b.", "a.-b", "a.b c", "1a.b",
                                std::string("a.b\0c", 5), "a." + std::string(127, 'b')}) {
    EXPECT_FALSE(IsModuleId(bad)) << bad;
  }
  for (const char* good : {"1.0.0", "0.1.0", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-2+build.7"}) {
    EXPECT_TRUE(IsSemver(good)) << good;
  }
  for (const std::string& bad : std::vector<std::string>{
           "1.0", "01.0.0", "1.0.0-", "1.0.0-../../x", "1.0.0/..", "1.0.0+a/b", "1.0.0-01",
           "1.0.0-a..b", "1.0.0 ", "1.0.0-" + std::string(60, 'a')}) {
    EXPECT_FALSE(IsSemver(bad)) << bad;
  }
  EXPECT_NE(CheckModuleRef("../x", "1.0.0").message().find("must match"), std::string::npos);
}

TEST_F(PackedBundleTest, ASignedManifestWithAPathForAnIdIsRefused) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"civitas.noticeboard", "../../../tmp/x"}, {"1.0.0", "1.0.0/../../x"}}) {
    auto files = ReadTar(bundle_);
    std::string& manifest = (*files)[kManifestFile];
    manifest.replace(manifest.find("\"" + field + "\""), field.size() + 2, "\"" + value + "\"");
    (*files)[kSignatureFile] = *Sign(keys_.private_pem, manifest);  // a validly signed lie
    auto opened = OpenBundle(WriteTar(*files));
    ASSERT_FALSE(opened.ok()) << value;
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(opened.status().message().find("is not"), std::string::npos) << opened.status();
  }
}

TEST(BuildBundleTest, TheModuleBuildProducesItsBundle) {
  std::ifstream in(CIVITAS_NOTICEBOARD_BUNDLE, std::ios::binary);
  ASSERT_TRUE(in) << "civitas_add_module(... BUNDLE_PUBLISHER ...) wrote no bundle";
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto opened = OpenBundle(data);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->manifest.publisher(), "civitas");
  EXPECT_EQ(opened->manifest.license(), "EUPL-1.2");
  std::ifstream so(CIVITAS_NOTICEBOARD_MODULE, std::ios::binary);
  std::string library((std::istreambuf_iterator<char>(so)), std::istreambuf_iterator<char>());
  EXPECT_EQ(opened->files.at(kModuleFile), library) << "the bundle holds the built library";
}

}  // namespace
}  // namespace civitas::bundle
