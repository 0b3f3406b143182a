// Online accuracy from feedback labels: the confusion counts of the labelled decisions over a
// sliding window (by default the last 7 days, in one bucket per hour, kept in memory), judged at
// each decision's own action: review or decline counts as flagged.
//
// Exported on /metrics with the specification's names (see RegisterMetrics). The window gauges
// are NaN while the window holds no label of the kind they divide by, so that an alert such as
// `fraud_model_accuracy < 0.9` stays quiet instead of firing on 0/0.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "storage/label_store.h"
#include "telemetry/metrics.h"

namespace fraudguard {

// One labelled decision, as the tracker sees it.
struct LabelledDecision {
  int64_t received_ms = 0;  // when the label arrived; places it in the window
  bool fraud = false;       // the label
  bool flagged = false;     // the decision was review or decline
  bool declined = false;    // the decision was decline
  double amount = 0;
  std::string currency;
  std::string model_version;
};

// The tracker's view of a stored label.
LabelledDecision ToLabelledDecision(const LabelRecord& record);

struct ConfusionCounts {
  uint64_t flagged_fraud = 0;       // frauds flagged (true positives)
  uint64_t missed_fraud = 0;        // frauds approved (false negatives)
  uint64_t flagged_legitimate = 0;  // legitimate transactions flagged (false positives)
  uint64_t passed_legitimate = 0;   // legitimate transactions approved (true negatives)

  uint64_t frauds() const { return flagged_fraud + missed_fraud; }
  uint64_t legitimate() const { return flagged_legitimate + passed_legitimate; }
  uint64_t total() const { return frauds() + legitimate(); }
  // Flagged frauds / frauds; NaN without frauds.
  double DetectionRate() const;
  // Flagged legitimate / legitimate; NaN without legitimate transactions.
  double FalsePositiveRate() const;
  // Right decisions (flagged frauds and approved legitimate) / all; NaN when empty.
  double Accuracy() const;
  void Add(const ConfusionCounts& other);
};

struct AccuracyTrackerOptions {
  int64_t window_ms = int64_t{7} * 24 * 3600 * 1000;
  int64_t bucket_ms = int64_t{3600} * 1000;
  // Model versions counted apart in a bucket, at most; labels of further versions still count
  // in the totals, under the version "other", so that memory and label values stay bounded.
  size_t max_versions = 16;
  // Currencies with their own revenue series, at most; the rest go to currency "other".
  size_t max_currencies = 64;
};

class AccuracyTracker {
public:
  AccuracyTracker(const Clock& clock, AccuracyTrackerOptions options = {});

  // Counts one labelled decision; thread-safe. A label older than the window counts only in the
  // revenue totals (which are counters over every label ever stored).
  void Add(const LabelledDecision& decision);

  // The counts of the window ending now, over all versions and per model version.
  ConfusionCounts Window() const;
  std::map<std::string, ConfusionCounts> WindowByVersion() const;
  // Amounts since the labels began, by currency: frauds declined, legitimate declined.
  std::map<std::string, double> RevenueProtected() const;
  std::map<std::string, double> FalsePositiveCost() const;

  // Registers the gauges and counters and a collector that refreshes them on every scrape.
  void RegisterMetrics(MetricsRegistry& metrics);

private:
  struct Bucket {
    int64_t index = -1;  // bucket number (time / bucket_ms); -1 when unused
    std::map<std::string, ConfusionCounts> by_version;
  };
  int64_t BucketIndex(int64_t ms) const;
  std::string BoundedKey(const std::map<std::string, double>& totals,
                         const std::string& currency) const;

  const Clock& clock_;
  const AccuracyTrackerOptions options_;
  mutable std::mutex mutex_;
  std::vector<Bucket> buckets_;  // a ring: bucket n lives in slot n % size
  std::map<std::string, double> revenue_protected_;
  std::map<std::string, double> false_positive_cost_;
};

}  // namespace fraudguard
