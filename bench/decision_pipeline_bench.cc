// The whole decision of one request without the network: decode the JSON body, update and read
// the features, evaluate the shipped model with its explanation, apply the shipped rules, and
// count it for drift, and write the response body. Feature persistence is off, so this is the CPU
// cost per decision that the "500,000 decisions per second per core" target is about (the
// durability log's cost is in feature_store_bench, the decision log's in decision_log_bench).
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "api/transaction_codec.h"
#include "core/clock.h"
#include "core/log.h"
#include "evaluation/drift.h"
#include "features/feature_store.h"
#include "scoring/scorer.h"

namespace fraudguard {
namespace {

constexpr int64_t kStart = 1'700'000'000'000LL;
constexpr int kCards = 50'000;

std::string MakeBody(std::mt19937_64& rng) {
  const uint64_t card = rng() % kCards;
  static const char* const kCountries[] = {"US", "GB", "FR", "DE", "BR", "IN"};
  static const char* const kChannels[] = {"pos", "web", "mobile", "moto"};
  std::string body = R"({"amount":)" + std::to_string(1 + rng() % 50000 / 100.0);
  body += R"(,"currency":"USD","card_id":"card-)" + std::to_string(card);
  body += R"(","customer_id":"cust-)" + std::to_string(card / 2);
  body += R"(","merchant_id":"m-)" + std::to_string(rng() % 5000);
  body += R"(","merchant_category":"grocery","country":")";
  body += kCountries[rng() % 6];
  body += R"(","device_id":"dev-)" + std::to_string(card);
  body += R"(","ip":"10.1.)" + std::to_string(card % 256) + ".7";
  body += R"(","channel":")";
  body += kChannels[rng() % 4];
  body += R"(","user_age_days":)" + std::to_string(rng() % 3000) + "}";
  return body;
}

void BM_DecisionPipeline(benchmark::State& state) {
  SetLogLevel(LogLevel::kWarn);
  auto model = LoadedModel::Load(FRAUDGUARD_SOURCE_DIR "/models/default.json");
  auto rules = RuleSet::LoadFile(FRAUDGUARD_SOURCE_DIR "/config/rules.yaml");
  if (!model.ok() || !rules.ok()) {
    state.SkipWithError(model.ok() ? rules.error().c_str() : model.error().c_str());
    return;
  }
  ManualClock clock(kStart);
  FeatureStoreOptions options;
  options.worker_threads = 1;
  auto store = FeatureStore::Open(options, clock);
  if (!store.ok()) {
    state.SkipWithError(store.error().c_str());
    return;
  }
  Scorer scorer(**store, *model, std::make_shared<const RuleSet>(std::move(rules).value()), 1);
  DriftMonitor drift(clock, DriftMonitorOptions{}, 1);
  auto reference = ParseDriftReference((*model)->file.metadata_json);
  if (!reference.ok() || !drift.SetReference((*model)->file.version, std::move(*reference)).ok()) {
    state.SkipWithError("the shipped model's drift reference does not load");
    return;
  }
  TransactionDecoder decoder(TransactionLimits{});
  std::mt19937_64 rng(1);
  std::vector<std::string> bodies;
  for (int i = 0; i < 8192; ++i) {
    bodies.push_back(MakeBody(rng));
  }
  // Every card seen once before the timed loop, as in a warm server.
  Transaction txn;
  Decision decision;
  RequestError error;
  int64_t now_ms = kStart;
  for (const std::string& body : bodies) {
    if (!decoder.DecodeOne(body, now_ms += 10, txn, error)) {
      state.SkipWithError(error.message.c_str());
      return;
    }
    scorer.Score(txn, 0, decision);
  }
  std::string response;
  size_t i = 0;
  for (auto _ : state) {
    now_ms += 10;
    decoder.DecodeOne(bodies[i++ % bodies.size()], now_ms, txn, error);
    scorer.Score(txn, 0, decision);
    drift.Observe(0, decision.risk_score, scorer.last_features(0), now_ms);
    response.clear();
    AppendDecisionJson(decision, response);
    benchmark::DoNotOptimize(response.data());
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_DecisionPipeline)->Iterations(200'000)->Unit(benchmark::kNanosecond);

// Drift's share of the pipeline: binning the score and the reference's features of one decision.
void BM_DriftObserve(benchmark::State& state) {
  SetLogLevel(LogLevel::kWarn);
  auto model = LoadedModel::Load(FRAUDGUARD_SOURCE_DIR "/models/default.json");
  if (!model.ok()) {
    state.SkipWithError(model.error().c_str());
    return;
  }
  auto reference = ParseDriftReference((*model)->file.metadata_json);
  ManualClock clock(kStart);
  DriftMonitor drift(clock, DriftMonitorOptions{}, 1);
  if (!reference.ok() || !drift.SetReference((*model)->file.version, std::move(*reference)).ok()) {
    state.SkipWithError("the shipped model's drift reference does not load");
    return;
  }
  std::mt19937_64 rng(1);
  std::vector<FeatureVector> vectors(1024);
  for (FeatureVector& features : vectors) {
    for (float& value : features) {
      value = static_cast<float>(rng() % 10000) / 100.0F;
    }
  }
  int64_t now_ms = kStart;
  size_t i = 0;
  for (auto _ : state) {
    const FeatureVector& features = vectors[i++ % vectors.size()];
    drift.Observe(0, features[0], features, now_ms += 10);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_DriftObserve)->Iterations(2'000'000)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace fraudguard
