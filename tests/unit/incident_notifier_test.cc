// Incident notifications against a small HTTP receiver on loopback (the project's own server,
// with a handler that records what it is sent and fails on demand), with a manual clock
// driving the retry backoff.
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "incidents/incident_engine.h"
#include "incidents/notifier.h"

namespace fraudguard {
namespace {

constexpr int64_t kStart = 1'800'000'000'000;

class Receiver final : public http::RequestHandler {
public:
  void Handle(const http::Request& request, http::Response& response, int) override {
    std::lock_guard lock(mutex_);
    requests_.push_back({std::string(request.path), std::string(request.body)});
    if (failures_left_ > 0) {
      --failures_left_;
      response.status = 500;
      response.body = R"({"error":"try later"})";
      return;
    }
    response.status = 202;
    response.body = R"({"status":"success"})";
  }
  void FailNext(int count) {
    std::lock_guard lock(mutex_);
    failures_left_ = count;
  }
  std::vector<std::pair<std::string, std::string>> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

private:
  mutable std::mutex mutex_;
  int failures_left_ = 0;
  std::vector<std::pair<std::string, std::string>> requests_;
};

class NotifierTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("incident_notifier_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    http::ServerOptions options;
    options.threads = 1;
    server_ = std::make_unique<http::Server>(options, receiver_);
    ASSERT_TRUE(server_->Start());
    std::ofstream(dir_ / "pd.key") << "0123456789abcdef0123456789abcdef\n";
  }
  void TearDown() override {
    server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  std::string Config(uint16_t port, int max_attempts) const {
    return "targets:\n"
           "  - {name: chat, kind: generic, url: 'http://127.0.0.1:" +
           std::to_string(port) +
           "/hooks/incidents'}\n"
           "  - {name: pager, kind: pagerduty, url: 'http://127.0.0.1:" +
           std::to_string(port) + "/v2/enqueue', routing_key_file: '" + (dir_ / "pd.key").string() +
           "'}\n"
           "max_attempts: " +
           std::to_string(max_attempts) + "\ninitial_backoff: 1s\nmax_backoff: 4s\n";
  }

  std::unique_ptr<Notifier> OpenNotifier(const std::string& yaml) {
    auto config = ParseNotifierConfig(yaml, "n.yaml");
    EXPECT_TRUE(config) << config.error();
    auto notifier = Notifier::Open((dir_ / "notifications.db").string(), *config, clock_);
    EXPECT_TRUE(notifier) << notifier.error();
    return notifier ? std::move(notifier).value() : nullptr;
  }

  static AlertEvent Alert(const std::string& name, bool firing = true) {
    AlertEvent event;
    event.name = name;
    event.labels = {{"severity", "critical"}, {"service", "fraud-api"}};
    event.firing = firing;
    return event;
  }

  std::filesystem::path dir_;
  ManualClock clock_{kStart};
  Receiver receiver_;
  std::unique_ptr<http::Server> server_;
};

TEST_F(NotifierTest, OpenSeverityAndResolveReachBothTargetsWithRetries) {
  auto notifier = OpenNotifier(Config(server_->port(), 5));
  ASSERT_NE(notifier, nullptr);
  IncidentEngineOptions options;
  options.store_path = (dir_ / "incidents.db").string();
  auto engine = IncidentEngine::Open(options, DefaultPlaybooks(), clock_);
  ASSERT_TRUE(engine);
  (*engine)->SetListener([&](const std::string& event, const Incident& incident) {
    ASSERT_TRUE(notifier->Enqueue(event, incident));
  });

  ASSERT_TRUE((*engine)->Ingest(Alert("FraudAPIHighErrorRate")));    // opened, SEV2
  ASSERT_TRUE((*engine)->Ingest(Alert("ConnectionPoolExhausted")));  // severity: SEV1
  EngineFailure failure = EngineFailure::kNone;
  ASSERT_TRUE((*engine)->ChangeState(1, IncidentState::kResolved, "alice", "", failure));

  // The first round meets two failures; those two wait 1 s and then go out.
  receiver_.FailNext(2);
  EXPECT_EQ(notifier->DeliverDue(), 4);
  EXPECT_EQ(*notifier->Count("pending"), 2);
  EXPECT_EQ(notifier->DeliverDue(), 0);  // not due yet
  clock_.Advance(1000);
  EXPECT_EQ(notifier->DeliverDue(), 2);
  EXPECT_EQ(*notifier->Count("pending"), 0);
  EXPECT_EQ(*notifier->Count("delivered"), 6);

  const auto requests = receiver_.requests();
  ASSERT_EQ(requests.size(), 8u);
  std::vector<std::string> pager_actions;
  std::vector<std::string> chat_events;
  for (const auto& [path, body] : requests) {
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    ASSERT_FALSE(parser.parse(body).get(root)) << body;
    std::string_view text;
    if (path == "/v2/enqueue") {
      ASSERT_FALSE(root["event_action"].get_string().get(text));
      pager_actions.emplace_back(text);
      ASSERT_FALSE(root["dedup_key"].get_string().get(text));
      EXPECT_EQ(text, "fraudguard-incident-1");
      ASSERT_FALSE(root["routing_key"].get_string().get(text));
      EXPECT_EQ(text.size(), 32u);
      ASSERT_FALSE(root["payload"]["severity"].get_string().get(text));
    } else {
      EXPECT_EQ(path, "/hooks/incidents");
      ASSERT_FALSE(root["event"].get_string().get(text));
      chat_events.emplace_back(text);
    }
  }
  // Retried ones arrive again, so count distinct kinds in order of first arrival.
  EXPECT_EQ(std::count(pager_actions.begin(), pager_actions.end(), "trigger"), 2 + 1);
  EXPECT_EQ(std::count(pager_actions.begin(), pager_actions.end(), "resolve"), 1);
  EXPECT_EQ(std::count(chat_events.begin(), chat_events.end(), "opened"), 1 + 1);
  EXPECT_EQ(std::count(chat_events.begin(), chat_events.end(), "resolved"), 1);
}

TEST_F(NotifierTest, UndeliverableNotificationsAreKeptAfterBackoff) {
  // A port with nobody listening: every attempt fails.
  const uint16_t closed_port = server_->port();
  server_->Stop();
  {
    auto notifier = OpenNotifier(Config(closed_port, 3));
    ASSERT_NE(notifier, nullptr);
    Incident incident;
    incident.id = 9;
    incident.title = "x";
    incident.opened_ms = kStart;
    ASSERT_TRUE(notifier->Enqueue("opened", incident));
    EXPECT_EQ(notifier->DeliverDue(), 0);  // attempt 1; next in 1 s
    clock_.Advance(999);
    notifier->DeliverDue();
    EXPECT_EQ(*notifier->Count("pending"), 2);
    auto entries = notifier->List("pending", 10);
    ASSERT_TRUE(entries);
    EXPECT_EQ(entries->at(0).attempts, 1);
    EXPECT_EQ(entries->at(0).next_attempt_ms, kStart + 1000);
    clock_.Advance(1);
    notifier->DeliverDue();  // attempt 2; next in 2 s
    EXPECT_EQ(notifier->List("pending", 10)->at(0).next_attempt_ms, kStart + 1000 + 2000);
    clock_.Advance(2000);
    notifier->DeliverDue();  // attempt 3: gives up
    EXPECT_EQ(*notifier->Count("pending"), 0);
    EXPECT_EQ(*notifier->Count("undeliverable"), 2);
  }
  // Kept across a restart, with the reason.
  auto notifier = OpenNotifier(Config(closed_port, 3));
  ASSERT_NE(notifier, nullptr);
  auto kept = notifier->List("undeliverable", 10);
  ASSERT_TRUE(kept);
  ASSERT_EQ(kept->size(), 2u);
  EXPECT_EQ(kept->at(0).attempts, 3);
  EXPECT_FALSE(kept->at(0).last_error.empty());
  EXPECT_EQ(kept->at(0).incident_id, 9);
}

TEST(NotifierConfigTest, ErrorsNameTheKey) {
  const auto error = [](const std::string& yaml) {
    auto parsed = ParseNotifierConfig(yaml, "n.yaml");
    return parsed ? std::string("parsed") : parsed.error();
  };
  EXPECT_NE(error("targets: [{name: a, url: 'ftp://x'}]").find("targets[0].url"),
            std::string::npos);
  EXPECT_NE(
      error("targets: [{name: a, kind: sms, url: 'http://127.0.0.1:1/'}]").find("targets[0].kind"),
      std::string::npos);
  EXPECT_NE(error("targets: [{name: a, kind: pagerduty, url: 'http://127.0.0.1:1/'}]")
                .find("routing_key_file"),
            std::string::npos);
  EXPECT_NE(error("targets: [{url: 'http://127.0.0.1:1/'}]").find("targets[0].name"),
            std::string::npos);
  EXPECT_NE(error("initial_backoff: 50ms").find("initial_backoff"), std::string::npos);
  EXPECT_NE(error("max_attempts: 0").find("'max_attempts'"), std::string::npos);
  EXPECT_NE(error("initial_backoff: 5m\nmax_backoff: 1s").find("'max_backoff'"), std::string::npos);
  EXPECT_NE(error("colour: red").find("unknown key"), std::string::npos);
  EXPECT_EQ(error("targets: [{name: a, url: 'http://127.0.0.1:1/x'}]"), "parsed");
  auto example =
      LoadNotifierConfigFile(std::string(FRAUDGUARD_SOURCE_DIR) + "/deploy/notifications.yaml");
  ASSERT_TRUE(example) << example.error();
  EXPECT_EQ(example->targets.size(), 1u);
  EXPECT_EQ(example->max_backoff_ms, 5 * 60'000);
}

}  // namespace
}  // namespace fraudguard
