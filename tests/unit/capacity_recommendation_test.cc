#include <gtest/gtest.h>

#include "capacity/chart.h"
#include "capacity/recommendation.h"

namespace fraudguard::capacity {
namespace {

std::vector<ForecastPoint> Ramp(double from, double to, double half_width) {
  std::vector<ForecastPoint> points;
  for (int i = 0; i <= 10; ++i) {
    const double value = from + (to - from) * i / 10.0;
    points.push_back({1000.0 + 3600.0 * i, value, value - half_width, value + half_width});
  }
  return points;
}

TEST(Recommendation, RequestsSizeReplicasFromTheUpperBoundAtSeventyPercent) {
  RecommendationInput input;
  input.resource = Resource::kRequests;
  input.current_replicas = 5;
  input.replica = {1000, "test"};
  auto out = Recommend(Ramp(2000, 4900, 100), input);
  ASSERT_TRUE(out) << out.error();
  EXPECT_DOUBLE_EQ(out->current_capacity, 5000);
  EXPECT_DOUBLE_EQ(out->forecast_peak_upper, 5000);
  EXPECT_DOUBLE_EQ(out->forecast_peak_time, 1000.0 + 36000);
  EXPECT_NEAR(out->recommended_capacity, 5000 / 0.7, 1e-9);
  EXPECT_EQ(out->recommended_replicas, 8);  // ceil(7142.9 / 1000)
  EXPECT_NEAR(out->scaling_factor, 5000 / 0.7 / 5000, 1e-12);
  EXPECT_TRUE(out->action_required);
  // The upper bound first passes 3500 (70 % of 5000) at the point valued 3450 + 100.
  EXPECT_DOUBLE_EQ(out->first_breach_time, 1000.0 + 3600 * 5);
}

TEST(Recommendation, ExactlySeventyPercentNeedsNoAction) {
  RecommendationInput input;
  input.resource = Resource::kCpu;
  input.current_capacity = 10;  // cores
  auto out = Recommend(Ramp(6.0, 7.0, 0.0), input);
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->action_required);
  EXPECT_DOUBLE_EQ(out->recommended_capacity, 10.0);
  EXPECT_DOUBLE_EQ(out->scaling_factor, 1.0);
  EXPECT_EQ(out->first_breach_time, 0);
  EXPECT_EQ(out->recommended_replicas, 0);
}

TEST(Recommendation, RefusesMissingCapacities) {
  RecommendationInput cpu;
  cpu.resource = Resource::kMemory;
  auto no_capacity = Recommend(Ramp(1, 2, 0), cpu);
  ASSERT_FALSE(no_capacity);
  EXPECT_EQ(no_capacity.error(), "--current-capacity (in bytes) is required for memory");

  RecommendationInput requests;
  requests.current_replicas = 5;
  EXPECT_FALSE(Recommend(Ramp(1, 2, 0), requests));  // no per-replica rate
  requests.replica = {1000, "test"};
  requests.current_replicas = 0;
  EXPECT_FALSE(Recommend(Ramp(1, 2, 0), requests));
  requests.current_replicas = 1;
  requests.target_utilisation = 1.5;
  EXPECT_FALSE(Recommend(Ramp(1, 2, 0), requests));
  EXPECT_FALSE(Recommend({}, requests));
}

TEST(BenchmarkPage, ReadsTheFraudGuardRow) {
  const char* page =
      "| server | requests/s | p50 |\n|---|---:|---:|\n| nginx (fixed body) | 61,234 | 1 µs |\n"
      "| fraudguard serve | 48,910 | 250 µs |\n";
  auto rps = ParseBenchmarkRequestsPerSecond(page);
  ASSERT_TRUE(rps) << rps.error();
  EXPECT_DOUBLE_EQ(*rps, 48910);
  EXPECT_FALSE(ParseBenchmarkRequestsPerSecond("| nginx (fixed body) | 1 |\n"));
  auto bad = ParseBenchmarkRequestsPerSecond("| fraudguard serve | fast | 1 |\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("is not a number"), std::string::npos);
  EXPECT_FALSE(ReadReplicaCapacity("/nonexistent/benchmarks.md"));
}

TEST(Resources, NamesRoundTrip) {
  for (const Resource r :
       {Resource::kRequests, Resource::kCpu, Resource::kMemory, Resource::kStorage}) {
    auto parsed = ParseResource(ResourceName(r));
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_FALSE(ParseResource("disk"));
}

TEST(Chart, DrawsHistoryForecastBandAndCapacityLines) {
  TimeSeries history;
  for (int i = 0; i < 5000; ++i) {  // more points than pixels: thinned, peaks kept
    history.timestamps.push_back(3600.0 * i);
    history.values.push_back(i == 2500 ? 900.0 : 100.0 + i % 7);
  }
  std::vector<ForecastPoint> forecast;
  for (int i = 1; i <= 24; ++i) {
    forecast.push_back({3600.0 * (4999 + i), 110, 90, 130});
  }
  ChartOptions options;
  options.title = "requests <test>";
  options.unit = "requests/s";
  options.capacity = 1000;
  options.target_level = 700;
  const std::string svg = RenderForecastSvg(history, forecast, options);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("requests &lt;test&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<polygon"), std::string::npos);
  EXPECT_NE(svg.find("current capacity 1000"), std::string::npos);
  EXPECT_NE(svg.find("target utilisation 700"), std::string::npos);
  EXPECT_LT(svg.size(), 200000u);  // thinned to the plot's width
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

}  // namespace
}  // namespace fraudguard::capacity
