// Alert rules over FraudGuard's own measurements, in the shape of Prometheus alerting rules:
// a name, a condition, `for`, labels and annotations with templated values.
//
// A condition is one or more comparisons joined by `and`:
//   error_ratio(5m) > 0.05
//   successful_requests(1m) == 0 and requests(1m) > 0
// Measurements (W is a window of whole minutes, written 1m, 5m, 2h; at most 3 days; it covers
// the W whole minutes before the current one and the current one so far, as the SLI recorder
// counts by minute):
//   requests(W)              answered requests of the scoring routes in the last W
//   successful_requests(W)   of those, the ones not answered 5xx
//   error_ratio(W)           5xx / requests (no data without requests)
//   availability(W)          1 - error_ratio(W)
//   latency_p50(W), latency_p95(W), latency_p99(W)
//                            the quantile in seconds, interpolated inside the latency bucket
//                            like Prometheus' histogram_quantile (no data without requests)
//   model_accuracy           online accuracy from feedback labels (no data without labels)
//   connection_usage         open client connections / the server's max_connections
//   model_drift              the active model's drift: PSI of its risk score over the drift
//                            window (no data while the window holds too few transactions)
//   burn_rate(SLO, W)        the SLO's error budget burn rate over W, W one of 5m 30m 1h 2h 6h
//                            1d 3d
// The "scoring routes" are /api/v1/fraud/analyze and /api/v1/fraud/analyze/batch. A comparison
// with no data is false. Annotation templates: {{ $value }}, {{ $value | humanize }},
// {{ $value | humanizePercentage }} (the first comparison's value) and {{ $labels.NAME }}.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"
#include "incidents/incident.h"
#include "slo/slo_config.h"

namespace fraudguard {

enum class Measurement : uint8_t {
  kRequests,
  kSuccessfulRequests,
  kErrorRatio,
  kAvailability,
  kLatencyP50,
  kLatencyP95,
  kLatencyP99,
  kModelAccuracy,
  kConnectionUsage,
  kModelDrift,
  kBurnRate,
};
enum class CompareOp : uint8_t { kGreater, kGreaterEqual, kLess, kLessEqual, kEqual, kNotEqual };

struct Comparison {
  Measurement measurement = Measurement::kErrorRatio;
  std::string slo;             // burn_rate only
  int64_t window_minutes = 0;  // 0 for measurements without a window
  CompareOp op = CompareOp::kGreater;
  double threshold = 0;
  bool Holds(double value) const;  // false for NaN (no data)
};

struct AlertRule {
  std::string name;
  std::string condition;  // as written
  std::vector<Comparison> comparisons;
  int64_t for_ms = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;  // templates
};

struct AlertRulesConfig {
  int64_t evaluation_interval_ms = 15'000;
  // Adds a page (1h and 5m windows, 2 % of the budget) and a ticket (6h and 30m, 5 %) burn-rate
  // alert for every SLO, with factors derived from each SLO's window as in the SRE workbook.
  bool slo_burn_rate_alerts = true;
  std::vector<AlertRule> rules;
};

inline constexpr size_t kMaxAlertRules = 128;
inline constexpr int64_t kMaxRuleWindowMinutes = 3 * 24 * 60;

// Parses "error_ratio(5m) > 0.05 and requests(5m) > 10"; errors say what is wrong.
Result<std::vector<Comparison>> ParseCondition(const std::string& text);
Result<AlertRulesConfig> ParseAlertRules(const std::string& yaml, const std::string& source);
Result<AlertRulesConfig> LoadAlertRulesFile(const std::string& path);
// The specification's four rules and the fraud API outage playbook's three triggers.
AlertRulesConfig DefaultAlertRules();
const char* DefaultAlertRulesYaml();
// The burn-rate rules for `slos` (see slo_burn_rate_alerts).
std::vector<AlertRule> BurnRateRules(const std::vector<SloDefinition>& slos);

// Renders an annotation template.
std::string RenderTemplate(const std::string& text,
                           double value,
                           const std::map<std::string, std::string>& labels);

}  // namespace fraudguard
