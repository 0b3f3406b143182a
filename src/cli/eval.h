#pragma once

#include <string>

#include "core/result.h"
#include "sim/csv.h"

namespace fraudguard {

struct EvalCommandOptions {
  std::string input;  // labelled CSV: FraudGuard's schema or the handbook's
  CsvSchema schema = CsvSchema::kAuto;
  std::string model_path = "models/default.json";
  std::string rules_path;  // empty: no rules, the model alone decides
  std::string from;        // first evaluated day, YYYY-MM-DD (UTC); empty: the file's first
  std::string to;          // last evaluated day, inclusive; empty: the file's last
  int label_delay_days = 7;
  // Frauds this many days before the delay preceding the evaluation period, and later ones
  // as they become known, mark a card known compromised (the handbook's training week).
  int known_label_days = 7;
  size_t card_precision_k = 100;
  bool json = false;
  std::string plot_path;  // precision-recall curve as SVG; empty: none
  // Every transaction of the period with its decision, label and whether the test-set rule
  // excluded it, as CSV: to see which frauds were missed and why. Empty: none.
  std::string scores_path;
};

// Replays the CSV in time order through a fresh in-memory feature store and the production
// Scorer, and reports detection quality over the evaluation period: a table on stdout, or JSON
// with `json`. Errors name the file and, for a bad CSV, the line and the column.
Status RunEval(const EvalCommandOptions& options);

}  // namespace fraudguard
