// The generated Prometheus rules, checked with Debian's real promtool: `promtool check rules`
// on the file, and `promtool test rules` with each alert firing just above its threshold and
// not firing just below it.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "slo/prometheus_rules.h"

namespace fraudguard {
namespace {

class PrometheusRulesTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/fraudguard-rules-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    Write("rules.yml", GeneratePrometheusRules(DefaultSloConfig()));
    // The alert tests evaluate one SLO's rules only: every SLO adds rate() over days of samples
    // at each evaluation step, and the others have no input series anyway.
    auto availability_only = DefaultSloConfig();
    availability_only.slos.resize(1);
    Write("availability.yml", GeneratePrometheusRules(availability_only));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ + "/" + name) << text;
  }
  // Runs promtool in the test directory; returns its exit status and sets `output`.
  int Promtool(const std::string& arguments, std::string& output) const {
    const std::string command = "cd '" + dir_ + "' && promtool " + arguments + " 2>&1";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) {
      return -1;
    }
    output.clear();
    char buffer[4096];
    while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
      output += buffer;
    }
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Runs `promtool test rules` on tests of `rule_file`; expects success.
  void ExpectTestsPass(const std::string& tests,
                       const std::string& rule_file = "availability.yml",
                       const std::string& evaluation_interval = "1m") const {
    Write("tests.yml", "rule_files: [" + rule_file +
                           "]\nevaluation_interval: " + evaluation_interval + "\ntests:\n" + tests);
    std::string output;
    EXPECT_EQ(Promtool("test rules tests.yml", output), 0) << output;
  }

  std::string dir_;
};

constexpr const char* kOk =
    "http_requests_total{job=\"fraud-api\",route=\"/api/v1/fraud/analyze\",status=\"200\"}";
constexpr const char* kFailed =
    "http_requests_total{job=\"fraud-api\",route=\"/api/v1/fraud/analyze\",status=\"503\"}";

// One promtool test: two counters of the fraud API and the expectation for one alert.
std::string AlertCase(const std::string& name,
                      const std::string& interval,
                      const std::string& ok_values,
                      const std::string& failed_values,
                      const std::string& eval_time,
                      const std::string& alert,
                      const std::string& expected_alerts) {
  return "  - name: " + name + "\n    interval: " + interval +
         "\n    input_series:\n      - series: '" + kOk + "'\n        values: '" + ok_values +
         "'\n      - series: '" + kFailed + "'\n        values: '" + failed_values +
         "'\n    alert_rule_test:\n      - eval_time: " + eval_time +
         "\n        alertname: " + alert + "\n        exp_alerts:" + expected_alerts + "\n";
}

// The expected firing burn-rate alert of the fraud API's availability SLO.
std::string BurnAlert(const std::string& severity,
                      const std::string& long_window,
                      const std::string& short_window,
                      const std::string& factor,
                      const std::string& percent,
                      const std::string& spent) {
  return "\n          - exp_labels:\n              severity: " + severity +
         "\n              slo: fraud_api_availability\n              long_window: " + long_window +
         "\n              short_window: " + short_window +
         "\n            exp_annotations:\n              summary: \"fraud_api_availability is "
         "spending its error budget " +
         factor + " times too fast\"\n              description: \"Error ratio " + percent +
         " over " + long_window + " (and over " + short_window + "), above " + factor +
         " x the 0.0001 allowed; at this rate " + spent + " % of the 30d budget goes in " +
         long_window + ".\"";
}

TEST(BurnRateFactor, DerivedFromThePeriod) {
  const double expected_30d[] = {14.4, 6, 3, 1};
  const double expected_28d[] = {13.44, 5.6, 2.8, 0.1 * 28 / 3};
  const double expected_7d[] = {3.36, 1.4, 0.7, 0.1 * 7 / 3};
  for (size_t i = 0; i < kBurnRateAlertWindows.size(); ++i) {
    EXPECT_NEAR(BurnRateFactor(kBurnRateAlertWindows[i], 30 * 1440), expected_30d[i], 1e-12);
    EXPECT_NEAR(BurnRateFactor(kBurnRateAlertWindows[i], 28 * 1440), expected_28d[i], 1e-12);
    EXPECT_NEAR(BurnRateFactor(kBurnRateAlertWindows[i], 7 * 1440), expected_7d[i], 1e-12);
  }
}

