#include "evaluation/detection_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace fraudguard {
namespace {

// Indices sorted by descending score.
std::vector<size_t> DescendingOrder(std::span<const float> scores) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  return order;
}

}  // namespace

double ThresholdForFalsePositiveRate(std::span<const float> scores,
                                     std::span<const float> labels,
                                     double false_positive_rate) {
  std::vector<float> negatives;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] < 0.5F) {
      negatives.push_back(scores[i]);
    }
  }
  if (negatives.empty()) {
    return 0.0;
  }
  std::sort(negatives.begin(), negatives.end(), std::greater<>());
  const auto allowed =
      static_cast<size_t>(std::floor(false_positive_rate * static_cast<double>(negatives.size())));
  if (allowed >= negatives.size()) {
    return static_cast<double>(negatives.back());
  }
  // Flag strictly above the (allowed+1)-th highest negative score: at most `allowed` negatives
  // score above it.
  return std::nextafter(static_cast<double>(negatives[allowed]), 1e30);
}

double DetectionRateAt(std::span<const float> scores,
                       std::span<const float> labels,
                       double threshold) {
  size_t positives = 0;
  size_t caught = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] >= 0.5F) {
      ++positives;
      caught += static_cast<double>(scores[i]) >= threshold ? 1 : 0;
    }
  }
  return positives == 0 ? 0.0 : static_cast<double>(caught) / static_cast<double>(positives);
}

double FalsePositiveRateAt(std::span<const float> scores,
                           std::span<const float> labels,
                           double threshold) {
  size_t negatives = 0;
  size_t flagged = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] < 0.5F) {
      ++negatives;
      flagged += static_cast<double>(scores[i]) >= threshold ? 1 : 0;
    }
  }
  return negatives == 0 ? 0.0 : static_cast<double>(flagged) / static_cast<double>(negatives);
}

DetectionMetrics ComputeDetectionMetrics(std::span<const float> scores,
                                         std::span<const float> labels) {
  DetectionMetrics metrics;
  for (const float label : labels) {
    (label >= 0.5F ? metrics.positives : metrics.negatives) += 1;
  }
  if (metrics.positives == 0 || metrics.negatives == 0) {
    return metrics;
  }
  const auto order = DescendingOrder(scores);
  // Walk blocks of tied scores: the ROC curve moves diagonally across a block (trapezoid), and
  // average precision takes the block's precision for each of its positives.
  double area = 0.0;
  double average_precision = 0.0;
  size_t true_positives = 0;
  size_t false_positives = 0;
  size_t i = 0;
  while (i < order.size()) {
    size_t block_positives = 0;
    size_t block_negatives = 0;
    const float score = scores[order[i]];
    while (i < order.size() && scores[order[i]] == score) {
      (labels[order[i]] >= 0.5F ? block_positives : block_negatives) += 1;
      ++i;
    }
    const double tpr_before =
        static_cast<double>(true_positives) / static_cast<double>(metrics.positives);
    true_positives += block_positives;
    false_positives += block_negatives;
    const double tpr_after =
        static_cast<double>(true_positives) / static_cast<double>(metrics.positives);
    area += (tpr_before + tpr_after) / 2.0 * static_cast<double>(block_negatives) /
            static_cast<double>(metrics.negatives);
    if (block_positives > 0) {
      const double precision = static_cast<double>(true_positives) /
                               static_cast<double>(true_positives + false_positives);
      average_precision +=
          precision * static_cast<double>(block_positives) / static_cast<double>(metrics.positives);
    }
  }
  metrics.auc_roc = area;
  metrics.average_precision = average_precision;
  metrics.detection_at_fpr_1 =
      DetectionRateAt(scores, labels, ThresholdForFalsePositiveRate(scores, labels, 0.01));
  metrics.detection_at_fpr_2 =
      DetectionRateAt(scores, labels, ThresholdForFalsePositiveRate(scores, labels, 0.02));
  return metrics;
}

}  // namespace fraudguard
