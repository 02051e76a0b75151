#include "services/gateway/subject_hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace civitas::gateway {

namespace {

constexpr size_t kKeyBytes = 32;

// Set once at start (LoadSubjectHashKey), read by every call afterwards.
std::string& Key() {
  static std::string key;
  return key;
}

}  // namespace

absl::Status LoadSubjectHashKey(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  const std::string path = data_dir + "/access_log.key";
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (bytes.str().size() != kKeyBytes) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " must hold exactly ", kKeyBytes,
                       " bytes; delete it to have a new key made (earlier log lines then no "
                       "longer match later ones)"));
    }
    Key() = bytes.str();
    return absl::OkStatus();
  }
  std::string key(kKeyBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), kKeyBytes) != 1) {
    return absl::InternalError("OpenSSL could not produce random bytes for the access-log key");
  }
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  const bool written =
      write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && fsync(fd) == 0;
  close(fd);
  if (!written) return absl::InternalError(absl::StrCat("cannot write ", path));
  Key() = std::move(key);
  return absl::OkStatus();
}

std::string SubjectHash(std::string_view subject) {
  if (subject.empty()) return "";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  const std::string& key = Key();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(subject.data()), subject.size(), digest, &size);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(digest), 8));
}

}  // namespace civitas::gateway
