// `fraudguard validate` against real servers: a healthy one passes, one made worse on purpose
// (the test-only --testing-* settings) fails with a non-zero exit, usage errors exit 2.
#include <signal.h>
#include <simdjson.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "rollout/validation.h"
#include "server_process.h"

namespace fraudguard::testing {
namespace {

std::string Url(const ServerProcess& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
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

// The names of the failed checks in a --json report.
std::vector<std::string> FailedChecks(const std::string& json) {
  std::vector<std::string> failed;
  simdjson::dom::parser parser;
  simdjson::dom::array checks;
  if (parser.parse(json)["checks"].get(checks) != simdjson::SUCCESS) {
    ADD_FAILURE() << "not a validation report: " << json;
    return failed;
  }
  for (simdjson::dom::element check : checks) {
    if (!bool(check["passed"])) {
      failed.emplace_back(std::string_view(check["name"]));
    }
  }
  return failed;
}

TEST(ValidateCommand, AHealthyServerPassesEveryCheck) {
  TempDir dir;
  ServerProcess server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.Logs();
  std::string json;
  ASSERT_EQ(RunFraudguard({"validate", "--url", Url(server), "--requests", "100", "--json"}, &json),
            rollout::kValidationPassed)
      << json;
  simdjson::dom::parser parser;
  const auto root = parser.parse(json);
  EXPECT_EQ(std::string_view(root["status"]), "passed");
  EXPECT_EQ(uint64_t(root["performance"]["requests"]), 100U);
  EXPECT_EQ(uint64_t(root["performance"]["errors"]), 0U);
  EXPECT_TRUE(FailedChecks(json).empty());
  // Four health endpoints, seven API checks, two performance checks, three known cases.
  EXPECT_EQ(root["checks"].get_array().size(), 16U) << json;

  std::string report;
  EXPECT_EQ(RunCombined({"validate", "--url", Url(server), "--requests", "50"}, report), 0);
  EXPECT_NE(report.find("PASS  known case: 10000 from a 1-day-old account is high"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("PASSED: 16 of 16 checks passed"), std::string::npos) << report;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ValidateCommand, AServerMadeWorseOnPurposeFails) {
  TempDir dir;
  // One scoring request in five fails, and every one waits 120 ms: both over the limits.
  ServerProcess server(dir.path() + "/data",
                       {"--testing-error-ratio", "0.2", "--testing-added-latency-ms", "120"});
  ASSERT_TRUE(server.Start()) << server.Logs();
  EXPECT_NE(server.Logs().find("testing_faults_enabled"), std::string::npos) << server.Logs();
  std::string json;
  EXPECT_EQ(RunFraudguard({"validate", "--url", Url(server), "--requests", "20", "--connections",
                           "2", "--json"},
                          &json),
            rollout::kValidationFailed)
      << json;
  simdjson::dom::parser parser;
  EXPECT_EQ(std::string_view(parser.parse(json)["status"]), "failed");
  const auto failed = FailedChecks(json);
  EXPECT_NE(std::find(failed.begin(), failed.end(), "p95 latency"), failed.end()) << json;
  EXPECT_NE(std::find(failed.begin(), failed.end(), "error rate"), failed.end()) << json;
  // The fault is visible in the server's own metrics.
  auto metrics = server.NewClient()->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("fraudguard_testing_faults_enabled 1"), std::string::npos);
  EXPECT_EQ(metrics->body.find("fraudguard_testing_injected_faults_total 0"), std::string::npos);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ValidateCommand, AnUnreachableServerFails) {
  std::string json;
  // Port 1 on loopback: nothing listens there.
  EXPECT_EQ(RunFraudguard({"validate", "--url", "http://127.0.0.1:1", "--requests", "5", "--json",
                           "--timeout-ms", "500"},
                          &json),
            rollout::kValidationFailed)
      << json;
  EXPECT_NE(json.find(R"("status":"failed")"), std::string::npos) << json;
}

TEST(ValidateCommand, ALabelledSampleIsReplayedWithItsDetectionQuality) {
  TempDir dir;
  const std::string sample = dir.path() + "/sample.csv";
  ASSERT_EQ(RunFraudguard({"simulate", "--seed", "7", "--days", "10", "--customers", "500",
                           "--terminals", "1000", "-o", sample}),
            0);
  ServerProcess server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.Logs();
  std::string json;
  ASSERT_EQ(RunFraudguard({"validate", "--url", Url(server), "--requests", "20", "--sample", sample,
                           "--json"},
                          &json),
            0)
      << json;
  simdjson::dom::parser parser;
  const auto root = parser.parse(json);
  const uint64_t rows = root["sample"]["transactions"];
  const uint64_t frauds = root["sample"]["frauds"];
  const double recall = root["sample"]["recall"];
  const double fpr = root["sample"]["false_positive_rate"];
  EXPECT_GT(rows, 1000U);
  EXPECT_GT(frauds, 50U);
  EXPECT_GE(recall, 0.5);
  EXPECT_LE(fpr, 0.05);
  // Every replayed transaction reached the decision log like any other.
  auto health = server.NewClient()->Send("GET", "/api/v1/health");
  ASSERT_TRUE(health.ok());

  // Asking for more than the model gives fails the detection checks, and only them.
  ASSERT_EQ(RunFraudguard({"validate", "--url", Url(server), "--requests", "20", "--sample", sample,
                           "--sample-limit", "2000", "--min-recall", "0.999",
                           "--max-false-positive-rate", "0", "--json"},
                          &json),
            rollout::kValidationFailed)
      << json;
  const auto failed = FailedChecks(json);
  EXPECT_EQ(failed, (std::vector<std::string>{"labelled sample recall",
                                              "labelled sample false positive rate"}))
      << json;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ValidateCommand, WithKeysTheUnauthenticatedRequestIsChecked) {
  TempDir dir;
  const std::string keys = dir.path() + "/keys.yaml";
  std::string key;
  ASSERT_EQ(
      RunFraudguard({"keys", "add", "--file", keys, "--name", "ci", "--roles", "score"}, &key), 0);
  key.erase(key.find_last_not_of("\r\n") + 1);
  ServerProcess server(dir.path() + "/data", {"--keys", keys});
  ASSERT_TRUE(server.Start()) << server.Logs();
  std::string json;
  EXPECT_EQ(
      RunFraudguard({"validate", "--url", Url(server), "--requests", "20", "--key", key, "--json"},
                    &json),
      0)
      << json;
  EXPECT_NE(json.find(R"("name":"a request without a key is refused","passed":true)"),
            std::string::npos)
      << json;
  // Without the key every scoring check fails.
  EXPECT_EQ(RunFraudguard({"validate", "--url", Url(server), "--requests", "20", "--json"}, &json),
            rollout::kValidationFailed)
      << json;
  EXPECT_NE(json.find(R"("name":"analyze answers a decision","passed":false)"), std::string::npos)
      << json;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ValidateCommand, UsageErrorsExitTwo) {
  std::string output;
  EXPECT_EQ(RunCombined({"validate", "--url", "https://example.com"}, output),
            rollout::kValidationUsageError)
      << output;
  EXPECT_NE(output.find("--url"), std::string::npos) << output;
  EXPECT_EQ(RunCombined({"validate", "--url", "http://127.0.0.1:1", "--sample", "/nonexistent.csv"},
                        output),
            rollout::kValidationUsageError)
      << output;
  EXPECT_NE(output.find("--sample"), std::string::npos) << output;
  // CLI11 refuses values out of range before anything runs.
  EXPECT_NE(RunCombined({"validate", "--url", "http://127.0.0.1:1", "--requests", "0"}, output), 0);
  EXPECT_NE(RunCombined({"serve", "--testing-error-ratio", "2", "--port", "0"}, output), 0);
  EXPECT_NE(output.find("--testing-error-ratio"), std::string::npos) << output;
}

}  // namespace
}  // namespace fraudguard::testing
