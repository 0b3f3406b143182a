#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "model/xgboost_trainer.h"
#include "sim/csv.h"

namespace fraudguard {

struct TrainCommandOptions {
  std::string input;  // CSV: FraudGuard's schema or the handbook's
  CsvSchema schema = CsvSchema::kAuto;
  std::string output;  // model file to write
  // Training period, inclusive days "YYYY-MM-DD" (UTC); empty: the whole file. Rows before
  // `from` are replayed to warm the feature windows but not trained on; reading stops after `to`.
  std::string from;
  std::string to;
  double validation_share = 0.2;  // the most recent share of the period, by time
  double review_fpr = 0.02;       // false positive budget of medium risk and above (review)
  double decline_fpr = 0.005;     // ... of high risk (decline)
  TrainingOptions training;
};

// Replays the CSV through the feature store that serves, trains with XGBoost, picks thresholds
// on the validation period and writes the model file. Prints a summary table on stdout.
Status RunTrain(const TrainCommandOptions& options);

// Risk score (0-100, two decimals) from a model probability: the scale the API returns.
double RiskScoreFromProbability(double probability);

}  // namespace fraudguard
