// Crash-recovery tests of the feature store. Destroying a store without Close() leaves exactly
// what kill -9 leaves: the committed log segments and snapshots in the data directory.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.h"
#include "features/feature_log.h"
#include "features/feature_store.h"

namespace fraudguard {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kStart = 1'700'000'000'000LL;

class FeatureDurabilityTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/feature_durability_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  FeatureStoreOptions Options() const {
    FeatureStoreOptions options;
    options.data_dir = dir_;
    options.snapshot_interval_ms = 3'600'000;  // Tests take snapshots explicitly.
    options.worker_threads = 2;
    return options;
  }

  std::unique_ptr<FeatureStore> Open(const FeatureStoreOptions& options) {
    Result<std::unique_ptr<FeatureStore>> store = FeatureStore::Open(options, clock_);
    EXPECT_TRUE(store.ok()) << store.error();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::vector<fs::path> Files(std::string_view prefix) const {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().filename().string().starts_with(prefix)) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  std::string dir_;
  ManualClock clock_{kStart};
};

// A deterministic stream over a small population, so entities repeat and some arrive late.
Transaction MakeTxn(int i, int thread = 0) {
  std::mt19937_64 rng(static_cast<uint64_t>(i) * 7919 + static_cast<uint64_t>(thread));
  const std::string tag = "t" + std::to_string(thread) + "-";
  Transaction txn;
  txn.timestamp_ms = kStart + i * 45'000LL - static_cast<int64_t>(rng() % 3) * 600'000;
  txn.amount = 1.0 + static_cast<double>(rng() % 50000) / 100.0;
  txn.card_id = tag + "card" + std::to_string(rng() % 60);
  txn.customer_id = tag + "cust" + std::to_string(rng() % 40);
  txn.merchant_id = tag + "m" + std::to_string(rng() % 12);
  txn.country = rng() % 4 == 0 ? "FR" : "US";
  txn.device_id = rng() % 5 == 0 ? "" : tag + "dev" + std::to_string(rng() % 50);
  txn.ip = tag + "ip" + std::to_string(rng() % 30);
  txn.channel = "web";
  return txn;
}

// Features a probe transaction would get for each entity the stream used: equal probes mean
// equal state. Read() changes nothing, so probing does not disturb the store.
std::vector<FeatureVector> Probe(const FeatureStore& store, int threads) {
  std::vector<FeatureVector> result;
  for (int t = 0; t < threads; ++t) {
    for (int i = 0; i < 60; ++i) {
      Transaction txn = MakeTxn(i, t);
      txn.timestamp_ms = kStart + 2LL * 24 * 3600 * 1000;  // After every event of the streams.
      txn.card_id = "t" + std::to_string(t) + "-card" + std::to_string(i);
      txn.customer_id = "t" + std::to_string(t) + "-cust" + std::to_string(i % 40);
      txn.merchant_id = "t" + std::to_string(t) + "-m" + std::to_string(i % 12);
      txn.ip = "t" + std::to_string(t) + "-ip" + std::to_string(i % 30);
      txn.device_id = "t" + std::to_string(t) + "-dev" + std::to_string(i % 50);
      FeatureVector out;
      store.Read(txn, out);
      result.push_back(out);
    }
  }
  return result;
}

void ExpectSameFeatures(const std::vector<FeatureVector>& expected,
                        const std::vector<FeatureVector>& actual) {
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t p = 0; p < expected.size(); ++p) {
    for (size_t i = 0; i < kFeatureCount; ++i) {
      if (std::isnan(expected[p][i])) {
        ASSERT_TRUE(std::isnan(actual[p][i])) << "probe " << p << " " << FeatureNames()[i];
      } else {
        ASSERT_EQ(expected[p][i], actual[p][i]) << "probe " << p << " " << FeatureNames()[i];
      }
    }
  }
}

void Feed(FeatureStore& store, int begin, int end, int thread = 0, int worker = 0) {
  FeatureVector out;
  for (int i = begin; i < end; ++i) {
    store.UpdateAndRead(MakeTxn(i, thread), out, worker);
    if (i % 16 == 15) {
      ASSERT_TRUE(store.Commit(worker).ok());
    }
  }
  ASSERT_TRUE(store.Commit(worker).ok());
}

TEST_F(FeatureDurabilityTest, CommittedUpdatesSurviveACrash) {
  std::vector<FeatureVector> before;
  {
    auto store = Open(Options());
    ASSERT_NE(store, nullptr);
    Feed(*store, 0, 1500);
    before = Probe(*store, 1);
    // One more update that is never committed: its transaction was never answered.
    FeatureVector out;
    store->UpdateAndRead(MakeTxn(5000), out, 1);
    EXPECT_GT(store->stats().log_bytes, 0u);
  }  // No Close(): a crash.
  auto reopened = Open(Options());
  ASSERT_NE(reopened, nullptr);
  EXPECT_GT(reopened->stats().replayed_records, 1500u * 4);
  ExpectSameFeatures(before, Probe(*reopened, 1));
  // Recovery wrote a fresh snapshot; after a clean close nothing needs replaying.
  ASSERT_TRUE(reopened->Close().ok());
  reopened.reset();
  auto third = Open(Options());
  ASSERT_NE(third, nullptr);
  EXPECT_EQ(third->stats().replayed_records, 0u);
  ExpectSameFeatures(before, Probe(*third, 1));
}

