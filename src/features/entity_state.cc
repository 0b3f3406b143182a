#include "features/entity_state.h"

#include <cstring>

#include "features/entity_hash.h"

namespace fraudguard {
namespace {

// Seeds are arbitrary but fixed forever: they are part of the snapshot and log format.
constexpr std::array<uint64_t, kEntityTypeCount> kEntitySeeds = {
    0x6361726400000001ULL, 0x6375737400000002ULL, 0x6d65726300000003ULL, 0x6465766900000004ULL,
    0x6970616400000005ULL};
constexpr uint64_t kMerchantSeed = 0x4d45524348414e54ULL;
constexpr uint64_t kCountrySeed = 0x434f554e54525900ULL;
constexpr uint64_t kDeviceSeed = 0x4445564943450000ULL;

template <typename T>
void Put(std::string& out, const T& value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(value));
}

template <typename T>
bool Get(const std::string& data, size_t& offset, T& value) {
  if (offset > data.size() || data.size() - offset < sizeof(value)) {
    return false;
  }
  std::memcpy(&value, data.data() + offset, sizeof(value));
  offset += sizeof(value);
  return true;
}

template <int N>
void PutSet(std::string& out, const RecentSet<N>& set) {
  for (int i = 0; i < N; ++i) {
    Put(out, set.hashes[i]);
    Put(out, set.seen_s[i]);
  }
}

template <int N>
bool GetSet(const std::string& data, size_t& offset, RecentSet<N>& set) {
  for (int i = 0; i < N; ++i) {
    if (!Get(data, offset, set.hashes[i]) || !Get(data, offset, set.seen_s[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

int64_t MerchantLabelDays::BucketOf(int64_t timestamp_ms) {
  return timestamp_ms / kBucketMs - (timestamp_ms % kBucketMs != 0 && timestamp_ms < 0);
}

size_t MerchantLabelDays::Slot(int64_t bucket) {
  return static_cast<size_t>(((bucket % kBuckets) + kBuckets) % kBuckets);
}

void MerchantLabelDays::AdvanceTo(int64_t bucket) {
  if (bucket <= newest_bucket) {
    return;
  }
  if (bucket - newest_bucket >= kBuckets) {
    buckets.fill(Bucket{});
  } else {
    for (int64_t skipped = newest_bucket + 1; skipped <= bucket; ++skipped) {
      buckets[Slot(skipped)] = Bucket{};
    }
  }
  newest_bucket = bucket;
  cached_end_bucket_ = kNotCached;  // the ring dropped old quarters, maybe in the windows
}

void MerchantLabelDays::AddTransaction(int64_t timestamp_ms) {
  const int64_t bucket = BucketOf(timestamp_ms);
  AdvanceTo(bucket);
  if (bucket > newest_bucket - kBuckets) {
    ++buckets[Slot(bucket)].transactions;
    if (bucket < cached_end_bucket_) {
      cached_end_bucket_ =
          kNotCached;  // inside the windows: not expected, recorded times only grow
    }
  }
}

void MerchantLabelDays::AddFraud(int64_t timestamp_ms) {
  const int64_t bucket = BucketOf(timestamp_ms);
  AdvanceTo(bucket);
  if (bucket > newest_bucket - kBuckets) {
    ++buckets[Slot(bucket)].frauds;
    cached_end_bucket_ = kNotCached;
  }
}

const MerchantLabelDays::Windows& MerchantLabelDays::WindowsBefore(int64_t end_ms) {
  // The quarter holding end_ms is partly younger than end_ms: the windows stop before it.
  const int64_t end_bucket = BucketOf(end_ms);
  if (end_bucket == cached_end_bucket_) {
    return cached_;
  }
  // Walk back from the last quarter before it, adding the quarters the ring still holds, and
  // read each window's total when the walk has covered it.
  const int64_t oldest = newest_bucket - kBuckets + 1;
  int64_t bucket = end_bucket - 1;
  size_t slot = Slot(std::clamp(bucket, oldest, newest_bucket));
  Totals running;
  size_t next = 0;
  for (int64_t walked = 1; next < kLabelWindowCount; ++walked, --bucket) {
    if (bucket >= oldest && bucket <= newest_bucket) {
      running.transactions += buckets[slot].transactions;
      running.frauds += buckets[slot].frauds;
      slot = slot == 0 ? kBuckets - 1 : slot - 1;
    }
    while (next < kLabelWindowCount && walked >= kLabelWindowDays[next] * kBucketsPerDay) {
      cached_[next++] = running;
    }
  }
  cached_end_bucket_ = end_bucket;
  return cached_;
}

uint64_t EntityKey(EntityType type, std::string_view id) {
  return HashString(id, kEntitySeeds[static_cast<size_t>(type)]);
}
uint32_t MerchantHash(std::string_view merchant_id) {
  return HashString32(merchant_id, kMerchantSeed);
}
uint32_t CountryHash(std::string_view country) {
  return HashString32(country, kCountrySeed);
}
uint32_t DeviceHash(std::string_view device_id) {
  return HashString32(device_id, kDeviceSeed);
}

int64_t ApplyUpdate(EntityRecord& record, const EntityUpdate& update) {
  if (update.kind == UpdateKind::kFraudLabel) {
    if (record.type == EntityType::kMerchant) {
      if (!record.label_days) {
        record.label_days = std::make_unique<MerchantLabelDays>();
      }
      record.label_days->AddFraud(update.timestamp_ms);
    }
    return update.timestamp_ms;
  }
  const int64_t at_ms = record.history.Add(update.timestamp_ms, update.amount);
  if (record.type == EntityType::kMerchant) {
    if (!record.label_days) {
      record.label_days = std::make_unique<MerchantLabelDays>();
    }
    // The recorded time, like the windows: a late transaction counts at the newest time seen.
    record.label_days->AddTransaction(at_ms);
  }
  if (record.type == EntityType::kCard) {
    if (!record.card) {
      record.card = std::make_unique<CardExtras>();
    }
    record.card->merchants.Touch(update.merchant_hash, at_ms);
    record.card->countries.Touch(update.country_hash, at_ms);
    record.card->devices.Touch(update.device_hash, at_ms);
  }
  return at_ms;
}

void SerializeRecord(const EntityRecord& record, int64_t touched_ms, std::string& out) {
  Put(out, record.key);
  Put(out, static_cast<uint8_t>(record.type));
  Put(out, touched_ms);
  const auto size = static_cast<uint8_t>(record.history.size());
  Put(out, size);
  for (int i = 0; i < size; ++i) {
    const WindowHistogram::Summary& s = record.history.summary(i);
    Put(out, s.last_ms);
    Put(out, s.span_ms);
    Put(out, s.count);
    Put(out, s.mean);
    Put(out, s.m2);
  }
  const uint8_t has_card = record.card != nullptr;
  Put(out, has_card);
  if (has_card) {
    PutSet(out, record.card->merchants);
    PutSet(out, record.card->countries);
    PutSet(out, record.card->devices);
  }
  const uint8_t has_label_days = record.label_days != nullptr;
  Put(out, has_label_days);
  if (has_label_days) {
    Put(out, record.label_days->newest_bucket);
    for (int i = 0; i < MerchantLabelDays::kBuckets; ++i) {
      Put(out, record.label_days->buckets[i].transactions);
      Put(out, record.label_days->buckets[i].frauds);
    }
  }
}

bool DeserializeRecord(const std::string& data,
                       size_t& offset,
                       EntityRecord& record,
                       int64_t& touched_ms,
                       bool with_label_days) {
  uint8_t type = 0;
  uint8_t size = 0;
  if (!Get(data, offset, record.key) || !Get(data, offset, type) ||
      !Get(data, offset, touched_ms) || !Get(data, offset, size)) {
    return false;
  }
  if (type >= kEntityTypeCount || size > WindowHistogram::kCapacity) {
    return false;
  }
  record.type = static_cast<EntityType>(type);
  std::array<WindowHistogram::Summary, WindowHistogram::kCapacity> summaries{};
  for (int i = 0; i < size; ++i) {
    WindowHistogram::Summary& s = summaries[i];
    if (!Get(data, offset, s.last_ms) || !Get(data, offset, s.span_ms) ||
        !Get(data, offset, s.count) || !Get(data, offset, s.mean) || !Get(data, offset, s.m2)) {
      return false;
    }
  }
  if (!record.history.Restore(summaries.data(), size)) {
    return false;
  }
  uint8_t has_card = 0;
  if (!Get(data, offset, has_card) || has_card > 1 ||
      (has_card == 1 && record.type != EntityType::kCard)) {
    return false;
  }
  if (has_card) {
    record.card = std::make_unique<CardExtras>();
    if (!GetSet(data, offset, record.card->merchants) ||
        !GetSet(data, offset, record.card->countries) ||
        !GetSet(data, offset, record.card->devices)) {
      return false;
    }
  }
  if (!with_label_days) {
    return true;
  }
  uint8_t has_label_days = 0;
  if (!Get(data, offset, has_label_days) || has_label_days > 1 ||
      (has_label_days == 1 && record.type != EntityType::kMerchant)) {
    return false;
  }
  if (has_label_days) {
    record.label_days = std::make_unique<MerchantLabelDays>();
    if (!Get(data, offset, record.label_days->newest_bucket)) {
      return false;
    }
    for (int i = 0; i < MerchantLabelDays::kBuckets; ++i) {
      if (!Get(data, offset, record.label_days->buckets[i].transactions) ||
          !Get(data, offset, record.label_days->buckets[i].frauds)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace fraudguard
