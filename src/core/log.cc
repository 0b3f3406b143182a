#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

namespace fraudguard {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_log_fd{STDERR_FILENO};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// RFC 3339 UTC timestamp with milliseconds.
std::string NowRfc3339() {
  const auto now = std::chrono::system_clock::now();
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = millis / 1000;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[40];
  const size_t length = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &parts);
  std::string text(buffer, length);
  char fraction[8];
  std::snprintf(fraction, sizeof(fraction), ".%03dZ", static_cast<int>(millis % 1000));
  text += fraction;
  return text;
}

}  // namespace

bool ParseLogLevel(std::string_view name, LogLevel& level) {
  if (name == "debug") {
    level = LogLevel::kDebug;
  } else if (name == "info") {
    level = LogLevel::kInfo;
  } else if (name == "warn") {
    level = LogLevel::kWarn;
  } else if (name == "error") {
    level = LogLevel::kError;
  } else {
    return false;
  }
  return true;
}

void SetLogLevel(LogLevel level) {
  g_min_level.store(static_cast<int>(level));
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void SetLogFd(int fd) {
  g_log_fd.store(fd);
}

LogLine::LogLine(LogLevel level, std::string_view event)
    : enabled_(LogEnabled(level)), writer_(buffer_) {
  if (enabled_) {
    writer_.BeginObject()
        .Field("ts", NowRfc3339())
        .Field("level", LevelName(level))
        .Field("event", event);
  }
}

LogLine::~LogLine() {
  if (!enabled_) {
    return;
  }
  writer_.EndObject();
  buffer_.push_back('\n');
  // One write() per line keeps lines from different threads whole (lines are far below PIPE_BUF
  // in practice, and regular files opened with O_APPEND are atomic per write).
  const ssize_t written = ::write(g_log_fd.load(), buffer_.data(), buffer_.size());
  (void)written;
}

}  // namespace fraudguard
