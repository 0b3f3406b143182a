#include "telemetry/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/json_writer.h"

namespace fraudguard {

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(new std::atomic<uint64_t>[upper_bounds_.size() + 1]) {
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    bucket_counts_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double value) {
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  const auto index = static_cast<size_t>(it - upper_bounds_.begin());
  bucket_counts_[index].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t b = 0; b <= i && b <= upper_bounds_.size(); ++b) {
    total += bucket_counts_[b].load(std::memory_order_relaxed);
  }
  return total;
}

template <typename Metric>
Metric& Family<Metric>::WithLabels(const std::vector<std::string_view>& values) {
  std::vector<std::string> key(values.begin(), values.end());
  key.resize(label_names_.size());
  {
    std::shared_lock lock(mutex_);
    const auto it = children_.find(key);
    if (it != children_.end()) {
      return *it->second;
    }
  }
  std::unique_lock lock(mutex_);
  auto& slot = children_[key];
  if (!slot) {
    slot = make_();
  }
  return *slot;
}

template <typename Metric>
void Family<Metric>::ForEach(
    const std::function<void(const std::vector<std::string>&, const Metric&)>& visit) const {
  std::shared_lock lock(mutex_);
  for (const auto& [labels, metric] : children_) {
    visit(labels, *metric);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::vector<double> LatencyBucketsSeconds() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,    0.025,    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0};
}

Family<Counter>& MetricsRegistry::AddCounter(std::string name,
                                             std::string help,
                                             std::vector<std::string> label_names) {
  auto entry = std::make_unique<Entry>();
  entry->name = std::move(name);
  entry->help = std::move(help);
  entry->type = MetricType::kCounter;
  entry->counters = std::make_unique<Family<Counter>>(std::move(label_names),
                                                      [] { return std::make_unique<Counter>(); });
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return *entries_.back()->counters;
}

Family<Gauge>& MetricsRegistry::AddGauge(std::string name,
                                         std::string help,
                                         std::vector<std::string> label_names) {
  auto entry = std::make_unique<Entry>();
  entry->name = std::move(name);
  entry->help = std::move(help);
  entry->type = MetricType::kGauge;
  entry->gauges = std::make_unique<Family<Gauge>>(std::move(label_names),
                                                  [] { return std::make_unique<Gauge>(); });
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return *entries_.back()->gauges;
}

Family<Histogram>& MetricsRegistry::AddHistogram(std::string name,
                                                 std::string help,
                                                 std::vector<double> buckets,
                                                 std::vector<std::string> label_names) {
  auto entry = std::make_unique<Entry>();
  entry->name = std::move(name);
  entry->help = std::move(help);
  entry->type = MetricType::kHistogram;
  entry->histograms = std::make_unique<Family<Histogram>>(
      std::move(label_names),
      [buckets = std::move(buckets)] { return std::make_unique<Histogram>(buckets); });
  std::lock_guard lock(mutex_);
  entries_.push_back(std::move(entry));
  return *entries_.back()->histograms;
}

void MetricsRegistry::AddCollector(std::function<void()> collect) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collect));
}

namespace {

void AppendSampleValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    AppendJsonNumber(out, value);
  }
}

