#include "slo/sli_recorder.h"

#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "core/log.h"
#include "storage/sqlite_statement.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int kSchemaVersion = 1;
constexpr int64_t kMillisPerMinute = 60'000;
constexpr int64_t kMinutesPerDay = 24 * 60;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS sli_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sli_minutes (
  minute INTEGER NOT NULL, route TEXT NOT NULL, total INTEGER NOT NULL, bad INTEGER NOT NULL,
  buckets BLOB NOT NULL, PRIMARY KEY (minute, route)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sli_hours (
  minute INTEGER NOT NULL, route TEXT NOT NULL, total INTEGER NOT NULL, bad INTEGER NOT NULL,
  buckets BLOB NOT NULL, PRIMARY KEY (minute, route)) WITHOUT ROWID;
)sql";

std::string SqliteError(sqlite3* db, const std::string& what) {
  return what + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string error = what + ": " + (message != nullptr ? message : "unknown error");
    sqlite3_free(message);
    return Error{std::move(error)};
  }
  return OkStatus();
}

// A prepared statement that finalizes itself.
// Trailing empty buckets are left out (most requests are fast, so the slow buckets are mostly
// empty); DecodeBuckets fills them back in as zeros.
std::string EncodeBuckets(const std::vector<uint64_t>& buckets) {
  size_t used = buckets.size();
  while (used > 0 && buckets[used - 1] == 0) {
    --used;
  }
  std::string blob(used * 8, '\0');
  for (size_t i = 0; i < used; ++i) {
    for (size_t b = 0; b < 8; ++b) {
      blob[i * 8 + b] = static_cast<char>((buckets[i] >> (8 * b)) & 0xff);
    }
  }
  return blob;
}

std::vector<uint64_t> DecodeBuckets(const void* data, int bytes, size_t expected) {
  std::vector<uint64_t> buckets(expected, 0);
  const auto* raw = static_cast<const unsigned char*>(data);
  const size_t count = std::min(expected, static_cast<size_t>(std::max(bytes, 0)) / 8);
  for (size_t i = 0; i < count; ++i) {
    uint64_t value = 0;
    for (size_t b = 0; b < 8; ++b) {
      value |= static_cast<uint64_t>(raw[i * 8 + b]) << (8 * b);
    }
    buckets[i] = value;
  }
  return buckets;
}

// Integer division that rounds towards negative infinity (minutes before 1970 stay ordered).
int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

void SliCounts::Add(const SliCounts& other) {
  total += other.total;
  bad += other.bad;
  if (buckets.size() < other.buckets.size()) {
    buckets.resize(other.buckets.size(), 0);
  }
  for (size_t i = 0; i < other.buckets.size(); ++i) {
    buckets[i] += other.buckets[i];
  }
}

uint64_t SliCounts::AtMost(size_t bound_index) const {
  uint64_t sum = 0;
  for (size_t i = 0; i <= bound_index && i < buckets.size(); ++i) {
    sum += buckets[i];
  }
  return sum;
}

SliRecorder::SliRecorder(SliRecorderOptions options, const Clock& clock)
    : options_(std::move(options)), clock_(clock), bounds_(LatencyBucketsSeconds()) {
  const size_t values = options_.routes.size() * values_per_route();
  for (Slot& slot : slots_) {
    slot.counts = std::make_unique<std::atomic<uint64_t>[]>(values);
    for (size_t i = 0; i < values; ++i) {
      slot.counts[i].store(0, std::memory_order_relaxed);
    }
  }
}

Result<std::unique_ptr<SliRecorder>> SliRecorder::Open(const SliRecorderOptions& options,
                                                       const Clock& clock) {
  if (options.path.empty() || options.routes.empty() || options.flush_interval_ms <= 0 ||
      options.minute_retention_days < 1 ||
      options.hourly_retention_days < options.minute_retention_days) {
    return Error{"sli recorder: path, routes, flush interval and retention must be set"};
  }
  std::unique_ptr<SliRecorder> recorder(new SliRecorder(options, clock));
  if (Status status = recorder->OpenDatabase(); !status) {
    return Error{status.error()};
  }
  if (options.start_writer && !options.read_only) {
    recorder->writer_ = std::thread([raw = recorder.get()] { raw->WriterLoop(); });
  }
  // A read-only open is a CLI looking at a server's data; not an event of the service.
  (options.read_only ? LogDebug("sli_recorder_opened") : LogInfo("sli_recorder_opened"))
      .Field("path", options.path)
      .Field("routes", static_cast<uint64_t>(options.routes.size()))
      .Field("minute_retention_days", options.minute_retention_days);
  return recorder;
}

