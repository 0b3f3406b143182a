// Model drift end to end: the real binary measures the traffic it scores against the model's
// validation reference, exports the figures, and refuses a model whose reference is broken.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "server_process.h"

namespace fraudguard::testing {
namespace {

constexpr std::string_view kDefaultModelVersion = "gbt-2024-05-01-9569afa4";

// The value of the sample whose name and labels are exactly `series`; NaN when absent.
double Sample(const std::string& metrics, const std::string& series) {
  const std::string prefix = series + " ";
  for (size_t pos = metrics.find(prefix); pos != std::string::npos;
       pos = metrics.find(prefix, pos + 1)) {
    if (pos == 0 || metrics[pos - 1] == '\n') {
      return std::strtod(metrics.c_str() + pos + prefix.size(), nullptr);
    }
  }
  return std::nan("");
}

bool HasSeries(const std::string& metrics, const std::string& series) {
  return metrics.find("\n" + series + " ") != std::string::npos;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The repository's model with `from` replaced by `to` in its text (once).
std::string EditedModel(const TempDir& dir, const std::string& from, const std::string& to) {
  std::string text = ReadFile(RepoPath("models/default.json"));
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  const std::string path = dir.path() + "/edited-model.json";
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

// Scores `count` transactions in batches of 100, with amounts spread like everyday spending.
void ScoreTraffic(http::Client& client, int count) {
  for (int sent = 0; sent < count;) {
    std::string body = "[";
    for (int i = 0; i < 100 && sent < count; ++i, ++sent) {
      body += (i == 0 ? "" : ",");
      body += R"({"amount":)" + std::to_string(5 + (sent * 37) % 120) + R"(,"card_id":"card-)" +
              std::to_string(sent % 50) + R"(","merchant_id":"m-)" + std::to_string(sent % 7) +
              R"(","customer_id":"cust-)" + std::to_string(sent % 50) + R"("})";
    }
    body += "]";
    auto response = client.Send("POST", "/api/v1/fraud/analyze/batch", body,
                                {{"Content-Type", "application/json"}});
    ASSERT_TRUE(response.ok()) << response.error();
    ASSERT_EQ(response->status, 200) << response->body;
  }
}

TEST(Drift, TheScoredTrafficIsMeasuredAgainstTheModelsReference) {
  TempDir dir;
  ServerProcess server(dir.path() + "/data");
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  const std::string model = "{model_name=\"" + std::string(kDefaultModelVersion) + "\"}";

  auto metrics = client->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(Sample(metrics->body, "fraudguard_drift_observations" + model), 0.0);
  // No figure before there is enough traffic to judge.
  EXPECT_TRUE(HasSeries(metrics->body, "model_drift_score" + model)) << metrics->body;
  EXPECT_TRUE(std::isnan(Sample(metrics->body, "model_drift_score" + model)));

  ScoreTraffic(*client, 1200);
  metrics = client->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(Sample(metrics->body, "fraudguard_drift_observations" + model), 1200.0);
  const double score_psi = Sample(metrics->body, "model_drift_score" + model);
  EXPECT_TRUE(std::isfinite(score_psi)) << metrics->body;
  EXPECT_GE(score_psi, 0.0);
  // The reference's features (the model's most influential ones) each have their own figure.
  const double feature_psi =
      Sample(metrics->body, "fraudguard_feature_drift_psi{model_name=\"" +
                                std::string(kDefaultModelVersion) +
                                "\",distribution=\"merchant_delayed_count_30d\"}");
  EXPECT_TRUE(std::isfinite(feature_psi)) << metrics->body;
  // Hand-made traffic is nothing like the simulated validation period: the model drifts.
  EXPECT_GT(feature_psi, 0.25);
  EXPECT_NE(server.Logs().find("\"drift_tracking\""), std::string::npos) << server.Logs();
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(Drift, AModelWithoutAReferenceServesWithDriftUnmeasured) {
  TempDir dir;
  const std::string model = EditedModel(dir, "\"drift_reference\"", "\"drift_reference_old\"");
  ServerProcess server(dir.path() + "/data", {"--model", model});
  ASSERT_TRUE(server.Start()) << server.Logs();
  auto client = server.NewClient();
  ScoreTraffic(*client, 100);
  auto metrics = client->Send("GET", "/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(Sample(metrics->body, "fraudguard_drift_observations{model_name=\"" +
                                      std::string(kDefaultModelVersion) + "\"}"),
            0.0);
  EXPECT_NE(server.Logs().find("\"drift_reference_missing\""), std::string::npos);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

TEST(Drift, ABrokenReferenceIsRefusedAtStartAndOnReload) {
  TempDir dir;
  const std::string broken =
      EditedModel(dir, R"({"name":"risk_score")", R"({"name":"risk_scores")");
  {
    ServerProcess server(dir.path() + "/data", {"--model", broken});
    EXPECT_FALSE(server.Start());
    EXPECT_NE(server.Logs().find("metadata.drift_reference.distributions: the first entry must"),
              std::string::npos)
        << server.Logs();
  }

  // A running server keeps its model when the reloaded one has a broken reference.
  const std::string model = dir.path() + "/model.json";
  std::filesystem::copy_file(RepoPath("models/default.json"), model);
  ServerProcess server(dir.path() + "/data2", {"--model", model});
  ASSERT_TRUE(server.Start()) << server.Logs();
  std::filesystem::copy_file(broken, model, std::filesystem::copy_options::overwrite_existing);
  auto client = server.NewClient();
  auto reload = client->Send("POST", "/api/v1/admin/reload");
  ASSERT_TRUE(reload.ok());
  EXPECT_EQ(reload->status, 422) << reload->body;
  EXPECT_NE(reload->body.find("drift_reference"), std::string::npos) << reload->body;
  ScoreTraffic(*client, 100);
  EXPECT_EQ(server.StopWith(SIGTERM), 0);
}

}  // namespace
}  // namespace fraudguard::testing
