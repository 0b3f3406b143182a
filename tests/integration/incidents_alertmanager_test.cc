// Alertmanager into FraudGuard: the example configuration passes `amtool check-config`; Debian's
// real prometheus-alertmanager on loopback delivers alerts posted with `amtool alert add` to the
// webhook of a running `fraudguard serve`, which groups them into one incident whose severity
// rises as alerts join and which moves to MONITORING when they resolve. Malformed webhooks are
// refused with 400 and create nothing.
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "incidents/incident.h"
#include "server_process.h"

namespace fraudguard::testing {
namespace {

// Runs a program to completion with its output in `output`; returns the exit status.
int RunProgram(const std::vector<std::string>& args, std::string* output) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    std::vector<char*> argv;
    for (const std::string& arg : args) {
      argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t got = 0;
  while ((got = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<size_t>(got));
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (output != nullptr) {
    *output = text;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Rfc3339(int64_t seconds_from_now) {
  const std::time_t when = std::time(nullptr) + seconds_from_now;
  std::tm parts{};
  gmtime_r(&when, &parts);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

// Debian's prometheus-alertmanager on a loopback port, without clustering, stopped at the end.
class AlertmanagerProcess {
public:
  AlertmanagerProcess(const std::string& dir, uint16_t fraudguard_port, const std::string& key_file)
      : dir_(dir),
        port_(FreeLoopbackPort()),
        daemon_({"prometheus-alertmanager", "--config.file=" + dir + "/alertmanager.yml",
                 "--storage.path=" + dir + "/am-data",
                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                 "--cluster.listen-address="},
                dir + "/alertmanager.log",
                port_) {
    std::ofstream(dir_ + "/alertmanager.yml")
        << "route:\n  receiver: fraudguard\n  group_by: [service]\n"
        << "  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n"
        << "receivers:\n  - name: fraudguard\n    webhook_configs:\n"
        << "      - url: http://127.0.0.1:" << fraudguard_port << "/api/v1/alerts/alertmanager\n"
        << "        send_resolved: true\n        http_config:\n          authorization:\n"
        << "            type: Bearer\n            credentials_file: " << key_file << "\n";
  }
  AlertmanagerProcess(const AlertmanagerProcess&) = delete;
  AlertmanagerProcess& operator=(const AlertmanagerProcess&) = delete;

  bool Start() { return daemon_.Start(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Logs() const { return daemon_.Logs(); }

private:
  std::string dir_;
  uint16_t port_;
  LoopbackDaemon daemon_;
};

class AlertmanagerTest : public ::testing::Test {
protected:
  void SetUp() override {
    keys_ = dir_.path() + "/keys.yaml";
    admin_ = AddApiKey(keys_, "alertmanager", "admin,read");
    reader_ = AddApiKey(keys_, "viewer", "read");
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data",
                                              std::vector<std::string>{"--keys", keys_});
    ASSERT_TRUE(server_->Start()) << server_->Logs();
    client_ = server_->NewClient();
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->StopWith(SIGTERM), 0) << server_->Logs();
    }
  }

  http::ClientResponse Send(std::string_view method,
                            std::string_view path,
                            const std::string& body,
                            const std::string& key) {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    if (!key.empty()) {
      headers.emplace_back("Authorization", "Bearer " + key);
    }
    auto response = client_->Send(method, path, body, headers);
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error());
    return response.ok() ? *response : http::ClientResponse{};
  }

  // The incidents listed now, parsed.
  std::vector<Incident> Incidents() {
    const auto listed = Send("GET", "/api/v1/incidents?state=all", "", reader_);
    simdjson::dom::parser parser;
    simdjson::dom::array items;
    std::vector<Incident> out;
    if (parser.parse(listed.body)["incidents"].get_array().get(items)) {
      return out;
    }
    for (simdjson::dom::element item : items) {
      auto incident = ParseIncidentJson(simdjson::minify(item));
      if (incident) {
        out.push_back(std::move(incident).value());
      }
    }
    return out;
  }

  // Polls (bounded: 30 s) until `done` holds for the incidents.
  bool WaitFor(const std::function<bool(const std::vector<Incident>&)>& done) {
    for (int attempt = 0; attempt < 300; ++attempt) {
      if (done(Incidents())) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  TempDir dir_;
  std::string keys_;
  std::string admin_;
  std::string reader_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST(AlertmanagerConfig, ExampleConfigurationPassesAmtool) {
  std::string output;
  ASSERT_EQ(RunProgram({"amtool", "check-config", RepoPath("deploy/alertmanager.yml")}, &output), 0)
      << output;
  EXPECT_NE(output.find("SUCCESS"), std::string::npos) << output;
  EXPECT_NE(output.find("1 receivers"), std::string::npos) << output;
  // The routing tree sends a critical fraud API alert to FraudGuard.
  ASSERT_EQ(RunProgram({"amtool", "config", "routes", "test",
                        "--config.file=" + RepoPath("deploy/alertmanager.yml"), "severity=critical",
                        "service=fraud-api"},
                       &output),
            0)
      << output;
  EXPECT_NE(output.find("fraudguard"), std::string::npos) << output;
}

TEST_F(AlertmanagerTest, RealAlertmanagerAlertsBecomeOneIncidentThatResolves) {
  const std::string key_file = dir_.path() + "/alertmanager.key";
  std::ofstream(key_file) << admin_;
  AlertmanagerProcess alertmanager(dir_.path(), server_->port(), key_file);
  ASSERT_TRUE(alertmanager.Start()) << alertmanager.Logs();
  const std::string am_url = "--alertmanager.url=" + alertmanager.url();
  const std::string start = "--start=" + Rfc3339(-60);
  std::string output;

  ASSERT_EQ(
      RunProgram({"amtool", "alert", "add", "alertname=FraudAPIHighErrorRate", "severity=critical",
                  "service=fraud-api", "--annotation=summary=High error rate on fraud API",
                  "--annotation=description=Error rate is 7%", start, am_url},
                 &output),
      0)
      << output;
  ASSERT_TRUE(WaitFor([](const std::vector<Incident>& incidents) {
    return incidents.size() == 1 && incidents[0].FiringCount() == 1;
  })) << alertmanager.Logs()
      << server_->Logs();
  Incident incident = Incidents().at(0);
  EXPECT_EQ(incident.severity, Severity::kSev2);
  EXPECT_EQ(incident.playbook, "fraud_api_outage");
  EXPECT_EQ(incident.title, "High error rate on fraud API");
  EXPECT_EQ(incident.group_key.rfind("alertmanager:", 0), 0u) << incident.group_key;
  ASSERT_EQ(incident.alerts.size(), 1u);
  EXPECT_EQ(incident.alerts[0].source, "alertmanager");
  EXPECT_EQ(incident.alerts[0].fingerprint.size(), 16u);

  // Two more alerts of the service join the same group, and so the same incident: 5+2+5 = 12.
  ASSERT_EQ(RunProgram({"amtool", "alert", "add", "alertname=FraudAPIHighLatency",
                        "severity=warning", "service=fraud-api", start, am_url},
                       &output),
            0)
      << output;
  ASSERT_EQ(RunProgram({"amtool", "alert", "add", "alertname=ConnectionPoolExhausted",
                        "severity=critical", "service=fraud-api", start, am_url},
                       &output),
            0)
      << output;
  ASSERT_TRUE(WaitFor([](const std::vector<Incident>& incidents) {
    return incidents.size() == 1 && incidents[0].FiringCount() == 3;
  })) << alertmanager.Logs()
      << server_->Logs();
  incident = Incidents().at(0);
  EXPECT_EQ(incident.Score(), 12);
  EXPECT_EQ(incident.severity, Severity::kSev1);

  // Ending the alerts: Alertmanager sends them resolved and the incident is monitored.
  const std::string end = "--end=" + Rfc3339(-1);
  for (const auto& labels : std::vector<std::vector<std::string>>{
           {"alertname=FraudAPIHighErrorRate", "severity=critical", "service=fraud-api"},
           {"alertname=FraudAPIHighLatency", "severity=warning", "service=fraud-api"},
           {"alertname=ConnectionPoolExhausted", "severity=critical", "service=fraud-api"}}) {
    std::vector<std::string> args = {"amtool", "alert", "add"};
    args.insert(args.end(), labels.begin(), labels.end());
    args.insert(args.end(), {start, end, am_url});
    ASSERT_EQ(RunProgram(args, &output), 0) << output;
  }
  ASSERT_TRUE(WaitFor([](const std::vector<Incident>& incidents) {
    return incidents.size() == 1 && incidents[0].FiringCount() == 0 &&
           incidents[0].state == IncidentState::kMonitoring;
  })) << alertmanager.Logs()
      << server_->Logs();
  EXPECT_EQ(Incidents().at(0).severity, Severity::kSev1);  // severity does not fall by itself
}

TEST_F(AlertmanagerTest, MalformedWebhooksAreRefusedAndCreateNothing) {
  const std::string path = "/api/v1/alerts/alertmanager";
  const auto payload = [](const std::string& alert, const std::string& top = "") {
    return R"({"version":"4","groupKey":"{}:{service=\"fraud-api\"}","status":"firing",)"
           R"("receiver":"fraudguard","groupLabels":{},"commonLabels":{},)"
           R"("commonAnnotations":{},"externalURL":"http://am")" +
           top + R"(,"alerts":[)" + alert + "]}";
  };
  const std::string good_alert =
      R"({"status":"firing","labels":{"alertname":"FraudAPIHighErrorRate","severity":"critical",)"
      R"("service":"fraud-api"},"annotations":{"summary":"errors"},)"
      R"("startsAt":"2026-12-04T06:05:36.123456789Z","endsAt":"0001-01-01T00:00:00Z",)"
      R"("generatorURL":"http://prom","fingerprint":"c6e0f4e0e6a1d2b3"})";
  struct Case {
    std::string body;
    std::string key;
    int status;
    std::string error;
    std::string field;
  };
  const std::vector<Case> cases = {
      {payload(good_alert), "", 401, "unauthenticated", ""},
      {payload(good_alert), reader_, 403, "forbidden", ""},
      {"", admin_, 400, "empty_body", ""},
      {"{\"version\":", admin_, 400, "malformed_json", ""},
      {"[]", admin_, 400, "invalid_body", ""},
      {R"({"groupKey":"g","status":"firing","alerts":[]})", admin_, 400, "missing_field",
       "version"},
      {R"({"version":"3","groupKey":"g","status":"firing","alerts":[]})", admin_, 400,
       "invalid_field", "version"},
      {R"({"version":"4","status":"firing","alerts":[]})", admin_, 400, "invalid_field",
       "groupKey"},
      {R"({"version":"4","groupKey":"g","status":"burning","alerts":[]})", admin_, 400,
       "invalid_field", "status"},
      {R"({"version":"4","groupKey":"g","status":"firing"})", admin_, 400, "missing_field",
       "alerts"},
      {R"({"version":"4","groupKey":"g","status":"firing","alerts":[]})", admin_, 400,
       "invalid_field", "alerts"},
      {payload(good_alert, R"(,"truncatedAlerts":-1)"), admin_, 400, "invalid_field",
       "truncatedAlerts"},
      {payload("7"), admin_, 400, "invalid_field", "alerts[0]"},
      {payload(R"({"status":"firing","labels":{"severity":"critical"},"fingerprint":"ab"})"),
       admin_, 400, "missing_field", "alerts[0].labels.alertname"},
      {payload(R"({"status":"firing","labels":{"alertname":"A","n":1},"fingerprint":"ab"})"),
       admin_, 400, "invalid_field", "alerts[0].labels"},
      {payload(R"({"status":"firing","labels":{"alertname":"A"}})"), admin_, 400, "invalid_field",
       "alerts[0].fingerprint"},
      {payload(R"({"status":"odd","labels":{"alertname":"A"},"fingerprint":"ab"})"), admin_, 400,
       "invalid_field", "alerts[0].status"},
      {payload(R"({"status":"firing","labels":{"alertname":"A"},"fingerprint":"ab",)"
               R"("startsAt":"yesterday"})"),
       admin_, 400, "invalid_field", "alerts[0].startsAt"},
      // One bad alert after a good one: the whole payload is refused, the good one included.
      {payload(good_alert + R"(,{"status":"firing","labels":{},"fingerprint":"ab"})"), admin_, 400,
       "missing_field", "alerts[1].labels.alertname"},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.body.substr(0, 120));
    const auto response = Send("POST", path, test.body, test.key);
    EXPECT_EQ(response.status, test.status) << response.body;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_FALSE(parser.parse(response.body).get(root)) << response.body;
    std::string_view text;
    EXPECT_FALSE(root["error"].get_string().get(text));
    EXPECT_EQ(text, test.error) << response.body;
    if (!test.field.empty()) {
      EXPECT_FALSE(root["field"].get_string().get(text));
      EXPECT_EQ(text, test.field) << response.body;
    }
  }
  EXPECT_TRUE(Incidents().empty());

  // The good payload opens one incident; sent again (Alertmanager repeating) it opens none.
  auto accepted = Send("POST", path, payload(good_alert), admin_);
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(accepted.body, R"({"received":1,"opened":1,"incidents":[1]})");
  accepted = Send("POST", path, payload(good_alert), admin_);
  EXPECT_EQ(accepted.body, R"({"received":1,"opened":0,"incidents":[1]})");
  std::string resolved = good_alert;
  resolved.replace(resolved.find(R"("status":"firing")"), 17, R"("status":"resolved")");
  accepted = Send("POST", path, payload(resolved), admin_);
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  auto incidents = Incidents();
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].state, IncidentState::kMonitoring);
  EXPECT_EQ(incidents[0].alerts.at(0).starts_ms, 1'796'364'336'123);
}

}  // namespace
}  // namespace fraudguard::testing
