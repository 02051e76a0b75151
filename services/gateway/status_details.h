// Errors a program can handle (AIP-193): every error the gateway sends carries a
// google.rpc.ErrorInfo (reason, domain, metadata) in its status details, gRPC's
// `grpc-status-details-bin` trailer, and a google.rpc.RetryInfo when the caller should come back
// later. The HTTP side prints the same details into its JSON error (http_transcoder.h).
//
// The gateway's own reasons are in the domain "civitas.city"; a module names its reasons with the
// "[REASON] message" convention of sdk/include/civitas/error_reason.h and they are sent in the
// module's domain (its id). docs/errors.md lists every reason.
#ifndef CIVITAS_GATEWAY_STATUS_DETAILS_H_
#define CIVITAS_GATEWAY_STATUS_DETAILS_H_

#include <grpcpp/support/status.h>

#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace civitas::gateway {

inline constexpr char kGatewayErrorDomain[] = "civitas.city";

// A status of the gateway's with its ErrorInfo (and a RetryInfo when retry_after_seconds > 0).
grpc::Status GatewayError(grpc::StatusCode code, std::string message, absl::string_view reason,
                          std::map<std::string, std::string> metadata = {},
                          int64_t retry_after_seconds = 0);

// `status` with its ErrorInfo, unless it has details already. Without a reason (or with one that
// is not UPPER_SNAKE_CASE) the reason is the code's name ("NOT_FOUND").
grpc::Status WithErrorInfo(grpc::Status status, absl::string_view reason, absl::string_view domain,
                           std::map<std::string, std::string> metadata,
                           int64_t retry_after_seconds = 0);

// The status a module's failure becomes: `text` is what the module passed to call_error, whose
// "[REASON] " prefix (error_reason.h) becomes the ErrorInfo's reason in the module's domain.
grpc::Status ModuleError(grpc::StatusCode code, absl::string_view text, absl::string_view module_id,
                         absl::string_view method);

// Any status leaving the gateway: one without details gets the fallback ErrorInfo (the code's
// name, domain civitas.city). OK passes unchanged.
grpc::Status EnsureErrorInfo(grpc::Status status);

// `in` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD, so text
// that quotes a client's input stays valid in JSON and in protobuf strings.
std::string ScrubUtf8(absl::string_view in);

// The reason of a status's ErrorInfo, "" if it has none (for tests and logs).
std::string ErrorReasonOf(const grpc::Status& status);

// The status's details as a JSON array in protobuf's JSON mapping of google.protobuf.Any
// ([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": ...}]), "[]" for none.
std::string DetailsJson(const grpc::Status& status);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_STATUS_DETAILS_H_
