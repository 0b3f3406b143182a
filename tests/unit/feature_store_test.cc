#include "features/feature_store.h"

#include <cmath>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
// 2023-11-14T22:13:20Z, a Tuesday.
constexpr int64_t kStart = 1'700'000'000'000LL;

size_t CardCount(size_t window) {
  return EntityWindowFeature(EntityType::kCard, window, WindowStat::kCount);
}
size_t CardStat(size_t window, WindowStat stat) {
  return EntityWindowFeature(EntityType::kCard, window, stat);
}

Transaction MakeTxn(const std::string& card, int64_t ts_ms, double amount) {
  Transaction txn;
  txn.transaction_id = "t" + std::to_string(ts_ms);
  txn.timestamp_ms = ts_ms;
  txn.amount = amount;
  txn.card_id = card;
  txn.customer_id = "cust-" + card;
  txn.merchant_id = "m1";
  txn.country = "US";
  txn.device_id = "d-" + card;
  txn.ip = "10.0.0.1";
  txn.channel = "pos";
  return txn;
}

std::unique_ptr<FeatureStore> OpenInMemory(const Clock& clock, FeatureStoreOptions options = {}) {
  Result<std::unique_ptr<FeatureStore>> store = FeatureStore::Open(options, clock);
  EXPECT_TRUE(store.ok()) << store.error();
  return std::move(store).value();
}

TEST(FeatureStoreTest, TransactionFeatures) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  Transaction txn = MakeTxn("c1", kStart, 42.5);
  txn.user_age_days = 12;
  FeatureVector out;
  store->UpdateAndRead(txn, out, 0);
  EXPECT_FLOAT_EQ(out[kAmount], 42.5f);
  EXPECT_FLOAT_EQ(out[kUserAgeDays], 12.0f);
  EXPECT_FLOAT_EQ(out[kHourOfDay], 22.0f);
  EXPECT_FLOAT_EQ(out[kDayOfWeek], 1.0f);
  EXPECT_FLOAT_EQ(out[kIsWeekend], 0.0f);
  EXPECT_FLOAT_EQ(out[kIsNight], 0.0f);
  EXPECT_FLOAT_EQ(out[kChannelCode], 2.0f);

  // Saturday 2023-11-18 03:00 UTC, no age, no channel.
  txn = MakeTxn("c1", kStart + 3 * kDayMs + 4 * kHourMs + 46 * kMinuteMs + 40'000, 1);
  txn.channel.clear();
  store->UpdateAndRead(txn, out, 0);
  EXPECT_FLOAT_EQ(out[kHourOfDay], 3.0f);
  EXPECT_FLOAT_EQ(out[kDayOfWeek], 5.0f);
  EXPECT_FLOAT_EQ(out[kIsWeekend], 1.0f);
  EXPECT_FLOAT_EQ(out[kIsNight], 1.0f);
  EXPECT_TRUE(std::isnan(out[kUserAgeDays]));
  EXPECT_TRUE(std::isnan(out[kChannelCode]));
}

TEST(FeatureStoreTest, EntityWindowsAndSecondsSincePrevious) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  FeatureVector out;
  store->UpdateAndRead(MakeTxn("c1", kStart, 100), out, 0);
  EXPECT_FLOAT_EQ(out[CardCount(0)], 1.0f);
  EXPECT_FLOAT_EQ(out[CardStat(0, WindowStat::kSum)], 100.0f);
  EXPECT_FLOAT_EQ(out[CardStat(0, WindowStat::kStd)], 0.0f);
  EXPECT_TRUE(std::isnan(out[EntitySecondsSincePreviousFeature(EntityType::kCard)]));

  store->UpdateAndRead(MakeTxn("c1", kStart + 10 * kMinuteMs, 300), out, 0);
  EXPECT_FLOAT_EQ(out[CardCount(0)], 2.0f);
  EXPECT_FLOAT_EQ(out[CardStat(0, WindowStat::kMean)], 200.0f);
  EXPECT_FLOAT_EQ(out[CardStat(0, WindowStat::kStd)], 100.0f);
  EXPECT_FLOAT_EQ(out[EntitySecondsSincePreviousFeature(EntityType::kCard)], 600.0f);

  // Two hours later the 1 h window holds only this transaction; 24 h holds all three.
  store->UpdateAndRead(MakeTxn("c1", kStart + 2 * kHourMs + 10 * kMinuteMs, 50), out, 0);
  EXPECT_FLOAT_EQ(out[CardCount(0)], 1.0f);
  EXPECT_FLOAT_EQ(out[CardCount(1)], 3.0f);
  EXPECT_FLOAT_EQ(out[CardStat(1, WindowStat::kSum)], 450.0f);
  // The merchant and IP are shared entities with the same history here.
  EXPECT_FLOAT_EQ(out[EntityWindowFeature(EntityType::kMerchant, 1, WindowStat::kCount)], 3.0f);
  EXPECT_FLOAT_EQ(out[EntityWindowFeature(EntityType::kIp, 1, WindowStat::kSum)], 450.0f);

  // A transaction from the past counts as at the card's newest time and does not go backwards.
  store->UpdateAndRead(MakeTxn("c1", kStart - kDayMs, 10), out, 0);
  EXPECT_FLOAT_EQ(out[CardCount(0)], 2.0f);
  EXPECT_FLOAT_EQ(out[EntitySecondsSincePreviousFeature(EntityType::kCard)], 0.0f);
}

