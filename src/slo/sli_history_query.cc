#include "slo/sli_history_query.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace fraudguard {
namespace {

constexpr int64_t kMillisPerMinute = 60'000;
constexpr int64_t kMinutesPerHour = 60;

// 60 one-minute points, 96 of 15 minutes, 168 of an hour.
constexpr std::array<HistoryRangeSpec, 3> kRanges = {{
    {HistoryRange::kHour, "1h", 1, 60},
    {HistoryRange::kDay, "24h", 15, 96},
    {HistoryRange::kWeek, "7d", 60, 168},
}};

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Counts of one step while rows are added; doubles because hourly rows are spread.
struct StepCounts {
  double requests = 0;
  double bad = 0;
  std::vector<double> buckets;
  bool from_hourly_rows = false;

  void Add(const SliCounts& counts, double weight) {
    requests += static_cast<double>(counts.total) * weight;
    bad += static_cast<double>(counts.bad) * weight;
    for (size_t i = 0; i < counts.buckets.size() && i < buckets.size(); ++i) {
      buckets[i] += static_cast<double>(counts.buckets[i]) * weight;
    }
  }
};

HistoryPoint Finish(const StepCounts& counts,
                    int64_t start_minute,
                    double seconds,
                    const std::vector<double>& bounds) {
  HistoryPoint point;
  point.start_minute = start_minute;
  point.seconds = seconds;
  point.requests = counts.requests;
  point.bad = counts.bad;
  point.requests_per_second = seconds > 0 ? counts.requests / seconds : 0;
  point.error_ratio =
      counts.requests > 0 ? counts.bad / counts.requests : std::numeric_limits<double>::quiet_NaN();
  point.p50_seconds = QuantileFromBuckets(counts.buckets, bounds, 0.50);
  point.p95_seconds = QuantileFromBuckets(counts.buckets, bounds, 0.95);
  point.p99_seconds = QuantileFromBuckets(counts.buckets, bounds, 0.99);
  point.from_hourly_rows = counts.from_hourly_rows;
  return point;
}

}  // namespace

const HistoryRangeSpec& HistoryRangeSpecOf(HistoryRange range) {
  return kRanges[static_cast<size_t>(range)];
}

bool ParseHistoryRange(std::string_view text, HistoryRange& range) {
  for (const HistoryRangeSpec& spec : kRanges) {
    if (text == spec.name) {
      range = spec.range;
      return true;
    }
  }
  return false;
}

std::string_view HistoryRouteGroupName(HistoryRouteGroup group) {
  switch (group) {
    case HistoryRouteGroup::kScoring:
      return "scoring";
    case HistoryRouteGroup::kDashboard:
      return "dashboard";
    case HistoryRouteGroup::kAll:
      return "all";
  }
  return "all";
}

bool ParseHistoryRouteGroup(std::string_view text, HistoryRouteGroup& group) {
  for (const HistoryRouteGroup candidate :
       {HistoryRouteGroup::kScoring, HistoryRouteGroup::kDashboard, HistoryRouteGroup::kAll}) {
    if (text == HistoryRouteGroupName(candidate)) {
      group = candidate;
      return true;
    }
  }
  return false;
}

std::vector<std::string> HistoryRoutes(HistoryRouteGroup group, const SloConfig& config) {
  if (group == HistoryRouteGroup::kAll) {
    return {};
  }
  const std::string_view section =
      group == HistoryRouteGroup::kScoring ? "fraud_detection_api_slos" : "dashboard_slos";
  const auto routes_of = [&](const SloConfig& slos) {
    std::vector<std::string> routes;
    for (const SloDefinition& slo : slos.slos) {
      if (slo.section != section) {
        continue;
      }
      for (const std::string& route : slo.routes) {
        if (std::find(routes.begin(), routes.end(), route) == routes.end()) {
          routes.push_back(route);
        }
      }
    }
    return routes;
  };
  std::vector<std::string> routes = routes_of(config);
  return routes.empty() ? routes_of(DefaultSloConfig()) : routes;
}

