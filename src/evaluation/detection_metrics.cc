#include "evaluation/detection_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>
#include <unordered_set>
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

std::vector<bool> KnownCompromisedMask(std::span<const CardScore> transactions,
                                       int64_t first_known_day,
                                       int label_delay_days) {
  // Known on day T when some fraud day D >= first_known_day has D + delay + 1 <= T, which holds
  // exactly when the card's earliest such fraud day does.
  std::unordered_map<uint64_t, int64_t> earliest_fraud_day;
  for (const CardScore& transaction : transactions) {
    if (!transaction.fraud || transaction.day < first_known_day) {
      continue;
    }
    auto [it, inserted] = earliest_fraud_day.emplace(transaction.card, transaction.day);
    if (!inserted) {
      it->second = std::min(it->second, transaction.day);
    }
  }
  std::vector<bool> known(transactions.size(), false);
  for (size_t i = 0; i < transactions.size(); ++i) {
    const auto it = earliest_fraud_day.find(transactions[i].card);
    known[i] =
        it != earliest_fraud_day.end() && it->second + label_delay_days + 1 <= transactions[i].day;
  }
  return known;
}

CardPrecisionAtK ComputeCardPrecisionAtK(std::span<const CardScore> transactions, size_t k) {
  CardPrecisionAtK result;
  result.k = k;
  if (k == 0 || transactions.empty()) {
    return result;
  }
  std::vector<size_t> by_day(transactions.size());
  std::iota(by_day.begin(), by_day.end(), 0);
  std::stable_sort(by_day.begin(), by_day.end(),
                   [&](size_t a, size_t b) { return transactions[a].day < transactions[b].day; });

  struct CardOfDay {
    uint64_t card;
    float max_score;
    bool fraud;
  };
  std::unordered_set<uint64_t> detected;
  size_t i = 0;
  while (i < by_day.size()) {
    const int64_t day = transactions[by_day[i]].day;
    std::unordered_map<uint64_t, size_t> slot_of_card;
    std::vector<CardOfDay> cards;
    for (; i < by_day.size() && transactions[by_day[i]].day == day; ++i) {
      const CardScore& transaction = transactions[by_day[i]];
      if (detected.contains(transaction.card)) {
        continue;
      }
      auto [it, inserted] = slot_of_card.emplace(transaction.card, cards.size());
      if (inserted) {
        cards.push_back({transaction.card, transaction.score, transaction.fraud});
      } else {
        CardOfDay& card = cards[it->second];
        card.max_score = std::max(card.max_score, transaction.score);
        card.fraud = card.fraud || transaction.fraud;
      }
    }
    std::sort(cards.begin(), cards.end(), [](const CardOfDay& a, const CardOfDay& b) {
      return a.max_score != b.max_score ? a.max_score > b.max_score : a.card < b.card;
    });
    DailyCardPrecision daily;
    daily.day = day;
    daily.cards = cards.size();
    double expected_fraud_cards = 0.0;
    size_t taken = 0;
    size_t block_start = 0;
    while (block_start < cards.size() && taken < k) {
      size_t block_end = block_start;
      size_t block_frauds = 0;
      while (block_end < cards.size() &&
             cards[block_end].max_score == cards[block_start].max_score) {
        block_frauds += cards[block_end].fraud ? 1 : 0;
        ++block_end;
      }
      const size_t block_size = block_end - block_start;
      if (taken + block_size <= k) {
        expected_fraud_cards += static_cast<double>(block_frauds);
        for (size_t c = block_start; c < block_end; ++c) {
          if (cards[c].fraud) {
            detected.insert(cards[c].card);
          }
        }
        taken += block_size;
      } else {
        // A block cut by the k-th place: any of its orders is as likely as another.
        const size_t room = k - taken;
        expected_fraud_cards += static_cast<double>(room) * static_cast<double>(block_frauds) /
                                static_cast<double>(block_size);
        taken = k;
      }
      block_start = block_end;
    }
    for (const CardOfDay& card : cards) {
      daily.fraud_cards += card.fraud ? 1 : 0;
    }
    daily.precision = expected_fraud_cards / static_cast<double>(k);
    result.days.push_back(daily);
  }
  double sum = 0.0;
  for (const DailyCardPrecision& daily : result.days) {
    sum += daily.precision;
  }
  result.mean = sum / static_cast<double>(result.days.size());
  return result;
}

size_t RiskLevelConfusion::Total() const {
  return Frauds() + Legitimate();
}

size_t RiskLevelConfusion::Frauds() const {
  return counts[0][1] + counts[1][1] + counts[2][1];
}

size_t RiskLevelConfusion::Legitimate() const {
  return counts[0][0] + counts[1][0] + counts[2][0];
}

double RiskLevelConfusion::DetectionRateAtOrAbove(int level) const {
  size_t caught = 0;
  for (int l = std::max(level, 0); l < 3; ++l) {
    caught += counts[static_cast<size_t>(l)][1];
  }
  const size_t frauds = Frauds();
  return frauds == 0 ? 0.0 : static_cast<double>(caught) / static_cast<double>(frauds);
}

double RiskLevelConfusion::FalsePositiveRateAtOrAbove(int level) const {
  size_t flagged = 0;
  for (int l = std::max(level, 0); l < 3; ++l) {
    flagged += counts[static_cast<size_t>(l)][0];
  }
  const size_t legitimate = Legitimate();
  return legitimate == 0 ? 0.0 : static_cast<double>(flagged) / static_cast<double>(legitimate);
}

double RiskLevelConfusion::PrecisionAtOrAbove(int level) const {
  size_t flagged = 0;
  size_t frauds = 0;
  for (int l = std::max(level, 0); l < 3; ++l) {
    frauds += counts[static_cast<size_t>(l)][1];
    flagged += counts[static_cast<size_t>(l)][0] + counts[static_cast<size_t>(l)][1];
  }
  return flagged == 0 ? 0.0 : static_cast<double>(frauds) / static_cast<double>(flagged);
}

RiskLevelConfusion ComputeRiskLevelConfusion(std::span<const uint8_t> levels,
                                             std::span<const float> labels) {
  RiskLevelConfusion confusion;
  const size_t n = std::min(levels.size(), labels.size());
  for (size_t i = 0; i < n; ++i) {
    const size_t level = std::min<size_t>(levels[i], 2);
    confusion.counts[level][labels[i] >= 0.5F ? 1 : 0] += 1;
  }
  return confusion;
}

std::vector<PrecisionRecallPoint> ComputePrecisionRecallCurve(std::span<const float> scores,
                                                              std::span<const float> labels) {
  std::vector<PrecisionRecallPoint> curve;
  size_t positives = 0;
  for (const float label : labels) {
    positives += label >= 0.5F ? 1 : 0;
  }
  if (positives == 0) {
    return curve;
  }
  const auto order = DescendingOrder(scores);
  size_t true_positives = 0;
  size_t flagged = 0;
  size_t i = 0;
  while (i < order.size()) {
    const float score = scores[order[i]];
    while (i < order.size() && scores[order[i]] == score) {
      true_positives += labels[order[i]] >= 0.5F ? 1 : 0;
      ++flagged;
      ++i;
    }
    curve.push_back({static_cast<double>(score),
                     static_cast<double>(true_positives) / static_cast<double>(positives),
                     static_cast<double>(true_positives) / static_cast<double>(flagged)});
  }
  return curve;
}

}  // namespace fraudguard
