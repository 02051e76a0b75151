// multipart/form-data request bodies (RFC 7578), so that an app uploads photos as they are
// instead of base64 in JSON (a third larger, and over the body limit for three full photos).
//
// How a form becomes a request (http_transcoder.cc): the part named after the binding's body
// field (`report`), or a part named `json`, holds the JSON of the body message; every file part
// named after a repeated field of that message whose entries have `content_type` and `data`
// (`photos`) adds one entry with the part's bytes and content type. The limits are the route's
// (UploadLimits), checked while the form is read, before the module sees the request.
#ifndef CIVITAS_GATEWAY_MULTIPART_H_
#define CIVITAS_GATEWAY_MULTIPART_H_

#include <google/protobuf/descriptor.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace civitas::gateway {

struct FormPart {
  std::string name;          // Content-Disposition name
  std::string filename;      // empty for a plain field
  std::string content_type;  // the part's Content-Type, "" if none
  std::string data;
};

// What one route accepts as files.
struct UploadLimits {
  size_t max_files = 0;       // file parts, all fields together
  size_t max_file_bytes = 0;  // each
};

// The upload limits of the routes that take files, by full method path: what the module
// promises (civitas.reports: 3 photos of at most 1 MiB each).
const std::map<std::string, UploadLimits>& UploadRoutes();

// True if `content_type` is multipart/form-data.
bool IsMultipartForm(absl::string_view content_type);

// The parts of `body`, with the boundary from `content_type`. INVALID_ARGUMENT for a malformed
// form, RESOURCE_EXHAUSTED (naming the part) for more files or larger ones than `limits` allow.
absl::StatusOr<std::vector<FormPart>> ParseMultipartForm(absl::string_view content_type,
                                                         absl::string_view body,
                                                         const UploadLimits& limits);

// The JSON body for a request whose body message is `body_type`, from the form's parts (see the
// file comment). `body_field` is the binding's body field name.
absl::StatusOr<std::string> FormToJson(const std::vector<FormPart>& parts,
                                       const google::protobuf::Descriptor* body_type,
                                       absl::string_view body_field);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_MULTIPART_H_
