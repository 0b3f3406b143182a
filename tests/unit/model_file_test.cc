#include "model/model_file.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/xgboost_trainer.h"

namespace fraudguard {
namespace {

const std::vector<std::string> kNames = {"amount", "velocity_1h", "account_age_days"};

// A small real XGBoost model trained with feature names, shared by the tests.
const std::string& SmallXgboostJson() {
  static const std::string json = [] {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0F, 1.0F);
    std::vector<float> rows;
    std::vector<float> labels;
    for (int r = 0; r < 300; ++r) {
      const float amount = normal(rng);
      rows.insert(rows.end(), {amount, normal(rng), normal(rng)});
      labels.push_back(amount > 0.7F ? 1.0F : 0.0F);
    }
    TrainingOptions options;
    options.rounds = 10;
    options.max_depth = 3;
    options.feature_names = kNames;
    auto trained = TrainXgboost(rows, 300, 3, labels, options);
    return trained.ok() ? std::move(trained).value() : std::string("training failed");
  }();
  return json;
}

ModelFile ExampleFile() {
  ModelFile file;
  file.version = "2024-05-01.1";
  file.created_at = "2024-05-01T12:30:00.250Z";
  file.feature_names = kNames;
  file.medium_threshold = 40;
  file.high_threshold = 75.5;
  file.metadata_json = R"({"training_period":{"from":"2024-01-01","to":"2024-04-30"},"auc":0.91})";
  return file;
}

TEST(ModelFileTest, RoundTrip) {
  const std::string text = SerializeModelFile(ExampleFile(), SmallXgboostJson());
  auto parsed = ParseModelFile(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->version, "2024-05-01.1");
  EXPECT_EQ(parsed->created_at, "2024-05-01T12:30:00.250Z");
  EXPECT_EQ(parsed->feature_names, kNames);
  EXPECT_EQ(parsed->medium_threshold, 40);
  EXPECT_EQ(parsed->high_threshold, 75.5);
  EXPECT_EQ(parsed->metadata_json, ExampleFile().metadata_json);
  EXPECT_EQ(parsed->ensemble.num_trees(), 10U);
  EXPECT_EQ(parsed->ensemble.num_features(), 3U);

  // The wrapped model predicts exactly like the model parsed on its own.
  auto direct = TreeEnsemble::FromXgboostJson(SmallXgboostJson());
  ASSERT_TRUE(direct.ok()) << direct.error();
  const std::vector<float> row{1.2F, -0.3F, 0.0F};
  EXPECT_EQ(parsed->ensemble.PredictMargin(row), direct->PredictMargin(row));

  // Serialising the parsed file again gives the same text.
  EXPECT_EQ(SerializeModelFile(*parsed, SmallXgboostJson()), text);
}

TEST(ModelFileTest, MetadataIsOptional) {
  std::string text = SerializeModelFile(ExampleFile(), SmallXgboostJson());
  const size_t begin = text.find(R"("metadata":)");
  const size_t end = text.find(R"("xgboost":)");
  ASSERT_NE(begin, std::string::npos);
  text.erase(begin, end - begin);
  auto parsed = ParseModelFile(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->metadata_json, "{}");
}

TEST(ModelFileTest, LoadsFromDisk) {
  char path[] = "/tmp/fraudguard_model_file_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path, std::ios::binary);
    out << SerializeModelFile(ExampleFile(), SmallXgboostJson());
  }
  auto loaded = LoadModelFile(path);
  std::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  EXPECT_EQ(loaded->version, "2024-05-01.1");

  auto missing = LoadModelFile("/nonexistent/dir/model.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("/nonexistent/dir/model.json: cannot open"), std::string::npos);
}

// Replaces the first occurrence of `from` in the serialised example file.
std::string Edited(std::string_view from, std::string_view to) {
  std::string text = SerializeModelFile(ExampleFile(), SmallXgboostJson());
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) {
    text.replace(at, from.size(), to);
  }
  return text;
}

