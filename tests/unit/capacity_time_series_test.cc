#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "capacity/time_series.h"

namespace fraudguard::capacity {
namespace {

TEST(CsvSeries, ReadsUnixAndIsoTimestampsWithAHeader) {
  auto series = ParseCsvSeries(
      "timestamp,value\n"
      "# a comment\n"
      "1767225600,10.5\n"
      "2026-01-01T01:00:00Z, 11\r\n"
      "\n"
      "2026-01-01T03:00:00+01:00,12e0\n");
  ASSERT_TRUE(series) << series.error();
  ASSERT_EQ(series->size(), 3u);
  EXPECT_DOUBLE_EQ(series->timestamps[0], 1767225600);
  EXPECT_DOUBLE_EQ(series->timestamps[1], 1767225600 + 3600);
  EXPECT_DOUBLE_EQ(series->timestamps[2], 1767225600 + 7200);
  EXPECT_DOUBLE_EQ(series->values[1], 11);
  EXPECT_DOUBLE_EQ(series->StepSeconds(), 3600);
  EXPECT_TRUE(series->IsRegular());
  EXPECT_EQ(FormatTimestamp(series->timestamps[2]), "2026-01-01T02:00:00Z");
}

struct BadCsvCase {
  const char* name;  // the case's name in the test list
  const char* text;
  const char* expected_error;
};

// gtest prints a case by its name rather than by its bytes.
void PrintTo(const BadCsvCase& bad_case, std::ostream* out) {
  *out << bad_case.name;
}

class BadCsv : public ::testing::TestWithParam<BadCsvCase> {};

TEST_P(BadCsv, ErrorNamesTheLineAndTheProblem) {
  auto series = ParseCsvSeries(GetParam().text);
  ASSERT_FALSE(series);
  EXPECT_EQ(series.error(), GetParam().expected_error);
}

INSTANTIATE_TEST_SUITE_P(
    Cases,
    BadCsv,
    ::testing::Values(
        BadCsvCase{"MissingField", "timestamp,value\n1,2\n3\n",
                   "line 3: expected 2 fields 'timestamp,value', got 1"},
        BadCsvCase{"ExtraField", "1,2\n2,3,4\n",
                   "line 2: expected 2 fields 'timestamp,value', got 3"},
        BadCsvCase{"WordForTimestamp", "1,2\nyesterday,3\n",
                   "line 2: timestamp 'yesterday' is neither Unix seconds nor ISO 8601 UTC"},
        BadCsvCase{"WordForValue", "1,2\n2,abc\n", "line 2: value 'abc' is not a finite number"},
        BadCsvCase{"EmptyValue", "1,2\n2,\n", "line 2: value '' is not a finite number"},
        BadCsvCase{"InfiniteValue", "1,2\n2,inf\n", "line 2: value 'inf' is not a finite number"},
        BadCsvCase{"TimestampWithoutZone", "2026-01-01T00:00:00,1\n",
                   "line 1: timestamp '2026-01-01T00:00:00' is neither Unix seconds nor ISO 8601 "
                   "UTC"},
        BadCsvCase{"RepeatedTimestamp", "10,1\n10,2\n",
                   "line 2: timestamp 1970-01-01T00:00:10Z is not after the previous one "
                   "(1970-01-01T00:00:10Z); rows must be in time order"},
        BadCsvCase{"RepeatedHeader", "timestamp,value\ntimestamp,value\n",
                   "line 2: timestamp 'timestamp' is neither Unix seconds nor ISO 8601 UTC"}),
    [](const ::testing::TestParamInfo<BadCsvCase>& test_case) {
      return std::string(test_case.param.name);
    });

TEST(CsvSeries, MissingFileIsAnError) {
  auto series = LoadCsvSeries("/nonexistent/capacity.csv");
  ASSERT_FALSE(series);
  EXPECT_EQ(series.error(), "cannot open /nonexistent/capacity.csv");
}

TEST(CsvSeries, FewerThan30PointsAreRefusedForForecasting) {
  std::string text;
  for (int i = 0; i < 29; ++i) {
    text += std::to_string(1000 + i * 60) + ",1\n";
  }
  auto series = ParseCsvSeries(text);
  ASSERT_TRUE(series);
  const Status status = RequireForecastable(*series);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error(), "need at least 30 points to forecast, got 29");
  text += "9999,1\n";
  EXPECT_TRUE(RequireForecastable(*ParseCsvSeries(text)));
}

TEST(CsvSeries, GapsMakeTheSeriesIrregular) {
  auto series = ParseCsvSeries("0,1\n60,1\n120,1\n300,1\n360,1\n");
  ASSERT_TRUE(series);
  EXPECT_DOUBLE_EQ(series->StepSeconds(), 60);
  EXPECT_FALSE(series->IsRegular());
}

TEST(PrometheusRange, ParsesAMatrixOfOneSeriesAndSkipsNaN) {
  const char* body = R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{"job":"fraudguard"},"values":[[1767225600,"10"],[1767229200,"NaN"],
       [1767232800.5,"12.25"]]}]}})";
  size_t skipped = 0;
  auto series = ParsePrometheusRange(body, &skipped);
  ASSERT_TRUE(series) << series.error();
  ASSERT_EQ(series->size(), 2u);
  EXPECT_EQ(skipped, 1u);
  EXPECT_DOUBLE_EQ(series->timestamps[1], 1767232800.5);
  EXPECT_DOUBLE_EQ(series->values[1], 12.25);
}

