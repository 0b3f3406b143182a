// The canary's measurements read from Prometheus instead of probed: for each metric a range
// query over the analysis window, one value per interval, for the baseline's and the canary's
// series (told apart by label selectors). This judges the real traffic both deployments served.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "rollout/canary_judge.h"

namespace fraudguard::rollout {

struct PrometheusOptions {
  std::string url;                // http://host:port of Prometheus
  std::string baseline_selector;  // PromQL label matchers, e.g. instance="10.0.0.7:8080"
  std::string canary_selector;
  int64_t end_ms = 0;  // the window ends here (Unix epoch milliseconds)
  int64_t window_ms = 600'000;
  int64_t interval_ms = 30'000;  // the query step and the rate() range
  int64_t timeout_ms = 5000;
};

// The PromQL of `metric` for the series matching `selector`, as a rate over `range_ms`.
std::string MetricQuery(CanaryMetric metric, std::string_view selector, int64_t range_ms);

// Checks a selector: at most 512 characters, no braces (they are added around it).
Status CheckSelector(std::string_view flag, std::string_view selector);

// Fills both samples; an error when Prometheus cannot be reached or answers an error.
Status CollectFromPrometheus(const PrometheusOptions& options,
                             MetricSamples& baseline,
                             MetricSamples& canary);

}  // namespace fraudguard::rollout
