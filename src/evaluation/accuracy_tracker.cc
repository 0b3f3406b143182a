#include "evaluation/accuracy_tracker.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fraudguard {
namespace {

constexpr std::string_view kOther = "other";

double Ratio(uint64_t numerator, uint64_t denominator) {
  return denominator == 0 ? std::numeric_limits<double>::quiet_NaN()
                          : static_cast<double>(numerator) / static_cast<double>(denominator);
}

}  // namespace

LabelledDecision ToLabelledDecision(const LabelRecord& record) {
  LabelledDecision decision;
  decision.received_ms = record.received_ms;
  decision.fraud = record.label == FraudLabel::kFraud;
  decision.flagged = record.action == "review" || record.action == "decline";
  decision.declined = record.action == "decline";
  decision.amount = record.amount;
  decision.currency = record.currency;
  decision.model_version = record.model_version;
  return decision;
}

double ConfusionCounts::DetectionRate() const {
  return Ratio(flagged_fraud, frauds());
}

double ConfusionCounts::FalsePositiveRate() const {
  return Ratio(flagged_legitimate, legitimate());
}

double ConfusionCounts::Accuracy() const {
  return Ratio(flagged_fraud + passed_legitimate, total());
}

void ConfusionCounts::Add(const ConfusionCounts& other) {
  flagged_fraud += other.flagged_fraud;
  missed_fraud += other.missed_fraud;
  flagged_legitimate += other.flagged_legitimate;
  passed_legitimate += other.passed_legitimate;
}

AccuracyTracker::AccuracyTracker(const Clock& clock, AccuracyTrackerOptions options)
    : clock_(clock), options_(options) {
  const int64_t bucket_ms = std::max<int64_t>(1, options_.bucket_ms);
  const int64_t count = std::max<int64_t>(1, (options_.window_ms + bucket_ms - 1) / bucket_ms);
  buckets_.resize(static_cast<size_t>(count));
}

int64_t AccuracyTracker::BucketIndex(int64_t ms) const {
  return ms / std::max<int64_t>(1, options_.bucket_ms);
}

std::string AccuracyTracker::BoundedKey(const std::map<std::string, double>& totals,
                                        const std::string& currency) const {
  const std::string key = currency.empty() ? "unknown" : currency;
  if (totals.count(key) > 0 || totals.size() < options_.max_currencies) {
    return key;
  }
  return std::string(kOther);
}

void AccuracyTracker::Add(const LabelledDecision& decision) {
  const int64_t now_index = BucketIndex(clock_.NowMillis());
  // A label stamped in the future (a clock step) counts in the current bucket.
  const int64_t index = std::min(BucketIndex(decision.received_ms), now_index);
  const auto slots = static_cast<int64_t>(buckets_.size());

  std::lock_guard lock(mutex_);
  if (decision.declined) {
    auto& totals = decision.fraud ? revenue_protected_ : false_positive_cost_;
    totals[BoundedKey(totals, decision.currency)] += decision.amount;
  }
  if (index <= now_index - slots) {
    return;  // older than the window
  }
  Bucket& bucket = buckets_[static_cast<size_t>(index % slots)];
  if (bucket.index != index) {
    if (bucket.index > index) {
      return;  // the slot already holds a newer bucket: this label has left the window
    }
    bucket.index = index;
    bucket.by_version.clear();
  }
  std::string version = decision.model_version;
  if (bucket.by_version.count(version) == 0 && bucket.by_version.size() >= options_.max_versions) {
    version = kOther;
  }
  ConfusionCounts& counts = bucket.by_version[version];
  if (decision.fraud) {
    ++(decision.flagged ? counts.flagged_fraud : counts.missed_fraud);
  } else {
    ++(decision.flagged ? counts.flagged_legitimate : counts.passed_legitimate);
  }
}

