#include "api/capacity_codec.h"

#include <cmath>
#include <string>

#include "api/query_string.h"
#include "capacity/capacity_view.h"
#include "capacity/time_series.h"

namespace fraudguard {
namespace {

constexpr size_t kMaxEchoedName = 32;

bool Fail(RequestError& error, std::string field, std::string message) {
  error.code = "invalid_field";
  error.field = std::move(field);
  error.message = std::move(message);
  return false;
}

}  // namespace

bool DecodeCapacityQuery(std::string_view text,
                         double default_horizon_seconds,
                         CapacityQuery& query,
                         RequestError& error) {
  query.horizon_seconds = default_horizon_seconds;
  if (text.size() > kMaxCapacityQueryLength) {
    return Fail(
        error, "query",
        "the query string is longer than " + std::to_string(kMaxCapacityQueryLength) + " bytes");
  }
  bool horizon_seen = false;
  for (const auto& [name, value] : SplitQuery(text)) {
    if (name != "horizon") {
      const std::string shown(name.substr(0, kMaxEchoedName));
      return Fail(error, shown, "unknown parameter '" + shown + "'; the only one is horizon");
    }
    if (horizon_seen) {
      return Fail(error, "horizon", "horizon is given more than once");
    }
    horizon_seen = true;
    auto seconds = capacity::ParseDurationSeconds(value);
    if (!seconds) {
      return Fail(error, "horizon",
                  "horizon must be a duration such as 48h, 7d or 2w: " + seconds.error());
    }
    if (std::fmod(*seconds, capacity::kViewStepSeconds) != 0) {
      return Fail(error, "horizon", "horizon must be whole hours (the forecast's step)");
    }
    if (*seconds > capacity::kMaxViewHorizonSeconds) {
      return Fail(error, "horizon", "horizon must be at most 30d");
    }
    query.horizon_seconds = *seconds;
  }
  return true;
}

}  // namespace fraudguard
