#include "storage/decision_log.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/log.h"
#include "storage/decision_journal.h"

namespace fraudguard {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class DecisionLogTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("fg_decision_log_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  DecisionLogOptions Options() const {
    DecisionLogOptions options;
    options.path = (dir_ / "decisions.db").string();
    return options;
  }

  std::unique_ptr<DecisionLog> OpenOrDie(const DecisionLogOptions& options) {
    auto log = DecisionLog::Open(options);
    EXPECT_TRUE(log.ok()) << (log.ok() ? "" : log.error());
    return log.ok() ? std::move(log).value() : nullptr;
  }

  fs::path dir_;
};

DecisionRecord MakeRecord(const std::string& id, int64_t n = 0) {
  DecisionRecord record;
  record.transaction_id = id;
  record.timestamp_ms = 1700000000000 + n;
  record.decided_ms = 1700000000005 + n;
  record.amount = 12.5 + static_cast<double>(n);
  record.currency = "EUR";
  record.card_id = "card_" + std::to_string(n % 7);
  record.customer_id = "cust_" + std::to_string(n % 11);
  record.merchant_id = "m_1";
  record.risk_score = static_cast<double>(n % 100);
  record.risk_level = "low";
  record.action = "approve";
  record.model_version = "xgb-1";
  record.server_time_us = 42 + n;
  record.response_json =
      R"({"transaction_id":")" + id + R"(","risk_score":)" + std::to_string(n % 100) + "}";
  return record;
}

// Polls `condition` for up to ten seconds; the bound keeps a broken writer from hanging the suite.
template <typename Condition>
bool Eventually(Condition condition) {
  for (int i = 0; i < 2000; ++i) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

void ExecOrFail(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* message = nullptr;
  const int code = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  EXPECT_EQ(code, SQLITE_OK) << (message != nullptr ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

TEST_F(DecisionLogTest, AppendsFromSeveralThreadsAndFindsEachBeforeAndAfterFlush) {
  auto options = Options();
  options.batch_size = 64;
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  std::atomic<int> not_found_before_flush{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "t" + std::to_string(t) + "_" + std::to_string(i);
        ASSERT_TRUE(log->Append(MakeRecord(id, i)));
        auto found = log->Find(id);
        if (!found.ok() || !found->has_value()) {
          ++not_found_before_flush;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(not_found_before_flush.load(), 0);
  log->Flush();
  const auto stats = log->stats();
  EXPECT_EQ(stats.written, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.lag_ms, 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = "t" + std::to_string(t) + "_" + std::to_string(i);
      auto found = log->Find(id);
      ASSERT_TRUE(found.ok()) << found.error();
      ASSERT_TRUE(found->has_value()) << id;
      EXPECT_EQ(**found, MakeRecord(id, i));
    }
  }
  EXPECT_TRUE(log->Close().ok());
}

TEST_F(DecisionLogTest, RecordsSurviveCloseAndReopen) {
  {
    auto log = OpenOrDie(Options());
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(log->Append(MakeRecord("txn_" + std::to_string(i), i)));
    }
    // No Flush: Close must write what is queued.
    auto closed = log->Close();
    EXPECT_TRUE(closed.ok()) << closed.error();
    EXPECT_FALSE(log->Append(MakeRecord("after_close"))) << "a closed log accepts nothing";
  }
  auto reopened = OpenOrDie(Options());
  ASSERT_NE(reopened, nullptr);
  for (int i = 0; i < 100; ++i) {
    const std::string id = "txn_" + std::to_string(i);
    auto found = reopened->Find(id);
    ASSERT_TRUE(found.ok()) << found.error();
    ASSERT_TRUE(found->has_value()) << id;
    EXPECT_EQ(**found, MakeRecord(id, i));
  }
  auto missing = reopened->Find("never_logged");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(DecisionLogTest, ReservedRoomIsHeldForItsRecordsAndRefusedWholeWhenShort) {
  auto options = Options();
  options.queue_capacity = 4;
  options.batch_size = 512;
  options.flush_interval_ms = 600000;  // the queue stays as filled until Flush
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Reserve(3));
  // Held room counts against the capacity: only one more fits, reserved or not.
  EXPECT_FALSE(log->Reserve(2));
  EXPECT_TRUE(log->Append(MakeRecord("plain", 0)));
  EXPECT_FALSE(log->Append(MakeRecord("no-room", 1)));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(log->AppendReserved(MakeRecord("held" + std::to_string(i), i)));
  }
  EXPECT_EQ(log->stats().queued, 4u);
  EXPECT_EQ(log->stats().dropped, 3u);  // the batch of two and the one record
  log->Flush();
  EXPECT_TRUE(log->Reserve(4));
  auto found = log->Find("held2");
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->has_value());
}

TEST_F(DecisionLogTest, FullQueueRefusesAppendUntilWritten) {
  auto options = Options();
  options.queue_capacity = 4;
  // The writer only wakes for a full batch, a Flush or Close, so the queue stays full.
  options.batch_size = 512;
  options.flush_interval_ms = 600000;
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(log->Append(MakeRecord("q" + std::to_string(i), i)));
  }
  // The degraded state is logged once, not once per refused record.
  const fs::path log_path = dir_ / "log.jsonl";
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  ASSERT_GE(log_fd, 0);
  SetLogFd(log_fd);
  EXPECT_FALSE(log->Append(MakeRecord("q4", 4)));
  EXPECT_FALSE(log->Append(MakeRecord("q5", 5)));
  SetLogFd(STDERR_FILENO);
  ::close(log_fd);
  std::ifstream log_file(log_path);
  const std::string log_text((std::istreambuf_iterator<char>(log_file)),
                             std::istreambuf_iterator<char>());
  EXPECT_NE(log_text.find(R"("level":"warn","event":"decision_log_queue_full")"), std::string::npos)
      << log_text;
  EXPECT_EQ(log_text.find("decision_log_queue_full"), log_text.rfind("decision_log_queue_full"));
  auto stats = log->stats();
  EXPECT_EQ(stats.queued, 4u);
  EXPECT_EQ(stats.dropped, 2u);
  EXPECT_EQ(stats.written, 0u);
  auto refused = log->Find("q4");
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->has_value()) << "a refused record must not be findable";

  log->Flush();
  stats = log->stats();
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.written, 4u);
  EXPECT_TRUE(log->Append(MakeRecord("q6", 6))) << "room again once written";
}

