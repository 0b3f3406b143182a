// Runs the real `fraudguard capacity` subcommands on generated CSV files.
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/fraud_service.h"
#include "capacity/manifest_check.h"
#include "capacity_test_process.h"
#include "core/clock.h"
#include "slo/sli_recorder.h"

namespace fraudguard {
namespace {

using capacity_testing::CommandResult;
using capacity_testing::ReadFile;

class CapacityCommandTest : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  std::string Path(const std::string& name) const { return dir_.Path(name); }
  CommandResult Run(const std::vector<std::string>& args) const {
    return capacity_testing::RunFraudguardCapacity(dir_, args);
  }
  CommandResult Exec(const std::vector<std::string>& argv) const {
    return capacity_testing::Exec(dir_, argv);
  }

  // Hourly request rate with a trend, a daily wave and a weekend dip.
  std::string WriteTrafficCsv(const std::string& name, size_t points) const {
    std::mt19937_64 random(42);
    std::normal_distribution<double> noise(0.0, 60.0);
    std::ofstream out(Path(name));
    out << "timestamp,value\n";
    for (size_t i = 0; i < points; ++i) {
      const size_t day_of_week = (i / 24) % 7;  // the series starts on a Thursday
      const double value =
          2000 + 2.0 * static_cast<double>(i) +
          800 * std::sin(2 * std::numbers::pi * (static_cast<double>(i % 24) - 8) / 24) +
          ((day_of_week == 2 || day_of_week == 3) ? -500 : 0) + noise(random);
      out << 1767225600 + 3600 * static_cast<int64_t>(i) << "," << value << "\n";
    }
    return Path(name);
  }

  capacity_testing::ScratchDir dir_;
};

TEST_F(CapacityCommandTest, ForecastJsonChartAndRecommendation) {
  const std::string csv = WriteTrafficCsv("traffic.csv", 4 * 168);
  const std::string chart = Path("forecast.svg");
  const CommandResult result = Run({"capacity", "forecast", "--csv", csv, "--horizon", "7d",
                                    "--replica-rps", "1000", "--json", "--chart", chart});
  ASSERT_EQ(result.status, 0) << result.err;

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(result.out).get(root), simdjson::SUCCESS) << result.out;
  EXPECT_EQ(std::string_view(root["chosen_model"].get_string()), "holt-winters");
  EXPECT_EQ(int64_t(root["history"]["points"].get_int64()), 4 * 168);
  EXPECT_EQ(root["forecast"].get_array().size(), 168u);
  simdjson::dom::array models = root["models"].get_array();
  ASSERT_EQ(models.size(), 2u);
  for (simdjson::dom::element model : models) {
    const double coverage = model["backtest"]["coverage"].get_double();
    EXPECT_GE(coverage, 0.0);
    EXPECT_LE(coverage, 1.0);
  }
  simdjson::dom::element recommendation = root["recommendation"];
  const double peak = recommendation["forecast_peak_upper"].get_double();
  EXPECT_DOUBLE_EQ(double(recommendation["current_capacity"].get_double()), 5000.0);
  EXPECT_EQ(int64_t(recommendation["recommended_replicas"].get_int64()),
            static_cast<int64_t>(std::ceil(peak / (1000 * 0.7))));
  EXPECT_EQ(bool(recommendation["action_required"].get_bool()), peak > 3500);

