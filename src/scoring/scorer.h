// The decision pipeline: features, model, rules, risk level, action and reasons for one
// transaction. The HTTP layer, the offline evaluator and the benchmarks all call Scorer::Score,
// so every path scores a transaction the same way.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/transaction.h"
#include "features/feature_schema.h"
#include "features/feature_store.h"
#include "model/model_file.h"
#include "scoring/reasons.h"
#include "scoring/rules.h"

namespace fraudguard {

enum class RiskLevel : uint8_t { kLow, kMedium, kHigh };
enum class Action : uint8_t { kApprove, kReview, kDecline };
std::string_view RiskLevelName(RiskLevel level);
std::string_view ActionName(Action action);

struct Reason {
  std::string code;
  std::string sentence;
  // Contribution to the model's log-odds (positive raises the risk); rule reasons carry 0.
  double contribution = 0.0;
};

struct Decision {
  std::string transaction_id;
  double risk_score = 0.0;  // 0-100: the model's fraud probability in percent
  RiskLevel level = RiskLevel::kLow;
  Action action = Action::kApprove;
  std::vector<Reason> reasons;
  std::string model_version;
  int64_t server_time_us = 0;
};

// A model file bound to the feature schema: which feature slot feeds each model input, and the
// reason group of each input. Immutable once loaded and shared by all workers.
struct LoadedModel {
  ModelFile file;
  std::vector<uint16_t> input_slots;
  std::vector<ReasonGroup> input_groups;

  static Result<std::shared_ptr<const LoadedModel>> FromFile(ModelFile file);
  static Result<std::shared_ptr<const LoadedModel>> Load(const std::string& path);
};

class Scorer {
public:
  Scorer(FeatureStore& store,
         std::shared_ptr<const LoadedModel> model,
         std::shared_ptr<const RuleSet> rules,
         int workers);

  // Updates the feature state with `txn` and decides. `worker` selects per-thread buffers and
  // the feature store's log buffer; one thread per worker index at a time.
  void Score(const Transaction& txn, int worker, Decision& out);

  // For a model rollout: updates the feature state once and decides with both the active model
  // and `candidate` from the same features. `served` gets the candidate's decision when
  // `serve_candidate`, else the active model's; `other` gets the remaining one.
  void ScoreWithCandidate(const Transaction& txn,
                          int worker,
                          const LoadedModel& candidate,
                          bool serve_candidate,
                          Decision& served,
                          Decision& other);

  // Atomically replaces the model or the rules; requests already running finish with the old.
  void SetModel(std::shared_ptr<const LoadedModel> model);
  void SetRules(std::shared_ptr<const RuleSet> rules);
  std::shared_ptr<const LoadedModel> model() const;
  std::shared_ptr<const RuleSet> rules() const;

  // Model inference time of the last Score call on `worker`, in nanoseconds.
  int64_t last_inference_ns(int worker) const { return workers_[worker].last_inference_ns; }
  // The feature vector of the last Score call on `worker` (schema order).
  const FeatureVector& last_features(int worker) const { return workers_[worker].features; }
  // After ScoreWithCandidate: the inference time of the decision that was not served.
  int64_t last_other_inference_ns(int worker) const {
    return workers_[worker].last_other_inference_ns;
  }

private:
  // Per-worker state on its own cache line: scratch buffers and the worker's copy of the
  // shared model and rules, refreshed only when the generation changes.
  struct alignas(64) WorkerState {
    uint64_t generation = 0;
    std::shared_ptr<const LoadedModel> model;
    std::shared_ptr<const RuleSet> rules;
    FeatureVector features{};
    std::vector<float> inputs;
    std::vector<float> contributions;
    int64_t last_inference_ns = 0;
    int64_t last_other_inference_ns = 0;
  };

  void Refresh(WorkerState& state);
  // Decides from the features already in `state`; sets out.server_time_us from `start_ns`.
  void Decide(const LoadedModel& model,
              const Transaction& txn,
              WorkerState& state,
              int64_t start_ns,
              Decision& out);

  FeatureStore& store_;
  mutable std::mutex swap_mutex_;
  std::shared_ptr<const LoadedModel> model_;
  std::shared_ptr<const RuleSet> rules_;
  std::atomic<uint64_t> generation_{1};
  std::vector<WorkerState> workers_;
};

// Appends the decision as the API's JSON response body.
void AppendDecisionJson(const Decision& decision, std::string& out);

}  // namespace fraudguard
