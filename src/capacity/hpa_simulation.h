// Replays a day of forecast load against the Kubernetes HorizontalPodAutoscaler algorithm, to
// see how many replicas it would run, when it would scale, and whether the replicas that are
// ready at each moment could carry the load.
//
// The controller modelled is the documented one: every sync period each metric proposes
// ceil(current x metric / target) unless the ratio is within the tolerance; the highest
// proposal wins; scale-down uses the highest proposal of its stabilisation window; rate limits
// cap each step; the schedule floor and the maximum bound the result. New pods serve only after
// a start-up delay.
#pragma once

#include <vector>

#include "core/result.h"

namespace fraudguard::capacity {

struct HpaPolicy {
  double tolerance = 0.1;  // the cluster default
  int sync_seconds = 15;
  int scale_up_window_seconds = 0;
  int scale_down_window_seconds = 300;
  // Scale-up may double or add 4 pods per 15 s, whichever is more.
  int scale_up_percent = 100;
  int scale_up_pods = 4;
  int scale_up_period_seconds = 15;
  // Scale-down may remove 10 % or 1 pod per minute, whichever is more.
  int scale_down_percent = 10;
  int scale_down_pods = 1;
  int scale_down_period_seconds = 60;
  int min_replicas = 5;
  int max_replicas = 100;
  double rps_target = 1000;  // decisions per second per replica
  double cpu_target = 0.70;  // CPU utilisation target
  int startup_seconds = 30;  // from scheduling a pod to it serving
};

// The HPA's core rule for one metric: ceil(current x metric / target), or current when the
// ratio is within the tolerance (inclusive). Exposed for tests of the boundary.
int HpaProposal(int current_replicas, double metric, double target, double tolerance);

struct SimulationInput {
  std::vector<double> timestamps;  // Unix seconds, increasing; load is interpolated between
  std::vector<double> load;        // decisions per second for the whole service
  double replica_capacity = 0;     // decisions per second one replica sustains (measured)
  int initial_replicas = 0;        // 0: start at what the first sync would choose
  // Schedule floor per minute of the week (Sunday 00:00 UTC = 0); empty: min_replicas always.
  std::vector<int> weekly_floor;
};

struct SimulationStep {
  double time = 0;
  double load = 0;
  int desired = 0;         // what the controller asked for at this sync
  int replicas = 0;        // pods existing (ready or starting)
  int ready = 0;           // pods serving
  double utilisation = 0;  // load / (ready x replica capacity)
};

struct SimulationResult {
  std::vector<SimulationStep> steps;  // one per sync period
  int min_replicas = 0;
  int max_replicas = 0;
  int scale_ups = 0;
  int scale_downs = 0;
  double peak_utilisation = 0;
  double overloaded_seconds = 0;    // time with load above what the ready replicas sustain
  double first_overload = 0;        // Unix seconds; 0 if never
  double above_target_seconds = 0;  // time above the CPU target utilisation
  bool at_max = false;              // the maximum replica count capped a proposal
  // True when the ready replicas carried the load at every sync: each replica stayed within
  // the rate at which its latency was measured.
  bool latency_objective_holds = true;
};

Result<SimulationResult> SimulateHpa(const SimulationInput& input, const HpaPolicy& policy);

}  // namespace fraudguard::capacity
