// Model rollout inside a running `serve`: a candidate model held beside the active one, first in
// shadow mode (it scores every transaction; its decisions are counted and compared, never
// returned), then in canary mode (a share of the traffic, chosen by a stable hash of the card so
// that a card does not flip between models), then promoted by an atomic swap of the scorer's
// model. At the end of every phase the canary judge (canary_judge.h) compares the candidate's
// interval figures with the active model's; a failing or marginal judgement rolls the candidate
// back. After a promotion the previous model is kept, so a rollback restores it the same way.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "rollout/canary_config.h"
#include "rollout/canary_judge.h"
#include "scoring/scorer.h"
#include "telemetry/metrics.h"

namespace fraudguard::rollout {

enum class RolloutPhase : uint8_t { kIdle, kShadow, kCanary, kPromoted, kRolledBack };
inline constexpr size_t kRolloutPhaseCount = 5;
std::string_view RolloutPhaseName(RolloutPhase phase);

struct RolloutTiming {
  int64_t shadow_ms = 600'000;  // 10 minutes, as long as the first canary phase
  int64_t phase_ms = 0;         // 0: each canary phase lasts as long as the configuration says
  int64_t interval_ms = 30'000;
};

// How one request is scored, decided when it starts.
struct RolloutRoute {
  std::shared_ptr<const LoadedModel> candidate;  // null: no rollout running, score as usual
  bool serve_candidate = false;
  bool shadow = false;  // both models judged on every transaction
};

class ModelRollout {
public:
  // `on_swap(previous, next)` runs after every swap of the active model (for model metrics).
  ModelRollout(Scorer& scorer,
               CanaryConfig config,
               MetricsRegistry& metrics,
               const Clock& clock,
               std::function<void(const std::string&, const std::string&)> on_swap);
  ~ModelRollout();
  ModelRollout(const ModelRollout&) = delete;
  ModelRollout& operator=(const ModelRollout&) = delete;

  // Starts shadow mode with `candidate`; an error when a rollout is already running.
  Status Start(std::shared_ptr<const LoadedModel> candidate, RolloutTiming timing);
  // The routing of one request; one atomic load without a rollout, one short lock with one.
  RolloutRoute Route(std::string_view card_id) const;
  // Counts the two decisions of a request scored with a candidate: the served one and the other,
  // with their inference times.
  void Record(const RolloutRoute& route,
              const Decision& served,
              int64_t served_inference_ns,
              const Decision& other,
              int64_t other_inference_ns);
  // Promotes the candidate now (an error when none is in shadow or canary).
  Status Promote(const std::string& reason);
  // Drops the candidate, or after a promotion restores the previous model.
  Status Rollback(const std::string& reason);

  RolloutPhase phase() const;
  void AppendStatusJson(std::string& out) const;

  // The judge settings used in the service: decisions and model latency, both critical.
  static CanaryConfig ServiceJudgeConfig(const CanaryConfig& phases);

private:
  // One interval's figures of one model: its decisions and inference times on every transaction
  // (both models decide each one while a candidate is held), and how many it answered.
  struct Accumulator {
    std::vector<double> inference_ms;  // bounded by kMaxIntervalValues
    // Requests this model answered (in shadow mode the candidate's would-be answers count).
    uint64_t answered = 0;
    uint64_t decisions = 0;
    uint64_t flagged = 0;
  };
  struct Event {
    int64_t at_ms = 0;
    RolloutPhase phase = RolloutPhase::kIdle;
    int canary_percent = 0;
    std::string reason;
  };

  void RunController();
  // Both under state_mutex_.
  void CloseInterval();
  void EndPhase();
  void Transition(RolloutPhase phase, int percent, const std::string& reason);
  void SwapActive(std::shared_ptr<const LoadedModel> next);
  int64_t PhaseDurationMs() const;

  Scorer& scorer_;
  CanaryConfig phases_config_;
  CanaryConfig judge_config_;
  const Clock& clock_;
  std::function<void(const std::string&, const std::string&)> on_swap_;

  mutable std::mutex state_mutex_;
  // True in shadow and canary: lets Route skip the lock on every request when no candidate is
  // held, which is nearly always.
  std::atomic<bool> holding_{false};
  RolloutPhase phase_ = RolloutPhase::kIdle;
  int canary_percent_ = 0;
  size_t canary_phase_index_ = 0;  // into phases_config_.phases while in canary
  int64_t phase_started_ms_ = 0;
  RolloutTiming timing_;
  std::shared_ptr<const LoadedModel> candidate_;
  std::shared_ptr<const LoadedModel> previous_;  // after a promotion, for rollback
  MetricSamples active_samples_;
  MetricSamples candidate_samples_;
  std::string last_verdict_;
  double last_score_ = 0;
  std::vector<std::string> last_reasons_;
  std::vector<MetricJudgement> last_metrics_;
  std::deque<Event> history_;

  // One lock for both models' intervals, so that a transaction's two decisions always land in
  // the same interval and the flagged rates compare the same transactions.
  std::mutex intervals_mutex_;
  Accumulator active_interval_;
  Accumulator candidate_interval_;

  std::mutex controller_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread controller_;

  std::array<Gauge*, kRolloutPhaseCount> phase_gauges_{};
  Gauge* canary_percent_gauge_;
  // [candidate?][served?]
  std::array<std::array<Counter*, 2>, 2> decisions_{};
  Counter* disagreements_;
  std::array<Counter*, kRolloutPhaseCount> transitions_{};
};

}  // namespace fraudguard::rollout
