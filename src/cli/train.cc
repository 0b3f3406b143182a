#include "cli/train.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <vector>

#include <openssl/evp.h>

#include "core/calendar_day.h"
#include "core/clock.h"
#include "core/file_write.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "evaluation/detection_metrics.h"
#include "evaluation/drift.h"
#include "features/feature_schema.h"
#include "features/feature_store.h"
#include "model/model_file.h"
#include "sim/progress_bar.h"

namespace fraudguard {
namespace {

// Every feature the store computes, in schema order, as the model's inputs.
struct FeatureMatrix {
  std::vector<float> rows;  // row-major, kFeatureCount per row
  std::vector<float> labels;
  std::vector<int64_t> timestamps;
  size_t num_rows = 0;
  size_t warmup_rows = 0;  // replayed before the period, not trained on
};

// The training period as days; unset ends are open.
struct TrainingPeriod {
  std::optional<int64_t> from_day;
  std::optional<int64_t> to_day;
};

Result<TrainingPeriod> ParsePeriod(const TrainCommandOptions& options) {
  TrainingPeriod period;
  if (!options.from.empty()) {
    auto day = ParseDay("--from", options.from);
    if (!day) {
      return Error{day.error()};
    }
    period.from_day = *day;
  }
  if (!options.to.empty()) {
    auto day = ParseDay("--to", options.to);
    if (!day) {
      return Error{day.error()};
    }
    period.to_day = *day;
  }
  if (period.from_day && period.to_day && *period.from_day > *period.to_day) {
    return Error{"--from " + options.from + " is after --to " + options.to};
  }
  return period;
}

// Ends the digest, frees the context and returns the digest in lower-case hex.
std::string FinishHexDigest(EVP_MD_CTX* context) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4U]);
    hex.push_back(kHex[digest[i] & 0xFU]);
  }
  return hex;
}

Result<std::string> Sha256OfFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Error{"cannot read " + path};
  }
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(context, buffer.data(), static_cast<size_t>(file.gcount()));
  }
  return FinishHexDigest(context);
}

std::string Sha256OfText(std::string_view text) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  EVP_DigestUpdate(context, text.data(), text.size());
  return FinishHexDigest(context);
}

std::string FormatRfc3339(int64_t epoch_ms) {
  const std::time_t seconds = epoch_ms / 1000;
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

// SOURCE_DATE_EPOCH, when set, makes the model file's creation time reproducible.
int64_t CreationTimeMs() {
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch != nullptr) {
    return std::strtoll(epoch, nullptr, 10) * 1000;
  }
  return SystemClock::Instance().NowMillis();
}

Result<FeatureMatrix> ReplayFeatures(const TrainCommandOptions& options,
                                     const TrainingPeriod& period) {
  auto reader = TransactionCsvReader::Open(options.input, options.schema);
  if (!reader) {
    return Error{reader.error()};
  }
  FeatureStoreOptions store_options;  // in memory: training must not touch the serving state
  store_options.worker_threads = 1;
  ManualClock clock;
  auto store = FeatureStore::Open(store_options, clock);
  if (!store) {
    return Error{store.error()};
  }
  FeatureMatrix matrix;
  FeatureVector features{};
  LabelledTransaction row;
  ProgressBar progress("features");
  uint64_t rows_read = 0;
  while (true) {
    auto more = (*reader)->Next(row);
    if (!more) {
      return Error{options.input + ": " + more.error()};
    }
    if (!*more) {
      break;
    }
    ++rows_read;
    const int64_t day = DayOf(row.txn.timestamp_ms);
    if (period.to_day && day > *period.to_day) {
      break;  // the rest of the file comes after the period
    }
    clock.Set(row.txn.timestamp_ms);
    (*store)->UpdateAndRead(row.txn, features, 0);
    if (row.fraud) {
      // Read by the merchant features only once it is kLabelDelayDays old, as in production.
      (*store)->RecordFraudLabel(row.txn.merchant_id, row.txn.timestamp_ms, 0);
    }
    if (period.from_day && day < *period.from_day) {
      // Before the period: it warms the feature windows, as production history would.
      ++matrix.warmup_rows;
      progress.Update(rows_read, (*reader)->progress());
      continue;
    }
    matrix.rows.insert(matrix.rows.end(), features.begin(), features.end());
    matrix.labels.push_back(row.fraud ? 1.0F : 0.0F);
    matrix.timestamps.push_back(row.txn.timestamp_ms);
    ++matrix.num_rows;
    progress.Update(rows_read, (*reader)->progress());
  }
  progress.Finish();
  if (matrix.num_rows < 1000) {
    const std::string where = options.from.empty() && options.to.empty()
                                  ? std::string()
                                  : " in the period " +
                                        (options.from.empty() ? "start" : options.from) + " .. " +
                                        (options.to.empty() ? "end" : options.to);
    return Error{options.input + ": " + std::to_string(matrix.num_rows) + " transactions" + where +
                 " are too few to train on (at least 1000)"};
  }
  return matrix;
}

}  // namespace

