// Model rollout inside a running server: a deliberately bad candidate is rolled back by the
// judge on its own, a good one goes through shadow and both canary steps to promotion, cards
// never flip back between models, and swaps under load fail no request.
#include <signal.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

constexpr const char* kActiveVersion = "gbt-2024-05-01-9569afa4";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The model file's `"thresholds":{...}` text, whatever the shipped model's values are.
std::string ThresholdsOf(const std::string& model_json) {
  const size_t begin = model_json.find("\"thresholds\":{");
  EXPECT_NE(begin, std::string::npos);
  const size_t end = model_json.find('}', begin);
  return begin == std::string::npos || end == std::string::npos
             ? std::string()
             : model_json.substr(begin, end + 1 - begin);
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// A models directory with the shipped model, a good candidate (the same trees under another
// version) and a bad one (thresholds so low that it declines nearly everything).
std::string WriteModels(const std::string& dir) {
  const std::string models = dir + "/models";
  std::filesystem::create_directories(models);
  const std::string shipped = ReadFile(RepoPath("models/default.json"));
  std::ofstream(models + "/default.json") << shipped;
  std::ofstream(models + "/good.json") << Replace(
      shipped, std::string("\"version\":\"") + kActiveVersion, "\"version\":\"good-candidate");
  std::ofstream(models + "/bad.json")
      << Replace(Replace(shipped, std::string("\"version\":\"") + kActiveVersion,
                         "\"version\":\"bad-candidate"),
                 ThresholdsOf(shipped), "\"thresholds\":{\"medium\":0.01,\"high\":0.02}");
  return models;
}

// Steady scoring traffic from `threads` connections until stopped (or 60 s, whichever is
// first); remembers the regular cards' sequences of model versions and counts failures.
class Load {
public:
  Load(const ServerProcess& server, int threads) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, &server, t] {
        auto client = server.NewClient(5000);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        for (uint64_t n = 0; !stop_.load() && std::chrono::steady_clock::now() < deadline; ++n) {
          // Mostly cards seen once, as most real cards are within seconds; one request in ten
          // from a pool of regular cards, whose model versions are followed. Each at a merchant
          // of its own: merchants that traded at the load's pace would be flagged for it, and the
          // flagged rate would follow the machine's speed instead of the cards.
          const bool regular = n % 10 == 0;
          const std::string card = regular ? "regular-" + std::to_string((n / 10 + t * 7) % 200)
                                           : "card-" + std::to_string(t) + "-" + std::to_string(n);
          const std::string body = R"({"transaction_id":"load-)" + std::to_string(t) + "-" +
                                   std::to_string(n) + R"(","amount":)" +
                                   std::to_string(5 + n % 60) + R"(,"card_id":")" + card +
                                   R"(","merchant_id":"m-)" + std::to_string(t) + "-" +
                                   std::to_string(n) + R"(","user_age_days":400,"country":"FR"})";
          auto response = client->Send("POST", "/api/v1/fraud/analyze", body,
                                       {{"Content-Type", "application/json"}});
          if (!response || response->status != 200) {
            failed_.fetch_add(1);
            continue;
          }
          simdjson::dom::parser parser;
          std::string_view version;
          if (parser.parse(response->body)["model_version"].get(version) != simdjson::SUCCESS) {
            failed_.fetch_add(1);
            continue;
          }
          sent_.fetch_add(1);
          if (!regular) {
            continue;
          }
          std::lock_guard lock(mutex_);
          auto& seen = versions_[card];
          if (seen.empty() || seen.back() != version) {
            seen.emplace_back(version);
          }
        }
      });
    }
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_.store(true);
    for (auto& thread : threads_) {
      if (thread.joinable()) {
        thread.join();
      }
    }
  }
  uint64_t failed() const { return failed_.load(); }
  uint64_t sent() const { return sent_.load(); }
  std::map<std::string, std::vector<std::string>> versions() {
    std::lock_guard lock(mutex_);
    return versions_;
  }

