#include "rollout/model_rollout.h"

#include <algorithm>

#include "core/json_writer.h"
#include "core/log.h"
#include "features/entity_hash.h"
#include "rollout/probe.h"

namespace fraudguard::rollout {
namespace {

constexpr size_t kMaxIntervalValues = 20'000;  // inference times kept per interval and model
constexpr size_t kMaxHistory = 50;
constexpr uint64_t kCardHashSeed = 0x726f6c6c6f7574ULL;  // any fixed value: stable across runs

}  // namespace

std::string_view RolloutPhaseName(RolloutPhase phase) {
  switch (phase) {
    case RolloutPhase::kIdle:
      return "idle";
    case RolloutPhase::kShadow:
      return "shadow";
    case RolloutPhase::kCanary:
      return "canary";
    case RolloutPhase::kPromoted:
      return "promoted";
    case RolloutPhase::kRolledBack:
      return "rolled_back";
  }
  return "idle";
}

CanaryConfig ModelRollout::ServiceJudgeConfig(const CanaryConfig& phases) {
  CanaryConfig config;
  config.confidence = phases.confidence;
  config.pass_score = phases.pass_score;
  config.marginal_score = phases.marginal_score;
  config.group_weights = {{"decisions", 60}, {"latency", 40}};
  MetricCriterion flagged;
  flagged.metric = CanaryMetric::kFlaggedRate;
  flagged.group = "decisions";
  flagged.direction = Direction::kEither;
  flagged.allowed_increase = 1.5;
  flagged.allowed_decrease = 0.67;
  flagged.min_change = 0.05;
  flagged.critical = true;
  MetricCriterion latency;
  latency.metric = CanaryMetric::kLatencyP95;
  latency.group = "latency";
  latency.direction = Direction::kIncrease;
  latency.allowed_increase = 1.5;
  latency.min_change = 0.5;  // milliseconds of model inference
  latency.critical = true;
  config.metrics = {flagged, latency};
  config.phases = phases.phases;
  return config;
}

ModelRollout::ModelRollout(Scorer& scorer,
                           CanaryConfig config,
                           MetricsRegistry& metrics,
                           const Clock& clock,
                           std::function<void(const std::string&, const std::string&)> on_swap)
    : scorer_(scorer),
      phases_config_(std::move(config)),
      judge_config_(ServiceJudgeConfig(phases_config_)),
      clock_(clock),
      on_swap_(std::move(on_swap)) {
  auto& phase_family =
      metrics.AddGauge("fraudguard_rollout_phase",
                       "1 for the model rollout's current phase, 0 for the others.", {"phase"});
  auto& transitions =
      metrics.AddCounter("fraudguard_rollout_transitions_total",
                         "Model rollout phase changes, by the phase entered.", {"phase"});
  for (size_t p = 0; p < kRolloutPhaseCount; ++p) {
    const std::string_view name = RolloutPhaseName(static_cast<RolloutPhase>(p));
    phase_gauges_[p] = &phase_family.WithLabels({name});
    phase_gauges_[p]->Set(p == 0 ? 1 : 0);
    transitions_[p] = &transitions.WithLabels({name});
  }
  canary_percent_gauge_ = &metrics
                               .AddGauge("fraudguard_rollout_canary_percent",
                                         "Share of cards served by the candidate model, percent.")
                               .WithLabels({});
  auto& decisions = metrics.AddCounter(
      "fraudguard_rollout_decisions_total",
      "Decisions taken while a candidate model is held, by model and whether it was served.",
      {"model", "served"});
  for (size_t candidate = 0; candidate < 2; ++candidate) {
    for (size_t served = 0; served < 2; ++served) {
      decisions_[candidate][served] = &decisions.WithLabels(
          {candidate == 1 ? "candidate" : "active", served == 1 ? "true" : "false"});
    }
  }
  disagreements_ = &metrics
                        .AddCounter("fraudguard_rollout_disagreements_total",
                                    "Transactions where the candidate's action differs from the "
                                    "active model's.")
                        .WithLabels({});
  controller_ = std::thread([this] { RunController(); });
}

ModelRollout::~ModelRollout() {
  {
    std::lock_guard lock(controller_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  controller_.join();
}

Status ModelRollout::Start(std::shared_ptr<const LoadedModel> candidate, RolloutTiming timing) {
  std::lock_guard lock(state_mutex_);
  if (phase_ == RolloutPhase::kShadow || phase_ == RolloutPhase::kCanary) {
    return Error{"a rollout of " + candidate_->file.version + " is in its " +
                 std::string(RolloutPhaseName(phase_)) + " phase; promote or roll it back first"};
  }
  if (phases_config_.phases.empty()) {
    return Error{"no rollout phases are configured"};
  }
  candidate_ = std::move(candidate);
  previous_.reset();
  timing_ = timing;
  active_samples_ = MetricSamples{};
  candidate_samples_ = MetricSamples{};
  last_verdict_.clear();
  last_reasons_.clear();
  history_.clear();
  Transition(
      RolloutPhase::kShadow, 0,
      "candidate " + candidate_->file.version + " loaded beside " + scorer_.model()->file.version);
  LogInfo("rollout_started")
      .Field("candidate_version", candidate_->file.version)
      .Field("active_version", scorer_.model()->file.version)
      .Field("shadow_ms", timing_.shadow_ms)
      .Field("interval_ms", timing_.interval_ms);
  wake_.notify_all();
  return OkStatus();
}

RolloutRoute ModelRollout::Route(std::string_view card_id) const {
  RolloutRoute route;
  if (!holding_.load(std::memory_order_acquire)) {
    return route;
  }
  std::lock_guard lock(state_mutex_);
  if (phase_ != RolloutPhase::kShadow && phase_ != RolloutPhase::kCanary) {
    return route;
  }
  route.candidate = candidate_;
  route.shadow = phase_ == RolloutPhase::kShadow;
  // Transactions without a card stay on the active model: there is nothing stable to split on.
  route.serve_candidate =
      phase_ == RolloutPhase::kCanary && !card_id.empty() &&
      HashString(card_id, kCardHashSeed) % 100 < static_cast<uint64_t>(canary_percent_);
  return route;
}

void ModelRollout::Record(const RolloutRoute& route,
                          const Decision& served,
                          int64_t served_inference_ns,
                          const Decision& other,
                          int64_t other_inference_ns) {
  const bool candidate_served = route.serve_candidate;
  decisions_[candidate_served ? 1 : 0][1]->Increment();
  decisions_[candidate_served ? 0 : 1][0]->Increment();
  if (served.action != other.action) {
    disagreements_->Increment();
  }
  const auto add = [](Accumulator& into, const Decision& decision, int64_t inference_ns,
                      bool answered) {
    ++into.decisions;
    into.flagged += decision.action != Action::kApprove ? 1 : 0;
    into.answered += answered ? 1 : 0;
    if (into.inference_ms.size() < kMaxIntervalValues) {
      into.inference_ms.push_back(static_cast<double>(inference_ns) / 1e6);
    }
  };
  // Both models decide every transaction, so both figures are compared on the same transactions
  // in every phase. The canary's cards are too few, and differ too much from the rest, for a
  // comparison of the two groups to mean anything about the model: the p95 of a few dozen
  // inference times is nearly their maximum, which would make any candidate look slower. What
  // the traffic split decides is which model answered, and so whose requests a phase counts.
  Accumulator& served_by = candidate_served ? candidate_interval_ : active_interval_;
  Accumulator& other_by = candidate_served ? active_interval_ : candidate_interval_;
  std::lock_guard lock(intervals_mutex_);
  add(served_by, served, served_inference_ns, true);
  add(other_by, other, other_inference_ns, route.shadow);
}

RolloutPhase ModelRollout::phase() const {
  std::lock_guard lock(state_mutex_);
  return phase_;
}

void ModelRollout::RunController() {
  std::unique_lock lock(controller_mutex_);
  while (!stopping_) {
    int64_t interval_ms = 1000;
    {
      std::lock_guard state(state_mutex_);
      if (phase_ == RolloutPhase::kShadow || phase_ == RolloutPhase::kCanary) {
        interval_ms = timing_.interval_ms;
      }
    }
    wake_.wait_for(lock, std::chrono::milliseconds(interval_ms));
    if (stopping_) {
      break;
    }
    std::lock_guard state(state_mutex_);
    if (phase_ != RolloutPhase::kShadow && phase_ != RolloutPhase::kCanary) {
      continue;
    }
    if (clock_.NowMillis() - phase_started_ms_ < interval_ms / 2) {
      continue;  // woken by Start or a transition: the interval has only just begun
    }
    CloseInterval();
    if (clock_.NowMillis() - phase_started_ms_ >= PhaseDurationMs()) {
      EndPhase();
    }
  }
}

int64_t ModelRollout::PhaseDurationMs() const {
  if (phase_ == RolloutPhase::kShadow) {
    return timing_.shadow_ms;
  }
  return timing_.phase_ms > 0 ? timing_.phase_ms
                              : phases_config_.phases[canary_phase_index_].duration_ms;
}

void ModelRollout::CloseInterval() {
  const auto close = [](Accumulator& from, MetricSamples& into, bool counts) {
    if (counts) {
      auto& values = into.values;
      values[static_cast<size_t>(CanaryMetric::kFlaggedRate)].push_back(
          static_cast<double>(from.flagged) / static_cast<double>(from.decisions));
      values[static_cast<size_t>(CanaryMetric::kLatencyP95)].push_back(
          Percentile(from.inference_ms, 0.95));
      into.requests += from.answered;
      into.p95_ms =
          std::max(into.p95_ms, values[static_cast<size_t>(CanaryMetric::kLatencyP95)].back());
    }
    from.inference_ms.clear();
    from.answered = 0;
    from.decisions = 0;
    from.flagged = 0;
  };
  std::lock_guard lock(intervals_mutex_);
  // An interval counts for both models or for neither, so that their figures stay paired: only
  // when each answered requests in it (in canary mode, when the candidate's cards had traffic).
  const bool counts = active_interval_.answered > 0 && candidate_interval_.answered > 0;
  close(active_interval_, active_samples_, counts);
  close(candidate_interval_, candidate_samples_, counts);
}

void ModelRollout::EndPhase() {
  CanaryJudgement judgement = JudgeCanary(judge_config_, active_samples_, candidate_samples_);
  const CanaryPhase& criteria =
      phases_config_.phases[phase_ == RolloutPhase::kShadow ? 0 : canary_phase_index_];
  ApplyPhaseCriteria(criteria, candidate_samples_, judgement);
  last_verdict_ = std::string(VerdictName(judgement.verdict));
  last_score_ = judgement.score;
  last_reasons_ = judgement.reasons;
  last_metrics_ = judgement.metrics;
  active_samples_ = MetricSamples{};
  candidate_samples_ = MetricSamples{};
  if (judgement.verdict != Verdict::kPass) {
    std::string reasons;
    for (const std::string& reason : judgement.reasons) {
      reasons += (reasons.empty() ? "" : "; ") + reason;
    }
    LogWarn("rollout_rolled_back")
        .Field("candidate_version", candidate_->file.version)
        .Field("phase", RolloutPhaseName(phase_))
        .Field("canary_percent", canary_percent_)
        .Field("verdict", last_verdict_)
        .Field("score", judgement.score)
        .Field("reasons", reasons);
    Transition(RolloutPhase::kRolledBack, 0, "judged " + last_verdict_ + ": " + reasons);
    candidate_.reset();
    return;
  }
  // The next phase: the first canary step after shadow, then each step, then promotion.
  size_t next = phase_ == RolloutPhase::kShadow ? 0 : canary_phase_index_ + 1;
  if (next < phases_config_.phases.size() && phases_config_.phases[next].traffic_percent < 100) {
    canary_phase_index_ = next;
    const int percent = phases_config_.phases[next].traffic_percent;
    LogInfo("rollout_phase_advanced")
        .Field("candidate_version", candidate_->file.version)
        .Field("canary_percent", percent)
        .Field("score", judgement.score);
    Transition(RolloutPhase::kCanary, percent,
               "judged pass (score " + std::to_string(static_cast<int>(judgement.score)) +
                   "): " + std::to_string(percent) + " % of cards to the candidate");
    return;
  }
  previous_ = scorer_.model();
  SwapActive(candidate_);
  LogInfo("rollout_promoted")
      .Field("model_version", candidate_->file.version)
      .Field("previous_model_version", previous_->file.version)
      .Field("score", judgement.score);
  Transition(RolloutPhase::kPromoted, 100,
             "judged pass in every phase: " + candidate_->file.version + " is active");
  candidate_.reset();
}

void ModelRollout::SwapActive(std::shared_ptr<const LoadedModel> next) {
  const std::string previous_version = scorer_.model()->file.version;
  const std::string next_version = next->file.version;
  // Scorer::SetModel is the blue/green switch: requests already running finish with the old
  // model, every later one gets the new; none waits and none fails.
  scorer_.SetModel(std::move(next));
  if (on_swap_) {
    on_swap_(previous_version, next_version);
  }
}

void ModelRollout::Transition(RolloutPhase phase, int percent, const std::string& reason) {
  phase_ = phase;
  holding_.store(phase == RolloutPhase::kShadow || phase == RolloutPhase::kCanary,
                 std::memory_order_release);
  canary_percent_ = percent;
  phase_started_ms_ = clock_.NowMillis();
  for (size_t p = 0; p < kRolloutPhaseCount; ++p) {
    phase_gauges_[p]->Set(p == static_cast<size_t>(phase) ? 1 : 0);
  }
  transitions_[static_cast<size_t>(phase)]->Increment();
  canary_percent_gauge_->Set(phase == RolloutPhase::kCanary ? percent : 0);
  history_.push_back(Event{phase_started_ms_, phase, percent, reason});
  if (history_.size() > kMaxHistory) {
    history_.pop_front();
  }
}

Status ModelRollout::Promote(const std::string& reason) {
  std::lock_guard lock(state_mutex_);
  if (phase_ != RolloutPhase::kShadow && phase_ != RolloutPhase::kCanary) {
    return Error{"no candidate to promote: the rollout is " +
                 std::string(RolloutPhaseName(phase_))};
  }
  previous_ = scorer_.model();
  SwapActive(candidate_);
  LogInfo("rollout_promoted")
      .Field("model_version", candidate_->file.version)
      .Field("previous_model_version", previous_->file.version)
      .Field("reason", reason);
  Transition(RolloutPhase::kPromoted, 100, reason);
  candidate_.reset();
  return OkStatus();
}

Status ModelRollout::Rollback(const std::string& reason) {
  std::lock_guard lock(state_mutex_);
  if (phase_ == RolloutPhase::kShadow || phase_ == RolloutPhase::kCanary) {
    LogWarn("rollout_rolled_back")
        .Field("candidate_version", candidate_->file.version)
        .Field("phase", RolloutPhaseName(phase_))
        .Field("reason", reason);
    candidate_.reset();
    Transition(RolloutPhase::kRolledBack, 0, reason);
    return OkStatus();
  }
  if (phase_ == RolloutPhase::kPromoted && previous_) {
    const std::string promoted = scorer_.model()->file.version;
    LogWarn("rollout_rolled_back")
        .Field("model_version", previous_->file.version)
        .Field("replaced_version", promoted)
        .Field("phase", "promoted")
        .Field("reason", reason);
    SwapActive(previous_);
    previous_.reset();
    Transition(RolloutPhase::kRolledBack, 0, reason + " (restored the previous model)");
    return OkStatus();
  }
  return Error{"nothing to roll back: the rollout is " + std::string(RolloutPhaseName(phase_))};
}

void ModelRollout::AppendStatusJson(std::string& out) const {
  std::lock_guard lock(state_mutex_);
  JsonWriter json(out);
  json.BeginObject()
      .Field("phase", RolloutPhaseName(phase_))
      .Field("canary_percent", phase_ == RolloutPhase::kCanary ? canary_percent_ : 0)
      .Field("active_model", scorer_.model()->file.version);
  json.Key("candidate_model");
  if (candidate_) {
    json.String(candidate_->file.version);
  } else {
    json.Null();
  }
  json.Key("previous_model");
  if (previous_) {
    json.String(previous_->file.version);
  } else {
    json.Null();
  }
  if (phase_ == RolloutPhase::kShadow || phase_ == RolloutPhase::kCanary) {
    json.Field("phase_started_ms", phase_started_ms_)
        .Field("phase_ends_ms", phase_started_ms_ + PhaseDurationMs())
        .Field("interval_ms", timing_.interval_ms);
  }
  json.Key("last_judgement");
  if (last_verdict_.empty()) {
    json.Null();
  } else {
    json.BeginObject().Field("verdict", last_verdict_).Field("score", last_score_);
    json.Key("metrics").BeginArray();
    for (const MetricJudgement& metric : last_metrics_) {
      json.BeginObject()
          .Field("name", CanaryMetricName(metric.criterion.metric))
          .Field("classification", MetricClassName(metric.classification))
          .Field("active_mean", metric.baseline_mean)
          .Field("candidate_mean", metric.canary_mean)
          .Field("p_value", metric.test.p_value)
          .EndObject();
    }
    json.EndArray().Key("reasons").BeginArray();
    for (const std::string& reason : last_reasons_) {
      json.String(reason);
    }
    json.EndArray().EndObject();
  }
  json.Key("history").BeginArray();
  for (const Event& event : history_) {
    json.BeginObject()
        .Field("at_ms", event.at_ms)
        .Field("phase", RolloutPhaseName(event.phase))
        .Field("canary_percent", event.canary_percent)
        .Field("reason", event.reason)
        .EndObject();
  }
  json.EndArray().EndObject();
}

}  // namespace fraudguard::rollout
