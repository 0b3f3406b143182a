// Decision log throughput: the cost of Append on the request path, and how many rows per second
// the background writer gets into SQLite end to end.
#include "storage/decision_log.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>

namespace fraudguard {
namespace {

namespace fs = std::filesystem;

// A record of realistic size: ids, a few fields and a response body of about 300 bytes.
DecisionRecord SampleRecord() {
  DecisionRecord record;
  record.timestamp_ms = 1700000000000;
  record.decided_ms = 1700000000002;
  record.amount = 129.95;
  record.currency = "EUR";
  record.card_id = "card_0123456789abcdef";
  record.customer_id = "cust_0123456789";
  record.merchant_id = "merchant_42";
  record.risk_score = 37.5;
  record.risk_level = "medium";
  record.action = "review";
  record.model_version = "xgb-2024-01-01";
  record.server_time_us = 85;
  record.response_json =
      R"({"transaction_id":"txn_0000000000","risk_score":37.5,"risk_level":"medium",)"
      R"("action":"review","reasons":[{"code":"HIGH_VELOCITY","description":"Many )"
      R"(transactions on this card in the last hour"},{"code":"NEW_DEVICE","description":)"
      R"("First use of this device"}],"model_version":"xgb-2024-01-01","server_time_us":85})";
  return record;
}

// A fresh database file per benchmark run, removed afterwards.
class TempDatabase {
public:
  explicit TempDatabase(const std::string& name)
      : dir_(fs::temp_directory_path() /
             ("fg_decision_log_bench_" + std::to_string(::getpid()) + "_" + name)) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~TempDatabase() { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "decisions.db").string(); }

private:
  fs::path dir_;
};

// Append alone, as the request path pays for it (the writer drains in the background).
void BM_DecisionLogAppend(benchmark::State& state) {
  TempDatabase database("append");
  DecisionLogOptions options;
  options.path = database.path();
  options.queue_capacity = 1000000;
  auto log = DecisionLog::Open(options);
  if (!log.ok()) {
    state.SkipWithError(log.error().c_str());
    return;
  }
  const DecisionRecord sample = SampleRecord();
  uint64_t id = 0;
  uint64_t refused = 0;
  for (auto _ : state) {
    DecisionRecord record = sample;
    record.transaction_id = "txn_" + std::to_string(id++);
    if (!(*log)->Append(std::move(record))) {
      ++refused;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["refused"] = static_cast<double>(refused);
  (*log)->Flush();
}
// A fixed count keeps the queue below capacity, so every Append takes the accepting path.
BENCHMARK(BM_DecisionLogAppend)->Iterations(200000);

// Append then Flush: rows per second durably in SQLite, for a given batch size.
void BM_DecisionLogRowsWritten(benchmark::State& state) {
  TempDatabase database("written_" + std::to_string(state.range(0)));
  DecisionLogOptions options;
  options.path = database.path();
  options.batch_size = static_cast<size_t>(state.range(0));
  auto log = DecisionLog::Open(options);
  if (!log.ok()) {
    state.SkipWithError(log.error().c_str());
    return;
  }
  constexpr int kRowsPerRound = 20000;
  const DecisionRecord sample = SampleRecord();
  uint64_t id = 0;
  for (auto _ : state) {
    for (int i = 0; i < kRowsPerRound; ++i) {
      DecisionRecord record = sample;
      record.transaction_id = "txn_" + std::to_string(id++);
      (*log)->Append(std::move(record));
    }
    (*log)->Flush();
  }
  const auto stats = (*log)->stats();
  state.SetItemsProcessed(static_cast<int64_t>(stats.written));
  state.counters["write_errors"] = static_cast<double>(stats.write_errors);
}
BENCHMARK(BM_DecisionLogRowsWritten)
    ->Arg(64)
    ->Arg(512)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace fraudguard