TEST_F(PrometheusRulesTest, PromtoolChecksTheFileForEachPeriod) {
  std::string output;
  EXPECT_EQ(Promtool("check rules rules.yml", output), 0) << output;
  EXPECT_NE(output.find("SUCCESS"), std::string::npos) << output;
  for (const char* period : {"28 days", "7 days"}) {
    auto config = ParseSloConfig(std::string("fraud_detection_api_slos:\n"
                                             "  routes: [\"/api/v1/fraud/analyze\"]\n"
                                             "  availability:\n"
                                             "    target: 99.9%\n"
                                             "    measurement_window: \"") +
                                     period + "\"\n",
                                 {});
    ASSERT_TRUE(config) << config.error();
    const std::string rules = GeneratePrometheusRules(*config);
    Write("period.yml", rules);
    EXPECT_EQ(Promtool("check rules period.yml", output), 0) << output;
    const std::string factor = period[0] == '2' ? "13.44" : "3.36";
    EXPECT_NE(rules.find("spending its error budget " + factor + " times"), std::string::npos);
  }
  // A bad file is caught: promtool really checks.
  Write("broken.yml", "groups:\n  - name: x\n    rules:\n      - record: a\n        expr: sum(\n");
  EXPECT_NE(Promtool("check rules broken.yml", output), 0) << output;
}

TEST_F(PrometheusRulesTest, RecordingRulesComputeRatiosAndBudget) {
  ExpectTestsPass(
      "  - name: recording rules\n"
      "    interval: 1m\n"
      "    input_series:\n"
      "      - series: '" +
          std::string(kOk) +
          "'\n        values: '0+3x90'\n"
          "      - series: '" +
          std::string(kFailed) +
          "'\n        values: '0+1x90'\n"
          "    promql_expr_test:\n"
          "      - expr: round(slo:sli_error:ratio_rate5m, 0.0001)\n"
          "        eval_time: 70m\n"
          "        exp_samples:\n"
          "          - labels: '{slo=\"fraud_api_availability\"}'\n"
          "            value: 0.25\n"
          "      - expr: round(slo:sli_requests:rate1h * 60, 0.0001)\n"
          "        eval_time: 70m\n"
          "        exp_samples:\n"
          "          - labels: '{slo=\"fraud_api_availability\"}'\n"
          "            value: 4\n"
          "      - expr: round(slo:burn_rate:ratio_rate30m, 0.001)\n"
          "        eval_time: 70m\n"
          "        exp_samples:\n"
          "          - labels: '{slo=\"fraud_api_availability\"}'\n"
          "            value: 2500\n"
          "      - expr: round(slo:period_error_budget_remaining:ratio, 0.001)\n"
          "        eval_time: 70m\n"
          "        exp_samples:\n"
          "          - labels: '{slo=\"fraud_api_availability\"}'\n"
          "            value: -2499\n"
          "      - expr: slo:objective:ratio{slo=\"dashboard_availability\"}\n"
          "        eval_time: 70m\n"
          "        exp_samples:\n"
          "          - labels: 'slo:objective:ratio{slo=\"dashboard_availability\"}'\n"
          "            value: 0.9995\n",
      "rules.yml");
}

