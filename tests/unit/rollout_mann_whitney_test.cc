// The canary judge's statistics against figures computed by hand from the textbook formulas.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "rollout/mann_whitney.h"

namespace fraudguard::rollout {
namespace {

TEST(MannWhitney, SeparatedSamplesWithoutTies) {
  // Every canary value is below every baseline value: U = 0, var = 5*5*11/12.
  const auto result = MannWhitneyTest({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}, 0.95);
  EXPECT_DOUBLE_EQ(result.u, 0);
  EXPECT_NEAR(result.z, -2.5067182, 1e-6);
  EXPECT_NEAR(result.p_value, 0.0121858, 1e-6);
  // The 25 differences run from -9 to -1; their median is -5, and at 95 % the 3rd smallest and
  // the 3rd largest bound the interval.
  EXPECT_DOUBLE_EQ(result.shift, -5);
  EXPECT_DOUBLE_EQ(result.lower, -8);
  EXPECT_DOUBLE_EQ(result.upper, -2);
  // Swapping the samples mirrors everything.
  const auto mirrored = MannWhitneyTest({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}, 0.95);
  EXPECT_DOUBLE_EQ(mirrored.u, 25);
  EXPECT_NEAR(mirrored.z, 2.5067182, 1e-6);
  EXPECT_NEAR(mirrored.p_value, result.p_value, 1e-12);
  EXPECT_DOUBLE_EQ(mirrored.lower, 2);
  EXPECT_DOUBLE_EQ(mirrored.upper, 8);
}

TEST(MannWhitney, TiesShareTheirMeanRankAndShrinkTheVariance) {
  // Pooled 1,1,1,2,2,2,3,3: ranks 2, 5 and 7.5; canary rank sum 14, U = 4; the tie term
  // 24 + 24 + 6 = 54 gives var = 16/12 * (9 - 54/56).
  const auto result = MannWhitneyTest({1, 1, 2, 2}, {1, 2, 3, 3}, 0.98);
  EXPECT_DOUBLE_EQ(result.u, 4);
  EXPECT_NEAR(result.z, -1.0692677, 1e-6);
  EXPECT_NEAR(result.p_value, 0.2849491, 1e-6);
  EXPECT_LE(result.lower, 0);
  EXPECT_GE(result.upper, 0);
}

TEST(MannWhitney, IdenticalConstantSamplesCannotBeToldApart) {
  const auto result = MannWhitneyTest({0, 0, 0, 0}, {0, 0, 0}, 0.98);
  EXPECT_DOUBLE_EQ(result.p_value, 1);
  EXPECT_DOUBLE_EQ(result.z, 0);
  EXPECT_DOUBLE_EQ(result.shift, 0);
  EXPECT_DOUBLE_EQ(result.lower, 0);
  EXPECT_DOUBLE_EQ(result.upper, 0);
}

TEST(MannWhitney, DifferentConstantsAreASignificantShift) {
  // Two groups of ties, all canary values above: the tie-corrected variance stays positive.
  const auto result =
      MannWhitneyTest({0.05, 0.05, 0.05, 0.05, 0.05, 0.05}, {0, 0, 0, 0, 0, 0}, 0.98);
  EXPECT_DOUBLE_EQ(result.u, 36);
  EXPECT_LT(result.p_value, 0.02);
  EXPECT_DOUBLE_EQ(result.lower, 0.05);
  EXPECT_DOUBLE_EQ(result.shift, 0.05);
}

TEST(MannWhitney, EmptySampleGivesNoEvidence) {
  const auto result = MannWhitneyTest({}, {1, 2}, 0.98);
  EXPECT_DOUBLE_EQ(result.p_value, 1);
}

TEST(MannWhitney, NormalQuantileMatchesTables) {
  EXPECT_NEAR(NormalQuantile(0.5), 0, 1e-9);
  EXPECT_NEAR(NormalQuantile(0.975), 1.959964, 1e-6);
  EXPECT_NEAR(NormalQuantile(0.99), 2.326348, 1e-6);
  EXPECT_NEAR(NormalQuantile(0.01), -2.326348, 1e-6);
}

TEST(MannWhitney, MeanRatioIsTheEffectSize) {
  EXPECT_DOUBLE_EQ(MeanRatio({2, 4}, {1, 2}), 2);
  EXPECT_DOUBLE_EQ(MeanRatio({0, 0}, {0, 0}), 1);
  EXPECT_EQ(MeanRatio({0.1}, {0}), std::numeric_limits<double>::infinity());
  EXPECT_DOUBLE_EQ(MeanRatio({0}, {0.5}), 0);
}

}  // namespace
}  // namespace fraudguard::rollout
