#include "storage/decision_log.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/clock.h"
#include "core/log.h"
#include "features/feature_log.h"
#include "storage/decision_journal.h"

namespace fraudguard {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;
// Backoff between attempts at a failing batch: doubles from the first to the last value.
constexpr int64_t kFirstRetryDelayMs = 10;
constexpr int64_t kMaxRetryDelayMs = 1000;
// While closing, a failing batch is tried this many more times before it is abandoned, so that
// Close() cannot hang on a broken disk.
constexpr int kAttemptsWhileClosing = 3;
// A worker's journal buffer kept for a retry after a failed write, at most.
constexpr size_t kMaxUnjournalledBytes = size_t{64} << 20U;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
  transaction_id TEXT PRIMARY KEY NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  decided_ms INTEGER NOT NULL,
  amount REAL NOT NULL,
  currency TEXT NOT NULL,
  card_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  merchant_id TEXT NOT NULL,
  risk_score REAL NOT NULL,
  risk_level TEXT NOT NULL,
  action TEXT NOT NULL,
  model_version TEXT NOT NULL,
  server_time_us INTEGER NOT NULL,
  response_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_decided_ms ON decisions(decided_ms);
CREATE INDEX IF NOT EXISTS decisions_card_id ON decisions(card_id);
)sql";

constexpr const char* kColumns =
    "transaction_id, timestamp_ms, decided_ms, amount, currency, card_id, customer_id, "
    "merchant_id, risk_score, risk_level, action, model_version, server_time_us, response_json";

std::string SqliteError(sqlite3* db, std::string_view what) {
  std::string message(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : "out of memory";
  return message;
}

Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error(what);
    error += ": ";
    error += message != nullptr ? message : "unknown error";
    sqlite3_free(message);
    return Error{std::move(error)};
  }
  return OkStatus();
}

Status Prepare(sqlite3* db, const std::string& sql, sqlite3_stmt** statement) {
  if (sqlite3_prepare_v3(db, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         statement, nullptr) != SQLITE_OK) {
    return Error{SqliteError(db, "preparing '" + sql.substr(0, 40) + "...'")};
  }
  return OkStatus();
}

Result<sqlite3*> OpenConnection(const std::string& path) {
  sqlite3* db = nullptr;
  // Each connection is used by one thread at a time (the writer's by the writer thread, the
  // reader's under read_mutex_), so SQLite's own per-connection mutex is not needed.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string error = SqliteError(db, "opening decision log '" + path + "'");
    sqlite3_close(db);
    return Error{std::move(error)};
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return db;
}

