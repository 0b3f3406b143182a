// What a canary is judged on, read from YAML (config/canary.yaml holds the defaults, which are
// also built in): the statistical judge's settings, each compared metric, the weighted groups,
// and the rollout phases with their absolute success criteria. Errors name the key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace fraudguard::rollout {

// The measurements the collector takes in every interval, from each server.
enum class CanaryMetric : uint8_t {
  kErrorRate,   // share of scoring requests without a valid decision
  kLatencyP50,  // milliseconds, measured by the client
  kLatencyP95,
  kLatencyP99,
  kFlaggedRate,  // share of decisions that are review or decline
};
inline constexpr size_t kCanaryMetricCount = 5;
std::string_view CanaryMetricName(CanaryMetric metric);

// Which way a change counts as a failure.
enum class Direction : uint8_t { kIncrease, kDecrease, kEither };

struct MetricCriterion {
  CanaryMetric metric = CanaryMetric::kErrorRate;
  std::string group;
  Direction direction = Direction::kIncrease;
  // Effect-size bounds on the mean ratio canary/baseline: a significant increase fails only when
  // the ratio is at least allowed_increase, a decrease only when at most allowed_decrease.
  double allowed_increase = 1.0;
  double allowed_decrease = 1.0;
  // Smallest difference of the means, in the metric's own unit, that can fail: below it a
  // change does not matter however significant (sub-millisecond jitter on a busy machine).
  double min_change = 0.0;
  bool critical = false;  // failing this metric fails the whole canary
};

struct CanaryPhase {
  int traffic_percent = 0;
  int64_t duration_ms = 0;  // 0: "stable", the final phase, nothing left to analyse
  // Absolute criteria on the canary's own figures over the phase.
  double max_error_rate = 0.01;
  double max_p95_ms = 100;
};

struct CanaryConfig {
  double confidence = 0.98;
  double pass_score = 95;
  double marginal_score = 75;
  std::vector<std::pair<std::string, double>> group_weights;  // sum to 100
  std::vector<MetricCriterion> metrics;
  std::vector<CanaryPhase> phases;
};

// The specification's defaults: 5 % for 10 minutes, 25 % for 20 minutes, then 100 %; error rate
// below 1 % and p95 below 100 ms; the same as config/canary.yaml.
CanaryConfig DefaultCanaryConfig();
Result<CanaryConfig> ParseCanaryConfig(const std::string& yaml);
Result<CanaryConfig> LoadCanaryConfigFile(const std::string& path);

// "500ms", "30s", "10m", "10 minutes", "2h"; an error names what is wrong.
Result<int64_t> ParseDurationMillis(std::string_view text);

}  // namespace fraudguard::rollout
