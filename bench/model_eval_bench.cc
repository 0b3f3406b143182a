// Single-row evaluation cost of a production-sized ensemble: 300 trees of depth 6 over 100
// features, trained once with XGBoost on small synthetic data.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>

#include <benchmark/benchmark.h>

#include "model/tree_ensemble.h"
#include "model/xgboost_trainer.h"

namespace fraudguard {
namespace {

constexpr size_t kFeatures = 100;
constexpr size_t kTrainRows = 2000;
constexpr size_t kProbeRows = 1024;

struct BenchModel {
  TreeEnsemble ensemble;
  std::vector<float> probe_rows;  // kProbeRows x kFeatures, cycled through by the benchmarks
};

std::vector<float> RandomRows(size_t num_rows, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0F, 1.0F);
  std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
  std::vector<float> rows(num_rows * kFeatures);
  for (float& value : rows) {
    value = uniform(rng) < 0.05F ? std::numeric_limits<float>::quiet_NaN() : normal(rng);
  }
  return rows;
}

const BenchModel& Model() {
  static const BenchModel model = [] {
    std::mt19937 rng(17);
    std::uniform_real_distribution<float> uniform(0.0F, 1.0F);
    const std::vector<float> rows = RandomRows(kTrainRows, rng);
    std::vector<float> labels(kTrainRows);
    for (size_t r = 0; r < kTrainRows; ++r) {
      // Signal spread over many features so that trees use a wide set of them.
      float score = -0.5F;
      for (size_t f = 0; f < 30; ++f) {
        const float value = rows[r * kFeatures + f];
        score += std::isnan(value) ? 0.0F : value * (f % 2 == 0 ? 0.3F : -0.2F);
      }
      labels[r] = uniform(rng) < 1.0F / (1.0F + std::exp(-score)) ? 1.0F : 0.0F;
    }
    TrainingOptions options;
    options.rounds = 300;
    options.max_depth = 6;
    options.min_child_weight = 0.1;  // let small data still grow full-depth trees
    auto json = TrainXgboost(rows, kTrainRows, kFeatures, labels, options);
    if (!json.ok()) {
      std::fprintf(stderr, "training failed: %s\n", json.error().c_str());
      std::abort();
    }
    auto ensemble = TreeEnsemble::FromXgboostJson(*json);
    if (!ensemble.ok()) {
      std::fprintf(stderr, "loading failed: %s\n", ensemble.error().c_str());
      std::abort();
    }
    return BenchModel{std::move(ensemble).value(), RandomRows(kProbeRows, rng)};
  }();
  return model;
}

std::span<const float> ProbeRow(const BenchModel& model, size_t i) {
  return std::span<const float>(model.probe_rows).subspan((i % kProbeRows) * kFeatures, kFeatures);
}

void BM_PredictProbability(benchmark::State& state) {
  const BenchModel& model = Model();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.ensemble.PredictProbability(ProbeRow(model, i++)));
  }
  state.counters["trees"] = static_cast<double>(model.ensemble.num_trees());
  state.counters["max_depth"] = static_cast<double>(model.ensemble.max_depth());
}
BENCHMARK(BM_PredictProbability);

void BM_Explain(benchmark::State& state) {
  const BenchModel& model = Model();
  std::vector<float> contributions(kFeatures + 1);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(model.ensemble.Explain(ProbeRow(model, i++), contributions));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_Explain);

}  // namespace
}  // namespace fraudguard