TEST_F(DecisionLogTest, RepeatedIdReplacesAndIsCounted) {
  auto log = OpenOrDie(Options());
  ASSERT_NE(log, nullptr);
  DecisionRecord first = MakeRecord("dup", 1);
  DecisionRecord second = MakeRecord("dup", 2);
  second.action = "decline";
  ASSERT_TRUE(log->Append(first));
  log->Flush();
  ASSERT_TRUE(log->Append(second));
  auto queued = log->Find("dup");
  ASSERT_TRUE(queued.ok() && queued->has_value());
  EXPECT_EQ(**queued, second);
  log->Flush();
  auto written = log->Find("dup");
  ASSERT_TRUE(written.ok() && written->has_value());
  EXPECT_EQ(**written, second);

  // Two versions within one batch: the later one wins.
  DecisionRecord third = MakeRecord("dup", 3);
  ASSERT_TRUE(log->Append(MakeRecord("dup2", 1)));
  ASSERT_TRUE(log->Append(third));
  ASSERT_TRUE(log->Append(MakeRecord("dup2", 2)));
  log->Flush();
  EXPECT_EQ(**log->Find("dup"), third);
  EXPECT_EQ(**log->Find("dup2"), MakeRecord("dup2", 2));
  const auto stats = log->stats();
  EXPECT_EQ(stats.written, 5u);
  EXPECT_EQ(stats.replaced, 3u);
}