void BindText(sqlite3_stmt* statement, int index, const std::string& text) {
  sqlite3_bind_text(statement, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

void BindRecord(sqlite3_stmt* statement, const DecisionRecord& record) {
  BindText(statement, 1, record.transaction_id);
  sqlite3_bind_int64(statement, 2, record.timestamp_ms);
  sqlite3_bind_int64(statement, 3, record.decided_ms);
  sqlite3_bind_double(statement, 4, record.amount);
  BindText(statement, 5, record.currency);
  BindText(statement, 6, record.card_id);
  BindText(statement, 7, record.customer_id);
  BindText(statement, 8, record.merchant_id);
  sqlite3_bind_double(statement, 9, record.risk_score);
  BindText(statement, 10, record.risk_level);
  BindText(statement, 11, record.action);
  BindText(statement, 12, record.model_version);
  sqlite3_bind_int64(statement, 13, record.server_time_us);
  BindText(statement, 14, record.response_json);
}

std::string ColumnText(sqlite3_stmt* statement, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
  return text == nullptr
             ? std::string()
             : std::string(text, static_cast<size_t>(sqlite3_column_bytes(statement, column)));
}

// Runs a statement that returns no rows, then resets it for the next use.
bool StepDone(sqlite3_stmt* statement) {
  const int code = sqlite3_step(statement);
  sqlite3_reset(statement);
  return code == SQLITE_DONE;
}

int64_t NanosToMillis(int64_t nanos) {
  return nanos / 1000000;
}

}  // namespace

DecisionLog::DecisionLog(DecisionLogOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<DecisionLog>> DecisionLog::Open(const DecisionLogOptions& options) {
  if (options.path.empty()) {
    return Error{"decision log: path is empty"};
  }
  if (options.batch_size == 0 || options.queue_capacity == 0 || options.flush_interval_ms <= 0) {
    return Error{"decision log: batch_size, queue_capacity and flush_interval_ms must be positive"};
  }
  std::unique_ptr<DecisionLog> log(new DecisionLog(options));
  if (Status opened = log->OpenDatabase(); !opened) {
    log->CloseDatabase();
    log->closed_ = true;
    return Error{opened.error()};
  }
  if (options.journal_writers > 0) {
    log->journal_buffers_.resize(static_cast<size_t>(options.journal_writers));
    if (Status recovered = log->RecoverJournal(); !recovered) {
      log->CloseDatabase();
      log->closed_ = true;
      return Error{recovered.error()};
    }
  }
  log->writer_ = std::thread([raw = log.get()] {
    pthread_setname_np(pthread_self(), "decision-log");  // seen in top and /proc
    raw->WriterLoop();
  });
  LogInfo("decision_log_opened")
      .Field("path", options.path)
      .Field("batch_size", static_cast<uint64_t>(options.batch_size))
      .Field("queue_capacity", static_cast<uint64_t>(options.queue_capacity));
  return log;
}

Status DecisionLog::OpenDatabase() {
  Result<sqlite3*> writer = OpenConnection(options_.path);
  if (!writer) {
    return Error{writer.error()};
  }
  write_db_ = *writer;
  const std::string where = "decision log '" + options_.path + "'";
  // A 32 MiB page cache (SQLite's default is 2 MiB) keeps the growing primary key index in
  // memory, so that the writer does not re-read its pages from the file for every batch.
  if (Status status = Exec(write_db_,
                           "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                           "PRAGMA cache_size=-32768;",
                           where + ": setting WAL mode");
      !status) {
    return status;
  }
  if (Status status = Exec(write_db_, kSchemaSql, where + ": creating schema"); !status) {
    return status;
  }

  // The schema version: recorded on first use, refused when a newer program wrote the file.
  sqlite3_stmt* version_stmt = nullptr;
  if (Status status = Prepare(write_db_, "SELECT MAX(version) FROM schema_version", &version_stmt);
      !status) {
    return Error{where + ": " + status.error()};
  }
  int64_t version = 0;
  bool has_version = false;
  if (sqlite3_step(version_stmt) == SQLITE_ROW &&
      sqlite3_column_type(version_stmt, 0) != SQLITE_NULL) {
    version = sqlite3_column_int64(version_stmt, 0);
    has_version = true;
  }
  sqlite3_finalize(version_stmt);
  if (!has_version) {
    const std::string insert =
        "INSERT INTO schema_version(version) VALUES (" + std::to_string(kSchemaVersion) + ")";
    if (Status status = Exec(write_db_, insert.c_str(), where + ": recording schema version");
        !status) {
      return status;
    }
  } else if (version != kSchemaVersion) {
    return Error{where + ": schema version " + std::to_string(version) + ", this program uses " +
                 std::to_string(kSchemaVersion)};
  }

  const std::string values =
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
  const std::string columns(kColumns);
  for (auto [sql, statement] : {
           std::pair{"INSERT OR IGNORE INTO decisions(" + columns + ")" + values, &insert_stmt_},
           std::pair{"INSERT OR REPLACE INTO decisions(" + columns + ")" + values, &replace_stmt_},
           std::pair{std::string("BEGIN"), &begin_stmt_},
           std::pair{std::string("COMMIT"), &commit_stmt_},
           std::pair{std::string("ROLLBACK"), &rollback_stmt_},
       }) {
    if (Status status = Prepare(write_db_, sql, statement); !status) {
      return Error{where + ": " + status.error()};
    }
  }

  Result<sqlite3*> reader = OpenConnection(options_.path);
  if (!reader) {
    return Error{reader.error()};
  }
  read_db_ = *reader;
  if (Status status =
          Prepare(read_db_, "SELECT " + columns + " FROM decisions WHERE transaction_id = ?1",
                  &select_stmt_);
      !status) {
    return Error{where + ": " + status.error()};
  }
  return OkStatus();
}

void DecisionLog::CloseDatabase() {
  for (sqlite3_stmt* statement :
       {insert_stmt_, replace_stmt_, begin_stmt_, commit_stmt_, rollback_stmt_, select_stmt_}) {
    sqlite3_finalize(statement);  // A no-op on nullptr.
  }
  insert_stmt_ = replace_stmt_ = begin_stmt_ = commit_stmt_ = rollback_stmt_ = select_stmt_ =
      nullptr;
  sqlite3_close(read_db_);
  sqlite3_close(write_db_);
  read_db_ = write_db_ = nullptr;
}

DecisionLog::~DecisionLog() {
  Status closed = Close();
  (void)closed;  // Close() has already logged any failure.
}

bool DecisionLog::Append(DecisionRecord record) {
  return Enqueue(std::move(record), false, -1);
}

bool DecisionLog::AppendReserved(DecisionRecord record, int writer) {
  return Enqueue(std::move(record), true, writer);
}

bool DecisionLog::Reserve(size_t count) {
  std::unique_lock lock(mutex_);
  if (!stopping_ &&
      queue_.size() + in_flight_count_ + reserved_ + count <= options_.queue_capacity) {
    reserved_ += count;
    return true;
  }
  RefuseLocked(lock, count);
  return false;
}

void DecisionLog::Unreserve(size_t count) {
  std::lock_guard lock(mutex_);
  reserved_ -= std::min(reserved_, count);
}

void DecisionLog::RefuseLocked(std::unique_lock<std::mutex>& lock, size_t count) {
  dropped_ += count;
  // One line when the queue becomes full, not one per refusal, which would flood the log.
  const bool first_refusal = !stopping_ && !queue_full_;
  queue_full_ = queue_full_ || !stopping_;
  const uint64_t dropped = dropped_;
  lock.unlock();
  if (first_refusal) {
    LogWarn("decision_log_queue_full")
        .Field("path", options_.path)
        .Field("capacity", static_cast<uint64_t>(options_.queue_capacity))
        .Field("dropped", dropped);
  }
}

bool DecisionLog::Enqueue(DecisionRecord record, bool reserved, int writer) {
  // Journalled and allocated before taking the lock, so that writers of the hot path contend
  // only for the queue operations themselves.
  std::string* journal = nullptr;
  size_t journal_mark = 0;
  if (writer >= 0 && static_cast<size_t>(writer) < journal_buffers_.size()) {
    journal = &journal_buffers_[static_cast<size_t>(writer)];
    journal_mark = journal->size();
    EncodeJournalRecord(record, *journal);
  }
  auto shared = std::make_shared<const DecisionRecord>(std::move(record));
  const int64_t now_ns = MonotonicNanos();
  std::unique_lock lock(mutex_);
  if (reserved && reserved_ > 0) {
    --reserved_;
  } else {
    reserved = false;
  }
  const size_t unwritten = queue_.size() + in_flight_count_ + reserved_;
  if (stopping_ || (!reserved && unwritten >= options_.queue_capacity)) {
    RefuseLocked(lock, 1);
    if (journal != nullptr) {
      journal->resize(journal_mark);  // a refused decision must not be replayed
    }
    return false;
  }
  // The map key views the record's own id, so a replaced entry is re-keyed with the new record.
  if (auto found = unwritten_.find(shared->transaction_id); found != unwritten_.end()) {
    unwritten_.erase(found);
  }
  unwritten_.emplace(shared->transaction_id, shared);
  queue_.push_back(Pending{std::move(shared), now_ns});
  ++accepted_;
  const bool batch_ready = queue_.size() == options_.batch_size;
  lock.unlock();
  if (batch_ready) {
    writer_wake_.notify_one();
  }
  return true;
}

Result<std::optional<DecisionRecord>> DecisionLog::Find(std::string_view transaction_id) const {
  {
    std::lock_guard lock(mutex_);
    if (auto found = unwritten_.find(transaction_id); found != unwritten_.end()) {
      return std::optional<DecisionRecord>(*found->second);
    }
  }
  // Not queued: either committed by the writer (which unindexes only after COMMIT) or unknown.
  std::lock_guard lock(read_mutex_);
  if (select_stmt_ == nullptr) {
    return Error{"decision log is closed"};
  }
  sqlite3_bind_text(select_stmt_, 1, transaction_id.data(), static_cast<int>(transaction_id.size()),
                    SQLITE_STATIC);
  const int code = sqlite3_step(select_stmt_);
  std::optional<DecisionRecord> result;
  if (code == SQLITE_ROW) {
    DecisionRecord record;
    record.transaction_id = ColumnText(select_stmt_, 0);
    record.timestamp_ms = sqlite3_column_int64(select_stmt_, 1);
    record.decided_ms = sqlite3_column_int64(select_stmt_, 2);
    record.amount = sqlite3_column_double(select_stmt_, 3);
    record.currency = ColumnText(select_stmt_, 4);
    record.card_id = ColumnText(select_stmt_, 5);
    record.customer_id = ColumnText(select_stmt_, 6);
    record.merchant_id = ColumnText(select_stmt_, 7);
    record.risk_score = sqlite3_column_double(select_stmt_, 8);
    record.risk_level = ColumnText(select_stmt_, 9);
    record.action = ColumnText(select_stmt_, 10);
    record.model_version = ColumnText(select_stmt_, 11);
    record.server_time_us = sqlite3_column_int64(select_stmt_, 12);
    record.response_json = ColumnText(select_stmt_, 13);
    result = std::move(record);
  } else if (code != SQLITE_DONE) {
    std::string error = SqliteError(read_db_, "finding decision");
    sqlite3_reset(select_stmt_);
    sqlite3_clear_bindings(select_stmt_);
    return Error{std::move(error)};
  }
  sqlite3_reset(select_stmt_);
  sqlite3_clear_bindings(select_stmt_);
  return result;
}

void DecisionLog::Flush() {
  std::unique_lock lock(mutex_);
  const uint64_t target = accepted_;
  if (finished_ >= target || writer_done_) {
    return;
  }
  flush_requested_ = true;
  writer_wake_.notify_one();
  flushed_.wait(lock, [&] { return finished_ >= target || writer_done_; });
}

Status DecisionLog::Close() {
  std::lock_guard close_lock(close_mutex_);
  if (closed_) {
    return OkStatus();
  }
  closed_ = true;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  writer_wake_.notify_one();
  if (writer_.joinable()) {
    writer_.join();
  }
  uint64_t abandoned = 0;
  uint64_t written = 0;
  {
    std::lock_guard lock(mutex_);
    abandoned = abandoned_;
    written = written_;
  }
  {
    std::lock_guard lock(read_mutex_);
    CloseDatabase();
  }
  {
    // Everything accepted is in SQLite unless some was abandoned: then the journal files stay
    // for the next start to replay.
    std::lock_guard journal_lock(journal_mutex_);
    if (journal_fd_ >= 0) {
      ::close(journal_fd_);
      journal_fd_ = -1;
      if (abandoned == 0) {
        for (const FullJournal& full : full_journals_) {
          ::unlink(JournalPath(full.number).c_str());
        }
        full_journals_.clear();
        ::unlink(JournalPath(journal_number_).c_str());
      }
    }
  }
  if (abandoned > 0) {
    LogError("decision_log_closed_with_loss")
        .Field("path", options_.path)
        .Field("abandoned", abandoned);
    return Error{"decision log '" + options_.path + "': " + std::to_string(abandoned) +
                 " decisions could not be written before closing"};
  }
  LogInfo("decision_log_closed").Field("path", options_.path).Field("written", written);
  return OkStatus();
}

DecisionLog::Stats DecisionLog::stats() const {
  std::lock_guard lock(mutex_);
  int64_t oldest_ns = 0;
  if (in_flight_count_ > 0) {
    oldest_ns = in_flight_oldest_ns_;
  } else if (!queue_.empty()) {
    oldest_ns = queue_.front().enqueued_ns;
  }
  const int64_t lag_ms =
      oldest_ns == 0 ? 0 : std::max<int64_t>(0, NanosToMillis(MonotonicNanos() - oldest_ns));
  return Stats{.queued = queue_.size() + in_flight_count_,
               .written = written_,
               .dropped = dropped_,
               .write_errors = write_errors_,
               .lag_ms = lag_ms,
               .replaced = replaced_};
}

std::string DecisionLog::JournalPath(uint64_t number) const {
  return options_.path + ".pending-" + std::to_string(number);
}

Status DecisionLog::OpenJournalFile(uint64_t number) {
  const std::string path = JournalPath(number);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error{"decision journal '" + path + "': " + std::strerror(errno)};
  }
  if (journal_fd_ >= 0) {
    ::close(journal_fd_);
  }
  journal_fd_ = fd;
  journal_number_ = number;
  journal_bytes_ = 0;
  return OkStatus();
}

Status DecisionLog::RecoverJournal() {
  namespace fs = std::filesystem;
  const fs::path db_path(options_.path);
  const fs::path dir = db_path.has_parent_path() ? db_path.parent_path() : fs::path(".");
  const std::string prefix = db_path.filename().string() + ".pending-";
  std::vector<std::pair<uint64_t, std::string>> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) {
      continue;
    }
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    files.emplace_back(std::stoull(digits), entry.path().string());
  }
  if (ec) {
    return Error{"decision journal: listing '" + dir.string() + "': " + ec.message()};
  }
  std::sort(files.begin(), files.end());
  uint64_t next_number = 0;
  uint64_t replayed = 0;
  uint64_t torn_bytes = 0;
  for (const auto& [number, path] : files) {
    auto data = ReadWholeFile(path, size_t{1} << 32U);
    if (!data) {
      return Error{"decision journal: " + data.error()};
    }
    std::vector<DecisionRecord> records;
    const size_t valid = DecodeJournal(*data, records);
    torn_bytes += data->size() - valid;
    // Replayed in file order with replace semantics: a record that did reach SQLite before the
    // crash is rewritten with itself. Each worker's records are in the order it accepted them;
    // two workers deciding the same transaction id at once may be replayed in either order.
    if (!StepDone(begin_stmt_)) {
      return Error{SqliteError(write_db_, "decision journal: BEGIN")};
    }
    for (const DecisionRecord& record : records) {
      BindRecord(replace_stmt_, record);
      const bool ok = StepDone(replace_stmt_);
      sqlite3_clear_bindings(replace_stmt_);
      if (!ok) {
        std::string error = SqliteError(write_db_, "decision journal: replaying '" + path + "'");
        StepDone(rollback_stmt_);
        return Error{std::move(error)};
      }
    }
    if (!StepDone(commit_stmt_)) {
      std::string error = SqliteError(write_db_, "decision journal: COMMIT");
      StepDone(rollback_stmt_);
      return Error{std::move(error)};
    }
    replayed += records.size();
    next_number = std::max(next_number, number + 1);
  }
  // Only once every file is committed to SQLite are they deleted.
  for (const auto& file : files) {
    ::unlink(file.second.c_str());
  }
  if (!files.empty()) {
    LogInfo("decision_journal_replayed")
        .Field("path", options_.path)
        .Field("files", static_cast<uint64_t>(files.size()))
        .Field("decisions", replayed)
        .Field("torn_bytes", torn_bytes);
  }
  std::lock_guard journal_lock(journal_mutex_);
  return OpenJournalFile(next_number);
}

