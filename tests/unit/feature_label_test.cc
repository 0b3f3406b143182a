// The label-driven merchant features: confirmed frauds counted per quarter day, read only once
// they are kLabelDelayDays old, kept through the durability log and snapshots.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "features/entity_state.h"
#include "features/feature_log.h"
#include "features/feature_store.h"

namespace fraudguard {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDayMs = 24LL * 3600 * 1000;
// 2024-05-01T10:00:00Z; the tests count days from its midnight.
constexpr int64_t kDay0 = 1'714'521'600'000LL;
constexpr int64_t kMorning = 10LL * 3600 * 1000;

Transaction AtMerchant(const std::string& merchant, int day, int64_t offset_ms = kMorning) {
  Transaction txn;
  txn.timestamp_ms = kDay0 + day * kDayMs + offset_ms;
  txn.amount = 20;
  txn.card_id = "card-" + std::to_string(day);
  txn.merchant_id = merchant;
  return txn;
}

constexpr int64_t kHourMs = 3600LL * 1000;

// Features a new transaction at `merchant` on `day` at `hour` would get (Read changes nothing).
// At 06:00, a quarter-day boundary, the windows end exactly the label delay back.
FeatureVector Probe(const FeatureStore& store,
                    const std::string& merchant,
                    int day,
                    int64_t hour = 6) {
  FeatureVector out;
  store.Read(AtMerchant(merchant, day, hour * kHourMs), out);
  return out;
}

float Count(const FeatureVector& features, size_t window) {
  return features[MerchantDelayedCountFeature(window)];
}
float Risk(const FeatureVector& features, size_t window) {
  return features[MerchantDelayedFraudRiskFeature(window)];
}

std::unique_ptr<FeatureStore> Open(const Clock& clock, const std::string& data_dir = "") {
  FeatureStoreOptions options;
  options.data_dir = data_dir;
  options.worker_threads = 1;
  options.snapshot_interval_ms = 3'600'000;
  auto store = FeatureStore::Open(options, clock);
  EXPECT_TRUE(store.ok()) << store.error();
  return store.ok() ? std::move(store).value() : nullptr;
}

TEST(MerchantLabelFeaturesTest, NamesFollowTheWindows) {
  EXPECT_EQ(FeatureIndex("merchant_delayed_count_1d"),
            static_cast<int>(MerchantDelayedCountFeature(0)));
  EXPECT_EQ(FeatureIndex("merchant_delayed_fraud_risk_30d"),
            static_cast<int>(MerchantDelayedFraudRiskFeature(2)));
  EXPECT_EQ(kLabelFeaturesBegin + kLabelFeatureCount, kFeatureCount);
}

TEST(MerchantLabelFeaturesTest, AFraudCountsOnlyOnceItIsTheLabelDelayOld) {
  ManualClock clock(kDay0);
  auto store = Open(clock);
  FeatureVector out;
  // Day 0: four transactions at m1, one of them later confirmed as fraud.
  for (int i = 0; i < 4; ++i) {
    store->UpdateAndRead(AtMerchant("m1", 0, kMorning + i * 60'000), out, 0);
  }
  store->RecordFraudLabel("m1", kDay0 + kMorning, 0);

  // On day 7 at 06:00 they are not yet a label delay old: nothing is known.
  FeatureVector day7 = Probe(*store, "m1", 7);
  EXPECT_EQ(Count(day7, 0), 0.0f);
  EXPECT_TRUE(std::isnan(Risk(day7, 0))) << "no transactions in the window: no share";
  EXPECT_TRUE(std::isnan(Risk(day7, 2)));
  // At 11:00 they are, but their quarter (06:00-12:00) is not wholly: still unknown. From
  // 12:00 the whole quarter is older than the delay.
  EXPECT_EQ(Count(Probe(*store, "m1", 7, 11), 0), 0.0f);
  EXPECT_EQ(Count(Probe(*store, "m1", 7, 12), 0), 4.0f);
  EXPECT_FLOAT_EQ(Risk(Probe(*store, "m1", 7, 12), 0), 0.25f);

  // On day 8 day 0 is the 1-day window (the probe itself falls on day 8, outside every window).
  FeatureVector day8 = Probe(*store, "m1", 8);
  EXPECT_EQ(Count(day8, 0), 4.0f);
  EXPECT_FLOAT_EQ(Risk(day8, 0), 0.25f);
  EXPECT_EQ(Count(day8, 1), 4.0f);
  EXPECT_FLOAT_EQ(Risk(day8, 2), 0.25f);

  // On day 9 it has left the 1-day window but stays in the 7- and 30-day ones.
  FeatureVector day9 = Probe(*store, "m1", 9);
  EXPECT_EQ(Count(day9, 0), 0.0f);
  EXPECT_EQ(Count(day9, 1), 4.0f);
  EXPECT_FLOAT_EQ(Risk(day9, 1), 0.25f);

  // Day 0 ends the 30-day window on day 37 and has left it on day 38.
  EXPECT_EQ(Count(Probe(*store, "m1", 37), 2), 4.0f);
  EXPECT_EQ(Count(Probe(*store, "m1", 38), 2), 0.0f);

  // Another merchant knows nothing of m1's fraud.
  EXPECT_EQ(Count(Probe(*store, "m2", 8), 0), 0.0f);
}

TEST(MerchantLabelFeaturesTest, WindowsAddUpDaysAndMissingMerchantsAreNaN) {
  ManualClock clock(kDay0);
  auto store = Open(clock);
  FeatureVector out;
  // Days 0..29: day d has d % 3 + 1 transactions; every day divisible by 5 has one fraud.
  for (int day = 0; day < 30; ++day) {
    for (int i = 0; i <= day % 3; ++i) {
      store->UpdateAndRead(AtMerchant("m", day, kMorning + i), out, 0);
    }
    if (day % 5 == 0) {
      store->RecordFraudLabel("m", kDay0 + day * kDayMs + kMorning, 0);
    }
  }
  // A transaction on day 38 at 06:00 reads from day 1, 24 and 30 at 06:00 (30, 7 and 1 days)
  // to day 31 at 06:00.
  FeatureVector probe = Probe(*store, "m", 38);
  double count_30d = 0;
  double count_7d = 0;
  for (int day = 1; day < 30; ++day) {
    count_30d += day % 3 + 1;
    count_7d += day >= 24 ? day % 3 + 1 : 0;
  }
  EXPECT_EQ(Count(probe, 0), 0.0f) << "day 30 had no transactions";
  EXPECT_EQ(Count(probe, 1), static_cast<float>(count_7d));
  EXPECT_EQ(Count(probe, 2), static_cast<float>(count_30d));
  EXPECT_FLOAT_EQ(Risk(probe, 1), static_cast<float>(1.0 / count_7d));   // day 25
  EXPECT_FLOAT_EQ(Risk(probe, 2), static_cast<float>(5.0 / count_30d));  // days 5..25

  Transaction without_merchant = AtMerchant("", 38);
  store->Read(without_merchant, out);
  for (size_t i = kLabelFeaturesBegin; i < kFeatureCount; ++i) {
    EXPECT_TRUE(std::isnan(out[i])) << FeatureNames()[i];
  }
}

TEST(MerchantLabelFeaturesTest, ALabelInsideTheWindowsChangesTheNextTransactionsFeatures) {
  ManualClock clock(kDay0);
  auto store = Open(clock);
  FeatureVector out;
  for (int i = 0; i < 2; ++i) {
    store->UpdateAndRead(AtMerchant("m", 2, kMorning + i), out, 0);
  }
  // Day 10: the 7-day window holds day 2's two transactions, none of them known fraud yet.
  store->UpdateAndRead(AtMerchant("m", 10, kMorning), out, 0);
  EXPECT_EQ(Count(out, 1), 2.0f);
  EXPECT_FLOAT_EQ(Risk(out, 1), 0.0f);
  // A chargeback for one of them arrives; the very next transaction, in the same quarter, sees it.
  store->RecordFraudLabel("m", kDay0 + 2 * kDayMs + kMorning, 0);
  store->UpdateAndRead(AtMerchant("m", 10, kMorning + 60'000), out, 0);
  EXPECT_FLOAT_EQ(Risk(out, 1), 0.5f);
}

TEST(MerchantLabelFeaturesTest, LabelsOutsideTheRingAndWithoutMerchantAreIgnored) {
  ManualClock clock(kDay0);
  auto store = Open(clock);
  FeatureVector out;
  store->UpdateAndRead(AtMerchant("m", 50), out, 0);
  // Day 50 is newest: a label for day 10 is older than the ring of days and counts nowhere.
  store->RecordFraudLabel("m", kDay0 + 10 * kDayMs, 0);
  store->RecordFraudLabel("", kDay0 + 50 * kDayMs, 0);
  store->UpdateAndRead(AtMerchant("m", 51), out, 0);
  for (int day = 52; day < 100; ++day) {
    const FeatureVector probe = Probe(*store, "m", day);
    EXPECT_FALSE(Risk(probe, 2) > 0.0f) << "day " << day;
  }
  // A label for a merchant the store has not seen yet is kept for when it trades.
  store->RecordFraudLabel("new", kDay0 + 60 * kDayMs + kMorning, 0);
  store->UpdateAndRead(AtMerchant("new", 60), out, 0);
  EXPECT_FLOAT_EQ(Risk(Probe(*store, "new", 68), 0), 1.0f);
}

TEST(MerchantLabelFeaturesTest, LabelsSurviveACrashAndASnapshot) {
  char pattern[] = "/tmp/feature_label_XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  ManualClock clock(kDay0);
  {
    auto store = Open(clock, dir);
    FeatureVector out;
    for (int i = 0; i < 5; ++i) {
      store->UpdateAndRead(AtMerchant("m", 0, kMorning + i), out, 0);
    }
    store->RecordFraudLabel("m", kDay0 + kMorning, 0);
    store->RecordFraudLabel("m", kDay0 + kMorning + 1, 0);
    ASSERT_TRUE(store->Commit(0).ok());
    // Destroyed without Close: what kill -9 leaves (the log, no final snapshot).
  }
  {
    auto store = Open(clock, dir);
    EXPECT_FLOAT_EQ(Risk(Probe(*store, "m", 8), 0), 0.4f) << "replayed from the log";
    ASSERT_TRUE(store->Close().ok());
  }
  auto store = Open(clock, dir);
  EXPECT_FLOAT_EQ(Risk(Probe(*store, "m", 8), 0), 0.4f) << "loaded from the snapshot";
  std::string json;
  ASSERT_TRUE(store->DescribeEntity(EntityType::kMerchant, "m", json));
  EXPECT_NE(json.find(R"("label_delay_days":7)"), std::string::npos) << json;
  ASSERT_TRUE(store->Close().ok());
  fs::remove_all(dir);
}

TEST(MerchantLabelFeaturesTest, FraudLabelRecordsRoundTripAndUnknownKindsAreRejected) {
  LogRecord record;
  record.shard_seq = 3;
  record.shard = 9;
  record.update.kind = UpdateKind::kFraudLabel;
  record.update.type = EntityType::kMerchant;
  record.update.key = 0x0900000000000042ULL;
  record.update.timestamp_ms = kDay0;
  char bytes[kLogRecordSize];
  EncodeLogRecord(record, bytes);
  LogRecord decoded;
  ASSERT_TRUE(DecodeLogRecord(bytes, decoded));
  EXPECT_EQ(decoded.update.kind, UpdateKind::kFraudLabel);
  EXPECT_EQ(decoded.update.timestamp_ms, kDay0);

  // A record whose kind byte names no kind is refused even with a matching checksum.
  record.update.kind = static_cast<UpdateKind>(7);
  EncodeLogRecord(record, bytes);
  EXPECT_FALSE(DecodeLogRecord(bytes, decoded));
}

TEST(MerchantLabelFeaturesTest, RecordsOfTheFirstSnapshotFormatStillLoad) {
  // A format-1 record is today's record without the trailing label-days flag.
  EntityRecord card;
  card.key = 77;
  card.type = EntityType::kCard;
  card.history.Add(kDay0, 12.5);
  std::string bytes;
  SerializeRecord(card, kDay0, bytes);
  ASSERT_EQ(bytes.back(), '\0') << "no label days on a card";
  bytes.pop_back();
  EntityRecord loaded;
  int64_t touched_ms = 0;
  size_t offset = 0;
  ASSERT_TRUE(DeserializeRecord(bytes, offset, loaded, touched_ms, /*with_label_days=*/false));
  EXPECT_EQ(offset, bytes.size());
  EXPECT_EQ(loaded.history.newest_ms(), kDay0);
  EXPECT_EQ(loaded.label_days, nullptr);

  // In today's format a card claiming label days is damaged.
  bytes.push_back('\1');
  offset = 0;
  EXPECT_FALSE(DeserializeRecord(bytes, offset, loaded, touched_ms));
}

}  // namespace
}  // namespace fraudguard
