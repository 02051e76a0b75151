#include "services/gateway/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace civitas::gateway {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};

void AppendEscaped(std::string_view s, std::string* out) {
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out->append(buf);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetLogLevel(LogLevel level) { g_min_level = static_cast<int>(level); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

namespace {

void WriteLine(const char* level, std::string_view message,
               std::initializer_list<LogField> fields) {
  std::string line = "{\"ts\":\"";
  line += absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  line += "\",\"level\":\"";
  line += level;
  line += "\",\"msg\":\"";
  AppendEscaped(message, &line);
  line += '"';
  for (const auto& [key, value] : fields) {
    line += ",\"";
    AppendEscaped(key, &line);
    line += "\":\"";
    AppendEscaped(value, &line);
    line += '"';
  }
  line += "}\n";
  fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  WriteLine(LevelName(level), message, fields);
}

void LogAudit(std::string_view message, std::initializer_list<LogField> fields) {
  WriteLine("audit", message, fields);
}

}  // namespace civitas::gateway
