#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "evaluation/detection_metrics.h"
#include "evaluation/precision_recall_plot.h"

namespace fraudguard {
namespace {

size_t CountOf(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST(EvaluationConfusion, CountsLevelsAgainstLabels) {
  // low: 3 legitimate, 1 fraud; medium: 1 fraud, 1 legitimate; high: 2 frauds.
  const std::vector<uint8_t> levels = {0, 0, 0, 1, 2, 2, 1, 0};
  const std::vector<float> labels = {0, 0, 0, 1, 1, 1, 0, 1};
  const auto confusion = ComputeRiskLevelConfusion(levels, labels);
  EXPECT_EQ(confusion.counts[0][0], 3U);
  EXPECT_EQ(confusion.counts[0][1], 1U);
  EXPECT_EQ(confusion.counts[1][0], 1U);
  EXPECT_EQ(confusion.counts[1][1], 1U);
  EXPECT_EQ(confusion.counts[2][0], 0U);
  EXPECT_EQ(confusion.counts[2][1], 2U);
  EXPECT_EQ(confusion.Total(), 8U);
  EXPECT_EQ(confusion.Frauds(), 4U);
  EXPECT_EQ(confusion.Legitimate(), 4U);
  EXPECT_DOUBLE_EQ(confusion.DetectionRateAtOrAbove(0), 1.0);
  EXPECT_DOUBLE_EQ(confusion.DetectionRateAtOrAbove(1), 0.75);
  EXPECT_DOUBLE_EQ(confusion.DetectionRateAtOrAbove(2), 0.5);
  EXPECT_DOUBLE_EQ(confusion.FalsePositiveRateAtOrAbove(1), 0.25);
  EXPECT_DOUBLE_EQ(confusion.FalsePositiveRateAtOrAbove(2), 0.0);
  // Medium or above: 3 frauds among 4 flagged; high: 2 of 2.
  EXPECT_DOUBLE_EQ(confusion.PrecisionAtOrAbove(1), 0.75);
  EXPECT_DOUBLE_EQ(confusion.PrecisionAtOrAbove(2), 1.0);
}

TEST(EvaluationConfusion, LevelsAboveHighCountAsHighAndEmptyIsZero) {
  const std::vector<uint8_t> levels = {7};
  const std::vector<float> labels = {1};
  EXPECT_EQ(ComputeRiskLevelConfusion(levels, labels).counts[2][1], 1U);
  const RiskLevelConfusion empty;
  EXPECT_DOUBLE_EQ(empty.DetectionRateAtOrAbove(1), 0.0);
  EXPECT_DOUBLE_EQ(empty.FalsePositiveRateAtOrAbove(1), 0.0);
  EXPECT_DOUBLE_EQ(empty.PrecisionAtOrAbove(1), 0.0);
}

TEST(EvaluationPrecisionRecall, OnePointPerDistinctScore) {
  const std::vector<float> scores = {0.9F, 0.8F, 0.8F, 0.1F};
  const std::vector<float> labels = {1, 0, 1, 0};
  const auto curve = ComputePrecisionRecallCurve(scores, labels);
  ASSERT_EQ(curve.size(), 3U);
  EXPECT_FLOAT_EQ(static_cast<float>(curve[0].threshold), 0.9F);
  EXPECT_DOUBLE_EQ(curve[0].recall, 0.5);
  EXPECT_DOUBLE_EQ(curve[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(curve[1].recall, 1.0);
  EXPECT_DOUBLE_EQ(curve[1].precision, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(curve[2].precision, 0.5);
  const std::vector<float> two_scores = {0.2F, 0.1F};
  const std::vector<float> no_positives = {0, 0};
  EXPECT_TRUE(ComputePrecisionRecallCurve(two_scores, no_positives).empty());
}

TEST(EvaluationPrecisionRecallPlot, DrawsCurvePointsAndEscapesText) {
  const std::vector<PrecisionRecallPoint> curve = {{0.9, 0.5, 1.0}, {0.1, 1.0, 0.5}};
  const std::vector<PlotOperatingPoint> points = {{"medium", 0.5, 1.0}, {"high <&>", 0.2, 1.0}};
  const std::string svg = RenderPrecisionRecallSvg(curve, points, "PR \"curve\"", "sub");
  EXPECT_EQ(svg.rfind("<?xml", 0), 0U);
  EXPECT_EQ(CountOf(svg, "<svg "), 1U);
  // The legend rows under the plot make the picture taller: 64 + 412 + 64 + 2 * 20 + 8.
  EXPECT_NE(svg.find("width=\"720\" height=\"588\" viewBox=\"0 0 720 588\""), std::string::npos)
      << svg.substr(0, 200);
  EXPECT_EQ(CountOf(svg, "</svg>"), 1U);
  EXPECT_EQ(CountOf(svg, "<polyline"), 1U);
  EXPECT_EQ(CountOf(svg, "<circle"), 4U);  // each point, and its legend marker
  EXPECT_NE(svg.find("high &lt;&amp;&gt;"), std::string::npos);
  EXPECT_NE(svg.find("PR &quot;curve&quot;"), std::string::npos);
  EXPECT_EQ(svg.find("<&>"), std::string::npos);
  EXPECT_NE(svg.find("recall"), std::string::npos);
  EXPECT_NE(svg.find("precision"), std::string::npos);
}

TEST(EvaluationPrecisionRecallPlot, ThinsLongCurves) {
  std::vector<PrecisionRecallPoint> curve(100000);
  for (size_t i = 0; i < curve.size(); ++i) {
    curve[i].recall = static_cast<double>(i + 1) / static_cast<double>(curve.size());
    curve[i].precision = 1.0 - curve[i].recall / 2;
  }
  const std::string svg = RenderPrecisionRecallSvg(curve, {}, "t", "s");
  const size_t start = svg.find("points=\"");
  ASSERT_NE(start, std::string::npos);
  const std::string vertices = svg.substr(start, svg.find('"', start + 8) - start);
  EXPECT_LE(CountOf(vertices, ","), 4002U);
  EXPECT_GE(CountOf(vertices, ","), 1000U);
}

}  // namespace
}  // namespace fraudguard
