#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/tree_ensemble.h"
#include "model/xgboost_trainer.h"

namespace fraudguard {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr size_t kFeatures = 20;

// Synthetic fraud-like data: features 0-4 carry signal (with an interaction and a threshold
// effect), the rest are noise; about 8% of values are missing. Labels are drawn from the
// resulting probability so that the problem is learnable but not trivial.
struct Dataset {
  std::vector<float> rows;
  std::vector<float> labels;
  size_t num_rows = 0;
};

Dataset MakeDataset(size_t num_rows, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
  Dataset data;
  data.num_rows = num_rows;
  data.rows.resize(num_rows * kFeatures);
  data.labels.resize(num_rows);
  for (size_t r = 0; r < num_rows; ++r) {
    float* row = &data.rows[r * kFeatures];
    for (size_t f = 0; f < kFeatures; ++f) {
      row[f] = normal(rng);
      // Coarse values on a few features so that test values often equal split thresholds.
      if (f % 5 == 3) {
        row[f] = std::round(row[f] * 4.0F) / 4.0F;
      }
    }
    const float score =
        1.5F * row[0] - row[1] + (row[2] > 0.5F ? 1.2F : -0.4F) + 0.8F * row[3] * row[4] - 1.0F;
    for (size_t f = 0; f < kFeatures; ++f) {
      if (uniform(rng) < 0.08F) {
        row[f] = kNaN;
      }
    }
    const float probability = 1.0F / (1.0F + std::exp(-score));
    data.labels[r] = uniform(rng) < probability ? 1.0F : 0.0F;
  }
  return data;
}

std::vector<std::string> FeatureNames() {
  std::vector<std::string> names;
  for (size_t f = 0; f < kFeatures; ++f) {
    names.push_back("feature_" + std::to_string(f));
  }
  return names;
}

// One XGBoost model shared by the comparison tests: training takes a few seconds.
class TrainedEnsembleTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    const Dataset train = MakeDataset(5000, 7);
    TrainingOptions options;
    options.rounds = 300;
    options.max_depth = 6;
    options.seed = 11;
    options.feature_names = FeatureNames();
    auto json = TrainXgboost(train.rows, train.num_rows, kFeatures, train.labels, options);
    ASSERT_TRUE(json.ok()) << json.error();
    model_json_ = new std::string(std::move(json).value());
    test_data_ = new Dataset(MakeDataset(5000, 99));
  }
  static void TearDownTestSuite() {
    delete model_json_;
    delete test_data_;
    model_json_ = nullptr;
    test_data_ = nullptr;
  }

  std::span<const float> Row(size_t r) const {
    return std::span<const float>(test_data_->rows).subspan(r * kFeatures, kFeatures);
  }

  static std::string* model_json_;
  static Dataset* test_data_;
};

std::string* TrainedEnsembleTest::model_json_ = nullptr;
Dataset* TrainedEnsembleTest::test_data_ = nullptr;

TEST_F(TrainedEnsembleTest, ParsesShapeAndNames) {
  auto ensemble = TreeEnsemble::FromXgboostJson(*model_json_);
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  EXPECT_EQ(ensemble->num_trees(), 300U);
  EXPECT_EQ(ensemble->num_features(), kFeatures);
  EXPECT_EQ(ensemble->feature_names(), FeatureNames());
  EXPECT_GE(ensemble->max_depth(), 1U);
  EXPECT_LE(ensemble->max_depth(), 6U);
  // base_score 0.5 is a margin of 0.
  EXPECT_EQ(ensemble->base_margin(), 0.0F);
}

