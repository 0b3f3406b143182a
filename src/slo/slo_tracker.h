// Ties the SLO definitions to the SLI recorder: computes the current reports and publishes the
// budget and burn-rate gauges on /metrics. Used by `serve` (with the live recorder) and by the
// `fraudguard slo` commands reading a data directory (with a read-only recorder).
#pragma once

#include <climits>
#include <memory>
#include <mutex>
#include <vector>

#include "core/clock.h"
#include "slo/error_budget.h"
#include "slo/sli_recorder.h"
#include "slo/slo_config.h"
#include "telemetry/metrics.h"

namespace fraudguard {

class SloTracker {
public:
  SloTracker(SloConfig config, SliRecorder& recorder, const Clock& clock);

  // Flushes the recorder and computes every SLO at the clock's current minute. Thread-safe.
  Result<std::vector<SloReport>> Reports();
  const SloConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }

  // Registers slo_error_budget_remaining_ratio{slo}, slo_burn_rate{slo,window} and friends,
  // refreshed on every rendering.
  void RegisterMetrics(MetricsRegistry& metrics);

private:
  const SloConfig config_;
  SliRecorder& recorder_;
  const Clock& clock_;
  int64_t longest_window_minutes_ = 0;
  std::mutex mutex_;  // one computation at a time; guards what follows
  bool read_failing_ = false;
  // Per-minute counts of each SLO over the longest window, so that a report reads only the
  // minutes written since the last one instead of the whole window.
  std::vector<SloMinutes> minutes_;            // indexed like config_.slos
  int64_t loaded_through_minute_ = INT64_MIN;  // minutes after it are not in minutes_ yet
};

}  // namespace fraudguard
