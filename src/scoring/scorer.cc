#include "scoring/scorer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>

#include "core/clock.h"
#include "core/json_writer.h"

namespace fraudguard {
namespace {

// Groups whose contribution is below this (in log-odds) are too small to be worth naming.
constexpr double kMinReasonContribution = 0.05;
constexpr size_t kMaxModelReasons = 3;

}  // namespace

std::string_view RiskLevelName(RiskLevel level) {
  switch (level) {
    case RiskLevel::kLow:
      return "low";
    case RiskLevel::kMedium:
      return "medium";
    case RiskLevel::kHigh:
      return "high";
  }
  return "low";
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kApprove:
      return "approve";
    case Action::kReview:
      return "review";
    case Action::kDecline:
      return "decline";
  }
  return "approve";
}

Result<std::shared_ptr<const LoadedModel>> LoadedModel::FromFile(ModelFile file) {
  std::unordered_map<std::string_view, uint16_t> slots;
  const auto names = FeatureNames();
  for (size_t i = 0; i < names.size(); ++i) {
    slots.emplace(names[i], static_cast<uint16_t>(i));
  }
  auto model = std::make_shared<LoadedModel>();
  if (file.feature_names.size() != file.ensemble.num_features()) {
    return Error{"model lists " + std::to_string(file.feature_names.size()) +
                 " features but its trees use " + std::to_string(file.ensemble.num_features())};
  }
  for (const auto& name : file.feature_names) {
    const auto it = slots.find(name);
    if (it == slots.end()) {
      return Error{"model feature '" + name + "' is not computed by this version's feature store"};
    }
    model->input_slots.push_back(it->second);
    model->input_groups.push_back(ReasonGroupForFeature(name));
  }
  if (!(file.medium_threshold > 0 && file.medium_threshold < file.high_threshold &&
        file.high_threshold <= 100)) {
    return Error{"model thresholds must satisfy 0 < medium < high <= 100"};
  }
  model->file = std::move(file);
  return std::shared_ptr<const LoadedModel>(std::move(model));
}

Result<std::shared_ptr<const LoadedModel>> LoadedModel::Load(const std::string& path) {
  auto file = LoadModelFile(path);
  if (!file) {
    return Error{file.error()};
  }
  return FromFile(std::move(file).value());
}

Scorer::Scorer(FeatureStore& store,
               std::shared_ptr<const LoadedModel> model,
               std::shared_ptr<const RuleSet> rules,
               int workers)
    : store_(store),
      model_(std::move(model)),
      rules_(std::move(rules)),
      workers_(static_cast<size_t>(workers)) {}

void Scorer::SetModel(std::shared_ptr<const LoadedModel> model) {
  std::lock_guard lock(swap_mutex_);
  model_ = std::move(model);
  generation_.fetch_add(1, std::memory_order_release);
}