TEST_F(TrainedEnsembleTest, MarginAndProbabilityMatchXgboost) {
  auto ensemble = TreeEnsemble::FromXgboostJson(*model_json_);
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  const size_t n = test_data_->num_rows;
  auto margins = XgboostPredict(*model_json_, test_data_->rows, n, kFeatures, true);
  ASSERT_TRUE(margins.ok()) << margins.error();
  auto probabilities = XgboostPredict(*model_json_, test_data_->rows, n, kFeatures, false);
  ASSERT_TRUE(probabilities.ok()) << probabilities.error();
  ASSERT_EQ(margins->size(), n);
  ASSERT_EQ(probabilities->size(), n);

  float max_margin_diff = 0;
  float max_probability_diff = 0;
  float min_margin = 0;
  float max_margin = 0;
  for (size_t r = 0; r < n; ++r) {
    const float margin = ensemble->PredictMargin(Row(r));
    max_margin_diff = std::max(max_margin_diff, std::abs(margin - (*margins)[r]));
    max_probability_diff = std::max(
        max_probability_diff, std::abs(ensemble->PredictProbability(Row(r)) - (*probabilities)[r]));
    min_margin = std::min(min_margin, margin);
    max_margin = std::max(max_margin, margin);
  }
  EXPECT_LE(max_margin_diff, 1e-5F);
  EXPECT_LE(max_probability_diff, 1e-5F);
  // The model must actually discriminate, or matching XGBoost would prove little.
  EXPECT_LT(min_margin, -2.0F);
  EXPECT_GT(max_margin, 2.0F);
}

TEST_F(TrainedEnsembleTest, AllMissingRowFollowsDefaultDirections) {
  auto ensemble = TreeEnsemble::FromXgboostJson(*model_json_);
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  const std::vector<float> missing(kFeatures, kNaN);
  auto margin = XgboostPredict(*model_json_, missing, 1, kFeatures, true);
  ASSERT_TRUE(margin.ok()) << margin.error();
  EXPECT_NEAR(ensemble->PredictMargin(missing), (*margin)[0], 1e-5F);
}

TEST_F(TrainedEnsembleTest, ExplainMatchesXgboostApproxContributions) {
  auto ensemble = TreeEnsemble::FromXgboostJson(*model_json_);
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  const size_t n = test_data_->num_rows;
  auto expected = XgboostApproxContributions(*model_json_, test_data_->rows, n, kFeatures);
  ASSERT_TRUE(expected.ok()) << expected.error();
  ASSERT_EQ(expected->size(), n * (kFeatures + 1));

  std::vector<float> contributions(kFeatures + 1);
  float max_diff = 0;
  float max_sum_diff = 0;
  for (size_t r = 0; r < n; ++r) {
    const float margin = ensemble->Explain(Row(r), contributions);
    // Explain returns the same margin as PredictMargin, bit for bit.
    ASSERT_EQ(margin, ensemble->PredictMargin(Row(r)));
    double sum = 0;
    for (size_t c = 0; c <= kFeatures; ++c) {
      max_diff =
          std::max(max_diff, std::abs(contributions[c] - (*expected)[r * (kFeatures + 1) + c]));
      sum += contributions[c];
    }
    max_sum_diff = std::max(max_sum_diff, static_cast<float>(std::abs(sum - margin)));
  }
  EXPECT_LE(max_diff, 1e-5F);
  // The contributions telescope to the margin; only float rounding separates them.
  EXPECT_LE(max_sum_diff, 1e-4F);
}

TEST_F(TrainedEnsembleTest, ExplainCreditsOnlyInformativeFeaturesHeavily) {
  auto ensemble = TreeEnsemble::FromXgboostJson(*model_json_);
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  std::vector<double> mean_abs(kFeatures, 0.0);
  std::vector<float> contributions(kFeatures + 1);
  for (size_t r = 0; r < 500; ++r) {
    ensemble->Explain(Row(r), contributions);
    for (size_t f = 0; f < kFeatures; ++f) {
      mean_abs[f] += std::abs(contributions[f]) / 500.0;
    }
  }
  const double strongest_noise = *std::max_element(mean_abs.begin() + 5, mean_abs.end());
  EXPECT_GT(mean_abs[0], 3 * strongest_noise);
  EXPECT_GT(mean_abs[1], 3 * strongest_noise);
}

