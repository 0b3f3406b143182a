// GET /api/v1/capacity against the real binary: a server whose SLI store holds two days of
// hourly scoring traffic (written before it starts by the SLI recorder itself), its forecast
// and recommendation checked against `fraudguard capacity forecast` on the same store, its
// cache, its roles; and a fresh server's insufficient-history answer and bad parameters.
#include <signal.h>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>

#include <gtest/gtest.h>

#include "api/fraud_service.h"
#include "core/clock.h"
#include "server_process.h"
#include "slo/sli_recorder.h"

namespace fraudguard::testing {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int kSeededHours = 48;

// Two days of scoring requests, one batch per hour, the last in the hour before this one: a
// daily wave of 60 to 140 requests an hour. The recorder's clock is set by hand to each hour.
void SeedSliStore(const std::string& data_dir) {
  std::filesystem::create_directories(data_dir);
  const int64_t this_hour = SystemClock::Instance().NowMillis() / kHourMs * kHourMs;
  ManualClock clock(this_hour - kSeededHours * kHourMs);
  SliRecorderOptions options;
  options.path = data_dir + "/sli.db";
  options.routes = RouteLabels();
  options.start_writer = false;
  auto store = SliRecorder::Open(options, clock);
  ASSERT_TRUE(store) << store.error();
  const auto analyze = static_cast<size_t>(Route::kAnalyze);
  for (int hour = 0; hour < kSeededHours; ++hour) {
    clock.Set(this_hour - (kSeededHours - hour) * kHourMs + 5 * 60'000);
    const int requests = 100 + static_cast<int>(40 * std::sin(2 * std::numbers::pi * hour / 24));
    for (int i = 0; i < requests; ++i) {
      (*store)->Record(analyze, 200, 0.002);
    }
    ASSERT_TRUE((*store)->Flush());
  }
  ASSERT_TRUE((*store)->Close());
}

double MetricValue(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(metrics.substr(at + name.size() + 2));
}

TEST(CapacityApi, ForecastsTheServersOwnHistoryLikeTheCapacityCommand) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  SeedSliStore(data);
  const std::string keys = dir.path() + "/keys.yaml";
  const std::string reader = AddApiKey(keys, "viewer", "read");
  const std::string scorer = AddApiKey(keys, "checkout", "score");
  const std::string config = dir.path() + "/serve.yaml";
  // A small per-replica figure, so that this little traffic needs several replicas.
  std::ofstream(config) << "capacity:\n  replica_requests_per_second: 0.01\n";
  ServerProcess server(data, {"--keys", keys, "--config", config});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  const std::vector<std::pair<std::string, std::string>> as_reader = {{"X-API-Key", reader}};

  auto response = client->Send("GET", "/api/v1/capacity?horizon=2d", "", as_reader);
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->status, 200) << response->body;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(response->body).get(root), simdjson::SUCCESS) << response->body;
  EXPECT_EQ(std::string_view(root["status"].get_string()), "ok");
  EXPECT_EQ(int64_t(root["history_points"].get_int64()), kSeededHours);
  EXPECT_EQ(root["forecast"].get_array().size(), 48u);
  const simdjson::dom::element recommendation = root["recommendation"];
  const int64_t replicas = recommendation["replicas"].get_int64();
  EXPECT_GT(replicas, 1);
  EXPECT_EQ(std::string_view(recommendation["replica_capacity_source"].get_string()),
            "config capacity.replica_requests_per_second");
  const int64_t generated_ms = root["generated_at_ms"].get_int64();
  const std::string model(std::string_view(root["model"]["name"].get_string()));

  // Polled again within the cache period: the same answer, computed once.
  auto again = client->Send("GET", "/api/v1/capacity?horizon=2d", "", as_reader);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->body, response->body);
  auto metrics = client->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(MetricValue(metrics->body, "fraudguard_capacity_forecasts_total"), 1);
  EXPECT_EQ(MetricValue(metrics->body, "fraudguard_capacity_replica_capacity_known"), 1);

  // The capacity command on the same store, for the same hour, recommends the same.
  std::string cli;
  ASSERT_EQ(RunFraudguard({"capacity", "forecast", "--sli-store", data, "--horizon", "2d",
                           "--replica-rps", "0.01", "--current-replicas", "1", "--end",
                           std::to_string(generated_ms / 1000), "--json"},
                          &cli),
            0)
      << cli;
  simdjson::dom::parser cli_parser;
  simdjson::dom::element cli_root;
  ASSERT_EQ(cli_parser.parse(cli).get(cli_root), simdjson::SUCCESS) << cli;
  EXPECT_EQ(std::string_view(cli_root["chosen_model"].get_string()), model);
  EXPECT_EQ(int64_t(cli_root["recommendation"]["recommended_replicas"].get_int64()), replicas);

  // A read route: no key is refused, a key without the read role is forbidden.
  EXPECT_EQ(client->Send("GET", "/api/v1/capacity")->status, 401);
  EXPECT_EQ(client->Send("GET", "/api/v1/capacity", "", {{"X-API-Key", scorer}})->status, 403);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(CapacityApi, AFreshServerSaysHowMuchHistoryIsMissingAndRefusesBadParameters) {
  TempDir dir;
  const std::string config = dir.path() + "/serve.yaml";
  // The measured figure of the benchmark page, as the capacity command reads it.
  std::ofstream(config) << "capacity:\n  benchmarks: " << RepoPath("docs/benchmarks.md") << "\n";
  ServerProcess server(dir.path() + "/data", {"--config", config});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  auto response = client->Send("GET", "/api/v1/capacity");
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_NE(response->body.find(R"("status":"insufficient_history")"), std::string::npos)
      << response->body;
  EXPECT_NE(response->body.find(R"("history_points":0,"min_history_points":30)"), std::string::npos)
      << response->body;
  EXPECT_NE(response->body.find(R"("recommendation":null)"), std::string::npos);
  auto metrics = client->Send("GET", "/metrics");
  EXPECT_EQ(MetricValue(metrics->body, "fraudguard_capacity_replica_capacity_known"), 1);

  const std::pair<const char*, const char*> bad[] = {
      {"horizon=soon", "horizon"},          {"horizon=90m", "horizon"}, {"horizon=31d", "horizon"},
      {"horizon=1d&horizon=2d", "horizon"}, {"step=1h", "step"},
  };
  for (const auto& [query, field] : bad) {
    auto refused = client->Send("GET", std::string("/api/v1/capacity?") + query);
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->status, 400) << query;
    EXPECT_NE(refused->body.find(R"("error":"invalid_field")"), std::string::npos) << query;
    EXPECT_NE(refused->body.find(std::string(R"("field":")") + field + "\""), std::string::npos)
        << query << ": " << refused->body;
  }
  EXPECT_EQ(client->Send("POST", "/api/v1/capacity", "{}")->status, 405);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing
