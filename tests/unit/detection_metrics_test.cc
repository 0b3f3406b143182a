#include "evaluation/detection_metrics.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

TEST(DetectionMetrics, PerfectRankingScoresOne) {
  const std::vector<float> scores = {0.9F, 0.8F, 0.3F, 0.2F, 0.1F};
  const std::vector<float> labels = {1, 1, 0, 0, 0};
  const auto metrics = ComputeDetectionMetrics(scores, labels);
  EXPECT_DOUBLE_EQ(metrics.auc_roc, 1.0);
  EXPECT_DOUBLE_EQ(metrics.average_precision, 1.0);
  EXPECT_DOUBLE_EQ(metrics.detection_at_fpr_2, 1.0);
}

TEST(DetectionMetrics, KnownSmallExample) {
  // Ranking: P N P N. AUC: of 4 positive-negative pairs, 3 are ordered right -> 0.75.
  // AP: precision at the first positive 1, at the second 2/3 -> (1 + 2/3) / 2.
  const std::vector<float> scores = {0.9F, 0.7F, 0.5F, 0.1F};
  const std::vector<float> labels = {1, 0, 1, 0};
  const auto metrics = ComputeDetectionMetrics(scores, labels);
  EXPECT_DOUBLE_EQ(metrics.auc_roc, 0.75);
  EXPECT_NEAR(metrics.average_precision, (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
}

TEST(DetectionMetrics, TiesGiveHalfCredit) {
  const std::vector<float> scores = {0.5F, 0.5F};
  const std::vector<float> labels = {1, 0};
  EXPECT_DOUBLE_EQ(ComputeDetectionMetrics(scores, labels).auc_roc, 0.5);
}

TEST(DetectionMetrics, ThresholdHoldsTheFalsePositiveBudget) {
  std::mt19937 random(7);
  std::normal_distribution<float> negative(0.0F, 1.0F);
  std::normal_distribution<float> positive(2.0F, 1.0F);
  std::vector<float> scores;
  std::vector<float> labels;
  for (int i = 0; i < 20000; ++i) {
    const bool fraud = i % 50 == 0;
    scores.push_back(fraud ? positive(random) : negative(random));
    labels.push_back(fraud ? 1.0F : 0.0F);
  }
  for (const double budget : {0.005, 0.01, 0.02, 0.1}) {
    const double threshold = ThresholdForFalsePositiveRate(scores, labels, budget);
    const double fpr = FalsePositiveRateAt(scores, labels, threshold);
    EXPECT_LE(fpr, budget);
    EXPECT_GT(fpr, budget * 0.95) << "the threshold should use most of the budget";
  }
  const auto metrics = ComputeDetectionMetrics(scores, labels);
  EXPECT_GT(metrics.detection_at_fpr_2, metrics.detection_at_fpr_1);
  EXPECT_NEAR(metrics.auc_roc, 0.921, 0.02);  // Phi(2 / sqrt(2)) for unit normals 2 apart
}

}  // namespace
}  // namespace fraudguard