TEST(ModelFileTest, RejectsMalformedFilesWithTheField) {
  struct Case {
    std::string text;
    const char* expected_error;
  };
  const std::vector<Case> cases = {
      {"", "'(document)'"},
      {"[]", "expected a JSON object"},
      {Edited(R"("fraudguard-model")", R"("other")"), "'format'"},
      {Edited(R"("format_version":1)", R"("format_version":2)"), "'format_version': unsupported"},
      {Edited(R"("format_version":1)", R"("format_version":"1")"), "'format_version'"},
      {Edited(R"("version":"2024-05-01.1")", R"("version":"")"), "'version'"},
      {Edited(R"("version":"2024-05-01.1")", R"("version":"has space")"), "'version'"},
      {Edited("2024-05-01T12:30:00.250Z", "yesterday"), "'created_at'"},
      {Edited("2024-05-01T12:30:00.250Z", "2024-13-01T12:30:00Z"), "'created_at'"},
      {Edited(R"("medium":40)", R"("medium":140)"), "'thresholds.medium'"},
      {Edited(R"("medium":40)", R"("medium":"40")"), "'thresholds.medium'"},
      {Edited(R"("high":75.5)", R"("high":30)"), "medium must not exceed high"},
      {Edited(R"(,"high":75.5)", ""), "'thresholds.high'"},
      {Edited(R"("amount","velocity_1h",)", R"("amount",)"), "lists 2 features"},
      {Edited(R"("amount","velocity_1h")", R"("amount","amount")"), "duplicate feature name"},
      {Edited(R"("amount","velocity_1h")", R"("amount","velocity_24h")"),
       "'features[1]': is 'velocity_24h' but the model was trained with 'velocity_1h'"},
      {Edited(R"("amount","velocity_1h")", R"("amount","")"), "'features[1]'"},
      {Edited(R"("features":)", R"("extra":1,"features":)"), "'extra': unknown field"},
      {Edited(R"("features":)", R"("version":"x","features":)"), "'version': appears twice"},
      {Edited(R"("metadata":{)", R"("metadata":[{)"), "'metadata'"},
      {Edited(R"("auc":0.91})", R"("auc":0.91,})"), "'metadata'"},
      {Edited(R"("xgboost":{)", R"("xgboost":[{)"), "'xgboost'"},
      {Edited(R"("num_feature":"3","num_target")", R"("num_feature":"4","num_target")"),
       "'xgboost': xgboost model"},
      {Edited(R"("left_children":[1,)", R"("left_children":[0,)"), "out of range"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseModelFile(c.text);
    ASSERT_FALSE(parsed.ok()) << c.expected_error;
    EXPECT_NE(parsed.error().find(c.expected_error), std::string::npos)
        << "expected '" << c.expected_error << "' in: " << parsed.error();
  }
}

TEST(ModelFileTest, Rfc3339Timestamps) {
  EXPECT_TRUE(IsRfc3339Timestamp("2024-05-01T12:00:00Z"));
  EXPECT_TRUE(IsRfc3339Timestamp("2024-05-01T12:00:00.123456Z"));
  EXPECT_TRUE(IsRfc3339Timestamp("2024-05-01T12:00:00+02:00"));
  EXPECT_FALSE(IsRfc3339Timestamp("2024-05-01 12:00:00Z"));
  EXPECT_FALSE(IsRfc3339Timestamp("2024-05-01T12:00:00"));
  EXPECT_FALSE(IsRfc3339Timestamp("2024-05-01T24:00:00Z"));
  EXPECT_FALSE(IsRfc3339Timestamp("2024-05-01T12:00:00.Z"));
  EXPECT_FALSE(IsRfc3339Timestamp("2024-05-01T12:00:00+2:00"));
  EXPECT_FALSE(IsRfc3339Timestamp(""));
}

}  // namespace
}  // namespace fraudguard
