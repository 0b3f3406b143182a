#include "incidents/alert_evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "core/log.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kMillisPerMinute = 60'000;
constexpr double kNoData = std::numeric_limits<double>::quiet_NaN();

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// The quantile `q` of a histogram, interpolated inside its bucket like histogram_quantile: the
// lowest bucket starts at 0, and a quantile in the +Inf bucket is the highest finite bound.
double Quantile(double q, const SliCounts& counts, const std::vector<double>& bounds) {
  if (counts.total == 0 || counts.buckets.empty()) {
    return kNoData;
  }
  const double rank = q * static_cast<double>(counts.total);
  double below = 0;
  for (size_t i = 0; i < counts.buckets.size(); ++i) {
    const double in_bucket = static_cast<double>(counts.buckets[i]);
    if (below + in_bucket >= rank && in_bucket > 0) {
      if (i >= bounds.size()) {
        return bounds.empty() ? kNoData : bounds.back();
      }
      const double lower = i == 0 ? 0.0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * (rank - below) / in_bucket;
    }
    below += in_bucket;
  }
  return bounds.empty() ? kNoData : bounds.back();
}

}  // namespace

std::string_view RuleStateName(RuleState state) {
  switch (state) {
    case RuleState::kInactive:
      return "inactive";
    case RuleState::kPending:
      return "pending";
    case RuleState::kFiring:
      return "firing";
  }
  return "inactive";
}

struct AlertEvaluator::Snapshot {
  bool requests_known = false;
  std::vector<SliCounts> minutes;  // [0] the current minute, [1] the one before, ...
  std::vector<double> bounds;
  std::map<std::string, SloReport> slos;
  double accuracy = kNoData;
  double connection_usage = kNoData;
  double model_drift = kNoData;

  // The W whole minutes before the current one and the current one so far: a window that
  // never starts empty at a minute's turn (which would reset every pending rule).
  SliCounts Window(int64_t window_minutes) const {
    SliCounts sum;
    for (size_t i = 0; i < minutes.size() && static_cast<int64_t>(i) <= window_minutes; ++i) {
      sum.Add(minutes[i]);
    }
    return sum;
  }
};

AlertEvaluator::AlertEvaluator(std::vector<AlertRule> rules,
                               MeasurementSources sources,
                               IncidentEngine& engine,
                               const Clock& clock)
    : sources_(std::move(sources)), engine_(engine), clock_(clock) {
  for (AlertRule& rule : rules) {
    RuleRuntime runtime;
    runtime.rule = std::move(rule);
    runtime.rule.labels["alertname"] = runtime.rule.name;
    runtime.fingerprint = AlertFingerprint(runtime.rule.name, runtime.rule.labels);
    // Firing when the last process stopped: it stays firing while its condition holds (no
    // second `for` wait, no resolved-then-fired flap) and resolves at the first evaluation that
    // finds it false, instead of staying firing in its incident for ever.
    runtime.reported_firing = engine_.AlertFiring(runtime.fingerprint);
    if (runtime.reported_firing) {
      runtime.state = RuleState::kFiring;
      runtime.active_since_ms = clock_.NowMillis();
    }
    for (const Comparison& comparison : runtime.rule.comparisons) {
      longest_window_minutes_ = std::max(longest_window_minutes_, comparison.window_minutes);
      needs_slo_ = needs_slo_ || comparison.measurement == Measurement::kBurnRate;
    }
    rules_.push_back(std::move(runtime));
  }
}

AlertEvaluator::~AlertEvaluator() {
  Stop();
}

double AlertEvaluator::Measure(const Comparison& comparison, const Snapshot& snapshot) const {
  switch (comparison.measurement) {
    case Measurement::kModelAccuracy:
      return snapshot.accuracy;
    case Measurement::kConnectionUsage:
      return snapshot.connection_usage;
    case Measurement::kModelDrift:
      return snapshot.model_drift;
    case Measurement::kBurnRate: {
      auto found = snapshot.slos.find(comparison.slo);
      if (found == snapshot.slos.end()) {
        return kNoData;
      }
      for (size_t i = 0; i < kBurnRateWindowsMinutes.size(); ++i) {
        if (kBurnRateWindowsMinutes[i] == comparison.window_minutes) {
          return found->second.burn_rates[i];
        }
      }
      return kNoData;
    }
    default:
      break;
  }
  if (!snapshot.requests_known) {
    return kNoData;
  }
  const SliCounts window = snapshot.Window(comparison.window_minutes);
  const double total = static_cast<double>(window.total);
  const double bad = static_cast<double>(window.bad);
  switch (comparison.measurement) {
    case Measurement::kRequests:
      return total;
    case Measurement::kSuccessfulRequests:
      return total - bad;
    case Measurement::kErrorRatio:
      return window.total == 0 ? kNoData : bad / total;
    case Measurement::kAvailability:
      return window.total == 0 ? kNoData : 1.0 - bad / total;
    case Measurement::kLatencyP50:
      return Quantile(0.50, window, snapshot.bounds);
    case Measurement::kLatencyP95:
      return Quantile(0.95, window, snapshot.bounds);
    case Measurement::kLatencyP99:
      return Quantile(0.99, window, snapshot.bounds);
    default:
      return kNoData;
  }
}