void Scorer::SetRules(std::shared_ptr<const RuleSet> rules) {
  std::lock_guard lock(swap_mutex_);
  rules_ = std::move(rules);
  generation_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const LoadedModel> Scorer::model() const {
  std::lock_guard lock(swap_mutex_);
  return model_;
}

std::shared_ptr<const RuleSet> Scorer::rules() const {
  std::lock_guard lock(swap_mutex_);
  return rules_;
}

void Scorer::Refresh(WorkerState& state) {
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (generation == state.generation) {
    return;
  }
  std::lock_guard lock(swap_mutex_);
  state.model = model_;
  state.rules = rules_;
  state.generation = generation;
  state.inputs.assign(state.model->input_slots.size(), 0.0F);
  state.contributions.assign(state.model->input_slots.size() + 1, 0.0F);
}

void Scorer::Score(const Transaction& txn, int worker, Decision& out) {
  const int64_t start_ns = MonotonicNanos();
  WorkerState& state = workers_[static_cast<size_t>(worker)];
  Refresh(state);
  store_.UpdateAndRead(txn, state.features, worker);
  Decide(*state.model, txn, state, start_ns, out);
}

void Scorer::ScoreWithCandidate(const Transaction& txn,
                                int worker,
                                const LoadedModel& candidate,
                                bool serve_candidate,
                                Decision& served,
                                Decision& other) {
  const int64_t start_ns = MonotonicNanos();
  WorkerState& state = workers_[static_cast<size_t>(worker)];
  Refresh(state);
  store_.UpdateAndRead(txn, state.features, worker);
  const LoadedModel& active = *state.model;
  // The served decision is computed last so that last_inference_ns is the served model's.
  Decide(serve_candidate ? active : candidate, txn, state, MonotonicNanos(), other);
  state.last_other_inference_ns = state.last_inference_ns;
  Decide(serve_candidate ? candidate : active, txn, state, start_ns, served);
}

void Scorer::Decide(const LoadedModel& model,
                    const Transaction& txn,
                    WorkerState& state,
                    int64_t start_ns,
                    Decision& out) {
  // A candidate may have another number of inputs than the active model.
  if (state.inputs.size() != model.input_slots.size()) {
    state.inputs.assign(model.input_slots.size(), 0.0F);
    state.contributions.assign(model.input_slots.size() + 1, 0.0F);
  }
  const int64_t inference_start_ns = MonotonicNanos();
  for (size_t i = 0; i < model.input_slots.size(); ++i) {
    state.inputs[i] = state.features[model.input_slots[i]];
  }
  std::fill(state.contributions.begin(), state.contributions.end(), 0.0F);
  const float margin = model.file.ensemble.Explain(state.inputs, state.contributions);
  const double probability = 1.0 / (1.0 + std::exp(-static_cast<double>(margin)));
  state.last_inference_ns = MonotonicNanos() - inference_start_ns;

  out.transaction_id = txn.transaction_id;
  out.model_version = model.file.version;
  out.risk_score = std::round(probability * 10000.0) / 100.0;
  out.level = out.risk_score >= model.file.high_threshold     ? RiskLevel::kHigh
              : out.risk_score >= model.file.medium_threshold ? RiskLevel::kMedium
                                                              : RiskLevel::kLow;
  out.action = out.level == RiskLevel::kHigh     ? Action::kDecline
               : out.level == RiskLevel::kMedium ? Action::kReview
                                                 : Action::kApprove;
  out.reasons.clear();

  // Rules come after the model: a deny list entry declines whatever the score, an allow list
  // entry approves, an override asks for review.
  const RuleOutcome rule_outcome = state.rules->Apply(txn, out.risk_score);
  switch (rule_outcome.effect) {
    case RuleEffect::kDeny:
      out.level = RiskLevel::kHigh;
      out.action = Action::kDecline;
      break;
    case RuleEffect::kAllow:
      out.action = Action::kApprove;
      break;
    case RuleEffect::kReview:
      if (out.action == Action::kApprove) {
        out.action = Action::kReview;
        out.level = std::max(out.level, RiskLevel::kMedium);
      }
      break;
    case RuleEffect::kNone:
      break;
  }
  for (const auto& match : rule_outcome.matches) {
    out.reasons.push_back(Reason{match.reason_code, match.description, 0.0});
  }

  // The model's reasons: contributions summed by group, the largest positive ones first.
  std::array<size_t, kReasonGroupCount> credited_group{};
  for (size_t group = 0; group < kReasonGroupCount; ++group) {
    credited_group[group] =
        static_cast<size_t>(CreditedReasonGroup(static_cast<ReasonGroup>(group), txn));
  }
  std::array<double, kReasonGroupCount> group_totals{};
  for (size_t i = 0; i < model.input_groups.size(); ++i) {
    group_totals[credited_group[static_cast<size_t>(model.input_groups[i])]] +=
        state.contributions[i];
  }
  std::array<size_t, kReasonGroupCount> order{};
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return group_totals[a] > group_totals[b]; });
  for (size_t rank = 0; rank < kMaxModelReasons; ++rank) {
    const size_t group = order[rank];
    if (group_totals[group] < kMinReasonContribution) {
      break;
    }
    const auto reason_group = static_cast<ReasonGroup>(group);
    out.reasons.push_back(Reason{std::string(ReasonCode(reason_group)),
                                 ReasonSentence(reason_group, txn),
                                 std::round(group_totals[group] * 10000.0) / 10000.0});
  }
  out.server_time_us = (MonotonicNanos() - start_ns) / 1000;
}

void AppendDecisionJson(const Decision& decision, std::string& out) {
  JsonWriter json(out);
  json.BeginObject()
      .Field("transaction_id", decision.transaction_id)
      .Field("risk_score", decision.risk_score)
      .Field("risk_level", RiskLevelName(decision.level))
      .Field("action", ActionName(decision.action))
      .Key("reasons")
      .BeginArray();
  for (const auto& reason : decision.reasons) {
    json.BeginObject()
        .Field("code", reason.code)
        .Field("message", reason.sentence)
        .Field("contribution", reason.contribution)
        .EndObject();
  }
  json.EndArray()
      .Field("model_version", decision.model_version)
      .Field("server_time_us", decision.server_time_us)
      .EndObject();
}

}  // namespace fraudguard
