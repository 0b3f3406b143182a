// The feature state and the decision log survive a graceful stop and a kill -9 under load.
#include <signal.h>
#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

// Count of the card's transactions in the 30-day window, from the features endpoint.
int64_t CardCount30d(ServerProcess& server, const std::string& card) {
  auto client = server.NewClient();
  auto response = client->Send("GET", "/api/v1/features/card/" + card);
  if (!response.ok() || response->status != 200) {
    return -1;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element json;
  if (parser.parse(response->body).get(json) != simdjson::SUCCESS) {
    return -2;
  }
  double count = 0;
  if (json["windows"]["30d"]["count"].get(count) != simdjson::SUCCESS) {
    return -3;
  }
  return static_cast<int64_t>(count + 0.5);
}

TEST(Durability, AcknowledgedTransactionsSurviveKillNine) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  ServerProcess server(data, {"--snapshot-interval-seconds", "1"});
  ASSERT_TRUE(server.Start()) << server.Logs();

  constexpr int kClients = 4;
  constexpr int kPerClient = 400;  // bounded: the kill lands somewhere inside this
  std::atomic<int> acknowledged{0};
  std::atomic<int> sent{0};
  // The id of each client's last acknowledged transaction, whose decision must survive.
  std::vector<std::string> last_acknowledged(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto client = server.NewClient(5000);
      for (int i = 0; i < kPerClient; ++i) {
        const std::string body = R"({"transaction_id":"k-)" + std::to_string(c) + "-" +
                                 std::to_string(i) + R"(","amount":12.5,"card_id":"durable"})";
        sent.fetch_add(1);
        auto response = client->Send("POST", "/api/v1/fraud/analyze", body);
        if (!response.ok()) {
          return;  // the server is gone
        }
        if (response->status == 200) {
          acknowledged.fetch_add(1);
          last_acknowledged[static_cast<size_t>(c)] =
              "k-" + std::to_string(c) + "-" + std::to_string(i);
        }
      }
    });
  }
  // Kill once a good share is through, while the clients are still sending.
  while (acknowledged.load() < kClients * kPerClient / 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  server.Kill();
  for (auto& thread : clients) {
    thread.join();
  }
  const int acked = acknowledged.load();
  ASSERT_GT(acked, 0);
  ASSERT_LT(acked, kClients * kPerClient) << "the kill should land mid-load";

  ServerProcess restarted(data);
  ASSERT_TRUE(restarted.Start()) << restarted.Logs();
  const int64_t count = CardCount30d(restarted, "durable");
  EXPECT_GE(count, acked) << "every acknowledged transaction is in the state";
  EXPECT_LE(count, sent.load()) << "nothing is counted twice";
  // Decisions answered just before the kill were still in the writer's queue; the crash
  // journal brings them back.
  auto client = restarted.NewClient();
  for (const std::string& id : last_acknowledged) {
    if (id.empty()) {
      continue;
    }
    for (const std::string& probe : {id, id.substr(0, id.rfind('-')) + "-0"}) {
      auto found = client->Send("GET", "/api/v1/fraud/decisions/" + probe);
      ASSERT_TRUE(found.ok());
      EXPECT_EQ(found->status, 200) << probe << ": " << found->body;
    }
  }
  EXPECT_EQ(restarted.StopWith(SIGTERM), 0) << restarted.Logs();
}

TEST(Durability, GracefulStopFlushesDecisionsAndState) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  {
    ServerProcess server(data);
    ASSERT_TRUE(server.Start()) << server.Logs();
    auto client = server.NewClient();
    for (int i = 0; i < 200; ++i) {
      auto response = client->Send("POST", "/api/v1/fraud/analyze",
                                   R"({"transaction_id":"g-)" + std::to_string(i) +
                                       R"(","amount":30,"card_id":"graceful"})");
      ASSERT_TRUE(response.ok());
      ASSERT_EQ(response->status, 200);
    }
    EXPECT_EQ(server.StopWith(SIGTERM), 0) << server.Logs();
    EXPECT_NE(server.Logs().find("\"event\":\"stopped\""), std::string::npos);
  }
  ServerProcess server(data);
  ASSERT_TRUE(server.Start()) << server.Logs();
  EXPECT_EQ(CardCount30d(server, "graceful"), 200);
  auto client = server.NewClient();
  for (int i = 0; i < 200; i += 37) {
    auto response = client->Send("GET", "/api/v1/fraud/decisions/g-" + std::to_string(i));
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 200) << "g-" << i;
  }
  EXPECT_EQ(server.StopWith(SIGINT), 0);
}

