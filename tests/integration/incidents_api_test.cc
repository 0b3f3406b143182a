// Incidents end to end through the real binary: a user alert rule fires inside `serve`, the
// engine opens an incident with its playbook, people acknowledge, note and resolve it over the
// API and the CLI, the postmortem draft is written, and everything survives a kill -9. Every
// class of bad input to the incident routes is refused with its status and changes nothing.
#include <signal.h>
#include <simdjson.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "server_process.h"

namespace fraudguard::testing {
namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One rule that the test can set off by sending requests, evaluated every second, and a
// playbook for it next to the built-in one.
constexpr const char* kRules = R"yaml(
evaluation_interval: 1s
slo_burn_rate_alerts: false
rules:
  - name: TrafficSeen
    condition: "requests(1m) >= 3"
    for: 0s
    labels: {severity: critical, service: fraud-api}
    annotations:
      summary: "Traffic seen on the fraud API"
      description: "{{ $value }} requests in the last minute"
)yaml";

constexpr const char* kPlaybooks = R"yaml(
playbooks:
  - name: traffic_drill
    title: Traffic drill
    severity: SEV2
    triggers: [{alertname: TrafficSeen}]
    investigation_steps: ["Look at the requests"]
)yaml";

class IncidentsApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    keys_ = dir_.path() + "/keys.yaml";
    reader_ = AddApiKey(keys_, "viewer", "read");
    admin_ = AddApiKey(keys_, "ops", "admin,read,score");
    WriteFile(dir_.path() + "/alerts.yaml", kRules);
    WriteFile(dir_.path() + "/playbooks.yaml", kPlaybooks);
    StartServer();
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->StopWith(SIGTERM), 0) << server_->Logs();
    }
  }
  void StartServer() {
    server_ = std::make_unique<ServerProcess>(
        dir_.path() + "/data",
        std::vector<std::string>{"--keys", keys_, "--alert-rules", dir_.path() + "/alerts.yaml",
                                 "--playbooks", dir_.path() + "/playbooks.yaml"});
    ASSERT_TRUE(server_->Start()) << server_->Logs();
    client_ = server_->NewClient();
  }

  http::ClientResponse Send(std::string_view method,
                            std::string_view path,
                            const std::string& body = "",
                            const std::string& key = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    if (!key.empty()) {
      headers.emplace_back("X-API-Key", key);
    }
    auto response = client_->Send(method, path, body, headers);
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error());
    return response.ok() ? *response : http::ClientResponse{};
  }

  // Sends scoring requests until the evaluator has opened an incident (bounded: 15 s).
  int64_t WaitForIncident() {
    for (int attempt = 0; attempt < 150; ++attempt) {
      Send("POST", "/api/v1/fraud/analyze",
           R"({"transaction_id":"t-)" + std::to_string(attempt) +
               R"(","amount":50,"currency":"USD","user_age_days":365})",
           admin_);
      const auto listed = Send("GET", "/api/v1/incidents", "", reader_);
      simdjson::dom::parser parser;
      simdjson::dom::array incidents;
      int64_t id = 0;
      if (!parser.parse(listed.body)["incidents"].get_array().get(incidents) &&
          incidents.size() > 0 && !incidents.at(0)["id"].get_int64().get(id)) {
        return id;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
  }

  static std::string Field(const std::string& body, const char* object, const char* key) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(body).get(root)) {
      return "";
    }
    simdjson::dom::element value;
    if ((object != nullptr ? root[object][key] : root[key]).get(value)) {
      return "";
    }
    std::string_view text;
    if (!value.get_string().get(text)) {
      return std::string(text);
    }
    return simdjson::minify(value);
  }

  TempDir dir_;
  std::string keys_;
  std::string reader_;
  std::string admin_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(IncidentsApiTest, AlertOpensIncidentPeopleWorkItAndItSurvivesKill) {
  const int64_t id = WaitForIncident();
  ASSERT_GT(id, 0) << server_->Logs();
  const std::string path = "/api/v1/incidents/" + std::to_string(id);

  auto shown = Send("GET", path, "", reader_);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(Field(shown.body, "incident", "severity"), "SEV2");  // one critical alert
  EXPECT_EQ(Field(shown.body, "incident", "state"), "INVESTIGATING");
  EXPECT_EQ(Field(shown.body, "incident", "playbook"), "traffic_drill");
  EXPECT_EQ(Field(shown.body, "incident", "response_target_seconds"), "900");
  EXPECT_EQ(Field(shown.body, "playbook", "title"), "Traffic drill");

  auto alerts = Send("GET", "/api/v1/alerts", "", reader_);
  ASSERT_EQ(alerts.status, 200);
  EXPECT_NE(alerts.body.find(R"("name":"TrafficSeen")"), std::string::npos) << alerts.body;
  EXPECT_NE(alerts.body.find(R"("state":"firing")"), std::string::npos) << alerts.body;

  // Writes need the admin role.
  EXPECT_EQ(Send("POST", path + "/acknowledge", "", reader_).status, 403);
  auto acked = Send("POST", path + "/acknowledge", R"({"note":"on it"})", admin_);
  ASSERT_EQ(acked.status, 200) << acked.body;
  EXPECT_EQ(Field(acked.body, "incident", "acknowledged_by"), "ops");
  EXPECT_EQ(Field(acked.body, "incident", "ack_missed"), "false");
  auto again = Send("POST", path + "/acknowledge", "", admin_);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_EQ(Field(again.body, nullptr, "error"), "conflict");

  ASSERT_EQ(
      Send("POST", path + "/state", R"({"state":"IDENTIFIED","note":"a drill"})", admin_).status,
      200);
  ASSERT_EQ(Send("POST", path + "/notes", R"({"text":"traffic is the test's own"})", admin_).status,
            200);

  // kill -9: everything answered so far is on disk.
  server_->Kill();
  server_.reset();
  StartServer();
  shown = Send("GET", path, "", reader_);
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(Field(shown.body, "incident", "state"), "IDENTIFIED");
  EXPECT_NE(shown.body.find("traffic is the test's own"), std::string::npos) << shown.body;
  EXPECT_NE(shown.body.find("on it"), std::string::npos);

  // The CLI, as an operator would use it.
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());
  std::string output;
  ASSERT_EQ(RunFraudguard({"incidents", "list", "--url", url, "--key", reader_}, &output), 0);
  EXPECT_NE(output.find("IDENTIFIED"), std::string::npos) << output;
  EXPECT_NE(output.find("Traffic seen on the fraud API"), std::string::npos) << output;
  ASSERT_EQ(RunFraudguard({"incidents", "note", std::to_string(id), "rolled nothing back", "--url",
                           url, "--key", admin_},
                          &output),
            0);
  ASSERT_EQ(RunFraudguard({"incidents", "state", std::to_string(id), "monitoring", "--note",
                           "fix deployed, watching", "--url", url, "--key", admin_},
                          &output),
            0);
  EXPECT_NE(output.find("MONITORING"), std::string::npos) << output;
  EXPECT_NE(RunFraudguard(
                {"incidents", "state", std::to_string(id), "FIXED", "--url", url, "--key", admin_},
                &output),
            0);  // not a state
  EXPECT_NE(
      RunFraudguard({"incidents", "resolve", std::to_string(id), "--url", url, "--key", reader_},
                    &output),
      0);  // a read key cannot resolve
  ASSERT_EQ(RunFraudguard({"incidents", "resolve", std::to_string(id), "--note", "drill over",
                           "--url", url, "--key", admin_},
                          &output),
            0);
  EXPECT_NE(output.find("RESOLVED"), std::string::npos) << output;
  ASSERT_EQ(RunFraudguard({"incidents", "list", "--url", url, "--key", reader_}, &output), 0);
  EXPECT_EQ(output.find("Traffic seen"), std::string::npos) << "resolved incidents are not open";

  const std::string draft = dir_.path() + "/postmortem.md";
  ASSERT_EQ(RunFraudguard({"incidents", "postmortem", std::to_string(id), "-o", draft, "--url", url,
                           "--key", reader_}),
            0);
  const std::string markdown = ReadFile(draft);
  EXPECT_NE(markdown.find("# Postmortem: incident " + std::to_string(id)), std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| Severity | SEV2"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("by ops, after"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("rolled nothing back"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("IDENTIFIED -> MONITORING: fix deployed, watching"), std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("MONITORING -> RESOLVED: drill over"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("- [ ] Look at the requests"), std::string::npos) << markdown;

  auto metrics = Send("GET", "/metrics");
  EXPECT_NE(metrics.body.find("fraudguard_incident_time_to_resolve_seconds_count 1"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("fraudguard_incidents_open{severity=\"SEV2\"}"), std::string::npos);
}

TEST_F(IncidentsApiTest, EveryClassOfBadInputIsRefusedAndChangesNothing) {
  struct Case {
    std::string method;
    std::string path;
    std::string body;
    std::string key;
    int status;
    std::string error;
    std::string field;
  };
  const std::string incidents = "/api/v1/incidents";
  const std::string good = R"({"title":"Checkout slow","service":"checkout","severity":"SEV3"})";
  const std::vector<Case> cases = {
      {"GET", incidents, "", "", 401, "unauthenticated", ""},
      {"POST", incidents, good, "", 401, "unauthenticated", ""},
      {"POST", incidents, good, "fg_nope_nope", 401, "unauthenticated", ""},
      {"POST", incidents, good, reader_, 403, "forbidden", ""},
      {"POST", incidents, "", admin_, 400, "empty_body", ""},
      {"POST", incidents, "{\"title\":", admin_, 400, "malformed_json", ""},
      {"POST", incidents, "[1,2]", admin_, 400, "invalid_body", ""},
      {"POST", incidents, R"({"title":"a","service":"b","severity":"SEV3","colour":"red"})", admin_,
       400, "invalid_field", "colour"},
      {"POST", incidents, R"({"title":5,"service":"b","severity":"SEV3"})", admin_, 400,
       "invalid_field", "title"},
      {"POST", incidents, R"({"title":"a","title":"b","service":"b","severity":"SEV3"})", admin_,
       400, "invalid_field", "title"},
      {"POST", incidents,
       R"({"title":")" + std::string(300, 'x') + R"(","service":"b","severity":"SEV3"})", admin_,
       400, "invalid_field", "title"},
      {"POST", incidents, R"({"service":"b","severity":"SEV3"})", admin_, 400, "missing_field",
       "title"},
      {"POST", incidents, R"({"title":"a","service":"b","severity":"SEV9"})", admin_, 400,
       "invalid_field", "severity"},
      {"POST", incidents,
       R"({"title":"a","service":"b","severity":"SEV3","note":")" + std::string(17000, 'n') + "\"}",
       admin_, 400, "body_too_large", ""},
      {"GET", incidents + "?state=closed", "", reader_, 400, "invalid_field", "state"},
      {"GET", incidents + "?limit=0", "", reader_, 400, "invalid_field", "limit"},
      {"GET", incidents + "?limit=5000", "", reader_, 400, "invalid_field", "limit"},
      {"GET", incidents + "/abc", "", reader_, 400, "invalid_field", "id"},
      {"GET", incidents + "/-3", "", reader_, 400, "invalid_field", "id"},
      {"GET", incidents + "/999", "", reader_, 404, "not_found", "id"},
      {"POST", incidents + "/999/acknowledge", "", admin_, 404, "not_found", "id"},
      {"POST", incidents + "/1/explode", "", admin_, 404, "not_found", ""},
      {"POST", incidents + "/x/notes", R"({"text":"a"})", admin_, 400, "invalid_field", "id"},
      {"POST", incidents + "/1/notes", R"({"text":""})", admin_, 400, "missing_field", "text"},
      {"POST", incidents + "/1/state", R"({"state":"CLOSED"})", admin_, 400, "invalid_field",
       "state"},
      {"POST", incidents + "/1/acknowledge", R"({"note":7})", admin_, 400, "invalid_field", "note"},
      {"DELETE", incidents, "", admin_, 405, "method_not_allowed", ""},
      {"PUT", incidents + "/1", "", admin_, 405, "method_not_allowed", ""},
      {"GET", incidents + "/1/notes", "", admin_, 405, "method_not_allowed", ""},
      {"POST", "/api/v1/alerts", "", admin_, 405, "method_not_allowed", ""},
      {"GET", "/api/v1/notifications?state=lost", "", reader_, 400, "invalid_field", "state"},
      {"GET", "/api/v1/notifications", "", "", 401, "unauthenticated", ""},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.method + " " + test.path + " " + test.body.substr(0, 80));
    const auto response = Send(test.method, test.path, test.body, test.key);
    EXPECT_EQ(response.status, test.status) << response.body;
    EXPECT_EQ(Field(response.body, nullptr, "error"), test.error) << response.body;
    if (!test.field.empty()) {
      EXPECT_EQ(Field(response.body, nullptr, "field"), test.field) << response.body;
    }
  }
  // Nothing was created, and the service still answers.
  auto listed = Send("GET", incidents + "?state=all", "", reader_);
  ASSERT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find(R"("incidents":[])"), std::string::npos) << listed.body;

  // A good request after all that works, and conflicts are 409.
  auto created = Send("POST", incidents, good, admin_);
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Field(created.body, "incident", "severity"), "SEV3");
  EXPECT_EQ(Field(created.body, "incident", "response_target_seconds"), "3600");
  const std::string id = Field(created.body, "incident", "id");
  ASSERT_EQ(Send("POST", incidents + "/" + id + "/state", R"({"state":"RESOLVED"})", admin_).status,
            200);
  auto conflict =
      Send("POST", incidents + "/" + id + "/state", R"({"state":"MONITORING"})", admin_);
  EXPECT_EQ(conflict.status, 409) << conflict.body;
  EXPECT_EQ(Send("GET", "/health").status, 200);
  // No webhook targets configured: nothing waits in the outbox.
  auto outbox = Send("GET", "/api/v1/notifications", "", reader_);
  ASSERT_EQ(outbox.status, 200) << outbox.body;
  EXPECT_EQ(outbox.body, R"({"pending":0,"undeliverable":0,"notifications":[]})");
}

