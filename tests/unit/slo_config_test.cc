#include "slo/slo_config.h"

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

const std::vector<std::string> kRoutes = {"/api/v1/fraud/analyze",
                                          "/api/v1/fraud/analyze/batch",
                                          "/api/v1/fraud/decisions/{transaction_id}",
                                          "/api/v1/features/{entity}/{id}",
                                          "/api/v1/health",
                                          "/api/v1/slo",
                                          "/api/v1/slo/{name}",
                                          "/api/v1/capacity",
                                          "/api/v1/history",
                                          "/dashboard"};

// The error of parsing `yaml`, which must fail.
std::string ErrorOf(const std::string& yaml) {
  auto config = ParseSloConfig(yaml, kRoutes, "test");
  EXPECT_FALSE(config) << yaml;
  return config ? std::string() : config.error();
}

constexpr const char* kMinimal =
    "fraud_detection_api_slos:\n"
    "  routes: [\"/api/v1/fraud/analyze\"]\n"
    "  availability:\n"
    "    target: 99.9%\n"
    "    measurement_window: \"7 days\"\n";

TEST(SloConfig, DefaultsCarryTheSpecificationsNumbers) {
  const SloConfig config = DefaultSloConfig();
  const SloDefinition* availability = config.Find("fraud_api_availability");
  ASSERT_NE(availability, nullptr);
  EXPECT_DOUBLE_EQ(availability->target, 0.9999);
  EXPECT_EQ(availability->window_minutes, 30 * 24 * 60);
  EXPECT_EQ(availability->budgeting, Budgeting::kTimeSlices);
  // 99.99 % of 30 days leaves 4.32 minutes.
  EXPECT_NEAR(availability->allowed_error_ratio() * 43200, 4.32, 1e-9);

  const std::pair<const char*, double> latencies[] = {{"fraud_api_latency_p50", 0.010},
                                                      {"fraud_api_latency_p95", 0.050},
                                                      {"fraud_api_latency_p99", 0.100}};
  for (const auto& [name, threshold] : latencies) {
    const SloDefinition* slo = config.Find(name);
    ASSERT_NE(slo, nullptr) << name;
    EXPECT_DOUBLE_EQ(slo->latency_threshold_seconds, threshold);
    EXPECT_EQ(slo->window_minutes, 7 * 24 * 60);
    EXPECT_EQ(slo->budgeting, Budgeting::kRequests);
  }
  const SloDefinition* dashboard = config.Find("dashboard_availability");
  ASSERT_NE(dashboard, nullptr);
  EXPECT_DOUBLE_EQ(dashboard->target, 0.9995);
  EXPECT_EQ(dashboard->window_minutes, 30 * 24 * 60);
  const SloDefinition* query = config.Find("dashboard_query_latency_p95");
  ASSERT_NE(query, nullptr);
  EXPECT_DOUBLE_EQ(query->latency_threshold_seconds, 0.5);
  EXPECT_DOUBLE_EQ(query->target, 0.95);
}

TEST(SloConfig, PolicyDefaultsMatchTheTable) {
  const ErrorBudgetPolicy policy = ErrorBudgetPolicy::Defaults();
  EXPECT_EQ(policy.StatusFor(0), BudgetStatus::kHealthy);
  EXPECT_EQ(policy.StatusFor(49.999), BudgetStatus::kHealthy);
  EXPECT_EQ(policy.StatusFor(50), BudgetStatus::kWarning);
  EXPECT_EQ(policy.StatusFor(79.999), BudgetStatus::kWarning);
  EXPECT_EQ(policy.StatusFor(80), BudgetStatus::kCritical);
  EXPECT_EQ(policy.StatusFor(99.999), BudgetStatus::kCritical);
  EXPECT_EQ(policy.StatusFor(100), BudgetStatus::kExhausted);
  EXPECT_EQ(policy.StatusFor(250), BudgetStatus::kExhausted);
  EXPECT_FALSE(policy.Level(BudgetStatus::kWarning).halt_deployments);
  EXPECT_TRUE(policy.Level(BudgetStatus::kCritical).halt_deployments);
  EXPECT_TRUE(policy.Level(BudgetStatus::kExhausted).halt_deployments);
}

TEST(SloConfig, ShippedFileEqualsTheBuiltInDefaults) {
  auto file = LoadSloConfigFile(std::string(FRAUDGUARD_SOURCE_DIR) + "/config/slo.yaml", kRoutes);
  ASSERT_TRUE(file) << file.error();
  const SloConfig defaults = DefaultSloConfig();
  ASSERT_EQ(file->slos.size(), defaults.slos.size());
  for (size_t i = 0; i < defaults.slos.size(); ++i) {
    const SloDefinition& a = file->slos[i];
    const SloDefinition& b = defaults.slos[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.budgeting, b.budgeting);
    EXPECT_DOUBLE_EQ(a.target, b.target);
    EXPECT_EQ(a.window_minutes, b.window_minutes);
    EXPECT_DOUBLE_EQ(a.latency_threshold_seconds, b.latency_threshold_seconds);
    EXPECT_DOUBLE_EQ(a.time_slice_target, b.time_slice_target);
    EXPECT_EQ(a.routes, b.routes);
  }
  for (size_t i = 0; i < kBudgetStatusCount; ++i) {
    EXPECT_DOUBLE_EQ(file->policy.levels[i].below_percent, defaults.policy.levels[i].below_percent);
    EXPECT_EQ(file->policy.levels[i].halt_deployments, defaults.policy.levels[i].halt_deployments);
    EXPECT_EQ(file->policy.levels[i].actions, defaults.policy.levels[i].actions);
  }
  EXPECT_EQ(file->storage.minute_retention_days, defaults.storage.minute_retention_days);
  EXPECT_EQ(file->prometheus.job, defaults.prometheus.job);
}

