// The state the feature store keeps per entity, the update that changes it, and its binary
// form in snapshots. The same ApplyUpdate runs when serving and when replaying the durability
// log, which is what makes recovered state identical to the state before a crash.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

#include "features/feature_schema.h"
#include "features/window_histogram.h"

namespace fraudguard {

// What a durability log record says happened to an entity. The values are part of the log
// format.
enum class UpdateKind : uint8_t {
  kTransaction = 1,  // a transaction at the entity (the only kind before label features)
  kFraudLabel = 2,   // a merchant's earlier transaction was confirmed as fraud
};

// One transaction's effect on one entity, or one fraud label's effect on a merchant: what a
// durability log record carries.
struct EntityUpdate {
  UpdateKind kind = UpdateKind::kTransaction;
  EntityType type = EntityType::kCard;
  uint64_t key = 0;  // Hash of the entity id (see EntityKey).
  // The transaction's time; for a fraud label, the time of the transaction it labels.
  int64_t timestamp_ms = 0;
  double amount = 0;  // 0 for a fraud label.
  // Card only; 32-bit hashes of the transaction's merchant, country and device, 0 if absent.
  uint32_t merchant_hash = 0;
  uint32_t country_hash = 0;
  uint32_t device_hash = 0;
};

// A small set of recently seen values (32-bit hashes) with the second each was last seen.
// When full, the least recently seen value is replaced, so a count of distinct values over a
// window saturates at N (a card at more than N distinct merchants in a day is remarkable
// enough at N). Times are whole seconds, so window edges are accurate to one second.
template <int N>
struct RecentSet {
  std::array<uint32_t, N> hashes{};  // 0 = empty slot.
  std::array<uint32_t, N> seen_s{};  // Unix seconds; valid until 2106.

  static uint32_t ToSeconds(int64_t ms) {
    return ms <= 0 ? 0
                   : static_cast<uint32_t>(
                         std::min<int64_t>(ms / 1000, std::numeric_limits<uint32_t>::max()));
  }
  // True if `hash` was seen in (since_ms, ...].
  bool SeenSince(uint32_t hash, int64_t since_ms) const {
    for (int i = 0; i < N; ++i) {
      if (hashes[i] == hash && hash != 0) {
        return static_cast<int64_t>(seen_s[i]) * 1000 > since_ms;
      }
    }
    return false;
  }
  int CountSince(int64_t since_ms) const {
    int count = 0;
    for (int i = 0; i < N; ++i) {
      count += hashes[i] != 0 && static_cast<int64_t>(seen_s[i]) * 1000 > since_ms;
    }
    return count;
  }
  void Touch(uint32_t hash, int64_t at_ms) {
    if (hash == 0) {
      return;
    }
    int empty_slot = -1;
    int oldest_slot = 0;
    for (int i = 0; i < N; ++i) {
      if (hashes[i] == hash) {
        seen_s[i] = std::max(seen_s[i], ToSeconds(at_ms));
        return;
      }
      if (hashes[i] == 0 && empty_slot < 0) {
        empty_slot = i;
      }
      if (seen_s[i] < seen_s[oldest_slot]) {
        oldest_slot = i;
      }
    }
    const int slot = empty_slot >= 0 ? empty_slot : oldest_slot;
    hashes[slot] = hash;
    seen_s[slot] = ToSeconds(at_ms);
  }
};

// Card-only state behind the card features.
struct CardExtras {
  RecentSet<12> merchants;
  RecentSet<6> countries;
  RecentSet<6> devices;
};

// Merchant-only state behind the label-driven features: per quarter of a UTC day (6 hours),
// how many transactions the merchant had and how many of them were later confirmed as fraud,
// for the newest kBuckets quarters (a ring indexed by quarter number). Quarters rather than days
// let a window end within 6 hours of "the label delay ago" without reading a transaction
// younger than the delay. About 1.3 KiB a merchant.
struct MerchantLabelDays {
  static constexpr int64_t kBucketMs = 6LL * 3600 * 1000;
  static constexpr int kBucketsPerDay = 4;
  // The longest window reaches 30 days back from the label delay ago, plus the quarters since.
  static constexpr int kBuckets = static_cast<int>((kLabelDelayDays + 30 + 1) * kBucketsPerDay);

  struct Bucket {
    uint32_t transactions = 0;
    uint32_t frauds = 0;
  };
  struct Totals {
    uint64_t transactions = 0;
    uint64_t frauds = 0;
  };
  using Windows = std::array<Totals, kLabelWindowCount>;

  int64_t newest_bucket = 0;  // Quarter number (6-hour steps since 1970-01-01 UTC).
  std::array<Bucket, kBuckets> buckets{};

  void AddTransaction(int64_t timestamp_ms);
  // Counts one confirmed fraud in the quarter of `timestamp_ms`; ignored when that quarter is
  // older than the ring holds.
  void AddFraud(int64_t timestamp_ms);
  // The totals over each of kLabelWindowDays of whole quarters that end at the last quarter
  // wholly older than `end_ms`. Transactions only ever land in quarters far newer than these
  // windows, so the result is kept until the windows move (every 6 hours) or a fraud or a jump
  // of the ring changes them: most calls read it without walking the ring.
  const Windows& WindowsBefore(int64_t end_ms);

  static int64_t BucketOf(int64_t timestamp_ms);

private:
  // Moves the ring forward so that `bucket` is the newest, clearing the quarters it skips.
  void AdvanceTo(int64_t bucket);
  static size_t Slot(int64_t bucket);

  static constexpr int64_t kNotCached = INT64_MIN;
  int64_t cached_end_bucket_ = kNotCached;  // BucketOf(end_ms) that `cached_` is for.
  Windows cached_{};
};

// One entity in the store (owned by its shard's EntityTable).
struct EntityRecord {
  uint64_t key = 0;
  EntityType type = EntityType::kCard;
  WindowHistogram history;
  std::unique_ptr<CardExtras> card;               // Cards only.
  std::unique_ptr<MerchantLabelDays> label_days;  // Merchants only.
};

// The 64-bit key of an entity id; the seed differs per type.
uint64_t EntityKey(EntityType type, std::string_view id);
// The 32-bit hashes carried by card updates.
uint32_t MerchantHash(std::string_view merchant_id);
uint32_t CountryHash(std::string_view country);
uint32_t DeviceHash(std::string_view device_id);

// Applies `update` to `record`; returns the time the event was recorded at (see
// WindowHistogram::Add; for a fraud label, the labelled transaction's time). Creates the card
// extras of a card and the label days of a merchant on first use.
int64_t ApplyUpdate(EntityRecord& record, const EntityUpdate& update);

// Snapshot form: appends the record and its last-touched time to `out`; reads them back from
// `data` at `offset`, advancing it. Returns false on truncated or invalid input. Native byte
// order (snapshots are local to the machine). Records of snapshot format 1, written before
// merchants kept label days, are read with `with_label_days` false.
void SerializeRecord(const EntityRecord& record, int64_t touched_ms, std::string& out);
bool DeserializeRecord(const std::string& data,
                       size_t& offset,
                       EntityRecord& record,
                       int64_t& touched_ms,
                       bool with_label_days = true);

}  // namespace fraudguard