TEST_F(DecisionLogTest, ConcurrentFindDuringWritesAlwaysSeesAppendedRecords) {
  auto options = Options();
  options.batch_size = 16;
  options.flush_interval_ms = 1;
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  constexpr int kRecords = 3000;
  std::atomic<int> appended{0};
  std::atomic<int> misses{0};
  std::atomic<int> errors{0};
  std::thread writer([&] {
    for (int i = 0; i < kRecords; ++i) {
      ASSERT_TRUE(log->Append(MakeRecord("c" + std::to_string(i), i)));
      appended.store(i + 1, std::memory_order_release);
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      unsigned step = 0;
      while (appended.load(std::memory_order_acquire) < kRecords) {
        const int known = appended.load(std::memory_order_acquire);
        if (known == 0) {
          continue;
        }
        // Alternate between the newest record (likely queued) and older ones (likely written).
        const int index = (step++ % 2 == 0)
                              ? known - 1
                              : static_cast<int>((step * 7919u + r) % static_cast<unsigned>(known));
        auto found = log->Find("c" + std::to_string(index));
        if (!found.ok()) {
          ++errors;
        } else if (!found->has_value() || (*found)->server_time_us != 42 + index) {
          ++misses;
        }
      }
    });
  }
  writer.join();
  for (auto& reader : readers) {
    reader.join();
  }
  EXPECT_EQ(misses.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  log->Flush();
  EXPECT_EQ(log->stats().written, static_cast<uint64_t>(kRecords));
}

TEST_F(DecisionLogTest, WriteErrorsAreCountedAndRetriedWithoutLosingRecords) {
  auto options = Options();
  options.flush_interval_ms = 1;
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  // A trigger makes every insert fail, as a full or broken disk would.
  ExecOrFail(options.path,
             "CREATE TRIGGER refuse BEFORE INSERT ON decisions "
             "BEGIN SELECT RAISE(ABORT, 'refused by test'); END;");
  ASSERT_TRUE(log->Append(MakeRecord("e1", 1)));
  ASSERT_TRUE(log->Append(MakeRecord("e2", 2)));
  ASSERT_TRUE(Eventually([&] { return log->stats().write_errors >= 2; }));
  auto stats = log->stats();
  EXPECT_EQ(stats.written, 0u);
  EXPECT_EQ(stats.queued, 2u);
  EXPECT_EQ(stats.dropped, 0u);
  auto pending = log->Find("e1");
  ASSERT_TRUE(pending.ok() && pending->has_value()) << "failed records stay queued and findable";

  ExecOrFail(options.path, "DROP TRIGGER refuse;");
  log->Flush();
  stats = log->stats();
  EXPECT_EQ(stats.written, 2u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_TRUE(log->Close().ok());
}

TEST_F(DecisionLogTest, CloseReportsRecordsItCouldNotWrite) {
  auto options = Options();
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  ExecOrFail(options.path,
             "CREATE TRIGGER refuse BEFORE INSERT ON decisions "
             "BEGIN SELECT RAISE(ABORT, 'refused by test'); END;");
  ASSERT_TRUE(log->Append(MakeRecord("lost1")));
  ASSERT_TRUE(log->Append(MakeRecord("lost2")));
  auto closed = log->Close();
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.error().find("2 decisions could not be written"), std::string::npos)
      << closed.error();
  EXPECT_EQ(log->stats().dropped, 2u);
  EXPECT_TRUE(log->Close().ok()) << "closing twice is harmless";
}

TEST_F(DecisionLogTest, OpenErrorsNameTheProblem) {
  DecisionLogOptions options;
  options.path = (dir_ / "no_such_dir" / "decisions.db").string();
  auto missing_dir = DecisionLog::Open(options);
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.error().find("no_such_dir"), std::string::npos) << missing_dir.error();

  options = Options();
  options.batch_size = 0;
  auto bad_batch = DecisionLog::Open(options);
  ASSERT_FALSE(bad_batch.ok());
  EXPECT_NE(bad_batch.error().find("batch_size"), std::string::npos);

  // A file written by a newer layout is refused rather than misread.
  options = Options();
  ASSERT_NE(OpenOrDie(options), nullptr);
  ExecOrFail(options.path, "UPDATE schema_version SET version = 99;");
  auto newer = DecisionLog::Open(options);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.error().find("schema version 99"), std::string::npos) << newer.error();
}

}  // namespace
}  // namespace fraudguard

