// Feedback labels (fraud or legitimate, learnt later from chargebacks, reviews or customers),
// kept durably in SQLite, one per transaction id.
//
// A label row carries a copy of what the online accuracy tracker needs from the decision it
// labels (action, amount, currency, model version), so that the tracker can be rebuilt at start
// from this table alone, without a join against the much larger decision log.
//
// Feedback is not on the scoring path: every call runs one prepared statement under a mutex.
//
// TODO: labels are never pruned and `serve` reads them all at start to rebuild the tracker's
// revenue totals; past millions of labels the start would want those totals kept in SQL.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace fraudguard {

enum class FraudLabel : uint8_t { kFraud, kLegitimate };
std::string_view FraudLabelName(FraudLabel label);  // "fraud" | "legitimate"

struct LabelRecord {
  std::string transaction_id;
  FraudLabel label = FraudLabel::kLegitimate;
  std::string source;       // chargeback, review, customer...; may be empty
  int64_t label_ms = 0;     // when the label became true (the caller's timestamp, or now)
  int64_t received_ms = 0;  // when the service stored it; the accuracy window is over this time
  // Copied from the decision that is labelled.
  std::string action;  // approve | review | decline
  double amount = 0;
  std::string currency;
  std::string model_version;

  bool operator==(const LabelRecord&) const = default;
};

enum class LabelOutcome : uint8_t {
  kStored,     // a new label
  kDuplicate,  // the same label was already stored; nothing changed
  kConflict,   // a different label was already stored; it stays
};

class LabelStore {
public:
  // Opens (or creates) the database file.
  static Result<std::unique_ptr<LabelStore>> Open(const std::string& path);
  ~LabelStore();
  LabelStore(const LabelStore&) = delete;
  LabelStore& operator=(const LabelStore&) = delete;

  // Stores `record` unless its transaction already has a label; then `existing` gets the
  // stored one and the outcome says whether it agrees.
  Result<LabelOutcome> Insert(const LabelRecord& record, LabelRecord& existing);
  Result<std::optional<LabelRecord>> Find(std::string_view transaction_id);
  // Calls `visit` for every stored label, oldest received first.
  Status ForEach(const std::function<void(const LabelRecord&)>& visit);
  void Close();

private:
  LabelStore() = default;
  Result<std::optional<LabelRecord>> FindLocked(std::string_view transaction_id);

  std::mutex mutex_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_stmt_ = nullptr;
  sqlite3_stmt* select_stmt_ = nullptr;
};

}  // namespace fraudguard
