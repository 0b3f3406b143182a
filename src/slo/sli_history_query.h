// Time series over the SLI store for the dashboard's charts: requests per second, the share of
// bad (5xx) requests and latency percentiles, per step over the last hour, day or week.
//
// The range ends with the step in progress (the current minute is read as far as the recorder
// has flushed it). Minute rows give the detail; where the store has already rolled minutes up
// into hourly rows (older than the minute retention), an hourly row is spread evenly over the
// steps it overlaps, so totals stay right and the point says it came from hourly rows.
// Percentiles come from the stored latency histogram buckets, interpolated inside the bucket
// that holds them the way Prometheus' histogram_quantile does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "slo/sli_recorder.h"
#include "slo/slo_config.h"

namespace fraudguard {

enum class HistoryRange : uint8_t { kHour, kDay, kWeek };

// What a range covers and at which step: few enough points for a chart (at most 168).
struct HistoryRangeSpec {
  HistoryRange range;
  std::string_view name;  // "1h", "24h", "7d": the query parameter and the JSON value
  int64_t step_minutes;
  int64_t points;
};
const HistoryRangeSpec& HistoryRangeSpecOf(HistoryRange range);
// "1h", "24h" or "7d"; false for anything else.
bool ParseHistoryRange(std::string_view text, HistoryRange& range);

// Which routes a series adds up: the scoring routes, the dashboard's read routes (both as the
// SLO definitions name them), or every route in the store.
enum class HistoryRouteGroup : uint8_t { kScoring, kDashboard, kAll };
std::string_view HistoryRouteGroupName(HistoryRouteGroup group);
// "scoring", "dashboard" or "all"; false for anything else.
bool ParseHistoryRouteGroup(std::string_view text, HistoryRouteGroup& group);
// The route labels of a group: the routes of the SLOs of its section of `config`
// (fraud_detection_api_slos, dashboard_slos), or those of the built-in definitions when the
// section has none. Empty for kAll, which takes every route.
std::vector<std::string> HistoryRoutes(HistoryRouteGroup group, const SloConfig& config);

struct HistoryPoint {
  int64_t start_minute = 0;  // minutes since the Unix epoch
  double seconds = 0;        // time covered: the step, or the elapsed part of the last one
  double requests = 0;       // whole numbers unless spread from an hourly row
  double bad = 0;
  double requests_per_second = 0;
  // NaN when the step holds no requests (JSON null): no traffic is not a zero-latency step.
  double error_ratio = 0;
  double p50_seconds = 0;
  double p95_seconds = 0;
  double p99_seconds = 0;
  bool from_hourly_rows = false;  // part of the step was estimated from hourly rows
};

struct History {
  HistoryRange range = HistoryRange::kHour;
  int64_t step_minutes = 1;
  int64_t from_minute = 0;  // the first step's start
  int64_t now_ms = 0;
  std::vector<HistoryPoint> points;  // oldest first, every step present (gaps hold 0 requests)
  HistoryPoint total;                // the whole range as one point
};

// Reads the store and builds the series ending at `now_ms`. `routes` empty: every route.
Result<History> QuerySliHistory(const SliRecorder& recorder,
                                HistoryRange range,
                                const std::vector<std::string>& routes,
                                int64_t now_ms);

// The `quantile` (0..1) of requests counted in non-cumulative `buckets` (one per bound of
// `bounds` and a last one for +Inf): linear inside the bucket that holds it, 0 as the first
// bucket's lower edge, and the highest finite bound when it falls in the +Inf bucket. NaN when
// the buckets hold no requests.
double QuantileFromBuckets(const std::vector<double>& buckets,
                           const std::vector<double>& bounds,
                           double quantile);

}  // namespace fraudguard
