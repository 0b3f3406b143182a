// The decision log: every decision the service returns, kept durably in SQLite so that it can be
// looked up later by transaction id (for audits, disputes and feedback labels).
//
// Append() only puts the record in an in-memory queue; a background writer thread drains the
// queue in batches, one SQLite transaction per batch, so no disk write sits on the request path.
// Records that are queued but not yet written are still visible to Find().
//
// Table `decisions` (transaction_id primary key; indexes on decided_ms and card_id) and a
// `schema_version` table recording the layout version.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace fraudguard {

struct DecisionRecord {
  std::string transaction_id;
  int64_t timestamp_ms = 0;  // The transaction's time.
  int64_t decided_ms = 0;    // When the service decided.
  double amount = 0;
  std::string currency, card_id, customer_id, merchant_id;
  double risk_score = 0;   // 0-100.
  std::string risk_level;  // low | medium | high
  std::string action;      // approve | review | decline
  std::string model_version;
  int64_t server_time_us = 0;
  std::string response_json;  // The exact response body returned to the caller.

  bool operator==(const DecisionRecord&) const = default;
};

struct DecisionLogOptions {
  std::string path;                // SQLite file; created when missing.
  size_t batch_size = 512;         // Rows per SQLite transaction.
  int64_t flush_interval_ms = 50;  // Longest a record waits before the writer picks it up.
  // Records appended but not yet written, at most. Beyond it Append() returns false and the
  // caller counts, logs and answers 503 (the service is degraded, not silently losing decisions).
  size_t queue_capacity = 200000;
  // The crash journal (storage/decision_journal.h), on when this is above 0: one buffer per
  // writer index (an HTTP worker), written to "<path>.pending-<n>" by CommitJournal. A file is
  // deleted once everything in it is in SQLite; a new one is started past this size.
  int journal_writers = 0;
  size_t journal_rotate_bytes = size_t{16} << 20U;
};

class DecisionLog {
public:
  // Opens (or creates) the database, checks the schema version and starts the writer thread.
  static Result<std::unique_ptr<DecisionLog>> Open(const DecisionLogOptions& options);
  ~DecisionLog();  // Closes the log if Close() was not called.
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  // Non-blocking enqueue; thread-safe. False when the queue is full or the log is closed.
  // A repeated transaction id replaces the earlier record.
  bool Append(DecisionRecord record);
  // Holds room in the queue for `count` records, so that a caller can find out whether its
  // decisions will be accepted before it acts on them (scoring changes the feature state).
  // False, with nothing held, when the queue lacks the room or the log is closed.
  bool Reserve(size_t count);
  // Gives back room held by Reserve and not used (a request that failed after reserving).
  void Unreserve(size_t count);
  size_t queue_capacity() const { return options_.queue_capacity; }
  // Enqueues a record into room held by Reserve; thread-safe. Only a closed log refuses it.
  // With the journal on, `writer` (0 .. journal_writers-1) puts the record in that writer's
  // journal buffer too; it is on disk after the writer's next CommitJournal.
  bool AppendReserved(DecisionRecord record, int writer = -1);
  // Writes the writer's journal buffer to the journal file. Called by each HTTP worker before it
  // sends its responses; one thread per writer index at a time.
  Status CommitJournal(int writer);
  // Finds a decision, including ones still queued and not yet written. Thread-safe.
  Result<std::optional<DecisionRecord>> Find(std::string_view transaction_id) const;
  // Blocks until everything appended before the call is written (or the log is closed).
  void Flush();
  // Flushes, stops the writer and closes the database. An error reports records that could not
  // be written. Calling it again returns OK.
  Status Close();

