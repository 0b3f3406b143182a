#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "api/history_codec.h"
#include "slo/sli_history_query.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinute = 60'000;
// 2026-11-01 00:00 UTC, a whole hour and a whole day.
constexpr int64_t kStartMs = 1'793'491'200'000;
constexpr int64_t kStartMinute = kStartMs / kMinute;

// Counts with `total` requests, `bad` of them 5xx, all in the bucket of `bound` seconds.
SliCounts CountsAt(uint64_t total, uint64_t bad, double bound) {
  const std::vector<double> bounds = LatencyBucketsSeconds();
  SliCounts counts;
  counts.total = total;
  counts.bad = bad;
  counts.buckets.assign(bounds.size() + 1, 0);
  const auto index =
      static_cast<size_t>(std::find(bounds.begin(), bounds.end(), bound) - bounds.begin());
  counts.buckets[index] = total;
  return counts;
}

class SliHistoryQueryTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/fraudguard-history-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    SliRecorderOptions options;
    options.path = dir_ + "/sli.db";
    options.routes = {"score", "read"};
    options.start_writer = false;
    options.minute_retention_days = 1;
    options.hourly_retention_days = 30;
    auto opened = SliRecorder::Open(options, clock_);
    ASSERT_TRUE(opened) << opened.error();
    recorder_ = std::move(opened).value();
  }
  void TearDown() override {
    recorder_.reset();
    std::filesystem::remove_all(dir_);
  }

  History Query(HistoryRange range, std::vector<std::string> routes = {"score"}) {
    auto history = QuerySliHistory(*recorder_, range, routes, clock_.NowMillis());
    EXPECT_TRUE(history) << history.error();
    return history ? std::move(history).value() : History{};
  }

  std::string dir_;
  ManualClock clock_{kStartMs};
  std::unique_ptr<SliRecorder> recorder_;
};

TEST(QuantileFromBucketsTest, InterpolatesInsideTheBucketThatHoldsTheRank) {
  const std::vector<double> bounds = {0.01, 0.1, 1.0};
  // 50 requests up to 10 ms, 50 from 10 to 100 ms, none slower.
  const std::vector<double> buckets = {50, 50, 0, 0};
  EXPECT_DOUBLE_EQ(QuantileFromBuckets(buckets, bounds, 0.5), 0.01);
  EXPECT_DOUBLE_EQ(QuantileFromBuckets(buckets, bounds, 0.25), 0.005);
  EXPECT_DOUBLE_EQ(QuantileFromBuckets(buckets, bounds, 0.95), 0.01 + 0.09 * 0.9);
  // In the +Inf bucket the answer is the highest finite bound.
  EXPECT_DOUBLE_EQ(QuantileFromBuckets({0, 0, 0, 4}, bounds, 0.99), 1.0);
  EXPECT_TRUE(std::isnan(QuantileFromBuckets({0, 0, 0, 0}, bounds, 0.5)));
}

TEST_F(SliHistoryQueryTest, EmptyStoreGivesEveryStepWithNoRequests) {
  for (const HistoryRange range : {HistoryRange::kHour, HistoryRange::kDay, HistoryRange::kWeek}) {
    const History history = Query(range);
    const HistoryRangeSpec& spec = HistoryRangeSpecOf(range);
    ASSERT_EQ(history.points.size(), static_cast<size_t>(spec.points)) << spec.name;
    EXPECT_EQ(history.total.requests, 0);
    EXPECT_TRUE(std::isnan(history.total.error_ratio));
    EXPECT_TRUE(std::isnan(history.points.back().p95_seconds));
  }
}

