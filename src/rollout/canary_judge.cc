#include "rollout/canary_judge.h"

#include <cmath>
#include <cstdio>
#include <numeric>

namespace fraudguard::rollout {
namespace {

double Mean(const std::vector<double>& values) {
  return values.empty() ? 0
                        : std::accumulate(values.begin(), values.end(), 0.0) /
                              static_cast<double>(values.size());
}

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

MetricJudgement JudgeMetric(const CanaryConfig& config,
                            const MetricCriterion& criterion,
                            const std::vector<double>& baseline,
                            const std::vector<double>& canary) {
  MetricJudgement judgement;
  judgement.criterion = criterion;
  judgement.baseline_mean = Mean(baseline);
  judgement.canary_mean = Mean(canary);
  if (baseline.size() < kMinIntervals || canary.size() < kMinIntervals) {
    judgement.classification = MetricClass::kNodata;
    return judgement;
  }
  judgement.test = MannWhitneyTest(canary, baseline, config.confidence);
  judgement.effect = MeanRatio(canary, baseline);
  // The test decides whether the canary differs at the configured confidence, and its U which
  // way; the effect size keeps a real but negligible change from failing. (The Hodges-Lehmann
  // interval is reported but not used: for rare events such as errors, most intervals are 0 on
  // both sides and the median shift stays 0 however clear the difference.)
  const bool significant = judgement.test.p_value < 1 - config.confidence;
  const double mean_u = static_cast<double>(canary.size() * baseline.size()) / 2;
  const double change = judgement.canary_mean - judgement.baseline_mean;
  const bool higher = significant && judgement.test.u > mean_u && change >= criterion.min_change;
  const bool lower = significant && judgement.test.u < mean_u && -change >= criterion.min_change;
  const bool increase_counts = criterion.direction != Direction::kDecrease;
  const bool decrease_counts = criterion.direction != Direction::kIncrease;
  if (higher && increase_counts && judgement.effect >= criterion.allowed_increase) {
    judgement.classification = MetricClass::kHigh;
  } else if (lower && decrease_counts && judgement.effect <= criterion.allowed_decrease) {
    judgement.classification = MetricClass::kLow;
  } else {
    judgement.classification = MetricClass::kPass;
  }
  return judgement;
}

}  // namespace

std::string_view MetricClassName(MetricClass value) {
  switch (value) {
    case MetricClass::kPass:
      return "pass";
    case MetricClass::kHigh:
      return "high";
    case MetricClass::kLow:
      return "low";
    case MetricClass::kNodata:
      return "nodata";
  }
  return "nodata";
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kMarginal:
      return "marginal";
    case Verdict::kFail:
      return "fail";
    case Verdict::kHalted:
      return "halted";
  }
  return "fail";
}

int VerdictExitCode(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return 0;
    case Verdict::kFail:
      return 1;
    case Verdict::kMarginal:
      return 3;
    case Verdict::kHalted:
      return 4;
  }
  return 1;
}

CanaryJudgement JudgeCanary(const CanaryConfig& config,
                            const MetricSamples& baseline,
                            const MetricSamples& canary) {
  CanaryJudgement judgement;
  size_t nodata = 0;
  for (const MetricCriterion& criterion : config.metrics) {
    const auto index = static_cast<size_t>(criterion.metric);
    judgement.metrics.push_back(
        JudgeMetric(config, criterion, baseline.values[index], canary.values[index]));
    const MetricJudgement& metric = judgement.metrics.back();
    if (metric.classification == MetricClass::kNodata) {
      ++nodata;
    } else if (metric.classification != MetricClass::kPass) {
      const bool increased = metric.classification == MetricClass::kHigh;
      judgement.reasons.push_back(
          std::string(CanaryMetricName(criterion.metric)) + " is " +
          (increased ? "higher" : "lower") + " on the canary: mean " +
          Fixed(metric.canary_mean, 4) + " against " + Fixed(metric.baseline_mean, 4) + " (ratio " +
          Fixed(metric.effect, 2) + ", shift interval " + Fixed(metric.test.lower, 4) + " to " +
          Fixed(metric.test.upper, 4) + ")" + (criterion.critical ? ", a critical metric" : ""));
      judgement.critical_failure = judgement.critical_failure || criterion.critical;
    }
  }
  double score = 0;
  for (const auto& [name, weight] : config.group_weights) {
    GroupScore group;
    group.name = name;
    group.weight = weight;
    for (const MetricJudgement& metric : judgement.metrics) {
      if (metric.criterion.group != name || metric.classification == MetricClass::kNodata) {
        continue;
      }
      ++group.judged;
      group.passed += metric.classification == MetricClass::kPass ? 1 : 0;
    }
    // A group without data neither helps nor hurts: it counts as full marks.
    group.score = group.judged == 0 ? 100 : 100.0 * group.passed / group.judged;
    score += group.score * weight / 100;
    judgement.groups.push_back(group);
  }
  judgement.score = std::round(score * 100) / 100;
  if (judgement.critical_failure) {
    judgement.score = 0;
  }
  if (!config.metrics.empty() && 2 * nodata >= config.metrics.size()) {
    judgement.score = 0;
    judgement.reasons.push_back("half or more of the metrics have fewer than " +
                                std::to_string(kMinIntervals) + " intervals with data on one side");
  }
  judgement.judge_verdict = judgement.score >= config.pass_score       ? Verdict::kPass
                            : judgement.score >= config.marginal_score ? Verdict::kMarginal
                                                                       : Verdict::kFail;
  if (judgement.judge_verdict != Verdict::kPass) {
    judgement.reasons.push_back("score " + Fixed(judgement.score, 2) + " is below the pass score " +
                                Fixed(config.pass_score, 0));
  }
  judgement.verdict = judgement.judge_verdict;
  return judgement;
}

void ApplyPhaseCriteria(const CanaryPhase& phase,
                        const MetricSamples& canary,
                        CanaryJudgement& judgement) {
  const double error_rate = canary.requests == 0 ? 1.0
                                                 : static_cast<double>(canary.errors) /
                                                       static_cast<double>(canary.requests);
  bool failed = false;
  if (canary.requests == 0 || !(error_rate < phase.max_error_rate)) {
    failed = true;
    judgement.reasons.push_back("error rate " + Fixed(error_rate * 100, 2) + " % is not below " +
                                Fixed(phase.max_error_rate * 100, 2) + " %");
  }
  if (!(canary.p95_ms < phase.max_p95_ms)) {
    failed = true;
    judgement.reasons.push_back("p95 latency " + Fixed(canary.p95_ms, 2) + " ms is not below " +
                                Fixed(phase.max_p95_ms, 0) + " ms");
  }
  if (failed) {
    judgement.verdict = Verdict::kFail;
  }
}

void ApplyGate(const GateDecision& gate, CanaryJudgement& judgement) {
  if (gate.allowed || judgement.verdict == Verdict::kFail) {
    return;
  }
  for (const std::string& reason : gate.reasons) {
    judgement.reasons.push_back("deployments halted: " + reason);
  }
  judgement.verdict = Verdict::kHalted;
}

}  // namespace fraudguard::rollout
