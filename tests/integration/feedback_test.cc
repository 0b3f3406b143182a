// Feedback labels end to end: scored transactions are labelled through the real binary, the
// answers and the online accuracy metrics are checked, and both survive a restart.
#include <signal.h>
#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

constexpr std::string_view kFeedback = "/api/v1/fraud/feedback";

std::string JsonString(const std::string& body, std::string_view key) {
  simdjson::dom::parser parser;
  std::string_view value;
  if (parser.parse(body)[key].get(value) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(value);
}

// The value of the sample whose name and labels are exactly `series`; NaN when absent.
double Sample(const std::string& metrics, const std::string& series) {
  const std::string prefix = series + " ";
  size_t pos = 0;
  while ((pos = metrics.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || metrics[pos - 1] == '\n') {
      return std::strtod(metrics.c_str() + pos + prefix.size(), nullptr);
    }
    pos += prefix.size();
  }
  return std::nan("");
}

class FeedbackTest : public ::testing::Test {
protected:
  void SetUp() override { StartServer(); }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->StopWith(SIGTERM), 0) << server_->Logs();
    }
  }
  void StartServer() {
    server_ = std::make_unique<ServerProcess>(dir_.path() + "/data");
    ASSERT_TRUE(server_->Start()) << server_->Logs();
    client_ = server_->NewClient();
  }
  void Restart() {
    ASSERT_EQ(server_->StopWith(SIGTERM), 0) << server_->Logs();
    client_.reset();
    server_.reset();
    StartServer();
  }

  http::ClientResponse Send(std::string_view method,
                            std::string_view path,
                            const std::string& body = "") {
    auto response = client_->Send(method, path, body, {{"Content-Type", "application/json"}});
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error());
    return response.ok() ? *response : http::ClientResponse{};
  }
  // Scores a transaction and returns the action the service took.
  std::string Score(const std::string& id, double amount, int user_age_days) {
    const auto response =
        Send("POST", "/api/v1/fraud/analyze",
             R"({"transaction_id":")" + id + R"(","amount":)" + std::to_string(amount) +
                 R"(,"currency":"USD","user_age_days":)" + std::to_string(user_age_days) + "}");
    EXPECT_EQ(response.status, 200) << response.body;
    return JsonString(response.body, "action");
  }
  http::ClientResponse Label(const std::string& id,
                             std::string_view label,
                             std::string_view source = "chargeback") {
    return Send("POST", kFeedback,
                R"({"transaction_id":")" + id + R"(","label":")" + std::string(label) +
                    R"(","source":")" + std::string(source) + R"("})");
  }
  std::string Metrics() { return Send("GET", "/metrics").body; }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(FeedbackTest, LabelsJoinDecisionsMoveTheMetricsAndSurviveARestart) {
  // A large amount on a day-old account is declined; a small one on an old account approved.
  ASSERT_EQ(Score("fb-fraud-declined", 9500, 1), "decline");
  ASSERT_EQ(Score("fb-legit-approved", 40, 400), "approve");
  ASSERT_EQ(Score("fb-fraud-approved", 35, 500), "approve");
  ASSERT_EQ(Score("fb-legit-declined", 9000, 1), "decline");

  std::string metrics = Metrics();
  EXPECT_TRUE(std::isnan(Sample(metrics, "fraud_detection_rate"))) << "no labels yet";
  EXPECT_TRUE(std::isnan(Sample(metrics, "false_positive_rate")));

  auto response = Label("fb-fraud-declined", "fraud");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_NE(response.body.find(R"("duplicate":false)"), std::string::npos) << response.body;
  EXPECT_EQ(JsonString(response.body, "label"), "fraud");
  response = Label("fb-legit-approved", "legitimate", "review");
  ASSERT_EQ(response.status, 200) << response.body;

  metrics = Metrics();
  EXPECT_EQ(Sample(metrics, "fraud_detection_rate"), 1.0) << metrics;
  EXPECT_EQ(Sample(metrics, "false_positive_rate"), 0.0);
  EXPECT_EQ(Sample(metrics, "fraud_model_accuracy"), 1.0);
  EXPECT_EQ(Sample(metrics, R"(revenue_protected_total{currency="USD"})"), 9500.0);

  // The same label again changes nothing; a different one is refused and the first stays.
  response = Label("fb-fraud-declined", "fraud", "customer");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_NE(response.body.find(R"("duplicate":true)"), std::string::npos) << response.body;
  EXPECT_EQ(JsonString(response.body, "source"), "chargeback");
  response = Label("fb-fraud-declined", "legitimate");
  EXPECT_EQ(response.status, 409) << response.body;
  EXPECT_EQ(JsonString(response.body, "error"), "label_conflict");
  EXPECT_EQ(JsonString(response.body, "field"), "label");

  response = Label("fb-never-scored", "fraud");
  EXPECT_EQ(response.status, 404) << response.body;
  EXPECT_EQ(JsonString(response.body, "error"), "not_found");
  EXPECT_EQ(JsonString(response.body, "field"), "transaction_id");

  struct Bad {
    std::string body;
    std::string field;
  };
  for (const Bad& bad :
       {Bad{"", ""}, Bad{"{", ""}, Bad{"[]", ""}, Bad{R"({"label":"fraud"})", "transaction_id"},
        Bad{R"({"transaction_id":"fb-legit-approved"})", "label"},
        Bad{R"({"transaction_id":"fb-legit-approved","label":"spam"})", "label"},
        Bad{R"({"transaction_id":"fb-legit-approved","label":"fraud",)"
            R"("timestamp":"soon"})",
            "timestamp"},
        Bad{R"({"transaction_id":"fb-legit-approved","label":"fraud","x":1})", "x"}}) {
    response = Send("POST", kFeedback, bad.body);
    EXPECT_EQ(response.status, 400) << bad.body << " -> " << response.body;
    EXPECT_EQ(JsonString(response.body, "field"), bad.field) << bad.body;
    EXPECT_FALSE(JsonString(response.body, "message").empty()) << bad.body;
  }
  EXPECT_EQ(Send("GET", kFeedback).status, 405);

  // A missed fraud and a declined legitimate transaction halve both rates' good sides.
  ASSERT_EQ(Label("fb-fraud-approved", "fraud").status, 200);
  ASSERT_EQ(Label("fb-legit-declined", "legitimate", "customer").status, 200);
  metrics = Metrics();
  EXPECT_EQ(Sample(metrics, "fraud_detection_rate"), 0.5) << metrics;
  EXPECT_EQ(Sample(metrics, "false_positive_rate"), 0.5);
  EXPECT_EQ(Sample(metrics, "fraud_model_accuracy"), 0.5);
  EXPECT_EQ(Sample(metrics, R"(false_positive_cost_total{currency="USD"})"), 9000.0);
  EXPECT_EQ(Sample(metrics, R"(fraudguard_feedback_labels_total{outcome="stored"})"), 4.0);
  EXPECT_EQ(Sample(metrics, R"(fraudguard_feedback_labels_total{outcome="duplicate"})"), 1.0);
  EXPECT_EQ(Sample(metrics, R"(fraudguard_feedback_labels_total{outcome="conflict"})"), 1.0);
  EXPECT_NE(metrics.find("fraud_detection_accuracy{model_type=\"gbt\",version=\"gbt-"),
            std::string::npos);

  const std::string path = dir_.path() + "/metrics.txt";
  FILE* file = std::fopen(path.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fwrite(metrics.data(), 1, metrics.size(), file);
  std::fclose(file);
  EXPECT_EQ(std::system(("promtool check metrics < " + path + " >/dev/null 2>&1").c_str()), 0);

  response = Send("GET", "/api/v1/fraud/decisions/fb-fraud-declined");
  ASSERT_EQ(response.status, 200);
  EXPECT_NE(response.body.find(R"("label":{"label":"fraud","source":"chargeback")"),
            std::string::npos)
      << response.body;
  response = Send("GET", "/api/v1/fraud/decisions/fb-legit-approved");
  EXPECT_NE(response.body.find(R"("label":{"label":"legitimate","source":"review")"),
            std::string::npos)
      << response.body;

  Restart();

  metrics = Metrics();
  EXPECT_EQ(Sample(metrics, "fraud_detection_rate"), 0.5) << metrics;
  EXPECT_EQ(Sample(metrics, "false_positive_rate"), 0.5);
  EXPECT_EQ(Sample(metrics, R"(revenue_protected_total{currency="USD"})"), 9500.0);
  EXPECT_EQ(Sample(metrics, R"(false_positive_cost_total{currency="USD"})"), 9000.0);
  response = Send("GET", "/api/v1/fraud/decisions/fb-fraud-declined");
  EXPECT_NE(response.body.find(R"("label":{"label":"fraud","source":"chargeback")"),
            std::string::npos)
      << response.body;
  EXPECT_EQ(Label("fb-fraud-declined", "legitimate").status, 409);
  response = Label("fb-legit-declined", "legitimate");
  EXPECT_NE(response.body.find(R"("duplicate":true)"), std::string::npos) << response.body;
  EXPECT_EQ(Sample(Metrics(), "false_positive_rate"), 0.5) << "a duplicate counts once";
}

TEST_F(FeedbackTest, EveryAnsweredLabelSurvivesKillNine) {
  constexpr int kLabels = 40;
  for (int i = 0; i < kLabels; ++i) {
    Score("fb-kill-" + std::to_string(i), 20 + i, 300);
  }
  for (int i = 0; i < kLabels; ++i) {
    const auto response =
        Label("fb-kill-" + std::to_string(i), i % 4 == 0 ? "fraud" : "legitimate");
    ASSERT_EQ(response.status, 200) << response.body;
  }
  // No drain, no close: the process dies right after the last answer.
  server_->Kill();
  client_.reset();
  server_.reset();
  StartServer();

  const std::string metrics = Metrics();
  EXPECT_EQ(Sample(metrics, R"(fraudguard_accuracy_window_labels{label="fraud"})"), 10.0)
      << metrics;
  EXPECT_EQ(Sample(metrics, R"(fraudguard_accuracy_window_labels{label="legitimate"})"), 30.0);
  for (int i = 0; i < kLabels; ++i) {
    const std::string id = "fb-kill-" + std::to_string(i);
    const auto response = Send("GET", "/api/v1/fraud/decisions/" + id);
    ASSERT_EQ(response.status, 200) << id;
    EXPECT_NE(response.body.find(i % 4 == 0 ? R"("label":{"label":"fraud")"
                                            : R"("label":{"label":"legitimate")"),
              std::string::npos)
        << response.body;
    // The stored label still decides what a second one gets.
    EXPECT_EQ(Label(id, i % 4 == 0 ? "legitimate" : "fraud").status, 409) << id;
  }
}

TEST_F(FeedbackTest, FraudLabelsRaiseTheMerchantsDelayedRiskAndSurviveKillNine) {
  // Four transactions at one merchant on 2024-05-01, the first of them later a chargeback.
  const auto score_at = [&](const std::string& id, const std::string& time) {
    const auto response =
        Send("POST", "/api/v1/fraud/analyze",
             R"({"transaction_id":")" + id + R"(","amount":30,"currency":"USD","card_id":"card-)" +
                 id + R"(","merchant_id":"m-chargebacks","timestamp":")" + time + R"("})");
    ASSERT_EQ(response.status, 200) << response.body;
  };
  for (int i = 0; i < 4; ++i) {
    score_at("fb-m-" + std::to_string(i), "2024-05-01T1" + std::to_string(i) + ":00:00Z");
  }
  ASSERT_EQ(Label("fb-m-0", "fraud").status, 200);
  ASSERT_EQ(Label("fb-m-1", "legitimate").status, 200);
  ASSERT_EQ(Label("fb-m-0", "fraud", "review").status, 200) << "a duplicate";

  const auto delayed_window = [&](const std::string& window) {
    const auto response = Send("GET", "/api/v1/features/merchant/m-chargebacks");
    EXPECT_EQ(response.status, 200) << response.body;
    simdjson::dom::parser parser;
    simdjson::dom::element element;
    EXPECT_EQ(parser.parse(response.body)["delayed_windows"][window].get(element),
              simdjson::SUCCESS)
        << response.body;
    return simdjson::to_string(element);
  };
  // On the day itself nothing is a label delay old yet.
  EXPECT_EQ(delayed_window("30d"), R"({"count":0,"fraud_risk":null})");
  // Nine days later the day is in the 7-day window: one fraud (counted once) in four.
  score_at("fb-m-later", "2024-05-10T09:00:00Z");
  EXPECT_EQ(delayed_window("7d"), R"({"count":4,"fraud_risk":0.25})");
  EXPECT_EQ(delayed_window("1d"), R"({"count":0,"fraud_risk":null})");

  server_->Kill();
  client_.reset();
  server_.reset();
  StartServer();
  EXPECT_EQ(delayed_window("7d"), R"({"count":4,"fraud_risk":0.25})") << "after kill -9";
}