private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> sent_{0};
  std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> versions_;
  std::vector<std::thread> threads_;
};

std::string Status(const ServerProcess& server) {
  auto response = server.NewClient()->Send("GET", "/api/v1/rollout");
  return response && response->status == 200 ? response->body : "";
}

std::string Phase(const std::string& status) {
  simdjson::dom::parser parser;
  std::string_view phase;
  if (parser.parse(status)["phase"].get(phase) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(phase);
}

// Polls until the rollout leaves shadow and canary (bounded: 40 s).
std::string WaitForOutcome(const ServerProcess& server) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    status = Status(server);
    const std::string phase = Phase(status);
    if (phase == "promoted" || phase == "rolled_back") {
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return status;
}

http::ClientResponse Admin(const ServerProcess& server,
                           const std::string& path,
                           const std::string& body = "") {
  auto response =
      server.NewClient()->Send("POST", path, body, {{"Content-Type", "application/json"}});
  EXPECT_TRUE(response.ok());
  return response.ok() ? *response : http::ClientResponse{};
}

// Short phases for tests: six intervals of 250 ms each.
constexpr const char* kFastRollout = R"(,"shadow":"1500ms","phase":"1500ms","interval":"250ms"})";

TEST(ModelRollout, ABadCandidateIsRolledBackByTheJudge) {
  TempDir dir;
  const std::string models = WriteModels(dir.path());
  ServerProcess server(dir.path() + "/data", {"--model", models + "/default.json"});
  ASSERT_TRUE(server.Start()) << server.Logs();
  Load load(server, 1);
  const auto started =
      Admin(server, "/api/v1/admin/rollout", std::string(R"({"model":"bad.json")") + kFastRollout);
  ASSERT_EQ(started.status, 202) << started.body;
  EXPECT_EQ(Phase(started.body), "shadow");
  // A transaction scored in shadow mode: answered by the active model, and the candidate's
  // decision for it recorded beside it, never returned.
  auto probe = server.NewClient()->Send(
      "POST", "/api/v1/fraud/analyze",
      R"({"transaction_id":"shadow-probe","amount":9500,"card_id":"probe","user_age_days":1})",
      {{"Content-Type", "application/json"}});
  ASSERT_TRUE(probe.ok());
  ASSERT_EQ(probe->status, 200) << probe->body;
  EXPECT_NE(probe->body.find(std::string(R"("model_version":")") + kActiveVersion),
            std::string::npos)
      << probe->body;
  EXPECT_EQ(probe->body.find("bad-candidate"), std::string::npos) << probe->body;
  const std::string outcome = WaitForOutcome(server);
  load.Stop();
  EXPECT_EQ(Phase(outcome), "rolled_back") << outcome;
  // Caught in shadow mode: the candidate never served a transaction.
  EXPECT_EQ(outcome.find(R"("phase":"canary")"), std::string::npos) << outcome;
  EXPECT_NE(outcome.find("flagged_rate is higher on the canary"), std::string::npos) << outcome;
  EXPECT_NE(outcome.find(std::string(R"("active_model":")") + kActiveVersion), std::string::npos);
  EXPECT_EQ(load.failed(), 0U);
  for (const auto& [card, versions] : load.versions()) {
    EXPECT_EQ(versions, std::vector<std::string>{kActiveVersion}) << card;
  }
  const std::string logs = server.Logs();
  EXPECT_NE(logs.find(R"("event":"rollout_started")"), std::string::npos);
  EXPECT_NE(logs.find(R"("event":"rollout_rolled_back")"), std::string::npos) << logs;
  auto metrics = server.NewClient()->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find(R"(fraudguard_rollout_phase{phase="rolled_back"} 1)"),
            std::string::npos);
  EXPECT_EQ(metrics->body.find("fraudguard_rollout_disagreements_total 0\n"), std::string::npos);
  auto stored = server.NewClient()->Send("GET", "/api/v1/fraud/decisions/shadow-probe");
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->status, 200) << stored->body;
  const size_t other = stored->body.find(R"("other_model_decision":)");
  ASSERT_NE(other, std::string::npos) << stored->body;
  EXPECT_NE(stored->body.find(R"("model_version":"bad-candidate")", other), std::string::npos)
      << stored->body;
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ModelRollout, AGoodCandidateGoesThroughEveryPhaseToPromotion) {
  TempDir dir;
  const std::string models = WriteModels(dir.path());
  ServerProcess server(dir.path() + "/data", {"--model", models + "/default.json"});
  ASSERT_TRUE(server.Start()) << server.Logs();
  Load load(server, 2);
  const auto started =
      Admin(server, "/api/v1/admin/rollout", std::string(R"({"model":"good.json")") + kFastRollout);
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string outcome = WaitForOutcome(server);
  load.Stop();
  ASSERT_EQ(Phase(outcome), "promoted") << outcome;
  EXPECT_NE(outcome.find(R"("phase":"canary","canary_percent":5)"), std::string::npos) << outcome;
  EXPECT_NE(outcome.find(R"("phase":"canary","canary_percent":25)"), std::string::npos) << outcome;
  EXPECT_NE(outcome.find(R"("active_model":"good-candidate")"), std::string::npos) << outcome;
  EXPECT_NE(outcome.find(std::string(R"("previous_model":")") + kActiveVersion), std::string::npos);
  EXPECT_EQ(load.failed(), 0U) << "of " << load.sent();
  // Cards move from the active model to the candidate (5 %, then 25 %, then all) and never
  // back: the split is a stable hash of the card.
  size_t moved = 0;
  for (const auto& [card, versions] : load.versions()) {
    ASSERT_FALSE(versions.empty());
    EXPECT_LE(versions.size(), 2U) << card;
    if (versions.size() == 2) {
      EXPECT_EQ(versions.front(), kActiveVersion) << card;
      EXPECT_EQ(versions.back(), "good-candidate") << card;
      ++moved;
    }
  }
  EXPECT_GT(moved, 0U);
  // The last canary step compared the two models' flagged rates on the same transactions: the
  // candidate has the active model's trees, so the rates are equal, whichever cards it served.
  simdjson::dom::parser parser;
  simdjson::dom::array judged;
  ASSERT_EQ(parser.parse(outcome)["last_judgement"]["metrics"].get(judged), simdjson::SUCCESS)
      << outcome;
  bool flagged_judged = false;
  for (simdjson::dom::element metric : judged) {
    std::string_view name;
    ASSERT_EQ(metric["name"].get(name), simdjson::SUCCESS);
    if (name != "flagged_rate") {
      continue;
    }
    flagged_judged = true;
    double active_mean = -1;
    double candidate_mean = -2;
    ASSERT_EQ(metric["active_mean"].get(active_mean), simdjson::SUCCESS);
    ASSERT_EQ(metric["candidate_mean"].get(candidate_mean), simdjson::SUCCESS);
    EXPECT_DOUBLE_EQ(active_mean, candidate_mean) << outcome;
  }
  EXPECT_TRUE(flagged_judged) << outcome;
  // Once promoted, every card is the candidate's.
  auto client = server.NewClient();
  for (int card = 0; card < 200; ++card) {
    auto response =
        client->Send("POST", "/api/v1/fraud/analyze",
                     R"({"transaction_id":"after-)" + std::to_string(card) +
                         R"(","amount":12,"card_id":"regular-)" + std::to_string(card) + R"("})");
    ASSERT_TRUE(response.ok());
    ASSERT_EQ(response->status, 200) << response->body;
    EXPECT_NE(response->body.find(R"("model_version":"good-candidate")"), std::string::npos)
        << response->body;
  }
  EXPECT_NE(server.Logs().find(R"("event":"rollout_promoted")"), std::string::npos);
  auto metrics = server.NewClient()->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find(R"(fraudguard_model_info{version="good-candidate"} 1)"),
            std::string::npos);
  EXPECT_NE(metrics->body.find(std::string(R"(fraudguard_model_info{version=")") + kActiveVersion +
                               "\"} 0"),
            std::string::npos);
  // Drift follows the promotion: a fresh window for the new model, counting only what it
  // scored since.
  EXPECT_NE(metrics->body.find(R"(fraudguard_drift_observations{model_name="good-candidate"} )"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(server.Logs().find(R"("event":"drift_tracking","model_version":"good-candidate")"),
            std::string::npos);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ModelRollout, PromotionAndRollbackUnderLoadFailNoRequest) {
  TempDir dir;
  const std::string models = WriteModels(dir.path());
  ServerProcess server(dir.path() + "/data", {"--model", models + "/default.json"});
  ASSERT_TRUE(server.Start()) << server.Logs();
  Load load(server, 2);
  // A long shadow phase, promoted and rolled back by hand while two connections score.
  auto response = Admin(server, "/api/v1/admin/rollout",
                        R"({"model":"good.json","shadow":"10m","interval":"1s"})");
  ASSERT_EQ(response.status, 202) << response.body;
  response = Admin(server, "/api/v1/admin/rollout", R"({"model":"good.json"})");
  EXPECT_EQ(response.status, 409) << response.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  response = Admin(server, "/api/v1/admin/rollout/promote");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Phase(response.body), "promoted");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  response = Admin(server, "/api/v1/admin/rollout/rollback");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Phase(response.body), "rolled_back");
  EXPECT_NE(response.body.find(std::string(R"("active_model":")") + kActiveVersion),
            std::string::npos)
      << response.body;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  load.Stop();
  EXPECT_GT(load.sent(), 100U);
  EXPECT_EQ(load.failed(), 0U) << "of " << load.sent();
  // Nothing left to roll back or promote.
  EXPECT_EQ(Admin(server, "/api/v1/admin/rollout/rollback").status, 409);
  EXPECT_EQ(Admin(server, "/api/v1/admin/rollout/promote").status, 409);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ModelRollout, BadRequestsAreRefusedWithTheFieldNamed) {
  TempDir dir;
  const std::string models = WriteModels(dir.path());
  ServerProcess server(dir.path() + "/data", {"--model", models + "/default.json"});
  ASSERT_TRUE(server.Start()) << server.Logs();
  struct Case {
    std::string body;
    int status;
    std::string code;
    std::string field;
  };
  const Case cases[] = {
      {"not json", 400, "malformed_json", ""},
      {R"({"shadow":"1m"})", 400, "missing_field", "model"},
      {R"({"model":"../default.json"})", 400, "invalid_field", "model"},
      {R"({"model":"sub/good.json"})", 400, "invalid_field", "model"},
      {R"({"model":7})", 400, "invalid_field", "model"},
      {R"({"model":"good.json","color":"red"})", 400, "invalid_field", "color"},
      {R"({"model":"good.json","shadow":"soon"})", 400, "invalid_field", "shadow"},
      {R"({"model":"good.json","shadow":"1s","interval":"250ms"})", 400, "invalid_field", "shadow"},
      {R"({"model":"good.json","interval":"10ms"})", 400, "invalid_field", "interval"},
      {R"({"model":"good.json","phase":"1s"})", 400, "invalid_field", "phase"},
      {R"({"model":"missing.json"})", 422, "model_invalid", "model"},
  };
  for (const Case& c : cases) {
    const auto response = Admin(server, "/api/v1/admin/rollout", c.body);
    EXPECT_EQ(response.status, c.status) << c.body << " -> " << response.body;
    EXPECT_NE(response.body.find("\"error\":\"" + c.code + "\""), std::string::npos)
        << c.body << " -> " << response.body;
    if (!c.field.empty()) {
      EXPECT_NE(response.body.find("\"field\":\"" + c.field + "\""), std::string::npos)
          << c.body << " -> " << response.body;
    }
  }
  EXPECT_EQ(Phase(Status(server)), "idle");
  EXPECT_EQ(server.NewClient()->Send("GET", "/api/v1/admin/rollout")->status, 405);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(ModelRollout, WritesNeedTheAdminRole) {
  TempDir dir;
  const std::string models = WriteModels(dir.path());
  const std::string keys = dir.path() + "/keys.yaml";
  std::string reader;
  std::string admin;
  ASSERT_EQ(
      RunFraudguard({"keys", "add", "--file", keys, "--name", "sre", "--roles", "read"}, &reader),
      0);
  ASSERT_EQ(RunFraudguard({"keys", "add", "--file", keys, "--name", "release", "--roles", "admin"},
                          &admin),
            0);
  reader.erase(reader.find_last_not_of("\r\n") + 1);
  admin.erase(admin.find_last_not_of("\r\n") + 1);
  ServerProcess server(dir.path() + "/data", {"--model", models + "/default.json", "--keys", keys});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  const std::string body = R"({"model":"good.json"})";
  EXPECT_EQ(client->Send("GET", "/api/v1/rollout")->status, 401);
  EXPECT_EQ(client->Send("GET", "/api/v1/rollout", "", {{"X-API-Key", reader}})->status, 200);
  EXPECT_EQ(client->Send("POST", "/api/v1/admin/rollout", body, {{"X-API-Key", reader}})->status,
            403);
  EXPECT_EQ(
      client->Send("POST", "/api/v1/admin/rollout/rollback", "", {{"X-API-Key", reader}})->status,
      403);
  EXPECT_EQ(client->Send("POST", "/api/v1/admin/rollout", body, {{"X-API-Key", admin}})->status,
            202);
  EXPECT_EQ(
      client->Send("POST", "/api/v1/admin/rollout/rollback", "", {{"X-API-Key", admin}})->status,
      200);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing

namespace fraudguard::testing {
namespace {

TEST(ModelRollout, PhasesComeFromTheCanaryConfiguration) {
  TempDir dir;
  const std::string models = WriteModels(dir.path());
  const std::string phases = dir.path() + "/canary.yaml";
  std::ofstream(phases) << "groups: {errors: 100}\n"
                           "metrics: [{name: error_rate, group: errors}]\n"
                           "phases:\n"
                           "  - {traffic_percent: 50, duration: 1m}\n"
                           "  - {traffic_percent: 100, duration: stable}\n";
  ServerProcess server(dir.path() + "/data",
                       {"--model", models + "/default.json", "--canary-config", phases});
  ASSERT_TRUE(server.Start()) << server.Logs();
  Load load(server, 2);
  const auto started =
      Admin(server, "/api/v1/admin/rollout", std::string(R"({"model":"good.json")") + kFastRollout);
  ASSERT_EQ(started.status, 202) << started.body;
  const std::string outcome = WaitForOutcome(server);
  load.Stop();
  EXPECT_EQ(Phase(outcome), "promoted") << outcome;
  EXPECT_NE(outcome.find(R"("phase":"canary","canary_percent":50)"), std::string::npos) << outcome;
  EXPECT_EQ(outcome.find(R"("canary_percent":5,)"), std::string::npos) << outcome;
  EXPECT_EQ(load.failed(), 0U);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);

  // A configuration that does not load stops the server at start, naming the key.
  std::ofstream(phases) << "groups: {errors: 100}\n"
                           "metrics: [{name: error_rate, group: errors}]\n"
                           "phases: [{traffic_percent: 50, duration: 1m}]\n";
  ServerProcess refused(dir.path() + "/data2",
                        {"--model", models + "/default.json", "--canary-config", phases});
  EXPECT_FALSE(refused.Start());
  EXPECT_NE(refused.Logs().find("canary_config_invalid"), std::string::npos) << refused.Logs();
  EXPECT_NE(refused.Logs().find("phases[0].traffic_percent"), std::string::npos) << refused.Logs();
}

}  // namespace
}  // namespace fraudguard::testing
