// The capacity view behind GET /api/v1/capacity: its JSON for enough and too little history,
// its recommendation against the capacity module's own, its cache, and the query codec.
#include "capacity/capacity_view.h"

#include <simdjson.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numbers>

#include <gtest/gtest.h>

#include "api/capacity_codec.h"
#include "api/fraud_service.h"
#include "capacity/forecast.h"
#include "capacity/sli_history.h"
#include "core/clock.h"
#include "slo/sli_recorder.h"

namespace fraudguard::capacity {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kStartMs = 1'793'491'200'000;  // 2026-11-01T00:00:00Z

// Requests in hour `i`: a daily wave over a slow rise.
double HourlyRequests(int i) {
  return 400 + 2.0 * i + 150 * std::sin(2 * std::numbers::pi * (i % 24) / 24.0);
}

TimeSeries HourlySeries(int hours) {
  TimeSeries series;
  for (int i = 0; i < hours; ++i) {
    series.timestamps.push_back(static_cast<double>(kStartMs) / 1000 + 3600.0 * i);
    series.values.push_back(HourlyRequests(i) / 3600);
  }
  return series;
}

CapacityViewSettings Settings(double replica_rps) {
  CapacityViewSettings settings;
  settings.routes = DefaultSliRoutes();
  settings.replica = {replica_rps, "test figure"};
  settings.replica_unknown_reason = replica_rps > 0 ? "" : "no figure in this test";
  return settings;
}

simdjson::dom::element Parse(simdjson::dom::parser& parser, const std::string& body) {
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(body).get(root), simdjson::SUCCESS) << body;
  return root;
}

TEST(CapacityViewJson, ForecastIntervalModelAndTheCapacityModulesRecommendation) {
  const TimeSeries history = HourlySeries(10 * 24);
  std::string body;
  ASSERT_TRUE(AppendCapacityViewJson(history, 2 * 86400, Settings(0.05), kStartMs, body));
  simdjson::dom::parser parser;
  const simdjson::dom::element root = Parse(parser, body);
  EXPECT_EQ(std::string_view(root["status"].get_string()), "ok");
  EXPECT_EQ(uint64_t(root["history_points"].get_uint64()), 240u);
  EXPECT_EQ(root["history"].get_array().size(), 240u);
  EXPECT_EQ(int64_t(root["history"].at(0)["timestamp_ms"].get_int64()), kStartMs);

  // The same forecast as the capacity module's, point by point, inside its interval.
  auto report = ForecastSeries(history, 2 * 86400);
  ASSERT_TRUE(report) << report.error();
  const ModelResult& chosen = report->Chosen();
  EXPECT_EQ(std::string_view(root["model"]["name"].get_string()), ModelName(chosen.kind));
  EXPECT_DOUBLE_EQ(double(root["model"]["backtest"]["rmse"].get_double()), chosen.backtest.rmse);
  const simdjson::dom::array forecast = root["forecast"].get_array();
  ASSERT_EQ(forecast.size(), 48u);
  size_t i = 0;
  for (simdjson::dom::element point : forecast) {
    const double value = point["value"].get_double();
    EXPECT_DOUBLE_EQ(value, chosen.forecast[i].value);
    EXPECT_LE(double(point["lower"].get_double()), value);
    EXPECT_GE(double(point["upper"].get_double()), value);
    ++i;
  }

  RecommendationInput input;
  input.current_replicas = 1;
  input.replica = {0.05, "test figure"};
  auto expected = Recommend(chosen.forecast, input);
  ASSERT_TRUE(expected) << expected.error();
  const simdjson::dom::element r = root["recommendation"];
  EXPECT_EQ(int64_t(r["replicas"].get_int64()), expected->recommended_replicas);
  EXPECT_GT(expected->recommended_replicas, 1);  // the test figure is small on purpose
  EXPECT_DOUBLE_EQ(double(r["replica_requests_per_second"].get_double()), 0.05);
  EXPECT_EQ(std::string_view(r["replica_capacity_source"].get_string()), "test figure");
  EXPECT_DOUBLE_EQ(double(r["target_utilisation"].get_double()), kTargetUtilisation);
  // The recommended replicas run the interval's peak at or under the target utilisation.
  const double peak = r["peak_utilisation"].get_double();
  EXPECT_LE(peak, kTargetUtilisation + 1e-9);
  EXPECT_NEAR(peak, expected->forecast_peak_upper / (expected->recommended_replicas * 0.05), 1e-12);
  EXPECT_TRUE(bool(r["action_required"].get_bool()));
}

TEST(CapacityViewJson, TooLittleHistoryIsAStateNotAnError) {
  std::string body;
  ASSERT_TRUE(AppendCapacityViewJson(HourlySeries(29), 86400, Settings(0.05), kStartMs, body));
  simdjson::dom::parser parser;
  const simdjson::dom::element root = Parse(parser, body);
  EXPECT_EQ(std::string_view(root["status"].get_string()), "insufficient_history");
  EXPECT_EQ(uint64_t(root["history_points"].get_uint64()), 29u);
  EXPECT_EQ(uint64_t(root["min_history_points"].get_uint64()), kMinForecastPoints);
  EXPECT_EQ(root["history"].get_array().size(), 29u);
  EXPECT_EQ(root["forecast"].get_array().size(), 0u);
  EXPECT_TRUE(root["recommendation"].is_null());
  EXPECT_NE(std::string_view(root["message"].get_string()).find("holds 29"), std::string::npos);
}

TEST(CapacityViewJson, WithoutAPerReplicaFigureTheForecastComesWithoutARecommendation) {
  std::string body;
  ASSERT_TRUE(AppendCapacityViewJson(HourlySeries(48), 86400, Settings(0), kStartMs, body));
  simdjson::dom::parser parser;
  const simdjson::dom::element root = Parse(parser, body);
  EXPECT_EQ(std::string_view(root["status"].get_string()), "ok");
  EXPECT_EQ(root["forecast"].get_array().size(), 24u);
  EXPECT_TRUE(root["recommendation"].is_null());
  EXPECT_EQ(std::string_view(root["recommendation_unavailable"].get_string()),
            "no figure in this test");
}

// A real SLI store holding 40 hours of scoring traffic, read by the view through its cache.
TEST(CapacityView, ReadsTheStoreAndCachesForTheCachePeriod) {
  char pattern[] = "/tmp/fraudguard-capacity-view-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  ManualClock clock(kStartMs);
  SliRecorderOptions options;
  options.path = dir + "/sli.db";
  options.routes = RouteLabels();
  options.start_writer = false;
  auto store = SliRecorder::Open(options, clock);
  ASSERT_TRUE(store) << store.error();
  const size_t analyze = static_cast<size_t>(Route::kAnalyze);
  const auto record_hour = [&](int hour) {
    clock.Set(kStartMs + hour * kHourMs);
    for (int i = 0; i < static_cast<int>(HourlyRequests(hour)); ++i) {
      (*store)->Record(analyze, 200, 0.001);
    }
    ASSERT_TRUE((*store)->Flush());
  };
  for (int hour = 0; hour < 40; ++hour) {
    record_hour(hour);
  }

  CapacityView view(**store, Settings(0.05), clock);
  clock.Set(kStartMs + 40 * kHourMs + 60'000);  // a minute into hour 40
  auto first = view.Answer(86400);
  ASSERT_TRUE(first) << first.error();
  EXPECT_TRUE(first->computed);
  simdjson::dom::parser parser;
  const simdjson::dom::element root = Parse(parser, *first->body);
  EXPECT_EQ(std::string_view(root["status"].get_string()), "ok");
  EXPECT_EQ(uint64_t(root["history_points"].get_uint64()), 40u);
  EXPECT_NEAR(double(root["history"].at(39)["value"].get_double()),
              std::floor(HourlyRequests(39)) / 3600, 1e-12);

  // Another hour of traffic, but within the cache period the same answer comes back.
  record_hour(40);
  clock.Set(kStartMs + 41 * kHourMs + 1000);
  auto cached = view.Answer(86400);
  ASSERT_TRUE(cached);
  // The clock moved an hour: the cached answer has expired.
  EXPECT_TRUE(cached->computed);
  clock.Advance(kDefaultViewCacheMillis - 2000);
  auto within = view.Answer(86400);
  ASSERT_TRUE(within);
  EXPECT_FALSE(within->computed);
  EXPECT_EQ(within->body, cached->body);
  EXPECT_NE(within->body->find("\"history_points\":41"), std::string::npos);
  // Another horizon is computed on its own.
  auto other = view.Answer(2 * 86400);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->computed);
  clock.Advance(2000);
  auto expired = view.Answer(86400);
  ASSERT_TRUE(expired);
  EXPECT_TRUE(expired->computed);

  EXPECT_FALSE(view.Answer(1800));        // not whole hours
  EXPECT_FALSE(view.Answer(31 * 86400));  // over the bound
  EXPECT_FALSE(view.Answer(0));           // nothing to forecast
  ASSERT_TRUE((*store)->Close());
  std::filesystem::remove_all(dir);
}

