#include "core/calendar_day.h"

#include <cstdio>
#include <ctime>

namespace fraudguard {

int64_t DayOf(int64_t epoch_ms) {
  // Floor division: days before 1970 stay on their own date.
  return epoch_ms >= 0 ? epoch_ms / kMillisPerDay
                       : -((-epoch_ms + kMillisPerDay - 1) / kMillisPerDay);
}

std::string FormatDay(int64_t day) {
  const std::time_t seconds = day * 86400;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", &parts);
  return buffer;
}

// "YYYY-MM-DD" as whole days since the Unix epoch; the date must exist.
Result<int64_t> ParseDay(std::string_view flag, const std::string& text) {
  const Error error{std::string(flag) + ": expected a date YYYY-MM-DD, got '" + text + "'"};
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
    return error;
  }
  int year = 0;
  int month = 0;
  int day = 0;
  for (const size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') {
      return error;
    }
  }
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d", &year, &month, &day) != 3) {
    return error;
  }
  std::tm parts{};
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  parts.tm_mday = day;
  const std::time_t seconds = timegm(&parts);
  // timegm normalises 2018-02-30 to March; a round trip catches dates that do not exist.
  if (FormatDay(seconds / 86400) != text) {
    return error;
  }
  return static_cast<int64_t>(seconds / 86400);
}

}  // namespace fraudguard
