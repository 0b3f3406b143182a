#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "slo/sli_recorder.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinute = 60'000;
// 2026-11-01 00:00 UTC, a whole hour, so minute and hour arithmetic in the tests is plain.
constexpr int64_t kStartMs = 1'793'491'200'000;

class SliRecorderTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/fraudguard-sli-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    options_.path = dir_ + "/sli.db";
    options_.routes = {"a", "b"};
    options_.start_writer = false;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SliRecorder> Open() {
    auto recorder = SliRecorder::Open(options_, clock_);
    EXPECT_TRUE(recorder) << recorder.error();
    return recorder ? std::move(recorder).value() : nullptr;
  }
  int64_t Minute() const { return clock_.NowMillis() / kMinute; }

  std::string dir_;
  SliRecorderOptions options_;
  ManualClock clock_{kStartMs};
};

TEST_F(SliRecorderTest, CountsRequestsErrorsAndBucketsPerMinuteAndRoute) {
  auto recorder = Open();
  ASSERT_NE(recorder, nullptr);
  recorder->Record(0, 200, 0.004);
  recorder->Record(0, 503, 0.2);
  recorder->Record(1, 404, 0.01);  // a client error is a good event
  recorder->Record(7, 200, 0.01);  // unknown route: ignored
  clock_.Advance(kMinute);
  recorder->Record(0, 200, 30.0);  // beyond the last bound: the +Inf bucket
  ASSERT_TRUE(recorder->Flush());

  auto rows = recorder->ReadMinutes(0, INT64_MAX);
  ASSERT_TRUE(rows) << rows.error();
  ASSERT_EQ(rows->size(), 3u);
  const auto& bounds = recorder->bounds();
  const auto bound_index = [&](double value) {
    return static_cast<size_t>(std::find(bounds.begin(), bounds.end(), value) - bounds.begin());
  };
  const SliRow& a0 = (*rows)[0];
  EXPECT_EQ(a0.route, "a");
  EXPECT_EQ(a0.minute, kStartMs / kMinute);
  EXPECT_EQ(a0.counts.total, 2u);
  EXPECT_EQ(a0.counts.bad, 1u);
  EXPECT_EQ(a0.counts.AtMost(bound_index(0.005)), 1u);
  EXPECT_EQ(a0.counts.AtMost(bound_index(0.25)), 2u);
  const SliRow& b0 = (*rows)[1];
  EXPECT_EQ(b0.route, "b");
  EXPECT_EQ(b0.counts.bad, 0u);
  const SliRow& a1 = (*rows)[2];
  EXPECT_EQ(a1.minute, kStartMs / kMinute + 1);
  EXPECT_EQ(a1.counts.AtMost(bounds.size() - 1), 0u);
  EXPECT_EQ(a1.counts.buckets.back(), 1u);
}

TEST_F(SliRecorderTest, FlushesWithinAMinuteAddUp) {
  auto recorder = Open();
  recorder->Record(0, 200, 0.001);
  ASSERT_TRUE(recorder->Flush());
  recorder->Record(0, 500, 0.001);
  recorder->Record(0, 200, 0.001);
  ASSERT_TRUE(recorder->Flush());
  auto rows = recorder->ReadMinutes(0, INT64_MAX);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].counts.total, 3u);
  EXPECT_EQ((*rows)[0].counts.bad, 1u);
}

TEST_F(SliRecorderTest, CountsSurviveARestart) {
  {
    auto recorder = Open();
    for (int i = 0; i < 10; ++i) {
      recorder->Record(1, i < 3 ? 500 : 200, 0.001);
    }
    ASSERT_TRUE(recorder->Close());  // Close flushes
  }
  auto reopened = Open();
  ASSERT_NE(reopened, nullptr);
  reopened->Record(1, 200, 0.001);
  ASSERT_TRUE(reopened->Flush());
  auto rows = reopened->ReadMinutes(0, INT64_MAX);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].counts.total, 11u);
  EXPECT_EQ((*rows)[0].counts.bad, 3u);
}

TEST_F(SliRecorderTest, BackgroundWriterFlushesOnItsOwn) {
  options_.start_writer = true;
  options_.flush_interval_ms = 5;
  auto recorder = Open();
  recorder->Record(0, 200, 0.001);
  // Bounded wait for the writer; no duration is asserted.
  bool written = false;
  for (int i = 0; i < 2000 && !written; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto rows = recorder->ReadMinutes(0, INT64_MAX);
    written = rows && rows->size() == 1;
  }
  EXPECT_TRUE(written);
}

