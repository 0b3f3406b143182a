#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "features/feature_schema.h"
#include "features/window_histogram.h"

namespace fraudguard {
namespace {

constexpr int64_t kHourMs = 3600LL * 1000;
constexpr int64_t kStart = 1'700'000'000'000LL;

struct Event {
  int64_t ts_ms;
  double amount;
};

// Exact statistics of events in (now - window, now], the reference for the sketch.
WindowAggregate BruteForce(const std::vector<Event>& events, int64_t now_ms, int64_t window_ms) {
  WindowAggregate result;
  double sum_sq = 0;
  for (const Event& e : events) {
    if (e.ts_ms > now_ms - window_ms && e.ts_ms <= now_ms) {
      result.count += 1;
      result.sum += e.amount;
      sum_sq += e.amount * e.amount;
    }
  }
  if (result.count > 0) {
    result.mean = result.sum / result.count;
    result.std = std::sqrt(std::max(sum_sq / result.count - result.mean * result.mean, 0.0));
  }
  return result;
}

TEST(FeatureWindowTest, ExactWhileNothingHasBeenMerged) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> gap(1, 5 * 24 * kHourMs);
  std::uniform_real_distribution<double> amount(1, 500);
  for (int trial = 0; trial < 50; ++trial) {
    WindowHistogram histogram;
    std::vector<Event> events;
    int64_t ts = kStart;
    for (int i = 0; i < WindowHistogram::kCapacity; ++i) {
      ts += gap(rng) / (1 + trial % 7);
      events.push_back({ts, amount(rng)});
      histogram.Add(ts, events.back().amount);
      for (int64_t window : kWindowMillis) {
        const WindowAggregate exact = BruteForce(events, ts, window);
        const WindowAggregate approx = histogram.Aggregate(ts, window);
        ASSERT_DOUBLE_EQ(approx.count, exact.count);
        ASSERT_NEAR(approx.sum, exact.sum, 1e-9 * exact.sum);
        ASSERT_NEAR(approx.mean, exact.mean, 1e-9 * exact.mean);
        ASSERT_NEAR(approx.std, exact.std, 1e-6 * exact.mean);
      }
    }
  }
}

TEST(FeatureWindowTest, ErrorNeverExceedsTheStraddlingSummary) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> amount(1, 1000);
  for (int trial = 0; trial < 20; ++trial) {
    // Mean gaps from one minute to half a day, with bursts, to exercise every window.
    std::exponential_distribution<double> gap(1.0 / (60'000.0 * (1 + 40 * trial)));
    WindowHistogram histogram;
    std::vector<Event> events;
    int64_t ts = kStart;
    for (int i = 0; i < 2000; ++i) {
      ts += static_cast<int64_t>(gap(rng)) * (i % 50 < 10 ? 0 : 1);
      events.push_back({ts, amount(rng)});
      histogram.Add(ts, events.back().amount);
      ASSERT_LE(histogram.size(), WindowHistogram::kCapacity);
      for (int64_t window : kWindowMillis) {
        const WindowAggregate exact = BruteForce(events, ts, window);
        const WindowAggregate approx = histogram.Aggregate(ts, window);
        const double bound = histogram.StraddlingCount(ts, window);
        ASSERT_LE(std::abs(approx.count - exact.count), bound + 1e-9)
            << "trial " << trial << " event " << i << " window " << window;
        ASSERT_LE(std::abs(approx.sum - exact.sum), bound * 1000 + 1e-6);
        ASSERT_GE(approx.count, 1.0);  // The event just added is always inside.
      }
    }
  }
}

TEST(FeatureWindowTest, RelativeErrorIsSmallOnSteadyStreams) {
  // A card-like stream: Poisson arrivals at a steady rate. Over many checkpoints the median
  // relative error of the count must be small and the worst case bounded.
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> amount(5, 200);
  std::vector<double> errors;
  double worst = 0;
  for (int trial = 0; trial < 10; ++trial) {
    std::exponential_distribution<double> gap(1.0 / (10 * 60'000.0 * (1 + trial)));
    WindowHistogram histogram;
    std::vector<Event> events;
    int64_t ts = kStart;
    for (int i = 0; i < 3000; ++i) {
      ts += static_cast<int64_t>(gap(rng));
      events.push_back({ts, amount(rng)});
      histogram.Add(ts, events.back().amount);
      if (i < 500 || i % 25 != 0) {
        continue;
      }
      for (int64_t window : kWindowMillis) {
        const WindowAggregate exact = BruteForce(events, ts, window);
        if (exact.count < 20) {
          continue;
        }
        const double error =
            std::abs(histogram.Aggregate(ts, window).count - exact.count) / exact.count;
        errors.push_back(error);
        worst = std::max(worst, error);
      }
    }
  }
  ASSERT_GT(errors.size(), 500u);
  std::sort(errors.begin(), errors.end());
  const double median = errors[errors.size() / 2];
  const double p95 = errors[errors.size() * 95 / 100];
  std::printf("window count relative error: median %.4f p95 %.4f max %.4f over %zu checks\n",
              median, p95, worst, errors.size());
  EXPECT_LT(median, 0.05);
  EXPECT_LT(p95, 0.20);
  EXPECT_LT(worst, 0.50);
}

TEST(FeatureWindowTest, OutOfOrderEventsAreRecordedAtTheNewestTime) {
  WindowHistogram histogram;
  EXPECT_EQ(histogram.Add(kStart, 10), kStart);
  EXPECT_EQ(histogram.Add(kStart + kHourMs, 20), kStart + kHourMs);
  // Two hours in the past: counted at the newest time, still inside the 1 h window.
  EXPECT_EQ(histogram.Add(kStart - 2 * kHourMs, 30), kStart + kHourMs);
  const WindowAggregate hour = histogram.Aggregate(kStart + kHourMs, kHourMs);
  EXPECT_DOUBLE_EQ(hour.count, 2);
  EXPECT_DOUBLE_EQ(hour.sum, 50);
  EXPECT_EQ(histogram.newest_ms(), kStart + kHourMs);
  // Summaries stay ordered, so the state round-trips through Restore.
  std::vector<WindowHistogram::Summary> summaries;
  for (int i = 0; i < histogram.size(); ++i) {
    summaries.push_back(histogram.summary(i));
  }
  WindowHistogram restored;
  EXPECT_TRUE(restored.Restore(summaries.data(), static_cast<int>(summaries.size())));
  EXPECT_DOUBLE_EQ(restored.Aggregate(kStart + kHourMs, kHourMs).sum, 50);
}

TEST(FeatureWindowTest, EventsOlderThanThirtyDaysAreDropped) {
  WindowHistogram histogram;
  histogram.Add(kStart, 10);
  histogram.Add(kStart + 31 * 24 * kHourMs, 20);
  EXPECT_EQ(histogram.size(), 1);
  const WindowAggregate month = histogram.Aggregate(kStart + 31 * 24 * kHourMs, kWindowMillis[3]);
  EXPECT_DOUBLE_EQ(month.count, 1);
  EXPECT_DOUBLE_EQ(month.std, 0);
}

TEST(FeatureWindowTest, RestoreRejectsInvalidSummaries) {
  WindowHistogram::Summary unordered[2] = {{kStart + 10, 0, 1, 5, 0}, {kStart + 20, 15, 2, 5, 0}};
  WindowHistogram histogram;
  EXPECT_FALSE(histogram.Restore(unordered, 2));
  EXPECT_TRUE(histogram.empty());
  WindowHistogram::Summary empty_count[1] = {{kStart, 0, 0, 5, 0}};
  EXPECT_FALSE(histogram.Restore(empty_count, 1));
  EXPECT_FALSE(histogram.Restore(empty_count, WindowHistogram::kCapacity + 1));
}

TEST(FeatureSchemaTest, NamesAreUniqueSnakeCaseAndIndexed) {
  const auto names = FeatureNames();
  ASSERT_EQ(names.size(), kFeatureCount);
  for (size_t i = 0; i < names.size(); ++i) {
    ASSERT_FALSE(names[i].empty()) << i;
    for (char c : names[i]) {
      ASSERT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << names[i];
    }
    EXPECT_EQ(FeatureIndex(names[i]), static_cast<int>(i)) << names[i];
  }
  EXPECT_EQ(FeatureIndex("card_count_24h"),
            static_cast<int>(EntityWindowFeature(EntityType::kCard, 1, WindowStat::kCount)));
  EXPECT_EQ(FeatureIndex("ip_secs_since_prev"),
            static_cast<int>(EntitySecondsSincePreviousFeature(EntityType::kIp)));
  EXPECT_EQ(FeatureIndex("no_such_feature"), -1);
}

TEST(FeatureSchemaTest, ChannelCodes) {
  EXPECT_EQ(ChannelCode("online"), 1.0f);
  EXPECT_EQ(ChannelCode("ECOMMERCE"), 1.0f);
  EXPECT_EQ(ChannelCode("web"), 1.0f);
  EXPECT_EQ(ChannelCode("pos"), 2.0f);
  EXPECT_EQ(ChannelCode("atm"), 3.0f);
  EXPECT_EQ(ChannelCode("Mobile"), 4.0f);
  EXPECT_EQ(ChannelCode("app"), 4.0f);
  EXPECT_EQ(ChannelCode("telephone"), 0.0f);
  EXPECT_TRUE(std::isnan(ChannelCode("")));
}

}  // namespace
}  // namespace fraudguard