namespace fraudguard {
namespace {

TEST(DecisionJournalTest, RecordsRoundTripAndATornTailIsDropped) {
  std::string journal;
  for (int i = 0; i < 5; ++i) {
    EncodeJournalRecord(MakeRecord("j" + std::to_string(i), i), journal);
  }
  std::vector<DecisionRecord> decoded;
  EXPECT_EQ(DecodeJournal(journal, decoded), journal.size());
  ASSERT_EQ(decoded.size(), 5u);
  EXPECT_EQ(decoded[3], MakeRecord("j3", 3));

  // Cut inside the last record, as a kill in the middle of a write would.
  const std::string torn = journal.substr(0, journal.size() - 7);
  decoded.clear();
  EXPECT_LT(DecodeJournal(torn, decoded), torn.size());
  EXPECT_EQ(decoded.size(), 4u);

  // A flipped byte fails the checksum; what came before it still counts.
  std::string corrupt = journal;
  corrupt[corrupt.size() - 3] ^= 0x5A;
  decoded.clear();
  DecodeJournal(corrupt, decoded);
  EXPECT_EQ(decoded.size(), 4u);
  decoded.clear();
  EXPECT_EQ(DecodeJournal("", decoded), 0u);
  EXPECT_EQ(DecodeJournal(std::string(40, '\xff'), decoded), 0u);
  EXPECT_TRUE(decoded.empty());
}

TEST_F(DecisionLogTest, JournalledDecisionsOfAProcessThatDiedAreReplayedAtOpen) {
  auto options = Options();
  options.journal_writers = 2;
  options.batch_size = 512;
  options.flush_interval_ms = 600000;  // nothing reaches SQLite before the "crash"
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Reserve(3));
  EXPECT_TRUE(log->AppendReserved(MakeRecord("a", 1), 0));
  EXPECT_TRUE(log->AppendReserved(MakeRecord("b", 2), 1));
  ASSERT_TRUE(log->CommitJournal(0).ok());
  ASSERT_TRUE(log->CommitJournal(1).ok());
  // Still in writer 1's buffer at the crash: its answer was never sent.
  EXPECT_TRUE(log->AppendReserved(MakeRecord("not-committed", 3), 1));
  // The crash image: the files as they are on disk now, with the process still running.
  const fs::path crash = dir_ / "crash";
  fs::create_directories(crash);
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.is_regular_file()) {
      fs::copy_file(entry.path(), crash / entry.path().filename());
    }
  }
  auto recovered_options = options;
  recovered_options.path = (crash / "decisions.db").string();
  auto recovered = OpenOrDie(recovered_options);
  ASSERT_NE(recovered, nullptr);
  for (const char* id : {"a", "b", "not-committed"}) {
    auto found = recovered->Find(id);
    ASSERT_TRUE(found.ok()) << found.error();
    EXPECT_EQ(found->has_value(), std::string_view(id) != "not-committed") << id;
  }
  auto replayed = recovered->Find("b");
  ASSERT_TRUE(replayed.ok() && replayed->has_value());
  EXPECT_EQ(**replayed, MakeRecord("b", 2));
  EXPECT_TRUE(recovered->Close().ok());
  // A clean close leaves no journal behind.
  for (const auto& entry : fs::directory_iterator(crash)) {
    EXPECT_EQ(entry.path().filename().string().find(".pending-"), std::string::npos)
        << entry.path();
  }
  EXPECT_TRUE(log->Close().ok());
}

TEST_F(DecisionLogTest, FullJournalFilesAreDeletedOnceWritten) {
  auto options = Options();
  options.journal_writers = 1;
  options.journal_rotate_bytes = 512;  // a new file every few records
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(log->Reserve(1));
    ASSERT_TRUE(log->AppendReserved(MakeRecord("r" + std::to_string(i), i), 0));
    ASSERT_TRUE(log->CommitJournal(0).ok());
  }
  log->Flush();
  // Retirement runs after each written batch; one more batch makes it see the last ones.
  ASSERT_TRUE(log->Reserve(1));
  ASSERT_TRUE(log->AppendReserved(MakeRecord("last", 99), 0));
  ASSERT_TRUE(log->CommitJournal(0).ok());
  log->Flush();
  int journal_files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    journal_files += entry.path().filename().string().find(".pending-") != std::string::npos;
  }
  EXPECT_LE(journal_files, 2) << "full files whose records are written are deleted";
  EXPECT_TRUE(log->Close().ok());
}

}  // namespace
}  // namespace fraudguard
