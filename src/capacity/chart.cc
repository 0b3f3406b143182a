#include "capacity/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/xml_text.h"

namespace fraudguard::capacity {
namespace {

constexpr double kWidth = 960;
constexpr double kHeight = 480;
constexpr double kLeft = 84;
constexpr double kRight = 24;
constexpr double kTop = 56;
constexpr double kBottom = 56;

std::string Number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1f", value);
  return buffer;
}

// Tick labels: 1.5k, 20k, 3M rather than long digit strings.
std::string Compact(double value) {
  char buffer[32];
  const double magnitude = std::abs(value);
  if (magnitude >= 1e9) {
    std::snprintf(buffer, sizeof(buffer), "%gG", value / 1e9);
  } else if (magnitude >= 1e6) {
    std::snprintf(buffer, sizeof(buffer), "%gM", value / 1e6);
  } else if (magnitude >= 1e4) {
    std::snprintf(buffer, sizeof(buffer), "%gk", value / 1e3);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%g", value);
  }
  return buffer;
}

// A tick spacing of 1, 2 or 5 times a power of ten giving about `count` ticks over `range`.
double NiceStep(double range, int count) {
  const double raw = range / count;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    if (factor * power >= raw) {
      return factor * power;
    }
  }
  return 10 * power;
}

std::string DateLabel(double unix_seconds, bool with_time) {
  const auto seconds = static_cast<time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), with_time ? "%m-%d %H:%M" : "%Y-%m-%d", &parts);
  return buffer;
}

struct Scale {
  double x_min, x_max, y_min, y_max;
  double X(double t) const {
    return kLeft + (t - x_min) / (x_max - x_min) * (kWidth - kLeft - kRight);
  }
  double Y(double v) const {
    return kHeight - kBottom - (v - y_min) / (y_max - y_min) * (kHeight - kTop - kBottom);
  }
};

// The history as polyline points; long histories keep each pixel column's minimum and maximum
// so peaks survive.
std::string HistoryPoints(const TimeSeries& history, const Scale& scale) {
  std::string out;
  const auto add = [&](size_t i) {
    out += Number(scale.X(history.timestamps[i])) + "," + Number(scale.Y(history.values[i])) + " ";
  };
  const size_t columns = static_cast<size_t>(kWidth - kLeft - kRight);
  if (history.size() <= 2 * columns) {
    for (size_t i = 0; i < history.size(); ++i) {
      add(i);
    }
    return out;
  }
  size_t begin = 0;
  while (begin < history.size()) {
    const int column = static_cast<int>(scale.X(history.timestamps[begin]));
    size_t end = begin;
    size_t low = begin;
    size_t high = begin;
    while (end < history.size() && static_cast<int>(scale.X(history.timestamps[end])) == column) {
      low = history.values[end] < history.values[low] ? end : low;
      high = history.values[end] > history.values[high] ? end : high;
      ++end;
    }
    add(std::min(low, high));
    if (low != high) {
      add(std::max(low, high));
    }
    begin = end;
  }
  return out;
}

}  // namespace

