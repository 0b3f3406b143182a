#include <cmath>
#include <numbers>
#include <random>

#include <gtest/gtest.h>

#include "capacity/forecast.h"
#include "capacity/statistics.h"
#include "capacity/time_series.h"

namespace fraudguard::capacity {
namespace {

constexpr double kHour = 3600;
constexpr double kStart = 1767225600;  // 2026-01-01T00:00:00Z, a Thursday

// A straight line plus Gaussian noise, one point an hour.
TimeSeries LinearSeries(
    size_t n, double intercept, double slope_per_hour, double noise_sd, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> noise(0.0, noise_sd);
  TimeSeries series;
  for (size_t i = 0; i < n; ++i) {
    series.timestamps.push_back(kStart + kHour * static_cast<double>(i));
    series.values.push_back(intercept + slope_per_hour * static_cast<double>(i) + noise(random));
  }
  return series;
}

// The true seasonal effect at hour index i: a daily wave peaking mid-afternoon and a weekend
// dip (kStart is a Thursday, so days 2 and 3 of each week are Saturday and Sunday).
double TrueSeasonal(size_t i) {
  const double hour_of_day = static_cast<double>(i % 24);
  const size_t day_of_week = (i / 24) % 7;
  const double daily = 30.0 * std::sin(2 * std::numbers::pi * (hour_of_day - 8) / 24);
  const double weekend = (day_of_week == 2 || day_of_week == 3) ? -25.0 : 0.0;
  return daily + weekend;
}

TimeSeries SeasonalSeries(size_t n, double slope_per_hour, double noise_sd, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> noise(0.0, noise_sd);
  TimeSeries series;
  for (size_t i = 0; i < n; ++i) {
    series.timestamps.push_back(kStart + kHour * static_cast<double>(i));
    series.values.push_back(300.0 + slope_per_hour * static_cast<double>(i) + TrueSeasonal(i) +
                            noise(random));
  }
  return series;
}

TEST(StudentT, QuantilesMatchTables) {
  EXPECT_NEAR(StudentTQuantile(0.975, 1), 12.7062, 1e-4);
  EXPECT_NEAR(StudentTQuantile(0.975, 10), 2.2281, 1e-4);
  EXPECT_NEAR(StudentTQuantile(0.975, 28), 2.0484, 1e-4);
  EXPECT_NEAR(StudentTQuantile(0.975, 1e6), 1.9600, 1e-4);
  EXPECT_NEAR(StudentTQuantile(0.025, 10), -2.2281, 1e-4);
  EXPECT_NEAR(StudentTCdf(2.2281388, 10), 0.975, 1e-6);
}

TEST(LinearForecast, RecoversSlopeWithinOnePercent) {
  const TimeSeries series = LinearSeries(500, 120.0, 0.5, 3.0, 7);
  auto fit = FitLinear(series);
  ASSERT_TRUE(fit) << fit.error();
  const double slope_per_hour = fit->slope_per_second * kHour;
  std::printf("linear slope: %.5f per hour against 0.5 (error %.3f %%)\n", slope_per_hour,
              100 * std::abs(slope_per_hour - 0.5) / 0.5);
  // The slope's standard error here is about 0.2 % of it; 1 % is five of them.
  EXPECT_NEAR(slope_per_hour, 0.5, 0.005);
  EXPECT_NEAR(fit->residual_sd, 3.0, 0.3);
}

TEST(LinearForecast, PredictionIntervalWidensAwayFromTheDataAndExceedsTheMeansInterval) {
  const TimeSeries series = LinearSeries(40, 10.0, 1.0, 2.0, 3);
  auto fit = FitLinear(series);
  ASSERT_TRUE(fit);
  const double last = series.timestamps.back();
  const auto points = ForecastLinear(*fit, {last + kHour, last + 100 * kHour});
  const double near_width = points[0].upper - points[0].lower;
  const double far_width = points[1].upper - points[1].lower;
  EXPECT_GT(far_width, near_width);
  // Even next to the data the interval holds a new observation's own noise: at least
  // 2 * t * s, where the mean's interval would be a fraction of that.
  const double t = StudentTQuantile(0.975, 38);
  EXPECT_GT(near_width, 2 * t * fit->residual_sd);
}

TEST(LinearForecast, IntervalsCoverAbout95PercentOfHeldOutPoints) {
  size_t inside = 0;
  size_t total = 0;
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    const TimeSeries all = LinearSeries(60, 50.0, 0.3, 5.0, seed);
    TimeSeries history;
    history.timestamps.assign(all.timestamps.begin(), all.timestamps.begin() + 45);
    history.values.assign(all.values.begin(), all.values.begin() + 45);
    auto forecast = FitAndForecast(ModelKind::kLinear, history, 15);
    ASSERT_TRUE(forecast);
    for (size_t k = 0; k < 15; ++k) {
      const double actual = all.values[45 + k];
      inside += (actual >= (*forecast)[k].lower && actual <= (*forecast)[k].upper) ? 1 : 0;
      ++total;
    }
  }
  const double coverage = static_cast<double>(inside) / static_cast<double>(total);
  std::printf("linear interval coverage over %zu held-out points: %.4f\n", total, coverage);
  EXPECT_GT(coverage, 0.93);
  EXPECT_LT(coverage, 0.97);
}

TEST(HoltWinters, RecoversTrendAndWeeklySeasonalShape) {
  const double slope = 0.05;  // per hour
  const TimeSeries series = SeasonalSeries(6 * 168, slope, 4.0, 11);
  auto fit = FitHoltWinters(series);
  ASSERT_TRUE(fit) << fit.error();
  EXPECT_EQ(fit->daily_period, 24u);
  EXPECT_EQ(fit->weekly_period, 168u);
  // Trend per hour within 0.02 (the level's drift over a week stays under 3.4).
  std::printf("holt-winters trend: %.4f per hour against %.2f\n", fit->trend, slope);
  EXPECT_NEAR(fit->trend, slope, 0.02);

  // The fitted seasonal effect over the next week against the true one, both centred.
  const size_t n = series.size();
  std::vector<double> fitted(168);
  std::vector<double> truth(168);
  double fitted_mean = 0;
  double truth_mean = 0;
  for (size_t h = 0; h < 168; ++h) {
    fitted[h] = fit->daily[h % 24] + fit->weekly[h % 168];
    truth[h] = TrueSeasonal(n - 1 + h);
    fitted_mean += fitted[h] / 168;
    truth_mean += truth[h] / 168;
  }
  double squared = 0;
  double worst = 0;
  for (size_t h = 0; h < 168; ++h) {
    const double error = (fitted[h] - fitted_mean) - (truth[h] - truth_mean);
    squared += error * error;
    worst = std::max(worst, std::abs(error));
  }
  const double rms = std::sqrt(squared / 168);
  std::printf("seasonal shape: RMS error %.3f, worst %.3f (amplitude 30, noise sd 4)\n", rms,
              worst);
  EXPECT_LT(rms, 3.0);
  EXPECT_LT(worst, 9.0);
}

TEST(HoltWinters, DailySeasonOnlyWhenShorterThanTwoWeeks) {
  const TimeSeries series = SeasonalSeries(10 * 24, 0.0, 2.0, 5);
  auto fit = FitHoltWinters(series);
  ASSERT_TRUE(fit);
  EXPECT_EQ(fit->daily_period, 24u);
  EXPECT_EQ(fit->weekly_period, 0u);
}

TEST(HoltWinters, RefusesIrregularSeries) {
  TimeSeries series = SeasonalSeries(100, 0.0, 2.0, 5);
  series.timestamps.erase(series.timestamps.begin() + 50);
  series.values.erase(series.values.begin() + 50);
  auto fit = FitHoltWinters(series);
  ASSERT_FALSE(fit);
  EXPECT_NE(fit.error().find("evenly spaced"), std::string::npos);
}

TEST(HoltWinters, IntervalsCoverAbout95PercentOfHeldOutPointsOverManyBacktests) {
  size_t inside = 0;
  size_t total = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const TimeSeries series = SeasonalSeries(5 * 168, 0.02, 4.0, 1000 + seed);
    auto score = Backtest(ModelKind::kHoltWinters, series, 48, 3);
    ASSERT_TRUE(score) << score.error();
    inside +=
        static_cast<size_t>(std::lround(score->coverage * static_cast<double>(score->points)));
    total += score->points;
  }
  const double coverage = static_cast<double>(inside) / static_cast<double>(total);
  std::printf("holt-winters interval coverage over %zu held-out points: %.4f\n", total, coverage);
  EXPECT_GT(coverage, 0.90);
  EXPECT_LT(coverage, 0.99);
}