Status DecisionLog::CommitJournal(int writer) {
  if (writer < 0 || static_cast<size_t>(writer) >= journal_buffers_.size()) {
    return OkStatus();
  }
  std::string& buffer = journal_buffers_[static_cast<size_t>(writer)];
  if (buffer.empty()) {
    return OkStatus();
  }
  std::lock_guard journal_lock(journal_mutex_);
  if (journal_fd_ < 0) {
    buffer.clear();
    return Error{"decision journal is closed"};
  }
  size_t written = 0;
  Status status = WriteFully(journal_fd_, buffer, written);
  journal_bytes_ += written;
  if (!status) {
    // What reached the file may end in a torn record, after which a replay of that file stops:
    // the whole buffer is kept and written again, next time, to a fresh file (a record replayed
    // twice is harmless). Past the bound it is dropped rather than grow without limit.
    const std::string error =
        "decision journal '" + JournalPath(journal_number_) + "': " + status.error();
    StartNextJournalLocked();
    if (buffer.size() > kMaxUnjournalledBytes) {
      // Logged here, whatever the caller logs: these decisions lose their crash protection.
      LogError("decision_journal_buffer_dropped")
          .Field("writer", writer)
          .Field("bytes", static_cast<uint64_t>(buffer.size()))
          .Field("error", error);
      buffer.clear();
      return Error{error + "; dropped the unjournalled decisions of this worker"};
    }
    return Error{error};
  }
  buffer.clear();
  if (journal_bytes_ >= options_.journal_rotate_bytes) {
    StartNextJournalLocked();
  }
  return OkStatus();
}

void DecisionLog::StartNextJournalLocked() {
  // Every record in the current file was accepted before this point, so the file can go once
  // that many records are written.
  uint64_t accepted = 0;
  {
    std::lock_guard lock(mutex_);
    accepted = accepted_;
  }
  const uint64_t full_number = journal_number_;
  if (Status opened = OpenJournalFile(full_number + 1); !opened) {
    LogWarn("decision_journal_rotate_failed").Field("error", opened.error());
    return;  // keeps writing to the current file
  }
  full_journals_.push_back(FullJournal{full_number, accepted});
}

void DecisionLog::RetireJournals(uint64_t written_through) {
  std::lock_guard journal_lock(journal_mutex_);
  while (!full_journals_.empty() && full_journals_.front().accepted_before <= written_through) {
    ::unlink(JournalPath(full_journals_.front().number).c_str());
    full_journals_.erase(full_journals_.begin());
  }
}

bool DecisionLog::WriteBatch(const std::vector<Pending>& batch,
                             uint64_t& replaced,
                             std::string& error) {
  replaced = 0;
  if (!StepDone(begin_stmt_)) {
    error = SqliteError(write_db_, "BEGIN");
    return false;
  }
  for (const Pending& pending : batch) {
    BindRecord(insert_stmt_, *pending.record);
    const bool inserted = StepDone(insert_stmt_);
    sqlite3_clear_bindings(insert_stmt_);
    bool ok = inserted;
    if (inserted && sqlite3_changes(write_db_) == 0) {
      // The id is already stored: this decision replaces it.
      BindRecord(replace_stmt_, *pending.record);
      ok = StepDone(replace_stmt_);
      sqlite3_clear_bindings(replace_stmt_);
      ++replaced;
    }
    if (!ok) {
      error = SqliteError(write_db_, "writing decision '" + pending.record->transaction_id + "'");
      StepDone(rollback_stmt_);
      return false;
    }
  }
  if (!StepDone(commit_stmt_)) {
    error = SqliteError(write_db_, "COMMIT");
    StepDone(rollback_stmt_);
    return false;
  }
  return true;
}