TEST(PrometheusRange, ReportsQueryErrorsAndWrongShapes) {
  auto failed = ParsePrometheusRange(
      R"({"status":"error","errorType":"bad_data","error":"parse error at char 4"})");
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error(), "Prometheus query failed: parse error at char 4");

  auto two = ParsePrometheusRange(R"({"status":"success","data":{"resultType":"matrix",)"
                                  R"("result":[{"values":[]},{"values":[]}]}})");
  ASSERT_FALSE(two);
  EXPECT_NE(two.error().find("returned 2 series"), std::string::npos);

  auto vector =
      ParsePrometheusRange(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_FALSE(vector);
  EXPECT_NE(vector.error().find("expected a matrix"), std::string::npos);

  EXPECT_FALSE(ParsePrometheusRange("not json"));
  auto bad_sample = ParsePrometheusRange(
      R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,2]]}]}})");
  ASSERT_FALSE(bad_sample);
  EXPECT_NE(bad_sample.error().find("not [timestamp, \"value\"]"), std::string::npos);
}

TEST(PrometheusRange, RefusesNonLoopbackAddresses) {
  PrometheusRangeQuery query;
  query.url = "http://10.0.0.1:9090";
  query.query = "up";
  query.start = 0;
  query.end = 3600;
  auto series = FetchPrometheusRange(query);
  ASSERT_FALSE(series);
  EXPECT_NE(series.error().find("only a Prometheus on 127.0.0.1"), std::string::npos);
}

TEST(Durations, ParseUnitsAndRefuseNonsense) {
  EXPECT_DOUBLE_EQ(*ParseDurationSeconds("90d"), 90 * 86400);
  EXPECT_DOUBLE_EQ(*ParseDurationSeconds("24h"), 86400);
  EXPECT_DOUBLE_EQ(*ParseDurationSeconds("30m"), 1800);
  EXPECT_DOUBLE_EQ(*ParseDurationSeconds("2w"), 14 * 86400);
  EXPECT_FALSE(ParseDurationSeconds("90"));
  EXPECT_FALSE(ParseDurationSeconds("-3d"));
  EXPECT_FALSE(ParseDurationSeconds("d"));
  EXPECT_FALSE(ParseDurationSeconds("3y"));
}

}  // namespace
}  // namespace fraudguard::capacity
