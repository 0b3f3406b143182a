// Structured logging: one JSON object per line on stderr, one line per meaningful event.
//
//   LogInfo("model_loaded").Field("path", path).Field("trees", 300);
//
// The line is written when the temporary is destroyed. Nothing on the request path logs at info
// level; per-request detail belongs at debug, which is off by default.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/json_writer.h"

namespace fraudguard {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn" or "error"; false when the name is unknown.
bool ParseLogLevel(std::string_view name, LogLevel& level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Sends log lines to `fd` instead of stderr (tests use a pipe or file).
void SetLogFd(int fd);

class LogLine {
public:
  LogLine(LogLevel level, std::string_view event);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  LogLine(LogLine&&) = delete;
  LogLine& operator=(LogLine&&) = delete;

  template <typename T>
  LogLine& Field(std::string_view key, const T& value) {
    if (enabled_) {
      writer_.Field(key, value);
    }
    return *this;
  }

private:
  bool enabled_;
  std::string buffer_;
  JsonWriter writer_;
};

inline LogLine LogDebug(std::string_view event) {
  return {LogLevel::kDebug, event};
}
inline LogLine LogInfo(std::string_view event) {
  return {LogLevel::kInfo, event};
}
inline LogLine LogWarn(std::string_view event) {
  return {LogLevel::kWarn, event};
}
inline LogLine LogError(std::string_view event) {
  return {LogLevel::kError, event};
}

}  // namespace fraudguard
