#include "evaluation/drift.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "features/feature_schema.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinute = 60 * 1000;

std::vector<float> Normal(size_t count, double mean, double sd, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<double> normal(mean, sd);
  std::vector<float> values(count);
  for (float& value : values) {
    value = static_cast<float>(normal(random));
  }
  return values;
}

// A reference of the risk score and the amount feature, both drawn from N(mean, sd).
DriftReference ScoreAndAmountReference(double mean, double sd) {
  DriftReference reference;
  reference.rows = 20000;
  reference.distributions.push_back(
      BuildDriftDistribution(std::string(kRiskScoreDistribution), Normal(20000, mean, sd, 1)));
  reference.distributions.push_back(BuildDriftDistribution("amount", Normal(20000, mean, sd, 2)));
  return reference;
}

std::string MetadataWith(const DriftReference& reference) {
  std::string out;
  JsonWriter json(out);
  json.BeginObject().Key("drift_reference");
  AppendDriftReferenceJson(reference, json);
  json.EndObject();
  return out;
}

TEST(PopulationStabilityIndex, IsZeroForTheSameSharesAndGrowsWithTheShift) {
  const std::vector<double> expected = {0.25, 0.25, 0.25, 0.25};
  EXPECT_DOUBLE_EQ(PopulationStabilityIndex(expected, std::vector<uint64_t>{10, 10, 10, 10}), 0.0);
  const double small = PopulationStabilityIndex(expected, std::vector<uint64_t>{12, 10, 10, 8});
  const double large = PopulationStabilityIndex(expected, std::vector<uint64_t>{30, 5, 3, 2});
  EXPECT_GT(small, 0.0);
  EXPECT_GT(large, small);
  // By hand: (0.3-0.25)ln(1.2) + 0 + 0 + (0.2-0.25)ln(0.8).
  EXPECT_NEAR(small, 0.05 * std::log(1.2) - 0.05 * std::log(0.8), 1e-12);
}

TEST(PopulationStabilityIndex, FloorsEmptyBinsAndSkipsBinsEmptyOnBothSides) {
  const std::vector<double> expected = {0.5, 0.5, 0.0};
  // Nothing in the third bin on either side: the same as two bins.
  EXPECT_DOUBLE_EQ(PopulationStabilityIndex(expected, std::vector<uint64_t>{5, 5, 0}), 0.0);
  // Mass where the reference had none: large but finite.
  const double psi = PopulationStabilityIndex(expected, std::vector<uint64_t>{0, 5, 5});
  EXPECT_TRUE(std::isfinite(psi));
  EXPECT_GT(psi, 1.0);
}

TEST(PopulationStabilityIndex, IsNaNWithoutObservationsOrForMismatchedBins) {
  EXPECT_TRUE(std::isnan(
      PopulationStabilityIndex(std::vector<double>{0.5, 0.5}, std::vector<uint64_t>{0, 0})));
  EXPECT_TRUE(std::isnan(
      PopulationStabilityIndex(std::vector<double>{0.5, 0.5}, std::vector<uint64_t>{1, 1, 1})));
}

TEST(DriftDistribution, CutsAtDecilesWithAMissingBinLast) {
  std::vector<float> values;
  for (int i = 0; i < 1000; ++i) {
    values.push_back(static_cast<float>(i));
  }
  values.push_back(std::nanf(""));
  const DriftDistribution distribution = BuildDriftDistribution("amount", values);
  ASSERT_EQ(distribution.edges.size(), 9U);
  EXPECT_DOUBLE_EQ(distribution.edges.front(), 100.0);
  EXPECT_DOUBLE_EQ(distribution.edges.back(), 900.0);
  ASSERT_EQ(distribution.expected.size(), 11U);
  EXPECT_NEAR(distribution.expected[0], 100.0 / 1001.0, 1e-12);
  EXPECT_NEAR(distribution.expected[10], 1.0 / 1001.0, 1e-12);
  EXPECT_EQ(distribution.BinOf(99.5), 0U);
  EXPECT_EQ(distribution.BinOf(100.0), 1U);
  EXPECT_EQ(distribution.BinOf(1e9), 9U);
  EXPECT_EQ(distribution.BinOf(std::nan("")), 10U);
}

