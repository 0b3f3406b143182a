// End to end with Debian's real Prometheus on loopback: it scrapes a running `fraudguard serve`,
// loads the rule file that `fraudguard slo rules` wrote, and its recording rules must agree with
// `fraudguard slo status` on the same traffic (including real 503s).
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "server_process.h"
#include "slo/error_budget.h"

namespace fraudguard::testing {
namespace {

// Request-based, over the fraud API and /health, so that one burst gives a known error ratio.
constexpr const char* kSlos = R"yaml(
fraud_detection_api_slos:
  routes: ["/api/v1/fraud/analyze", "/health"]
  availability:
    target: 99%
    measurement_window: "7 days"
)yaml";

// A decision log that takes one decision and then none for a minute: scoring answers 503.
constexpr const char* kStalledDecisionLog = R"yaml(
decision_log:
  queue_capacity: 1
  batch_size: 1000
  flush_interval_ms: 60000
)yaml";

std::string UrlEncode(const std::string& text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Debian's prometheus, started on a loopback port and stopped (SIGTERM, then SIGKILL) at the end.
class PrometheusProcess {
public:
  PrometheusProcess(const std::string& dir, uint16_t target_port, const std::string& rules)
      : dir_(dir),
        port_(FreeLoopbackPort()),
        daemon_({"prometheus", "--config.file=" + dir + "/prometheus.yml",
                 "--storage.tsdb.path=" + dir + "/tsdb",
                 "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                dir + "/prometheus.log",
                port_) {
    std::ofstream(dir_ + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        << "rule_files: ['" << rules << "']\n"
        << "scrape_configs:\n  - job_name: fraud-api\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << target_port << "']\n";
  }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  bool Start() { return daemon_.Start(); }

  // The value of an instant query with one result; NaN when there is none.
  double Query(const std::string& promql) const {
    http::Client client("127.0.0.1", port_, 5000);
    auto response = client.Send("GET", "/api/v1/query?query=" + UrlEncode(promql));
    if (!response || response->status != 200) {
      return std::nan("");
    }
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string_view value;
    if (parser.parse(response->body).get(root) ||
        root["data"]["result"].at(0)["value"].at(1).get_string().get(value)) {
      return std::nan("");
    }
    return std::stod(std::string(value));
  }
  std::string Logs() const {
    std::ifstream in(dir_ + "/prometheus.log");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

private:
  std::string dir_;
  uint16_t port_;
  LoopbackDaemon daemon_;
};

// Polls `query` until it has a value (bounded); NaN when it never had one.
double WaitForValue(const PrometheusProcess& prometheus,
                    const std::string& query,
                    const std::function<bool(double)>& done) {
  double value = std::nan("");
  for (int i = 0; i < 200; ++i) {
    value = prometheus.Query(query);
    if (!std::isnan(value) && done(value)) {
      return value;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return value;
}

TEST(SloPrometheus, RecordingRulesAgreeWithTheBuiltInEngine) {
  TempDir dir;
  const std::string slos = dir.path() + "/slo.yaml";
  std::ofstream(slos) << kSlos;
  const std::string config = dir.path() + "/serve.yaml";
  std::ofstream(config) << kStalledDecisionLog;
  const std::string rules = dir.path() + "/rules.yml";
  ASSERT_EQ(RunFraudguard({"slo", "rules", "-c", slos, "-o", rules}), 0);

  ServerProcess server(dir.path() + "/data", {"--config", config, "--slo-config", slos});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  // One accepted decision, one refused and one health check: every counter series exists before
  // Prometheus' first scrape, so the burst below is seen as an increase of each.
  const auto analyze = [&](int i) {
    auto response = client->Send(
        "POST", "/api/v1/fraud/analyze",
        R"({"transaction_id":"p)" + std::to_string(i) + R"(","amount":10,"card_id":"c9"})");
    return response ? response->status : 0;
  };
  ASSERT_EQ(analyze(0), 200);
  ASSERT_EQ(analyze(1), 503);
  ASSERT_EQ(client->Send("GET", "/health")->status, 200);

  PrometheusProcess prometheus(dir.path(), server.port(), rules);
  ASSERT_TRUE(prometheus.Start()) << prometheus.Logs();
  const std::string total =
      "sum(http_requests_total{job=\"fraud-api\",route=~\"/api/v1/fraud/analyze|/health\"})";
  ASSERT_FALSE(std::isnan(WaitForValue(prometheus, "count_over_time(" + total + "[1m:1s])",
                                       [](double samples) { return samples >= 2; })))
      << prometheus.Logs();

  // The burst: 100 refused decisions and 300 health checks, an error ratio of 1/4.
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(analyze(100 + i), 503);
  }
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(client->Send("GET", "/health")->status, 200);
  }
  // Wait until Prometheus has scraped the whole burst and evaluated the rules on it.
  const double seen = WaitForValue(prometheus, total, [](double v) { return v >= 403; });
  ASSERT_EQ(seen, 403) << prometheus.Logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));

  std::string output;
  ASSERT_EQ(RunFraudguard({"slo", "status", "--json", "--url",
                           "http://127.0.0.1:" + std::to_string(server.port())},
                          &output),
            0);
  auto reports = ParseSloReportsJson(output);
  ASSERT_TRUE(reports) << reports.error();
  ASSERT_EQ(reports->size(), 1u);
  const SloReport& engine = (*reports)[0];
  // The engine saw the three early requests too: 101 errors in 403 (the SLO and metrics calls
  // are on other routes).
  EXPECT_EQ(engine.total_requests, 403u);
  EXPECT_EQ(engine.bad_requests, 101u);
  const double engine_ratio_5m = engine.burn_rates[0] * 0.01;
  EXPECT_NEAR(engine_ratio_5m, 101.0 / 403, 1e-9);

  // Prometheus extrapolates rate() to the window's edges, and missed the three early requests,
  // so the ratios agree within a few percent rather than exactly.
  const std::string slo = "{slo=\"fraud_api_availability\"}";
  const double prometheus_ratio = prometheus.Query("slo:sli_error:ratio_rate5m" + slo);
  ASSERT_FALSE(std::isnan(prometheus_ratio)) << prometheus.Logs();
  EXPECT_NEAR(prometheus_ratio, engine_ratio_5m, 0.05 * engine_ratio_5m);
  const double prometheus_burn = prometheus.Query("slo:burn_rate:ratio_rate5m" + slo);
  EXPECT_NEAR(prometheus_burn, engine.burn_rates[0], 0.05 * engine.burn_rates[0]);
  const double prometheus_period = prometheus.Query("slo:sli_error:ratio_rate7d" + slo);
  EXPECT_NEAR(prometheus_period, 1 - engine.sli, 0.05 * (1 - engine.sli));
  const double prometheus_remaining =
      prometheus.Query("slo:period_error_budget_remaining:ratio" + slo);
  EXPECT_NEAR(prometheus_remaining, engine.remaining_ratio,
              0.05 * std::fabs(engine.remaining_ratio));
  EXPECT_EQ(prometheus.Query("slo:objective:ratio" + slo), 0.99);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing
