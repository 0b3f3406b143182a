// Probe traffic helpers of validate and canary, the canary's Prometheus queries, and the
// test-only fault settings' bounds.
#include <simdjson.h>

#include <gtest/gtest.h>

#include "config/serve_config.h"
#include "rollout/probe.h"
#include "rollout/prometheus_source.h"

namespace fraudguard::rollout {
namespace {

TEST(RolloutProbe, SyntheticTransactionsAreDeterministicAndValid) {
  EXPECT_EQ(SyntheticTransactionJson("run", 7), SyntheticTransactionJson("run", 7));
  EXPECT_NE(SyntheticTransactionJson("run", 7), SyntheticTransactionJson("run", 8));
  simdjson::dom::parser parser;
  size_t large = 0;
  for (uint64_t n = 0; n < 1000; ++n) {
    const std::string body = SyntheticTransactionJson("run", n);
    simdjson::dom::element root;
    ASSERT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
    EXPECT_EQ(std::string_view(root["transaction_id"]), "run-" + std::to_string(n));
    const double amount = root["amount"];
    EXPECT_GE(amount, 5.0);
    EXPECT_LT(amount, 1000.0);
    large += amount > 80 ? 1 : 0;
  }
  // One in twenty, give or take the hash.
  EXPECT_GT(large, 20U);
  EXPECT_LT(large, 100U);
}

TEST(RolloutProbe, NearestRankPercentile) {
  std::vector<double> values = {5, 1, 4, 2, 3};
  EXPECT_DOUBLE_EQ(Percentile(values, 0.5), 3);
  EXPECT_DOUBLE_EQ(Percentile(values, 0.95), 5);
  EXPECT_DOUBLE_EQ(Percentile(values, 0.0), 1);
  std::vector<double> empty;
  EXPECT_DOUBLE_EQ(Percentile(empty, 0.95), 0);
  std::vector<double> hundred;
  for (int i = 1; i <= 100; ++i) {
    hundred.push_back(i);
  }
  EXPECT_DOUBLE_EQ(Percentile(hundred, 0.95), 95);
}

TEST(RolloutProbe, TargetsNameTheFlag) {
  auto target = ParseTarget("--canary", "http://127.0.0.1:8080/", "k");
  ASSERT_TRUE(target) << target.error();
  EXPECT_EQ(target->url, "http://127.0.0.1:8080");
  EXPECT_EQ(target->port, 8080);
  EXPECT_EQ(ProbeHeaders(*target).back().second, "k");
  auto bad = ParseTarget("--canary", "https://example.com", "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().rfind("--canary: ", 0), 0U) << bad.error();
}

TEST(RolloutProbe, TestingFaultsAreOffByDefaultAndBounded) {
  ServeConfig config;
  EXPECT_EQ(config.testing_added_latency_ms, 0);
  EXPECT_EQ(config.testing_error_ratio, 0.0);
  config.testing_error_ratio = 1.5;
  auto status = ValidateServeConfig(config);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("--testing-error-ratio"), std::string::npos);
  config.testing_error_ratio = 0.5;
  config.testing_added_latency_ms = 20000;
  status = ValidateServeConfig(config);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("--testing-added-latency-ms"), std::string::npos);
}

}  // namespace
}  // namespace fraudguard::rollout

namespace fraudguard::rollout {
namespace {

TEST(RolloutPrometheus, QueriesSelectTheDeploymentsSeries) {
  const std::string selector = R"(instance="10.0.0.7:8080")";
  EXPECT_EQ(MetricQuery(CanaryMetric::kErrorRate, selector, 30000),
            R"((sum(rate(http_requests_total{route=~"/api/v1/fraud/analyze(/batch)?",)"
            R"(status=~"5..",instance="10.0.0.7:8080"}[30000ms])) or vector(0)) / )"
            R"(sum(rate(http_requests_total{route=~"/api/v1/fraud/analyze(/batch)?",)"
            R"(instance="10.0.0.7:8080"}[30000ms])))");
  EXPECT_EQ(
      MetricQuery(CanaryMetric::kLatencyP95, selector, 2000),
      R"(histogram_quantile(0.950000, sum by (le) (rate(http_request_duration_seconds_bucket)"
      R"({route=~"/api/v1/fraud/analyze(/batch)?",instance="10.0.0.7:8080"}[2000ms]))) * 1000)");
  EXPECT_EQ(MetricQuery(CanaryMetric::kFlaggedRate, "", 2000),
            R"(sum(rate(fraudguard_decisions_total{action!="approve"}[2000ms])) / )"
            R"(sum(rate(fraudguard_decisions_total{}[2000ms])))");
  EXPECT_TRUE(CheckSelector("--canary-selector", selector));
  EXPECT_FALSE(CheckSelector("--canary-selector", "{job=\"x\"}"));
  EXPECT_FALSE(CheckSelector("--canary-selector", std::string(600, 'a')));
}

}  // namespace
}  // namespace fraudguard::rollout
