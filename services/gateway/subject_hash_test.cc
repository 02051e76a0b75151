// The access log's subject hash is keyed per instance: the same subject hashes differently on two
// instances, the same on one instance across restarts, and the key file is private.
#include "services/gateway/subject_hash.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/escaping.h"

namespace civitas::gateway {
namespace {

std::string Dir(const std::string& name) {
  const std::string dir = std::string(::testing::TempDir()) + "/subject_hash_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(SubjectHashTest, IsKeyedPerInstanceAndStableAcrossRestarts) {
  const std::string a = Dir("a"), b = Dir("b");
  ASSERT_TRUE(LoadSubjectHashKey(a).ok());
  const std::string on_a = SubjectHash("anna@example.org");
  EXPECT_EQ(on_a.size(), 16u);
  EXPECT_EQ(SubjectHash(""), "");
  // Not the plain SHA-256 a dictionary attack would try.
  unsigned char digest[SHA256_DIGEST_LENGTH];
  const std::string subject = "anna@example.org";
  SHA256(reinterpret_cast<const unsigned char*>(subject.data()), subject.size(), digest);
  EXPECT_NE(on_a, absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8)));
  ASSERT_TRUE(LoadSubjectHashKey(b).ok());
  EXPECT_NE(SubjectHash("anna@example.org"), on_a) << "another instance, another key";
  ASSERT_TRUE(LoadSubjectHashKey(a).ok());
  EXPECT_EQ(SubjectHash("anna@example.org"), on_a) << "the key is kept in the data dir";
  struct stat st;
  ASSERT_EQ(stat((a + "/access_log.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(st.st_size, 32);
}

TEST(SubjectHashTest, RefusesAKeyFileOfTheWrongSize) {
  const std::string dir = Dir("bad");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/access_log.key") << "short";
  absl::Status s = LoadSubjectHashKey(dir);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("exactly 32 bytes"), std::string::npos) << s;
}

}  // namespace
}  // namespace civitas::gateway