TEST(DriftDistribution, CollapsesRepeatedCutPoints) {
  // Nine tenths zeros, then a few distinct values: the zeros cannot be split.
  std::vector<float> values(900, 0.0F);
  for (int i = 0; i < 100; ++i) {
    values.push_back(static_cast<float>(1 + i));
  }
  const DriftDistribution distribution = BuildDriftDistribution("card_count_1h", values);
  // The first eight deciles are all 0 and become one edge; the ninth is 1.
  ASSERT_EQ(distribution.edges.size(), 2U);
  EXPECT_DOUBLE_EQ(distribution.edges[0], 0.0);
  EXPECT_DOUBLE_EQ(distribution.edges[1], 1.0);
  ASSERT_EQ(distribution.expected.size(), 4U);
  EXPECT_DOUBLE_EQ(distribution.expected[0], 0.0);
  EXPECT_NEAR(distribution.expected[1], 0.9, 1e-12);
  EXPECT_NEAR(distribution.expected[2], 0.1, 1e-12);
  EXPECT_DOUBLE_EQ(distribution.expected[3], 0.0);
}

TEST(DriftReferenceJson, RoundTripsExactly) {
  const DriftReference reference = ScoreAndAmountReference(40, 10);
  auto parsed = ParseDriftReference(MetadataWith(reference));
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_TRUE(parsed->has_value());
  const DriftReference& back = **parsed;
  EXPECT_EQ(back.rows, reference.rows);
  ASSERT_EQ(back.distributions.size(), 2U);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(back.distributions[i].name, reference.distributions[i].name);
    EXPECT_EQ(back.distributions[i].edges, reference.distributions[i].edges);
    EXPECT_EQ(back.distributions[i].expected, reference.distributions[i].expected);
  }
}

TEST(DriftReferenceJson, AbsentReferenceIsNotAnError) {
  auto parsed = ParseDriftReference(R"({"training":{"rows":5}})");
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_FALSE(parsed->has_value());
}

// Metadata whose reference holds the one distribution `json`.
std::string OneDistribution(const std::string& json) {
  return R"({"drift_reference":{"rows":1,"distributions":[)" + json + "]}}";
}

TEST(DriftReferenceJson, MalformedReferencesNameTheField) {
  const struct {
    std::string metadata;
    const char* field;
  } cases[] = {
      {R"({"drift_reference":[]})", "metadata.drift_reference: expected an object"},
      {R"({"drift_reference":{"distributions":[]}})", "metadata.drift_reference.rows"},
      {R"({"drift_reference":{"rows":1}})", "metadata.drift_reference.distributions"},
      {R"({"drift_reference":{"rows":1,"distributions":[]}})",
       "metadata.drift_reference.distributions: the first entry must be \"risk_score\""},
      {R"({"drift_reference":{"rows":1,"distributions":[{"edges":[],"expected":[1,0]}]}})",
       "distributions[0].name"},
      {R"({"drift_reference":{"rows":1,"distributions":[{"name":"risk_score","expected":[1,0]}]}})",
       "distributions[0].edges: missing"},
      {OneDistribution(R"({"name":"risk_score","edges":[2,1],"expected":[0.5,0.5,0,0]})"),
       "distributions[0].edges: must be strictly ascending"},
      {OneDistribution(R"({"name":"risk_score","edges":[1],"expected":[1,0]})"),
       "distributions[0].expected: needs 3 shares"},
      {OneDistribution(R"({"name":"risk_score","edges":[],"expected":[0.7,0.7]})"),
       "distributions[0].expected: shares must sum to 1"},
      {OneDistribution(R"({"name":"risk_score","edges":[],"expected":[2,-1]})"),
       "distributions[0].expected: shares must lie between 0 and 1"},
      {OneDistribution(R"({"name":"risk_score","edges":["a"],"expected":[1,0,0]})"),
       "distributions[0].edges: expected finite numbers"},
      {R"({"drift_reference":{"rows":-3,"distributions":[]}})", "rows: expected a non-negative"},
  };
  for (const auto& c : cases) {
    auto parsed = ParseDriftReference(c.metadata);
    ASSERT_FALSE(parsed) << c.metadata;
    EXPECT_NE(parsed.error().find(c.field), std::string::npos) << parsed.error();
  }
  // Bounded: an edge list longer than the limit is refused, not read.
  std::string edges;
  for (size_t i = 0; i <= kMaxDriftEdges; ++i) {
    edges += (i == 0 ? "" : ",") + std::to_string(i);
  }
  auto parsed = ParseDriftReference(
      R"({"drift_reference":{"rows":1,"distributions":[{"name":"risk_score","edges":[)" + edges +
      R"(],"expected":[1]}]}})");
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().find("more than"), std::string::npos) << parsed.error();
}

