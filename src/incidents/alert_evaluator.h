// The built-in alert evaluator: on every tick it computes the measurements the rules use (from
// the SLI recorder's per-minute rows, the SLO tracker, the accuracy tracker and the server's
// connection count) and moves each rule through inactive -> pending -> firing -> inactive,
// honouring `for` like Prometheus. A rule that starts firing, and one that stops, is handed to
// the incident engine as an alert event; a hand-over the engine refuses (its store failing) is
// retried on the next tick, so no transition is lost.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "evaluation/accuracy_tracker.h"
#include "incidents/alert_rules.h"
#include "incidents/incident_engine.h"
#include "slo/sli_recorder.h"
#include "slo/slo_tracker.h"
#include "telemetry/metrics.h"

namespace fraudguard {

struct MeasurementSources {
  SliRecorder* sli = nullptr;           // null: request measurements have no data
  std::vector<std::string> api_routes;  // route labels counted as the scoring routes
  SloTracker* slo = nullptr;            // null: burn rates have no data
  const AccuracyTracker* accuracy = nullptr;
  std::function<double()> connection_usage;  // open / max; empty: no data
  std::function<double()> model_drift;       // the active model's score PSI; empty: no data
};

enum class RuleState : uint8_t { kInactive, kPending, kFiring };
std::string_view RuleStateName(RuleState state);

struct RuleStatus {
  std::string name;
  std::string condition;
  RuleState state = RuleState::kInactive;
  double value = 0;             // the first comparison's value at the last tick (NaN: no data)
  int64_t active_since_ms = 0;  // when the condition began to hold; 0 while inactive
  std::map<std::string, std::string> labels;
};

class AlertEvaluator {
public:
  AlertEvaluator(std::vector<AlertRule> rules,
                 MeasurementSources sources,
                 IncidentEngine& engine,
                 const Clock& clock);
  ~AlertEvaluator();
  AlertEvaluator(const AlertEvaluator&) = delete;
  AlertEvaluator& operator=(const AlertEvaluator&) = delete;

  // Evaluates every rule once at the clock's time. Thread-safe.
  void Tick();
  // Runs Tick every `interval_ms` on a thread of its own until Stop.
  void Start(int64_t interval_ms);
  void Stop();

  std::vector<RuleStatus> Statuses() const;
  // fraudguard_alerts{alertname,state} and fraudguard_alert_evaluation_failures_total.
  void RegisterMetrics(MetricsRegistry& metrics);

private:
  struct RuleRuntime {
    AlertRule rule;
    RuleState state = RuleState::kInactive;
    double value = 0;
    int64_t active_since_ms = 0;
    bool reported_firing = false;  // the engine holds this alert as firing
    std::string fingerprint;
  };
  // Values of every comparison at `now_ms`; NaN where there is no data.
  struct Snapshot;
  double Measure(const Comparison& comparison, const Snapshot& snapshot) const;

  const MeasurementSources sources_;
  IncidentEngine& engine_;
  const Clock& clock_;
  mutable std::mutex mutex_;  // one tick at a time; guards rules_
  std::vector<RuleRuntime> rules_;
  int64_t longest_window_minutes_ = 1;
  bool needs_slo_ = false;
  bool read_failing_ = false;
  std::atomic<uint64_t> failures_{0};
  Family<Gauge>* alerts_gauge_ = nullptr;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fraudguard
