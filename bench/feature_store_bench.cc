// UpdateAndRead cost with 10k and 1M cards already in the store (the latter does not fit in
// any cache), with persistence off (training replay)
// and on (a temporary data directory, one Commit per 32 transactions as a server would batch).
#include "features/feature_store.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/clock.h"
#include "core/log.h"

namespace fraudguard {
namespace {

constexpr int64_t kStart = 1'700'000'000'000LL;

Transaction MakeTxn(uint64_t n, int cards, std::mt19937_64& rng) {
  Transaction txn;
  const uint64_t card = rng() % static_cast<uint64_t>(cards);
  txn.timestamp_ms = kStart + static_cast<int64_t>(n) * 50;
  txn.amount = 1.0 + static_cast<double>(rng() % 100000) / 100.0;
  txn.card_id = "card-" + std::to_string(card);
  txn.customer_id = "cust-" + std::to_string(card / 2);
  txn.merchant_id = "merchant-" + std::to_string(rng() % 20000);
  txn.country = rng() % 10 == 0 ? "GB" : "US";
  txn.device_id = "device-" + std::to_string(card);
  txn.ip = "10." + std::to_string(card % 256) + "." + std::to_string(rng() % 256) + ".1";
  txn.channel = "online";
  return txn;
}

void RunUpdateAndRead(benchmark::State& state, bool persistent) {
  const auto cards = static_cast<int>(state.range(0));
  SetLogLevel(LogLevel::kWarn);
  ManualClock clock(kStart);
  FeatureStoreOptions options;
  options.worker_threads = 1;
  std::string dir;
  if (persistent) {
    char pattern[] = "/tmp/feature_store_bench_XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      state.SkipWithError("mkdtemp failed");
      return;
    }
    dir = pattern;
    options.data_dir = dir;
    options.snapshot_interval_ms = 3'600'000;  // Measure updates, not snapshots.
  }
  auto store = FeatureStore::Open(options, clock);
  if (!store.ok()) {
    state.SkipWithError(store.error().c_str());
    return;
  }
  FeatureStore& features = **store;
  std::mt19937_64 rng(1);
  FeatureVector out;
  uint64_t n = 0;
  // Populate: every card once.
  for (int i = 0; i < cards; ++i, ++n) {
    Transaction txn = MakeTxn(n, cards, rng);
    txn.card_id = "card-" + std::to_string(i);
    features.UpdateAndRead(txn, out, 0);
    if (persistent && i % 32 == 31) {
      (void)features.Commit(0);
    }
  }
  // Transactions are built outside the timed loop: the store's cost is what is measured.
  std::vector<Transaction> txns;
  for (int i = 0; i < 4096; ++i) {
    txns.push_back(MakeTxn(n + static_cast<uint64_t>(i), cards, rng));
  }
  size_t i = 0;
  for (auto _ : state) {
    Transaction& txn = txns[i % txns.size()];
    txn.timestamp_ms += 1;
    features.UpdateAndRead(txn, out, 0);
    benchmark::DoNotOptimize(out);
    if (persistent && ++i % 32 == 0) {
      benchmark::DoNotOptimize(features.Commit(0));
    } else if (!persistent) {
      ++i;
    }
  }
  const FeatureStore::Stats stats = features.stats();
  state.counters["cards"] = static_cast<double>(stats.keys[0]);
  state.counters["bytes_per_key"] =
      static_cast<double>(stats.bytes) /
      static_cast<double>(stats.keys[0] + stats.keys[1] + stats.keys[2] + stats.keys[3] +
                          stats.keys[4]);
  store->reset();
  if (!dir.empty()) {
    std::filesystem::remove_all(dir);
  }
}

void BM_UpdateAndRead_InMemory(benchmark::State& state) {
  RunUpdateAndRead(state, false);
}
void BM_UpdateAndRead_Persistent(benchmark::State& state) {
  RunUpdateAndRead(state, true);
}

BENCHMARK(BM_UpdateAndRead_InMemory)
    ->Arg(10'000)
    ->Arg(1'000'000)
    ->Iterations(500'000)
    ->Unit(benchmark::kNanosecond);
BENCHMARK(BM_UpdateAndRead_Persistent)
    ->Arg(10'000)
    ->Arg(1'000'000)
    ->Iterations(500'000)
    ->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace fraudguard
