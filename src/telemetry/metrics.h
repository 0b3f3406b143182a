// An in-process metrics registry that renders the Prometheus text exposition format 0.0.4.
//
// Families are registered once at start-up; a labelled child is looked up (or created) by its
// label values and the pointer can be kept, so the request path only touches atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace fraudguard {

class Counter {
public:
  void Increment(double delta = 1.0) { value_.fetch_add(delta, std::memory_order_relaxed); }
  // For counters mirrored from a total kept elsewhere (CPU seconds, bytes written).
  void SetTotal(double total) { value_.store(total, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> value_{0.0};
};

class Gauge {
public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

private:
  std::atomic<double> value_{0.0};
};

class Histogram {
public:
  // `upper_bounds` must be sorted ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Cumulative count of observations <= upper_bounds()[i]; i == size() gives the total count.
  uint64_t CumulativeCount(size_t i) const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

private:
  std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // non-cumulative, one per bound + Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// A metric name with a fixed list of label names and one child per distinct label value tuple.
template <typename Metric>
class Family {
public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<Metric>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}

  // Returns the child for these label values (in label-name order), creating it when new.
  Metric& WithLabels(const std::vector<std::string_view>& values);
  Metric& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::vector<std::string_view>(values));
  }

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls `visit(label_values, metric)` for every child, in label order.
  void ForEach(
      const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const;

private:
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Metric>> children_;
};

// Default latency buckets in seconds: fine below a millisecond for the server's own time, and
// edges at the 10, 50 and 100 ms objectives.
std::vector<double> LatencyBucketsSeconds();

class MetricsRegistry {
public:
  Family<Counter>& AddCounter(std::string name,
                              std::string help,
                              std::vector<std::string> label_names = {});
  Family<Gauge>& AddGauge(std::string name,
                          std::string help,
                          std::vector<std::string> label_names = {});
  Family<Histogram>& AddHistogram(std::string name,
                                  std::string help,
                                  std::vector<double> buckets,
                                  std::vector<std::string> label_names = {});
  // A callback run before each rendering, to refresh gauges from other components' stats.
  void AddCollector(std::function<void()> collect);

  // Writes every family in the text exposition format.
  void Render(std::string& out) const;

private:
  struct Entry {
    std::string name;
    std::string help;
    MetricType type;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::function<void()>> collectors_;
};

// Refreshes process_* gauges (CPU seconds, resident and virtual memory, open file descriptors,
// start time) from /proc; registered as a collector by AddProcessMetrics.
void AddProcessMetrics(MetricsRegistry& registry);

}  // namespace fraudguard
