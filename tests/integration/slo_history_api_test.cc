// GET /api/v1/history against the real binary: a data directory holding three-day-old SLI rows
// (written before the server starts) plus live scoring traffic, read back per range and route
// group; every class of bad parameter answered 400 naming it; the read role enforced.
#include <signal.h>
#include <simdjson.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "server_process.h"
#include "slo/sli_recorder.h"
#include "telemetry/metrics.h"

namespace fraudguard::testing {
namespace {

struct Totals {
  int64_t points = -1;
  double requests = -1;
  double bad = -1;
  std::string field;  // of an error body
};

Totals Parse(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  Totals totals;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) {
    return totals;
  }
  std::string_view field;
  if (root["field"].get(field) == simdjson::SUCCESS) {
    totals.field = std::string(field);
    return totals;
  }
  simdjson::dom::array points;
  if (root["points"].get(points) == simdjson::SUCCESS) {
    totals.points = static_cast<int64_t>(points.size());
  }
  if (root["total"]["requests"].get(totals.requests) != simdjson::SUCCESS ||
      root["total"]["bad"].get(totals.bad) != simdjson::SUCCESS) {
    totals.requests = -1;
  }
  return totals;
}

TEST(HistoryApi, SeriesPerRangeFromStoredAndLiveTrafficAndBadParameters) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  std::filesystem::create_directories(data);
  {
    // 50 scoring requests three days ago, 2 of them 5xx: in the week, not in the day.
    SliRecorderOptions options;
    options.path = data + "/sli.db";
    options.routes = {"/api/v1/fraud/analyze"};
    options.start_writer = false;
    auto recorder = SliRecorder::Open(options, SystemClock::Instance());
    ASSERT_TRUE(recorder) << recorder.error();
    SliCounts counts;
    counts.total = 50;
    counts.bad = 2;
    counts.buckets.assign(LatencyBucketsSeconds().size() + 1, 0);
    counts.buckets[9] = 50;
    const int64_t minute = SystemClock::Instance().NowMillis() / 60'000 - 3 * 24 * 60;
    ASSERT_TRUE((*recorder)->AddRows({{minute, "/api/v1/fraud/analyze", counts}}));
  }
  const std::string keys = dir.path() + "/keys.yaml";
  const std::string reader = AddApiKey(keys, "oncall", "read,score");
  const std::string scorer = AddApiKey(keys, "checkout", "score");
  ServerProcess server(data, {"--keys", keys});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  const std::vector<std::pair<std::string, std::string>> as_reader = {{"X-API-Key", reader}};

  constexpr int kScored = 12;
  for (int i = 0; i < kScored; ++i) {
    auto scored = client->Send("POST", "/api/v1/fraud/analyze",
                               R"({"transaction_id":"h-)" + std::to_string(i) + R"(","amount":25})",
                               as_reader);
    ASSERT_TRUE(scored.ok());
    ASSERT_EQ(scored->status, 200) << scored->body;
  }

  const std::pair<std::string, int64_t> ranges[] = {{"1h", 60}, {"24h", 96}, {"7d", 168}};
  for (const auto& [range, points] : ranges) {
    auto response = client->Send("GET", "/api/v1/history?range=" + range, "", as_reader);
    ASSERT_TRUE(response.ok());
    ASSERT_EQ(response->status, 200) << response->body;
    const Totals totals = Parse(response->body);
    EXPECT_EQ(totals.points, points) << range;
    EXPECT_EQ(totals.requests, range == "7d" ? kScored + 50 : kScored) << range;
    EXPECT_EQ(totals.bad, range == "7d" ? 2 : 0) << range;
  }
  // The dashboard group counts the dashboard's reads (the three history reads above and the SLO
  // page read below), not the scoring.
  ASSERT_EQ(client->Send("GET", "/api/v1/slo", "", as_reader)->status, 200);
  auto dashboard = client->Send("GET", "/api/v1/history?range=1h&routes=dashboard", "", as_reader);
  ASSERT_EQ(dashboard->status, 200) << dashboard->body;
  EXPECT_EQ(Parse(dashboard->body).requests, 4);
  EXPECT_NE(dashboard->body.find(R"("/api/v1/slo")"), std::string::npos) << dashboard->body;
  auto all = client->Send("GET", "/api/v1/history?routes=all&range=1h", "", as_reader);
  ASSERT_EQ(all->status, 200) << all->body;
  EXPECT_GE(Parse(all->body).requests, kScored + 1 + 4)
      << "scoring, the SLO read, the history reads";

  const std::pair<std::string, std::string> bad[] = {
      {"", "range"},
      {"?range=30d", "range"},
      {"?range=1h&range=7d", "range"},
      {"?range=1h&routes=payments", "routes"},
      {"?range=1h&limit=5", "limit"},
      {"?range=1h&" + std::string(300, 'x'), "query"},
  };
  for (const auto& [query, field] : bad) {
    auto response = client->Send("GET", "/api/v1/history" + query, "", as_reader);
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 400) << query;
    EXPECT_EQ(Parse(response->body).field, field) << query << ": " << response->body;
  }
  EXPECT_EQ(client->Send("GET", "/api/v1/history?range=1h")->status, 401);
  EXPECT_EQ(client->Send("GET", "/api/v1/history?range=1h", "", {{"X-API-Key", scorer}})->status,
            403);
  EXPECT_EQ(client->Send("POST", "/api/v1/history?range=1h", "", as_reader)->status, 405);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing
