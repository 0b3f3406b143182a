// End-to-end tests of the scoring API against the real binary on a loopback port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

simdjson::dom::element ParseJson(simdjson::dom::parser& parser, const std::string& text) {
  return parser.parse(text);
}

std::string ErrorField(const std::string& body) {
  simdjson::dom::parser parser;
  std::string_view field;
  if (parser.parse(body)["field"].get(field) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(field);
}

std::string ErrorCode(const std::string& body) {
  simdjson::dom::parser parser;
  std::string_view code;
  if (parser.parse(body)["error"].get(code) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(code);
}

class ScoringApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    server_ = std::make_unique<ServerProcess>(
        dir_.path() + "/data",
        std::vector<std::string>{"--request-timeout-ms", "500", "--max-body-bytes", "65536",
                                 "--max-batch-items", "50"});
    ASSERT_TRUE(server_->Start()) << server_->Logs();
    client_ = server_->NewClient();
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->StopWith(SIGTERM), 0) << server_->Logs();
    }
  }

  http::ClientResponse Post(const std::string& path, const std::string& body) {
    auto response = client_->Send("POST", path, body, {{"Content-Type", "application/json"}});
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error());
    return response.ok() ? *response : http::ClientResponse{};
  }
  http::ClientResponse Get(const std::string& path) {
    auto response = client_->Send("GET", path);
    EXPECT_TRUE(response.ok()) << (response.ok() ? "" : response.error());
    return response.ok() ? *response : http::ClientResponse{};
  }
  void ExpectStillServing() {
    auto fresh = server_->NewClient();
    auto response = fresh->Send("GET", "/health");
    ASSERT_TRUE(response.ok());
    EXPECT_EQ(response->status, 200);
  }

  TempDir dir_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(ScoringApiTest, KnownCasesFromTheSpecification) {
  struct Case {
    const char* body;
    const char* level;
  };
  const Case cases[] = {
      {R"({"transaction_id":"known-high","amount":10000,"user_age_days":1})", "high"},
      {R"({"transaction_id":"known-low","amount":50,"user_age_days":365})", "low"},
      {R"({"transaction_id":"known-medium","amount":500,"user_age_days":30})", "medium"},
  };
  for (const auto& c : cases) {
    const auto response = Post("/api/v1/fraud/analyze", c.body);
    ASSERT_EQ(response.status, 200) << response.body;
    simdjson::dom::parser parser;
    const auto json = ParseJson(parser, response.body);
    EXPECT_EQ(std::string_view(json["risk_level"]), c.level) << c.body << " -> " << response.body;
    // Nothing but the amount and the age was sent, so no reason may speak of a card's, an IP's
    // or any other entity's activity.
    for (simdjson::dom::element reason : json["reasons"].get_array()) {
      const std::string_view code = reason["code"];
      EXPECT_TRUE(code == "HIGH_AMOUNT" || code == "NEW_ACCOUNT" || code == "MISSING_DETAILS" ||
                  code == "UNUSUAL_TIME")
          << c.body << " -> " << response.body;
    }
  }
}

TEST_F(ScoringApiTest, ResponseCarriesTheContractFields) {
  const auto response =
      Post("/api/v1/fraud/analyze",
           R"({"transaction_id":"t-1","timestamp":"2024-05-01T12:00:00Z","amount":125.5,)"
           R"("currency":"EUR","card_id":"c1","customer_id":"u1","merchant_id":"m1",)"
           R"("merchant_category":"5411","country":"FR","device_id":"d1","ip":"10.0.0.1",)"
           R"("channel":"online","user_age_days":400,"something_new":[1,2,3]})");
  ASSERT_EQ(response.status, 200) << response.body;
  simdjson::dom::parser parser;
  const auto json = ParseJson(parser, response.body);
  EXPECT_EQ(std::string_view(json["transaction_id"]), "t-1");
  const double score = json["risk_score"];
  EXPECT_GE(score, 0.0);
  EXPECT_LE(score, 100.0);
  const std::string_view action = json["action"];
  EXPECT_TRUE(action == "approve" || action == "review" || action == "decline");
  EXPECT_TRUE(json["reasons"].is_array());
  EXPECT_FALSE(std::string_view(json["model_version"]).empty());
  EXPECT_GE(int64_t(json["server_time_us"]), 0);
}

