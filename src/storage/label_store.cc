#include "storage/label_store.h"

#include <sqlite3.h>

#include "core/log.h"

namespace fraudguard {
namespace {

constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS labels (
  transaction_id TEXT PRIMARY KEY NOT NULL,
  label TEXT NOT NULL,
  source TEXT NOT NULL,
  label_ms INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  action TEXT NOT NULL,
  amount REAL NOT NULL,
  currency TEXT NOT NULL,
  model_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_received_ms ON labels(received_ms);
)sql";

constexpr const char* kColumns =
    "transaction_id, label, source, label_ms, received_ms, action, amount, currency, "
    "model_version";

std::string SqliteError(sqlite3* db, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  return message;
}

void BindText(sqlite3_stmt* statement, int index, std::string_view text) {
  sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

std::string ColumnText(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  return text == nullptr
             ? std::string()
             : std::string(text, static_cast<size_t>(sqlite3_column_bytes(statement, column)));
}

LabelRecord ReadRow(sqlite3_stmt* statement) {
  LabelRecord record;
  record.transaction_id = ColumnText(statement, 0);
  record.label = ColumnText(statement, 1) == "fraud" ? FraudLabel::kFraud : FraudLabel::kLegitimate;
  record.source = ColumnText(statement, 2);
  record.label_ms = sqlite3_column_int64(statement, 3);
  record.received_ms = sqlite3_column_int64(statement, 4);
  record.action = ColumnText(statement, 5);
  record.amount = sqlite3_column_double(statement, 6);
  record.currency = ColumnText(statement, 7);
  record.model_version = ColumnText(statement, 8);
  return record;
}

}  // namespace

std::string_view FraudLabelName(FraudLabel label) {
  return label == FraudLabel::kFraud ? "fraud" : "legitimate";
}

Result<std::unique_ptr<LabelStore>> LabelStore::Open(const std::string& path) {
  std::unique_ptr<LabelStore> store(new LabelStore());
  if (sqlite3_open_v2(path.c_str(), &store->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    std::string error = SqliteError(store->db_, "opening label store '" + path + "'");
    store->Close();
    return Error{std::move(error)};
  }
  sqlite3_busy_timeout(store->db_, kBusyTimeoutMs);
  char* message = nullptr;
  if (sqlite3_exec(store->db_, kSchemaSql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = "label store '" + path + "': " + (message != nullptr ? message : "?");
    sqlite3_free(message);
    store->Close();
    return Error{std::move(error)};
  }
  const std::string insert = std::string("INSERT OR IGNORE INTO labels (") + kColumns +
                             ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
  const std::string select =
      std::string("SELECT ") + kColumns + " FROM labels WHERE transaction_id = ?";
  if (sqlite3_prepare_v2(store->db_, insert.c_str(), -1, &store->insert_stmt_, nullptr) !=
          SQLITE_OK ||
      sqlite3_prepare_v2(store->db_, select.c_str(), -1, &store->select_stmt_, nullptr) !=
          SQLITE_OK) {
    std::string error = SqliteError(store->db_, "label store: preparing statements");
    store->Close();
    return Error{std::move(error)};
  }
  LogInfo("label_store_opened").Field("path", path);
  return store;
}

LabelStore::~LabelStore() {
  Close();
}

void LabelStore::Close() {
  std::lock_guard lock(mutex_);
  sqlite3_finalize(insert_stmt_);
  sqlite3_finalize(select_stmt_);
  insert_stmt_ = nullptr;
  select_stmt_ = nullptr;
  if (db_ != nullptr) {
    sqlite3_close(db_);
    db_ = nullptr;
  }
}

Result<LabelOutcome> LabelStore::Insert(const LabelRecord& record, LabelRecord& existing) {
  std::lock_guard lock(mutex_);
  if (insert_stmt_ == nullptr) {
    return Error{"label store is closed"};
  }
  BindText(insert_stmt_, 1, record.transaction_id);
  BindText(insert_stmt_, 2, FraudLabelName(record.label));
  BindText(insert_stmt_, 3, record.source);
  sqlite3_bind_int64(insert_stmt_, 4, record.label_ms);
  sqlite3_bind_int64(insert_stmt_, 5, record.received_ms);
  BindText(insert_stmt_, 6, record.action);
  sqlite3_bind_double(insert_stmt_, 7, record.amount);
  BindText(insert_stmt_, 8, record.currency);
  BindText(insert_stmt_, 9, record.model_version);
  const int code = sqlite3_step(insert_stmt_);
  sqlite3_reset(insert_stmt_);
  sqlite3_clear_bindings(insert_stmt_);
  if (code != SQLITE_DONE) {
    return Error{SqliteError(db_, "storing the label of '" + record.transaction_id + "'")};
  }
  if (sqlite3_changes(db_) == 1) {
    return LabelOutcome::kStored;
  }
  auto found = FindLocked(record.transaction_id);
  if (!found) {
    return Error{found.error()};
  }
  if (!found->has_value()) {
    return Error{"label store: the label of '" + record.transaction_id + "' vanished"};
  }
  existing = **found;
  return existing.label == record.label ? LabelOutcome::kDuplicate : LabelOutcome::kConflict;
}

Result<std::optional<LabelRecord>> LabelStore::Find(std::string_view transaction_id) {
  std::lock_guard lock(mutex_);
  return FindLocked(transaction_id);
}

Result<std::optional<LabelRecord>> LabelStore::FindLocked(std::string_view transaction_id) {
  if (select_stmt_ == nullptr) {
    return Error{"label store is closed"};
  }
  BindText(select_stmt_, 1, transaction_id);
  const int code = sqlite3_step(select_stmt_);
  std::optional<LabelRecord> result;
  if (code == SQLITE_ROW) {
    result = ReadRow(select_stmt_);
  }
  sqlite3_reset(select_stmt_);
  sqlite3_clear_bindings(select_stmt_);
  if (code != SQLITE_ROW && code != SQLITE_DONE) {
    return Error{SqliteError(db_, "finding a label")};
  }
  return result;
}

Status LabelStore::ForEach(const std::function<void(const LabelRecord&)>& visit) {
  std::lock_guard lock(mutex_);
  if (db_ == nullptr) {
    return Error{"label store is closed"};
  }
  const std::string sql = std::string("SELECT ") + kColumns + " FROM labels ORDER BY received_ms";
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    return Error{SqliteError(db_, "label store: preparing the scan")};
  }
  int code = SQLITE_ROW;
  while ((code = sqlite3_step(statement)) == SQLITE_ROW) {
    visit(ReadRow(statement));
  }
  sqlite3_finalize(statement);
  if (code != SQLITE_DONE) {
    return Error{SqliteError(db_, "label store: reading labels")};
  }
  return OkStatus();
}

}  // namespace fraudguard
