// FraudGuard's model file: a JSON document with our metadata wrapped around XGBoost's model.
//
//   {"format":"fraudguard-model","format_version":1,"version":"2024-05-01.1",
//    "created_at":"2024-05-01T12:00:00Z","features":["amount",...],
//    "thresholds":{"medium":40,"high":75},
//    "metadata":{ free JSON object: training period, data digest, validation metrics... },
//    "xgboost":{ the XGBoost JSON model object }}
//
// Parsing validates every field and the embedded model, and returns an error naming the field
// and the problem; unknown top-level fields are rejected so that typos do not pass silently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "model/tree_ensemble.h"

namespace fraudguard {

inline constexpr int kModelFileFormatVersion = 1;
inline constexpr size_t kMaxModelVersionLength = 128;
inline constexpr size_t kMaxFeatureNameLength = 256;

struct ModelFile {
  std::string version;
  std::string created_at;  // RFC 3339, for example "2024-05-01T12:00:00Z"
  std::vector<std::string> feature_names;
  double medium_threshold = 0;       // risk score (0-100) at or above which the level is medium
  double high_threshold = 0;         // ... high
  std::string metadata_json = "{}";  // the "metadata" object, serialised, "{}" when absent
  TreeEnsemble ensemble;
};

Result<ModelFile> ParseModelFile(std::string_view text);
// Reads and parses `path`; errors name the path.
Result<ModelFile> LoadModelFile(const std::string& path);
// Writes `file`'s metadata around `xgboost_json` (the model `file.ensemble` was parsed from).
std::string SerializeModelFile(const ModelFile& file, std::string_view xgboost_json);

// True for "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" with plausible field ranges.
bool IsRfc3339Timestamp(std::string_view text);

}  // namespace fraudguard