TEST_F(TrainedEnsembleTest, WrongSizesGiveNaN) {
  auto ensemble = TreeEnsemble::FromXgboostJson(*model_json_);
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  const std::vector<float> too_short(kFeatures - 1, 0.0F);
  EXPECT_TRUE(std::isnan(ensemble->PredictMargin(too_short)));
  EXPECT_TRUE(std::isnan(ensemble->PredictProbability(too_short)));
  std::vector<float> contributions(kFeatures, 1.0F);  // one short: no bias slot
  EXPECT_TRUE(std::isnan(ensemble->Explain(Row(0), contributions)));
  EXPECT_EQ(contributions[0], 1.0F);
}

TEST_F(TrainedEnsembleTest, CorruptedModelsFailCleanly) {
  // Truncations and byte flips across the whole document must give an error or a model, never a
  // crash (the sanitizer build checks memory safety here).
  const std::string& json = *model_json_;
  for (size_t i = 1; i <= 40; ++i) {
    const size_t cut = json.size() * i / 41;
    auto truncated = TreeEnsemble::FromXgboostJson(std::string_view(json).substr(0, cut));
    EXPECT_FALSE(truncated.ok()) << "cut at " << cut;
  }
  std::mt19937 rng(3);
  const std::string garbage = "{}[]\",:-9e.x ";
  for (int i = 0; i < 60; ++i) {
    std::string corrupted = json;
    const size_t at = rng() % corrupted.size();
    corrupted[at] = garbage[rng() % garbage.size()];
    auto result = TreeEnsemble::FromXgboostJson(corrupted);
    if (result.ok()) {
      EXPECT_EQ(result->num_features(), kFeatures);
    } else {
      EXPECT_NE(result.error().find("xgboost model"), std::string::npos) << result.error();
    }
  }
}

// A hand-written XGBoost JSON model, so that malformed variants can be produced field by field.
struct TreeJson {
  std::string left = "[1,-1,-1]";
  std::string right = "[2,-1,-1]";
  std::string split_indices = "[0,0,0]";
  std::string split_conditions = "[0.5,1.0,-1.0]";
  std::string default_left = "[1,0,0]";
  std::string sum_hessian = "[4.0,1.0,3.0]";
  std::string split_type = "[0,0,0]";
  std::string categories = "[]";
  std::string num_nodes = "3";

  std::string ToJson() const {
    return R"({"base_weights":[0,0,0],"categories":)" + categories +
           R"(,"categories_nodes":[],"categories_segments":[],"categories_sizes":[],)"
           R"("default_left":)" +
           default_left + R"(,"id":0,"left_children":)" + left +
           R"(,"loss_changes":[0,0,0],"parents":[2147483647,0,0],"right_children":)" + right +
           R"(,"split_conditions":)" + split_conditions + R"(,"split_indices":)" + split_indices +
           R"(,"split_type":)" + split_type + R"(,"sum_hessian":)" + sum_hessian +
           R"(,"tree_param":{"num_deleted":"0","num_feature":"2","num_nodes":")" + num_nodes +
           R"(","size_leaf_vector":"0"}})";
  }
};

struct ModelJson {
  std::vector<TreeJson> trees{TreeJson{}};
  std::string objective = "binary:logistic";
  std::string booster = "gbtree";
  std::string base_score = "5E-1";
  std::string num_feature = "2";
  std::string num_class = "0";
  std::string num_trees;  // defaults to trees.size()
  std::string tree_info;  // defaults to all zeros
  std::string feature_names = "[]";