// The dashboard's availability counts its own page and files (/dashboard) and the capacity
// route it polls, beside the read API; the scoring routes are not its events.
TEST_F(PrometheusRulesTest, DashboardAvailabilityCountsThePageAndTheCapacityRoute) {
  auto dashboard_only = DefaultSloConfig();
  std::erase_if(dashboard_only.slos,
                [](const SloDefinition& slo) { return slo.name != "dashboard_availability"; });
  ASSERT_EQ(dashboard_only.slos.size(), 1u);
  Write("dashboard.yml", GeneratePrometheusRules(dashboard_only));
  const auto series = [](const char* route, const char* status, const char* values) {
    return std::string("      - series: 'http_requests_total{job=\"fraud-api\",route=\"") + route +
           "\",status=\"" + status + "\"}'\n        values: '" + values + "'\n";
  };
  // Per minute: 6 page loads (1 failing), 4 capacity reads (1 failing), and failing scoring
  // requests that must not count: 2 bad of 10.
  ExpectTestsPass(
      "  - name: dashboard routes\n"
      "    interval: 1m\n"
      "    input_series:\n" +
          series("/dashboard", "200", "0+5x30") + series("/dashboard", "500", "0+1x30") +
          series("/api/v1/capacity", "200", "0+3x30") +
          series("/api/v1/capacity", "503", "0+1x30") +
          series("/api/v1/fraud/analyze", "500", "0+50x30") +
          "    promql_expr_test:\n"
          "      - expr: round(slo:sli_error:ratio_rate5m, 0.0001)\n"
          "        eval_time: 20m\n"
          "        exp_samples:\n"
          "          - labels: '{slo=\"dashboard_availability\"}'\n"
          "            value: 0.2\n",
      "dashboard.yml");
}

// 14.4 x 0.0001 = 0.144 %. 14.5 failures per 10000 good requests is just above, 14.3 below.
TEST_F(PrometheusRulesTest, FastPageFiresAboveItsThresholdOnly) {
  ExpectTestsPass(
      AlertCase("1h/5m just above", "1m", "0+10000x90", "0+14.5x90", "80m", "SLOErrorBudgetBurn1h",
                BurnAlert("page", "1h", "5m", "14.4", "0.1448%", "2")) +
      AlertCase("1h/5m just below", "1m", "0+10000x90", "0+14.3x90", "80m", "SLOErrorBudgetBurn1h",
                " []") +
      // The errors stopped 6 minutes ago: the 1h window is still over, the 5m one is not.
      AlertCase("1h/5m short window recovered", "1m", "0+10000x90", "0+15x60 900+0x30", "66m",
                "SLOErrorBudgetBurn1h", " []") +
      // A quiet service: a failure in every few requests, but under 0.1 request per second.
      AlertCase("1h/5m too little traffic", "1m", "0+3x90", "0+1x90", "80m", "SLOErrorBudgetBurn1h",
                " []") +
      AlertCase("1h/5m enough traffic", "1m", "0+6x90", "0+1x90", "80m", "SLOErrorBudgetBurn1h",
                BurnAlert("page", "1h", "5m", "14.4", "14.29%", "2")));
}

// 6 x 0.0001 = 0.06 %.
TEST_F(PrometheusRulesTest, SlowPageFiresAboveItsThresholdOnly) {
  ExpectTestsPass(AlertCase("6h/30m just above", "1m", "0+10000x420", "0+6.1x420", "400m",
                            "SLOErrorBudgetBurn6h",
                            BurnAlert("page", "6h", "30m", "6", "0.06096%", "5")) +
                  AlertCase("6h/30m just below", "1m", "0+10000x420", "0+5.9x420", "400m",
                            "SLOErrorBudgetBurn6h", " []"));
}

// 3 x 0.0001 = 0.03 % and 1 x 0.0001 = 0.01 %, sampled every 5 minutes.
TEST_F(PrometheusRulesTest, TicketsFireAboveTheirThresholdsOnly) {
  ExpectTestsPass(
      AlertCase("1d/2h just above", "5m", "0+50000x330", "0+15.5x330", "1620m",
                "SLOErrorBudgetBurn1d", BurnAlert("ticket", "1d", "2h", "3", "0.03099%", "10")) +
          AlertCase("1d/2h just below", "5m", "0+50000x330", "0+14.5x330", "1620m",
                    "SLOErrorBudgetBurn1d", " []") +
          AlertCase("3d/6h just above", "5m", "0+50000x950", "0+5.2x950", "4700m",
                    "SLOErrorBudgetBurn3d", BurnAlert("ticket", "3d", "6h", "1", "0.0104%", "10")) +
          AlertCase("3d/6h just below", "5m", "0+50000x950", "0+4.8x950", "4700m",
                    "SLOErrorBudgetBurn3d", " []"),
      "availability.yml", "15m");
}