TEST(DriftTally, ComparesAWholePeriodAndSkipsFeaturesTheSchemaLacks) {
  DriftReference reference = ScoreAndAmountReference(40, 10);
  reference.distributions.push_back(
      BuildDriftDistribution("retired_feature", Normal(100, 0, 1, 3)));
  DriftTally same(reference);
  DriftTally shifted(reference);
  const std::vector<float> normal = Normal(20000, 40, 10, 5);
  FeatureVector features{};
  for (const float value : normal) {
    features[kAmount] = value;
    same.Add(value, features);
    features[kAmount] = value + 10;
    shifted.Add(value + 10, features);
  }
  EXPECT_EQ(same.observations(), 20000U);
  const auto stable = same.Drift();
  ASSERT_EQ(stable.size(), 2U);  // the unknown feature is left out
  EXPECT_EQ(stable[1].name, "amount");
  EXPECT_LT(stable[0].psi, 0.01);
  EXPECT_LT(stable[1].psi, 0.01);
  const auto moved = shifted.Drift();
  EXPECT_GT(moved[0].psi, 0.25);
  EXPECT_GT(moved[1].psi, 0.25);
}

class DriftMonitorTest : public ::testing::Test {
protected:
  // Scores `count` transactions with score and amount drawn from N(mean, sd), spread over
  // `span_ms` from the clock's current time, split between two workers.
  void Feed(size_t count, double mean, double sd, int64_t span_ms, uint32_t seed) {
    const std::vector<float> scores = Normal(count, mean, sd, seed);
    const std::vector<float> amounts = Normal(count, mean, sd, seed + 1000);
    FeatureVector features{};
    const int64_t start = clock_.NowMillis();
    for (size_t i = 0; i < count; ++i) {
      features[kAmount] = amounts[i];
      const int64_t now = start + span_ms * static_cast<int64_t>(i) / static_cast<int64_t>(count);
      clock_.Set(now);
      monitor_.Observe(static_cast<int>(i % 2), scores[i], features, now);
    }
    clock_.Set(start + span_ms);
  }

  ManualClock clock_{int64_t{1'700'000'000'000}};
  DriftMonitor monitor_{clock_, DriftMonitorOptions{}, 2};
};

TEST_F(DriftMonitorTest, TheReferenceDistributionStaysUnderTheThreshold) {
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  Feed(20000, 40, 10, 30 * kMinute, 7);
  const DriftReport report = monitor_.Report();
  EXPECT_TRUE(report.has_reference);
  EXPECT_EQ(report.observations, 20000U);
  ASSERT_EQ(report.distributions.size(), 2U);
  // Sampling noise alone: about (bins - 1) / n.
  EXPECT_LT(report.score_psi, 0.01);
  EXPECT_LT(report.distributions[1].psi, 0.01);
  EXPECT_FALSE(report.drifting);
}

TEST_F(DriftMonitorTest, AShiftedDistributionIsReportedAsDrift) {
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  Feed(20000, 50, 10, 30 * kMinute, 7);  // one standard deviation up
  const DriftReport report = monitor_.Report();
  EXPECT_GT(report.score_psi, 0.25);
  EXPECT_GT(report.distributions[1].psi, 0.25);
  EXPECT_TRUE(report.drifting);
}

TEST_F(DriftMonitorTest, TooFewObservationsGiveNoFigure) {
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  Feed(999, 80, 10, kMinute, 7);
  const DriftReport report = monitor_.Report();
  EXPECT_EQ(report.observations, 999U);
  EXPECT_TRUE(std::isnan(report.score_psi));
  EXPECT_FALSE(report.drifting);
}

TEST_F(DriftMonitorTest, OldTrafficLeavesTheWindow) {
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  Feed(5000, 80, 10, 10 * kMinute, 7);  // badly shifted ...
  EXPECT_TRUE(monitor_.Report().drifting);
  clock_.Advance(60 * kMinute);  // ... an hour ago
  Feed(5000, 40, 10, 10 * kMinute, 8);
  const DriftReport report = monitor_.Report();
  EXPECT_EQ(report.observations, 5000U);
  EXPECT_LT(report.score_psi, 0.02);
  EXPECT_FALSE(report.drifting);
}

