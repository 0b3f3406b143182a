// The SLI recorder: per-minute counts of requests, server errors (5xx) and latency histogram
// buckets for each route, kept durably in SQLite so that error budgets survive restarts.
//
// Record() runs on the request path and only touches atomics: the counts of the current minute
// live in a small ring of in-memory slots. A background thread drains the slots into SQLite
// every flush interval (adding to the minute's row), and rolls minute rows older than the
// retention into hourly rows, so disk use stays bounded while history is kept.
//
// Tables: `sli_minutes` and `sli_hours` (start, route, total, bad, buckets as little-endian
// uint64 counts per latency bucket), `sli_meta` (schema version and bucket count).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

struct sqlite3;

namespace fraudguard {

// The counts of one route over one minute (or one hour, for rolled-up rows).
struct SliCounts {
  uint64_t total = 0;
  uint64_t bad = 0;               // answered with a 5xx status
  std::vector<uint64_t> buckets;  // non-cumulative, one per latency bound and one for +Inf

  void Add(const SliCounts& other);
  // Requests answered within the bucket bound at `bound_index` (cumulative).
  uint64_t AtMost(size_t bound_index) const;
};

struct SliRow {
  int64_t minute = 0;  // minutes since the Unix epoch (the hour's first minute for hourly rows)
  std::string route;
  SliCounts counts;
};

struct SliRecorderOptions {
  std::string path;                 // SQLite file; created when missing
  std::vector<std::string> routes;  // route labels; Record() takes an index into this list
  int64_t flush_interval_ms = 1000;
  int64_t minute_retention_days = 35;
  int64_t hourly_retention_days = 400;
  bool start_writer = true;  // false: the caller flushes (tests driving a manual clock)
  // Opens an existing file without writing to it (the CLI reading a server's data directory);
  // Record() and Flush() then have nothing to write.
  bool read_only = false;
};

class SliRecorder {
public:
  static Result<std::unique_ptr<SliRecorder>> Open(const SliRecorderOptions& options,
                                                   const Clock& clock);
  ~SliRecorder();
  SliRecorder(const SliRecorder&) = delete;
  SliRecorder& operator=(const SliRecorder&) = delete;

  // Counts one answered request. Lock-free; safe from any thread. Unknown routes are ignored.
  void Record(size_t route, int status, double seconds);
  // Writes everything recorded so far to SQLite and rolls up old rows. Thread-safe.
  Status Flush();
  // Adds counts that were measured elsewhere (a benchmark's or a test's history) to the minute
  // rows, as if recorded at their minutes, and writes them like Flush(). A row whose route is
  // not in the recorder's list is refused, nothing written. Thread-safe.
  Status AddRows(const std::vector<SliRow>& rows);
  // Flushes and stops the writer thread. Calling it again returns OK.
  Status Close();
  // Minute rows with from_minute <= minute < to_minute, after a Flush; only those of `routes`
  // when it is not empty (at most kMaxReadRoutes). Thread-safe.
  Result<std::vector<SliRow>> ReadMinutes(int64_t from_minute,
                                          int64_t to_minute,
                                          const std::vector<std::string>& routes = {}) const;
  Result<std::vector<SliRow>> ReadHours(int64_t from_minute,
                                        int64_t to_minute,
                                        const std::vector<std::string>& routes = {}) const;
  static constexpr size_t kMaxReadRoutes = 64;

  const std::vector<double>& bounds() const { return bounds_; }
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }

private:
  // One minute of counts for every route: [route][0] total, [1] bad, [2 + i] bucket i.
  struct Slot {
    std::atomic<int64_t> minute{-1};
    std::unique_ptr<std::atomic<uint64_t>[]> counts;
  };
  static constexpr size_t kSlots = 4;

  SliRecorder(SliRecorderOptions options, const Clock& clock);
  Status OpenDatabase();
  void WriterLoop();
  // Moves the slots' counts into `pending_` (called with flush_mutex_ held).
  void DrainSlots();
  Status WritePending();
  Status RollUp();
  size_t values_per_route() const { return 2 + bounds_.size() + 1; }

  const SliRecorderOptions options_;
  const Clock& clock_;
  const std::vector<double> bounds_;
  Slot slots_[kSlots];

  std::mutex flush_mutex_;  // one flush at a time; guards pending_ and the database
  std::map<std::pair<int64_t, size_t>, SliCounts> pending_;  // (minute, route) not yet written
  mutable std::mutex db_mutex_;
  sqlite3* db_ = nullptr;
  int64_t last_rollup_hour_ = -1;
  std::atomic<uint64_t> write_errors_{0};
  bool write_failing_ = false;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool closed_ = false;
  std::thread writer_;
};

}  // namespace fraudguard