TEST(SloConfig, PolicyIsConfigurable) {
  auto config = ParseSloConfig(std::string(kMinimal) +
                                   "error_budget_policy:\n"
                                   "  HEALTHY: {below_percent: 25}\n"
                                   "  WARNING: {below_percent: 60, halt_deployments: true}\n",
                               kRoutes);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->policy.StatusFor(30), BudgetStatus::kWarning);
  EXPECT_TRUE(config->policy.Level(BudgetStatus::kWarning).halt_deployments);
  EXPECT_EQ(config->policy.StatusFor(85), BudgetStatus::kCritical);
}

TEST(SloConfig, ParsesValueForms) {
  int64_t minutes = 0;
  EXPECT_TRUE(ParseWindowMinutes("30 days", minutes));
  EXPECT_EQ(minutes, 43200);
  EXPECT_TRUE(ParseWindowMinutes("6h", minutes));
  EXPECT_EQ(minutes, 360);
  EXPECT_TRUE(ParseWindowMinutes("1 week", minutes));
  EXPECT_EQ(minutes, 10080);
  EXPECT_FALSE(ParseWindowMinutes("30 fortnights", minutes));
  EXPECT_FALSE(ParseWindowMinutes("0.5m", minutes));
  double value = 0;
  EXPECT_TRUE(ParsePercent("99.95%", value));
  EXPECT_DOUBLE_EQ(value, 0.9995);
  EXPECT_FALSE(ParsePercent("99.95 percent", value));
  EXPECT_TRUE(ParseDurationSeconds("<500ms", value));
  EXPECT_DOUBLE_EQ(value, 0.5);
  EXPECT_TRUE(ParseDurationSeconds("0.1s", value));
  EXPECT_FALSE(ParseDurationSeconds("fast", value));
  EXPECT_EQ(FormatWindow(43200), "30d");
  EXPECT_EQ(FormatWindow(120), "2h");
  EXPECT_EQ(FormatWindow(5), "5m");
}

// Every class of bad input is refused with the key named.
TEST(SloConfig, BadInputNamesTheKey) {
  const std::pair<std::string, std::string> cases[] = {
      {"fraud_detection_api_slo:\n  routes: [a]\n", "'fraud_detection_api_slo': unknown key"},
      {"fraud_detection_api_slos:\n  availability: 99.9%\n",
       "fraud_detection_api_slos.routes': missing"},
      {"fraud_detection_api_slos:\n  routes: [\"/nope\"]\n  availability: 99.9%\n",
       "fraud_detection_api_slos.routes[0]': '/nope' is not a route label"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    target: 101%\n",
       "availability.target': '101%' must be at least 50% and below 100%"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    target: lots\n",
       "availability.target': 'lots' is not a percentage"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    measurement_window: 30 days\n",
       "availability.target': missing"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    target: 99.9%\n    measurement_window: \"a month\"\n",
       "availability.measurement_window': 'a month' is not a window"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    target: 99.9%\n    measurement_window: \"5m\"\n",
       "must be between 1 hour and 400 days"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    target: 99.99%\n    error_budget: 9 minutes per month\n",
       "availability.error_budget': '9 minutes per month' does not match"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    target: 99.9%\n    budgeting: daily\n",
       "availability.budgeting': 'daily' is not requests or time_slices"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  availability:\n    target: 99.9%\n    tagret: 1\n",
       "availability.tagret': unknown key"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  latency:\n    p95: \"42ms\"\n",
       "latency.p95': '42ms' is not an edge of the latency histogram"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n"
       "  latency:\n    q95: \"50ms\"\n",
       "latency.q95': unknown key"},
      {"fraud_detection_api_slos:\n  routes: [\"/api/v1/fraud/analyze\"]\n", "defines no SLO"},
      {std::string(kMinimal) + "error_budget_policy:\n  FINE: {below_percent: 1}\n",
       "error_budget_policy.FINE': unknown status"},
      {std::string(kMinimal) + "error_budget_policy:\n  WARNING: {below_percent: 40}\n",
       "error_budget_policy.WARNING.below_percent': must be above"},
      {std::string(kMinimal) + "error_budget_policy:\n  CRITICAL: {halt_deployments: maybe}\n",
       "error_budget_policy.CRITICAL.halt_deployments': 'maybe' is not true or false"},
      {std::string(kMinimal) + "sli_storage:\n  minute_retention_days: 3\n",
       "sli_storage.minute_retention_days': shorter than the window of fraud_api_availability"},
      {std::string(kMinimal) + "sli_storage:\n  minute_retention_days: 1.5\n",
       "sli_storage.minute_retention_days': must be a whole number"},
      {std::string(kMinimal) + "prometheus:\n  job: \"a b\"\n", "prometheus.job'"},
      {"fraud_detection_api_slos: [1, 2\n", "invalid YAML at line"},
      {"", "(top level)"},
  };
  for (const auto& [yaml, expected] : cases) {
    const std::string error = ErrorOf(yaml);
    EXPECT_NE(error.find(expected), std::string::npos)
        << "yaml:\n"
        << yaml << "\nerror: " << error << "\nexpected: " << expected;
  }
}

TEST(SloConfig, MissingFileIsNamed) {
  auto config = LoadSloConfigFile("/nonexistent/slo.yaml", kRoutes);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().find("/nonexistent/slo.yaml"), std::string::npos);
}

}  // namespace
}  // namespace fraudguard