TEST_F(DriftMonitorTest, ANewModelStartsWithAnEmptyWindow) {
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  Feed(5000, 80, 10, 10 * kMinute, 7);
  ASSERT_TRUE(monitor_.SetReference("m2", ScoreAndAmountReference(80, 10)));
  EXPECT_EQ(monitor_.Report().observations, 0U);
  Feed(5000, 80, 10, 10 * kMinute, 9);
  const DriftReport report = monitor_.Report();
  EXPECT_EQ(report.model_version, "m2");
  EXPECT_EQ(report.observations, 5000U);
  EXPECT_FALSE(report.drifting);
}

TEST_F(DriftMonitorTest, WithoutAReferenceNothingIsMeasured) {
  ASSERT_TRUE(monitor_.SetReference("old-model", std::nullopt));
  Feed(2000, 40, 10, kMinute, 7);
  const DriftReport report = monitor_.Report();
  EXPECT_FALSE(report.has_reference);
  EXPECT_EQ(report.observations, 0U);
  EXPECT_TRUE(std::isnan(report.score_psi));
}

TEST_F(DriftMonitorTest, AReferenceNamingAnUnknownFeatureIsRefused) {
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  DriftReference reference = ScoreAndAmountReference(40, 10);
  reference.distributions[1].name = "no_such_feature";
  auto status = monitor_.SetReference("m2", reference);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("no_such_feature"), std::string::npos);
  EXPECT_EQ(monitor_.Report().model_version, "m1");  // unchanged
}

TEST_F(DriftMonitorTest, DriftIsLoggedOnceWhenItStartsAndOnceWhenItEnds) {
  char path[] = "/tmp/fraudguard-drift-log-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  SetLogFd(fd);
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  Feed(6000, 80, 10, 30 * kMinute, 7);  // six buckets of shifted traffic
  clock_.Advance(60 * kMinute);
  Feed(6000, 40, 10, 90 * kMinute, 8);  // the shift ages out of the window
  SetLogFd(2);
  std::ifstream file(path);
  const std::string logs((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ::close(fd);
  ::unlink(path);
  const auto count = [&logs](const std::string& event) {
    size_t n = 0;
    for (size_t at = logs.find(event); at != std::string::npos; at = logs.find(event, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("\"model_drift_detected\""), 1U) << logs;
  EXPECT_EQ(count("\"model_drift_cleared\""), 1U) << logs;
  EXPECT_NE(logs.find("\"most_shifted_feature\":\"amount\""), std::string::npos) << logs;
}

TEST_F(DriftMonitorTest, MetricsCarryTheModelNameAndMarkAReplacedModelUnknown) {
  MetricsRegistry metrics;
  monitor_.RegisterMetrics(metrics);
  ASSERT_TRUE(monitor_.SetReference("m1", ScoreAndAmountReference(40, 10)));
  Feed(5000, 60, 10, 10 * kMinute, 7);
  std::string text;
  metrics.Render(text);
  EXPECT_NE(text.find("model_drift_score{model_name=\"m1\"}"), std::string::npos) << text;
  EXPECT_NE(text.find("fraudguard_model_drifting{model_name=\"m1\"} 1"), std::string::npos);
  EXPECT_NE(text.find("fraudguard_drift_observations{model_name=\"m1\"} 5000"), std::string::npos);
  EXPECT_NE(text.find("fraudguard_feature_drift_psi{model_name=\"m1\",distribution=\"amount\"}"),
            std::string::npos);

  ASSERT_TRUE(monitor_.SetReference("m2", ScoreAndAmountReference(40, 10)));
  text.clear();
  metrics.Render(text);
  EXPECT_NE(text.find("model_drift_score{model_name=\"m1\"} NaN"), std::string::npos) << text;
  EXPECT_NE(text.find("fraudguard_model_drifting{model_name=\"m1\"} 0"), std::string::npos);
  EXPECT_NE(text.find("model_drift_score{model_name=\"m2\"} NaN"), std::string::npos);
}

}  // namespace
}  // namespace fraudguard