  const std::string svg = ReadFile(chart);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<polygon"), std::string::npos);  // the interval band
  EXPECT_NE(svg.find("95 % prediction interval"), std::string::npos);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

TEST_F(CapacityCommandTest, TableShowsBacktestsChoiceAndRecommendation) {
  const std::string csv = WriteTrafficCsv("traffic.csv", 3 * 168);
  const CommandResult result = Run({"capacity", "forecast", "--csv", csv, "--horizon", "14d",
                                    "--replica-rps", "1000", "--current-replicas", "8"});
  ASSERT_EQ(result.status, 0) << result.err;
  EXPECT_NE(result.out.find("<- chosen"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("Chosen: holt-winters: lower backtest RMSE"), std::string::npos);
  EXPECT_NE(result.out.find("current capacity:        8,000 (8 replicas x 1,000)"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.out.find("recommended capacity:"), std::string::npos);
  EXPECT_NE(result.out.find("scaling factor:"), std::string::npos);
}

TEST_F(CapacityCommandTest, ReplicaCapacityComesFromTheBenchmarkPage) {
  const std::string csv = WriteTrafficCsv("traffic.csv", 2 * 168);
  std::ofstream(Path("benchmarks.md"))
      << "# Benchmarks\n\n| server | requests/s | p50 |\n|---|---:|---:|\n"
         "| nginx (fixed body) | 50,000 | 1 µs |\n| fraudguard serve | 12,500 | 2 µs |\n";
  const CommandResult result = Run({"capacity", "forecast", "--csv", csv, "--horizon", "2d",
                                    "--benchmarks", Path("benchmarks.md"), "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(result.out).get(root), simdjson::SUCCESS);
  EXPECT_DOUBLE_EQ(double(root["recommendation"]["replica_requests_per_second"].get_double()),
                   12500.0);
  EXPECT_NE(std::string_view(root["recommendation"]["replica_capacity_source"].get_string())
                .find("benchmarks.md"),
            std::string_view::npos);
}

TEST_F(CapacityCommandTest, MissingBenchmarkFigureIsRefusedNotGuessed) {
  const std::string csv = WriteTrafficCsv("traffic.csv", 100);
  const CommandResult result = Run(
      {"capacity", "forecast", "--csv", csv, "--horizon", "1d", "--benchmarks", Path("absent.md")});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("no measured per-replica capacity"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--replica-rps"), std::string::npos);
}

TEST_F(CapacityCommandTest, BadCsvNamesTheLine) {
  std::ofstream(Path("bad.csv")) << "timestamp,value\n1767225600,1\n1767229200,2\n1767232800,x\n";
  const CommandResult result =
      Run({"capacity", "forecast", "--csv", Path("bad.csv"), "--replica-rps", "1000"});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("bad.csv: line 4: value 'x' is not a finite number"), std::string::npos)
      << result.err;
}

TEST_F(CapacityCommandTest, FewerThan30PointsAreRefused) {
  const std::string csv = WriteTrafficCsv("short.csv", 29);
  const CommandResult result = Run({"capacity", "forecast", "--csv", csv, "--replica-rps", "1000"});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("need at least 30 points to forecast, got 29"), std::string::npos)
      << result.err;
  EXPECT_TRUE(result.out.empty());
}

TEST_F(CapacityCommandTest, OtherResourcesNeedTheirCurrentCapacity) {
  const std::string csv = WriteTrafficCsv("cpu.csv", 100);
  const CommandResult missing =
      Run({"capacity", "forecast", "--csv", csv, "--resource", "cpu", "--horizon", "1d"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("--current-capacity (in cores) is required for cpu"),
            std::string::npos)
      << missing.err;
  const CommandResult given = Run({"capacity", "forecast", "--csv", csv, "--resource", "cpu",
                                   "--horizon", "1d", "--current-capacity", "10000"});
  EXPECT_EQ(given.status, 0) << given.err;
  EXPECT_NE(given.out.find("action:                  none"), std::string::npos) << given.out;
  const CommandResult wrong = Run({"capacity", "forecast", "--csv", csv, "--resource", "disk"});
  EXPECT_EQ(wrong.status, 2);
  EXPECT_NE(wrong.err.find("--resource must be"), std::string::npos);
}

TEST_F(CapacityCommandTest, ForecastFromTheServersSliStore) {
  // Write 36 hours of analyze requests through the SLI recorder, as `serve` does.
  constexpr int64_t kStartMs = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
  ManualClock clock(kStartMs);
  {
    SliRecorderOptions options;
    options.path = Path("sli.db");
    options.routes = RouteLabels();
    options.start_writer = false;
    auto recorder = SliRecorder::Open(options, clock);
    ASSERT_TRUE(recorder) << recorder.error();
    const auto analyze = static_cast<size_t>(Route::kAnalyze);
    for (int hour = 0; hour < 36; ++hour) {
      clock.Set(kStartMs + hour * 3'600'000);
      for (int i = 0; i < 3600 + 36 * hour; ++i) {
        (*recorder)->Record(analyze, 200, 0.001);
      }
      ASSERT_TRUE((*recorder)->Flush());
    }
    ASSERT_TRUE((*recorder)->Close());
  }
  const std::string end = std::to_string(kStartMs / 1000 + 36 * 3600);
  const CommandResult result =
      Run({"capacity", "forecast", "--sli-store", Path(""), "--range", "36h", "--step", "1h",
           "--end", end, "--horizon", "12h", "--replica-rps", "1000", "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(result.out).get(root), simdjson::SUCCESS) << result.out;
  EXPECT_EQ(int64_t(root["history"]["points"].get_int64()), 36);
  EXPECT_EQ(std::string_view(root["history"]["start"].get_string()), "2026-11-01T00:00:00Z");
  // 1 request/s growing by 0.01/s each hour: 0.24 a day.
  EXPECT_NEAR(double(root["linear_slope_per_day"].get_double()), 0.24, 1e-6);

  const CommandResult both = Run({"capacity", "forecast", "--sli-store", Path(""), "--csv",
                                  Path("x.csv"), "--replica-rps", "1000"});
  EXPECT_EQ(both.status, 2);
  EXPECT_NE(both.err.find("give exactly one of"), std::string::npos) << both.err;
}

TEST_F(CapacityCommandTest, ManifestsPassTheSchemaCheckAndKubectlReadsThem) {
  for (const bool keda : {true, false}) {
    const std::string file = Path(keda ? "keda.yaml" : "hpa.yaml");
    std::vector<std::string> args = {"capacity", "manifests", "-o", file};
    if (!keda) {
      args.push_back("--no-keda");
    }
    const CommandResult result = Run(args);
    ASSERT_EQ(result.status, 0) << result.err;
    const std::string yaml = ReadFile(file);
    const Status check = capacity::CheckManifests(yaml);
    EXPECT_TRUE(check) << check.error();
    EXPECT_NE(yaml.find(keda ? "kind: ScaledObject" : "kind: HorizontalPodAutoscaler"),
              std::string::npos);

    // kubectl's client-side dry run asks an API server for its types even with
    // --validate=false, and there is none here; `label --local` parses and decodes every
    // document offline instead. The field-level check is the schema check above.
    if (std::filesystem::exists("/usr/bin/kubectl")) {
      const CommandResult kubectl =
          Exec({"/usr/bin/kubectl", "label", "--local", "-f", file, "checked=true", "-o", "name"});
      ASSERT_EQ(kubectl.status, 0) << kubectl.err;
      if (keda) {
        EXPECT_EQ(kubectl.out, "scaledobject.keda.sh/fraudguard\n");
      } else {
        EXPECT_NE(kubectl.out.find("horizontalpodautoscaler.autoscaling/fraudguard\n"),
                  std::string::npos);
        EXPECT_NE(kubectl.out.find("cronjob.batch/fraudguard-min-40-at-1400\n"), std::string::npos)
            << kubectl.out;
      }
    }
  }
}

TEST_F(CapacityCommandTest, ManifestsRefuseBadSchedulesAndBounds) {
  const CommandResult schedule =
      Run({"capacity", "manifests", "--schedule", "night|0 25 * * *|2h|3"});
  EXPECT_EQ(schedule.status, 2);
  EXPECT_NE(schedule.err.find("the hour must be a number 0-23"), std::string::npos) << schedule.err;
  const CommandResult bounds = Run({"capacity", "manifests", "--max-replicas", "30"});
  EXPECT_EQ(bounds.status, 2);
  EXPECT_NE(bounds.err.find("above --max-replicas 30"), std::string::npos) << bounds.err;
  EXPECT_TRUE(bounds.out.empty());
}

TEST_F(CapacityCommandTest, SimulateReplaysAForecastDay) {
  const std::string csv = WriteTrafficCsv("traffic.csv", 4 * 168);
  const CommandResult result =
      Run({"capacity", "simulate", "--csv", csv, "--replica-rps", "5000", "--json"});
  ASSERT_EQ(result.status, 0) << result.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(result.out).get(root), simdjson::SUCCESS) << result.out;
  // The forecast day is a Thursday: the peak-hours floor of 40 applies, and 5,000/s replicas
  // carry a few thousand requests a second with room to spare.
  EXPECT_EQ(int64_t(root["max_replicas"].get_int64()), 40);
  EXPECT_EQ(int64_t(root["min_replicas"].get_int64()), 5);
  EXPECT_TRUE(bool(root["latency_objective_holds"].get_bool()));
  EXPECT_GT(root["steps"].get_array().size(), 5000u);  // one per 15 s sync over the day

  const CommandResult table = Run({"capacity", "simulate", "--csv", csv, "--replica-rps", "500",
                                   "--max-replicas", "8", "--no-schedules"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_NE(table.out.find("Latency objective: MISSED"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("capped the controller"), std::string::npos);
  EXPECT_NE(table.out.find("OVERLOADED"), std::string::npos);
}

TEST_F(CapacityCommandTest, SimulateRefusesBadFlags) {
  const std::string csv = WriteTrafficCsv("traffic.csv", 100);
  const CommandResult load =
      Run({"capacity", "simulate", "--csv", csv, "--replica-rps", "1000", "--load", "peak"});
  EXPECT_EQ(load.status, 2);
  EXPECT_NE(load.err.find("--load must be upper or value"), std::string::npos);
  const CommandResult duration =
      Run({"capacity", "simulate", "--csv", csv, "--replica-rps", "1000", "--duration", "30d"});
  EXPECT_EQ(duration.status, 2);
  EXPECT_NE(duration.err.find("at most 7d"), std::string::npos);
}

}  // namespace
}  // namespace fraudguard
