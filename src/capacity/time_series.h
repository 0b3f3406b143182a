// Time series input for capacity planning: a CSV of `timestamp,value` rows or the matrix a
// Prometheus `query_range` call returns. Both give the same TimeSeries, in time order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace fraudguard::capacity {

// Fewer points than this cannot support a trend and an interval worth acting on.
inline constexpr size_t kMinForecastPoints = 30;
// Bounds on what is read, so a wrong file or query cannot exhaust memory.
inline constexpr size_t kMaxSeriesPoints = 200000;
inline constexpr size_t kMaxSeriesBytes = 32u << 20;

struct TimeSeries {
  std::vector<double> timestamps;  // Unix seconds, strictly increasing
  std::vector<double> values;

  size_t size() const { return values.size(); }
  // The median spacing between points, in seconds; 0 with fewer than two points.
  double StepSeconds() const;
  // True when every spacing equals the median one (within 1 %): no gaps, no jitter.
  bool IsRegular() const;
};

// Parses `timestamp,value` lines. Timestamps are Unix seconds or ISO 8601 UTC
// ("2026-01-05T09:00:00Z"); an optional first line `timestamp,value` is a header. Errors name the
// line: "line 7: value 'abc' is not a number".
Result<TimeSeries> ParseCsvSeries(std::string_view text);
Result<TimeSeries> LoadCsvSeries(const std::string& path);

// Parses a Prometheus HTTP API response to `query_range`. The query must yield exactly one
// series; NaN and infinite samples (from 0/0 rates) are skipped and counted in `skipped`.
Result<TimeSeries> ParsePrometheusRange(std::string_view json, size_t* skipped = nullptr);

struct PrometheusRangeQuery {
  std::string url;    // http://127.0.0.1:9090
  std::string query;  // PromQL, e.g. sum(rate(fraudguard_requests_total[5m]))
  double start = 0;   // Unix seconds
  double end = 0;
  double step_seconds = 3600;
};
// Calls GET /api/v1/query_range on a Prometheus on the loopback interface.
Result<TimeSeries> FetchPrometheusRange(const PrometheusRangeQuery& request);

// Refuses a series too short to forecast, saying how many points it has and needs.
Status RequireForecastable(const TimeSeries& series);

// Parses a duration such as "90d", "24h", "30m", "3600s" or "2w" into seconds.
Result<double> ParseDurationSeconds(std::string_view text);

// Formats Unix seconds as ISO 8601 UTC, "2026-01-05T09:00:00Z".
std::string FormatTimestamp(double unix_seconds);

}  // namespace fraudguard::capacity
