// The dashboard's capacity view: the request-rate forecast of the server's own SLI store and the
// replica recommendation, as GET /api/v1/capacity answers it. The same forecast and
// recommendation as `fraudguard capacity forecast --sli-store` with its defaults (14 days of
// hourly history), computed at most once per cache period, since the dashboard polls every 5 s
// and the hourly history changes once an hour.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "capacity/recommendation.h"
#include "capacity/time_series.h"
#include "core/clock.h"
#include "core/result.h"

namespace fraudguard {
class SliRecorder;
}

namespace fraudguard::capacity {

inline constexpr double kViewStepSeconds = 3600;
inline constexpr double kViewHistorySeconds = 14 * 86400;
inline constexpr double kDefaultViewHorizonSeconds = 7 * 86400;
inline constexpr double kMaxViewHorizonSeconds = 30 * 86400;
inline constexpr int64_t kDefaultViewCacheMillis = 30000;

struct CapacityViewSettings {
  std::vector<std::string> routes;  // the SLI routes whose requests are forecast
  int current_replicas = 1;
  double target_utilisation = kTargetUtilisation;
  // What one replica sustains; requests_per_second 0 means unknown, and then the view forecasts
  // without a recommendation and gives `replica_unknown_reason`.
  ReplicaCapacity replica;
  std::string replica_unknown_reason;
  int64_t cache_millis = kDefaultViewCacheMillis;
};

// Writes the view for `history` (hourly points ending before `now_ms`) with a forecast of
// `horizon_seconds`. A history shorter than kMinForecastPoints is not an error: the body says
// "insufficient_history" and how many points there are and are needed. Errors are forecast
// failures of any other kind.
Status AppendCapacityViewJson(const TimeSeries& history,
                              double horizon_seconds,
                              const CapacityViewSettings& settings,
                              int64_t now_ms,
                              std::string& out);

struct CapacityAnswer {
  std::shared_ptr<const std::string> body;
  bool computed = false;  // false: served from the cache
};

class CapacityView {
public:
  CapacityView(const SliRecorder& store, CapacityViewSettings settings, const Clock& clock);

  // The view for a horizon of whole hours (1 h to kMaxViewHorizonSeconds), from the cache when
  // it is younger than the cache period. Thread-safe; one computation at a time.
  Result<CapacityAnswer> Answer(double horizon_seconds);

  const CapacityViewSettings& settings() const { return settings_; }

private:
  struct Cached {
    int64_t computed_ms = 0;
    std::shared_ptr<const std::string> body;
  };
  // Few horizons are asked for in practice (the dashboard asks for one); the bound keeps a
  // caller stepping through all 720 from holding them all.
  static constexpr size_t kMaxCachedHorizons = 8;

  const SliRecorder& store_;
  const CapacityViewSettings settings_;
  const Clock& clock_;
  std::mutex mutex_;
  std::map<int64_t, Cached> cache_;  // by horizon in hours
};

}  // namespace fraudguard::capacity
