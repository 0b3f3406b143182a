// An SVG chart of a forecast: the history, the point forecast, the 95 % band and today's
// capacity, readable at a glance in a browser or an issue comment.
#pragma once

#include <string>
#include <vector>

#include "capacity/forecast.h"
#include "capacity/time_series.h"

namespace fraudguard::capacity {

struct ChartOptions {
  std::string title;
  std::string unit;
  // Horizontal reference lines, drawn when positive: today's capacity and the level at the
  // target utilisation of it.
  double capacity = 0;
  double target_level = 0;
};

std::string RenderForecastSvg(const TimeSeries& history,
                              const std::vector<ForecastPoint>& forecast,
                              const ChartOptions& options);

}  // namespace fraudguard::capacity
