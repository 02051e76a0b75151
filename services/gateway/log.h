// Structured log lines (one JSON object per line on stderr), the operator's first tool at 3 a.m.
#ifndef CIVITAS_GATEWAY_LOG_H_
#define CIVITAS_GATEWAY_LOG_H_

#include <initializer_list>
#include <string_view>
#include <utility>

namespace civitas::gateway {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

using LogField = std::pair<std::string_view, std::string_view>;

// Lines below `level` are dropped. Set once at start.
void SetLogLevel(LogLevel level);
// False if lines of `level` are dropped (skip building them).
bool LogEnabled(LogLevel level);
void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
// An audit line ("level":"audit"): written whatever the log level, for who-did-what records.
void LogAudit(std::string_view message, std::initializer_list<LogField> fields);

}  // namespace civitas::gateway

#endif  // CIVITAS_GATEWAY_LOG_H_