std::map<std::string, ConfusionCounts> AccuracyTracker::WindowByVersion() const {
  const int64_t now_index = BucketIndex(clock_.NowMillis());
  const auto slots = static_cast<int64_t>(buckets_.size());
  std::map<std::string, ConfusionCounts> result;
  std::lock_guard lock(mutex_);
  for (const Bucket& bucket : buckets_) {
    if (bucket.index < 0 || bucket.index <= now_index - slots || bucket.index > now_index) {
      continue;
    }
    for (const auto& [version, counts] : bucket.by_version) {
      result[version].Add(counts);
    }
  }
  return result;
}

ConfusionCounts AccuracyTracker::Window() const {
  ConfusionCounts total;
  for (const auto& entry : WindowByVersion()) {
    total.Add(entry.second);
  }
  return total;
}

std::map<std::string, double> AccuracyTracker::RevenueProtected() const {
  std::lock_guard lock(mutex_);
  return revenue_protected_;
}

std::map<std::string, double> AccuracyTracker::FalsePositiveCost() const {
  std::lock_guard lock(mutex_);
  return false_positive_cost_;
}

void AccuracyTracker::RegisterMetrics(MetricsRegistry& metrics) {
  auto& by_version = metrics.AddGauge(
      "fraud_detection_accuracy",
      "Share of the labelled decisions of the window that were right, by model version.",
      {"model_type", "version"});
  auto& accuracy = metrics
                       .AddGauge("fraud_model_accuracy",
                                 "Share of the labelled decisions of the window that were right "
                                 "(flagged frauds and approved legitimate transactions).")
                       .WithLabels({});
  auto& detection = metrics
                        .AddGauge("fraud_detection_rate",
                                  "Labelled frauds of the window that were flagged (review or "
                                  "decline), as a share of the labelled frauds.")
                        .WithLabels({});
  auto& false_positives = metrics
                              .AddGauge("false_positive_rate",
                                        "Labelled legitimate transactions of the window that were "
                                        "flagged, as a share of the labelled legitimate ones.")
                              .WithLabels({});
  auto& labelled =
      metrics.AddGauge("fraudguard_accuracy_window_labels",
                       "Labelled decisions in the accuracy window, by label.", {"label"});
  auto& protected_total = metrics.AddCounter(
      "revenue_protected_total", "Amounts of the transactions labelled fraud that were declined.",
      {"currency"});
  auto& cost_total = metrics.AddCounter(
      "false_positive_cost_total",
      "Amounts of the transactions labelled legitimate that were declined.", {"currency"});
  metrics.AddCollector([this, &by_version, &accuracy, &detection, &false_positives, &labelled,
                        &protected_total, &cost_total] {
    const auto versions = WindowByVersion();
    ConfusionCounts window;
    for (const auto& [version, counts] : versions) {
      window.Add(counts);
      by_version.WithLabels({"gbt", version}).Set(counts.Accuracy());
    }
    // A version whose labels all left the window has no accuracy any more.
    std::vector<std::vector<std::string>> stale;
    by_version.ForEach([&](const std::vector<std::string>& labels, const Gauge&) {
      if (labels.size() == 2 && versions.count(labels[1]) == 0) {
        stale.push_back(labels);
      }
    });
    for (const auto& labels : stale) {
      by_version.WithLabels({labels[0], labels[1]}).Set(std::numeric_limits<double>::quiet_NaN());
    }
    accuracy.Set(window.Accuracy());
    detection.Set(window.DetectionRate());
    false_positives.Set(window.FalsePositiveRate());
    labelled.WithLabels({"fraud"}).Set(static_cast<double>(window.frauds()));
    labelled.WithLabels({"legitimate"}).Set(static_cast<double>(window.legitimate()));
    for (const auto& [currency, amount] : RevenueProtected()) {
      protected_total.WithLabels({currency}).SetTotal(amount);
    }
    for (const auto& [currency, amount] : FalsePositiveCost()) {
      cost_total.WithLabels({currency}).SetTotal(amount);
    }
  });
}

}  // namespace fraudguard
