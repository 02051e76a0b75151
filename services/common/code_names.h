// Canonical names of gRPC status codes, for logs, metrics and civitasctl's messages.
#ifndef CIVITAS_COMMON_CODE_NAMES_H_
#define CIVITAS_COMMON_CODE_NAMES_H_

namespace civitas::common {

// "NOT_FOUND" for 5; "UNKNOWN" for anything outside 0..16.
inline const char* CodeName(int code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  return code >= 0 && code <= 16 ? kNames[code] : "UNKNOWN";
}

}  // namespace civitas::common

#endif  // CIVITAS_COMMON_CODE_NAMES_H_
