// The HTTP face of FraudGuard: routing, authentication, request decoding, metrics, and the
// glue from a decoded transaction to the scorer, the feature log and the decision log.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/feedback_codec.h"
#include "api/http_server.h"
#include "api/transaction_codec.h"
#include "capacity/capacity_view.h"
#include "config/serve_config.h"
#include "evaluation/accuracy_tracker.h"
#include "evaluation/drift.h"
#include "features/feature_store.h"
#include "incidents/alert_evaluator.h"
#include "incidents/incident_engine.h"
#include "incidents/notifier.h"
#include "rollout/model_rollout.h"
#include "scoring/scorer.h"
#include "security/api_keys.h"
#include "slo/sli_recorder.h"
#include "slo/slo_tracker.h"
#include "storage/decision_log.h"
#include "storage/label_store.h"
#include "telemetry/metrics.h"

namespace fraudguard {

// Routes with a bounded set of names, so the route label of a metric cannot grow without limit.
enum class Route : uint8_t {
  kHealth,
  kReady,
  kMetrics,
  kApiHealth,
  kAnalyze,
  kAnalyzeBatch,
  kDecision,
  kFeatures,
  kAdminReload,
  kSlo,
  kSloByName,
  kFeedback,
  kRolloutStatus,
  kRolloutStart,
  kRolloutPromote,
  kRolloutRollback,
  kIncidents,
  kIncident,
  kIncidentAction,
  kAlerts,
  kAlertmanager,
  kNotifications,
  kHistory,  // the dashboard's traffic series over an hour, a day or a week
  kCapacity,
  kDashboard,  // the operations page and its files, /dashboard[/...]
  kUnknown,
};
inline constexpr size_t kRouteCount = static_cast<size_t>(Route::kUnknown) + 1;

struct ServiceDependencies {
  const ServeConfig* config = nullptr;
  Scorer* scorer = nullptr;
  FeatureStore* features = nullptr;
  DecisionLog* decisions = nullptr;
  const ApiKeyStore* keys = nullptr;  // null: authentication is off (loopback only)
  MetricsRegistry* metrics = nullptr;
  const Clock* clock = nullptr;
  // Both null: SLOs are not tracked and /api/v1/slo answers 503.
  SliRecorder* sli = nullptr;  // fed every answered request; its routes are RouteLabels()
  SloTracker* slo = nullptr;
  // Reloads the model and the rules; the new ones replace the old only when they check out.
  std::function<Status()> reload;
  // Both null: POST /api/v1/fraud/feedback answers 503. Labels join the decision log by id.
  LabelStore* labels = nullptr;
  AccuracyTracker* accuracy = nullptr;  // fed every new label
  DriftMonitor* drift = nullptr;        // fed every scored transaction; optional
  // The decisions of the model that did not serve, while a rollout holds a candidate (shadow or
  // canary); a DecisionLog of its own so the served decisions' table stays one row per id.
  // Optional: null drops them.
  DecisionLog* other_model_decisions = nullptr;
  // Both null: the rollout routes answer 503. `load_candidate` loads a model file by its name in
  // the directory of the configured model (never an arbitrary path).
  rollout::ModelRollout* rollout = nullptr;
  std::function<Result<std::shared_ptr<const LoadedModel>>(const std::string&)> load_candidate;
  // Null: the incident routes answer 503.
  IncidentEngine* incidents = nullptr;
  const Notifier* notifier = nullptr;  // null: /api/v1/notifications answers 503
  // Null: GET /api/v1/capacity answers 503. Reads the same SLI store as `sli`.
  capacity::CapacityView* capacity = nullptr;
};

class FraudService final : public http::RequestHandler {
public:
  FraudService(ServiceDependencies dependencies, int workers);

  void Handle(const http::Request& request, http::Response& response, int worker) override;
  void BeforeSend(int worker) override;
  void OnProtocolError(int status, int worker) override;

