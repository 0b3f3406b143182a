#include <vector>

#include <gtest/gtest.h>

#include "evaluation/detection_metrics.h"

namespace fraudguard {
namespace {

constexpr uint64_t kA = 1;
constexpr uint64_t kB = 2;
constexpr uint64_t kC = 3;
constexpr uint64_t kD = 4;

TEST(EvaluationCardPrecision, TakesEachCardsMaximumScoreAndLabel) {
  // Card A: max score 0.9, a fraud (on its low-score transaction); B 0.8 legitimate; C 0.5
  // fraud. Top 2: A (fraud), B (legitimate) -> 1 / 2.
  const std::vector<CardScore> day = {
      {kA, 10, 0.9F, false}, {kA, 10, 0.1F, true}, {kB, 10, 0.8F, false}, {kC, 10, 0.5F, true}};
  const auto result = ComputeCardPrecisionAtK(day, 2);
  ASSERT_EQ(result.days.size(), 1U);
  EXPECT_EQ(result.days[0].day, 10);
  EXPECT_EQ(result.days[0].cards, 3U);
  EXPECT_EQ(result.days[0].fraud_cards, 2U);
  EXPECT_DOUBLE_EQ(result.days[0].precision, 0.5);
  EXPECT_DOUBLE_EQ(result.mean, 0.5);
}

TEST(EvaluationCardPrecision, DividesByKEvenWhenFewerCards) {
  const std::vector<CardScore> day = {{kA, 3, 0.9F, true}, {kB, 3, 0.2F, true}};
  EXPECT_DOUBLE_EQ(ComputeCardPrecisionAtK(day, 5).mean, 2.0 / 5.0);
}

TEST(EvaluationCardPrecision, TieAtTheCutCountsItsExpectedShare) {
  // k = 2: A alone on top, then one place for a block of three tied cards, one a fraud:
  // (1 + 1/3) / 2.
  const std::vector<CardScore> day = {
      {kA, 0, 0.9F, true}, {kB, 0, 0.5F, true}, {kC, 0, 0.5F, false}, {kD, 0, 0.5F, false}};
  EXPECT_NEAR(ComputeCardPrecisionAtK(day, 2).mean, (1.0 + 1.0 / 3.0) / 2.0, 1e-12);
  // With room for the whole block, no expectation is needed: 2 frauds in 4 places.
  EXPECT_DOUBLE_EQ(ComputeCardPrecisionAtK(day, 4).mean, 0.5);
}

TEST(EvaluationCardPrecision, InputOrderDoesNotMatter) {
  const std::vector<CardScore> forward = {
      {kA, 0, 0.9F, true}, {kB, 0, 0.5F, true}, {kC, 0, 0.5F, false}, {kD, 1, 0.7F, true}};
  const std::vector<CardScore> backward(forward.rbegin(), forward.rend());
  const auto a = ComputeCardPrecisionAtK(forward, 2);
  const auto b = ComputeCardPrecisionAtK(backward, 2);
  ASSERT_EQ(a.days.size(), 2U);
  ASSERT_EQ(b.days.size(), 2U);
  EXPECT_DOUBLE_EQ(a.mean, b.mean);
  EXPECT_DOUBLE_EQ(a.days[0].precision, b.days[0].precision);
}

TEST(EvaluationCardPrecision, DetectedFraudCardsLeaveTheFollowingDays) {
  // Day 1, k = 1: A (fraud) is the top card: precision 1, A detected.
  // Day 2: A would top again, but it has left; C (legitimate) tops: precision 0.
  const std::vector<CardScore> transactions = {
      {kA, 1, 0.9F, true},  {kB, 1, 0.5F, true},  {kA, 2, 0.95F, true},
      {kB, 2, 0.1F, false}, {kC, 2, 0.5F, false},
  };
  const auto result = ComputeCardPrecisionAtK(transactions, 1);
  ASSERT_EQ(result.days.size(), 2U);
  EXPECT_DOUBLE_EQ(result.days[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(result.days[1].precision, 0.0);
  EXPECT_EQ(result.days[1].cards, 2U);  // B and C; A left
  EXPECT_EQ(result.days[1].fraud_cards, 0U);
  EXPECT_DOUBLE_EQ(result.mean, 0.5);
}

TEST(EvaluationCardPrecision, LegitimateTopCardsAndCutTiesStay) {
  // Day 1, k = 1: D (legitimate) tops; it is not detected, and neither is A, which is only in
  // a tied block cut by the k-th place with B.
  const std::vector<CardScore> transactions = {
      {kD, 1, 0.99F, false}, {kA, 1, 0.5F, true}, {kB, 1, 0.5F, false},
      {kD, 2, 0.99F, false}, {kA, 2, 0.9F, true},
  };
  const auto k1 = ComputeCardPrecisionAtK(transactions, 1);
  EXPECT_EQ(k1.days[1].cards, 2U);
  EXPECT_DOUBLE_EQ(k1.days[1].precision, 0.0);
  const auto k2 = ComputeCardPrecisionAtK(transactions, 2);
  // Day 1: D, then one of the tied A and B: 0.5 / 2. Day 2: D and A: 1 / 2.
  EXPECT_DOUBLE_EQ(k2.days[0].precision, 0.25);
  EXPECT_DOUBLE_EQ(k2.days[1].precision, 0.5);
}

TEST(EvaluationCardPrecision, EmptyInputOrZeroK) {
  EXPECT_TRUE(ComputeCardPrecisionAtK({}, 100).days.empty());
  const std::vector<CardScore> day = {{kA, 0, 0.9F, true}};
  EXPECT_DOUBLE_EQ(ComputeCardPrecisionAtK(day, 0).mean, 0.0);
}

TEST(EvaluationKnownCompromised, AFraudIsKnownTheDayAfterTheDelay) {
  // Card A's fraud on day 10 with a 7-day delay is known from day 18 on.
  const std::vector<CardScore> transactions = {
      {kA, 10, 0.0F, true}, {kA, 17, 0.0F, false}, {kA, 18, 0.0F, false}, {kB, 18, 0.0F, false}};
  const auto known = KnownCompromisedMask(transactions, 0, 7);
  EXPECT_EQ(known, (std::vector<bool>{false, false, true, false}));
  // Without a delay, the next day.
  const auto no_delay = KnownCompromisedMask(transactions, 0, 0);
  EXPECT_EQ(no_delay, (std::vector<bool>{false, true, true, false}));
}

TEST(EvaluationKnownCompromised, FraudsBeforeTheFirstKnownDayDoNotCount) {
  // C's fraud on day 5 is older than the look-back starting on day 6; its fraud on day 12 counts.
  const std::vector<CardScore> transactions = {
      {kC, 5, 0.0F, true}, {kC, 14, 0.0F, false}, {kC, 12, 0.0F, true}, {kC, 20, 0.0F, false}};
  const auto known = KnownCompromisedMask(transactions, 6, 7);
  EXPECT_EQ(known, (std::vector<bool>{false, false, false, true}));
}

TEST(EvaluationKnownCompromised, OrderDoesNotMatter) {
  const std::vector<CardScore> transactions = {{kD, 20, 0.0F, false}, {kD, 10, 0.0F, true}};
  EXPECT_EQ(KnownCompromisedMask(transactions, 0, 7), (std::vector<bool>{true, false}));
}

}  // namespace
}  // namespace fraudguard
