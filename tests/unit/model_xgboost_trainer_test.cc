#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/log.h"
#include "model/tree_ensemble.h"
#include "model/xgboost_trainer.h"

namespace fraudguard {
namespace {

// 400 rows x 3 features; the label is 1 when feature 0 is large.
struct SmallData {
  std::vector<float> rows;
  std::vector<float> labels;
};

SmallData MakeSmallData(size_t num_rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  SmallData data;
  for (size_t r = 0; r < num_rows; ++r) {
    const float x0 = normal(rng);
    data.rows.push_back(x0);
    data.rows.push_back(normal(rng));
    data.rows.push_back(r % 7 == 0 ? std::numeric_limits<float>::quiet_NaN() : normal(rng));
    data.labels.push_back(x0 + 0.3F * normal(rng) > 0.8F ? 1.0F : 0.0F);
  }
  return data;
}

TEST(XgboostTrainerTest, TrainsAModelOurEvaluatorLoads) {
  const SmallData data = MakeSmallData(400, 1);
  TrainingOptions options;
  options.rounds = 20;
  options.max_depth = 3;
  options.feature_names = {"amount", "velocity", "age"};
  std::vector<int> progress;
  options.progress = [&](int round, int total) {
    EXPECT_EQ(total, 20);
    progress.push_back(round);
  };
  auto json = TrainXgboost(data.rows, 400, 3, data.labels, options);
  ASSERT_TRUE(json.ok()) << json.error();
  ASSERT_EQ(progress.size(), 20U);
  EXPECT_EQ(progress.front(), 1);
  EXPECT_EQ(progress.back(), 20);

  auto ensemble = TreeEnsemble::FromXgboostJson(*json);
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  EXPECT_EQ(ensemble->num_trees(), 20U);
  EXPECT_LE(ensemble->max_depth(), 3U);
  EXPECT_EQ(ensemble->feature_names(), options.feature_names);
  // The signal is learnt: a large amount scores higher than a small one.
  const std::vector<float> high{2.5F, 0.0F, 0.0F};
  const std::vector<float> low{-1.0F, 0.0F, 0.0F};
  EXPECT_GT(ensemble->PredictProbability(high), 0.7F);
  EXPECT_LT(ensemble->PredictProbability(low), 0.3F);
}

TEST(XgboostTrainerTest, SameSeedSameModel) {
  const SmallData data = MakeSmallData(300, 2);
  TrainingOptions options;
  options.rounds = 5;
  options.seed = 42;
  auto first = TrainXgboost(data.rows, 300, 3, data.labels, options);
  auto second = TrainXgboost(data.rows, 300, 3, data.labels, options);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
}

TEST(XgboostTrainerTest, ValidationAucIsLogged) {
  const SmallData train = MakeSmallData(400, 3);
  const SmallData validation = MakeSmallData(200, 4);
  TrainingOptions options;
  options.rounds = 60;
  options.max_depth = 2;
  options.validation_rows = validation.rows;
  options.validation_num_rows = 200;
  options.validation_labels = validation.labels;

  char log_path[] = "/tmp/fraudguard_model_trainer_log_XXXXXX";
  const int fd = mkstemp(log_path);
  ASSERT_GE(fd, 0);
  SetLogFd(fd);
  auto json = TrainXgboost(train.rows, 400, 3, train.labels, options);
  SetLogFd(STDERR_FILENO);
  close(fd);
  ASSERT_TRUE(json.ok()) << json.error();

  std::ifstream in(log_path);
  std::stringstream log;
  log << in.rdbuf();
  std::remove(log_path);
  const std::string text = log.str();
  // Rounds 50 and 60 (the last) are logged, with an AUC well above chance.
  EXPECT_NE(text.find(R"("round":50)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("round":60)"), std::string::npos) << text;
  const size_t at = text.find(R"("validation_auc":)");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_GT(std::stod(text.substr(at + 17)), 0.8);
}

TEST(XgboostTrainerTest, RejectsBadInput) {
  const SmallData data = MakeSmallData(100, 5);
  TrainingOptions options;
  options.rounds = 2;

  auto wrong_labels = TrainXgboost(data.rows, 100, 3, std::span(data.labels).first(99), options);
  ASSERT_FALSE(wrong_labels.ok());
  EXPECT_NE(wrong_labels.error().find("99 labels for 100 rows"), std::string::npos);

  auto wrong_shape = TrainXgboost(data.rows, 100, 4, data.labels, options);
  ASSERT_FALSE(wrong_shape.ok());
  EXPECT_NE(wrong_shape.error().find("expected 100 x 4"), std::string::npos);

  std::vector<float> bad_labels = data.labels;
  bad_labels[17] = 0.5F;
  auto not_binary = TrainXgboost(data.rows, 100, 3, bad_labels, options);
  ASSERT_FALSE(not_binary.ok());
  EXPECT_NE(not_binary.error().find("label 17"), std::string::npos);

  TrainingOptions no_rounds = options;
  no_rounds.rounds = 0;
  EXPECT_FALSE(TrainXgboost(data.rows, 100, 3, data.labels, no_rounds).ok());

  TrainingOptions names = options;
  names.feature_names = {"only_one"};
  EXPECT_FALSE(TrainXgboost(data.rows, 100, 3, data.labels, names).ok());

  TrainingOptions bad_param = options;
  bad_param.subsample = 7.0;  // XGBoost's own check: subsample must be in (0, 1]
  auto xgboost_error = TrainXgboost(data.rows, 100, 3, data.labels, bad_param);
  ASSERT_FALSE(xgboost_error.ok());
  EXPECT_NE(xgboost_error.error().find("xgboost"), std::string::npos);
}

TEST(XgboostTrainerTest, ReferencePredictionRejectsBadModelAndShape) {
  const SmallData data = MakeSmallData(50, 6);
  auto not_a_model = XgboostPredict("{\"nope\":1}", data.rows, 50, 3, false);
  EXPECT_FALSE(not_a_model.ok());

  TrainingOptions options;
  options.rounds = 3;
  auto json = TrainXgboost(data.rows, 50, 3, data.labels, options);
  ASSERT_TRUE(json.ok()) << json.error();
  auto contributions = XgboostApproxContributions(*json, data.rows, 50, 3);
  ASSERT_TRUE(contributions.ok()) << contributions.error();
  EXPECT_EQ(contributions->size(), 50U * 4U);
  EXPECT_FALSE(XgboostPredict(*json, data.rows, 51, 3, false).ok());
}

}  // namespace
}  // namespace fraudguard