// Label values are escaped as the exposition format asks: backslash, quote and newline.
void AppendLabelValue(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

void AppendLabels(std::string& out,
                  const std::vector<std::string>& names,
                  const std::vector<std::string>& values,
                  std::string_view extra_name = {},
                  std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) {
    return;
  }
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!first) {
      out.push_back(',');
    }
    first = false;
    out += names[i];
    out += "=\"";
    AppendLabelValue(out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) {
      out.push_back(',');
    }
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendHelpText(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

void MetricsRegistry::Render(std::string& out) const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (const auto& collect : collectors) {
    collect();
  }
  std::lock_guard lock(mutex_);
  for (const auto& entry : entries_) {
    out += "# HELP ";
    out += entry->name;
    out.push_back(' ');
    AppendHelpText(out, entry->help);
    out += "\n# TYPE ";
    out += entry->name;
    switch (entry->type) {
      case MetricType::kCounter:
        out += " counter\n";
        entry->counters->ForEach([&](const auto& labels, const Counter& counter) {
          out += entry->name;
          AppendLabels(out, entry->counters->label_names(), labels);
          out.push_back(' ');
          AppendSampleValue(out, counter.value());
          out.push_back('\n');
        });
        break;
      case MetricType::kGauge:
        out += " gauge\n";
        entry->gauges->ForEach([&](const auto& labels, const Gauge& gauge) {
          out += entry->name;
          AppendLabels(out, entry->gauges->label_names(), labels);
          out.push_back(' ');
          AppendSampleValue(out, gauge.value());
          out.push_back('\n');
        });
        break;
      case MetricType::kHistogram:
        out += " histogram\n";
        entry->histograms->ForEach([&](const auto& labels, const Histogram& histogram) {
          const auto& names = entry->histograms->label_names();
          const auto& bounds = histogram.upper_bounds();
          for (size_t i = 0; i <= bounds.size(); ++i) {
            std::string bound;
            if (i == bounds.size()) {
              bound = "+Inf";
            } else {
              AppendJsonNumber(bound, bounds[i]);
            }
            out += entry->name;
            out += "_bucket";
            AppendLabels(out, names, labels, "le", bound);
            out.push_back(' ');
            AppendSampleValue(out, static_cast<double>(histogram.CumulativeCount(i)));
            out.push_back('\n');
          }
          out += entry->name;
          out += "_sum";
          AppendLabels(out, names, labels);
          out.push_back(' ');
          AppendSampleValue(out, histogram.sum());
          out += '\n';
          out += entry->name;
          out += "_count";
          AppendLabels(out, names, labels);
          out.push_back(' ');
          AppendSampleValue(out, static_cast<double>(histogram.count()));
          out.push_back('\n');
        });
        break;
    }
  }
}

namespace {

struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double open_fds = 0;
  double start_time_seconds = 0;
};

ProcessStats ReadProcessStats() {
  ProcessStats stats;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat_file)),
                      std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const auto close = content.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(content.substr(close + 2));
    std::vector<std::string> parts;
    std::string part;
    while (fields >> part) {
      parts.push_back(part);
    }
    // parts[0] is field 3 (state); utime=14, stime=15, starttime=22, vsize=23, rss=24.
    if (parts.size() > 22) {
      stats.cpu_seconds = (std::stod(parts[11]) + std::stod(parts[12])) / ticks;
      stats.virtual_bytes = std::stod(parts[20]);
      stats.resident_bytes = std::stod(parts[21]) * page;
      std::ifstream uptime_file("/proc/uptime");
      double uptime = 0;
      uptime_file >> uptime;
      const double started_after_boot = std::stod(parts[19]) / ticks;
      stats.start_time_seconds =
          static_cast<double>(std::time(nullptr)) - uptime + started_after_boot;
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    int count = 0;
    while (readdir(dir) != nullptr) {
      ++count;
    }
    closedir(dir);
    stats.open_fds = count - 3;  // ".", ".." and the directory's own descriptor
  }
  return stats;
}

}  // namespace

void AddProcessMetrics(MetricsRegistry& registry) {
  auto& cpu = registry.AddCounter("process_cpu_seconds_total",
                                  "Total user and system CPU time spent in seconds.");
  auto& resident = registry.AddGauge("process_resident_memory_bytes", "Resident memory size.");
  auto& virt = registry.AddGauge("process_virtual_memory_bytes", "Virtual memory size.");
  auto& fds = registry.AddGauge("process_open_fds", "Number of open file descriptors.");
  auto& start = registry.AddGauge("process_start_time_seconds",
                                  "Start time of the process since the Unix epoch in seconds.");
  registry.AddCollector([&cpu, &resident, &virt, &fds, &start] {
    const ProcessStats stats = ReadProcessStats();
    cpu.WithLabels({}).SetTotal(stats.cpu_seconds);
    resident.WithLabels({}).Set(stats.resident_bytes);
    virt.WithLabels({}).Set(stats.virtual_bytes);
    fds.WithLabels({}).Set(stats.open_fds);
    start.WithLabels({}).Set(stats.start_time_seconds);
  });
}

}  // namespace fraudguard