void AlertEvaluator::Tick() {
  std::lock_guard lock(mutex_);
  const int64_t now_ms = clock_.NowMillis();
  const int64_t now_minute = FloorDiv(now_ms, kMillisPerMinute);
  Snapshot snapshot;
  bool read_ok = true;
  std::string read_error;
  if (sources_.sli != nullptr) {
    (void)sources_.sli->Flush();  // a failed write is the recorder's to log; rows written stay
    auto rows = sources_.sli->ReadMinutes(now_minute - longest_window_minutes_, now_minute + 1);
    if (rows) {
      const std::set<std::string> routes(sources_.api_routes.begin(), sources_.api_routes.end());
      snapshot.requests_known = true;
      snapshot.bounds = sources_.sli->bounds();
      snapshot.minutes.resize(static_cast<size_t>(longest_window_minutes_) + 1);
      for (const SliRow& row : *rows) {
        const int64_t age = now_minute - row.minute;
        if (age >= 0 && age <= longest_window_minutes_ && routes.count(row.route) > 0) {
          snapshot.minutes[static_cast<size_t>(age)].Add(row.counts);
        }
      }
    } else {
      read_ok = false;
      read_error = rows.error();
    }
  }
  if (needs_slo_ && sources_.slo != nullptr) {
    auto reports = sources_.slo->Reports();
    if (reports) {
      for (SloReport& report : *reports) {
        const std::string name = report.name;
        snapshot.slos.emplace(name, std::move(report));
      }
    } else {
      read_ok = false;
      read_error = reports.error();
    }
  }
  if (sources_.accuracy != nullptr) {
    snapshot.accuracy = sources_.accuracy->Window().Accuracy();
  }
  if (sources_.connection_usage) {
    snapshot.connection_usage = sources_.connection_usage();
  }
  if (sources_.model_drift) {
    snapshot.model_drift = sources_.model_drift();
  }
  if (!read_ok) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!read_failing_) {
      LogError("alert_measurements_unavailable")
          .Field("error", read_error)
          .Field("effect", "request and burn-rate rules see no data until the read works");
      read_failing_ = true;
    }
  } else if (read_failing_) {
    LogInfo("alert_measurements_recovered");
    read_failing_ = false;
  }

  for (RuleRuntime& runtime : rules_) {
    bool holds = true;
    for (size_t i = 0; i < runtime.rule.comparisons.size(); ++i) {
      const double value = Measure(runtime.rule.comparisons[i], snapshot);
      if (i == 0) {
        runtime.value = value;
      }
      holds = holds && runtime.rule.comparisons[i].Holds(value);
    }
    if (holds) {
      if (runtime.state == RuleState::kInactive) {
        runtime.state = RuleState::kPending;
        runtime.active_since_ms = now_ms;
      }
      if (runtime.state == RuleState::kPending &&
          now_ms - runtime.active_since_ms >= runtime.rule.for_ms) {
        runtime.state = RuleState::kFiring;
        LogInfo("alert_firing")
            .Field("alert", runtime.rule.name)
            .Field("condition", runtime.rule.condition)
            .Field("value", runtime.value);
      }
    } else {
      if (runtime.state == RuleState::kFiring) {
        LogInfo("alert_resolved").Field("alert", runtime.rule.name).Field("value", runtime.value);
      }
      runtime.state = RuleState::kInactive;
      runtime.active_since_ms = 0;
    }

    const bool firing = runtime.state == RuleState::kFiring;
    if (firing == runtime.reported_firing) {
      continue;
    }
    AlertEvent event;
    event.fingerprint = runtime.fingerprint;
    event.name = runtime.rule.name;
    event.labels = runtime.rule.labels;
    for (const auto& [key, text] : runtime.rule.annotations) {
      event.annotations[key] = RenderTemplate(text, runtime.value, runtime.rule.labels);
    }
    event.firing = firing;
    event.starts_ms = firing ? runtime.active_since_ms : 0;
    event.ends_ms = firing ? 0 : now_ms;
    event.source = "builtin";
    auto outcome = engine_.Ingest(event);
    if (outcome) {
      runtime.reported_firing = firing;
    } else {
      failures_.fetch_add(1, std::memory_order_relaxed);
      LogWarn("alert_handover_failed")
          .Field("alert", runtime.rule.name)
          .Field("error", outcome.error())
          .Field("effect", "retried on the next evaluation");
    }
  }
}

void AlertEvaluator::Start(int64_t interval_ms) {
  thread_ = std::thread([this, interval_ms] {
    std::unique_lock lock(wake_mutex_);
    while (!stopping_) {
      lock.unlock();
      Tick();
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(interval_ms), [this] { return stopping_; });
    }
  });
}

void AlertEvaluator::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::vector<RuleStatus> AlertEvaluator::Statuses() const {
  std::lock_guard lock(mutex_);
  std::vector<RuleStatus> out;
  for (const RuleRuntime& runtime : rules_) {
    out.push_back({runtime.rule.name, runtime.rule.condition, runtime.state, runtime.value,
                   runtime.active_since_ms, runtime.rule.labels});
  }
  return out;
}

void AlertEvaluator::RegisterMetrics(MetricsRegistry& metrics) {
  alerts_gauge_ = &metrics.AddGauge("fraudguard_alerts",
                                    "Built-in alert rules by name and state (pending, firing).",
                                    {"alertname", "state"});
  auto& failures = metrics
                       .AddCounter("fraudguard_alert_evaluation_failures_total",
                                   "Evaluations whose measurements could not be read, and alert "
                                   "hand-overs the incident engine refused (retried).")
                       .WithLabels({});
  metrics.AddCollector([this, &failures] {
    std::map<std::pair<std::string, RuleState>, int> counts;
    for (const RuleStatus& status : Statuses()) {
      counts[{status.name, RuleState::kPending}] += status.state == RuleState::kPending ? 1 : 0;
      counts[{status.name, RuleState::kFiring}] += status.state == RuleState::kFiring ? 1 : 0;
    }
    for (const auto& [key, count] : counts) {
      alerts_gauge_->WithLabels({key.first, RuleStateName(key.second)}).Set(count);
    }
    failures.SetTotal(static_cast<double>(failures_.load(std::memory_order_relaxed)));
  });
}

}  // namespace fraudguard