TEST(FeatureStoreTest, MissingEntitiesGiveNaN) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  Transaction txn = MakeTxn("", kStart, 10);
  txn.device_id.clear();
  FeatureVector out;
  store->UpdateAndRead(txn, out, 0);
  for (EntityType type : {EntityType::kCard, EntityType::kDevice}) {
    for (size_t w = 0; w < kWindowCount; ++w) {
      EXPECT_TRUE(std::isnan(out[EntityWindowFeature(type, w, WindowStat::kCount)]));
    }
    EXPECT_TRUE(std::isnan(out[EntitySecondsSincePreviousFeature(type)]));
  }
  for (size_t i = kCardFeaturesBegin; i < kCardFeaturesBegin + kCardExtraFeatureCount; ++i) {
    EXPECT_TRUE(std::isnan(out[i])) << FeatureNames()[i];
  }
  EXPECT_FLOAT_EQ(out[EntityWindowFeature(EntityType::kCustomer, 0, WindowStat::kCount)], 1.0f);
  const FeatureStore::Stats stats = store->stats();
  EXPECT_EQ(stats.keys[static_cast<size_t>(EntityType::kCard)], 0u);
  EXPECT_EQ(stats.keys[static_cast<size_t>(EntityType::kCustomer)], 1u);
}

TEST(FeatureStoreTest, CardHistoryFeatures) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  FeatureVector out;
  Transaction txn = MakeTxn("c1", kStart, 100);
  store->UpdateAndRead(txn, out, 0);
  EXPECT_FLOAT_EQ(out[kCardIsNewDevice30d], 1.0f);
  EXPECT_FLOAT_EQ(out[kCardIsNewCountry30d], 1.0f);
  EXPECT_TRUE(std::isnan(out[kCardAmountZScore30d]));
  EXPECT_TRUE(std::isnan(out[kCardAmountToMean30d]));
  EXPECT_FLOAT_EQ(out[kCardDistinctMerchants24h], 1.0f);

  txn = MakeTxn("c1", kStart + kHourMs, 200);
  txn.merchant_id = "m2";
  store->UpdateAndRead(txn, out, 0);
  EXPECT_FLOAT_EQ(out[kCardIsNewDevice30d], 0.0f);
  EXPECT_FLOAT_EQ(out[kCardAmountToMean30d], 2.0f);
  EXPECT_TRUE(std::isnan(out[kCardAmountZScore30d]));  // Needs two earlier transactions.
  EXPECT_FLOAT_EQ(out[kCardDistinctMerchants24h], 2.0f);

  // History before this one: 100 and 200, mean 150, std 50.
  txn = MakeTxn("c1", kStart + 2 * kHourMs, 400);
  txn.country = "FR";
  txn.device_id = "new-device";
  store->UpdateAndRead(txn, out, 0);
  EXPECT_FLOAT_EQ(out[kCardAmountZScore30d], 5.0f);
  EXPECT_FLOAT_EQ(out[kCardIsNewDevice30d], 1.0f);
  EXPECT_FLOAT_EQ(out[kCardIsNewCountry30d], 1.0f);
  EXPECT_FLOAT_EQ(out[kCardDistinctCountries24h], 2.0f);

  // Two days later, the merchants and countries of the first day are outside 24 h.
  txn = MakeTxn("c1", kStart + 2 * kDayMs, 100);
  store->UpdateAndRead(txn, out, 0);
  EXPECT_FLOAT_EQ(out[kCardDistinctMerchants24h], 1.0f);
  EXPECT_FLOAT_EQ(out[kCardDistinctCountries24h], 1.0f);
  EXPECT_FLOAT_EQ(out[kCardIsNewCountry30d], 0.0f);
}

