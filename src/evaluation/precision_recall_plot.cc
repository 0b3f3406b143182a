#include "evaluation/precision_recall_plot.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "core/xml_text.h"

namespace fraudguard {
namespace {

constexpr double kWidth = 720;
constexpr double kLeft = 80;  // room for the precision axis and its label
constexpr double kRight = 30;
constexpr double kTop = 64;        // room for the title and subtitle
constexpr double kBelowPlot = 64;  // tick labels and the recall axis label
constexpr double kLegendRow = 20;  // one row per operating point, under the plot
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = 412;
constexpr size_t kMaxVertices = 4000;
// Colours that stay apart for the common kinds of colour blindness.
constexpr std::array<const char*, 4> kPointColours = {"#d55e00", "#009e73", "#cc79a7", "#e69f00"};

double X(double recall) {
  return kLeft + std::clamp(recall, 0.0, 1.0) * kPlotWidth;
}
double Y(double precision) {
  return kTop + (1.0 - std::clamp(precision, 0.0, 1.0)) * kPlotHeight;
}

void AppendFormat(std::string& out, const char* format, double a, double b) {
  // Every format used here is a short literal with two numbers; 256 bytes leave room to spare.
  char buffer[256];
  const int length = std::snprintf(buffer, sizeof(buffer), format, a, b);
  out.append(buffer,
             static_cast<size_t>(std::clamp(length, 0, static_cast<int>(sizeof(buffer)) - 1)));
}

void AppendText(std::string& out,
                double x,
                double y,
                std::string_view anchor,
                std::string_view attributes,
                std::string_view text) {
  AppendFormat(out, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
  out += " text-anchor=\"";
  out += anchor;
  out += "\" ";
  out += attributes;
  out += ">";
  AppendXmlEscaped(out, text);
  out += "</text>\n";
}

}  // namespace

std::string RenderPrecisionRecallSvg(std::span<const PrecisionRecallPoint> curve,
                                     std::span<const PlotOperatingPoint> points,
                                     std::string_view title,
                                     std::string_view subtitle) {
  std::string svg;
  // The legend sits under the plot, so that it never hides a part of the curve.
  const double height =
      kTop + kPlotHeight + kBelowPlot + kLegendRow * static_cast<double>(points.size()) + 8;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  AppendFormat(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" ",
               kWidth, height);
  AppendFormat(svg, "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"13\">\n",
               kWidth, height);
  AppendFormat(svg, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n",
               kWidth, height);
  AppendText(svg, kWidth / 2, 26, "middle", "font-size=\"16\" font-weight=\"bold\"", title);
  AppendText(svg, kWidth / 2, 46, "middle", "fill=\"#555555\"", subtitle);

  // Grid and ticks every 0.1, labelled every 0.2.
  for (int tick = 0; tick <= 10; ++tick) {
    const double value = tick / 10.0;
    const char* stroke = tick % 2 == 0 ? "#dddddd" : "#f0f0f0";
    AppendFormat(svg, "<line x1=\"%.1f\" y1=\"%.1f\"", X(value), Y(0));
    AppendFormat(svg, " x2=\"%.1f\" y2=\"%.1f\" stroke=\"", X(value), Y(1));
    svg += stroke;
    svg += "\"/>\n";
    AppendFormat(svg, "<line x1=\"%.1f\" y1=\"%.1f\"", X(0), Y(value));
    AppendFormat(svg, " x2=\"%.1f\" y2=\"%.1f\" stroke=\"", X(1), Y(value));
    svg += stroke;
    svg += "\"/>\n";
    if (tick % 2 == 0) {
      char label[8];
      std::snprintf(label, sizeof(label), "%.1f", value);
      AppendText(svg, X(value), Y(0) + 18, "middle", "", label);
      AppendText(svg, X(0) - 8, Y(value) + 4, "end", "", label);
    }
  }
  AppendFormat(svg, "<rect x=\"%.1f\" y=\"%.1f\"", X(0), Y(1));
  AppendFormat(svg, " width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333333\"/>\n",
               kPlotWidth, kPlotHeight);
  AppendText(svg, X(0.5), Y(0) + 44, "middle", "",
             "recall: share of frauds flagged at or above the threshold");
  AppendFormat(svg, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"", 22, Y(0.5));
  AppendFormat(svg, " transform=\"rotate(-90 %.1f %.1f)\">", 22, Y(0.5));
  svg += "precision: share of flagged that are frauds</text>\n";

  if (!curve.empty()) {
    const size_t stride = std::max<size_t>(1, (curve.size() + kMaxVertices - 1) / kMaxVertices);
    svg += "<polyline fill=\"none\" stroke=\"#0072b2\" stroke-width=\"2\" points=\"";
    // The curve starts at recall 0 with the precision of the highest scores.
    AppendFormat(svg, "%.1f,%.1f", X(0), Y(curve.front().precision));
    for (size_t i = 0; i < curve.size(); i += stride) {
      AppendFormat(svg, " %.1f,%.1f", X(curve[i].recall), Y(curve[i].precision));
    }
    AppendFormat(svg, " %.1f,%.1f", X(curve.back().recall), Y(curve.back().precision));
    svg += "\"/>\n";
  }

  // Operating points, each named in a legend row under the plot.
  for (size_t i = 0; i < points.size(); ++i) {
    const char* colour = kPointColours[i % kPointColours.size()];
    AppendFormat(svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"", X(points[i].recall),
                 Y(points[i].precision));
    svg += colour;
    svg += "\" stroke=\"black\"/>\n";
    const double legend_y = Y(0) + kBelowPlot + 12 + kLegendRow * static_cast<double>(i);
    AppendFormat(svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"", X(0) + 18, legend_y - 4);
    svg += colour;
    svg += "\" stroke=\"black\"/>\n";
    char figures[96];
    std::snprintf(figures, sizeof(figures), " (recall %.3f, precision %.3f)", points[i].recall,
                  points[i].precision);
    AppendText(svg, X(0) + 30, legend_y, "start", "", points[i].label + figures);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace fraudguard