double RiskScoreFromProbability(double probability) {
  return std::round(probability * 10000.0) / 100.0;
}

Status RunTrain(const TrainCommandOptions& options) {
  if (!(options.validation_share > 0.0 && options.validation_share < 0.9)) {
    return Error{"--validation-share must be between 0 and 0.9"};
  }
  if (!(options.decline_fpr > 0.0 && options.decline_fpr < options.review_fpr &&
        options.review_fpr < 0.5)) {
    return Error{"false positive budgets must satisfy 0 < decline < review < 0.5"};
  }
  auto digest = Sha256OfFile(options.input == "-" ? "/dev/null" : options.input);
  auto period = ParsePeriod(options);
  if (!period) {
    return Error{period.error()};
  }
  auto replayed = ReplayFeatures(options, *period);
  if (!replayed) {
    return Error{replayed.error()};
  }
  FeatureMatrix& matrix = *replayed;

  // Validation is the most recent part of the period, as production would meet the model.
  const int64_t first = matrix.timestamps.front();
  const int64_t last = matrix.timestamps.back();
  const auto split_time = static_cast<int64_t>(
      static_cast<double>(last) - static_cast<double>(last - first) * options.validation_share);
  size_t split = 0;
  while (split < matrix.num_rows && matrix.timestamps[split] < split_time) {
    ++split;
  }
  const size_t train_rows = split;
  const size_t validation_rows = matrix.num_rows - split;
  if (train_rows < 500 || validation_rows < 500) {
    return Error{"the training and validation periods need at least 500 transactions each"};
  }
  const std::span<const float> all_rows(matrix.rows);
  const std::span<const float> all_labels(matrix.labels);
  const auto train_x = all_rows.subspan(0, train_rows * kFeatureCount);
  const auto train_y = all_labels.subspan(0, train_rows);
  const auto valid_x = all_rows.subspan(train_rows * kFeatureCount);
  const auto valid_y = all_labels.subspan(train_rows);

  TrainingOptions training = options.training;
  training.feature_names.clear();
  for (const auto name : FeatureNames()) {
    training.feature_names.emplace_back(name);
  }
  training.validation_rows = valid_x;
  training.validation_num_rows = validation_rows;
  training.validation_labels = valid_y;
  ProgressBar progress("train", static_cast<uint64_t>(training.rounds));
  training.progress = [&progress](int round, int /*total*/) {
    progress.Update(static_cast<uint64_t>(round));
  };
  auto xgboost_json = TrainXgboost(train_x, train_rows, kFeatureCount, train_y, training);
  progress.Finish();
  if (!xgboost_json) {
    return Error{"training failed: " + xgboost_json.error()};
  }
  auto ensemble = TreeEnsemble::FromXgboostJson(*xgboost_json);
  if (!ensemble) {
    return Error{"the trained model does not load: " + ensemble.error()};
  }

  // Scores on the validation period, on the API's scale.
  std::vector<float> scores(validation_rows);
  for (size_t i = 0; i < validation_rows; ++i) {
    const double probability =
        ensemble->PredictProbability(valid_x.subspan(i * kFeatureCount, kFeatureCount));
    scores[i] = static_cast<float>(RiskScoreFromProbability(probability));
  }
  const DetectionMetrics metrics = ComputeDetectionMetrics(scores, valid_y);
  double medium = ThresholdForFalsePositiveRate(scores, valid_y, options.review_fpr);
  double high = ThresholdForFalsePositiveRate(scores, valid_y, options.decline_fpr);
  // Thresholds live on the two-decimal scale of the score, and must stay ordered.
  medium = std::clamp(std::ceil(medium * 100.0) / 100.0, 0.01, 99.98);
  high = std::clamp(std::ceil(high * 100.0) / 100.0, medium + 0.01, 99.99);

  ModelFile file;
  file.created_at = FormatRfc3339(CreationTimeMs());
  const std::string digest_text = digest ? *digest : "";
  // The version names what was learnt, not only the data: the same file trained with other
  // features or settings gives other trees, hence another version.
  file.version = "gbt-" + file.created_at.substr(0, 10) + "-" +
                 Sha256OfText(digest_text + "\n" + *xgboost_json).substr(0, 8);
  file.feature_names = training.feature_names;
  file.medium_threshold = medium;
  file.high_threshold = high;
  std::string metadata;
  JsonWriter json(metadata);
  json.BeginObject()
      .Key("training")
      .BeginObject()
      .Field("input", options.input)
      .Field("data_sha256", digest_text)
      .Field("transactions", static_cast<int64_t>(matrix.num_rows))
      .Field("period_start", FormatRfc3339(first))
      .Field("period_end", FormatRfc3339(last))
      .Field("validation_start", FormatRfc3339(split_time))
      .Field("train_rows", static_cast<int64_t>(train_rows))
      .Field("validation_rows", static_cast<int64_t>(validation_rows))
      .Field("rounds", training.rounds)
      .Field("max_depth", training.max_depth)
      .Field("learning_rate", training.learning_rate)
      .Field("seed", static_cast<int64_t>(training.seed));
  if (!options.from.empty() || !options.to.empty()) {
    // Only for a chosen period, so that a whole-file training writes the same file as before.
    json.Field("period_from", options.from)
        .Field("period_to", options.to)
        .Field("warmup_transactions", static_cast<int64_t>(matrix.warmup_rows));
  }
  json.EndObject()
      .Key("validation")
      .BeginObject()
      .Field("positives", static_cast<int64_t>(metrics.positives))
      .Field("negatives", static_cast<int64_t>(metrics.negatives))
      .Field("auc_roc", metrics.auc_roc)
      .Field("average_precision", metrics.average_precision)
      .Field("detection_at_fpr_1", metrics.detection_at_fpr_1)
      .Field("detection_at_fpr_2", metrics.detection_at_fpr_2)
      .Field("review_fpr_budget", options.review_fpr)
      .Field("decline_fpr_budget", options.decline_fpr)
      .Field("review_or_decline_detection", DetectionRateAt(scores, valid_y, medium))
      .Field("review_or_decline_fpr", FalsePositiveRateAt(scores, valid_y, medium))
      .Field("decline_detection", DetectionRateAt(scores, valid_y, high))
      .Field("decline_fpr", FalsePositiveRateAt(scores, valid_y, high))
      .EndObject()
      .Key("drift_reference");
  // Serving measures drift against the validation period: the newest traffic the model saw.
  AppendDriftReferenceJson(BuildDriftReference(scores, valid_x, FeatureNames(), *ensemble), json);
  json.EndObject();
  file.metadata_json = metadata;
  file.ensemble = std::move(ensemble).value();

  const std::string text = SerializeModelFile(file, *xgboost_json);
  // Check the file we are about to write by reading it back the way `serve` will.
  if (auto check = ParseModelFile(text); !check) {
    return Error{"the model file written would not load: " + check.error()};
  }
  if (Status written = WriteFileReplacing(options.output, text); !written) {
    return written;
  }

  std::printf("model %s written to %s\n", file.version.c_str(), options.output.c_str());
  std::printf("  %-34s %zu (%zu training, %zu validation)\n", "transactions", matrix.num_rows,
              train_rows, validation_rows);
  if (matrix.warmup_rows > 0) {
    std::printf("  %-34s %zu (replayed before %s, not trained on)\n", "warm-up transactions",
                matrix.warmup_rows, options.from.c_str());
  }
  std::printf("  %-34s %zu frauds, %zu legitimate\n", "validation labels", metrics.positives,
              metrics.negatives);
  std::printf("  %-34s %.4f\n", "AUC ROC", metrics.auc_roc);
  std::printf("  %-34s %.4f\n", "average precision", metrics.average_precision);
  std::printf("  %-34s %.4f\n", "detection at 1% FPR", metrics.detection_at_fpr_1);
  std::printf("  %-34s %.4f\n", "detection at 2% FPR", metrics.detection_at_fpr_2);
  std::printf("  %-34s %.2f (FPR %.4f, detection %.4f)\n", "medium (review) threshold", medium,
              FalsePositiveRateAt(scores, valid_y, medium),
              DetectionRateAt(scores, valid_y, medium));
  std::printf("  %-34s %.2f (FPR %.4f, detection %.4f)\n", "high (decline) threshold", high,
              FalsePositiveRateAt(scores, valid_y, high), DetectionRateAt(scores, valid_y, high));
  LogInfo("model_trained")
      .Field("version", file.version)
      .Field("output", options.output)
      .Field("auc_roc", metrics.auc_roc)
      .Field("average_precision", metrics.average_precision);
  return OkStatus();
}

}  // namespace fraudguard