TEST(FeatureStoreTest, ReadMatchesUpdateAndLeavesStateAlone) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  FeatureVector out;
  for (int i = 0; i < 5; ++i) {
    store->UpdateAndRead(MakeTxn("c1", kStart + i * kMinuteMs, 10.0 * (i + 1)), out, 0);
  }
  const Transaction probe = MakeTxn("c1", kStart + 30 * kMinuteMs, 999);
  FeatureVector first;
  FeatureVector second;
  store->Read(probe, first);
  store->Read(probe, second);
  FeatureVector updated;
  store->UpdateAndRead(probe, updated, 0);
  for (size_t i = 0; i < kFeatureCount; ++i) {
    if (std::isnan(first[i])) {
      EXPECT_TRUE(std::isnan(second[i]) && std::isnan(updated[i])) << FeatureNames()[i];
    } else {
      EXPECT_EQ(first[i], second[i]) << FeatureNames()[i];
      EXPECT_EQ(first[i], updated[i]) << FeatureNames()[i];
    }
  }
  EXPECT_FLOAT_EQ(first[CardCount(0)], 6.0f);

  // Reading an unknown card creates nothing.
  store->Read(MakeTxn("unknown", kStart, 1), first);
  EXPECT_FLOAT_EQ(first[CardCount(0)], 1.0f);
  EXPECT_EQ(store->stats().keys[static_cast<size_t>(EntityType::kCard)], 1u);
}

TEST(FeatureStoreTest, CardWindowsMatchBruteForce) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> card_pick(0, 49);
  std::uniform_int_distribution<int64_t> gap(0, 6 * kHourMs);
  std::uniform_real_distribution<double> amount(1, 300);
  std::vector<std::vector<std::pair<int64_t, double>>> history(50);
  int64_t ts = kStart;
  FeatureVector out;
  // About 10 events per card in total: below the histogram capacity, so windows are exact.
  for (int i = 0; i < 500; ++i) {
    ts += gap(rng) / 10;
    const int card = card_pick(rng);
    const double value = amount(rng);
    history[card].emplace_back(ts, value);
    store->UpdateAndRead(MakeTxn("card" + std::to_string(card), ts, value), out, 0);
    if (history[card].size() > static_cast<size_t>(WindowHistogram::kCapacity)) {
      continue;
    }
    for (size_t w = 0; w < kWindowCount; ++w) {
      double count = 0;
      double sum = 0;
      for (const auto& [event_ts, event_amount] : history[card]) {
        if (event_ts > ts - kWindowMillis[w]) {
          count += 1;
          sum += event_amount;
        }
      }
      ASSERT_FLOAT_EQ(out[CardCount(w)], static_cast<float>(count)) << i;
      ASSERT_NEAR(out[CardStat(w, WindowStat::kSum)], sum, 1e-3 * sum) << i;
    }
  }
}

TEST(FeatureStoreTest, AccountedMemoryPerCardIsUnderOneKibibyte) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  FeatureVector out;
  Transaction txn;
  for (int i = 0; i < 2000; ++i) {
    txn.card_id = "card-" + std::to_string(i);
    txn.merchant_id = "m" + std::to_string(i % 7);
    txn.timestamp_ms = kStart + i;
    txn.amount = 10;
    store->UpdateAndRead(txn, out, 0);
  }
  const FeatureStore::Stats stats = store->stats();
  ASSERT_EQ(stats.keys[static_cast<size_t>(EntityType::kCard)], 2000u);
  EXPECT_EQ(AccountedRecordBytes(EntityType::kCard) * 2000 +
                AccountedRecordBytes(EntityType::kMerchant) * 7,
            stats.bytes);
  EXPECT_LT(AccountedRecordBytes(EntityType::kCard), 1024u);
  std::printf("accounted bytes per card: %zu, per other entity: %zu\n",
              AccountedRecordBytes(EntityType::kCard), AccountedRecordBytes(EntityType::kIp));
}

TEST(FeatureStoreTest, LeastRecentlyUsedKeysAreEvictedAtMaxKeys) {
  ManualClock clock(kStart);
  FeatureStoreOptions options;
  options.max_keys = FeatureStore::kShardCount * 4;
  auto store = OpenInMemory(clock, options);
  FeatureVector out;
  Transaction hot;
  hot.card_id = "hot-card";
  Transaction cold;
  for (int i = 0; i < 5000; ++i) {
    cold.card_id = "cold-" + std::to_string(i);
    cold.timestamp_ms = hot.timestamp_ms = kStart + i;
    clock.Advance(1);  // Eviction picks the least recently touched of a sample.
    store->UpdateAndRead(cold, out, 0);
    store->UpdateAndRead(hot, out, 0);
  }
  const FeatureStore::Stats stats = store->stats();
  const uint64_t cards = stats.keys[static_cast<size_t>(EntityType::kCard)];
  EXPECT_LE(cards, options.max_keys);
  EXPECT_EQ(stats.evictions, 5001 - cards);
  EXPECT_EQ(stats.bytes, cards * AccountedRecordBytes(EntityType::kCard));
  // The card used on every step was never evicted: its 1 h window saw all 5000 uses.
  EXPECT_FLOAT_EQ(out[CardCount(0)], 5000.0f);
}

TEST(FeatureStoreTest, IdleKeysAreEvicted) {
  ManualClock clock(kStart);
  FeatureStoreOptions options;
  options.idle_eviction_ms = 10 * kDayMs;
  auto store = OpenInMemory(clock, options);
  FeatureVector out;
  for (int i = 0; i < 100; ++i) {
    store->UpdateAndRead(MakeTxn("idle-" + std::to_string(i), kStart, 5), out, 0);
  }
  clock.Advance(5 * kDayMs);
  store->UpdateAndRead(MakeTxn("recent", kStart, 5), out, 0);
  EXPECT_EQ(store->EvictIdle(), 0u);
  clock.Advance(6 * kDayMs);
  std::string json;
  EXPECT_TRUE(store->DescribeEntity(EntityType::kCard, "idle-7", json));
  // 100 idle cards plus their customers and devices; the shared merchant and IP stay in use.
  const size_t evicted = store->EvictIdle();
  EXPECT_EQ(evicted, 300u);
  EXPECT_FALSE(store->DescribeEntity(EntityType::kCard, "idle-7", json));
  EXPECT_TRUE(store->DescribeEntity(EntityType::kCard, "recent", json));
  EXPECT_EQ(store->stats().keys[static_cast<size_t>(EntityType::kCard)], 1u);
  EXPECT_EQ(store->stats().evictions, 300u);
}

TEST(FeatureStoreTest, DescribeEntityReportsWindows) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  FeatureVector out;
  store->UpdateAndRead(MakeTxn("c1", kStart, 10), out, 0);
  store->UpdateAndRead(MakeTxn("c1", kStart + kMinuteMs, 30), out, 0);
  std::string json;
  ASSERT_TRUE(store->DescribeEntity(EntityType::kCard, "c1", json));
  EXPECT_NE(json.find("\"entity\":\"card\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"1h\":{\"count\":2,\"sum\":40,\"mean\":20,\"std\":10}"), std::string::npos)
      << json;
  EXPECT_NE(json.find("\"last_seen_ms\":1700000060000"), std::string::npos) << json;
  EXPECT_FALSE(store->DescribeEntity(EntityType::kCard, "c2", json));
  EXPECT_FALSE(store->DescribeEntity(EntityType::kDevice, "c1", json));
  EXPECT_TRUE(store->DescribeEntity(EntityType::kMerchant, "m1", json));
}

TEST(FeatureStoreTest, ConcurrentUpdatesAreAllCounted) {
  ManualClock clock(kStart);
  auto store = OpenInMemory(clock);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      FeatureVector out;
      for (int i = 0; i < kPerThread; ++i) {
        store->UpdateAndRead(MakeTxn("shared-" + std::to_string(i % 10), kStart, 1), out, t % 2);
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  FeatureVector out;
  store->Read(MakeTxn("shared-3", kStart, 1), out);
  EXPECT_FLOAT_EQ(out[CardCount(0)], kThreads * kPerThread / 10 + 1);
  EXPECT_FLOAT_EQ(out[EntityWindowFeature(EntityType::kMerchant, 0, WindowStat::kCount)],
                  kThreads * kPerThread + 1);
}

TEST(FeatureStoreTest, RejectsBadOptions) {
  ManualClock clock(kStart);
  FeatureStoreOptions options;
  options.worker_threads = 0;
  Result<std::unique_ptr<FeatureStore>> store = FeatureStore::Open(options, clock);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().find("worker_threads"), std::string::npos);
  options = {};
  options.snapshot_interval_ms = 0;
  EXPECT_FALSE(FeatureStore::Open(options, clock).ok());
  auto good = OpenInMemory(clock);
  EXPECT_FALSE(good->Commit(5).ok());
  EXPECT_TRUE(good->Commit(1).ok());
}

}  // namespace
}  // namespace fraudguard
