// The online feature store: per-entity sliding-window state, updated once per transaction, with
// a durability log and snapshots so that state survives restarts and kill -9.
//
// Concurrency: entities are spread over kShardCount shards by key hash, each with its own mutex;
// an update locks only the shard of each entity it touches, one at a time.
//
// Memory: each shard keeps at most max_keys / kShardCount entities. Over budget, it evicts the
// least recently updated of 16 sampled entities (approximate LRU, as Redis does, instead of a
// linked list that would cost cache misses on every update). Entities not updated for
// idle_eviction_ms are dropped: one slot is checked on every update and EvictIdle(), run by
// the background thread each snapshot interval, sweeps everything.
//
// Durability (when data_dir is set):
//   * Every entity update (a transaction, or a fraud label at a merchant) appends a log record
//     {shard, shard_seq, kind, entity, timestamp, amount, card extras} to the calling worker's
//     in-memory buffer; shard_seq is a per-shard counter assigned under the shard's lock when
//     the update is applied.
//   * Commit(worker) writes that buffer to the worker's current segment file with one write().
//     The page cache survives kill -9. With fsync_commits off (the default) a machine crash or
//     power loss can lose the last unsynced writes; turn it on to pay an fdatasync per Commit.
//   * Snapshot() bumps the generation (workers move to "wal-<gen>-..." files at their next
//     Commit), copies every shard under its lock into "snapshot-<gen>.tmp", fsyncs, renames it
//     to "snapshot-<gen>" and fsyncs the directory. It then deletes snapshots and segments older
//     than the PREVIOUS snapshot, so a corrupt newest snapshot can fall back to the previous one.
//     Correctness: a record in a segment of an older generation was written by a Commit that read
//     the old generation, so its update was applied before the bump, hence before the shard was
//     copied: it is in the snapshot. Records in newer segments may also be in the snapshot;
//     recovery skips them by shard_seq.
//   * Open() loads the newest valid snapshot (checksummed; *.tmp files are ignored), reads all
//     segments (a torn last record is dropped), sorts each shard's records by shard_seq and
//     applies those newer than the snapshot, then writes a fresh snapshot.
//   * Destroying the store without Close() behaves like a crash: buffered, uncommitted records
//     are lost (their transactions were never answered).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "core/transaction.h"
#include "features/entity_state.h"
#include "features/entity_table.h"
#include "features/feature_schema.h"

namespace fraudguard {

struct FeatureStoreOptions {
  std::string data_dir;         // Empty: in memory only (training replay, tests).
  size_t max_keys = 5'000'000;  // Total across entity types; least recently used are evicted.
  int64_t idle_eviction_ms = 35LL * 24 * 3600 * 1000;  // Keys idle this long are dropped.
  int64_t snapshot_interval_ms = 60000;
  int worker_threads = 2;      // Number of per-thread durability logs.
  bool fsync_commits = false;  // fdatasync after every Commit (survives power loss).
  // Most log bytes a worker holds while its commits fail (disk full, lost volume). Records past
  // it are applied in memory but not logged: the next snapshot covers them again.
  size_t max_pending_log_bytes = size_t{16} << 20;
};

class FeatureStore {
public:
  static constexpr size_t kShardCount = 256;

  static Result<std::unique_ptr<FeatureStore>> Open(const FeatureStoreOptions& options,
                                                    const Clock& clock);
  ~FeatureStore();
  FeatureStore(const FeatureStore&) = delete;
  FeatureStore& operator=(const FeatureStore&) = delete;

  // Applies the transaction to each entity it names and writes the features as of this
  // transaction (including it) to `out`. Thread-safe; `worker` in [0, worker_threads) selects
  // that thread's log buffer (other values are reduced modulo worker_threads).
  void UpdateAndRead(const Transaction& txn, FeatureVector& out, int worker);
  // The features UpdateAndRead would return, without changing any state.
  void Read(const Transaction& txn, FeatureVector& out) const;
  // Counts a confirmed fraud at `merchant_id` on the day of the labelled transaction's time,
  // for the label-driven merchant features (feature_schema.h). Logged like a transaction update
  // (call Commit(worker) before answering); a label older than the merchant's ring of days is
  // kept out of the counts. Call it once per newly confirmed fraud, not for repeats.
  void RecordFraudLabel(std::string_view merchant_id, int64_t transaction_ms, int worker);