  // /ready answers 503 until MarkReady and again once draining starts.
  void MarkReady() { ready_.store(true); }
  void StartDraining() { draining_.store(true); }
  // The built-in alert evaluator, for GET /api/v1/alerts (made after the service, as it
  // measures the server's connections).
  void SetAlertEvaluator(const AlertEvaluator* alerts) { alerts_.store(alerts); }

private:
  struct alignas(64) WorkerState {
    explicit WorkerState(TransactionLimits limits) : decoder(limits) {}
    TransactionDecoder decoder;
    FeedbackDecoder feedback_decoder;
    Transaction transaction;
    std::vector<Transaction> batch;
    Decision decision;
    Decision other_decision;          // the decision not served, while a candidate model is held
    std::string other_decision_json;  // its response body, for the other-model decision log
    bool journal_failing = false;     // the last crash journal write failed
  };

  void Dispatch(Route route, const http::Request& request, http::Response& response, int worker);
  // Checks the caller's key for `role`; on failure fills a 401 or 403 response.
  // `actor`, when given, receives the key's name ("anonymous" without authentication).
  bool Authorize(const http::Request& request,
                 Role role,
                 http::Response& response,
                 std::string* actor = nullptr);
  void HandleAnalyze(const http::Request& request, http::Response& response, int worker);
  void HandleAnalyzeBatch(const http::Request& request, http::Response& response, int worker);
  void HandleDecision(const http::Request& request, http::Response& response);
  void HandleFeatures(const http::Request& request, http::Response& response);
  void HandleApiHealth(http::Response& response);
  void HandleReload(http::Response& response);
  void HandleSlo(Route route, const http::Request& request, http::Response& response);
  void HandleFeedback(const http::Request& request, http::Response& response, int worker);
  void HandleRollout(Route route, const http::Request& request, http::Response& response);
  void HandleIncidents(Route route, const http::Request& request, http::Response& response);
  void HandleIncidentAction(const http::Request& request, http::Response& response);
  void HandleAlerts(http::Response& response);
  void HandleAlertmanager(const http::Request& request, http::Response& response);
  void HandleNotifications(const http::Request& request, http::Response& response);
  void HandleHistory(const http::Request& request, http::Response& response);
  void HandleCapacity(const http::Request& request, http::Response& response);
  // Scores one decoded transaction, records it and appends its JSON to `out`.
  bool ScoreAndRecord(const Transaction& txn, int worker, std::string& out);
  // Stores what the rollout's non-serving model decided for `txn` (never returned to the caller).
  void RecordOtherModelDecision(const Transaction& txn,
                                const Decision& other,
                                int64_t decided_ms,
                                WorkerState& state);
  void CountRequest(Route route, int status, double seconds);
  // The test-only faults of ServeConfig: waits the added latency, and true (with a 500 filled
  // in) when this request is one of the share to fail.
  bool InjectTestingFault(http::Response& response);
  // What GET /ready answers, from the ready and draining flags and the feature store's state.
  enum class Readiness : uint8_t { kReady, kStarting, kDraining, kFeatureLogBacklogFull };
  Readiness CurrentReadiness() const;
  static std::string_view ReadinessJson(Readiness readiness);

  ServiceDependencies deps_;
  int64_t started_ms_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  std::atomic<const AlertEvaluator*> alerts_{nullptr};
  std::vector<std::unique_ptr<WorkerState>> workers_;

  Family<Counter>* requests_total_;
  std::array<Histogram*, kRouteCount> request_duration_{};
  // Counters per route and status, filled on first use so the request path takes no lock.
  std::array<std::array<std::atomic<Counter*>, 600>, kRouteCount> request_counters_{};
  Histogram* inference_time_;
  Histogram* decision_time_;
  Counter* transactions_total_;
  Family<Counter>* amount_total_;
  std::array<std::array<Counter*, 3>, 3> decisions_total_{};  // [level][action]
  Family<Counter>* auth_failures_;
  Counter* decision_log_full_;
  Counter* feature_commit_errors_;
  Counter* decision_journal_errors_;
  Family<Counter>* feedback_total_;
  Counter* label_store_errors_;
  Counter* other_model_decisions_dropped_;
  Gauge* ready_gauge_;
  Counter* injected_faults_;
  Counter* capacity_forecasts_;
  Counter* capacity_errors_;
  std::atomic<bool> capacity_failing_{false};  // logged once per streak of failed forecasts
  std::atomic<uint64_t> fault_requests_{0};    // scoring requests seen while faults are on
};

std::string_view RouteName(Route route);
// Every route label, indexed by Route (the SLI recorder's route list).
std::vector<std::string> RouteLabels();

}  // namespace fraudguard