  struct Stats {
    uint64_t queued;   // Records appended and not yet written.
    uint64_t written;  // Rows written since Open.
    uint64_t dropped;  // Records refused by Append (queue full or closed) or abandoned at Close.
    uint64_t write_errors;  // Failed batch writes (each one is retried).
    int64_t lag_ms;         // Age of the oldest unwritten record (0 if none).
    uint64_t replaced;      // Rows written over an earlier record with the same transaction id.
  };
  Stats stats() const;

private:
  // Append and AppendReserved; `reserved` uses room held by Reserve when there is some.
  bool Enqueue(DecisionRecord record, bool reserved, int writer);
  // Replays journal files left by a process that did not close the log, then starts a new one.
  Status RecoverJournal();
  Status OpenJournalFile(uint64_t number);
  // Switches to a new journal file, queueing the current one for deletion; journal_mutex_ held.
  void StartNextJournalLocked();
  // Deletes journal files whose records are all written (`written_through` records in order).
  void RetireJournals(uint64_t written_through);
  std::string JournalPath(uint64_t number) const;
  // Counts `count` refused records and logs the first refusal of a full queue; unlocks.
  void RefuseLocked(std::unique_lock<std::mutex>& lock, size_t count);
  // A record waiting for the writer, shared with the lookup index.
  struct Pending {
    std::shared_ptr<const DecisionRecord> record;
    int64_t enqueued_ns;
  };

  explicit DecisionLog(DecisionLogOptions options);
  Status OpenDatabase();
  void WriterLoop();
  // Writes one batch in one transaction; false (with `error`) on failure, after rolling back.
  bool WriteBatch(const std::vector<Pending>& batch, uint64_t& replaced, std::string& error);
  void CloseDatabase();

  const DecisionLogOptions options_;

  // Connections: the writer's (used only by the writer thread once it runs) and one for Find.
  sqlite3* write_db_ = nullptr;
  sqlite3_stmt* insert_stmt_ = nullptr;   // INSERT OR IGNORE: the common, new-id case.
  sqlite3_stmt* replace_stmt_ = nullptr;  // INSERT OR REPLACE: run when the id already exists.
  sqlite3_stmt* begin_stmt_ = nullptr;
  sqlite3_stmt* commit_stmt_ = nullptr;
  sqlite3_stmt* rollback_stmt_ = nullptr;
  mutable std::mutex read_mutex_;
  sqlite3* read_db_ = nullptr;
  sqlite3_stmt* select_stmt_ = nullptr;

  // Queue state, guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable writer_wake_;
  std::condition_variable flushed_;
  std::deque<Pending> queue_;
  // The batch the writer is writing now (it stays findable until committed).
  size_t in_flight_count_ = 0;
  int64_t in_flight_oldest_ns_ = 0;
  // Latest unwritten version of each transaction id, for Find.
  std::unordered_map<std::string_view, std::shared_ptr<const DecisionRecord>> unwritten_;
  uint64_t accepted_ = 0;  // Records accepted by Append since Open.
  size_t reserved_ = 0;    // Room held by Reserve and not yet used by AppendReserved.
  uint64_t finished_ = 0;  // Accepted records written or abandoned; Flush waits on it.
  uint64_t written_ = 0;
  uint64_t dropped_ = 0;
  uint64_t write_errors_ = 0;
  uint64_t replaced_ = 0;
  bool queue_full_ = false;  // Refusing appends since the last time the queue had room.
  bool flush_requested_ = false;
  bool stopping_ = false;
  bool writer_done_ = false;
  uint64_t abandoned_ = 0;  // Records given up on while closing with a failing disk.

  // Crash journal. Each buffer is touched only by its writer thread; the rest is guarded by
  // journal_mutex_, which is never taken while mutex_ is held.
  std::vector<std::string> journal_buffers_;
  std::mutex journal_mutex_;
  int journal_fd_ = -1;
  uint64_t journal_number_ = 0;
  size_t journal_bytes_ = 0;
  struct FullJournal {
    uint64_t number;
    uint64_t accepted_before;  // records accepted before the switch to the next file
  };
  std::vector<FullJournal> full_journals_;
  uint64_t written_through_ = 0;  // guarded by mutex_: records written, in acceptance order

  std::mutex close_mutex_;
  bool closed_ = false;
  std::thread writer_;
};

}  // namespace fraudguard