struct BadQuery {
  const char* query;
  const char* field;
  const char* message_part;
};

TEST(CapacityQueryCodec, AcceptsDurationsInWholeHoursAndDefaults) {
  CapacityQuery query;
  RequestError error;
  ASSERT_TRUE(DecodeCapacityQuery("", 604800, query, error));
  EXPECT_DOUBLE_EQ(query.horizon_seconds, 604800);
  ASSERT_TRUE(DecodeCapacityQuery("horizon=48h", 604800, query, error)) << error.message;
  EXPECT_DOUBLE_EQ(query.horizon_seconds, 48 * 3600);
  ASSERT_TRUE(DecodeCapacityQuery("horizon=2w&", 604800, query, error)) << error.message;
  EXPECT_DOUBLE_EQ(query.horizon_seconds, 14 * 86400);
  ASSERT_TRUE(DecodeCapacityQuery("horizon=30d", 604800, query, error)) << error.message;
}

TEST(CapacityQueryCodec, RefusesEachKindOfBadParameterNamingIt) {
  const std::string long_query = "horizon=" + std::string(300, '1') + "h";
  const BadQuery cases[] = {
      {"horizon=", "horizon", "duration"},
      {"horizon", "horizon", "duration"},
      {"horizon=soon", "horizon", "duration"},
      {"horizon=7", "horizon", "duration"},
      {"horizon=0h", "horizon", "duration"},
      {"horizon=-1d", "horizon", "duration"},
      {"horizon=90m", "horizon", "whole hours"},
      {"horizon=1.5h", "horizon", "whole hours"},
      {"horizon=31d", "horizon", "at most 30d"},
      {"horizon=1e9h", "horizon", "at most 30d"},
      {"horizon=1d&horizon=2d", "horizon", "more than once"},
      {"step=1h", "step", "unknown parameter"},
      {"horizon=1d&x=1", "x", "unknown parameter"},
      {long_query.c_str(), "query", "longer than"},
  };
  for (const BadQuery& c : cases) {
    CapacityQuery query;
    RequestError error;
    EXPECT_FALSE(DecodeCapacityQuery(c.query, 604800, query, error)) << c.query;
    EXPECT_EQ(error.code, "invalid_field") << c.query;
    EXPECT_EQ(error.field, c.field) << c.query;
    EXPECT_NE(error.message.find(c.message_part), std::string::npos)
        << c.query << ": " << error.message;
  }
  // A long unknown name is echoed shortened.
  CapacityQuery query;
  RequestError error;
  EXPECT_FALSE(DecodeCapacityQuery(std::string(100, 'a') + "=1", 604800, query, error));
  EXPECT_EQ(error.field.size(), 32u);
}

}  // namespace
}  // namespace fraudguard::capacity
