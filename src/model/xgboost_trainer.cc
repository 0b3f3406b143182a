#include "model/xgboost_trainer.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <utility>

#include <xgboost/c_api.h>

#include "core/log.h"
#include "model/tree_ensemble.h"

namespace fraudguard {
namespace {

// XGBoost prints to stdout unless told otherwise; silence it once per process.
void SilenceXgboost() {
  static std::once_flag once;
  std::call_once(once, [] { XGBSetGlobalConfig(R"({"verbosity":0})"); });
}

Error XgboostError(std::string_view call) {
  std::string message = "xgboost: ";
  message += call;
  message += " failed: ";
  message += XGBGetLastError();
  return Error{std::move(message)};
}

class DMatrix {
public:
  DMatrix() = default;
  ~DMatrix() {
    if (handle_ != nullptr) {
      XGDMatrixFree(handle_);
    }
  }
  DMatrix(const DMatrix&) = delete;
  DMatrix& operator=(const DMatrix&) = delete;

  Status Create(std::span<const float> rows, size_t num_rows, size_t num_features) {
    if (XGDMatrixCreateFromMat(rows.data(), num_rows, num_features,
                               std::numeric_limits<float>::quiet_NaN(), &handle_) != 0) {
      handle_ = nullptr;
      return XgboostError("XGDMatrixCreateFromMat");
    }
    return OkStatus();
  }
  Status SetLabels(std::span<const float> labels) {
    if (XGDMatrixSetFloatInfo(handle_, "label", labels.data(), labels.size()) != 0) {
      return XgboostError("XGDMatrixSetFloatInfo(label)");
    }
    return OkStatus();
  }
  Status SetFeatureNames(const std::vector<std::string>& names) {
    std::vector<const char*> pointers;
    pointers.reserve(names.size());
    for (const std::string& name : names) {
      pointers.push_back(name.c_str());
    }
    if (XGDMatrixSetStrFeatureInfo(handle_, "feature_name", pointers.data(), pointers.size()) !=
        0) {
      return XgboostError("XGDMatrixSetStrFeatureInfo(feature_name)");
    }
    return OkStatus();
  }
  DMatrixHandle handle() const { return handle_; }

private:
  DMatrixHandle handle_ = nullptr;
};

class Booster {
public:
  Booster() = default;
  ~Booster() {
    if (handle_ != nullptr) {
      XGBoosterFree(handle_);
    }
  }
  Booster(const Booster&) = delete;
  Booster& operator=(const Booster&) = delete;

  Status Create(std::vector<DMatrixHandle> cache) {
    if (XGBoosterCreate(cache.data(), cache.size(), &handle_) != 0) {
      handle_ = nullptr;
      return XgboostError("XGBoosterCreate");
    }
    return OkStatus();
  }
  Status Load(std::string_view model_json) {
    if (XGBoosterLoadModelFromBuffer(handle_, model_json.data(), model_json.size()) != 0) {
      return XgboostError("XGBoosterLoadModelFromBuffer");
    }
    return OkStatus();
  }
  Status SetParam(const char* name, const std::string& param_value) {
    if (XGBoosterSetParam(handle_, name, param_value.c_str()) != 0) {
      return XgboostError(std::string("XGBoosterSetParam(") + name + ")");
    }
    return OkStatus();
  }
  // Stored in the saved model as learner.feature_names.
  Status SetFeatureNames(const std::vector<std::string>& names) {
    std::vector<const char*> pointers;
    pointers.reserve(names.size());
    for (const std::string& name : names) {
      pointers.push_back(name.c_str());
    }
    if (XGBoosterSetStrFeatureInfo(handle_, "feature_name", pointers.data(), pointers.size()) !=
        0) {
      return XgboostError("XGBoosterSetStrFeatureInfo(feature_name)");
    }
    return OkStatus();
  }
  BoosterHandle handle() const { return handle_; }

private:
  BoosterHandle handle_ = nullptr;
};

std::string FormatNumber(double number) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), number);
  return std::string(buffer, result.ptr);
}

