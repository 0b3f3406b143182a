// The feature state and the decision log survive a graceful stop and a kill -9 under load.
#include <signal.h>
#include <simdjson.h>

#include <atomic>
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

}  // namespace
}  // namespace fraudguard::testing
