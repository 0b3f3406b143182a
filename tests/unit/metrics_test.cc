#include "telemetry/metrics.h"

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

TEST(Metrics, RendersCountersWithEscapedLabels) {
  MetricsRegistry registry;
  auto& requests = registry.AddCounter("http_requests_total", "Requests.", {"route", "status"});
  requests.WithLabels({"/a\"b", "200"}).Increment();
  requests.WithLabels({"/a\"b", "200"}).Increment(2);
  std::string out;
  registry.Render(out);
  EXPECT_NE(out.find("# TYPE http_requests_total counter\n"), std::string::npos);
  EXPECT_NE(out.find("http_requests_total{route=\"/a\\\"b\",status=\"200\"} 3\n"),
            std::string::npos)
      << out;
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry registry;
  auto& latency = registry.AddHistogram("latency_seconds", "Latency.", {0.1, 1.0});
  auto& child = latency.WithLabels({});
  child.Observe(0.05);
  child.Observe(0.1);  // an observation equal to a bound falls in that bucket
  child.Observe(0.5);
  child.Observe(7);
  EXPECT_EQ(child.CumulativeCount(0), 2U);
  EXPECT_EQ(child.CumulativeCount(1), 3U);
  EXPECT_EQ(child.CumulativeCount(2), 4U);
  std::string out;
  registry.Render(out);
  EXPECT_NE(out.find("latency_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("latency_seconds_count 4\n"), std::string::npos) << out;
  EXPECT_NE(out.find("latency_seconds_sum 7.65\n"), std::string::npos) << out;
}

TEST(Metrics, CollectorsRunBeforeRendering) {
  MetricsRegistry registry;
  auto& keys = registry.AddGauge("feature_state_keys", "Keys.", {"entity"});
  int calls = 0;
  registry.AddCollector([&] {
    ++calls;
    keys.WithLabels({"card"}).Set(42);
  });
  std::string out;
  registry.Render(out);
  EXPECT_EQ(calls, 1);
  EXPECT_NE(out.find("feature_state_keys{entity=\"card\"} 42\n"), std::string::npos) << out;
}

TEST(Metrics, ProcessMetricsReadProc) {
  MetricsRegistry registry;
  AddProcessMetrics(registry);
  std::string out;
  registry.Render(out);
  const auto pos = out.find("\nprocess_resident_memory_bytes ");
  ASSERT_NE(pos, std::string::npos);
  EXPECT_GT(std::stod(out.substr(pos + 31)), 1e6);
}

}  // namespace
}  // namespace fraudguard
