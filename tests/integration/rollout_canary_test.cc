// `fraudguard canary` against real servers: an identical pair passes, a canary made worse on
// purpose (the test-only --testing-* settings) fails, and a passing canary is halted while the
// error budget policy halts deployments. Windows are a few seconds, set by flags.
#include <signal.h>
#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

std::string Url(const ServerProcess& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

// Request-based availability at 99 %, so that a handful of errors exhausts the budget.
constexpr const char* kStrictSlos = R"yaml(
fraud_detection_api_slos:
  routes: ["/api/v1/fraud/analyze"]
  availability:
    target: 99%
    measurement_window: "7 days"
  latency:
    p99: "2.5s"
    measurement_window: "7 days"
dashboard_slos:
  routes: ["/api/v1/slo", "/api/v1/slo/{name}"]
  availability: 99.5%
  measurement_window: "7 days"
)yaml";

std::string Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

struct Verdict {
  int exit_code = -1;
  std::string json;
  std::string verdict;
  std::string judge_verdict;
  std::string Classification(std::string_view metric) const {
    simdjson::dom::parser parser;
    simdjson::dom::array metrics;
    if (parser.parse(json)["metrics"].get(metrics) != simdjson::SUCCESS) {
      return "";
    }
    for (simdjson::dom::element m : metrics) {
      if (std::string_view(m["name"]) == metric) {
        return std::string(std::string_view(m["classification"]));
      }
    }
    return "";
  }
};

Verdict Judge(const ServerProcess& baseline,
              const ServerProcess& canary,
              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"canary",    "--baseline", Url(baseline), "--canary",
                                   Url(canary), "--window",   "3s",          "--interval",
                                   "250ms",     "--rate",     "40",          "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  Verdict verdict;
  verdict.exit_code = RunFraudguard(args, &verdict.json);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view text;
  if (parser.parse(verdict.json).get(root) == simdjson::SUCCESS) {
    if (root["verdict"].get(text) == simdjson::SUCCESS) {
      verdict.verdict = std::string(text);
    }
    if (root["judge_verdict"].get(text) == simdjson::SUCCESS) {
      verdict.judge_verdict = std::string(text);
    }
  }
  return verdict;
}

TEST(CanaryCommand, IdenticalPairPassesDegradedCanaryFailsAndTheBudgetGates) {
  TempDir dir;
  const std::string slos = Write(dir.path() + "/slo.yaml", kStrictSlos);
  ServerProcess baseline(dir.path() + "/baseline");
  ServerProcess twin(dir.path() + "/twin");
  // 25 ms more per scoring request and one in twenty failed.
  ServerProcess degraded(
      dir.path() + "/degraded",
      {"--testing-added-latency-ms", "25", "--testing-error-ratio", "0.05", "--slo-config", slos});
  ASSERT_TRUE(baseline.Start()) << baseline.Logs();
  ASSERT_TRUE(twin.Start()) << twin.Logs();
  ASSERT_TRUE(degraded.Start()) << degraded.Logs();

  const Verdict same = Judge(baseline, twin);
  EXPECT_EQ(same.exit_code, 0) << same.json;
  EXPECT_EQ(same.verdict, "pass") << same.json;
  EXPECT_EQ(same.Classification("error_rate"), "pass") << same.json;
  EXPECT_EQ(same.Classification("latency_p95_ms"), "pass") << same.json;

  const Verdict worse = Judge(baseline, degraded);
  EXPECT_EQ(worse.exit_code, 1) << worse.json;
  EXPECT_EQ(worse.verdict, "fail") << worse.json;
  // The statistical judge fails it by itself, not only the absolute criteria.
  EXPECT_EQ(worse.judge_verdict, "fail") << worse.json;
  EXPECT_EQ(worse.Classification("latency_p95_ms"), "high") << worse.json;
  EXPECT_EQ(worse.Classification("error_rate"), "high") << worse.json;
  EXPECT_NE(worse.json.find(R"("critical_failure":true)"), std::string::npos) << worse.json;

  // The degraded server's errors exhausted its strict budget: promotion gated on it halts,
  // although the identical pair passes the judge.
  const Verdict gated = Judge(baseline, twin, {"--slo-url", Url(degraded)});
  EXPECT_EQ(gated.exit_code, 4) << gated.json;
  EXPECT_EQ(gated.verdict, "halted") << gated.json;
  EXPECT_EQ(gated.judge_verdict, "pass") << gated.json;
  EXPECT_NE(gated.json.find("deployments halted: fraud_api_availability is EXHAUSTED"),
            std::string::npos)
      << gated.json;
  // An unreadable budget halts too (fail closed).
  const Verdict unreadable = Judge(baseline, twin, {"--slo-url", "http://127.0.0.1:1"});
  EXPECT_EQ(unreadable.exit_code, 4) << unreadable.json;
  EXPECT_NE(unreadable.json.find("cannot be read"), std::string::npos) << unreadable.json;

  EXPECT_EQ(baseline.StopWith(SIGTERM), 0);
  EXPECT_EQ(twin.StopWith(SIGTERM), 0);
  EXPECT_EQ(degraded.StopWith(SIGTERM), 0);
}

TEST(CanaryCommand, TheReportForPeopleSaysWhatToDo) {
  TempDir dir;
  ServerProcess baseline(dir.path() + "/baseline");
  ServerProcess twin(dir.path() + "/twin");
  ASSERT_TRUE(baseline.Start()) << baseline.Logs();
  ASSERT_TRUE(twin.Start()) << twin.Logs();
  std::string report;
  const int code =
      RunFraudguard({"canary", "--baseline", Url(baseline), "--canary", Url(twin), "--window",
                     "1500ms", "--interval", "250ms", "--rate", "20", "--phase", "2"},
                    &report);
  EXPECT_EQ(code, 0) << report;
  EXPECT_NE(report.find("phase 2 of 3 (25 % of traffic)"), std::string::npos) << report;
  EXPECT_NE(report.find("PASS: promote to phase 3 (100 % of traffic)"), std::string::npos)
      << report;
  EXPECT_NE(report.find("latency_p95_ms"), std::string::npos) << report;
  EXPECT_EQ(baseline.StopWith(SIGTERM), 0);
  EXPECT_EQ(twin.StopWith(SIGTERM), 0);
}

TEST(CanaryCommand, UsageErrorsExitTwo) {
  TempDir dir;
  const std::string url = "http://127.0.0.1:1";
  const std::string bad = Write(dir.path() + "/canary.yaml", "groups: {errors: 50}\n");
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", url, "--canary", url, "--config", bad}), 2);
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", "ftp://x", "--canary", url}), 2);
  // The last phase is stable: nothing to analyse unless a window is given.
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", url, "--canary", url, "--phase", "3"}), 2);
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", url, "--canary", url, "--phase", "4"}), 2);
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", url, "--canary", url, "--interval", "1ms"}), 2);
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", url, "--canary", url, "--interval", "2h"}), 2);
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", url, "--canary", url, "--window", "1s",
                           "--interval", "250ms"}),
            2);
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", url, "--canary", url, "--window", "10h",
                           "--interval", "1s"}),
            2);
}

}  // namespace
}  // namespace fraudguard::testing