void DecisionLog::WriterLoop() {
  const auto interval = std::chrono::milliseconds(options_.flush_interval_ms);
  std::vector<Pending> batch;
  batch.reserve(options_.batch_size);
  int failures = 0;          // Consecutive failed attempts at the current batch.
  int attempts_closing = 0;  // Attempts at the current batch since Close began.
  std::unique_lock lock(mutex_);
  while (true) {
    if (batch.empty()) {
      writer_wake_.wait_for(lock, interval, [&] {
        return stopping_ || flush_requested_ || queue_.size() >= options_.batch_size;
      });
      if (queue_.empty()) {
        flush_requested_ = false;
        if (stopping_) {
          break;
        }
        continue;
      }
      const size_t take = std::min(queue_.size(), options_.batch_size);
      in_flight_oldest_ns_ = queue_.front().enqueued_ns;
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_flight_count_ = batch.size();
    }

    lock.unlock();
    uint64_t replaced = 0;
    std::string error;
    const bool ok = WriteBatch(batch, replaced, error);
    lock.lock();

    if (ok) {
      for (const Pending& pending : batch) {
        // Unindex only if no newer version of the id was appended meanwhile.
        auto found = unwritten_.find(pending.record->transaction_id);
        if (found != unwritten_.end() && found->second == pending.record) {
          unwritten_.erase(found);
        }
      }
      written_ += batch.size();
      written_through_ += batch.size();
      finished_ += batch.size();
      replaced_ += replaced;
      if (failures > 0) {
        LogInfo("decision_log_write_recovered").Field("failed_attempts", failures);
      }
      failures = 0;
      attempts_closing = 0;
      batch.clear();
      in_flight_count_ = 0;
      if (queue_full_ && queue_.size() < options_.queue_capacity / 2) {
        queue_full_ = false;
        LogInfo("decision_log_queue_recovered")
            .Field("path", options_.path)
            .Field("queued", static_cast<uint64_t>(queue_.size()));
      }
      flushed_.notify_all();
      if (!journal_buffers_.empty()) {
        const uint64_t written_through = written_through_;
        lock.unlock();
        RetireJournals(written_through);
        lock.lock();
      }
      continue;
    }

    ++write_errors_;
    ++failures;
    LogWarn("decision_log_write_failed")
        .Field("path", options_.path)
        .Field("error", error)
        .Field("rows", static_cast<uint64_t>(batch.size()))
        .Field("attempt", failures);
    if (stopping_ && ++attempts_closing > kAttemptsWhileClosing) {
      // Closing on a disk that keeps failing: give up rather than hang the shutdown.
      uint64_t lost = batch.size() + queue_.size();
      abandoned_ += lost;
      dropped_ += lost;
      finished_ += lost;
      batch.clear();
      queue_.clear();
      unwritten_.clear();
      in_flight_count_ = 0;
      break;
    }
    // The batch is kept and retried; meanwhile Append keeps queueing until the queue is full.
    const int64_t delay_ms =
        std::min(kMaxRetryDelayMs, kFirstRetryDelayMs << std::min(failures - 1, 10));
    if (stopping_) {
      writer_wake_.wait_for(lock, std::chrono::milliseconds(delay_ms));
    } else {
      writer_wake_.wait_for(lock, std::chrono::milliseconds(delay_ms), [&] { return stopping_; });
    }
  }
  writer_done_ = true;
  flushed_.notify_all();
}

}  // namespace fraudguard