// The disk under the feature log fills up while the server runs: the next segments it opens are
// links to /dev/full, so every write fails with ENOSPC. Scoring goes on, the buffer stays
// bounded, readiness turns 503 with the reason, and once writes work again nothing is lost.
TEST(Durability, AFullDiskDegradesReadinessAndLosesNothingOnceItClears) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string card = "full-disk";
  constexpr int kDuringOutage = 40;  // 5 records each: 10,400 bytes against a 4,096-byte bound
  {
    ServerProcess server(data, {"--threads", "1", "--feature-max-pending-log-bytes", "4096"});
    ASSERT_TRUE(server.Start()) << server.Logs();
    // No transaction yet, so no segment is open: the first commit opens wal-<generation>-0-0,
    // where the generation is the newest snapshot's (1 before any).
    const std::filesystem::path features = std::filesystem::path(data) / "features";
    uint64_t generation = 1;
    for (const auto& entry : std::filesystem::directory_iterator(features)) {
      const std::string name = entry.path().filename().string();
      ASSERT_FALSE(name.starts_with("wal-")) << name;
      if (name.starts_with("snapshot-") && name.find('.') == std::string::npos) {
        generation = std::max<uint64_t>(generation, std::stoull(name.substr(9)));
      }
    }
    std::vector<std::filesystem::path> full;
    for (int part = 0; part < 500; ++part) {  // a failed write retries in the next part
      full.push_back(features /
                     ("wal-" + std::to_string(generation) + "-0-" + std::to_string(part)));
      std::filesystem::create_symlink("/dev/full", full.back());
    }
    auto client = server.NewClient();
    const auto score = [&](int i) {
      auto response = client->Send(
          "POST", "/api/v1/fraud/analyze",
          R"({"transaction_id":"f-)" + std::to_string(i) + R"(","amount":25,"card_id":")" + card +
              R"(","customer_id":"cu-1","merchant_id":"m-1","device_id":"d-1","ip":"10.0.0.1"})");
      return response.ok() ? response->status : -1;
    };
    for (int i = 0; i < kDuringOutage; ++i) {
      ASSERT_EQ(score(i), 200) << i;  // answers go on
    }
    auto ready = client->Send("GET", "/ready");
    ASSERT_TRUE(ready.ok());
    EXPECT_EQ(ready->status, 503);
    EXPECT_NE(ready->body.find(R"("reason":"feature_log_backlog_full")"), std::string::npos)
        << ready->body;
    auto health = client->Send("GET", "/api/v1/health");
    ASSERT_TRUE(health.ok());
    EXPECT_NE(health->body.find(R"("log_backlog_full":true)"), std::string::npos) << health->body;
    simdjson::dom::parser parser;
    uint64_t pending = 0;
    uint64_t unlogged = 0;
    simdjson::dom::element state;
    ASSERT_EQ(parser.parse(health->body)["feature_state"].get(state), simdjson::SUCCESS);
    ASSERT_EQ(state["pending_log_bytes"].get(pending), simdjson::SUCCESS);
    ASSERT_EQ(state["unlogged_records"].get(unlogged), simdjson::SUCCESS);
    EXPECT_LE(pending, 4096U);
    EXPECT_GT(unlogged, 0U);
    auto metrics = client->Send("GET", "/metrics");
    ASSERT_TRUE(metrics.ok());
    EXPECT_NE(metrics->body.find("fraudguard_ready 0\n"), std::string::npos);
    EXPECT_EQ(metrics->body.find("fraudguard_feature_log_unlogged_records_total 0\n"),
              std::string::npos);
    EXPECT_NE(metrics->body.find("fraudguard_feature_log_unlogged_records_total "),
              std::string::npos);
    EXPECT_NE(server.Logs().find(R"("event":"feature_log_backlog_full")"), std::string::npos);

    // Space comes back: the next commit writes a real segment and readiness returns.
    for (const auto& link : full) {
      std::filesystem::remove(link);
    }
    ASSERT_EQ(score(kDuringOutage), 200);
    ready = client->Send("GET", "/ready");
    ASSERT_TRUE(ready.ok());
    EXPECT_EQ(ready->status, 200) << ready->body;
    EXPECT_NE(server.Logs().find(R"("event":"feature_log_backlog_recovered")"), std::string::npos);
    // A graceful stop snapshots the state, the unlogged updates included.
    EXPECT_EQ(server.StopWith(SIGTERM), 0) << server.Logs();
  }
  ServerProcess server(data);
  ASSERT_TRUE(server.Start()) << server.Logs();
  EXPECT_EQ(CardCount30d(server, card), kDuringOutage + 1);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing
