#include "capacity/sli_history.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "api/fraud_service.h"
#include "core/clock.h"
#include "slo/sli_recorder.h"

namespace fraudguard::capacity {

std::vector<std::string> DefaultSliRoutes() {
  return {"/api/v1/fraud/analyze", "/api/v1/fraud/analyze/batch"};
}

namespace {

// Refuses a step or range the store cannot answer in whole steps.
Status CheckRequest(const SliHistoryRequest& request) {
  const double step = request.step_seconds;
  if (!(step >= 60) || std::fmod(step, 60) != 0) {
    return Error{"--step must be a whole number of minutes for the SLI store"};
  }
  if (!(request.end > request.start)) {
    return Error{"the range must have its end after its start"};
  }
  const double steps = std::ceil((request.end - request.start) / step);
  if (steps > static_cast<double>(kMaxSeriesPoints)) {
    return Error{"the range holds more than " + std::to_string(kMaxSeriesPoints) +
                 " steps; use a larger --step"};
  }
  const std::vector<std::string> known = RouteLabels();
  for (const std::string& route : request.routes) {
    if (std::find(known.begin(), known.end(), route) == known.end()) {
      return Error{"--route '" + route + "' is not a FraudGuard route"};
    }
  }
  return OkStatus();
}

}  // namespace

Result<TimeSeries> LoadSliRequestRate(const SliHistoryRequest& request) {
  if (Status checked = CheckRequest(request); !checked) {
    return Error{checked.error()};
  }
  const std::vector<std::string> known = RouteLabels();
  const std::string path = request.data_dir + "/sli.db";
  if (!std::filesystem::exists(path)) {
    return Error{"no SLI store at " + path + " (is --sli-store the server's --data-dir?)"};
  }
  SliRecorderOptions options;
  options.path = path;
  options.routes = known;
  options.read_only = true;
  options.start_writer = false;
  auto recorder = SliRecorder::Open(options, SystemClock::Instance());
  if (!recorder) {
    return Error{recorder.error()};
  }
  return ReadSliRequestRate(**recorder, request);
}

Result<TimeSeries> ReadSliRequestRate(const SliRecorder& store, const SliHistoryRequest& request) {
  if (Status checked = CheckRequest(request); !checked) {
    return Error{checked.error()};
  }
  const double step = request.step_seconds;
  const double steps = std::ceil((request.end - request.start) / step);
  const auto from_minute = static_cast<int64_t>(std::floor(request.start / 60));
  const auto to_minute = static_cast<int64_t>(std::ceil(request.end / 60));
  auto minutes = store.ReadMinutes(from_minute, to_minute);
  if (!minutes) {
    return Error{minutes.error()};
  }
  auto hours = store.ReadHours(from_minute, to_minute);
  if (!hours) {
    return Error{hours.error()};
  }
  if (!hours->empty() && step < 3600) {
    return Error{
        "part of the range is older than the store's minute retention and kept per "
        "hour; use --step 1h or longer"};
  }

  const std::set<std::string> wanted(request.routes.begin(), request.routes.end());
  std::vector<double> totals(static_cast<size_t>(steps), 0.0);
  std::vector<bool> seen(totals.size(), false);
  const auto add = [&](const std::vector<SliRow>& rows) {
    for (const SliRow& row : rows) {
      if (!wanted.contains(row.route)) {
        continue;
      }
      const double offset = static_cast<double>(row.minute) * 60 - request.start;
      if (offset < 0) {
        continue;  // an hourly row that starts before the range
      }
      const auto index = static_cast<size_t>(std::floor(offset / step));
      if (index < totals.size()) {
        totals[index] += static_cast<double>(row.counts.total);
        seen[index] = true;
      }
    }
  };
  add(*minutes);
  add(*hours);

  size_t first = 0;
  while (first < seen.size() && !seen[first]) {
    ++first;
  }
  size_t last = seen.size();
  while (last > first && !seen[last - 1]) {
    --last;
  }
  TimeSeries series;
  for (size_t i = first; i < last; ++i) {
    series.timestamps.push_back(request.start + step * static_cast<double>(i));
    series.values.push_back(totals[i] / step);
  }
  return series;
}

}  // namespace fraudguard::capacity