  std::string ToJson() const {
    std::string tree_list;
    std::string info = "[";
    for (size_t i = 0; i < trees.size(); ++i) {
      tree_list += (i == 0 ? "" : ",") + trees[i].ToJson();
      info += i == 0 ? "0" : ",0";
    }
    info += "]";
    return R"({"learner":{"attributes":{},"feature_names":)" + feature_names +
           R"(,"feature_types":[],"gradient_booster":{"model":{"gbtree_model_param":{"num_parallel_tree":"1","num_trees":")" +
           (num_trees.empty() ? std::to_string(trees.size()) : num_trees) + R"("},"tree_info":)" +
           (tree_info.empty() ? info : tree_info) + R"(,"trees":[)" + tree_list + R"(]},"name":")" +
           booster + R"("},"learner_model_param":{"base_score":")" + base_score +
           R"(","boost_from_average":"1","num_class":")" + num_class + R"(","num_feature":")" +
           num_feature + R"(","num_target":"1"},"objective":{"name":")" + objective +
           R"(","reg_loss_param":{"scale_pos_weight":"1"}}},"version":[1,7,4]})";
  }
};

TEST(TreeEnsembleTest, HandWrittenModelFollowsXgboostRules) {
  auto ensemble = TreeEnsemble::FromXgboostJson(ModelJson{}.ToJson());
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  EXPECT_EQ(ensemble->num_trees(), 1U);
  EXPECT_EQ(ensemble->max_depth(), 1U);
  EXPECT_TRUE(ensemble->feature_names().empty());
  const auto margin = [&](float f0) {
    const std::vector<float> row{f0, 0.0F};
    return ensemble->PredictMargin(row);
  };
  EXPECT_EQ(margin(0.4F), 1.0F);   // value < threshold goes left
  EXPECT_EQ(margin(0.5F), -1.0F);  // equal goes right
  EXPECT_EQ(margin(kNaN), 1.0F);   // default_left
  EXPECT_EQ(margin(-std::numeric_limits<float>::infinity()), 1.0F);
  EXPECT_EQ(margin(std::numeric_limits<float>::infinity()), -1.0F);
  EXPECT_NEAR(ensemble->PredictProbability(std::vector<float>{0.0F, 0.0F}),
              1.0F / (1.0F + std::exp(-1.0F)), 1e-7F);

  // Path attribution by hand: root mean = (1*1 + -1*3) / 4 = -0.5.
  std::vector<float> contributions(3);
  EXPECT_EQ(ensemble->Explain(std::vector<float>{0.0F, 0.0F}, contributions), 1.0F);
  EXPECT_FLOAT_EQ(contributions[0], 1.5F);
  EXPECT_EQ(contributions[1], 0.0F);
  EXPECT_FLOAT_EQ(contributions[2], -0.5F);
}

TEST(TreeEnsembleTest, MissingGoesRightWhenDefaultRight) {
  ModelJson model;
  model.trees[0].default_left = "[false,false,false]";  // older XGBoost wrote booleans
  auto ensemble = TreeEnsemble::FromXgboostJson(model.ToJson());
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  EXPECT_EQ(ensemble->PredictMargin(std::vector<float>{kNaN, 0.0F}), -1.0F);
}

TEST(TreeEnsembleTest, BaseScoreBecomesLogitMargin) {
  ModelJson model;
  model.base_score = "2E-1";
  model.objective = "reg:logistic";
  auto ensemble = TreeEnsemble::FromXgboostJson(model.ToJson());
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  EXPECT_NEAR(ensemble->base_margin(), std::log(0.2 / 0.8), 1e-6);
  EXPECT_NEAR(ensemble->PredictMargin(std::vector<float>{0.0F, 0.0F}), 1.0 + std::log(0.25), 1e-6);
}