TEST_F(SliHistoryQueryTest, BucketsMinutesIntoStepsWithRatesErrorsAndPercentiles) {
  clock_.Set(kStartMs + 2 * 3600 * kMinute / 60 + 30'000);  // 02:00:30, the day range's 9th step
  std::vector<SliRow> rows;
  // 01:45 to 01:59: 60 requests a minute, 10 ms; one bad request in each.
  for (int64_t m = 105; m < 120; ++m) {
    rows.push_back({kStartMinute + m, "score", CountsAt(60, 1, 0.01)});
  }
  rows.push_back({kStartMinute + 110, "read", CountsAt(1000, 1000, 1.0)});  // another route
  rows.push_back({kStartMinute + 120, "score", CountsAt(15, 0, 0.1)});  // the minute in progress
  ASSERT_TRUE(recorder_->AddRows(rows));

  const History day = Query(HistoryRange::kDay);
  ASSERT_EQ(day.step_minutes, 15);
  ASSERT_EQ(day.points.size(), 96u);
  const HistoryPoint& full = day.points[day.points.size() - 2];  // 01:45 to 02:00
  EXPECT_EQ(full.start_minute, kStartMinute + 105);
  EXPECT_EQ(full.requests, 900);
  EXPECT_EQ(full.bad, 15);
  EXPECT_DOUBLE_EQ(full.requests_per_second, 900.0 / 900);
  EXPECT_DOUBLE_EQ(full.error_ratio, 15.0 / 900);
  // All in the 5 ms to 10 ms bucket: interpolated inside it.
  EXPECT_DOUBLE_EQ(full.p50_seconds, 0.005 + 0.005 * 0.5);
  EXPECT_DOUBLE_EQ(full.p99_seconds, 0.005 + 0.005 * 0.99);
  const HistoryPoint& now = day.points.back();  // 02:00, 30 s elapsed
  EXPECT_EQ(now.requests, 15);
  EXPECT_DOUBLE_EQ(now.seconds, 30);
  EXPECT_DOUBLE_EQ(now.requests_per_second, 0.5);
  EXPECT_EQ(day.total.requests, 915);

  const History both =
      QuerySliHistory(*recorder_, HistoryRange::kDay, {}, clock_.NowMillis()).value();
  EXPECT_EQ(both.total.requests, 1915);
  EXPECT_EQ(both.total.bad, 1015);

  const History hour = Query(HistoryRange::kHour);
  ASSERT_EQ(hour.points.size(), 60u);
  EXPECT_EQ(hour.points.back().start_minute, kStartMinute + 120);
  EXPECT_EQ(hour.points[hour.points.size() - 2].requests, 60);
}

TEST_F(SliHistoryQueryTest, GapsAreStepsWithoutRequests) {
  clock_.Set(kStartMs + 10 * kMinute);
  ASSERT_TRUE(recorder_->AddRows({{kStartMinute + 3, "score", CountsAt(6, 0, 0.01)},
                                  {kStartMinute + 7, "score", CountsAt(12, 0, 0.01)}}));
  const History hour = Query(HistoryRange::kHour);
  const auto& points = hour.points;
  ASSERT_EQ(points.back().start_minute, kStartMinute + 10);
  EXPECT_EQ(points[points.size() - 8].requests, 6);  // minute 3
  EXPECT_EQ(points[points.size() - 5].requests, 0);  // minute 6: no row
  EXPECT_TRUE(std::isnan(points[points.size() - 5].error_ratio));
  EXPECT_EQ(points[points.size() - 4].requests, 12);  // minute 7
  EXPECT_DOUBLE_EQ(points[points.size() - 4].requests_per_second, 0.2);
}

TEST_F(SliHistoryQueryTest, ReadsHourlyRowsAcrossTheRollUpBoundary) {
  // Minute retention is one day: rows from two days ago are rolled into hourly rows.
  const int64_t old_hour = kStartMinute;  // 00:00 on day one
  ASSERT_TRUE(recorder_->AddRows({{old_hour + 5, "score", CountsAt(120, 0, 0.01)},
                                  {old_hour + 50, "score", CountsAt(120, 12, 0.01)}}));
  clock_.Set(kStartMs + (2 * 24 * 60 + 30) * kMinute);  // day three, 00:30
  ASSERT_TRUE(recorder_->Flush());                      // rolls up
  ASSERT_TRUE(recorder_->ReadMinutes(0, INT64_MAX)->empty());
  ASSERT_EQ(recorder_->ReadHours(0, INT64_MAX)->size(), 1u);
  // A minute row a day later stays in minutes.
  ASSERT_TRUE(recorder_->AddRows({{old_hour + 2 * 24 * 60 + 10, "score", CountsAt(30, 0, 0.1)}}));

  const History week = Query(HistoryRange::kWeek);
  ASSERT_EQ(week.step_minutes, 60);
  const auto hourly =
      std::find_if(week.points.begin(), week.points.end(),
                   [&](const HistoryPoint& p) { return p.start_minute == old_hour; });
  ASSERT_NE(hourly, week.points.end());
  EXPECT_EQ(hourly->requests, 240);
  EXPECT_EQ(hourly->bad, 12);
  EXPECT_TRUE(hourly->from_hourly_rows);
  EXPECT_FALSE(week.points.back().from_hourly_rows);
  EXPECT_EQ(week.points.back().requests, 30);
  EXPECT_EQ(week.total.requests, 270);

  // The day range starts at 00:45 on day two: the old hour is outside it.
  const History day = Query(HistoryRange::kDay);
  EXPECT_EQ(day.total.requests, 30);

  // 15-minute steps spread an hourly row evenly: a quarter of it in each.
  clock_.Set(kStartMs + (23 * 60 + 50) * kMinute);  // day one, 23:50: the old hour is in range
  const History spread = Query(HistoryRange::kDay);
  const auto first =
      std::find_if(spread.points.begin(), spread.points.end(),
                   [&](const HistoryPoint& p) { return p.start_minute == old_hour; });
  ASSERT_NE(first, spread.points.end());
  for (int i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(first[i].requests, 60) << i;
    EXPECT_TRUE(first[i].from_hourly_rows);
  }
  EXPECT_DOUBLE_EQ(first[0].error_ratio, 0.05);
}

TEST_F(SliHistoryQueryTest, AddRowsRefusesAnUnknownRoute) {
  EXPECT_FALSE(recorder_->AddRows({{kStartMinute, "nope", CountsAt(1, 0, 0.01)}}));
  EXPECT_TRUE(recorder_->ReadMinutes(0, INT64_MAX)->empty());
}

TEST(HistoryRoutesTest, GroupsFollowTheSloSections) {
  const SloConfig config = DefaultSloConfig();
  const auto scoring = HistoryRoutes(HistoryRouteGroup::kScoring, config);
  EXPECT_EQ(scoring,
            (std::vector<std::string>{"/api/v1/fraud/analyze", "/api/v1/fraud/analyze/batch"}));
  const auto dashboard = HistoryRoutes(HistoryRouteGroup::kDashboard, config);
  EXPECT_NE(std::find(dashboard.begin(), dashboard.end(), "/api/v1/slo"), dashboard.end());
  EXPECT_TRUE(HistoryRoutes(HistoryRouteGroup::kAll, config).empty());
}

TEST(HistoryCodecTest, DecodesTheParametersAndNamesTheBadOne) {
  HistoryRequest request;
  RequestError error;
  ASSERT_TRUE(DecodeHistoryQuery("range=7d&routes=dashboard", request, error));
  EXPECT_EQ(request.range, HistoryRange::kWeek);
  EXPECT_EQ(request.routes, HistoryRouteGroup::kDashboard);
  ASSERT_TRUE(DecodeHistoryQuery("routes=all&range=24h", request, error));
  EXPECT_EQ(request.range, HistoryRange::kDay);

  const std::pair<std::string, std::string> bad[] = {
      {"", "range"},                   // missing
      {"routes=all", "range"},         // missing
      {"range=2h", "range"},           // not one of the ranges
      {"range=", "range"},             // empty
      {"range=1h&range=7d", "range"},  // twice
      {"range=1h&routes=payments", "routes"},
      {"range=1h&routes=all&routes=all", "routes"},
      {"range=1h&step=60", "step"},                    // unknown parameter
      {"range=1h&" + std::string(300, 'x'), "query"},  // too long
  };
  for (const auto& [query, field] : bad) {
    RequestError refused;
    EXPECT_FALSE(DecodeHistoryQuery(query, request, refused)) << query;
    EXPECT_EQ(refused.field, field) << query;
    EXPECT_FALSE(refused.message.empty());
  }
}

}  // namespace
}  // namespace fraudguard
