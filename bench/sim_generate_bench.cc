// How fast the simulator produces labelled transactions and how fast they go to and from CSV.
// The goal: 10 million transactions to CSV in under a minute on one core.
#include <string>

#include <benchmark/benchmark.h>

#include "sim/csv.h"
#include "sim/simulator.h"

namespace fraudguard {
namespace {

// A world with enough days that no benchmark run reaches its end.
SimulationOptions LongRun(SimulationProfile profile) {
  SimulationOptions options;
  options.profile = profile;
  options.days = 36'500;
  return options;
}

void BM_SimulateToCsv(benchmark::State& state) {
  Simulator simulator(LongRun(static_cast<SimulationProfile>(state.range(0))));
  LabelledTransaction row;
  std::string csv;
  csv.reserve(2 << 20);
  uint64_t bytes = 0;
  for (auto _ : state) {
    simulator.Next(row);
    AppendCsvRow(csv, row);
    if (csv.size() >= (1 << 20)) {  // what a writer hands to write(2) in one go
      bytes += csv.size();
      benchmark::DoNotOptimize(csv.data());
      csv.clear();
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes + csv.size()));
}
BENCHMARK(BM_SimulateToCsv)
    ->Arg(static_cast<int>(SimulationProfile::kHandbook))
    ->Arg(static_cast<int>(SimulationProfile::kFraudGuard));

void BM_SimulateOnly(benchmark::State& state) {
  Simulator simulator(LongRun(SimulationProfile::kFraudGuard));
  LabelledTransaction row;
  for (auto _ : state) {
    benchmark::DoNotOptimize(simulator.Next(row));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SimulateOnly);

void BM_ReadCsv(benchmark::State& state) {
  SimulationOptions options;
  options.days = 10;
  Simulator simulator(options);
  std::string csv;
  WriteCsvHeader(csv);
  LabelledTransaction row;
  while (simulator.Next(row)) {
    AppendCsvRow(csv, row);
  }
  auto reader = TransactionCsvReader::FromString(csv);
  for (auto _ : state) {
    Result<bool> got = (*reader)->Next(row);
    if (!got.ok() || !*got) {
      state.PauseTiming();
      reader = TransactionCsvReader::FromString(csv);
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReadCsv);

}  // namespace
}  // namespace fraudguard
