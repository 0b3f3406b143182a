// Calendar days in UTC as whole days since the Unix epoch: how the offline commands (train,
// eval) take their period boundaries and report them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace fraudguard {

inline constexpr int64_t kMillisPerDay = 24LL * 3600 * 1000;

// The day an instant falls on; floor division, so instants before 1970 keep their own date.
int64_t DayOf(int64_t epoch_ms);
// "YYYY-MM-DD".
std::string FormatDay(int64_t day);
// "YYYY-MM-DD" as a day; the date must exist. Errors name `flag` and the text.
Result<int64_t> ParseDay(std::string_view flag, const std::string& text);

}  // namespace fraudguard
