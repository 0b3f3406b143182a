// Service level objectives and the error budget policy, read from YAML in the shape of the
// operations specification (fraud_detection_api_slos, dashboard_slos) plus FraudGuard's own
// keys for how each SLO is measured. Every problem is refused with a message naming the key.
//
// One YAML section gives several SLOs: the fraud API's availability and one latency SLO per
// percentile (p50, p95, p99), the dashboard's availability and query latency.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace fraudguard {

enum class SliKind : uint8_t {
  kAvailability,  // a request is good when its status is not 5xx
  kLatency,       // a request is good when it was answered within the threshold
};

// How the budget is counted.
enum class Budgeting : uint8_t {
  kRequests,    // good requests over all requests in the window
  kTimeSlices,  // good minutes over all minutes; a minute is bad when it misses the target
};

struct SloDefinition {
  std::string name;     // e.g. fraud_api_availability
  std::string section;  // the YAML section it came from, e.g. fraud_detection_api_slos
  SliKind kind = SliKind::kAvailability;
  Budgeting budgeting = Budgeting::kRequests;
  double target = 0.999;  // ratio of good events (or minutes), in (0, 1)
  int64_t window_minutes = 30 * 24 * 60;
  double latency_threshold_seconds = 0;  // latency SLOs only; one of the histogram bounds
  // Time slices only: a minute is bad when its good ratio is below this.
  double time_slice_target = 0.999;
  std::vector<std::string> routes;  // route labels whose requests count

  double allowed_error_ratio() const { return 1.0 - target; }
};

enum class BudgetStatus : uint8_t { kHealthy, kWarning, kCritical, kExhausted };
inline constexpr size_t kBudgetStatusCount = 4;
std::string_view BudgetStatusName(BudgetStatus status);

// One row of the error budget policy table.
struct PolicyLevel {
  BudgetStatus status = BudgetStatus::kHealthy;
  // The level applies while utilisation is below this percent; EXHAUSTED has no upper bound.
  double below_percent = 0;
  bool halt_deployments = false;
  std::string actions;
};

struct ErrorBudgetPolicy {
  std::array<PolicyLevel, kBudgetStatusCount> levels;  // indexed by BudgetStatus
  // HEALTHY < 50 %, WARNING 50-80 %, CRITICAL 80-100 %, EXHAUSTED from 100 %.
  static ErrorBudgetPolicy Defaults();
  BudgetStatus StatusFor(double utilisation_percent) const;
  const PolicyLevel& Level(BudgetStatus status) const {
    return levels[static_cast<size_t>(status)];
  }
};

struct SliStorageConfig {
  // Minute rows are kept this long, then rolled up into hourly rows. At least the longest
  // SLO window, so that every budget is computed from minute detail.
  int64_t minute_retention_days = 35;
  // Hourly rows older than this are deleted (with a log line saying how many).
  int64_t hourly_retention_days = 400;
};

// Settings for the Prometheus rule file.
struct PrometheusRulesConfig {
  std::string job = "fraud-api";
  // Burn-rate alerts need at least this many requests per second over the long window, so that
  // a handful of failures on a quiet service does not page.
  double min_requests_per_second = 0.1;
};

struct SloConfig {
  std::vector<SloDefinition> slos;
  ErrorBudgetPolicy policy = ErrorBudgetPolicy::Defaults();
  SliStorageConfig storage;
  PrometheusRulesConfig prometheus;

  const SloDefinition* Find(std::string_view name) const;
};

// Parses YAML text. `known_routes` lists the route labels the service has; routes named in the
// file must be among them (empty: not checked). `source` names the text in errors.
Result<SloConfig> ParseSloConfig(const std::string& yaml_text,
                                 const std::vector<std::string>& known_routes,
                                 const std::string& source = "slo config");
Result<SloConfig> LoadSloConfigFile(const std::string& path,
                                    const std::vector<std::string>& known_routes);
// The built-in definitions: the specification's numbers, the same as config/slo.yaml.
SloConfig DefaultSloConfig();
const std::string& DefaultSloConfigYaml();

// Parses "30 days", "7d", "6h", "90m" into minutes; false when malformed.
bool ParseWindowMinutes(std::string_view text, int64_t& minutes);
// Parses "99.99%" (or a bare number, taken as a percent) into a ratio; false when malformed.
bool ParsePercent(std::string_view text, double& ratio);
// Parses "10ms", "0.5s", "<500ms" into seconds; false when malformed.
bool ParseDurationSeconds(std::string_view text, double& seconds);
// "30d", "6h", "5m": the shortest text for a whole number of minutes (Prometheus style).
std::string FormatWindow(int64_t minutes);

}  // namespace fraudguard