TEST(TreeEnsembleTest, SingleLeafTreeAndDeletedNodes) {
  ModelJson model;
  TreeJson leaf_only;
  leaf_only.left = "[-1]";
  leaf_only.right = "[-1]";
  leaf_only.split_indices = "[0]";
  leaf_only.split_conditions = "[0.25]";
  leaf_only.default_left = "[0]";
  leaf_only.sum_hessian = "[4.0]";
  leaf_only.split_type = "[0]";
  leaf_only.num_nodes = "1";
  // A pruned tree keeps unreachable entries; they are ignored.
  TreeJson with_deleted;
  with_deleted.left = "[1,-1,-1,-1]";
  with_deleted.right = "[2,-1,-1,-1]";
  with_deleted.split_indices = "[1,0,0,0]";
  with_deleted.split_conditions = "[0.0,2.0,3.0,99.0]";
  with_deleted.default_left = "[0,0,0,0]";
  with_deleted.sum_hessian = "[2.0,1.0,1.0,0.0]";
  with_deleted.split_type = "[0,0,0,0]";
  with_deleted.num_nodes = "4";
  model.trees = {leaf_only, with_deleted};
  auto ensemble = TreeEnsemble::FromXgboostJson(model.ToJson());
  ASSERT_TRUE(ensemble.ok()) << ensemble.error();
  EXPECT_EQ(ensemble->PredictMargin(std::vector<float>{0.0F, -1.0F}), 2.25F);
  EXPECT_EQ(ensemble->PredictMargin(std::vector<float>{0.0F, 1.0F}), 3.25F);
  std::vector<float> contributions(3);
  EXPECT_EQ(ensemble->Explain(std::vector<float>{0.0F, 1.0F}, contributions), 3.25F);
  EXPECT_FLOAT_EQ(contributions[1], 0.5F);
  EXPECT_FLOAT_EQ(contributions[2], 0.25F + 2.5F);
}

// Each malformed model must be rejected with an error that names the problem.
struct MalformedCase {
  const char* name;
  std::string json;
  const char* expected_error;
};

