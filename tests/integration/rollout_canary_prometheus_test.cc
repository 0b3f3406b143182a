// `fraudguard canary --prometheus`: the same judgement from the figures Debian's real Prometheus
// scraped from three servers under the same traffic: the identical pair passes, the canary made
// worse on purpose fails.
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

// Debian's prometheus scraping `targets` every second, stopped at the end.
class Prometheus {
public:
  Prometheus(const std::string& dir, const std::vector<uint16_t>& targets)
      : dir_(dir),
        port_(FreeLoopbackPort()),
        daemon_({"prometheus", "--config.file=" + dir + "/prometheus.yml",
                 "--storage.tsdb.path=" + dir + "/tsdb",
                 "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                dir + "/prometheus.log",
                port_) {
    std::ofstream config(dir_ + "/prometheus.yml");
    config << "global:\n  scrape_interval: 1s\n"
           << "scrape_configs:\n  - job_name: fraud-api\n    static_configs:\n"
           << "      - targets: [";
    for (size_t i = 0; i < targets.size(); ++i) {
      config << (i ? ", " : "") << "'127.0.0.1:" << targets[i] << "'";
    }
    config << "]\n";
  }
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  bool Start() { return daemon_.Start(); }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

private:
  std::string dir_;
  uint16_t port_;
  LoopbackDaemon daemon_;
};

std::string Url(const ServerProcess& server) {
  return "http://127.0.0.1:" + std::to_string(server.port());
}

TEST(CanaryPrometheus, JudgesTheScrapedFiguresOfRealTraffic) {
  TempDir dir;
  ServerProcess baseline(dir.path() + "/baseline");
  ServerProcess twin(dir.path() + "/twin");
  ServerProcess degraded(dir.path() + "/degraded",
                         {"--testing-added-latency-ms", "25", "--testing-error-ratio", "0.05"});
  ASSERT_TRUE(baseline.Start()) << baseline.Logs();
  ASSERT_TRUE(twin.Start()) << twin.Logs();
  ASSERT_TRUE(degraded.Start()) << degraded.Logs();
  Prometheus prometheus(dir.path(), {baseline.port(), twin.port(), degraded.port()});
  ASSERT_TRUE(prometheus.Start());

  // The same transactions to all three, about 30 a second each, for 16 seconds.
  {
    auto to_baseline = baseline.NewClient();
    auto to_twin = twin.NewClient();
    auto to_degraded = degraded.NewClient();
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(16);
    for (int n = 0; std::chrono::steady_clock::now() < end; ++n) {
      const std::string body = R"({"transaction_id":"p-)" + std::to_string(n) + R"(","amount":)" +
                               std::to_string(5 + n % 70) + R"(,"card_id":"pc-)" +
                               std::to_string(n) + R"("})";
      for (http::Client* client : {to_baseline.get(), to_twin.get(), to_degraded.get()}) {
        ASSERT_TRUE(client->Send("POST", "/api/v1/fraud/analyze", body).ok());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // the last scrape

  const auto judge = [&](const ServerProcess& canary, std::string& json) {
    return RunFraudguard(
        {"canary", "--baseline", Url(baseline), "--canary", Url(canary), "--prometheus",
         prometheus.Url(), "--window", "14s", "--interval", "2s", "--json"},
        &json);
  };
  std::string same;
  EXPECT_EQ(judge(twin, same), 0) << same;
  EXPECT_NE(same.find(R"("verdict":"pass")"), std::string::npos) << same;
  std::string worse;
  EXPECT_EQ(judge(degraded, worse), 1) << worse;
  EXPECT_NE(worse.find(R"("judge_verdict":"fail")"), std::string::npos) << worse;
  EXPECT_NE(worse.find(R"("name":"latency_p95_ms","group":"latency","critical":true,)"
                       R"("classification":"high")"),
            std::string::npos)
      << worse;
  // The figures are Prometheus' own: the requests it counted over the window.
  simdjson::dom::parser parser;
  const uint64_t counted = parser.parse(worse)["canary"]["requests"];
  EXPECT_GT(counted, 100U) << worse;

  // An unreachable Prometheus gives no evidence: the canary does not pass.
  std::string output;
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", Url(baseline), "--canary", Url(twin),
                           "--prometheus", "http://127.0.0.1:1", "--window", "14s", "--interval",
                           "2s", "--timeout-ms", "500"},
                          &output),
            1);
  EXPECT_EQ(RunFraudguard({"canary", "--baseline", Url(baseline), "--canary", Url(twin),
                           "--prometheus", prometheus.Url(), "--canary-selector", "{job=\"x\"}"}),
            2);

  EXPECT_EQ(baseline.StopWith(SIGTERM), 0);
  EXPECT_EQ(twin.StopWith(SIGTERM), 0);
  EXPECT_EQ(degraded.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing
