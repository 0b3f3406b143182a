// The SLO routes, `fraudguard slo status` and `fraudguard slo gate` against the real binary:
// traffic with real server errors (503 from a decision log that cannot keep up), budgets read
// through the API and straight from the data directory, and kept across a restart.
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "server_process.h"
#include "slo/error_budget.h"

namespace fraudguard::testing {
namespace {

// The fraud API's availability counted per request at 99 %, so that a handful of failures
// in one test run decides the status.
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

// A decision log that takes one decision and then none for a minute: further scoring requests
// are answered 503, a real server error.
constexpr const char* kStalledDecisionLog = R"yaml(
decision_log:
  queue_capacity: 1
  batch_size: 1000
  flush_interval_ms: 60000
)yaml";

std::string Write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// Runs the binary with stdout and stderr together; returns the exit status.
int RunCombined(const std::vector<std::string>& args, std::string& output) {
  std::string command = FRAUDGUARD_BINARY;
  for (const std::string& arg : args) {
    command += " '" + arg + "'";
  }
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return -1;
  }
  output.clear();
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) {
    output += buffer;
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

const SloReport* Find(const std::vector<SloReport>& reports, const std::string& name) {
  for (const SloReport& report : reports) {
    if (report.name == name) {
      return &report;
    }
  }
  return nullptr;
}

std::string Url(const ServerProcess& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

TEST(SloApi, HealthyTrafficLetsDeploymentsGoAhead) {
  TempDir dir;
  ServerProcess server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  for (int i = 0; i < 20; ++i) {
    auto response = client->Send(
        "POST", "/api/v1/fraud/analyze",
        R"({"transaction_id":"t)" + std::to_string(i) + R"(","amount":25.5,"card_id":"c1"})");
    ASSERT_TRUE(response.ok());
    ASSERT_EQ(response->status, 200) << response->body;
  }
  auto response = client->Send("GET", "/api/v1/slo");
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->status, 200) << response->body;
  auto reports = ParseSloReportsJson(response->body);
  ASSERT_TRUE(reports) << reports.error() << "\n" << response->body;
  const SloReport* availability = Find(*reports, "fraud_api_availability");
  ASSERT_NE(availability, nullptr);
  EXPECT_EQ(availability->total_requests, 20u);
  EXPECT_EQ(availability->status, BudgetStatus::kHealthy);
  EXPECT_NEAR(availability->allowed_errors, 4.32, 1e-6);
  EXPECT_NE(response->body.find(R"("deployments_allowed":true)"), std::string::npos);

  response = client->Send("GET", "/api/v1/slo/fraud_api_latency_p95");
  ASSERT_EQ(response->status, 200) << response->body;
  EXPECT_NE(response->body.find(R"("name":"fraud_api_latency_p95")"), std::string::npos);
  EXPECT_NE(response->body.find(R"("latency_threshold_seconds":0.05)"), std::string::npos);
  response = client->Send("GET", "/api/v1/slo/no_such_slo");
  EXPECT_EQ(response->status, 404);
  EXPECT_NE(response->body.find(R"("field":"name")"), std::string::npos) << response->body;
  response = client->Send("GET", "/api/v1/slo/%zz");
  EXPECT_EQ(response->status, 400);
  response = client->Send("POST", "/api/v1/slo");
  EXPECT_EQ(response->status, 405);

  response = client->Send("GET", "/metrics");
  EXPECT_NE(
      response->body.find(R"(slo_error_budget_remaining_ratio{slo="fraud_api_availability"} 1)"),
      std::string::npos);
  EXPECT_NE(response->body.find(R"(slo_burn_rate{slo="fraud_api_availability",window="1h"} 0)"),
            std::string::npos);

  std::string output;
  EXPECT_EQ(RunCombined({"slo", "gate", "--url", Url(server)}, output), kGateAllowed) << output;
  EXPECT_NE(output.find("deployments may go ahead"), std::string::npos) << output;
  EXPECT_EQ(RunCombined({"slo", "status", "--url", Url(server)}, output), 0) << output;
  EXPECT_NE(output.find("fraud_api_availability"), std::string::npos) << output;
  EXPECT_NE(output.find("HEALTHY"), std::string::npos) << output;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(SloApi, ServerErrorsHaltDeploymentsAndTheBudgetSurvivesARestart) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string slos = Write(dir.path() + "/slo.yaml", kStrictSlos);
  const std::string config = Write(dir.path() + "/serve.yaml", kStalledDecisionLog);
  uint64_t failed = 0;
  {
    ServerProcess server(data, {"--config", config, "--slo-config", slos});
    ASSERT_TRUE(server.Start()) << server.Logs();
    auto client = server.NewClient();
    for (int i = 0; i < 10; ++i) {
      auto response = client->Send(
          "POST", "/api/v1/fraud/analyze",
          R"({"transaction_id":"s)" + std::to_string(i) + R"(","amount":10,"card_id":"c2"})");
      ASSERT_TRUE(response.ok());
      failed += response->status == 503 ? 1 : 0;
    }
    ASSERT_GE(failed, 8u) << "the stalled decision log should refuse most decisions";

    auto response = client->Send("GET", "/api/v1/slo/fraud_api_availability");
    ASSERT_EQ(response->status, 200) << response->body;
    EXPECT_NE(response->body.find(R"("status":"EXHAUSTED")"), std::string::npos) << response->body;
    EXPECT_NE(response->body.find(R"("bad_requests":)" + std::to_string(failed)), std::string::npos)
        << response->body;

    std::string output;
    EXPECT_EQ(RunCombined({"slo", "gate", "--url", Url(server)}, output), kGateHalted) << output;
    EXPECT_NE(output.find("deployments halted: fraud_api_availability is EXHAUSTED"),
              std::string::npos)
        << output;
    // The data directory read directly, while the server runs, agrees.
    EXPECT_EQ(RunCombined({"slo", "gate", "--data-dir", data, "--config", slos}, output),
              kGateHalted)
        << output;
    EXPECT_EQ(
        RunCombined({"slo", "status", "--json", "--data-dir", data, "--config", slos}, output), 0)
        << output;
    auto reports = ParseSloReportsJson(output);
    ASSERT_TRUE(reports) << reports.error() << output;
    const SloReport* availability = Find(*reports, "fraud_api_availability");
    ASSERT_NE(availability, nullptr);
    EXPECT_EQ(availability->bad_requests, failed);
    EXPECT_EQ(availability->total_requests, 10u);
    EXPECT_NEAR(availability->utilisation_percent, failed * 100.0 / (0.01 * 10), 1e-6);
    EXPECT_EQ(server.StopWith(SIGTERM), 0);
  }
  // After a restart (without the stalled log) the spent budget is still there.
  ServerProcess server(data, {"--slo-config", slos});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto response = server.NewClient()->Send("GET", "/api/v1/slo/fraud_api_availability");
  ASSERT_EQ(response->status, 200);
  EXPECT_NE(response->body.find(R"("bad_requests":)" + std::to_string(failed)), std::string::npos)
      << response->body;
  std::string output;
  EXPECT_EQ(RunCombined({"slo", "gate", "--url", Url(server)}, output), kGateHalted) << output;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(SloApi, RoutesNeedTheReadRole) {
  TempDir dir;
  const std::string keys = dir.path() + "/keys.yaml";
  std::string scorer;
  std::string reader;
  ASSERT_EQ(
      RunFraudguard({"keys", "add", "--file", keys, "--name", "pos", "--roles", "score"}, &scorer),
      0);
  ASSERT_EQ(
      RunFraudguard({"keys", "add", "--file", keys, "--name", "sre", "--roles", "read"}, &reader),
      0);
  scorer.erase(scorer.find_last_not_of("\r\n") + 1);
  reader.erase(reader.find_last_not_of("\r\n") + 1);
  ServerProcess server(dir.path() + "/data", {"--keys", keys});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  EXPECT_EQ(client->Send("GET", "/api/v1/slo")->status, 401);
  EXPECT_EQ(client->Send("GET", "/api/v1/slo", "", {{"X-API-Key", scorer}})->status, 403);
  EXPECT_EQ(client->Send("GET", "/api/v1/slo", "", {{"X-API-Key", reader}})->status, 200);
  EXPECT_EQ(client->Send("GET", "/api/v1/slo/dashboard_availability", "", {{"X-API-Key", reader}})
                ->status,
            200);

  std::string output;
  // Without a key the gate cannot read the budget and fails closed.
  EXPECT_EQ(RunCombined({"slo", "gate", "--url", Url(server)}, output), kGateUnknown) << output;
  EXPECT_NE(output.find("401"), std::string::npos) << output;
  EXPECT_EQ(RunCombined({"slo", "gate", "--url", Url(server), "--key", reader}, output),
            kGateAllowed)
      << output;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(SloApi, BadSloConfigIsRefusedAtStartWithTheKeyNamed) {
  TempDir dir;
  const std::string slos = Write(dir.path() + "/slo.yaml",
                                 "fraud_detection_api_slos:\n"
                                 "  routes: [\"/api/v1/fraud/analyze\"]\n"
                                 "  availability:\n"
                                 "    target: 99.99%\n"
                                 "    measurement_window: \"30 dayz\"\n");
  ServerProcess server(dir.path() + "/data", {"--slo-config", slos});
  EXPECT_FALSE(server.Start());
  EXPECT_NE(server.Logs().find("availability.measurement_window"), std::string::npos)
      << server.Logs();

  std::string output;
  // A wrong SLO file is a usage error for the gate, not an unknown budget.
  EXPECT_EQ(
      RunCombined({"slo", "gate", "--data-dir", dir.path() + "/data", "--config", slos}, output),
      kGateUsageError);
  EXPECT_NE(output.find("availability.measurement_window"), std::string::npos) << output;
  EXPECT_EQ(RunCombined({"slo", "gate", "--url", "ftp://127.0.0.1"}, output), kGateUsageError);
  // No data directory yet: the budget cannot be read, and the gate fails closed.
  EXPECT_EQ(RunCombined({"slo", "gate", "--data-dir", dir.path() + "/nowhere"}, output),
            kGateUnknown);
}

TEST(SloApi, RulesCommandWritesAFilePromtoolAccepts) {
  TempDir dir;
  const std::string rules = dir.path() + "/fraudguard-slo.yml";
  std::string output;
  ASSERT_EQ(RunCombined({"slo", "rules", "-c", RepoPath("config/slo.yaml"), "-o", rules}, output),
            0)
      << output;
  EXPECT_EQ(RunCombined({"slo", "rules"}, output), 0);  // the built-in SLOs, to stdout
  EXPECT_NE(output.find("SLOErrorBudgetBurn1h"), std::string::npos);
  FILE* promtool = popen(("promtool check rules '" + rules + "' 2>&1").c_str(), "r");
  ASSERT_NE(promtool, nullptr);
  std::string checked;
  char buffer[4096];
  while (std::fgets(buffer, sizeof(buffer), promtool) != nullptr) {
    checked += buffer;
  }
  EXPECT_EQ(pclose(promtool), 0) << checked;
  EXPECT_NE(checked.find("SUCCESS"), std::string::npos) << checked;

  const std::string bad = Write(dir.path() + "/bad.yaml", "dashboard_slos:\n  routes: []\n");
  EXPECT_EQ(RunCombined({"slo", "rules", "-c", bad, "-o", rules}, output), kGateUsageError);
  EXPECT_NE(output.find("dashboard_slos.routes"), std::string::npos) << output;
}

}  // namespace
}  // namespace fraudguard::testing
