// A precision-recall curve drawn as a self-contained SVG document: axes with ticks, axis labels,
// a title, the curve, and named operating points (for example the model's review and decline
// thresholds), readable at a glance in a browser or an image viewer.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "evaluation/detection_metrics.h"

namespace fraudguard {

struct PlotOperatingPoint {
  std::string label;  // for example "medium (review) >= 12.5"
  double recall = 0.0;
  double precision = 0.0;
};

// `curve` as ComputePrecisionRecallCurve returns it; long curves are thinned to a few thousand
// vertices, which no eye can tell apart. Text is XML-escaped.
std::string RenderPrecisionRecallSvg(std::span<const PrecisionRecallPoint> curve,
                                     std::span<const PlotOperatingPoint> points,
                                     std::string_view title,
                                     std::string_view subtitle);

}  // namespace fraudguard
