// How a module names the reason of a failure, so a client program can act on it without parsing
// the message: the text a module passes to `call_error` may start with the reason in brackets,
// UPPER_SNAKE_CASE, and one space:
//
//   "[ETAG_MISMATCH] etag 'W/\"3\"' is stale: the article changed since it was read"
//
// The gateway takes the reason out of the message and sends it as google.rpc.ErrorInfo.reason in
// the call's status details (gRPC `grpc-status-details-bin`, and `details` in the HTTP JSON error),
// with the module's id as the domain; the client sees the message without the prefix. This needs
// no new ABI entry: a module built for any 1.x minor may use it, and a message without the prefix
// is sent as it is (its reason is then the status code's name). The SDK writes the prefix for a
// `Status` that carries a reason (`Status::WithReason`, module.h).
#ifndef CIVITAS_ERROR_REASON_H_
#define CIVITAS_ERROR_REASON_H_

#include <string>
#include <string_view>

namespace civitas {

// google.rpc.ErrorInfo's rule for a reason: [A-Z][A-Z0-9_]+[A-Z0-9], at most 63 characters.
inline bool IsErrorReason(std::string_view reason) {
  if (reason.size() < 2 || reason.size() > 63) return false;
  if (reason.front() < 'A' || reason.front() > 'Z' || reason.back() == '_') return false;
  for (char c : reason) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

struct ReasonedMessage {
  std::string_view reason;   // empty: the text names none
  std::string_view message;  // the text without the prefix
};

// "[REASON] message" -> {REASON, message}; anything else -> {"", text}.
inline ReasonedMessage SplitErrorReason(std::string_view text) {
  if (text.size() < 4 || text.front() != '[') return {{}, text};
  const size_t close = text.find(']');
  if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ' ') {
    return {{}, text};
  }
  const std::string_view reason = text.substr(1, close - 1);
  if (!IsErrorReason(reason)) return {{}, text};
  return {reason, text.substr(close + 2)};
}

// The text for call_error: "[REASON] message", or the message alone for an empty reason.
inline std::string WithErrorReason(std::string_view reason, std::string_view message) {
  if (reason.empty()) return std::string(message);
  std::string out;
  out.reserve(reason.size() + message.size() + 3);
  out.append("[").append(reason).append("] ").append(message);
  return out;
}

}  // namespace civitas

#endif  // CIVITAS_ERROR_REASON_H_