std::string RenderForecastSvg(const TimeSeries& history,
                              const std::vector<ForecastPoint>& forecast,
                              const ChartOptions& options) {
  Scale scale{history.timestamps.front(), history.timestamps.back(), history.values.front(),
              history.values.front()};
  for (const double v : history.values) {
    scale.y_min = std::min(scale.y_min, v);
    scale.y_max = std::max(scale.y_max, v);
  }
  for (const ForecastPoint& p : forecast) {
    scale.x_max = std::max(scale.x_max, p.timestamp);
    scale.y_min = std::min(scale.y_min, p.lower);
    scale.y_max = std::max(scale.y_max, p.upper);
  }
  for (const double line : {options.capacity, options.target_level}) {
    if (line > 0) {
      scale.y_max = std::max(scale.y_max, line);
    }
  }
  // Start the axis at zero when the data is not far above it, so sizes compare honestly.
  if (scale.y_min >= 0 && scale.y_min < 0.5 * scale.y_max) {
    scale.y_min = 0;
  }
  if (scale.y_max <= scale.y_min) {
    scale.y_max = scale.y_min + 1;
  }
  const double y_step = NiceStep(scale.y_max - scale.y_min, 5);
  scale.y_min = std::floor(scale.y_min / y_step) * y_step;
  scale.y_max = std::ceil(scale.y_max * 1.02 / y_step) * y_step;
  if (scale.x_max <= scale.x_min) {
    scale.x_max = scale.x_min + 1;
  }

  std::string svg;
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Number(kWidth) + "\" height=\"" +
         Number(kHeight) + "\" viewBox=\"0 0 " + Number(kWidth) + " " + Number(kHeight) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + Number(kLeft) + "\" y=\"24\" font-size=\"16\" font-weight=\"bold\">" +
         XmlEscaped(options.title) + "</text>\n";

  // Grid and y axis labels.
  for (double v = scale.y_min; v <= scale.y_max + y_step / 2; v += y_step) {
    const std::string y = Number(scale.Y(v));
    svg += "<line x1=\"" + Number(kLeft) + "\" x2=\"" + Number(kWidth - kRight) + "\" y1=\"" + y +
           "\" y2=\"" + y + "\" stroke=\"#e5e5e5\"/>\n";
    svg += "<text x=\"" + Number(kLeft - 8) + "\" y=\"" + Number(scale.Y(v) + 4) +
           "\" text-anchor=\"end\" fill=\"#444\">" + Compact(v) + "</text>\n";
  }
  svg += "<text transform=\"translate(18," + Number((kTop + kHeight - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\" fill=\"#444\">" + XmlEscaped(options.unit) +
         "</text>\n";
  // Time axis: about seven dates.
  const double span = scale.x_max - scale.x_min;
  const bool with_time = span < 4 * 86400;
  for (int i = 0; i <= 6; ++i) {
    const double t = scale.x_min + span * i / 6;
    const std::string x = Number(scale.X(t));
    svg += "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + Number(kTop) + "\" y2=\"" +
           Number(kHeight - kBottom) + "\" stroke=\"#f0f0f0\"/>\n";
    svg += "<text x=\"" + x + "\" y=\"" + Number(kHeight - kBottom + 18) +
           "\" text-anchor=\"middle\" fill=\"#444\">" + DateLabel(t, with_time) + "</text>\n";
  }
  svg += "<rect x=\"" + Number(kLeft) + "\" y=\"" + Number(kTop) + "\" width=\"" +
         Number(kWidth - kLeft - kRight) + "\" height=\"" + Number(kHeight - kTop - kBottom) +
         "\" fill=\"none\" stroke=\"#999\"/>\n";

  // The 95 % band: along the upper bound, back along the lower one.
  if (!forecast.empty()) {
    std::string band;
    for (const ForecastPoint& p : forecast) {
      band += Number(scale.X(p.timestamp)) + "," + Number(scale.Y(p.upper)) + " ";
    }
    for (auto it = forecast.rbegin(); it != forecast.rend(); ++it) {
      band += Number(scale.X(it->timestamp)) + "," + Number(scale.Y(it->lower)) + " ";
    }
    svg += "<polygon points=\"" + band +
           "\" fill=\"#f4a261\" fill-opacity=\"0.35\" "
           "stroke=\"none\"/>\n";
  }
  svg += "<polyline points=\"" + HistoryPoints(history, scale) +
         "\" fill=\"none\" stroke=\"#1d3557\" stroke-width=\"1.2\"/>\n";
  if (!forecast.empty()) {
    std::string line = Number(scale.X(history.timestamps.back())) + "," +
                       Number(scale.Y(history.values.back())) + " ";
    for (const ForecastPoint& p : forecast) {
      line += Number(scale.X(p.timestamp)) + "," + Number(scale.Y(p.value)) + " ";
    }
    svg += "<polyline points=\"" + line +
           "\" fill=\"none\" stroke=\"#e76f51\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\"/>\n";
  }
  // Where the forecast starts.
  const std::string now_x = Number(scale.X(history.timestamps.back()));
  svg += "<line x1=\"" + now_x + "\" x2=\"" + now_x + "\" y1=\"" + Number(kTop) + "\" y2=\"" +
         Number(kHeight - kBottom) + "\" stroke=\"#666\" stroke-dasharray=\"2,2\"/>\n";
  svg += "<text x=\"" + Number(scale.X(history.timestamps.back()) + 4) + "\" y=\"" +
         Number(kTop + 14) + "\" fill=\"#666\">forecast \u2192</text>\n";
  const auto reference = [&](double level, const std::string& label, const char* colour) {
    if (!(level > 0)) {
      return;
    }
    const std::string y = Number(scale.Y(level));
    svg += "<line x1=\"" + Number(kLeft) + "\" x2=\"" + Number(kWidth - kRight) + "\" y1=\"" + y +
           "\" y2=\"" + y + "\" stroke=\"" + colour +
           "\" stroke-width=\"1.2\" "
           "stroke-dasharray=\"8,4\"/>\n";
    svg += "<text x=\"" + Number(kLeft + 6) + "\" y=\"" + Number(scale.Y(level) - 5) +
           "\" fill=\"" + colour + "\">" + XmlEscaped(label) + "</text>\n";
  };
  reference(options.capacity, "current capacity " + Compact(options.capacity), "#c1121f");
  reference(options.target_level, "target utilisation " + Compact(options.target_level), "#e09f3e");

  // Legend.
  const double legend_y = kHeight - 14;
  svg += "<line x1=\"" + Number(kLeft) + "\" x2=\"" + Number(kLeft + 24) + "\" y1=\"" +
         Number(legend_y - 4) + "\" y2=\"" + Number(legend_y - 4) +
         "\" stroke=\"#1d3557\" stroke-width=\"2\"/><text x=\"" + Number(kLeft + 30) + "\" y=\"" +
         Number(legend_y) + "\">history</text>\n";
  svg += "<line x1=\"" + Number(kLeft + 110) + "\" x2=\"" + Number(kLeft + 134) + "\" y1=\"" +
         Number(legend_y - 4) + "\" y2=\"" + Number(legend_y - 4) +
         "\" stroke=\"#e76f51\" stroke-width=\"2\" stroke-dasharray=\"5,3\"/><text x=\"" +
         Number(kLeft + 140) + "\" y=\"" + Number(legend_y) + "\">forecast</text>\n";
  svg += "<rect x=\"" + Number(kLeft + 220) + "\" y=\"" + Number(legend_y - 10) +
         "\" width=\"24\" height=\"10\" fill=\"#f4a261\" fill-opacity=\"0.35\"/><text x=\"" +
         Number(kLeft + 250) + "\" y=\"" + Number(legend_y) +
         "\">95 % prediction interval</text>\n";
  svg += "</svg>\n";
  return svg;
}

}  // namespace fraudguard::capacity
