// The canary judge, after the way automated canary analysis is done in industry (Kayenta's
// judge): every metric's interval values on the canary are compared with the baseline's by a
// Mann-Whitney U test and an effect-size bound, classified pass, high or low; metrics are scored
// by weighted groups; a failing critical metric fails the whole canary; the score is classified
// pass, marginal or fail against thresholds. Then the phase's absolute criteria and the error
// budget gate have their say. Pure functions over collected samples.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "rollout/canary_config.h"
#include "rollout/mann_whitney.h"
#include "slo/error_budget.h"

namespace fraudguard::rollout {

// One value per analysis interval and metric, from one server.
struct MetricSamples {
  std::array<std::vector<double>, kCanaryMetricCount> values;
  // Over the whole window, for the phase's absolute criteria.
  uint64_t requests = 0;
  uint64_t errors = 0;
  double p95_ms = 0;
};

// Fewer intervals than this on either side and a metric is not judged (kNodata): with four or
// fewer values per side no Mann-Whitney result reaches 98 % confidence, so a pass would mean
// nothing.
inline constexpr size_t kMinIntervals = 5;

enum class MetricClass : uint8_t { kPass, kHigh, kLow, kNodata };
std::string_view MetricClassName(MetricClass value);

struct MetricJudgement {
  MetricCriterion criterion;
  MetricClass classification = MetricClass::kNodata;
  MannWhitneyResult test;
  double effect = 1;  // mean ratio canary / baseline
  double baseline_mean = 0;
  double canary_mean = 0;
};

struct GroupScore {
  std::string name;
  double weight = 0;
  double score = 100;  // share of the group's metrics that passed, in percent
  int passed = 0;
  int judged = 0;
};

// What the release engineer does next.
enum class Verdict : uint8_t {
  kPass,      // promote to the next phase
  kMarginal,  // hold: a person decides
  kFail,      // roll back
  kHalted,    // the judge may pass, but the error budget policy halts deployments
};
std::string_view VerdictName(Verdict verdict);
// Exit statuses of `fraudguard canary`.
int VerdictExitCode(Verdict verdict);
inline constexpr int kCanaryUsageError = 2;

struct CanaryJudgement {
  std::vector<MetricJudgement> metrics;
  std::vector<GroupScore> groups;
  double score = 0;  // 0..100, rounded to 2 decimals
  bool critical_failure = false;
  Verdict judge_verdict = Verdict::kFail;  // from the score alone
  Verdict verdict = Verdict::kFail;        // after the phase criteria and the gate
  std::vector<std::string> reasons;        // why the verdict is not a pass
};

// The statistical part: classification, group scores, critical metrics, score thresholds.
CanaryJudgement JudgeCanary(const CanaryConfig& config,
                            const MetricSamples& baseline,
                            const MetricSamples& canary);

// The phase's absolute criteria on the canary's own figures; a failed one fails the canary.
void ApplyPhaseCriteria(const CanaryPhase& phase,
                        const MetricSamples& canary,
                        CanaryJudgement& judgement);

// No promotion while the SLO policy halts deployments: a passing or marginal canary becomes
// halted (a failing one stays failed: roll back whatever the budget).
void ApplyGate(const GateDecision& gate, CanaryJudgement& judgement);

}  // namespace fraudguard::rollout
