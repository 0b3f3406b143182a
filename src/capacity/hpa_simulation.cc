#include "capacity/hpa_simulation.h"

#include <algorithm>
#include <cmath>
#include <deque>

namespace fraudguard::capacity {
namespace {

// Ratios and products land a rounding error away from round numbers (1100 / 1000 is
// 1.1000000000000001); compare with a little slack so "exactly at the tolerance" and
// "exactly 12 replicas" mean what they say.
constexpr double kSlack = 1e-9;

double LoadAt(const SimulationInput& input, double t) {
  const auto& times = input.timestamps;
  if (t <= times.front()) {
    return input.load.front();
  }
  if (t >= times.back()) {
    return input.load.back();
  }
  const size_t upper =
      static_cast<size_t>(std::upper_bound(times.begin(), times.end(), t) - times.begin());
  const size_t lower = upper - 1;
  const double share = (t - times[lower]) / (times[upper] - times[lower]);
  return input.load[lower] + share * (input.load[upper] - input.load[lower]);
}

int FloorAt(const SimulationInput& input, const HpaPolicy& policy, double t) {
  if (input.weekly_floor.empty()) {
    return policy.min_replicas;
  }
  // 1970-01-01 was a Thursday: shift so that index 0 is a Sunday at midnight.
  constexpr int64_t kWeek = 7 * 24 * 60;
  const auto minutes = static_cast<int64_t>(std::floor(t / 60)) + 4 * 24 * 60;
  const int64_t index = ((minutes % kWeek) + kWeek) % kWeek;
  return std::max(policy.min_replicas, input.weekly_floor[static_cast<size_t>(index)]);
}

struct ScaleEvent {
  double time;
  int delta;  // positive: pods added
};

}  // namespace

int HpaProposal(int current_replicas, double metric, double target, double tolerance) {
  const double ratio = metric / target;
  if (std::abs(ratio - 1.0) <= tolerance + kSlack) {
    return current_replicas;
  }
  return static_cast<int>(std::ceil(current_replicas * ratio - kSlack));
}

Result<SimulationResult> SimulateHpa(const SimulationInput& input, const HpaPolicy& policy) {
  if (input.timestamps.size() < 2 || input.timestamps.size() != input.load.size()) {
    return Error{"the load needs at least two points, one per timestamp"};
  }
  if (input.timestamps.back() - input.timestamps.front() > 31 * 86400.0) {
    return Error{"at most 31 days are simulated"};
  }
  if (!(input.replica_capacity > 0)) {
    return Error{"the per-replica capacity must be positive"};
  }
  if (policy.min_replicas < 1 || policy.max_replicas < policy.min_replicas ||
      !(policy.rps_target > 0) || !(policy.tolerance >= 0 && policy.tolerance < 1) ||
      policy.sync_seconds < 1) {
    return Error{
        "the HPA policy needs 1 <= min <= max replicas, a positive target, a "
        "tolerance in [0, 1) and a positive sync period"};
  }
  if (!input.weekly_floor.empty() && input.weekly_floor.size() != 7 * 24 * 60) {
    return Error{"the weekly floor needs one value per minute of the week"};
  }

  SimulationResult result;
  const double start = input.timestamps.front();
  const double end = input.timestamps.back();
  int replicas = input.initial_replicas;
  if (replicas <= 0) {
    replicas = static_cast<int>(std::ceil(LoadAt(input, start) / policy.rps_target - kSlack));
  }
  replicas = std::clamp(replicas, FloorAt(input, policy, start), policy.max_replicas);
  std::deque<double> pod_ready_times(static_cast<size_t>(replicas), start);  // all serving
  std::deque<std::pair<double, int>> recommendations;                        // (time, proposal)
  std::deque<ScaleEvent> events;

  result.min_replicas = replicas;
  result.max_replicas = replicas;
  const double sync = policy.sync_seconds;
  for (double t = start; t <= end + kSlack; t += sync) {
    const double load = LoadAt(input, t);
    const int floor = FloorAt(input, policy, t);

    // Metrics, averaged over all pods; starting pods serve nothing, so they count as idle.
    const double rps_per_pod = load / replicas;
    const double cpu_per_pod = rps_per_pod / input.replica_capacity;
    const int proposal =
        std::max(HpaProposal(replicas, rps_per_pod, policy.rps_target, policy.tolerance),
                 HpaProposal(replicas, cpu_per_pod, policy.cpu_target, policy.tolerance));

    // Stabilisation: scale up no further than the lowest proposal of the scale-up window,
    // down no further than the highest of the scale-down window.
    recommendations.emplace_back(t, proposal);
    const double longest =
        std::max(policy.scale_up_window_seconds, policy.scale_down_window_seconds);
    while (!recommendations.empty() && recommendations.front().first < t - longest - kSlack) {
      recommendations.pop_front();
    }
    int up_recommendation = proposal;
    int down_recommendation = proposal;
    for (const auto& [when, value] : recommendations) {
      if (when >= t - policy.scale_up_window_seconds - kSlack) {
        up_recommendation = std::min(up_recommendation, value);
      }
      if (when >= t - policy.scale_down_window_seconds - kSlack) {
        down_recommendation = std::max(down_recommendation, value);
      }
    }
    int desired = replicas;
    if (up_recommendation > replicas) {
      desired = up_recommendation;
    } else if (down_recommendation < replicas) {
      desired = down_recommendation;
    }

    // Rate limits over each policy's period, counted from the pods the period started with.
    while (!events.empty() &&
           events.front().time <
               t - std::max(policy.scale_up_period_seconds, policy.scale_down_period_seconds) -
                   kSlack) {
      events.pop_front();
    }
    int added = 0;
    int removed = 0;
    for (const ScaleEvent& event : events) {
      if (event.delta > 0 && event.time > t - policy.scale_up_period_seconds + kSlack) {
        added += event.delta;
      }
      if (event.delta < 0 && event.time > t - policy.scale_down_period_seconds + kSlack) {
        removed -= event.delta;
      }
    }
    if (desired > replicas) {
      const int period_start = replicas - added;
      const int limit = std::max(period_start + period_start * policy.scale_up_percent / 100,
                                 period_start + policy.scale_up_pods);
      desired = std::min(desired, limit);
    } else if (desired < replicas) {
      const int period_start = replicas + removed;
      const int by_percent = static_cast<int>(
          std::ceil(period_start * (1.0 - policy.scale_down_percent / 100.0) - kSlack));
      const int limit = std::min(by_percent, period_start - policy.scale_down_pods);
      desired = std::max(desired, limit);
    }
    if (desired > policy.max_replicas) {
      result.at_max = true;
    }
    desired = std::clamp(desired, floor, policy.max_replicas);

    if (desired > replicas) {
      for (int i = replicas; i < desired; ++i) {
        pod_ready_times.push_back(t + policy.startup_seconds);
      }
      events.push_back({t, desired - replicas});
      ++result.scale_ups;
    } else if (desired < replicas) {
      // Starting pods go first: they serve nothing yet.
      std::sort(pod_ready_times.begin(), pod_ready_times.end());
      pod_ready_times.resize(static_cast<size_t>(desired));
      events.push_back({t, desired - replicas});
      ++result.scale_downs;
    }
    replicas = desired;

    SimulationStep step;
    step.time = t;
    step.load = load;
    step.desired = proposal;
    step.replicas = replicas;
    step.ready = static_cast<int>(std::count_if(pod_ready_times.begin(), pod_ready_times.end(),
                                                [t](double ready) { return ready <= t + kSlack; }));
    step.utilisation =
        step.ready > 0 ? load / (step.ready * input.replica_capacity) : (load > 0 ? INFINITY : 0.0);
    result.min_replicas = std::min(result.min_replicas, replicas);
    result.max_replicas = std::max(result.max_replicas, replicas);
    result.peak_utilisation = std::max(result.peak_utilisation, step.utilisation);
    if (step.utilisation > 1.0 + kSlack) {
      result.overloaded_seconds += sync;
      if (result.first_overload == 0) {
        result.first_overload = t;
      }
      result.latency_objective_holds = false;
    }
    if (step.utilisation > policy.cpu_target + kSlack) {
      result.above_target_seconds += sync;
    }
    result.steps.push_back(step);
  }
  return result;
}

}  // namespace fraudguard::capacity