TEST_F(SliRecorderTest, ConcurrentRecordsAreAllCounted) {
  auto recorder = Open();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        recorder->Record(static_cast<size_t>(t % 2), i % 100 == 0 ? 500 : 200, 0.0001);
      }
    });
  }
  // Flushing while the writers run must not lose or double any count.
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(recorder->Flush());
  }
  for (auto& thread : threads) {
    thread.join();
  }
  ASSERT_TRUE(recorder->Flush());
  auto rows = recorder->ReadMinutes(0, INT64_MAX);
  ASSERT_TRUE(rows);
  uint64_t total = 0;
  uint64_t bad = 0;
  for (const SliRow& row : *rows) {
    total += row.counts.total;
    bad += row.counts.bad;
    uint64_t in_buckets = 0;
    for (const uint64_t count : row.counts.buckets) {
      in_buckets += count;
    }
    EXPECT_EQ(in_buckets, row.counts.total);
  }
  EXPECT_EQ(total, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(bad, static_cast<uint64_t>(kThreads * kPerThread / 100));
}

TEST_F(SliRecorderTest, OldMinutesAreRolledUpIntoHoursNotDropped) {
  options_.minute_retention_days = 2;
  options_.hourly_retention_days = 10;
  auto recorder = Open();
  const int64_t first_minute = Minute();
  // Three minutes in the first hour, one in the second.
  for (int m = 0; m < 3; ++m) {
    recorder->Record(0, m == 0 ? 500 : 200, 0.001);
    recorder->Record(0, 200, 0.001);
    clock_.Advance(kMinute);
    ASSERT_TRUE(recorder->Flush());
  }
  clock_.Advance(57 * kMinute);
  recorder->Record(0, 200, 0.001);
  ASSERT_TRUE(recorder->Flush());

  // Two days and one hour later the first hour is past the minute retention, the second not.
  clock_.Set(kStartMs + (2 * 24 * 60 + 61) * kMinute);
  ASSERT_TRUE(recorder->Flush());
  auto minutes = recorder->ReadMinutes(0, INT64_MAX);
  auto hours = recorder->ReadHours(0, INT64_MAX);
  ASSERT_TRUE(minutes && hours);
  ASSERT_EQ(hours->size(), 1u);
  EXPECT_EQ((*hours)[0].minute, first_minute);
  EXPECT_EQ((*hours)[0].counts.total, 6u);
  EXPECT_EQ((*hours)[0].counts.bad, 1u);
  ASSERT_EQ(minutes->size(), 1u);
  EXPECT_EQ((*minutes)[0].minute, first_minute + 60);

  // Past the hourly retention an hourly row is deleted (and logged); the second hour is rolled
  // up by now and still within it.
  clock_.Set(kStartMs + (10LL * 24 * 60 + 30) * kMinute);
  ASSERT_TRUE(recorder->Flush());
  hours = recorder->ReadHours(0, INT64_MAX);
  ASSERT_TRUE(hours);
  ASSERT_EQ(hours->size(), 1u);
  EXPECT_EQ((*hours)[0].minute, first_minute + 60);
  EXPECT_EQ((*hours)[0].counts.total, 1u);
}

TEST_F(SliRecorderTest, ReadOnlyOpenReadsAndNeverCreates) {
  options_.read_only = true;
  EXPECT_FALSE(SliRecorder::Open(options_, clock_));
  EXPECT_FALSE(std::filesystem::exists(options_.path));
  options_.read_only = false;
  {
    auto writer = Open();
    writer->Record(0, 200, 0.001);
    ASSERT_TRUE(writer->Close());
  }
  options_.read_only = true;
  auto reader = Open();
  ASSERT_NE(reader, nullptr);
  auto rows = reader->ReadMinutes(0, INT64_MAX);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), 1u);
}

TEST_F(SliRecorderTest, FileWithOtherBucketsIsRefused) {
  { ASSERT_NE(Open(), nullptr); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(options_.path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE sli_meta SET value = 3 WHERE key = 'latency_buckets'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto recorder = SliRecorder::Open(options_, clock_);
  ASSERT_FALSE(recorder);
  EXPECT_NE(recorder.error().find("latency_buckets"), std::string::npos) << recorder.error();
}

TEST_F(SliRecorderTest, UnwritableFileIsAnError) {
  options_.path = dir_ + "/missing/dir/sli.db";
  EXPECT_FALSE(SliRecorder::Open(options_, clock_));
}

}  // namespace
}  // namespace fraudguard
