// A Prometheus rule file from the SLO definitions, for running FraudGuard as a fleet where
// Prometheus, not one process, sees all the traffic.
//
// Per SLO: error-ratio and request-rate recording rules for each burn-rate window and the SLO
// period, burn-rate and remaining-budget recording rules, and four multi-window,
// multi-burn-rate alerts. Each alert fires when the error ratio is above
// factor x (1 - target) over both its long and its short window, with enough traffic:
//
//   alert                 long  short  budget spent in the long window  severity
//   SLOErrorBudgetBurn1h  1h    5m     2 %                              page
//   SLOErrorBudgetBurn6h  6h    30m    5 %                              page
//   SLOErrorBudgetBurn1d  1d    2h     10 %                             ticket
//   SLOErrorBudgetBurn3d  3d    6h     10 %                             ticket
//
// factor = budget spent x period / long window, so a 30 day period gives 14.4, 6, 3 and 1,
// and 7 or 28 day periods get their own. A second group holds the specification's four
// alert rules. Every SLO is alerted on per request, also time-slice ones (Prometheus sees
// requests, not the engine's bad minutes).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "slo/slo_config.h"

namespace fraudguard {

struct BurnRateAlertWindow {
  const char* name;  // alert name suffix, the long window
  int64_t long_minutes;
  int64_t short_minutes;
  double budget_spent;  // share of the period's budget spent over the long window
  const char* severity;
  const char* for_duration;
};

inline constexpr std::array<BurnRateAlertWindow, 4> kBurnRateAlertWindows = {{
    {"1h", 60, 5, 0.02, "page", "2m"},
    {"6h", 360, 30, 0.05, "page", "15m"},
    {"1d", 1440, 120, 0.10, "ticket", "1h"},
    {"3d", 4320, 360, 0.10, "ticket", "3h"},
}};

// The burn-rate factor of `window` for an SLO period of `period_minutes`.
double BurnRateFactor(const BurnRateAlertWindow& window, int64_t period_minutes);

// The rule file (YAML) for every SLO of `config`.
std::string GeneratePrometheusRules(const SloConfig& config);

}  // namespace fraudguard
