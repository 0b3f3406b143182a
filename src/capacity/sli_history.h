// Request-rate history from FraudGuard's own SLI store (the `sli.db` that `serve` writes in its
// data directory), as a TimeSeries for forecasting.
#pragma once

#include <string>
#include <vector>

#include "capacity/time_series.h"
#include "core/result.h"

namespace fraudguard {
class SliRecorder;
}

namespace fraudguard::capacity {

struct SliHistoryRequest {
  std::string data_dir;             // the server's --data-dir
  std::vector<std::string> routes;  // route labels to add up, e.g. "/api/v1/fraud/analyze"
  double start = 0;                 // Unix seconds
  double end = 0;
  double step_seconds = 3600;  // a whole number of minutes
};

// The scoring routes: single and batch analysis.
std::vector<std::string> DefaultSliRoutes();

// Requests per second in each step from start (inclusive) to end (exclusive), summed over the
// routes. Steps between the first and last with traffic that hold no rows count as 0 requests:
// the store writes a row only for minutes with requests.
Result<TimeSeries> LoadSliRequestRate(const SliHistoryRequest& request);
// The same from an open store (the running server's own recorder); request.data_dir is unused.
Result<TimeSeries> ReadSliRequestRate(const SliRecorder& store, const SliHistoryRequest& request);

}  // namespace fraudguard::capacity