Status CheckMatrix(std::span<const float> rows, size_t num_rows, size_t num_features) {
  if (num_rows == 0 || num_features == 0) {
    return Error{"xgboost: need at least one row and one feature"};
  }
  if (num_features > kMaxFeatures) {
    return Error{"xgboost: more than " + std::to_string(kMaxFeatures) + " features"};
  }
  if (num_rows > std::numeric_limits<size_t>::max() / num_features ||
      rows.size() != num_rows * num_features) {
    return Error{"xgboost: rows has " + std::to_string(rows.size()) + " values, expected " +
                 std::to_string(num_rows) + " x " + std::to_string(num_features)};
  }
  return OkStatus();
}

// Extracts the number after "auc:" from XGBoost's evaluation line ("[49]\tvalidation-auc:0.93").
double ParseAuc(const char* line) {
  const std::string_view text(line);
  const size_t at = text.rfind("auc:");
  if (at == std::string_view::npos) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  double auc = std::numeric_limits<double>::quiet_NaN();
  const std::string_view number = text.substr(at + 4);
  std::from_chars(number.data(), number.data() + number.size(), auc);
  return auc;
}

// Runs one prediction type ("type" of XGBoosterPredictFromDMatrix) and copies the result out.
Result<std::vector<float>> Predict(std::string_view model_json,
                                   std::span<const float> rows,
                                   size_t num_rows,
                                   size_t num_features,
                                   int type,
                                   size_t values_per_row) {
  SilenceXgboost();
  if (auto status = CheckMatrix(rows, num_rows, num_features); !status) {
    return Error{status.error()};
  }
  DMatrix matrix;
  if (auto status = matrix.Create(rows, num_rows, num_features); !status) {
    return Error{status.error()};
  }
  Booster booster;
  if (auto status = booster.Create({}); !status) {
    return Error{status.error()};
  }
  if (auto status = booster.Load(model_json); !status) {
    return Error{status.error()};
  }
  const std::string config = R"({"type":)" + std::to_string(type) +
                             R"(,"training":false,"iteration_begin":0,"iteration_end":0,)"
                             R"("strict_shape":false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dimensions = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDMatrix(booster.handle(), matrix.handle(), config.c_str(), &shape,
                                  &dimensions, &result) != 0) {
    return XgboostError("XGBoosterPredictFromDMatrix");
  }
  size_t total = 1;
  for (bst_ulong d = 0; d < dimensions; ++d) {
    total *= shape[d];
  }
  if (total != num_rows * values_per_row) {
    return Error{"xgboost: prediction has " + std::to_string(total) + " values, expected " +
                 std::to_string(num_rows * values_per_row) +
                 " (does the model have this many features?)"};
  }
  return std::vector<float>(result, result + total);
}

}  // namespace

