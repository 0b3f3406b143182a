// API keys and roles, reloads, and the refusal to serve off loopback without keys.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

TEST(Access, KeysAndRolesAreEnforced) {
  TempDir dir;
  const std::string keys = dir.path() + "/keys.yaml";
  const std::string scorer = AddApiKey(keys, "checkout", "score");
  const std::string admin = AddApiKey(keys, "ops", "admin");
  ASSERT_FALSE(scorer.empty());
  std::ifstream file(keys);
  const std::string stored((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
  EXPECT_EQ(stored.find(scorer), std::string::npos) << "keys are stored hashed, never in plain";

  ServerProcess server(dir.path() + "/data", {"--keys", keys});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  const std::string body = R"({"amount":20})";

  auto response = client->Send("POST", "/api/v1/fraud/analyze", body);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 401);
  EXPECT_NE(response->body.find("unauthenticated"), std::string::npos);

  response = client->Send("POST", "/api/v1/fraud/analyze", body, {{"X-API-Key", "fg_nope_nope"}});
  EXPECT_EQ(response->status, 401);

  response = client->Send("POST", "/api/v1/fraud/analyze", body, {{"X-API-Key", scorer}});
  EXPECT_EQ(response->status, 200) << response->body;
  response =
      client->Send("POST", "/api/v1/fraud/analyze", body, {{"Authorization", "Bearer " + scorer}});
  EXPECT_EQ(response->status, 200) << response->body;

  response = client->Send("POST", "/api/v1/admin/reload", "", {{"X-API-Key", scorer}});
  EXPECT_EQ(response->status, 403);
  EXPECT_NE(response->body.find("forbidden"), std::string::npos);
  response = client->Send("GET", "/api/v1/fraud/decisions/x", "", {{"X-API-Key", scorer}});
  EXPECT_EQ(response->status, 403) << "reading decisions needs the read role";

  response = client->Send("POST", "/api/v1/admin/reload", "", {{"X-API-Key", admin}});
  EXPECT_EQ(response->status, 200) << response->body;

  response = client->Send("GET", "/metrics");
  EXPECT_NE(response->body.find(R"(fraudguard_auth_failures_total{reason="missing"} 1)"),
            std::string::npos);
  EXPECT_NE(response->body.find(R"(fraudguard_auth_failures_total{reason="invalid"} 1)"),
            std::string::npos);
  EXPECT_NE(response->body.find(R"(fraudguard_auth_failures_total{reason="forbidden"} 2)"),
            std::string::npos);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(Access, PublicBindWithoutKeysIsRefusedAtStart) {
  TempDir dir;
  ServerProcess server(dir.path() + "/data", {"--bind", "0.0.0.0"});
  EXPECT_FALSE(server.Start());
  EXPECT_NE(server.Logs().find("requires a keys file"), std::string::npos) << server.Logs();
}

TEST(Access, BadConfigIsRefusedNamingTheKey) {
  TempDir dir;
  const std::string config = dir.path() + "/bad.yaml";
  std::ofstream(config) << "server:\n  threads: many\n";
  ServerProcess server(dir.path() + "/data", {"--config", config});
  EXPECT_FALSE(server.Start());
  EXPECT_NE(server.Logs().find("server.threads"), std::string::npos) << server.Logs();
}

TEST(Access, AFullDecisionLogRefusesBeforeScoringSoARetryCountsOnce) {
  TempDir dir;
  const std::string config = dir.path() + "/stalled.yaml";
  // Two decisions fit and the writer waits a minute, so the queue fills and stays full.
  std::ofstream(config) << "decision_log:\n  queue_capacity: 2\n  batch_size: 1000\n"
                           "  flush_interval_ms: 60000\n";
  ServerProcess server(dir.path() + "/data", {"--config", config});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  const auto status_of = [&](const std::string& method, const std::string& path,
                             const std::string& body = "") {
    auto response = client->Send(method, path, body);
    return response.ok() ? response->status : -1;
  };
  ASSERT_EQ(status_of("POST", "/api/v1/fraud/analyze", R"({"amount":20,"card_id":"c-1"})"), 200);
  // A batch that could never fit the queue is refused as too large, not as "retry later".
  EXPECT_EQ(status_of("POST", "/api/v1/fraud/analyze/batch",
                      R"([{"amount":1,"card_id":"c-5"},{"amount":1},{"amount":1}])"),
            413);
  // Room for one decision is left: a batch of two is refused whole, before any scoring.
  auto batch = client->Send("POST", "/api/v1/fraud/analyze/batch",
                            R"([{"amount":1,"card_id":"c-3"},{"amount":2,"card_id":"c-4"}])");
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->status, 503) << batch->body;
  EXPECT_NE(batch->body.find("decision_log_full"), std::string::npos) << batch->body;
  EXPECT_EQ(status_of("GET", "/api/v1/features/card/c-3"), 404) << "nothing of it was scored";
  ASSERT_EQ(status_of("POST", "/api/v1/fraud/analyze", R"({"amount":25,"card_id":"c-1"})"), 200);
  // Now full: a single transaction is refused and never reaches the feature state.
  auto refused = client->Send("POST", "/api/v1/fraud/analyze", R"({"amount":30,"card_id":"c-2"})");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_EQ(status_of("GET", "/api/v1/features/card/c-2"), 404);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(Access, SighupReloadsAndABrokenModelIsRefused) {
  TempDir dir;
  const std::string model = dir.path() + "/model.json";
  std::filesystem::copy_file(RepoPath("models/default.json"), model);
  ServerProcess server(dir.path() + "/data", {"--model", model});
  ASSERT_TRUE(server.Start()) << server.Logs();
  std::ofstream(model, std::ios::trunc) << "{\"format\": \"broken\"";
  kill(server.pid(), SIGHUP);
  auto client = server.NewClient();
  // The broken file is refused and the old model keeps serving.
  for (int attempt = 0; attempt < 200 && server.Logs().find("reload_refused") == std::string::npos;
       ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_NE(server.Logs().find("reload_refused"), std::string::npos);
  auto response = client->Send("POST", "/api/v1/fraud/analyze", R"({"amount":20})");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200);
  response = client->Send("POST", "/api/v1/admin/reload");
  EXPECT_EQ(response->status, 422) << response->body;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing
