#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "evaluation/accuracy_tracker.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kHourMs = int64_t{3600} * 1000;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr int64_t kStartMs = int64_t{1700000000000};

LabelledDecision Labelled(int64_t at_ms, bool fraud, std::string_view action, double amount = 10) {
  LabelledDecision decision;
  decision.received_ms = at_ms;
  decision.fraud = fraud;
  decision.flagged = action != "approve";
  decision.declined = action == "decline";
  decision.amount = amount;
  decision.currency = "USD";
  decision.model_version = "v1";
  return decision;
}

TEST(AccuracyTrackerTest, EmptyWindowHasNoRates) {
  ManualClock clock(kStartMs);
  AccuracyTracker tracker(clock);
  const ConfusionCounts window = tracker.Window();
  EXPECT_EQ(window.total(), 0U);
  EXPECT_TRUE(std::isnan(window.DetectionRate()));
  EXPECT_TRUE(std::isnan(window.FalsePositiveRate()));
  EXPECT_TRUE(std::isnan(window.Accuracy()));
  EXPECT_TRUE(tracker.RevenueProtected().empty());
}

TEST(AccuracyTrackerTest, RatesAtKnownCounts) {
  ManualClock clock(kStartMs);
  AccuracyTracker tracker(clock);
  // 4 frauds: 2 declined, 1 reviewed, 1 approved. 10 legitimate: 1 declined, 9 approved.
  tracker.Add(Labelled(kStartMs, true, "decline", 100));
  tracker.Add(Labelled(kStartMs, true, "decline", 50));
  tracker.Add(Labelled(kStartMs, true, "review", 70));
  tracker.Add(Labelled(kStartMs, true, "approve", 30));
  tracker.Add(Labelled(kStartMs, false, "decline", 20));
  for (int i = 0; i < 9; ++i) {
    tracker.Add(Labelled(kStartMs, false, "approve"));
  }
  const ConfusionCounts window = tracker.Window();
  EXPECT_EQ(window.flagged_fraud, 3U);
  EXPECT_EQ(window.missed_fraud, 1U);
  EXPECT_EQ(window.flagged_legitimate, 1U);
  EXPECT_EQ(window.passed_legitimate, 9U);
  EXPECT_DOUBLE_EQ(window.DetectionRate(), 0.75);
  EXPECT_DOUBLE_EQ(window.FalsePositiveRate(), 0.1);
  EXPECT_DOUBLE_EQ(window.Accuracy(), 12.0 / 14.0);
  // Only declined amounts count: the reviewed fraud was not stopped by the service alone.
  EXPECT_DOUBLE_EQ(tracker.RevenueProtected().at("USD"), 150);
  EXPECT_DOUBLE_EQ(tracker.FalsePositiveCost().at("USD"), 20);
}

TEST(AccuracyTrackerTest, WindowSlidesByTheHour) {
  ManualClock clock(kStartMs);
  AccuracyTracker tracker(clock);  // 7 days in hourly buckets
  tracker.Add(Labelled(kStartMs, true, "decline"));
  clock.Advance(3 * kDayMs);
  tracker.Add(Labelled(clock.NowMillis(), true, "approve"));
  EXPECT_EQ(tracker.Window().frauds(), 2U);
  EXPECT_DOUBLE_EQ(tracker.Window().DetectionRate(), 0.5);

  // Seven days and an hour after the first label it has left the window; the second stays.
  clock.Set(kStartMs + 7 * kDayMs + kHourMs);
  EXPECT_EQ(tracker.Window().frauds(), 1U);
  EXPECT_DOUBLE_EQ(tracker.Window().DetectionRate(), 0.0);

  // A new label that reuses the first label's ring slot does not revive it.
  tracker.Add(Labelled(clock.NowMillis(), false, "approve"));
  EXPECT_EQ(tracker.Window().total(), 2U);

  clock.Advance(8 * kDayMs);
  EXPECT_EQ(tracker.Window().total(), 0U);
  // Totals are counters: they never shrink as the window moves.
  EXPECT_DOUBLE_EQ(tracker.RevenueProtected().at("USD"), 10);
}

TEST(AccuracyTrackerTest, LabelsOlderThanTheWindowCountOnlyInTotals) {
  ManualClock clock(kStartMs + 30 * kDayMs);
  AccuracyTracker tracker(clock);
  tracker.Add(Labelled(kStartMs, true, "decline", 40));
  EXPECT_EQ(tracker.Window().total(), 0U);
  EXPECT_DOUBLE_EQ(tracker.RevenueProtected().at("USD"), 40);
}

TEST(AccuracyTrackerTest, ByVersionIsBounded) {
  ManualClock clock(kStartMs);
  AccuracyTrackerOptions options;
  options.max_versions = 2;
  AccuracyTracker tracker(clock, options);
  for (const char* version : {"a", "b", "c", "d"}) {
    LabelledDecision decision = Labelled(kStartMs, false, "approve");
    decision.model_version = version;
    tracker.Add(decision);
  }
  const auto versions = tracker.WindowByVersion();
  EXPECT_EQ(versions.size(), 3U);
  EXPECT_EQ(versions.at("other").total(), 2U);
  EXPECT_EQ(tracker.Window().total(), 4U);
}

TEST(AccuracyTrackerTest, MetricsCarryTheSpecificationNames) {
  ManualClock clock(kStartMs);
  AccuracyTracker tracker(clock);
  MetricsRegistry metrics;
  tracker.RegisterMetrics(metrics);
  std::string text;
  metrics.Render(text);
  EXPECT_NE(text.find("fraud_detection_rate NaN"), std::string::npos) << text;
  EXPECT_NE(text.find("false_positive_rate NaN"), std::string::npos);

  tracker.Add(Labelled(kStartMs, true, "decline", 12.5));
  tracker.Add(Labelled(kStartMs, false, "review"));
  text.clear();
  metrics.Render(text);
  EXPECT_NE(text.find("fraud_detection_rate 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("false_positive_rate 1\n"), std::string::npos);
  EXPECT_NE(text.find("fraud_model_accuracy 0.5\n"), std::string::npos);
  EXPECT_NE(text.find(R"(fraud_detection_accuracy{model_type="gbt",version="v1"} 0.5)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(revenue_protected_total{currency="USD"} 12.5)"), std::string::npos);

  // Once the window has moved past them, the version's accuracy is unknown again.
  clock.Advance(8 * kDayMs);
  text.clear();
  metrics.Render(text);
  EXPECT_NE(text.find(R"(fraud_detection_accuracy{model_type="gbt",version="v1"} NaN)"),
            std::string::npos)
      << text;
}

TEST(AccuracyTrackerTest, FromStoredLabel) {
  LabelRecord record;
  record.label = FraudLabel::kFraud;
  record.action = "review";
  record.received_ms = 5;
  const LabelledDecision decision = ToLabelledDecision(record);
  EXPECT_TRUE(decision.fraud);
  EXPECT_TRUE(decision.flagged);
  EXPECT_FALSE(decision.declined);
  EXPECT_EQ(decision.received_ms, 5);
}

}  // namespace
}  // namespace fraudguard