SliRecorder::~SliRecorder() {
  (void)Close();
}

Status SliRecorder::OpenDatabase() {
  const std::string where = "sli database '" + options_.path + "'";
  const int flags = options_.read_only
                        ? SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX
                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(options_.path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    return Error{SqliteError(db_, "opening " + where)};
  }
  sqlite3_busy_timeout(db_, 5000);
  if (options_.read_only) {
    SqliteStatement check(db_, "SELECT value FROM sli_meta WHERE key = 'latency_buckets'");
    if (!check.ok() || sqlite3_step(check.get()) != SQLITE_ROW ||
        sqlite3_column_int64(check.get(), 0) != static_cast<int64_t>(bounds_.size() + 1)) {
      return Error{where + ": not an SLI database of this version"};
    }
    return OkStatus();
  }
  if (auto status = Exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", where);
      !status) {
    return status;
  }
  if (auto status = Exec(db_, kSchemaSql, where + ": creating schema"); !status) {
    return status;
  }
  // The layout and the bucket count are recorded on first use and checked afterwards: rows
  // written with other buckets cannot be added to these.
  const std::pair<const char*, int64_t> expected[] = {
      {"schema_version", kSchemaVersion},
      {"latency_buckets", static_cast<int64_t>(bounds_.size() + 1)}};
  for (const auto& [key, value] : expected) {
    SqliteStatement select(db_, "SELECT value FROM sli_meta WHERE key = ?1");
    if (!select.ok()) {
      return Error{select.error()};
    }
    sqlite3_bind_text(select.get(), 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(select.get()) == SQLITE_ROW) {
      const int64_t stored = sqlite3_column_int64(select.get(), 0);
      if (stored != value) {
        return Error{where + ": " + key + " is " + std::to_string(stored) + ", this program uses " +
                     std::to_string(value)};
      }
      continue;
    }
    if (auto status = Exec(db_,
                           "INSERT INTO sli_meta(key, value) VALUES ('" + std::string(key) + "', " +
                               std::to_string(value) + ")",
                           where + ": recording " + key);
        !status) {
      return status;
    }
  }
  return OkStatus();
}

void SliRecorder::Record(size_t route, int status, double seconds) {
  if (route >= options_.routes.size()) {
    return;
  }
  const int64_t minute = FloorDiv(clock_.NowMillis(), kMillisPerMinute);
  Slot& slot = slots_[static_cast<size_t>(minute) % kSlots];
  int64_t seen = slot.minute.load(std::memory_order_acquire);
  // The first request of a minute claims its slot; a late writer never moves it back.
  while (seen < minute && !slot.minute.compare_exchange_weak(seen, minute)) {
  }
  // TODO: a request whose slot was reclaimed for a later minute (only possible when the writer
  // is more than three minutes behind) is counted in that later minute.
  std::atomic<uint64_t>* counts = &slot.counts[route * values_per_route()];
  counts[0].fetch_add(1, std::memory_order_relaxed);
  if (status >= 500) {
    counts[1].fetch_add(1, std::memory_order_relaxed);
  }
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  counts[2 + bucket].fetch_add(1, std::memory_order_relaxed);
}

void SliRecorder::DrainSlots() {
  const size_t per_route = values_per_route();
  for (Slot& slot : slots_) {
    const int64_t minute = slot.minute.load(std::memory_order_acquire);
    if (minute < 0) {
      continue;
    }
    for (size_t route = 0; route < options_.routes.size(); ++route) {
      std::atomic<uint64_t>* counts = &slot.counts[route * per_route];
      if (counts[0].load(std::memory_order_relaxed) == 0) {
        continue;
      }
      SliCounts drained;
      drained.total = counts[0].exchange(0, std::memory_order_relaxed);
      drained.bad = counts[1].exchange(0, std::memory_order_relaxed);
      drained.buckets.resize(bounds_.size() + 1);
      for (size_t i = 0; i < drained.buckets.size(); ++i) {
        drained.buckets[i] = counts[2 + i].exchange(0, std::memory_order_relaxed);
      }
      SliCounts& target = pending_[{minute, route}];
      target.buckets.resize(bounds_.size() + 1, 0);
      target.Add(drained);
    }
  }
}

