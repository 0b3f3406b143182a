// Detection quality of a scorer over labelled transactions: the ranking metrics the fraud
// literature reports (AUC ROC, average precision) and the operating points a fraud team runs
// at (detection rate at a fixed false positive rate).
#pragma once

#include <cstddef>
#include <span>

namespace fraudguard {

struct DetectionMetrics {
  size_t positives = 0;
  size_t negatives = 0;
  double auc_roc = 0.0;
  double average_precision = 0.0;
  double detection_at_fpr_1 = 0.0;  // share of frauds caught at a 1 % false positive rate
  double detection_at_fpr_2 = 0.0;  // ... at 2 %
};

// `labels` are 0 or 1. Ties in score are handled as a block (no credit for an arbitrary order).
DetectionMetrics ComputeDetectionMetrics(std::span<const float> scores,
                                         std::span<const float> labels);

// The lowest score threshold t such that the share of negatives scoring >= t is at most
// `false_positive_rate`. Flagging scores >= t then holds that false positive budget.
double ThresholdForFalsePositiveRate(std::span<const float> scores,
                                     std::span<const float> labels,
                                     double false_positive_rate);

// Detection rate (recall) among positives when flagging scores >= threshold.
double DetectionRateAt(std::span<const float> scores,
                       std::span<const float> labels,
                       double threshold);
// False positive rate among negatives when flagging scores >= threshold.
double FalsePositiveRateAt(std::span<const float> scores,
                           std::span<const float> labels,
                           double threshold);

}  // namespace fraudguard
