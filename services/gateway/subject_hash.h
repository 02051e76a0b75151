// The access log's stand-in for a caller's subject: a keyed hash, so log lines can be matched to
// each other (one caller's calls) but not, without the instance's key, to a person — a dictionary
// of likely subjects (e-mail addresses, numbered accounts) does not reverse it.
#ifndef CIVITAS_GATEWAY_SUBJECT_HASH_H_
#define CIVITAS_GATEWAY_SUBJECT_HASH_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace civitas::gateway {

// Reads <data_dir>/access_log.key (32 random bytes, created with mode 0600 on first start) and
// uses it from now on. Call once at start, before any call is served.
absl::Status LoadSubjectHashKey(const std::string& data_dir);

// First 16 hex digits of HMAC-SHA256(key, subject); "" for an anonymous caller.
std::string SubjectHash(std::string_view subject);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_SUBJECT_HASH_H_