TEST(ForecastSeries, ChoosesHoltWintersForSeasonalTrafficAndShowsWhy) {
  const TimeSeries series = SeasonalSeries(4 * 168, 0.05, 4.0, 21);
  auto report = ForecastSeries(series, 7 * 86400);
  ASSERT_TRUE(report) << report.error();
  ASSERT_EQ(report->models.size(), 2u);
  EXPECT_EQ(report->Chosen().kind, ModelKind::kHoltWinters);
  EXPECT_NE(report->choice_reason.find("RMSE"), std::string::npos);
  EXPECT_EQ(report->horizon_steps, 168u);
  EXPECT_EQ(report->Chosen().forecast.size(), 168u);
  EXPECT_LT(report->models[1].backtest.rmse, report->models[0].backtest.rmse);
  for (const ForecastPoint& point : report->Chosen().forecast) {
    EXPECT_LE(point.lower, point.value);
    EXPECT_GE(point.upper, point.value);
  }
}

TEST(ForecastSeries, ChoosesLinearForATrendWithoutSeasons) {
  const TimeSeries series = LinearSeries(200, 100.0, 0.4, 3.0, 9);
  auto report = ForecastSeries(series, 48 * kHour);
  ASSERT_TRUE(report) << report.error();
  // Holt-Winters can only tie a straight line here; whichever wins must score well.
  EXPECT_LT(report->Chosen().backtest.rmse, 5.0);
  EXPECT_NEAR(report->linear.slope_per_second * kHour, 0.4, 0.02);
}