TEST_F(ScoringApiTest, BatchAnswersInOrder) {
  std::string body = R"({"transactions":[)";
  for (int i = 0; i < 20; ++i) {
    body += (i ? "," : "") + std::string(R"({"transaction_id":"b-)") + std::to_string(i) +
            R"(","amount":)" + std::to_string(10 + i) + R"(,"card_id":"cb"})";
  }
  body += "]}";
  const auto response = Post("/api/v1/fraud/analyze/batch", body);
  ASSERT_EQ(response.status, 200) << response.body;
  simdjson::dom::parser parser;
  const auto results = ParseJson(parser, response.body)["results"].get_array();
  ASSERT_EQ(results.size(), 20U);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(std::string_view(results.at(static_cast<size_t>(i))["transaction_id"]),
              "b-" + std::to_string(i));
  }
}

TEST_F(ScoringApiTest, StoredDecisionCanBeLookedUp) {
  const auto scored =
      Post("/api/v1/fraud/analyze", R"({"transaction_id":"look/up 1","amount":42})");
  ASSERT_EQ(scored.status, 200);
  const auto found = Get("/api/v1/fraud/decisions/look%2Fup%201");
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_NE(found.body.find(scored.body), std::string::npos) << found.body;
  const auto missing = Get("/api/v1/fraud/decisions/never-seen");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing.body), "not_found");
}

TEST_F(ScoringApiTest, EveryClassOfBadBodyGetsA400NamingTheField) {
  struct Case {
    std::string body;
    int status;
    std::string code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"amount": 10,)", 400, "malformed_json", ""},
      {R"(not json)", 400, "malformed_json", ""},
      {"", 400, "empty_body", ""},
      {R"([1,2])", 400, "invalid_body", ""},
      {R"({"card_id":"x"})", 400, "missing_field", "amount"},
      {R"({"amount":"12"})", 400, "invalid_field", "amount"},
      {R"({"amount":-5})", 400, "invalid_field", "amount"},
      {R"({"amount":0})", 400, "invalid_field", "amount"},
      {R"({"amount":NaN})", 400, "malformed_json", "amount"},
      // Beyond the range of a double: the parser cannot read it as a number at all.
      {R"({"amount":1e400})", 400, "malformed_json", ""},
      {R"({"amount":1e13})", 400, "invalid_field", "amount"},
      {R"({"amount":5,"card_id":7})", 400, "invalid_field", "card_id"},
      {R"({"amount":5,"timestamp":"yesterday"})", 400, "invalid_field", "timestamp"},
      {R"({"amount":5,"timestamp":-1})", 400, "invalid_field", "timestamp"},
      {R"({"amount":5,"user_age_days":-3})", 400, "invalid_field", "user_age_days"},
      {R"({"amount":5,"card_id":")" + std::string(300, 'x') + R"("})", 400, "invalid_field",
       "card_id"},
      {R"({"amount":5} trailing)", 400, "malformed_json", ""},
      {R"({"amount":5,"unknown":nope})", 400, "malformed_json", "unknown"},
      {R"({"amount":12x})", 400, "malformed_json", ""},
      {R"({"amount":-1,"x":nope})", 400, "malformed_json", ""},
  };
  for (const auto& c : cases) {
    const auto response = Post("/api/v1/fraud/analyze", c.body);
    EXPECT_EQ(response.status, c.status) << c.body << " -> " << response.body;
    EXPECT_EQ(ErrorCode(response.body), c.code) << c.body << " -> " << response.body;
    EXPECT_EQ(ErrorField(response.body), c.field) << c.body << " -> " << response.body;
  }
  ExpectStillServing();
}