double QuantileFromBuckets(const std::vector<double>& buckets,
                           const std::vector<double>& bounds,
                           double quantile) {
  double total = 0;
  for (const double count : buckets) {
    total += count;
  }
  if (!(total > 0) || bounds.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double rank = quantile * total;
  double below = 0;  // requests in the buckets before this one
  for (size_t i = 0; i < buckets.size(); ++i) {
    const double through = below + buckets[i];
    if (through >= rank && buckets[i] > 0) {
      if (i >= bounds.size()) {
        return bounds.back();  // the +Inf bucket has no upper edge to interpolate to
      }
      const double lower = i == 0 ? 0.0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - below) / buckets[i]);
    }
    below = through;
  }
  return bounds.back();
}

Result<History> QuerySliHistory(const SliRecorder& recorder,
                                HistoryRange range,
                                const std::vector<std::string>& routes,
                                int64_t now_ms) {
  const HistoryRangeSpec& spec = HistoryRangeSpecOf(range);
  const int64_t step = spec.step_minutes;
  const int64_t now_minute = FloorDiv(now_ms, kMillisPerMinute);
  const int64_t last_start = FloorDiv(now_minute, step) * step;
  const int64_t from_minute = last_start - (spec.points - 1) * step;
  const int64_t to_minute = last_start + step;  // exclusive; minutes after now hold nothing yet

  auto minutes = recorder.ReadMinutes(from_minute, to_minute, routes);
  if (!minutes) {
    return Error{minutes.error()};
  }
  // An hour that starts up to 59 minutes before the range still overlaps it.
  auto hours = recorder.ReadHours(from_minute - (kMinutesPerHour - 1), to_minute, routes);
  if (!hours) {
    return Error{hours.error()};
  }

  const std::vector<double>& bounds = recorder.bounds();
  std::vector<StepCounts> steps(static_cast<size_t>(spec.points));
  for (StepCounts& counts : steps) {
    counts.buckets.assign(bounds.size() + 1, 0.0);
  }
  for (const SliRow& row : *minutes) {
    steps[static_cast<size_t>((row.minute - from_minute) / step)].Add(row.counts, 1.0);
  }
  for (const SliRow& row : *hours) {
    // Each step gets the share of the hour it overlaps (the part before the range is left out).
    const int64_t hour_end = row.minute + kMinutesPerHour;
    for (int64_t start = std::max(row.minute, from_minute);
         start < std::min(hour_end, to_minute);) {
      const int64_t index = (start - from_minute) / step;
      const int64_t end = std::min(hour_end, from_minute + (index + 1) * step);
      StepCounts& counts = steps[static_cast<size_t>(index)];
      counts.Add(row.counts, static_cast<double>(end - start) / kMinutesPerHour);
      counts.from_hourly_rows = true;
      start = end;
    }
  }

  History history;
  history.range = range;
  history.step_minutes = step;
  history.from_minute = from_minute;
  history.now_ms = now_ms;
  StepCounts total;
  total.buckets.assign(bounds.size() + 1, 0.0);
  double total_seconds = 0;
  const double step_seconds = static_cast<double>(step * 60);
  for (size_t i = 0; i < steps.size(); ++i) {
    const int64_t start_minute = from_minute + static_cast<int64_t>(i) * step;
    double seconds = step_seconds;
    if (i + 1 == steps.size()) {
      // The step in progress: its rate is over the time elapsed so far (at least a second).
      const double elapsed = static_cast<double>(now_ms - start_minute * kMillisPerMinute) / 1000;
      seconds = std::clamp(elapsed, 1.0, step_seconds);
    }
    history.points.push_back(Finish(steps[i], start_minute, seconds, bounds));
    total.requests += steps[i].requests;
    total.bad += steps[i].bad;
    for (size_t b = 0; b < total.buckets.size(); ++b) {
      total.buckets[b] += steps[i].buckets[b];
    }
    total.from_hourly_rows = total.from_hourly_rows || steps[i].from_hourly_rows;
    total_seconds += seconds;
  }
  history.total = Finish(total, from_minute, total_seconds, bounds);
  return history;
}

}  // namespace fraudguard