  // Writes `worker`'s buffered log records to its segment with one write(). Call before
  // answering those transactions. On I/O failure returns an error and keeps the unwritten
  // records buffered for the next call, up to max_pending_log_bytes.
  Status Commit(int worker);
  // True while some worker's buffer is full and updates go unlogged: a crash now would lose
  // them (back to the last snapshot). Cleared by that worker's next successful commit.
  bool log_backlog_full() const { return workers_over_budget_.load() > 0; }
  // Writes a snapshot; also runs periodically on a background thread. No-op without data_dir.
  Status Snapshot();
  // Commits all workers, writes a final snapshot and stops the background thread.
  Status Close();
  // Drops every entity not updated for idle_eviction_ms; returns how many.
  size_t EvictIdle();

  struct Stats {
    uint64_t keys[kEntityTypeCount];
    uint64_t bytes;  // Accounted memory of entity state.
    uint64_t evictions;
    uint64_t log_bytes;  // Bytes committed to log segments since Open.
    int64_t last_snapshot_ms;
    uint64_t replayed_records;  // Log records applied during recovery.
    // Degraded states (each also logged at warn).
    uint64_t commit_failures;
    uint64_t snapshot_failures;
    uint64_t corrupt_snapshots;  // Snapshots skipped at recovery.
    uint64_t dropped_log_bytes;  // Torn or corrupt segment tails dropped at recovery.
    uint64_t pending_log_bytes;  // Buffered in the workers, not yet in a segment.
    uint64_t unlogged_records;   // Applied but never logged: buffers were full.
  };
  Stats stats() const;

  // The entity's window aggregates as JSON, as of its newest transaction:
  // {"entity":"card","last_seen_ms":...,"secs_since_seen":...,"windows":{"1h":{"count":..,
  // "sum":..,"mean":..,"std":..},...}}; false if the entity is unknown.
  bool DescribeEntity(EntityType type, std::string_view id, std::string& json_out) const;

private:
  struct Shard;
  struct Worker;

  FeatureStore(const FeatureStoreOptions& options, const Clock& clock);
  // Counts a failed commit; logs the first of a streak.
  void NoteCommitFailure(Worker& log, int worker, const std::string& error);
  // Adds whole encoded records to the worker's buffer, or counts them unlogged when it is full.
  void BufferLogRecords(int worker, const char* encoded, size_t bytes);

  Shard& ShardFor(uint64_t key) const;
  // Finds or creates the record under the shard's lock and marks it touched now; evicts to stay
  // within the shard's key budget (never `key` itself).
  EntityRecord& Touch(Shard& shard, uint64_t key, EntityType type, int64_t now_ms);
  void EraseSlot(Shard& shard, size_t index);
  void PrefetchEntities(const uint64_t* keys, size_t count) const;
  void EvictLeastRecentSample(Shard& shard, uint64_t keep_key);
  void EvictIdleIncrementally(Shard& shard, int64_t now_ms, uint64_t keep_key);

  Status Recover();
  Status LoadSnapshot(const std::string& path, uint64_t generation);
  Status WriteSnapshot(uint64_t generation);
  void RemoveObsoleteFiles(uint64_t keep_from_generation);
  void BackgroundLoop();

  const FeatureStoreOptions options_;
  const Clock& clock_;
  const size_t max_keys_per_shard_;
  std::unique_ptr<Shard[]> shards_;
  std::vector<std::unique_ptr<Worker>> workers_;

  // Generation of new log segments; bumped by Snapshot (seq_cst, see the header comment).
  std::atomic<uint64_t> generation_{1};
  std::mutex snapshot_mutex_;                  // One snapshot at a time.
  uint64_t previous_snapshot_generation_ = 0;  // Guarded by snapshot_mutex_.
  std::atomic<int64_t> last_snapshot_ms_{0};
  std::atomic<uint64_t> replayed_records_{0};
  std::atomic<uint64_t> commit_failures_{0};
  std::atomic<uint64_t> snapshot_failures_{0};
  std::atomic<uint64_t> corrupt_snapshots_{0};
  std::atomic<uint64_t> dropped_log_bytes_{0};
  std::atomic<uint64_t> log_bytes_{0};
  std::atomic<uint64_t> unlogged_records_{0};
  std::atomic<int> workers_over_budget_{0};

  std::mutex background_mutex_;
  std::condition_variable background_wake_;
  bool stopping_ = false;  // Guarded by background_mutex_.
  std::thread background_;
  bool closed_ = false;
};

}  // namespace fraudguard