TEST_F(PrometheusRulesTest, SpecificationAlertsFireAtTheirThresholds) {
  const std::string labels = "job=\"fraud-api\",route=\"/api/v1/fraud/analyze\"";
  const auto bucket = [&](const std::string& le, const std::string& values) {
    return "      - series: 'http_request_duration_seconds_bucket{" + labels + ",le=\"" + le +
           "\"}'\n        values: '" + values + "'\n";
  };
  ExpectTestsPass(
      // 4 errors a minute is 0.067 per second, over the 0.05 of the rule; 2.9 is under.
      AlertCase("error rate above", "1m", "0+100x20", "0+4x20", "15m", "FraudAPIHighErrorRate",
                "\n          - exp_labels:\n              severity: critical\n"
                "              service: fraud-api\n              job: fraud-api\n"
                "              route: /api/v1/fraud/analyze\n              status: \"503\"\n"
                "            exp_annotations:\n"
                "              summary: High error rate on fraud API\n"
                "              description: Error rate is 6.667% for the last 5 minutes") +
      AlertCase("error rate below", "1m", "0+100x20", "0+2.9x20", "15m", "FraudAPIHighErrorRate",
                " []") +
      // 6 % of requests over 250 ms, the highest finite bound: the p95 is reported as that
      // bound (exactly, with no interpolation noise in the annotation).
      "  - name: p95 latency above\n    interval: 1m\n    input_series:\n" +
      bucket("0.05", "0+90x20") + bucket("0.25", "0+94x20") + bucket("+Inf", "0+100x20") +
      "    alert_rule_test:\n      - eval_time: 15m\n        alertname: FraudAPIHighLatency\n"
      "        exp_alerts:\n          - exp_labels:\n              severity: warning\n"
      "              service: fraud-api\n              job: fraud-api\n"
      "              route: /api/v1/fraud/analyze\n            exp_annotations:\n"
      "              summary: High latency on fraud API\n"
      "              description: 95th percentile latency is 0.25s\n" +
      "  - name: p95 latency below\n    interval: 1m\n    input_series:\n" +
      bucket("0.05", "0+90x20") + bucket("0.1", "0+96x20") + bucket("0.25", "0+100x20") +
      bucket("+Inf", "0+100x20") +
      "    alert_rule_test:\n      - eval_time: 15m\n        alertname: FraudAPIHighLatency\n"
      "        exp_alerts: []\n" +
      "  - name: model accuracy\n    interval: 1m\n    input_series:\n"
      "      - series: 'fraud_model_accuracy{model=\"low\"}'\n        values: '0.89x20'\n"
      "      - series: 'fraud_model_accuracy{model=\"at\"}'\n        values: '0.9x20'\n"
      "    alert_rule_test:\n      - eval_time: 15m\n        alertname: MLModelAccuracyDrop\n"
      "        exp_alerts:\n          - exp_labels:\n              severity: warning\n"
      "              service: ml-inference\n              model: low\n"
      "            exp_annotations:\n              summary: ML model accuracy degraded\n"
      "              description: Model accuracy dropped to 89%\n" +
      "  - name: connection pool\n    interval: 1m\n    input_series:\n"
      "      - series: 'database_connection_pool_active{pool=\"busy\"}'\n        values: '95x10'\n"
      "      - series: 'database_connection_pool_max{pool=\"busy\"}'\n        values: '100x10'\n"
      "      - series: 'database_connection_pool_active{pool=\"at\"}'\n        values: '90x10'\n"
      "      - series: 'database_connection_pool_max{pool=\"at\"}'\n        values: '100x10'\n"
      "    alert_rule_test:\n      - eval_time: 5m\n"
      "        alertname: DatabaseConnectionPoolExhausted\n"
      "        exp_alerts:\n          - exp_labels:\n              severity: critical\n"
      "              service: database\n              pool: busy\n"
      "            exp_annotations:\n"
      "              summary: Database connection pool nearly exhausted\n"
      "              description: 95% of connections are in use\n");
}

}  // namespace
}  // namespace fraudguard