TEST(ForecastSeries, ATieGoesToTheSimplerModel) {
  // A noiseless line: both models backtest to rounding error, and the line is kept.
  const TimeSeries series = LinearSeries(40, 5.0, 0.1, 1e-9, 1);
  auto report = ForecastSeries(series, 5 * kHour);
  ASSERT_TRUE(report) << report.error();
  EXPECT_EQ(report->Chosen().kind, ModelKind::kLinear) << report->choice_reason;
  EXPECT_EQ(report->choice_reason.rfind("linear: ", 0), 0u);
}

TEST(ForecastSeries, RefusesFewerThan30Points) {
  const TimeSeries series = LinearSeries(29, 1.0, 1.0, 0.1, 1);
  auto report = ForecastSeries(series, 10 * kHour);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error(), "need at least 30 points to forecast, got 29");
  EXPECT_TRUE(ForecastSeries(LinearSeries(30, 1.0, 1.0, 0.1, 1), 10 * kHour));
}

TEST(ForecastSeries, RefusesHorizonShorterThanAStep) {
  const TimeSeries series = LinearSeries(40, 1.0, 1.0, 0.1, 1);
  EXPECT_FALSE(ForecastSeries(series, 60));
  EXPECT_FALSE(ForecastSeries(series, 1e9));
}

}  // namespace
}  // namespace fraudguard::capacity
