#include "services/gateway/status_details.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "civitas/error_reason.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/common/code_names.h"

namespace civitas::gateway {

std::string ScrubUtf8(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    size_t len = 0;
    uint32_t min = 0, cp = 0;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    }
    bool ok = len > 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
    ok = ok && cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(in.data() + i, len);
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER, for one bad byte
      ++i;
    }
  }
  return out;
}

grpc::Status WithErrorInfo(grpc::Status status, absl::string_view reason, absl::string_view domain,
                           std::map<std::string, std::string> metadata,
                           int64_t retry_after_seconds) {
  if (status.ok() || !status.error_details().empty()) return status;
  google::rpc::Status details;
  details.set_code(status.error_code());
  details.set_message(ScrubUtf8(status.error_message()));
  google::rpc::ErrorInfo info;
  const std::string_view r(reason.data(), reason.size());
  info.set_reason(IsErrorReason(r) ? std::string(r) : common::CodeName(status.error_code()));
  info.set_domain(std::string(domain));
  for (auto& [key, value] : metadata) {
    // Values may quote a client's input (a path): kept valid UTF-8, as protobuf strings must be.
    if (!value.empty()) (*info.mutable_metadata())[key] = ScrubUtf8(value);
  }
  details.add_details()->PackFrom(info);
  if (retry_after_seconds > 0) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(retry_after_seconds);
    details.add_details()->PackFrom(retry);
  }
  return grpc::Status(status.error_code(), status.error_message(), details.SerializeAsString());
}

grpc::Status GatewayError(grpc::StatusCode code, std::string message, absl::string_view reason,
                          std::map<std::string, std::string> metadata,
                          int64_t retry_after_seconds) {
  return WithErrorInfo(grpc::Status(code, std::move(message)), reason, kGatewayErrorDomain,
                       std::move(metadata), retry_after_seconds);
}

grpc::Status ModuleError(grpc::StatusCode code, absl::string_view text, absl::string_view module_id,
                         absl::string_view method) {
  const ReasonedMessage split = SplitErrorReason(std::string_view(text.data(), text.size()));
  std::string message(split.message);
  if (message.empty()) message = absl::StrCat(method, " failed");
  return WithErrorInfo(grpc::Status(code, std::move(message)),
                       absl::string_view(split.reason.data(), split.reason.size()), module_id,
                       {{"method", std::string(method)}});
}

grpc::Status EnsureErrorInfo(grpc::Status status) {
  return WithErrorInfo(std::move(status), "", kGatewayErrorDomain, {});
}

namespace {

bool ParseDetails(const grpc::Status& status, google::rpc::Status* out) {
  return !status.error_details().empty() && out->ParseFromString(status.error_details());
}

}  // namespace

std::string ErrorReasonOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!ParseDetails(status, &details)) return "";
  for (const google::protobuf::Any& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "";
}

std::string DetailsJson(const grpc::Status& status) {
  google::rpc::Status details;
  if (!ParseDetails(status, &details)) return "[]";
  std::string out = "[";
  bool first = true;
  for (const google::protobuf::Any& any : details.details()) {
    std::string one;
    // Any is printed with its "@type" and the message's fields; a type the gateway does not
    // know (none today) is left out rather than failing the error answer.
    if (!google::protobuf::util::MessageToJsonString(any, &one).ok()) continue;
    absl::StrAppend(&out, first ? "" : ",", one);
    first = false;
  }
  return out + "]";
}

}  // namespace civitas::gateway
