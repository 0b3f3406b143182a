// Training and reference prediction through XGBoost's C API. Used offline (training jobs, tests,
// benchmarks), never on the request path: serving uses TreeEnsemble.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace fraudguard {

struct TrainingOptions {
  int rounds = 300;
  int max_depth = 6;
  double learning_rate = 0.1;
  double subsample = 0.8;
  double colsample_bytree = 0.8;
  double min_child_weight = 1.0;
  double scale_pos_weight = 1.0;
  double lambda = 1.0;
  int threads = 2;
  uint64_t seed = 0;
  // Stored in the model (learner.feature_names); empty or one per feature.
  std::vector<std::string> feature_names;
  // Called after each boosting round with (rounds done, rounds total).
  std::function<void(int round, int total)> progress;
  // Optional validation set (row-major, NaN = missing, same feature count as training). When
  // validation_num_rows > 0, its AUC is logged at info every 50 rounds and after the last.
  std::span<const float> validation_rows;
  size_t validation_num_rows = 0;
  std::span<const float> validation_labels;
};

// Trains a binary:logistic gbtree model (tree_method hist). `rows` is row-major
// num_rows x num_features, NaN = missing; labels are 0 or 1. Returns XGBoost's JSON model text.
Result<std::string> TrainXgboost(std::span<const float> rows,
                                 size_t num_rows,
                                 size_t num_features,
                                 std::span<const float> labels,
                                 const TrainingOptions& options);

// XGBoost's own predictions for a JSON model: probabilities, or margins when output_margin.
Result<std::vector<float>> XgboostPredict(std::string_view model_json,
                                          std::span<const float> rows,
                                          size_t num_rows,
                                          size_t num_features,
                                          bool output_margin);

// XGBoost's approximate feature contributions (pred_contribs with approx_contribs), row-major
// num_rows x (num_features + 1), the last column being the bias.
Result<std::vector<float>> XgboostApproxContributions(std::string_view model_json,
                                                      std::span<const float> rows,
                                                      size_t num_rows,
                                                      size_t num_features);

}  // namespace fraudguard
