#include "capacity/recommendation.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace fraudguard::capacity {

Result<Resource> ParseResource(std::string_view name) {
  if (name == "requests") {
    return Resource::kRequests;
  }
  if (name == "cpu") {
    return Resource::kCpu;
  }
  if (name == "memory") {
    return Resource::kMemory;
  }
  if (name == "storage") {
    return Resource::kStorage;
  }
  return Error{"--resource must be requests, cpu, memory or storage, got '" + std::string(name) +
               "'"};
}

const char* ResourceName(Resource resource) {
  switch (resource) {
    case Resource::kRequests:
      return "requests";
    case Resource::kCpu:
      return "cpu";
    case Resource::kMemory:
      return "memory";
    case Resource::kStorage:
      return "storage";
  }
  return "?";
}

const char* ResourceUnit(Resource resource) {
  switch (resource) {
    case Resource::kRequests:
      return "requests/s";
    case Resource::kCpu:
      return "cores";
    case Resource::kMemory:
    case Resource::kStorage:
      return "bytes";
  }
  return "?";
}

Result<double> ParseBenchmarkRequestsPerSecond(std::string_view markdown) {
  constexpr std::string_view kRow = "| fraudguard serve |";
  const size_t at = markdown.find(kRow);
  if (at == std::string_view::npos) {
    return Error{"no '| fraudguard serve |' row in the load-test table"};
  }
  std::string_view rest = markdown.substr(at + kRow.size());
  rest = rest.substr(0, rest.find('|'));
  std::string digits;
  for (const char c : rest) {
    if ((c >= '0' && c <= '9') || c == '.') {
      digits.push_back(c);
    } else if (c != ',' && c != ' ') {
      return Error{"the fraudguard serve requests/s cell '" + std::string(rest) +
                   "' is not a number"};
    }
  }
  double value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size() || !(value > 0)) {
    return Error{"the fraudguard serve requests/s cell '" + std::string(rest) +
                 "' is not a positive number"};
  }
  return value;
}

Result<ReplicaCapacity> ReadReplicaCapacity(const std::string& benchmarks_path) {
  std::ifstream in(benchmarks_path);
  if (!in) {
    return Error{"cannot open " + benchmarks_path};
  }
  std::stringstream text;
  text << in.rdbuf();
  auto rps = ParseBenchmarkRequestsPerSecond(text.str());
  if (!rps) {
    return Error{benchmarks_path + ": " + rps.error()};
  }
  return ReplicaCapacity{*rps, benchmarks_path + " (load test, fraudguard serve)"};
}

Result<Recommendation> Recommend(const std::vector<ForecastPoint>& forecast,
                                 const RecommendationInput& input) {
  if (forecast.empty()) {
    return Error{"the forecast is empty"};
  }
  if (!(input.target_utilisation > 0 && input.target_utilisation <= 1)) {
    return Error{"--target-utilisation must be in (0, 1]"};
  }
  Recommendation out;
  out.resource = input.resource;
  out.target_utilisation = input.target_utilisation;
  if (input.resource == Resource::kRequests) {
    if (!(input.replica.requests_per_second > 0)) {
      return Error{"the per-replica request rate must be positive"};
    }
    if (input.current_replicas < 1) {
      return Error{"--current-replicas must be at least 1"};
    }
    out.replica = input.replica;
    out.current_replicas = input.current_replicas;
    out.current_capacity = input.current_replicas * input.replica.requests_per_second;
  } else {
    if (!(input.current_capacity > 0)) {
      return Error{std::string("--current-capacity (in ") + ResourceUnit(input.resource) +
                   ") is required for " + ResourceName(input.resource)};
    }
    out.current_capacity = input.current_capacity;
  }

  const double threshold = out.current_capacity * out.target_utilisation;
  out.forecast_peak_upper = forecast.front().upper;
  out.forecast_peak_time = forecast.front().timestamp;
  for (const ForecastPoint& point : forecast) {
    if (point.upper > out.forecast_peak_upper) {
      out.forecast_peak_upper = point.upper;
      out.forecast_peak_time = point.timestamp;
    }
    if (out.first_breach_time == 0 && point.upper > threshold) {
      out.first_breach_time = point.timestamp;
    }
  }
  const double peak = std::max(out.forecast_peak_upper, 0.0);
  out.recommended_capacity = peak / out.target_utilisation;
  out.scaling_factor = out.recommended_capacity / out.current_capacity;
  out.action_required = out.forecast_peak_upper > threshold;
  if (input.resource == Resource::kRequests) {
    out.recommended_replicas = std::max(
        1, static_cast<int>(
               std::ceil(out.recommended_capacity / out.replica.requests_per_second - 1e-9)));
  }
  return out;
}

}  // namespace fraudguard::capacity
