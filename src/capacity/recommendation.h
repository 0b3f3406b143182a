// Capacity recommendations from a forecast: what the upper end of the 95 % interval needs at the
// target utilisation, compared with what runs today. Replica counts come from the measured
// request rate of one replica (docs/benchmarks.md, written by bench/run.sh), not from a guess.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "capacity/forecast.h"
#include "core/result.h"

namespace fraudguard::capacity {

// Run at 70 % of capacity: headroom for the forecast being wrong and for a replica failing.
inline constexpr double kTargetUtilisation = 0.70;

enum class Resource { kRequests, kCpu, kMemory, kStorage };
Result<Resource> ParseResource(std::string_view name);
const char* ResourceName(Resource resource);
// The unit the series and the capacity are in.
const char* ResourceUnit(Resource resource);

// The request rate one replica sustains, and where the figure comes from.
struct ReplicaCapacity {
  double requests_per_second = 0;
  std::string source;
};
// Reads the `fraudguard serve` row of the load-test table in docs/benchmarks.md.
Result<double> ParseBenchmarkRequestsPerSecond(std::string_view markdown);
Result<ReplicaCapacity> ReadReplicaCapacity(const std::string& benchmarks_path);

struct RecommendationInput {
  Resource resource = Resource::kRequests;
  // For cpu, memory and storage: today's capacity in the resource's unit.
  double current_capacity = 0;
  // For requests: replicas running today and what one of them sustains.
  int current_replicas = 0;
  ReplicaCapacity replica;
  double target_utilisation = kTargetUtilisation;
};

struct Recommendation {
  Resource resource = Resource::kRequests;
  double target_utilisation = kTargetUtilisation;
  double current_capacity = 0;
  double forecast_peak_upper = 0;   // the highest upper bound of the 95 % interval
  double forecast_peak_time = 0;    // when it is reached, Unix seconds
  double recommended_capacity = 0;  // forecast_peak_upper / target_utilisation
  double scaling_factor = 0;        // recommended_capacity / current_capacity
  bool action_required = false;     // the upper bound exceeds target utilisation of today's
  // First time the upper bound exceeds target utilisation of today's capacity; 0 when never.
  double first_breach_time = 0;
  // Requests only: replica counts; 0 otherwise.
  int current_replicas = 0;
  int recommended_replicas = 0;
  ReplicaCapacity replica;
};

Result<Recommendation> Recommend(const std::vector<ForecastPoint>& forecast,
                                 const RecommendationInput& input);

}  // namespace fraudguard::capacity
