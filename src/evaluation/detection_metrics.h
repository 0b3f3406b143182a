// Detection quality of a scorer over labelled transactions: the ranking metrics the fraud
// literature reports (AUC ROC, average precision) and the operating points a fraud team runs
// at (detection rate at a fixed false positive rate).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

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

// One scored transaction as the card-level metrics see it. `day` is whole days since the Unix
// epoch (UTC); `card` any dense or hashed card identifier.
struct CardScore {
  uint64_t card = 0;
  int64_t day = 0;
  float score = 0.0F;
  bool fraud = false;
};

// The fraud handbook's test-set rule: a card with a fraud that the team knows of is blocked, not
// scored, so its transactions leave the evaluation. A fraud on day D is known from day
// D + label_delay_days + 1 on (labels arrive `label_delay_days` late, and a day's labels are
// read the next morning). Only frauds on or after `first_known_day` count (the handbook counts
// its training week and later). Returns, per transaction, true when its card was known
// compromised on the transaction's day. The order of `transactions` does not matter.
std::vector<bool> KnownCompromisedMask(std::span<const CardScore> transactions,
                                       int64_t first_known_day,
                                       int label_delay_days);

struct DailyCardPrecision {
  int64_t day = 0;
  size_t cards = 0;        // cards with a transaction that day, after removals
  size_t fraud_cards = 0;  // ... of them with a fraud that day
  double precision = 0.0;  // expected fraud cards among the top k, divided by k
};

struct CardPrecisionAtK {
  size_t k = 0;
  double mean = 0.0;  // over the days in `days`; 0 when there are none
  std::vector<DailyCardPrecision> days;
};

// Card precision at k per day, as the fraud handbook defines it: each card's maximum score and
// maximum label of the day; the k cards with the highest maximum score; precision = fraud cards
// among them / k (k even on a day with fewer cards). A fraud card in a day's top k is detected
// and leaves the following days. Ties at the k-th place are not broken by an arbitrary order:
// the tied block counts with its expected share of fraud cards, and only cards wholly inside
// the top k count as detected. Days are those present in `transactions`, ascending.
CardPrecisionAtK ComputeCardPrecisionAtK(std::span<const CardScore> transactions, size_t k);

// Counts of the risk levels (low, medium, high: 0, 1, 2) against the label.
struct RiskLevelConfusion {
  // counts[level][label]: label 0 legitimate, 1 fraud.
  std::array<std::array<size_t, 2>, 3> counts{};

  size_t Total() const;
  size_t Frauds() const;
  size_t Legitimate() const;
  // Share of frauds / of legitimate transactions at `level` or above.
  double DetectionRateAtOrAbove(int level) const;
  double FalsePositiveRateAtOrAbove(int level) const;
  // Share of frauds among the transactions at `level` or above; 0 when there are none.
  double PrecisionAtOrAbove(int level) const;
};

// `levels` hold 0 (low), 1 (medium) or 2 (high); larger values count as high.
RiskLevelConfusion ComputeRiskLevelConfusion(std::span<const uint8_t> levels,
                                             std::span<const float> labels);

struct PrecisionRecallPoint {
  double threshold = 0.0;  // flag scores >= threshold
  double recall = 0.0;
  double precision = 0.0;
};

// The precision-recall curve, one point per distinct score from the highest down (a block of
// tied scores is one step). Empty when there is no positive.
std::vector<PrecisionRecallPoint> ComputePrecisionRecallCurve(std::span<const float> scores,
                                                              std::span<const float> labels);

}  // namespace fraudguard