Status SliRecorder::WritePending() {
  if (pending_.empty()) {
    return OkStatus();
  }
  std::lock_guard db_lock(db_mutex_);
  const std::string where = "sli database '" + options_.path + "'";
  if (auto status = Exec(db_, "BEGIN IMMEDIATE", where + ": begin"); !status) {
    return status;
  }
  SqliteStatement select(
      db_, "SELECT total, bad, buckets FROM sli_minutes WHERE minute=?1 AND route=?2");
  SqliteStatement upsert(db_,
                         "INSERT OR REPLACE INTO sli_minutes(minute, route, total, bad, buckets) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!select.ok() || !upsert.ok()) {
    (void)Exec(db_, "ROLLBACK", where);
    return Error{select.ok() ? upsert.error() : select.error()};
  }
  for (const auto& [key, counts] : pending_) {
    const std::string& route = options_.routes[key.second];
    SliCounts row = counts;
    sqlite3_bind_int64(select.get(), 1, key.first);
    sqlite3_bind_text(select.get(), 2, route.data(), static_cast<int>(route.size()), SQLITE_STATIC);
    if (sqlite3_step(select.get()) == SQLITE_ROW) {
      SliCounts stored;
      stored.total = static_cast<uint64_t>(sqlite3_column_int64(select.get(), 0));
      stored.bad = static_cast<uint64_t>(sqlite3_column_int64(select.get(), 1));
      stored.buckets = DecodeBuckets(sqlite3_column_blob(select.get(), 2),
                                     sqlite3_column_bytes(select.get(), 2), bounds_.size() + 1);
      row.Add(stored);
    }
    sqlite3_reset(select.get());
    const std::string blob = EncodeBuckets(row.buckets);
    sqlite3_bind_int64(upsert.get(), 1, key.first);
    sqlite3_bind_text(upsert.get(), 2, route.data(), static_cast<int>(route.size()), SQLITE_STATIC);
    sqlite3_bind_int64(upsert.get(), 3, static_cast<int64_t>(row.total));
    sqlite3_bind_int64(upsert.get(), 4, static_cast<int64_t>(row.bad));
    sqlite3_bind_blob(upsert.get(), 5, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    const int code = sqlite3_step(upsert.get());
    sqlite3_reset(upsert.get());
    if (code != SQLITE_DONE) {
      std::string error = SqliteError(db_, where + ": writing minute row");
      (void)Exec(db_, "ROLLBACK", where);
      return Error{std::move(error)};
    }
  }
  if (auto status = Exec(db_, "COMMIT", where + ": commit"); !status) {
    (void)Exec(db_, "ROLLBACK", where);
    return status;
  }
  pending_.clear();
  return OkStatus();
}

Status SliRecorder::RollUp() {
  const int64_t now_minute = FloorDiv(clock_.NowMillis(), kMillisPerMinute);
  const int64_t hour = FloorDiv(now_minute, 60);
  if (hour == last_rollup_hour_) {
    return OkStatus();
  }
  // Whole hours only, so an hourly row is never split across the two tables.
  const int64_t minute_cutoff =
      FloorDiv(now_minute - options_.minute_retention_days * kMinutesPerDay, 60) * 60;
  const int64_t hour_cutoff = now_minute - options_.hourly_retention_days * kMinutesPerDay;
  auto old_rows = ReadMinutes(INT64_MIN, minute_cutoff);
  if (!old_rows) {
    return Error{old_rows.error()};
  }
  std::map<std::pair<int64_t, std::string>, SliCounts> hours;
  for (const SliRow& row : *old_rows) {
    hours[{FloorDiv(row.minute, 60) * 60, row.route}].Add(row.counts);
  }
  std::lock_guard db_lock(db_mutex_);
  const std::string where = "sli database '" + options_.path + "'";
  if (auto status = Exec(db_, "BEGIN IMMEDIATE", where + ": begin roll-up"); !status) {
    return status;
  }
  SqliteStatement select(db_,
                         "SELECT total, bad, buckets FROM sli_hours WHERE minute=?1 AND route=?2");
  SqliteStatement upsert(db_,
                         "INSERT OR REPLACE INTO sli_hours(minute, route, total, bad, buckets) "
                         "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!select.ok() || !upsert.ok()) {
    (void)Exec(db_, "ROLLBACK", where);
    return Error{select.ok() ? upsert.error() : select.error()};
  }
  for (auto& [key, counts] : hours) {
    sqlite3_bind_int64(select.get(), 1, key.first);
    sqlite3_bind_text(select.get(), 2, key.second.data(), static_cast<int>(key.second.size()),
                      SQLITE_STATIC);
    if (sqlite3_step(select.get()) == SQLITE_ROW) {
      SliCounts stored;
      stored.total = static_cast<uint64_t>(sqlite3_column_int64(select.get(), 0));
      stored.bad = static_cast<uint64_t>(sqlite3_column_int64(select.get(), 1));
      stored.buckets = DecodeBuckets(sqlite3_column_blob(select.get(), 2),
                                     sqlite3_column_bytes(select.get(), 2), bounds_.size() + 1);
      counts.Add(stored);
    }
    sqlite3_reset(select.get());
    const std::string blob = EncodeBuckets(counts.buckets);
    sqlite3_bind_int64(upsert.get(), 1, key.first);
    sqlite3_bind_text(upsert.get(), 2, key.second.data(), static_cast<int>(key.second.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(upsert.get(), 3, static_cast<int64_t>(counts.total));
    sqlite3_bind_int64(upsert.get(), 4, static_cast<int64_t>(counts.bad));
    sqlite3_bind_blob(upsert.get(), 5, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
    const int code = sqlite3_step(upsert.get());
    sqlite3_reset(upsert.get());
    if (code != SQLITE_DONE) {
      std::string error = SqliteError(db_, where + ": writing hourly row");
      (void)Exec(db_, "ROLLBACK", where);
      return Error{std::move(error)};
    }
  }
  const std::string deletes =
      "DELETE FROM sli_minutes WHERE minute < " + std::to_string(minute_cutoff) +
      "; DELETE FROM sli_hours WHERE minute < " + std::to_string(hour_cutoff) + ";";
  if (auto status = Exec(db_, deletes, where + ": deleting rolled-up rows"); !status) {
    (void)Exec(db_, "ROLLBACK", where);
    return status;
  }
  const int expired_hours = sqlite3_changes(db_);
  if (auto status = Exec(db_, "COMMIT", where + ": commit roll-up"); !status) {
    (void)Exec(db_, "ROLLBACK", where);
    return status;
  }
  last_rollup_hour_ = hour;
  if (!old_rows->empty() || expired_hours > 0) {
    LogInfo("sli_rolled_up")
        .Field("minute_rows", static_cast<uint64_t>(old_rows->size()))
        .Field("hourly_rows_written", static_cast<uint64_t>(hours.size()))
        .Field("hourly_rows_expired", expired_hours)
        .Field("hourly_retention_days", options_.hourly_retention_days);
  }
  return OkStatus();
}

Status SliRecorder::Flush() {
  std::lock_guard lock(flush_mutex_);
  if (db_ == nullptr) {
    return Error{"sli recorder is closed"};
  }
  if (options_.read_only) {
    return OkStatus();
  }
  DrainSlots();
  Status status = WritePending();
  if (status) {
    status = RollUp();
  }
  // Counts stay in pending_ after a failed write and go out with the next flush.
  if (!status) {
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    if (!write_failing_) {
      LogError("sli_write_failed").Field("error", status.error());
      write_failing_ = true;
    }
  } else if (write_failing_) {
    LogInfo("sli_write_recovered").Field("path", options_.path);
    write_failing_ = false;
  }
  return status;
}

Status SliRecorder::AddRows(const std::vector<SliRow>& rows) {
  std::lock_guard lock(flush_mutex_);
  if (db_ == nullptr || options_.read_only) {
    return Error{"sli recorder is closed or read-only"};
  }
  std::vector<size_t> indexes;
  indexes.reserve(rows.size());
  for (const SliRow& row : rows) {
    const auto found = std::find(options_.routes.begin(), options_.routes.end(), row.route);
    if (found == options_.routes.end()) {
      return Error{"sli rows: route '" + row.route + "' is not one of the recorder's routes"};
    }
    if (row.counts.buckets.size() > bounds_.size() + 1) {
      return Error{"sli rows: more latency buckets than the recorder's " +
                   std::to_string(bounds_.size() + 1)};
    }
    indexes.push_back(static_cast<size_t>(found - options_.routes.begin()));
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    SliCounts& target = pending_[{rows[i].minute, indexes[i]}];
    target.buckets.resize(bounds_.size() + 1, 0);
    target.Add(rows[i].counts);
  }
  return WritePending();
}

void SliRecorder::WriterLoop() {
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval_ms),
                   [this] { return stopping_; });
    lock.unlock();
    (void)Flush();
    lock.lock();
  }
}

Status SliRecorder::Close() {
  {
    std::lock_guard lock(wake_mutex_);
    if (closed_) {
      return OkStatus();
    }
    closed_ = true;
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) {
    writer_.join();
  }
  Status status = db_ != nullptr ? Flush() : OkStatus();
  std::lock_guard flush_lock(flush_mutex_);
  std::lock_guard db_lock(db_mutex_);
  sqlite3_close(db_);
  db_ = nullptr;
  if (!status) {
    return status;
  }
  return OkStatus();
}

namespace {

Result<std::vector<SliRow>> ReadRows(sqlite3* db,
                                     const char* table,
                                     int64_t from_minute,
                                     int64_t to_minute,
                                     const std::vector<std::string>& routes,
                                     size_t bucket_count) {
  if (db == nullptr) {
    return Error{"sli recorder is closed"};
  }
  if (routes.size() > SliRecorder::kMaxReadRoutes) {
    return Error{"reading sli rows: more than " + std::to_string(SliRecorder::kMaxReadRoutes) +
                 " routes asked"};
  }
  // The routes are filtered in SQL so that rows of other routes are never decoded.
  std::string sql = std::string("SELECT minute, route, total, bad, buckets FROM ") + table +
                    " WHERE minute >= ?1 AND minute < ?2";
  if (!routes.empty()) {
    sql += " AND route IN (";
    for (size_t i = 0; i < routes.size(); ++i) {
      sql += (i == 0 ? "?" : ", ?") + std::to_string(i + 3);
    }
    sql += ")";
  }
  SqliteStatement select(db, sql + " ORDER BY minute");
  if (!select.ok()) {
    return Error{select.error()};
  }
  sqlite3_bind_int64(select.get(), 1, from_minute);
  sqlite3_bind_int64(select.get(), 2, to_minute);
  for (size_t i = 0; i < routes.size(); ++i) {
    sqlite3_bind_text(select.get(), static_cast<int>(i + 3), routes[i].data(),
                      static_cast<int>(routes[i].size()), SQLITE_STATIC);
  }
  std::vector<SliRow> rows;
  int code = 0;
  while ((code = sqlite3_step(select.get())) == SQLITE_ROW) {
    SliRow row;
    row.minute = sqlite3_column_int64(select.get(), 0);
    const auto* route = reinterpret_cast<const char*>(sqlite3_column_text(select.get(), 1));
    row.route = route != nullptr ? route : "";
    row.counts.total = static_cast<uint64_t>(sqlite3_column_int64(select.get(), 2));
    row.counts.bad = static_cast<uint64_t>(sqlite3_column_int64(select.get(), 3));
    row.counts.buckets = DecodeBuckets(sqlite3_column_blob(select.get(), 4),
                                       sqlite3_column_bytes(select.get(), 4), bucket_count);
    rows.push_back(std::move(row));
  }
  if (code != SQLITE_DONE) {
    return Error{SqliteError(db, std::string("reading ") + table)};
  }
  return rows;
}

}  // namespace

Result<std::vector<SliRow>> SliRecorder::ReadMinutes(int64_t from_minute,
                                                     int64_t to_minute,
                                                     const std::vector<std::string>& routes) const {
  std::lock_guard lock(db_mutex_);
  return ReadRows(db_, "sli_minutes", from_minute, to_minute, routes, bounds_.size() + 1);
}

Result<std::vector<SliRow>> SliRecorder::ReadHours(int64_t from_minute,
                                                   int64_t to_minute,
                                                   const std::vector<std::string>& routes) const {
  std::lock_guard lock(db_mutex_);
  return ReadRows(db_, "sli_hours", from_minute, to_minute, routes, bounds_.size() + 1);
}

}  // namespace fraudguard
