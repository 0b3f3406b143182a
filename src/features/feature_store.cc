#include "features/feature_store.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/json_writer.h"
#include "core/log.h"
#include "features/entity_hash.h"
#include "features/feature_log.h"

namespace fraudguard {

struct alignas(64) FeatureStore::Shard {
  mutable std::mutex mutex;
  EntityTable table;
  // Slot array address and mask for lock-free prefetching; refreshed under the lock on insert.
  std::atomic<uintptr_t> slots_hint{0};
  std::atomic<size_t> mask_hint{0};
  size_t sweep_cursor = 0;  // Next slot the incremental idle check looks at.
  uint64_t seq = 0;         // Sequence number of the last update applied.
  uint64_t bytes = 0;
  uint64_t keys[kEntityTypeCount] = {};
  uint64_t evictions = 0;
};

struct FeatureStore::Worker {
  std::mutex mutex;
  // Encoded log records not yet committed; always whole records, at most
  // max_pending_log_bytes of them.
  std::string buffer;
  // Commits are failing: the first failure of a streak is logged, then the recovery.
  bool commit_failing = false;
  // Records left unlogged since the buffer filled; 0 while it has room.
  uint64_t unlogged_in_streak = 0;
  int fd = -1;  // Current segment, or -1.
  uint64_t segment_generation = 0;
  uint64_t next_part = 0;
};

namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
constexpr int64_t kDayMs = 24 * 3600LL * 1000;
constexpr int64_t kThirtyDaysMs = 30 * kDayMs;
// Largest snapshot or segment file recovery will read.
constexpr size_t kMaxFileBytes = size_t{64} << 30;
constexpr char kSnapshotMagic[] = "FGSNAP02";
// Written before merchants kept label days; read, never written.
constexpr char kSnapshotMagicWithoutLabelDays[] = "FGSNAP01";
constexpr char kSnapshotEndMagic[] = "FGSNEND1";
constexpr size_t kMagicSize = 8;

std::string_view EntityId(const Transaction& txn, EntityType type) {
  switch (type) {
    case EntityType::kCard:
      return txn.card_id;
    case EntityType::kCustomer:
      return txn.customer_id;
    case EntityType::kMerchant:
      return txn.merchant_id;
    case EntityType::kDevice:
      return txn.device_id;
    case EntityType::kIp:
      return txn.ip;
  }
  return {};
}

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void FillTransactionFeatures(const Transaction& txn, FeatureVector& out) {
  out[kAmount] = static_cast<float>(txn.amount);
  out[kUserAgeDays] = static_cast<float>(txn.user_age_days);
  const int64_t days = FloorDiv(txn.timestamp_ms, kDayMs);
  const int64_t ms_of_day = txn.timestamp_ms - days * kDayMs;
  const int64_t hour = ms_of_day / (3600 * 1000);
  const int64_t day_of_week = ((days % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday.
  out[kHourOfDay] = static_cast<float>(hour);
  out[kDayOfWeek] = static_cast<float>(day_of_week);
  out[kIsWeekend] = day_of_week >= 5 ? 1.0f : 0.0f;
  out[kIsNight] = hour < 6 ? 1.0f : 0.0f;
  out[kChannelCode] = ChannelCode(txn.channel);
}

void FillMissing(EntityType type, FeatureVector& out) {
  const size_t begin = EntityWindowFeature(type, 0, WindowStat::kCount);
  std::fill(out.begin() + static_cast<std::ptrdiff_t>(begin),
            out.begin() + static_cast<std::ptrdiff_t>(begin + kPerEntityFeatureCount), kMissing);
  if (type == EntityType::kCard) {
    std::fill(out.begin() + kCardFeaturesBegin,
              out.begin() + kCardFeaturesBegin + kCardExtraFeatureCount, kMissing);
  }
  if (type == EntityType::kMerchant) {
    std::fill(out.begin() + kLabelFeaturesBegin,
              out.begin() + kLabelFeaturesBegin + kLabelFeatureCount, kMissing);
  }
}

// The merchant's label-driven features for a transaction at `at_ms`: windows that end the label
// delay before it.
void FillMerchantLabelFeatures(MerchantLabelDays* days, int64_t at_ms, FeatureVector& out) {
  static const MerchantLabelDays::Windows kEmpty{};
  const MerchantLabelDays::Windows& windows =
      days != nullptr ? days->WindowsBefore(at_ms - kLabelDelayDays * kDayMs) : kEmpty;
  for (size_t w = 0; w < kLabelWindowCount; ++w) {
    const MerchantLabelDays::Totals& totals = windows[w];
    out[MerchantDelayedCountFeature(w)] = static_cast<float>(totals.transactions);
    out[MerchantDelayedFraudRiskFeature(w)] =
        totals.transactions == 0 ? kMissing
                                 : static_cast<float>(static_cast<double>(totals.frauds) /
                                                      static_cast<double>(totals.transactions));
  }
}

EntityUpdate MakeUpdate(const Transaction& txn, EntityType type, uint64_t key) {
  EntityUpdate update;
  update.type = type;
  update.key = key;
  update.timestamp_ms = txn.timestamp_ms;
  // Requests are validated upstream; still, never let a non-finite value into long-lived state.
  update.amount = std::isfinite(txn.amount) ? txn.amount : 0.0;
  if (type == EntityType::kCard) {
    update.merchant_hash = MerchantHash(txn.merchant_id);
    update.country_hash = CountryHash(txn.country);
    update.device_hash = DeviceHash(txn.device_id);
  }
  return update;
}

float ToFeature(double value) {
  return static_cast<float>(value);
}

// Applies `update` to `record` and writes the entity's features to `out`. The features that
// compare against history (z-score, new device/country) look at the state before the update.
void ApplyAndFill(EntityRecord& record, const EntityUpdate& update, FeatureVector& out) {
  const EntityType type = record.type;
  const bool had_history = !record.history.empty();
  const int64_t previous_ms = had_history ? record.history.newest_ms() : 0;
  const int64_t at_ms =
      had_history ? std::max(update.timestamp_ms, previous_ms) : update.timestamp_ms;

  if (type == EntityType::kCard) {
    const WindowAggregate before = record.history.Aggregate(at_ms, kThirtyDaysMs);
    const double amount = update.amount;
    out[kCardAmountZScore30d] = before.count >= 2 && before.std > 1e-9
                                    ? ToFeature((amount - before.mean) / before.std)
                                    : kMissing;
    out[kCardAmountToMean30d] =
        before.count > 0 && before.mean > 1e-9 ? ToFeature(amount / before.mean) : kMissing;
    const CardExtras* extras = record.card.get();
    const auto is_new = [&](uint32_t hash, auto member) -> float {
      if (hash == 0) {
        return kMissing;
      }
      return extras != nullptr && (extras->*member).SeenSince(hash, at_ms - kThirtyDaysMs) ? 0.0f
                                                                                           : 1.0f;
    };
    out[kCardIsNewDevice30d] = is_new(update.device_hash, &CardExtras::devices);
    out[kCardIsNewCountry30d] = is_new(update.country_hash, &CardExtras::countries);
  }

  ApplyUpdate(record, update);

  WindowAggregate windows[kWindowCount];
  record.history.AggregateWindows(at_ms, kWindowMillis.data(), kWindowCount, windows);
  for (size_t w = 0; w < kWindowCount; ++w) {
    const WindowAggregate& window = windows[w];
    out[EntityWindowFeature(type, w, WindowStat::kCount)] = ToFeature(window.count);
    out[EntityWindowFeature(type, w, WindowStat::kSum)] = ToFeature(window.sum);
    out[EntityWindowFeature(type, w, WindowStat::kMean)] = ToFeature(window.mean);
    out[EntityWindowFeature(type, w, WindowStat::kStd)] = ToFeature(window.std);
  }
  out[EntitySecondsSincePreviousFeature(type)] =
      had_history ? ToFeature(static_cast<double>(at_ms - previous_ms) / 1000.0) : kMissing;

  if (type == EntityType::kMerchant) {
    FillMerchantLabelFeatures(record.label_days.get(), at_ms, out);
  }
  if (type == EntityType::kCard) {
    out[kCardDistinctMerchants24h] =
        update.merchant_hash == 0
            ? kMissing
            : static_cast<float>(record.card->merchants.CountSince(at_ms - kDayMs));
    out[kCardDistinctCountries24h] =
        update.country_hash == 0
            ? kMissing
            : static_cast<float>(record.card->countries.CountSince(at_ms - kDayMs));
  }
}

void CopyRecordState(const EntityRecord& from, EntityRecord& to) {
  to.history = from.history;
  if (from.card) {
    to.card = std::make_unique<CardExtras>(*from.card);
  }
  if (from.label_days) {
    to.label_days = std::make_unique<MerchantLabelDays>(*from.label_days);
  }
}

template <typename T>
void PutValue(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <typename T>
bool GetValue(const std::string& data, size_t& offset, T& value) {
  if (offset > data.size() || data.size() - offset < sizeof(value)) {
    return false;
  }
  std::memcpy(&value, data.data() + offset, sizeof(value));
  offset += sizeof(value);
  return true;
}

std::string JoinPath(const std::string& dir, const std::string& name) {
  return dir + "/" + name;
}

}  // namespace

FeatureStore::FeatureStore(const FeatureStoreOptions& options, const Clock& clock)
    : options_(options),
      clock_(clock),
      max_keys_per_shard_(std::max<size_t>(1, options.max_keys / kShardCount)),
      shards_(new Shard[kShardCount]) {
  for (int i = 0; i < options.worker_threads; ++i) {
    workers_.push_back(std::make_unique<Worker>());
  }
}

Result<std::unique_ptr<FeatureStore>> FeatureStore::Open(const FeatureStoreOptions& options,
                                                         const Clock& clock) {
  if (options.worker_threads < 1 || options.worker_threads > 1024) {
    return Error{"feature store option worker_threads must be in [1, 1024], got " +
                 std::to_string(options.worker_threads)};
  }
  if (options.max_keys < 1) {
    return Error{"feature store option max_keys must be at least 1"};
  }
  if (options.snapshot_interval_ms < 1) {
    return Error{"feature store option snapshot_interval_ms must be positive, got " +
                 std::to_string(options.snapshot_interval_ms)};
  }
  std::unique_ptr<FeatureStore> store(new FeatureStore(options, clock));
  if (!options.data_dir.empty()) {
    if (Status recovered = store->Recover(); !recovered.ok()) {
      return Error{recovered.error()};
    }
    if (Status snapshot = store->Snapshot(); !snapshot.ok()) {
      return Error{snapshot.error()};
    }
    store->background_ = std::thread([raw = store.get()] {
      pthread_setname_np(pthread_self(), "feature-state");  // seen in top and /proc
      raw->BackgroundLoop();
    });
  }
  return store;
}

FeatureStore::~FeatureStore() {
  {
    std::lock_guard lock(background_mutex_);
    stopping_ = true;
  }
  background_wake_.notify_all();
  if (background_.joinable()) {
    background_.join();
  }
  // Deliberately no Commit: destruction without Close() is a crash as far as durability goes.
  for (auto& worker : workers_) {
    if (worker->fd >= 0) {
      ::close(worker->fd);
    }
  }
}

FeatureStore::Shard& FeatureStore::ShardFor(uint64_t key) const {
  return shards_[key >> 56];  // Top byte; the table's buckets use the low bits.
}

void FeatureStore::EraseSlot(Shard& shard, size_t index) {
  const EntityType type = shard.table.slot(index).record->type;
  --shard.keys[static_cast<size_t>(type)];
  shard.bytes -= AccountedRecordBytes(type);
  shard.table.EraseAt(index);
}

EntityRecord& FeatureStore::Touch(Shard& shard, uint64_t key, EntityType type, int64_t now_ms) {
  bool inserted = false;
  const size_t index = shard.table.FindOrInsert(key, type, inserted);
  EntityTable::Slot& slot = shard.table.slot(index);
  slot.touched_ms = now_ms;
  EntityRecord& record = *slot.record;  // Stays put when slots move.
  if (inserted) {
    shard.slots_hint.store(reinterpret_cast<uintptr_t>(&shard.table.slot(0)),
                           std::memory_order_relaxed);
    shard.mask_hint.store(shard.table.capacity() - 1, std::memory_order_relaxed);
    ++shard.keys[static_cast<size_t>(type)];
    shard.bytes += AccountedRecordBytes(type);
    if (shard.table.size() > max_keys_per_shard_) {
      EvictLeastRecentSample(shard, key);
    }
  }
  EvictIdleIncrementally(shard, now_ms, key);
  return record;
}

void FeatureStore::EvictLeastRecentSample(Shard& shard, uint64_t keep_key) {
  // Approximate LRU without a linked list (which would cost two extra cache misses per update):
  // of kEvictionSample consecutive slots from a position derived from the new key, evict the
  // one touched longest ago.
  constexpr size_t kEvictionSample = 16;
  EntityTable& table = shard.table;
  const size_t mask = table.capacity() - 1;
  size_t position = table.HomeOf(MixBits64(keep_key));
  ptrdiff_t victim = -1;
  size_t sampled = 0;
  for (size_t step = 0; step < table.capacity() && sampled < kEvictionSample; ++step) {
    const EntityTable::Slot& slot = table.slot(position);
    if (slot.record && slot.key != keep_key) {
      ++sampled;
      if (victim < 0 || slot.touched_ms < table.slot(static_cast<size_t>(victim)).touched_ms) {
        victim = static_cast<ptrdiff_t>(position);
      }
    }
    position = (position + 1) & mask;
  }
  if (victim >= 0) {
    EraseSlot(shard, static_cast<size_t>(victim));
    ++shard.evictions;
  }
}

void FeatureStore::EvictIdleIncrementally(Shard& shard, int64_t now_ms, uint64_t keep_key) {
  // One slot per update: the whole table is swept every `capacity` updates of the shard, which
  // keeps idle entities from piling up between full EvictIdle() sweeps.
  constexpr int kSlotsPerUpdate = 1;
  if (options_.idle_eviction_ms <= 0 || shard.table.capacity() == 0) {
    return;
  }
  for (int n = 0; n < kSlotsPerUpdate; ++n) {
    const size_t index = shard.sweep_cursor++ & (shard.table.capacity() - 1);
    const EntityTable::Slot& slot = shard.table.slot(index);
    if (slot.record && slot.key != keep_key &&
        slot.touched_ms <= now_ms - options_.idle_eviction_ms) {
      EraseSlot(shard, index);
      ++shard.evictions;
    }
  }
}

size_t FeatureStore::EvictIdle() {
  if (options_.idle_eviction_ms <= 0) {
    return 0;
  }
  const int64_t now_ms = clock_.NowMillis();
  size_t evicted = 0;
  for (size_t s = 0; s < kShardCount; ++s) {
    Shard& shard = shards_[s];
    std::lock_guard lock(shard.mutex);
    for (size_t i = 0; i < shard.table.capacity();) {
      const EntityTable::Slot& slot = shard.table.slot(i);
      if (slot.record && slot.touched_ms <= now_ms - options_.idle_eviction_ms) {
        EraseSlot(shard, i);  // Another entry may shift into slot i: look at it again.
        ++shard.evictions;
        ++evicted;
      } else {
        ++i;
      }
    }
  }
  return evicted;
}

void FeatureStore::PrefetchEntities(const uint64_t* keys, size_t count) const {
  // With millions of entities nearly every slot and record is a cache miss, and handled one
  // entity at a time they would be paid one after another. Prefetching all slots first (through
  // lock-free address hints; a prefetch of a stale address is harmless), then all records, lets
  // the misses overlap.
  for (size_t i = 0; i < count; ++i) {
    const Shard& shard = ShardFor(keys[i]);
    const uintptr_t base = shard.slots_hint.load(std::memory_order_relaxed);
    const size_t mask = shard.mask_hint.load(std::memory_order_relaxed);
    if (base != 0) {
      __builtin_prefetch(reinterpret_cast<const void*>(
          base + (static_cast<size_t>(keys[i]) & mask) * sizeof(EntityTable::Slot)));
    }
  }
  for (size_t i = 0; i < count; ++i) {
    const Shard& shard = ShardFor(keys[i]);
    std::lock_guard lock(shard.mutex);
    if (const ptrdiff_t index = shard.table.Find(keys[i]); index >= 0) {
      const char* record =
          reinterpret_cast<const char*>(shard.table.slot(static_cast<size_t>(index)).record.get());
      for (size_t offset = 0; offset < sizeof(EntityRecord); offset += 64) {
        __builtin_prefetch(record + offset);
      }
    }
  }
}

void FeatureStore::UpdateAndRead(const Transaction& txn, FeatureVector& out, int worker) {
  FillTransactionFeatures(txn, out);
  const int64_t now_ms = clock_.NowMillis();
  const bool durable = !options_.data_dir.empty();
  uint64_t keys[kEntityTypeCount];
  size_t key_count = 0;
  for (size_t e = 0; e < kEntityTypeCount; ++e) {
    const std::string_view id = EntityId(txn, static_cast<EntityType>(e));
    if (!id.empty()) {
      keys[key_count++] = EntityKey(static_cast<EntityType>(e), id);
    }
  }
  PrefetchEntities(keys, key_count);

  char encoded[kEntityTypeCount * kLogRecordSize];
  size_t encoded_bytes = 0;
  size_t next_key = 0;
  for (size_t e = 0; e < kEntityTypeCount; ++e) {
    const auto type = static_cast<EntityType>(e);
    if (EntityId(txn, type).empty()) {
      FillMissing(type, out);
      continue;
    }
    LogRecord log_record;
    log_record.update = MakeUpdate(txn, type, keys[next_key++]);
    log_record.shard = static_cast<uint16_t>(log_record.update.key >> 56);
    Shard& shard = shards_[log_record.shard];
    {
      std::lock_guard lock(shard.mutex);
      EntityRecord& record = Touch(shard, log_record.update.key, type, now_ms);
      ApplyAndFill(record, log_record.update, out);
      log_record.shard_seq = ++shard.seq;
    }
    if (durable) {
      EncodeLogRecord(log_record, encoded + encoded_bytes);
      encoded_bytes += kLogRecordSize;
    }
  }
  if (encoded_bytes > 0) {
    BufferLogRecords(worker, encoded, encoded_bytes);
  }
}

void FeatureStore::BufferLogRecords(int worker, const char* encoded, size_t bytes) {
  const int count = static_cast<int>(workers_.size());
  const int index = ((worker % count) + count) % count;
  Worker& log = *workers_[static_cast<size_t>(index)];
  std::lock_guard lock(log.mutex);
  if (log.buffer.size() + bytes <= options_.max_pending_log_bytes) {
    log.buffer.append(encoded, bytes);
    return;
  }
  // Commits have failed long enough to fill the buffer. Memory stays bounded; the updates are
  // in the entity state already, so answers stay right, but only a snapshot can make them
  // durable again.
  if (log.unlogged_in_streak == 0) {
    ++workers_over_budget_;
    LogError("feature_log_backlog_full")
        .Field("worker", index)
        .Field("pending_bytes", static_cast<uint64_t>(log.buffer.size()))
        .Field("max_pending_log_bytes", static_cast<uint64_t>(options_.max_pending_log_bytes))
        .Field("consequence", "updates are applied but not logged until a commit succeeds");
  }
  const uint64_t records = bytes / kLogRecordSize;
  unlogged_records_ += records;
  log.unlogged_in_streak += records;
}

void FeatureStore::Read(const Transaction& txn, FeatureVector& out) const {
  FillTransactionFeatures(txn, out);
  for (size_t e = 0; e < kEntityTypeCount; ++e) {
    const auto type = static_cast<EntityType>(e);
    const std::string_view id = EntityId(txn, type);
    if (id.empty()) {
      FillMissing(type, out);
      continue;
    }
    const EntityUpdate update = MakeUpdate(txn, type, EntityKey(type, id));
    EntityRecord scratch;
    scratch.key = update.key;
    scratch.type = type;
    {
      const Shard& shard = ShardFor(update.key);
      std::lock_guard lock(shard.mutex);
      if (const ptrdiff_t index = shard.table.Find(update.key); index >= 0) {
        CopyRecordState(*shard.table.slot(static_cast<size_t>(index)).record, scratch);
      }
    }
    ApplyAndFill(scratch, update, out);
  }
}

void FeatureStore::RecordFraudLabel(std::string_view merchant_id,
                                    int64_t transaction_ms,
                                    int worker) {
  if (merchant_id.empty()) {
    return;
  }
  LogRecord log_record;
  log_record.update.kind = UpdateKind::kFraudLabel;
  log_record.update.type = EntityType::kMerchant;
  log_record.update.key = EntityKey(EntityType::kMerchant, merchant_id);
  log_record.update.timestamp_ms = transaction_ms;
  log_record.shard = static_cast<uint16_t>(log_record.update.key >> 56);
  Shard& shard = shards_[log_record.shard];
  {
    std::lock_guard lock(shard.mutex);
    ApplyUpdate(Touch(shard, log_record.update.key, EntityType::kMerchant, clock_.NowMillis()),
                log_record.update);
    log_record.shard_seq = ++shard.seq;
  }
  if (options_.data_dir.empty()) {
    return;
  }
  char encoded[kLogRecordSize];
  EncodeLogRecord(log_record, encoded);
  BufferLogRecords(worker, encoded, kLogRecordSize);
}

void FeatureStore::NoteCommitFailure(Worker& log, int worker, const std::string& error) {
  ++commit_failures_;
  if (!log.commit_failing) {
    log.commit_failing = true;
    LogWarn("feature_log_commit_failed")
        .Field("worker", worker)
        .Field("error", error)
        .Field("failures_total", commit_failures_.load());
  }
}

Status FeatureStore::Commit(int worker) {
  if (worker < 0 || static_cast<size_t>(worker) >= workers_.size()) {
    return Error{"Commit: worker " + std::to_string(worker) + " is outside [0, " +
                 std::to_string(workers_.size()) + ")"};
  }
  if (options_.data_dir.empty()) {
    return OkStatus();
  }
  Worker& log = *workers_[static_cast<size_t>(worker)];
  std::lock_guard lock(log.mutex);
  if (log.buffer.empty()) {
    return OkStatus();
  }
  const uint64_t generation = generation_.load(std::memory_order_seq_cst);
  if (log.fd < 0 || log.segment_generation != generation) {
    if (log.fd >= 0) {
      ::close(log.fd);
    }
    const std::string path =
        JoinPath(options_.data_dir, SegmentFileName(generation, worker, log.next_part++));
    log.fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log.fd < 0) {
      const std::string message = "cannot open log segment " + path + ": " + std::strerror(errno);
      NoteCommitFailure(log, worker, message);
      return Error{message};
    }
    log.segment_generation = generation;
  }
  size_t written = 0;
  Status status = WriteFully(log.fd, log.buffer, written);
  if (status.ok() && options_.fsync_commits && ::fdatasync(log.fd) != 0) {
    status = Error{std::string("fdatasync failed: ") + std::strerror(errno)};
  }
  if (!status.ok()) {
    // Whole records that reached the file stay there; a partly written one is retried in full
    // in a new segment part (recovery drops the torn copy, and skips duplicates by shard_seq).
    log.buffer.erase(0, written - written % kLogRecordSize);
    ::close(log.fd);
    log.fd = -1;
    NoteCommitFailure(log, worker, status.error());
    return status;
  }
  if (log.commit_failing) {
    log.commit_failing = false;
    LogInfo("feature_log_commit_recovered").Field("worker", worker);
  }
  if (log.unlogged_in_streak > 0) {
    --workers_over_budget_;
    LogWarn("feature_log_backlog_recovered")
        .Field("worker", worker)
        .Field("unlogged_records", log.unlogged_in_streak)
        .Field("durable_again", "at the next snapshot");
    log.unlogged_in_streak = 0;
  }
  log_bytes_ += written;
  log.buffer.clear();
  return OkStatus();
}

Status FeatureStore::Snapshot() {
  if (options_.data_dir.empty()) {
    return OkStatus();
  }
  std::lock_guard lock(snapshot_mutex_);
  const int64_t started_ns = MonotonicNanos();
  // Bump first: every update applied after this goes to a new-generation segment.
  const uint64_t generation = generation_.fetch_add(1, std::memory_order_seq_cst) + 1;
  if (Status written = WriteSnapshot(generation); !written.ok()) {
    ++snapshot_failures_;
    LogWarn("feature_snapshot_failed")
        .Field("generation", generation)
        .Field("error", written.error());
    ::unlink(JoinPath(options_.data_dir, SnapshotFileName(generation) + ".tmp").c_str());
    return written;
  }
  RemoveObsoleteFiles(previous_snapshot_generation_);
  previous_snapshot_generation_ = generation;
  last_snapshot_ms_ = clock_.NowMillis();
  LogInfo("feature_snapshot_written")
      .Field("generation", generation)
      .Field("duration_ms", (MonotonicNanos() - started_ns) / 1'000'000);
  return OkStatus();
}

Status FeatureStore::WriteSnapshot(uint64_t generation) {
  const std::string final_path = JoinPath(options_.data_dir, SnapshotFileName(generation));
  const std::string tmp_path = final_path + ".tmp";
  const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error{"cannot create " + tmp_path + ": " + std::strerror(errno)};
  }
  std::string chunk;
  chunk.assign(kSnapshotMagic, kMagicSize);
  PutValue(chunk, generation);
  PutValue(chunk, static_cast<uint32_t>(kShardCount));
  size_t written = 0;
  Status status = WriteFully(fd, chunk, written);
  std::string payload;
  for (size_t i = 0; i < kShardCount && status.ok(); ++i) {
    payload.clear();
    {
      Shard& shard = shards_[i];
      std::lock_guard lock(shard.mutex);
      PutValue(payload, shard.seq);
      PutValue(payload, static_cast<uint32_t>(shard.table.size()));
      for (size_t slot_index = 0; slot_index < shard.table.capacity(); ++slot_index) {
        const EntityTable::Slot& slot = shard.table.slot(slot_index);
        if (slot.record) {
          SerializeRecord(*slot.record, slot.touched_ms, payload);
        }
      }
    }
    chunk.clear();
    PutValue(chunk, static_cast<uint64_t>(payload.size()));
    status = WriteFully(fd, chunk, written);
    if (status.ok()) {
      status = WriteFully(fd, payload, written);
    }
    if (status.ok()) {
      chunk.clear();
      PutValue(chunk, Checksum64(payload));
      status = WriteFully(fd, chunk, written);
    }
  }
  if (status.ok()) {
    status = WriteFully(fd, std::string_view(kSnapshotEndMagic, kMagicSize), written);
  }
  if (status.ok() && ::fsync(fd) != 0) {
    status = Error{"cannot fsync " + tmp_path + ": " + std::strerror(errno)};
  }
  ::close(fd);
  if (!status.ok()) {
    return status;
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    return Error{"cannot rename " + tmp_path + ": " + std::strerror(errno)};
  }
  return FsyncDirectory(options_.data_dir);
}

void FeatureStore::RemoveObsoleteFiles(uint64_t keep_from_generation) {
  Result<std::vector<std::string>> names = ListDirectory(options_.data_dir);
  if (!names.ok()) {
    LogWarn("feature_cleanup_failed").Field("error", names.error());
    return;
  }
  for (const std::string& name : *names) {
    uint64_t generation = 0;
    const bool obsolete =
        (ParseSegmentFileName(name, generation) || ParseSnapshotFileName(name, generation)) &&
        generation < keep_from_generation;
    if (obsolete) {
      ::unlink(JoinPath(options_.data_dir, name).c_str());
    }
  }
}

Status FeatureStore::LoadSnapshot(const std::string& path, uint64_t generation) {
  Result<std::string> file = ReadWholeFile(path, kMaxFileBytes);
  if (!file.ok()) {
    return Error{file.error()};
  }
  const std::string& data = *file;
  size_t offset = 0;
  uint64_t stored_generation = 0;
  uint32_t shard_count = 0;
  const bool with_label_days = data.compare(0, kMagicSize, kSnapshotMagic, kMagicSize) == 0;
  if (!with_label_days &&
      data.compare(0, kMagicSize, kSnapshotMagicWithoutLabelDays, kMagicSize) != 0) {
    return Error{path + ": not a feature snapshot (bad magic)"};
  }
  offset = kMagicSize;
  if (!GetValue(data, offset, stored_generation) || !GetValue(data, offset, shard_count) ||
      stored_generation != generation || shard_count != kShardCount) {
    return Error{path + ": bad header (generation or shard count)"};
  }
  const int64_t now_ms = clock_.NowMillis();
  for (size_t i = 0; i < kShardCount; ++i) {
    uint64_t payload_size = 0;
    if (!GetValue(data, offset, payload_size) || payload_size > data.size() - offset) {
      return Error{path + ": truncated in shard " + std::to_string(i)};
    }
    const std::string payload = data.substr(offset, payload_size);
    offset += payload_size;
    uint64_t checksum = 0;
    if (!GetValue(data, offset, checksum) || checksum != Checksum64(payload)) {
      return Error{path + ": checksum mismatch in shard " + std::to_string(i)};
    }
    Shard& shard = shards_[i];
    std::lock_guard lock(shard.mutex);
    size_t payload_offset = 0;
    uint32_t count = 0;
    if (!GetValue(payload, payload_offset, shard.seq) ||
        !GetValue(payload, payload_offset, count)) {
      return Error{path + ": bad shard header in shard " + std::to_string(i)};
    }
    for (uint32_t r = 0; r < count; ++r) {
      EntityRecord loaded;
      int64_t touched_ms = 0;
      if (!DeserializeRecord(payload, payload_offset, loaded, touched_ms, with_label_days) ||
          (loaded.key >> 56) != i || shard.table.Find(loaded.key) >= 0) {
        return Error{path + ": bad entity " + std::to_string(r) + " in shard " + std::to_string(i)};
      }
      EntityRecord& record = Touch(shard, loaded.key, loaded.type, now_ms);
      record.history = loaded.history;
      record.card = std::move(loaded.card);
      record.label_days = std::move(loaded.label_days);
      if (const ptrdiff_t index = shard.table.Find(loaded.key); index >= 0) {
        shard.table.slot(static_cast<size_t>(index)).touched_ms = touched_ms;
      }
    }
  }
  if (data.size() - offset != kMagicSize ||
      data.compare(offset, kMagicSize, kSnapshotEndMagic, kMagicSize) != 0) {
    return Error{path + ": missing end marker"};
  }
  return OkStatus();
}

Status FeatureStore::Recover() {
  const int64_t started_ns = MonotonicNanos();
  if (::mkdir(options_.data_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error{"cannot create feature store data_dir " + options_.data_dir + ": " +
                 std::strerror(errno)};
  }
  Result<std::vector<std::string>> names = ListDirectory(options_.data_dir);
  if (!names.ok()) {
    return Error{names.error()};
  }
  std::vector<uint64_t> snapshots;
  std::vector<std::string> segments;
  uint64_t max_generation = 0;
  for (const std::string& name : *names) {
    uint64_t generation = 0;
    if (name.ends_with(".tmp")) {
      // A snapshot that was never completed; the previous one and the log cover its content.
      ::unlink(JoinPath(options_.data_dir, name).c_str());
    } else if (ParseSnapshotFileName(name, generation)) {
      snapshots.push_back(generation);
      max_generation = std::max(max_generation, generation);
    } else if (ParseSegmentFileName(name, generation)) {
      segments.push_back(name);
      max_generation = std::max(max_generation, generation);
    }
  }
  std::sort(snapshots.rbegin(), snapshots.rend());

  uint64_t loaded_generation = 0;
  for (uint64_t generation : snapshots) {
    const std::string path = JoinPath(options_.data_dir, SnapshotFileName(generation));
    if (Status loaded = LoadSnapshot(path, generation); loaded.ok()) {
      loaded_generation = generation;
      break;
    } else {
      ++corrupt_snapshots_;
      LogWarn("feature_snapshot_corrupt").Field("path", path).Field("error", loaded.error());
      for (size_t i = 0; i < kShardCount; ++i) {
        Shard& shard = shards_[i];
        std::lock_guard lock(shard.mutex);
        shard.table = EntityTable();
        std::fill(std::begin(shard.keys), std::end(shard.keys), 0);
        shard.bytes = 0;
        shard.seq = 0;
        shard.evictions = 0;
      }
    }
  }
  if (loaded_generation == 0 && !snapshots.empty()) {
    LogWarn("feature_snapshot_none_valid")
        .Field("snapshots", static_cast<uint64_t>(snapshots.size()))
        .Field("action", "replaying every remaining log segment");
  }

  std::vector<std::vector<LogRecord>> pending(kShardCount);
  for (const std::string& name : segments) {
    const std::string path = JoinPath(options_.data_dir, name);
    Result<std::string> file = ReadWholeFile(path, kMaxFileBytes);
    if (!file.ok()) {
      return Error{"cannot read log segment: " + file.error()};
    }
    const std::string& data = *file;
    size_t offset = 0;
    LogRecord record;
    while (data.size() - offset >= kLogRecordSize &&
           DecodeLogRecord(data.data() + offset, record) && record.shard < kShardCount &&
           (record.update.key >> 56) == record.shard) {
      pending[record.shard].push_back(record);
      offset += kLogRecordSize;
    }
    if (offset != data.size()) {
      dropped_log_bytes_ += data.size() - offset;
      LogWarn("feature_log_torn_tail")
          .Field("path", path)
          .Field("dropped_bytes", static_cast<uint64_t>(data.size() - offset));
    }
  }
  const int64_t now_ms = clock_.NowMillis();
  uint64_t replayed = 0;
  for (size_t i = 0; i < kShardCount; ++i) {
    std::vector<LogRecord>& records = pending[i];
    std::sort(records.begin(), records.end(),
              [](const LogRecord& a, const LogRecord& b) { return a.shard_seq < b.shard_seq; });
    Shard& shard = shards_[i];
    std::lock_guard lock(shard.mutex);
    for (const LogRecord& record : records) {
      if (record.shard_seq <= shard.seq) {
        continue;  // Already in the snapshot, or a duplicate from a retried commit.
      }
      ApplyUpdate(Touch(shard, record.update.key, record.update.type, now_ms), record.update);
      shard.seq = record.shard_seq;
      ++replayed;
    }
    records = {};
  }
  replayed_records_ = replayed;
  generation_ = max_generation + 1;
  previous_snapshot_generation_ = loaded_generation;
  const Stats loaded_stats = stats();
  uint64_t entities = 0;
  for (uint64_t keys : loaded_stats.keys) {
    entities += keys;
  }
  LogInfo("feature_store_recovered")
      .Field("data_dir", options_.data_dir)
      .Field("snapshot_generation", loaded_generation)
      .Field("segments", static_cast<uint64_t>(segments.size()))
      .Field("records_replayed", replayed)
      .Field("entities", entities)
      .Field("duration_ms", (MonotonicNanos() - started_ns) / 1'000'000);
  return OkStatus();
}

void FeatureStore::BackgroundLoop() {
  std::unique_lock lock(background_mutex_);
  while (!stopping_) {
    background_wake_.wait_for(lock, std::chrono::milliseconds(options_.snapshot_interval_ms),
                              [this] { return stopping_; });
    if (stopping_) {
      break;
    }
    lock.unlock();
    const size_t evicted = EvictIdle();
    if (evicted > 0) {
      LogInfo("feature_idle_evicted").Field("entities", static_cast<uint64_t>(evicted));
    }
    (void)Snapshot();  // Failures are logged and counted inside.
    lock.lock();
  }
}

Status FeatureStore::Close() {
  if (closed_) {
    return OkStatus();
  }
  {
    std::lock_guard lock(background_mutex_);
    stopping_ = true;
  }
  background_wake_.notify_all();
  if (background_.joinable()) {
    background_.join();
  }
  Status result = OkStatus();
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (Status committed = Commit(static_cast<int>(i)); !committed.ok() && result.ok()) {
      result = committed;
    }
  }
  if (!result.ok()) {
    return result;  // Keep the log as it is; a later Close() may succeed.
  }
  if (Status snapshot = Snapshot(); !snapshot.ok()) {
    return snapshot;
  }
  for (auto& worker : workers_) {
    std::lock_guard lock(worker->mutex);
    if (worker->fd >= 0) {
      ::close(worker->fd);
      worker->fd = -1;
    }
  }
  closed_ = true;
  return OkStatus();
}

FeatureStore::Stats FeatureStore::stats() const {
  Stats result{};
  for (size_t i = 0; i < kShardCount; ++i) {
    const Shard& shard = shards_[i];
    std::lock_guard lock(shard.mutex);
    for (size_t e = 0; e < kEntityTypeCount; ++e) {
      result.keys[e] += shard.keys[e];
    }
    result.bytes += shard.bytes;
    result.evictions += shard.evictions;
  }
  result.log_bytes = log_bytes_;
  result.last_snapshot_ms = last_snapshot_ms_;
  result.replayed_records = replayed_records_;
  result.commit_failures = commit_failures_;
  result.snapshot_failures = snapshot_failures_;
  result.corrupt_snapshots = corrupt_snapshots_;
  result.dropped_log_bytes = dropped_log_bytes_;
  result.unlogged_records = unlogged_records_;
  result.pending_log_bytes = 0;
  for (const auto& log : workers_) {
    std::lock_guard lock(log->mutex);
    result.pending_log_bytes += log->buffer.size();
  }
  return result;
}

bool FeatureStore::DescribeEntity(EntityType type,
                                  std::string_view id,
                                  std::string& json_out) const {
  if (id.empty()) {
    return false;
  }
  const uint64_t key = EntityKey(type, id);
  const Shard& shard = ShardFor(key);
  std::lock_guard lock(shard.mutex);
  const ptrdiff_t index = shard.table.Find(key);
  if (index < 0 || shard.table.slot(static_cast<size_t>(index)).record->history.empty()) {
    return false;
  }
  const EntityRecord& record = *shard.table.slot(static_cast<size_t>(index)).record;
  const int64_t newest_ms = record.history.newest_ms();
  json_out.clear();
  JsonWriter json(json_out);
  json.BeginObject()
      .Field("entity", kEntityTypeNames[static_cast<size_t>(type)])
      .Field("id", id)
      .Field("last_seen_ms", newest_ms)
      .Field("summaries", record.history.size());
  json.Key("windows").BeginObject();
  for (size_t w = 0; w < kWindowCount; ++w) {
    const WindowAggregate window = record.history.Aggregate(newest_ms, kWindowMillis[w]);
    json.Key(kWindowNames[w])
        .BeginObject()
        .Field("count", window.count)
        .Field("sum", window.sum)
        .Field("mean", window.mean)
        .Field("std", window.std)
        .EndObject();
  }
  json.EndObject();
  if (record.card) {
    json.Field("distinct_merchants_24h", record.card->merchants.CountSince(newest_ms - kDayMs))
        .Field("distinct_countries_24h", record.card->countries.CountSince(newest_ms - kDayMs));
  }
  if (record.label_days) {
    // What the label-driven features read for a transaction at the newest time.
    FeatureVector features{};
    MerchantLabelDays days = *record.label_days;  // a copy: reading may refresh its cached windows
    FillMerchantLabelFeatures(&days, newest_ms, features);
    json.Field("label_delay_days", kLabelDelayDays).Key("delayed_windows").BeginObject();
    for (size_t w = 0; w < kLabelWindowCount; ++w) {
      const float risk = features[MerchantDelayedFraudRiskFeature(w)];
      json.Key(std::to_string(kLabelWindowDays[w]) + "d")
          .BeginObject()
          .Field("count", static_cast<double>(features[MerchantDelayedCountFeature(w)]))
          .Field("fraud_risk", static_cast<double>(risk))
          .EndObject();
    }
    json.EndObject();
  }
  json.EndObject();
  return true;
}

}  // namespace fraudguard