Result<std::string> TrainXgboost(std::span<const float> rows,
                                 size_t num_rows,
                                 size_t num_features,
                                 std::span<const float> labels,
                                 const TrainingOptions& options) {
  SilenceXgboost();
  if (auto status = CheckMatrix(rows, num_rows, num_features); !status) {
    return Error{status.error()};
  }
  if (labels.size() != num_rows) {
    return Error{"xgboost: " + std::to_string(labels.size()) + " labels for " +
                 std::to_string(num_rows) + " rows"};
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] != 0.0F && labels[i] != 1.0F) {
      return Error{"xgboost: label " + std::to_string(i) + " is not 0 or 1"};
    }
  }
  if (options.rounds < 1 || static_cast<size_t>(options.rounds) > kMaxTrees) {
    return Error{"xgboost: rounds must be in [1, " + std::to_string(kMaxTrees) + "]"};
  }
  if (options.max_depth < 1 || static_cast<size_t>(options.max_depth) > kMaxTreeDepth) {
    return Error{"xgboost: max_depth must be in [1, " + std::to_string(kMaxTreeDepth) + "]"};
  }
  if (!options.feature_names.empty() && options.feature_names.size() != num_features) {
    return Error{"xgboost: " + std::to_string(options.feature_names.size()) +
                 " feature names for " + std::to_string(num_features) + " features"};
  }

  DMatrix train;
  if (auto status = train.Create(rows, num_rows, num_features); !status) {
    return Error{status.error()};
  }
  if (auto status = train.SetLabels(labels); !status) {
    return Error{status.error()};
  }
  if (!options.feature_names.empty()) {
    if (auto status = train.SetFeatureNames(options.feature_names); !status) {
      return Error{status.error()};
    }
  }
  DMatrix validation;
  const bool has_validation = options.validation_num_rows > 0;
  if (has_validation) {
    if (auto status =
            CheckMatrix(options.validation_rows, options.validation_num_rows, num_features);
        !status) {
      return Error{"validation set: " + status.error()};
    }
    if (options.validation_labels.size() != options.validation_num_rows) {
      return Error{"xgboost: validation set has " +
                   std::to_string(options.validation_labels.size()) + " labels for " +
                   std::to_string(options.validation_num_rows) + " rows"};
    }
    if (auto status =
            validation.Create(options.validation_rows, options.validation_num_rows, num_features);
        !status) {
      return Error{status.error()};
    }
    if (auto status = validation.SetLabels(options.validation_labels); !status) {
      return Error{status.error()};
    }
    if (!options.feature_names.empty()) {
      if (auto status = validation.SetFeatureNames(options.feature_names); !status) {
        return Error{status.error()};
      }
    }
  }

  Booster booster;
  std::vector<DMatrixHandle> cache{train.handle()};
  if (has_validation) {
    cache.push_back(validation.handle());
  }
  if (auto status = booster.Create(cache); !status) {
    return Error{status.error()};
  }
  const std::pair<const char*, std::string> params[] = {
      {"verbosity", "0"},
      {"objective", "binary:logistic"},
      {"booster", "gbtree"},
      {"tree_method", "hist"},
      {"eval_metric", "auc"},
      {"max_depth", std::to_string(options.max_depth)},
      {"eta", FormatNumber(options.learning_rate)},
      {"subsample", FormatNumber(options.subsample)},
      {"colsample_bytree", FormatNumber(options.colsample_bytree)},
      {"min_child_weight", FormatNumber(options.min_child_weight)},
      {"scale_pos_weight", FormatNumber(options.scale_pos_weight)},
      {"lambda", FormatNumber(options.lambda)},
      {"nthread", std::to_string(options.threads)},
      // XGBoost's seed is a signed 64-bit integer: drop the top bit.
      {"seed",
       std::to_string(options.seed & static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))},
  };
  for (const auto& [name, param_value] : params) {
    if (auto status = booster.SetParam(name, param_value); !status) {
      return Error{status.error()};
    }
  }

  if (!options.feature_names.empty()) {
    if (auto status = booster.SetFeatureNames(options.feature_names); !status) {
      return Error{status.error()};
    }
  }

  for (int round = 0; round < options.rounds; ++round) {
    if (XGBoosterUpdateOneIter(booster.handle(), round, train.handle()) != 0) {
      return XgboostError("XGBoosterUpdateOneIter");
    }
    const bool last = round + 1 == options.rounds;
    if (has_validation && ((round + 1) % 50 == 0 || last)) {
      DMatrixHandle eval_sets[] = {validation.handle()};
      const char* eval_names[] = {"validation"};
      const char* line = nullptr;
      if (XGBoosterEvalOneIter(booster.handle(), round, eval_sets, eval_names, 1, &line) != 0) {
        return XgboostError("XGBoosterEvalOneIter");
      }
      LogInfo("model_training_progress")
          .Field("round", round + 1)
          .Field("rounds", options.rounds)
          .Field("validation_auc", ParseAuc(line));
    }
    if (options.progress) {
      options.progress(round + 1, options.rounds);
    }
  }

  bst_ulong length = 0;
  const char* buffer = nullptr;
  if (XGBoosterSaveModelToBuffer(booster.handle(), R"({"format":"json"})", &length, &buffer) != 0) {
    return XgboostError("XGBoosterSaveModelToBuffer");
  }
  return std::string(buffer, length);
}

Result<std::vector<float>> XgboostPredict(std::string_view model_json,
                                          std::span<const float> rows,
                                          size_t num_rows,
                                          size_t num_features,
                                          bool output_margin) {
  return Predict(model_json, rows, num_rows, num_features, output_margin ? 1 : 0, 1);
}

Result<std::vector<float>> XgboostApproxContributions(std::string_view model_json,
                                                      std::span<const float> rows,
                                                      size_t num_rows,
                                                      size_t num_features) {
  return Predict(model_json, rows, num_rows, num_features, 3, num_features + 1);
}

}  // namespace fraudguard