std::vector<MalformedCase> MalformedCases() {
  std::vector<MalformedCase> cases;
  const auto with_tree = [](auto edit) {
    ModelJson model;
    edit(model.trees[0]);
    return model.ToJson();
  };
  const auto with_model = [](auto edit) {
    ModelJson model;
    edit(model);
    return model.ToJson();
  };
  cases.push_back({"not json", "this is not json", "xgboost model: document"});
  cases.push_back({"empty", "", "xgboost model: document"});
  cases.push_back({"array", "[1,2]", "expected a JSON object"});
  cases.push_back({"no learner", R"({"version":[1,7,4]})", "missing learner"});
  cases.push_back(
      {"truncated", ModelJson{}.ToJson().substr(0, ModelJson{}.ToJson().size() / 2), "xgboost"});
  cases.push_back({"child out of range", with_tree([](TreeJson& t) { t.left = "[7,-1,-1]"; }),
                   "child index 7 out of range"});
  cases.push_back(
      {"negative child", with_tree([](TreeJson& t) { t.right = "[-5,-1,-1]"; }), "out of range"});
  cases.push_back(
      {"cycle to root", with_tree([](TreeJson& t) { t.left = "[1,0,-1]"; }), "out of range"});
  cases.push_back({"cycle", with_tree([](TreeJson& t) {
                     t.left = "[1,2,-1]";
                     t.right = "[2,1,-1]";
                     t.split_indices = "[0,0,0]";
                   }),
                   "reached twice"});
  cases.push_back(
      {"one child", with_tree([](TreeJson& t) { t.right = "[2,-1,1]"; }), "out of range"});
  cases.push_back({"feature out of range",
                   with_tree([](TreeJson& t) { t.split_indices = "[2,0,0]"; }),
                   "split feature 2 outside [0, 2)"});
  cases.push_back({"size mismatch",
                   with_tree([](TreeJson& t) { t.split_conditions = "[0.5,1.0]"; }),
                   "split_conditions: has 2 entries"});
  cases.push_back({"num_nodes mismatch", with_tree([](TreeJson& t) { t.num_nodes = "5"; }),
                   "declares 5 nodes"});
  cases.push_back(
      {"categorical", with_tree([](TreeJson& t) { t.split_type = "[1,0,0]"; }), "categorical"});
  cases.push_back(
      {"categories", with_tree([](TreeJson& t) { t.categories = "[3]"; }), "categorical"});
  cases.push_back({"string in ints", with_tree([](TreeJson& t) { t.left = "[1,\"x\",-1]"; }),
                   "left_children[1]: expected an integer"});
  cases.push_back(
      {"huge int", with_tree([](TreeJson& t) { t.left = "[1,99999999999,-1]"; }), "out of range"});
  cases.push_back({"float overflow",
                   with_tree([](TreeJson& t) { t.split_conditions = "[1e300,1,1]"; }),
                   "not a finite float"});
  cases.push_back({"negative hessian",
                   with_tree([](TreeJson& t) { t.sum_hessian = "[4.0,-1.0,3.0]"; }),
                   "sum_hessian[1]"});
  cases.push_back({"zero hessian split",
                   with_tree([](TreeJson& t) { t.sum_hessian = "[0.0,1.0,3.0]"; }),
                   "positive hessian"});
  cases.push_back(
      {"empty tree", with_tree([](TreeJson& t) { t.left = "[]"; }), "tree has no nodes"});
  cases.push_back({"objective", with_model([](ModelJson& m) { m.objective = "reg:squarederror"; }),
                   "unsupported objective 'reg:squarederror'"});
  cases.push_back(
      {"dart", with_model([](ModelJson& m) { m.booster = "dart"; }), "unsupported booster"});
  cases.push_back(
      {"base score", with_model([](ModelJson& m) { m.base_score = "1.5"; }), "base_score"});
  cases.push_back(
      {"base score text", with_model([](ModelJson& m) { m.base_score = "half"; }), "base_score"});
  cases.push_back(
      {"no features", with_model([](ModelJson& m) { m.num_feature = "0"; }), "num_feature"});
  cases.push_back({"absurd features", with_model([](ModelJson& m) { m.num_feature = "9999999"; }),
                   "num_feature"});
  cases.push_back(
      {"multi-class", with_model([](ModelJson& m) { m.num_class = "3"; }), "multi-class"});
  cases.push_back({"tree count", with_model([](ModelJson& m) { m.num_trees = "2"; }),
                   "declares 2 trees but 1 are present"});
  cases.push_back(
      {"tree info", with_model([](ModelJson& m) { m.tree_info = "[1]"; }), "output group"});
  cases.push_back({"names", with_model([](ModelJson& m) { m.feature_names = R"(["a"])"; }),
                   "has 1 names for 2 features"});
  // A chain of 40 splits, deeper than any sane model.
  cases.push_back({"too deep", with_tree([](TreeJson& t) {
                     const int splits = 40;
                     std::string left = "[";
                     std::string right = "[";
                     std::string zeros = "[";
                     std::string hessians = "[";
                     for (int i = 0; i <= 2 * splits; ++i) {
                       const bool split = i % 2 == 0 && i < 2 * splits;
                       const std::string sep = i == 0 ? "" : ",";
                       left += sep + (split ? std::to_string(i + 1) : "-1");
                       right += sep + (split ? std::to_string(i + 2) : "-1");
                       zeros += sep + "0";
                       hessians += sep + "1";
                     }
                     t.left = left + "]";
                     t.right = right + "]";
                     t.split_indices = t.split_conditions = t.default_left = t.split_type =
                         zeros + "]";
                     t.sum_hessian = hessians + "]";
                     t.num_nodes = std::to_string(2 * splits + 1);
                   }),
                   "deeper than 32"});
  return cases;
}

TEST(TreeEnsembleTest, MalformedModelsAreRejectedWithClearErrors) {
  // The unmodified hand-written model parses, so each case fails for its own reason.
  ASSERT_TRUE(TreeEnsemble::FromXgboostJson(ModelJson{}.ToJson()).ok());
  for (const MalformedCase& c : MalformedCases()) {
    auto result = TreeEnsemble::FromXgboostJson(c.json);
    ASSERT_FALSE(result.ok()) << c.name;
    EXPECT_NE(result.error().find(c.expected_error), std::string::npos)
        << c.name << ": " << result.error();
  }
}

}  // namespace
}  // namespace fraudguard