TEST_F(ScoringApiTest, BadBatchesAreRefusedWhole) {
  auto response = Post("/api/v1/fraud/analyze/batch",
                       R"({"transactions":[{"transaction_id":"bad-0","amount":5},{"amount":-1}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorField(response.body), "transactions[1].amount") << response.body;
  EXPECT_EQ(Get("/api/v1/fraud/decisions/bad-0").status, 404) << "nothing of a refused batch";

  std::string big = "[";
  for (int i = 0; i < 51; ++i) {
    big += (i ? "," : "") + std::string(R"({"amount":1})");
  }
  big += "]";
  response = Post("/api/v1/fraud/analyze/batch", big);
  EXPECT_EQ(response.status, 413) << response.body;
  EXPECT_EQ(ErrorCode(response.body), "too_many_items");
  response = Post("/api/v1/fraud/analyze/batch", R"({"transactions":[]})");
  EXPECT_EQ(response.status, 400);
  ExpectStillServing();
}

TEST_F(ScoringApiTest, ProtocolLevelErrors) {
  EXPECT_EQ(Get("/no/such/route").status, 404);
  const auto wrong_method = Get("/api/v1/fraud/analyze");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.Header("Allow"), "POST");
  const auto too_big = Post("/api/v1/fraud/analyze", std::string(70000, ' '));
  EXPECT_EQ(too_big.status, 413) << too_big.body;
  ExpectStillServing();
}

TEST_F(ScoringApiTest, SlowClientGets408AndOthersAreServed) {
  // Send half a request and nothing more: the server must time it out on its own.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(server_->port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  const std::string partial =
      "POST /api/v1/fraud/analyze HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"am";
  ASSERT_EQ(write(fd, partial.data(), partial.size()), static_cast<ssize_t>(partial.size()));
  ExpectStillServing();
  std::string received;
  char buffer[4096];
  ssize_t n = 0;
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
    received.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  EXPECT_NE(received.find("HTTP/1.1 408"), std::string::npos) << received;
  EXPECT_NE(received.find("request_timeout"), std::string::npos) << received;
}

TEST_F(ScoringApiTest, HealthEndpoints) {
  EXPECT_EQ(Get("/health").status, 200);
  EXPECT_EQ(Get("/ready").status, 200);
  const auto health = Get("/api/v1/health");
  ASSERT_EQ(health.status, 200);
  simdjson::dom::parser parser;
  const auto json = ParseJson(parser, health.body);
  EXPECT_FALSE(std::string_view(json["version"]).empty());
  EXPECT_FALSE(std::string_view(json["model_version"]).empty());
  EXPECT_GE(double(json["uptime_seconds"]), 0.0);
  EXPECT_TRUE(json["feature_state"]["keys"].is_number());
  EXPECT_TRUE(json["decision_log"]["lag_ms"].is_number());
}

TEST_F(ScoringApiTest, MetricsPassPromtoolAndCountRequests) {
  Post("/api/v1/fraud/analyze", R"({"amount":12})");
  Post("/api/v1/fraud/analyze", R"({"amount":-1})");
  const auto metrics = Get("/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(
      metrics.body.find(
          R"(http_requests_total{job="fraud-api",route="/api/v1/fraud/analyze",status="200"} 1)"),
      std::string::npos)
      << metrics.body;
  EXPECT_NE(
      metrics.body.find(
          R"(http_requests_total{job="fraud-api",route="/api/v1/fraud/analyze",status="400"} 1)"),
      std::string::npos);
  EXPECT_NE(metrics.body.find("http_request_duration_seconds_bucket{"), std::string::npos);
  EXPECT_NE(metrics.body.find("model_inference_time_bucket{"), std::string::npos);
  EXPECT_NE(metrics.body.find("transaction_volume_total 1"), std::string::npos);
  EXPECT_NE(metrics.body.find("fraudguard_feature_state_keys{entity=\"card\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("process_resident_memory_bytes"), std::string::npos);

  const std::string path = dir_.path() + "/metrics.txt";
  FILE* file = std::fopen(path.c_str(), "w");
  std::fwrite(metrics.body.data(), 1, metrics.body.size(), file);
  std::fclose(file);
  const std::string command = "promtool check metrics < " + path + " 2>&1";
  FILE* promtool = popen(command.c_str(), "r");
  ASSERT_NE(promtool, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), promtool) != nullptr) {
    output += buffer;
  }
  EXPECT_EQ(pclose(promtool), 0) << "promtool check metrics: " << output;
}

}  // namespace
}  // namespace fraudguard::testing
