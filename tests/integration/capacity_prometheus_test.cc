// `fraudguard capacity forecast --prometheus` against a real Prometheus on 127.0.0.1, loaded
// with known history by promtool (tsdb create-blocks-from openmetrics).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "api/http_client.h"
#include "capacity_test_process.h"

namespace fraudguard {
namespace {

using capacity_testing::CommandResult;

constexpr int kHistoryHours = 48;

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

class CapacityPrometheusTest : public ::testing::Test {
protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/prometheus") ||
        !std::filesystem::exists("/usr/bin/promtool")) {
      GTEST_SKIP() << "prometheus and promtool are missing: bash scripts/setup.sh";
    }
    ASSERT_TRUE(dir_.ok());
    // Hourly history ending an hour ago, so it lies inside the retention window.
    end_ = (static_cast<int64_t>(std::time(nullptr)) / 3600 - 1) * 3600;
    start_ = end_ - 3600 * (kHistoryHours - 1);
    {
      std::ofstream out(dir_.Path("history.om"));
      out << "# HELP fraudguard_decisions_per_second Decisions per second.\n"
             "# TYPE fraudguard_decisions_per_second gauge\n";
      for (int i = 0; i < kHistoryHours; ++i) {
        for (const char* pod : {"a", "b"}) {
          out << "fraudguard_decisions_per_second{pod=\"" << pod << "\"} " << Value(i) << " "
              << start_ + 3600 * i << "\n";
        }
      }
      out << "# EOF\n";
    }
    const CommandResult blocks =
        capacity_testing::Exec(dir_, {"/usr/bin/promtool", "tsdb", "create-blocks-from",
                                      "openmetrics", dir_.Path("history.om"), dir_.Path("tsdb")});
    ASSERT_EQ(blocks.status, 0) << blocks.err;
    std::ofstream(dir_.Path("prometheus.yml")) << "global:\n  scrape_interval: 1m\n";

    port_ = FreePort();
    ASSERT_NE(port_, 0);
    pid_ = fork();
    if (pid_ == 0) {
      if (!freopen(dir_.Path("prometheus.log").c_str(), "w", stderr)) {
        _exit(126);
      }
      const std::string config = "--config.file=" + dir_.Path("prometheus.yml");
      const std::string storage = "--storage.tsdb.path=" + dir_.Path("tsdb");
      const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      execl("/usr/bin/prometheus", "prometheus", config.c_str(), storage.c_str(), listen.c_str(),
            "--storage.tsdb.retention.time=30d", static_cast<char*>(nullptr));
      _exit(127);
    }
    // Bounded wait for readiness: 300 polls of 100 ms.
    http::Client client("127.0.0.1", port_, 2000);
    bool ready = false;
    for (int attempt = 0; attempt < 300 && !ready; ++attempt) {
      auto response = client.Send("GET", "/-/ready");
      ready = response && response->status == 200;
      if (!ready) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    ASSERT_TRUE(ready) << capacity_testing::ReadFile(dir_.Path("prometheus.log"));
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int attempt = 0; attempt < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }

  static double Value(int hour) { return 1000 + 10.0 * hour + 50 * std::sin(hour / 3.0); }

  CommandResult Forecast(const std::string& query) const {
    return capacity_testing::RunFraudguardCapacity(
        dir_,
        {"capacity", "forecast", "--prometheus", "http://127.0.0.1:" + std::to_string(port_),
         "--query", query, "--range", std::to_string(kHistoryHours - 1) + "h", "--step", "1h",
         "--end", std::to_string(end_), "--horizon", "12h", "--replica-rps", "1000", "--json"});
  }

  capacity_testing::ScratchDir dir_;
  int64_t start_ = 0;
  int64_t end_ = 0;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(CapacityPrometheusTest, ForecastsFromQueryRange) {
  const CommandResult result = Forecast("sum(fraudguard_decisions_per_second)");
  ASSERT_EQ(result.status, 0) << result.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(result.out).get(root), simdjson::SUCCESS) << result.out;
  EXPECT_EQ(int64_t(root["history"]["points"].get_int64()), kHistoryHours);
  EXPECT_DOUBLE_EQ(double(root["history"]["step_seconds"].get_double()), 3600.0);
  // Two pods of the same series summed: the slope is 2 x 10 per hour, 480 a day.
  EXPECT_NEAR(double(root["linear_slope_per_day"].get_double()), 480, 40);
  EXPECT_EQ(root["forecast"].get_array().size(), 12u);
}

TEST_F(CapacityPrometheusTest, ReportsQueryErrorsAndSeveralSeries) {
  const CommandResult bad = Forecast("sum(");
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("Prometheus query failed: "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("HTTP 400"), std::string::npos) << bad.err;

  const CommandResult two = Forecast("fraudguard_decisions_per_second");
  EXPECT_EQ(two.status, 1);
  EXPECT_NE(two.err.find("the query returned 2 series, expected exactly 1"), std::string::npos)
      << two.err;

  const CommandResult empty = Forecast("sum(no_such_metric)");
  EXPECT_EQ(empty.status, 1);
  EXPECT_NE(empty.err.find("returned 0 series"), std::string::npos) << empty.err;
}

TEST_F(CapacityPrometheusTest, TooShortARangeIsRefused) {
  const CommandResult result = capacity_testing::RunFraudguardCapacity(
      dir_, {"capacity", "forecast", "--prometheus", "http://127.0.0.1:" + std::to_string(port_),
             "--query", "sum(fraudguard_decisions_per_second)", "--range", "20h", "--step", "1h",
             "--end", std::to_string(end_), "--replica-rps", "1000"});
  EXPECT_EQ(result.status, 2);
  EXPECT_NE(result.err.find("need at least 30 points to forecast, got 21"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace fraudguard