TEST_F(FeatureDurabilityTest, SnapshotsWhileOtherThreadsWrite) {
  std::vector<FeatureVector> before;
  {
    auto store = Open(Options());
    ASSERT_NE(store, nullptr);
    std::atomic<int> running{2};
    std::vector<std::thread> writers;
    for (int t = 0; t < 2; ++t) {
      writers.emplace_back([&, t] {
        Feed(*store, 0, 3000, t, t);
        --running;
      });
    }
    int snapshots = 0;
    while (running.load() > 0 || snapshots < 2) {
      ASSERT_TRUE(store->Snapshot().ok());
      ++snapshots;
    }
    for (auto& writer : writers) {
      writer.join();
    }
    before = Probe(*store, 2);
  }
  auto reopened = Open(Options());
  ASSERT_NE(reopened, nullptr);
  ExpectSameFeatures(before, Probe(*reopened, 2));
  // Only the newest two snapshots are kept.
  EXPECT_LE(Files("snapshot-").size(), 2u);
}

TEST_F(FeatureDurabilityTest, TornLastRecordIsDropped) {
  std::vector<FeatureVector> before;
  {
    auto store = Open(Options());
    ASSERT_NE(store, nullptr);
    Feed(*store, 0, 400);
    before = Probe(*store, 1);
  }
  const std::vector<fs::path> segments = Files("wal-");
  ASSERT_EQ(segments.size(), 1u);
  {
    // A crash in the middle of writing the next record leaves part of it behind.
    std::ofstream segment(segments[0], std::ios::app | std::ios::binary);
    segment << std::string(kLogRecordSize / 2, '\x7f');
  }
  {
    auto reopened = Open(Options());
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(reopened->stats().dropped_log_bytes, kLogRecordSize / 2);
    ExpectSameFeatures(before, Probe(*reopened, 1));
  }
}

TEST_F(FeatureDurabilityTest, TruncatedLastRecordLosesOnlyThatUpdate) {
  {
    auto store = Open(Options());
    ASSERT_NE(store, nullptr);
    Feed(*store, 0, 100);
  }
  const std::vector<fs::path> segments = Files("wal-");
  ASSERT_EQ(segments.size(), 1u);
  const auto size = fs::file_size(segments[0]);
  ASSERT_EQ(size % kLogRecordSize, 0u);
  fs::resize_file(segments[0], size - 10);
  auto reopened = Open(Options());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->stats().replayed_records, size / kLogRecordSize - 1);
  EXPECT_EQ(reopened->stats().dropped_log_bytes, kLogRecordSize - 10);
}

TEST_F(FeatureDurabilityTest, CorruptSnapshotFallsBackToThePreviousOne) {
  std::vector<FeatureVector> before;
  {
    auto store = Open(Options());
    ASSERT_NE(store, nullptr);
    Feed(*store, 0, 500);
    ASSERT_TRUE(store->Snapshot().ok());
    Feed(*store, 500, 1000);
    before = Probe(*store, 1);
  }
  std::vector<fs::path> snapshots = Files("snapshot-");
  ASSERT_EQ(snapshots.size(), 2u);
  // Flip a byte in the middle of the newest snapshot (names sort by generation here: 2 < 3).
  {
    std::fstream file(snapshots.back(), std::ios::in | std::ios::out | std::ios::binary);
    const auto middle = static_cast<std::streamoff>(fs::file_size(snapshots.back()) / 2);
    file.seekg(middle);
    char byte = 0;
    file.get(byte);
    file.seekp(middle);
    file.put(static_cast<char>(byte ^ 0x5a));
  }
  // A torn snapshot from a crash mid-write is ignored as well.
  std::ofstream(fs::path(dir_) / "snapshot-99.tmp") << "partial";
  auto reopened = Open(Options());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->stats().corrupt_snapshots, 1u);
  ExpectSameFeatures(before, Probe(*reopened, 1));
  EXPECT_FALSE(fs::exists(fs::path(dir_) / "snapshot-99.tmp"));
}

TEST_F(FeatureDurabilityTest, AllSnapshotsCorruptReplaysTheWholeLog) {
  std::vector<FeatureVector> before;
  {
    auto store = Open(Options());
    ASSERT_NE(store, nullptr);
    Feed(*store, 0, 300);
    ASSERT_TRUE(store->Snapshot().ok());
    Feed(*store, 300, 600);
    before = Probe(*store, 1);
  }
  for (const fs::path& snapshot : Files("snapshot-")) {
    fs::resize_file(snapshot, fs::file_size(snapshot) - 3);  // Lose the end marker.
  }
  auto reopened = Open(Options());
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->stats().corrupt_snapshots, 2u);
  ExpectSameFeatures(before, Probe(*reopened, 1));
}

TEST_F(FeatureDurabilityTest, RecordCodecRejectsDamage) {
  LogRecord record;
  record.shard_seq = 42;
  record.shard = 7;
  record.update.type = EntityType::kCard;
  record.update.key = 0x0700000000001234ULL;
  record.update.timestamp_ms = kStart;
  record.update.amount = 12.5;
  record.update.merchant_hash = 99;
  char bytes[kLogRecordSize];
  EncodeLogRecord(record, bytes);
  LogRecord decoded;
  ASSERT_TRUE(DecodeLogRecord(bytes, decoded));
  EXPECT_EQ(decoded.shard_seq, 42u);
  EXPECT_EQ(decoded.shard, 7);
  EXPECT_EQ(decoded.update.key, record.update.key);
  EXPECT_EQ(decoded.update.amount, 12.5);
  EXPECT_EQ(decoded.update.merchant_hash, 99u);
  for (size_t i = 0; i < kLogRecordSize; ++i) {
    char damaged[kLogRecordSize];
    std::copy(bytes, bytes + kLogRecordSize, damaged);
    damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
    EXPECT_FALSE(DecodeLogRecord(damaged, decoded)) << "byte " << i;
  }
  uint64_t generation = 0;
  EXPECT_TRUE(ParseSegmentFileName(SegmentFileName(12, 1, 3), generation));
  EXPECT_EQ(generation, 12u);
  EXPECT_TRUE(ParseSnapshotFileName(SnapshotFileName(9), generation));
  EXPECT_EQ(generation, 9u);
  EXPECT_FALSE(ParseSnapshotFileName("snapshot-9.tmp", generation));
  EXPECT_FALSE(ParseSegmentFileName("wal-x-1-2", generation));
}

TEST_F(FeatureDurabilityTest, OpenFailsClearlyOnAnUnusableDirectory) {
  FeatureStoreOptions options = Options();
  options.data_dir = dir_ + "/missing-parent/child";
  Result<std::unique_ptr<FeatureStore>> store = FeatureStore::Open(options, clock_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.error().find("data_dir"), std::string::npos) << store.error();
}

// A disk that fills up: every log write fails with ENOSPC (the next segments are links to
// /dev/full). The buffer stops at its bound, the store says it is degraded, and once writes
// work again a snapshot makes every update durable, including the ones never logged.
TEST_F(FeatureDurabilityTest, AFullDiskBoundsTheLogBufferAndASnapshotRecoversIt) {
  FeatureStoreOptions options = Options();
  // Room for what Feed buffers between its commits (16 transactions of up to 5 records).
  options.max_pending_log_bytes = 120 * kLogRecordSize;
  std::vector<FeatureVector> expected;
  {
    auto store = Open(options);
    ASSERT_NE(store, nullptr);
    Feed(*store, 0, 50);
    ASSERT_TRUE(store->Snapshot().ok());
    // The snapshot moved the log to a new generation: its segments are the ones that fail.
    uint64_t generation = 0;
    for (const fs::path& path : Files("snapshot-")) {
      uint64_t g = 0;
      if (ParseSnapshotFileName(path.filename().string(), g)) {
        generation = std::max(generation, g);
      }
    }
    ASSERT_GT(generation, 0U);
    std::vector<fs::path> full_segments;
    for (int worker = 0; worker < options.worker_threads; ++worker) {
      for (uint64_t part = 0; part < 400; ++part) {
        const fs::path link = fs::path(dir_) / SegmentFileName(generation, worker, part);
        fs::create_symlink("/dev/full", link);
        full_segments.push_back(link);
      }
    }
    FeatureVector out;
    for (int i = 50; i < 250; ++i) {
      store->UpdateAndRead(MakeTxn(i), out, 0);
      EXPECT_FALSE(store->Commit(0).ok());
    }
    const FeatureStore::Stats degraded = store->stats();
    EXPECT_TRUE(store->log_backlog_full());
    EXPECT_LE(degraded.pending_log_bytes, options.max_pending_log_bytes);
    EXPECT_GT(degraded.unlogged_records, 0U);
    EXPECT_GE(degraded.commit_failures, 200U);
    // Answers stay right while the log is down: the entity state has every update.
    for (const fs::path& link : full_segments) {
      fs::remove(link);
    }
    ASSERT_TRUE(store->Commit(0).ok());
    EXPECT_FALSE(store->log_backlog_full());
    EXPECT_EQ(store->stats().pending_log_bytes, 0U);
    ASSERT_TRUE(store->Snapshot().ok());
    expected = Probe(*store, 1);
  }  // destroyed without Close: what kill -9 leaves
  auto reopened = Open(options);
  ASSERT_NE(reopened, nullptr);
  ExpectSameFeatures(expected, Probe(*reopened, 1));
}

}  // namespace
}  // namespace fraudguard