// Records every webhook it is sent and answers 202.
class WebhookReceiver final : public http::RequestHandler {
public:
  void Handle(const http::Request& request, http::Response& response, int) override {
    std::lock_guard lock(mutex_);
    bodies_.emplace_back(request.body);
    response.status = 202;
    response.body = "{}";
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

private:
  mutable std::mutex mutex_;
  std::vector<std::string> bodies_;
};

TEST(IncidentNotifications, ServeSendsWebhooksAndKeepsTheUndeliverable) {
  TempDir dir;
  WebhookReceiver receiver;
  http::ServerOptions options;
  options.threads = 1;
  http::Server hook_server(options, receiver);
  ASSERT_TRUE(hook_server.Start());
  // A second target on a port nobody listens on: its notifications end undeliverable.
  http::Server closed(options, receiver);
  ASSERT_TRUE(closed.Start());
  const uint16_t closed_port = closed.port();
  closed.Stop();
  WriteFile(
      dir.path() + "/notifications.yaml",
      "targets:\n  - {name: chat, url: 'http://127.0.0.1:" + std::to_string(hook_server.port()) +
          "/hooks'}\n  - {name: gone, url: " + "'http://127.0.0.1:" + std::to_string(closed_port) +
          "/hooks'}\nmax_attempts: 2\ninitial_backoff: 100ms\nmax_backoff: 1s\n");
  ServerProcess server(dir.path() + "/data",
                       {"--notifications", dir.path() + "/notifications.yaml"});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  auto created =
      client->Send("POST", "/api/v1/incidents",
                   R"({"title":"Checkout slow","service":"checkout","severity":"SEV3"})");
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status, 201) << created->body;
  ASSERT_EQ(client->Send("POST", "/api/v1/incidents/1/state", R"({"state":"RESOLVED"})")->status,
            200);
  // Bounded wait (10 s) for both deliveries and both give-ups.
  std::string outbox;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto listed = client->Send("GET", "/api/v1/notifications");
    ASSERT_TRUE(listed.ok());
    outbox = listed->body;
    if (receiver.bodies().size() >= 2 &&
        outbox.find(R"("pending":0,"undeliverable":2)") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const auto bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 2u) << server.Logs();
  EXPECT_EQ(bodies[0].rfind(R"({"event":"opened","incident":{"id":1,)", 0), 0u) << bodies[0];
  EXPECT_EQ(bodies[1].rfind(R"({"event":"resolved","incident":{"id":1,)", 0), 0u) << bodies[1];
  EXPECT_NE(outbox.find(R"("pending":0,"undeliverable":2)"), std::string::npos) << outbox;
  EXPECT_NE(outbox.find(R"("target":"gone")"), std::string::npos) << outbox;
  EXPECT_NE(outbox.find(R"("attempts":2)"), std::string::npos) << outbox;
  auto metrics = client->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->body.find("fraudguard_notifications{state=\"undeliverable\"} 2"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("fraudguard_notifications_sent_total 2"), std::string::npos);
  EXPECT_EQ(server.StopWith(SIGTERM), 0) << server.Logs();
  hook_server.Stop();
}

}  // namespace
}  // namespace fraudguard::testing
