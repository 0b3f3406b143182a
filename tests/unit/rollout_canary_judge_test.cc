// The canary configuration and the judge: classification, weighted groups, critical metrics,
// score thresholds, the phase criteria and the error budget gate.
#include <cmath>

#include <gtest/gtest.h>

#include "rollout/canary_config.h"
#include "rollout/canary_judge.h"

namespace fraudguard::rollout {
namespace {

// Samples where every metric has `intervals` values from `make(metric, i)`.
template <typename F>
MetricSamples Samples(int intervals, F make) {
  MetricSamples samples;
  for (size_t m = 0; m < kCanaryMetricCount; ++m) {
    for (int i = 0; i < intervals; ++i) {
      samples.values[m].push_back(make(static_cast<CanaryMetric>(m), i));
    }
  }
  samples.requests = 1000;
  samples.errors = 0;
  samples.p95_ms = 5;
  return samples;
}

// A healthy server: no errors, latencies around 2/5/8 ms with a little spread, 10 % flagged.
double Healthy(CanaryMetric metric, int i) {
  const double jitter = (i % 5) * 0.1;
  switch (metric) {
    case CanaryMetric::kErrorRate:
      return 0;
    case CanaryMetric::kLatencyP50:
      return 2 + jitter;
    case CanaryMetric::kLatencyP95:
      return 5 + jitter;
    case CanaryMetric::kLatencyP99:
      return 8 + jitter;
    case CanaryMetric::kFlaggedRate:
      return 0.1 + jitter / 100;
  }
  return 0;
}

const MetricJudgement& Find(const CanaryJudgement& judgement, CanaryMetric metric) {
  for (const MetricJudgement& m : judgement.metrics) {
    if (m.criterion.metric == metric) {
      return m;
    }
  }
  ADD_FAILURE() << "no judgement for " << CanaryMetricName(metric);
  return judgement.metrics.front();
}

TEST(CanaryConfig, DefaultsAreTheSpecificationsAndMatchTheShippedFile) {
  const CanaryConfig defaults = DefaultCanaryConfig();
  ASSERT_EQ(defaults.phases.size(), 3U);
  EXPECT_EQ(defaults.phases[0].traffic_percent, 5);
  EXPECT_EQ(defaults.phases[0].duration_ms, 10 * 60 * 1000);
  EXPECT_EQ(defaults.phases[1].traffic_percent, 25);
  EXPECT_EQ(defaults.phases[1].duration_ms, 20 * 60 * 1000);
  EXPECT_EQ(defaults.phases[2].traffic_percent, 100);
  EXPECT_EQ(defaults.phases[2].duration_ms, 0);
  EXPECT_DOUBLE_EQ(defaults.phases[0].max_error_rate, 0.01);
  EXPECT_DOUBLE_EQ(defaults.phases[0].max_p95_ms, 100);
  EXPECT_DOUBLE_EQ(defaults.confidence, 0.98);
  EXPECT_EQ(defaults.metrics.size(), kCanaryMetricCount);

  auto shipped = LoadCanaryConfigFile(FRAUDGUARD_SOURCE_DIR "/config/canary.yaml");
  ASSERT_TRUE(shipped) << shipped.error();
  ASSERT_EQ(shipped->metrics.size(), defaults.metrics.size());
  for (size_t i = 0; i < defaults.metrics.size(); ++i) {
    EXPECT_EQ(shipped->metrics[i].metric, defaults.metrics[i].metric);
    EXPECT_EQ(shipped->metrics[i].critical, defaults.metrics[i].critical);
    EXPECT_DOUBLE_EQ(shipped->metrics[i].allowed_increase, defaults.metrics[i].allowed_increase);
    EXPECT_DOUBLE_EQ(shipped->metrics[i].allowed_decrease, defaults.metrics[i].allowed_decrease);
    EXPECT_DOUBLE_EQ(shipped->metrics[i].min_change, defaults.metrics[i].min_change);
  }
  ASSERT_EQ(shipped->phases.size(), defaults.phases.size());
  for (size_t i = 0; i < defaults.phases.size(); ++i) {
    EXPECT_EQ(shipped->phases[i].traffic_percent, defaults.phases[i].traffic_percent);
    EXPECT_EQ(shipped->phases[i].duration_ms, defaults.phases[i].duration_ms);
  }
  EXPECT_EQ(shipped->group_weights, defaults.group_weights);
}

TEST(CanaryConfig, ErrorsNameTheKey) {
  const std::string base =
      "groups: {errors: 100}\n"
      "metrics: [{name: error_rate, group: errors}]\n"
      "phases: [{traffic_percent: 100, duration: stable}]\n";
  ASSERT_TRUE(ParseCanaryConfig(base)) << ParseCanaryConfig(base).error();
  const std::pair<std::string, std::string> cases[] = {
      {"groups: {errors: 60}\nmetrics: [{name: error_rate, group: errors}]\n"
       "phases: [{traffic_percent: 100, duration: stable}]\n",
       "'groups': the weights add up to"},
      {"groups: {errors: 100}\nmetrics: [{name: cpu, group: errors}]\n"
       "phases: [{traffic_percent: 100, duration: stable}]\n",
       "'metrics[0].name': must be one of error_rate"},
      {"groups: {errors: 100}\nmetrics: [{name: error_rate, group: latency}]\n"
       "phases: [{traffic_percent: 100, duration: stable}]\n",
       "'metrics[0].group': 'latency' is not in groups"},
      {"groups: {errors: 100}\nmetrics: [{name: error_rate, group: errors, direction: up}]\n"
       "phases: [{traffic_percent: 100, duration: stable}]\n",
       "'metrics[0].direction'"},
      {"groups: {errors: 100}\nmetrics: [{name: error_rate, group: errors, "
       "allowed_increase: 0.5}]\nphases: [{traffic_percent: 100, duration: stable}]\n",
       "'metrics[0].allowed_increase': 0.5 is outside 1..1000"},
      {base + "judge: {confidence: 2}\n", "'judge.confidence'"},
      {base + "extra: 1\n", "'extra': unknown key"},
      {"groups: {errors: 100}\nmetrics: [{name: error_rate, group: errors}]\n"
       "phases: [{traffic_percent: 25, duration: 10x}, {traffic_percent: 100, duration: stable}]\n",
       "'phases[0].duration': '10x' has no unit"},
      {"groups: {errors: 100}\nmetrics: [{name: error_rate, group: errors}]\n"
       "phases: [{traffic_percent: 25, duration: 1m}, {traffic_percent: 5, duration: 1m}]\n",
       "'phases[1].traffic_percent': each phase must send more traffic"},
      {"groups: {errors: 100}\nmetrics: [{name: error_rate, group: errors}]\n"
       "phases: [{traffic_percent: 25, duration: 1m}]\n",
       "'phases[0].traffic_percent': the last phase, and only it, takes 100 %"},
      {"groups: {errors: 100}\nmetrics: [{name: error_rate, group: errors}]\n"
       "phases: [{traffic_percent: 100, duration: stable, success_criteria: {max_p95: 3}}]\n",
       "'phases[0].success_criteria.max_p95': unknown key"},
      {"groups: [oops", "invalid YAML at line"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto parsed = ParseCanaryConfig(yaml);
    ASSERT_FALSE(parsed) << yaml;
    EXPECT_NE(parsed.error().find(expected), std::string::npos) << parsed.error();
  }
  EXPECT_FALSE(LoadCanaryConfigFile("/nonexistent/canary.yaml"));
}

TEST(CanaryConfig, Durations) {
  EXPECT_EQ(*ParseDurationMillis("500ms"), 500);
  EXPECT_EQ(*ParseDurationMillis("30s"), 30000);
  EXPECT_EQ(*ParseDurationMillis("10 minutes"), 600000);
  EXPECT_EQ(*ParseDurationMillis("1.5m"), 90000);
  EXPECT_EQ(*ParseDurationMillis("2h"), 7200000);
  EXPECT_FALSE(ParseDurationMillis("ten minutes"));
  EXPECT_FALSE(ParseDurationMillis("10"));
  EXPECT_FALSE(ParseDurationMillis("-5s"));
}

TEST(CanaryJudge, IdenticalServersPass) {
  const CanaryConfig config = DefaultCanaryConfig();
  const auto baseline = Samples(20, Healthy);
  const auto canary = Samples(20, Healthy);
  const CanaryJudgement judgement = JudgeCanary(config, baseline, canary);
  EXPECT_EQ(judgement.verdict, Verdict::kPass);
  EXPECT_DOUBLE_EQ(judgement.score, 100);
  EXPECT_FALSE(judgement.critical_failure);
  for (const MetricJudgement& metric : judgement.metrics) {
    EXPECT_EQ(metric.classification, MetricClass::kPass)
        << CanaryMetricName(metric.criterion.metric);
  }
  EXPECT_TRUE(judgement.reasons.empty());
}

TEST(CanaryJudge, SlowerCanaryFailsOnItsCriticalLatency) {
  const CanaryConfig config = DefaultCanaryConfig();
  const auto baseline = Samples(20, Healthy);
  const auto canary = Samples(20, [](CanaryMetric metric, int i) {
    const double value = Healthy(metric, i);
    const bool latency = metric != CanaryMetric::kErrorRate && metric != CanaryMetric::kFlaggedRate;
    return latency ? value + 20 : value;  // 20 ms added to every request
  });
  const CanaryJudgement judgement = JudgeCanary(config, baseline, canary);
  EXPECT_EQ(Find(judgement, CanaryMetric::kLatencyP95).classification, MetricClass::kHigh);
  EXPECT_EQ(Find(judgement, CanaryMetric::kErrorRate).classification, MetricClass::kPass);
  EXPECT_TRUE(judgement.critical_failure);
  EXPECT_DOUBLE_EQ(judgement.score, 0);
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  ASSERT_FALSE(judgement.reasons.empty());
  EXPECT_NE(judgement.reasons.front().find("latency_p50_ms is higher"), std::string::npos)
      << judgement.reasons.front();
}

TEST(CanaryJudge, SignificantButSmallChangesDoNotFail) {
  const CanaryConfig config = DefaultCanaryConfig();
  // A p95 around 50 ms made 10 % slower, consistently: significant, and 5 ms or more (the
  // minimum change), but below the allowed increase of 1.25.
  const auto slow_baseline = Samples(20, [](CanaryMetric metric, int i) {
    return metric == CanaryMetric::kLatencyP95 ? 50 + (i % 5) * 0.1 : Healthy(metric, i);
  });
  const auto ten_percent = Samples(20, [](CanaryMetric metric, int i) {
    return metric == CanaryMetric::kLatencyP95 ? 55.5 + (i % 5) * 0.1 : Healthy(metric, i);
  });
  CanaryJudgement judgement = JudgeCanary(config, slow_baseline, ten_percent);
  const MetricJudgement& by_ratio = Find(judgement, CanaryMetric::kLatencyP95);
  EXPECT_LT(by_ratio.test.p_value, 0.001);
  EXPECT_LT(by_ratio.effect, 1.25);
  EXPECT_EQ(by_ratio.classification, MetricClass::kPass);
  EXPECT_EQ(judgement.verdict, Verdict::kPass);

  // Three times slower, but from 0.2 to 0.6 ms: below the minimum change of 5 ms.
  const auto fast_baseline = Samples(20, [](CanaryMetric metric, int i) {
    return metric == CanaryMetric::kLatencyP95 ? 0.2 + (i % 5) * 0.01 : Healthy(metric, i);
  });
  const auto three_times = Samples(20, [](CanaryMetric metric, int i) {
    return metric == CanaryMetric::kLatencyP95 ? 0.6 + (i % 5) * 0.01 : Healthy(metric, i);
  });
  judgement = JudgeCanary(config, fast_baseline, three_times);
  const MetricJudgement& by_change = Find(judgement, CanaryMetric::kLatencyP95);
  EXPECT_LT(by_change.test.p_value, 0.001);
  EXPECT_GT(by_change.effect, 2.5);
  EXPECT_EQ(by_change.classification, MetricClass::kPass);
  EXPECT_EQ(judgement.verdict, Verdict::kPass);
}

TEST(CanaryJudge, NonCriticalFailureLowersTheWeightedScore) {
  // Only the flagged rate (group "decisions", weight 10) drops: a model flagging far fewer
  // transactions. Score = 50 + 40 + 0 = 90: below pass (95), above marginal (75).
  const CanaryConfig config = DefaultCanaryConfig();
  const auto baseline = Samples(20, Healthy);
  const auto canary = Samples(20, [](CanaryMetric metric, int i) {
    return metric == CanaryMetric::kFlaggedRate ? 0.02 + (i % 3) * 0.001 : Healthy(metric, i);
  });
  const CanaryJudgement judgement = JudgeCanary(config, baseline, canary);
  EXPECT_EQ(Find(judgement, CanaryMetric::kFlaggedRate).classification, MetricClass::kLow);
  EXPECT_FALSE(judgement.critical_failure);
  EXPECT_DOUBLE_EQ(judgement.score, 90);
  EXPECT_EQ(judgement.verdict, Verdict::kMarginal);
  ASSERT_EQ(judgement.groups.size(), 3U);
  EXPECT_DOUBLE_EQ(judgement.groups[2].score, 0);
}

TEST(CanaryJudge, ErrorsOnTheCanaryFailIt) {
  const CanaryConfig config = DefaultCanaryConfig();
  const auto baseline = Samples(20, Healthy);
  const auto canary = Samples(20, [](CanaryMetric metric, int i) {
    return metric == CanaryMetric::kErrorRate ? 0.05 + (i % 2) * 0.02 : Healthy(metric, i);
  });
  const CanaryJudgement judgement = JudgeCanary(config, baseline, canary);
  const MetricJudgement& errors = Find(judgement, CanaryMetric::kErrorRate);
  EXPECT_EQ(errors.classification, MetricClass::kHigh);
  EXPECT_TRUE(std::isinf(errors.effect));
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
}

TEST(CanaryJudge, MissingDataFailsTheCanary) {
  const CanaryConfig config = DefaultCanaryConfig();
  const auto baseline = Samples(20, Healthy);
  MetricSamples canary;  // nothing collected
  const CanaryJudgement judgement = JudgeCanary(config, baseline, canary);
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_EQ(Find(judgement, CanaryMetric::kErrorRate).classification, MetricClass::kNodata);
}

TEST(CanaryJudge, TooFewIntervalsAreNoEvidence) {
  // Four intervals each: even a tenfold slower canary cannot be told apart at 98 %, so the
  // metrics are not judged and the canary fails for want of data rather than passing.
  const CanaryConfig config = DefaultCanaryConfig();
  const auto baseline = Samples(4, Healthy);
  const auto canary =
      Samples(4, [](CanaryMetric metric, int i) { return Healthy(metric, i) * 10; });
  const CanaryJudgement judgement = JudgeCanary(config, baseline, canary);
  EXPECT_EQ(Find(judgement, CanaryMetric::kLatencyP95).classification, MetricClass::kNodata);
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_NE(judgement.reasons.front().find("fewer than 5 intervals"), std::string::npos)
      << judgement.reasons.front();
}

TEST(CanaryJudge, PhaseCriteriaAreAbsolute) {
  const CanaryConfig config = DefaultCanaryConfig();
  const auto baseline = Samples(20, Healthy);
  auto canary = Samples(20, Healthy);
  canary.errors = 15;  // 1.5 % over the window, although no interval stands out
  CanaryJudgement judgement = JudgeCanary(config, baseline, canary);
  ASSERT_EQ(judgement.verdict, Verdict::kPass);
  ApplyPhaseCriteria(config.phases[0], canary, judgement);
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_NE(judgement.reasons.back().find("error rate 1.50 % is not below 1.00 %"),
            std::string::npos);

  canary.errors = 0;
  canary.p95_ms = 140;
  judgement = JudgeCanary(config, baseline, canary);
  ApplyPhaseCriteria(config.phases[0], canary, judgement);
  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_NE(judgement.reasons.back().find("p95 latency 140.00 ms is not below 100 ms"),
            std::string::npos);
}

TEST(CanaryJudge, TheErrorBudgetGateHaltsPromotionButNotRollback) {
  const CanaryConfig config = DefaultCanaryConfig();
  const auto healthy = Samples(20, Healthy);
  GateDecision halted;
  halted.allowed = false;
  halted.reasons.push_back("fraud_api_availability is EXHAUSTED");

  CanaryJudgement passing = JudgeCanary(config, healthy, healthy);
  ApplyGate(halted, passing);
  EXPECT_EQ(passing.verdict, Verdict::kHalted);
  EXPECT_EQ(passing.judge_verdict, Verdict::kPass);
  EXPECT_EQ(VerdictExitCode(passing.verdict), 4);
  EXPECT_NE(passing.reasons.back().find("deployments halted: fraud_api_availability"),
            std::string::npos);

  MetricSamples empty;
  CanaryJudgement failing = JudgeCanary(config, healthy, empty);
  ApplyGate(halted, failing);
  EXPECT_EQ(failing.verdict, Verdict::kFail);

  CanaryJudgement allowed = JudgeCanary(config, healthy, healthy);
  ApplyGate(GateDecision{}, allowed);
  EXPECT_EQ(allowed.verdict, Verdict::kPass);
  EXPECT_EQ(VerdictExitCode(allowed.verdict), 0);
}

}  // namespace
}  // namespace fraudguard::rollout