TEST(FeedbackAccess, NeedsTheAdminRole) {
  TempDir dir;
  const std::string keys = dir.path() + "/keys.yaml";
  const auto new_key = [&](const std::string& name, const std::string& roles) {
    return AddApiKey(keys, name, roles);
  };
  const std::string scorer = new_key("checkout", "score");
  const std::string reader = new_key("dashboard", "read");
  const std::string labeller = new_key("chargebacks", "admin");
  ServerProcess server(dir.path() + "/data", {"--keys", keys});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  auto response = client->Send("POST", "/api/v1/fraud/analyze",
                               R"({"transaction_id":"fb-a","amount":20})", {{"X-API-Key", scorer}});
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->status, 200) << response->body;
  const std::string body = R"({"transaction_id":"fb-a","label":"legitimate"})";
  response = client->Send("POST", std::string(kFeedback), body);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 401);
  for (const std::string& key : {reader, scorer}) {
    response = client->Send("POST", std::string(kFeedback), body, {{"X-API-Key", key}});
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 403) << response->body;
  }
  response = client->Send("POST", std::string(kFeedback), body, {{"X-API-Key", labeller}});
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 200) << response->body;
  EXPECT_EQ(server.StopWith(SIGTERM), 0) << server.Logs();
}

}  // namespace
}  // namespace fraudguard::testing
