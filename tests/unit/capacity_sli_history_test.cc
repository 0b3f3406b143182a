#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "api/fraud_service.h"
#include "capacity/sli_history.h"
#include "core/clock.h"
#include "slo/sli_recorder.h"

namespace fraudguard::capacity {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kStartMs = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
constexpr int kHours = 40;

class SliHistoryTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/fraudguard-capacity-sli-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    SliRecorderOptions options;
    options.path = dir_ + "/sli.db";
    options.routes = RouteLabels();
    options.start_writer = false;
    auto recorder = SliRecorder::Open(options, clock_);
    ASSERT_TRUE(recorder) << recorder.error();
    const size_t analyze = static_cast<size_t>(Route::kAnalyze);
    const size_t batch = static_cast<size_t>(Route::kAnalyzeBatch);
    const size_t health = static_cast<size_t>(Route::kHealth);
    // Each hour: 100 + 10h single analyses at minute 0 and 5 batches at minute 30, plus health
    // checks that must not count. Hour 20 has no traffic at all.
    for (int hour = 0; hour < kHours; ++hour) {
      if (hour == 20) {
        continue;
      }
      clock_.Set(kStartMs + hour * 60 * kMinuteMs);
      for (int i = 0; i < 100 + 10 * hour; ++i) {
        (*recorder)->Record(analyze, 200, 0.001);
      }
      for (int i = 0; i < 50; ++i) {
        (*recorder)->Record(health, 200, 0.001);
      }
      ASSERT_TRUE((*recorder)->Flush());
      clock_.Advance(30 * kMinuteMs);
      for (int i = 0; i < 5; ++i) {
        (*recorder)->Record(batch, 200, 0.002);
      }
      ASSERT_TRUE((*recorder)->Flush());
    }
    ASSERT_TRUE((*recorder)->Close());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SliHistoryRequest Request() const {
    SliHistoryRequest request;
    request.data_dir = dir_;
    request.routes = DefaultSliRoutes();
    request.start = kStartMs / 1000.0;
    request.end = request.start + kHours * 3600.0;
    request.step_seconds = 3600;
    return request;
  }

  std::string dir_;
  ManualClock clock_{kStartMs};
};

TEST_F(SliHistoryTest, HourlyRequestRateOfTheScoringRoutes) {
  auto series = LoadSliRequestRate(Request());
  ASSERT_TRUE(series) << series.error();
  ASSERT_EQ(series->size(), static_cast<size_t>(kHours));
  EXPECT_TRUE(series->IsRegular());
  EXPECT_DOUBLE_EQ(series->timestamps[0], kStartMs / 1000.0);
  for (int hour = 0; hour < kHours; ++hour) {
    const double expected = hour == 20 ? 0.0 : (100 + 10 * hour + 5) / 3600.0;
    EXPECT_NEAR(series->values[static_cast<size_t>(hour)], expected, 1e-12) << hour;
  }
  EXPECT_TRUE(RequireForecastable(*series));
}

TEST_F(SliHistoryTest, RouteFilterAndTrimmedEdges) {
  SliHistoryRequest request = Request();
  request.routes = {"/api/v1/fraud/analyze/batch"};
  request.start -= 5 * 3600;  // five empty hours before the first row are left out
  auto series = LoadSliRequestRate(request);
  ASSERT_TRUE(series) << series.error();
  ASSERT_EQ(series->size(), static_cast<size_t>(kHours));
  EXPECT_NEAR(series->values[0], 5 / 3600.0, 1e-12);
}

TEST_F(SliHistoryTest, RefusesBadRequests) {
  SliHistoryRequest request = Request();
  request.data_dir = dir_ + "/missing";
  auto missing = LoadSliRequestRate(request);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("no SLI store at"), std::string::npos);

  request = Request();
  request.routes = {"/nope"};
  auto route = LoadSliRequestRate(request);
  ASSERT_FALSE(route);
  EXPECT_EQ(route.error(), "--route '/nope' is not a FraudGuard route");

  request = Request();
  request.step_seconds = 90;
  EXPECT_FALSE(LoadSliRequestRate(request));
  request = Request();
  request.end = request.start;
  EXPECT_FALSE(LoadSliRequestRate(request));
}

}  // namespace
}  // namespace fraudguard::capacity
