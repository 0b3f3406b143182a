#include "api/fraud_service.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "api/alertmanager_codec.h"
#include "api/capacity_codec.h"
#include "api/history_codec.h"
#include "api/incident_codec.h"
#include "api/query_string.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "dashboard/static_files.h"

namespace fraudguard {
namespace {

// Room reserved in the decision log for a request's decisions; what the request did not use
// (it failed, or threw and was answered 500) is given back when it ends.
class DecisionRoom {
public:
  DecisionRoom(DecisionLog& log, size_t count) : log_(log), held_(log.Reserve(count) ? count : 0) {}
  ~DecisionRoom() {
    if (held_ > 0) {
      log_.Unreserve(held_);
    }
  }
  DecisionRoom(const DecisionRoom&) = delete;
  DecisionRoom& operator=(const DecisionRoom&) = delete;
  DecisionRoom(DecisionRoom&&) = delete;
  DecisionRoom& operator=(DecisionRoom&&) = delete;

  bool held() const { return held_ > 0; }
  void Used() { --held_; }

private:
  DecisionLog& log_;
  size_t held_;
};

constexpr std::string_view kJob = "fraud-api";
constexpr std::string_view kDecisionPrefix = "/api/v1/fraud/decisions/";
constexpr std::string_view kFeaturesPrefix = "/api/v1/features/";
constexpr std::string_view kSloPrefix = "/api/v1/slo/";
constexpr std::string_view kIncidentPrefix = "/api/v1/incidents/";
constexpr size_t kMaxIncidentsListed = 1000;

// Exact paths first; the two prefixed routes are matched after.
Route MatchRoute(std::string_view path) {
  if (path == "/api/v1/fraud/analyze") {
    return Route::kAnalyze;
  }
  if (path == "/api/v1/fraud/analyze/batch") {
    return Route::kAnalyzeBatch;
  }
  if (path == "/health") {
    return Route::kHealth;
  }
  if (path == "/ready") {
    return Route::kReady;
  }
  if (path == "/metrics") {
    return Route::kMetrics;
  }
  if (path == "/api/v1/health") {
    return Route::kApiHealth;
  }
  if (path == "/api/v1/admin/reload") {
    return Route::kAdminReload;
  }
  if (path == "/api/v1/fraud/feedback") {
    return Route::kFeedback;
  }
  if (path == "/api/v1/slo") {
    return Route::kSlo;
  }
  if (path == "/api/v1/rollout") {
    return Route::kRolloutStatus;
  }
  if (path == "/api/v1/admin/rollout") {
    return Route::kRolloutStart;
  }
  if (path == "/api/v1/admin/rollout/promote") {
    return Route::kRolloutPromote;
  }
  if (path == "/api/v1/admin/rollout/rollback") {
    return Route::kRolloutRollback;
  }
  if (path == "/api/v1/incidents") {
    return Route::kIncidents;
  }
  if (path == "/api/v1/alerts") {
    return Route::kAlerts;
  }
  if (path == "/api/v1/alerts/alertmanager") {
    return Route::kAlertmanager;
  }
  if (path == "/api/v1/notifications") {
    return Route::kNotifications;
  }
  if (path == "/api/v1/history") {
    return Route::kHistory;
  }
  if (path == "/api/v1/capacity") {
    return Route::kCapacity;
  }
  if (dashboard::IsDashboardPath(path)) {
    return Route::kDashboard;
  }
  if (path.size() > kIncidentPrefix.size() && path.rfind(kIncidentPrefix, 0) == 0) {
    return path.find('/', kIncidentPrefix.size()) == std::string_view::npos
               ? Route::kIncident
               : Route::kIncidentAction;
  }
  if (path.size() > kSloPrefix.size() && path.rfind(kSloPrefix, 0) == 0) {
    return Route::kSloByName;
  }
  if (path.size() > kDecisionPrefix.size() && path.rfind(kDecisionPrefix, 0) == 0) {
    return Route::kDecision;
  }
  if (path.size() > kFeaturesPrefix.size() && path.rfind(kFeaturesPrefix, 0) == 0) {
    return Route::kFeatures;
  }
  return Route::kUnknown;
}

std::string_view RouteMethod(Route route) {
  switch (route) {
    case Route::kAnalyze:
    case Route::kAnalyzeBatch:
    case Route::kAdminReload:
    case Route::kFeedback:
    case Route::kRolloutStart:
    case Route::kRolloutPromote:
    case Route::kRolloutRollback:
    case Route::kIncidentAction:
    case Route::kAlertmanager:
      return "POST";
    case Route::kIncidents:
      return "GET, POST";
    default:
      return "GET";
  }
}

bool RouteAccepts(Route route, std::string_view method) {
  if (route == Route::kIncidents) {
    return method == "GET" || method == "POST";
  }
  return method == RouteMethod(route);
}

// The value of `key` in a query string such as "state=open&limit=10"; empty when absent.
std::string_view QueryValue(std::string_view query, std::string_view key) {
  for (const QueryParameter& parameter : SplitQuery(query)) {
    if (parameter.name == key) {
      return parameter.value;
    }
  }
  return {};
}

// Decodes %XX escapes in a path segment; false on a malformed escape.
bool PercentDecode(std::string_view text, std::string& out) {
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return false;
    }
    const auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') {
        return c - '0';
      }
      if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
      }
      if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
      }
      return -1;
    };
    const int high = hex(text[i + 1]);
    const int low = hex(text[i + 2]);
    if (high < 0 || low < 0) {
      return false;
    }
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return true;
}

}  // namespace

std::string_view RouteName(Route route) {
  switch (route) {
    case Route::kHealth:
      return "/health";
    case Route::kReady:
      return "/ready";
    case Route::kMetrics:
      return "/metrics";
    case Route::kApiHealth:
      return "/api/v1/health";
    case Route::kAnalyze:
      return "/api/v1/fraud/analyze";
    case Route::kAnalyzeBatch:
      return "/api/v1/fraud/analyze/batch";
    case Route::kDecision:
      return "/api/v1/fraud/decisions/{transaction_id}";
    case Route::kFeatures:
      return "/api/v1/features/{entity}/{id}";
    case Route::kAdminReload:
      return "/api/v1/admin/reload";
    case Route::kSlo:
      return "/api/v1/slo";
    case Route::kSloByName:
      return "/api/v1/slo/{name}";
    case Route::kFeedback:
      return "/api/v1/fraud/feedback";
    case Route::kRolloutStatus:
      return "/api/v1/rollout";
    case Route::kRolloutStart:
      return "/api/v1/admin/rollout";
    case Route::kRolloutPromote:
      return "/api/v1/admin/rollout/promote";
    case Route::kRolloutRollback:
      return "/api/v1/admin/rollout/rollback";
    case Route::kIncidents:
      return "/api/v1/incidents";
    case Route::kIncident:
      return "/api/v1/incidents/{id}";
    case Route::kIncidentAction:
      return "/api/v1/incidents/{id}/{action}";
    case Route::kAlerts:
      return "/api/v1/alerts";
    case Route::kAlertmanager:
      return "/api/v1/alerts/alertmanager";
    case Route::kNotifications:
      return "/api/v1/notifications";
    case Route::kHistory:
      return "/api/v1/history";
    case Route::kCapacity:
      return "/api/v1/capacity";
    case Route::kDashboard:
      return "/dashboard";
    case Route::kUnknown:
      return "other";
  }
  return "other";
}

std::vector<std::string> RouteLabels() {
  std::vector<std::string> labels;
  for (size_t r = 0; r < kRouteCount; ++r) {
    labels.emplace_back(RouteName(static_cast<Route>(r)));
  }
  return labels;
}

FraudService::FraudService(ServiceDependencies dependencies, int workers)
    : deps_(std::move(dependencies)), started_ms_(deps_.clock->NowMillis()) {
  TransactionLimits limits;
  limits.max_amount = deps_.config->max_amount;
  limits.max_batch_items = static_cast<size_t>(deps_.config->max_batch_items);
  for (int i = 0; i < workers; ++i) {
    workers_.push_back(std::make_unique<WorkerState>(limits));
  }

  MetricsRegistry& metrics = *deps_.metrics;
  requests_total_ = &metrics.AddCounter("http_requests_total", "HTTP requests answered.",
                                        {"job", "route", "status"});
  auto& durations = metrics.AddHistogram(
      "http_request_duration_seconds", "Time from a complete request to its response being ready.",
      LatencyBucketsSeconds(), {"job", "route"});
  for (size_t r = 0; r < kRouteCount; ++r) {
    request_duration_[r] = &durations.WithLabels({kJob, RouteName(static_cast<Route>(r))});
  }
  inference_time_ = &metrics
                         .AddHistogram("model_inference_time",
                                       "Model evaluation time per transaction, in seconds.",
                                       LatencyBucketsSeconds())
                         .WithLabels({});
  decision_time_ = &metrics
                        .AddHistogram("fraudguard_decision_time_seconds",
                                      "Server time per decision (features, model, rules).",
                                      LatencyBucketsSeconds())
                        .WithLabels({});
  transactions_total_ =
      &metrics
           .AddCounter("transaction_volume_total", "Transactions scored since the process started.")
           .WithLabels({});
  amount_total_ = &metrics.AddCounter("transaction_amount_total",
                                      "Sum of the amounts scored, by currency.", {"currency"});
  auto& decisions =
      metrics.AddCounter("fraudguard_decisions_total", "Decisions by risk level and action.",
                         {"risk_level", "action"});
  for (size_t level = 0; level < 3; ++level) {
    for (size_t action = 0; action < 3; ++action) {
      decisions_total_[level][action] = &decisions.WithLabels(
          {RiskLevelName(static_cast<RiskLevel>(level)), ActionName(static_cast<Action>(action))});
    }
  }
  auth_failures_ = &metrics.AddCounter(
      "fraudguard_auth_failures_total",
      "Requests refused for a missing or wrong key, or a key without the role.", {"reason"});
  decision_log_full_ = &metrics
                            .AddCounter("fraudguard_decision_log_rejected_total",
                                        "Decisions refused because the decision log queue was "
                                        "full or closing (answered 503).")
                            .WithLabels({});
  feature_commit_errors_ = &metrics
                                .AddCounter("fraudguard_feature_log_errors_total",
                                            "Failed writes of the feature state log.")
                                .WithLabels({});
  decision_journal_errors_ =
      &metrics
           .AddCounter("fraudguard_decision_journal_errors_total",
                       "Failed writes of the decision log's crash journal (answers still sent).")
           .WithLabels({});
  feedback_total_ = &metrics.AddCounter(
      "fraudguard_feedback_labels_total",
      "Feedback labels answered, by outcome: stored, duplicate (same label again), conflict.",
      {"outcome"});
  other_model_decisions_dropped_ =
      &metrics
           .AddCounter("fraudguard_other_model_decisions_dropped_total",
                       "Decisions of a rollout's non-serving model not recorded because their log "
                       "was full or closing (the answers are unaffected).")
           .WithLabels({});
  label_store_errors_ = &metrics
                             .AddCounter("fraudguard_label_store_errors_total",
                                         "Feedback labels that could not be read or stored "
                                         "(answered 503).")
                             .WithLabels({});
  ready_gauge_ =
      &metrics.AddGauge("fraudguard_ready", "1 when the service accepts traffic.").WithLabels({});
  injected_faults_ = &metrics
                          .AddCounter("fraudguard_testing_injected_faults_total",
                                      "Scoring requests failed on purpose by the test-only "
                                      "--testing-error-ratio setting (0 in production).")
                          .WithLabels({});
  capacity_forecasts_ = &metrics
                             .AddCounter("fraudguard_capacity_forecasts_total",
                                         "Capacity forecasts computed for GET /api/v1/capacity "
                                         "(answers from its cache are not counted).")
                             .WithLabels({});
  capacity_errors_ = &metrics
                          .AddCounter("fraudguard_capacity_errors_total",
                                      "Capacity forecasts that failed (answered 503).")
                          .WithLabels({});
  // 0 when the capacity view has no per-replica figure and so no recommendation.
  metrics
      .AddGauge("fraudguard_capacity_replica_capacity_known",
                "1 when GET /api/v1/capacity has a per-replica request rate to recommend with.")
      .WithLabels({})
      .Set(deps_.capacity != nullptr && deps_.capacity->settings().replica.requests_per_second > 0
               ? 1
               : 0);
  metrics
      .AddGauge("fraudguard_testing_faults_enabled",
                "1 when a test-only fault setting (--testing-*) is on; must be 0 in production.")
      .WithLabels({})
      .Set(deps_.config->testing_added_latency_ms > 0 || deps_.config->testing_error_ratio > 0 ? 1
                                                                                               : 0);
}

bool FraudService::InjectTestingFault(http::Response& response) {
  const ServeConfig& config = *deps_.config;
  if (config.testing_added_latency_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(config.testing_added_latency_ms));
  }
  if (config.testing_error_ratio <= 0) {
    return false;
  }
  // Deterministic spread: request n fails when n * ratio crosses an integer, so that any run of
  // requests fails the configured share, give or take one.
  const uint64_t n = fault_requests_.fetch_add(1, std::memory_order_relaxed);
  const auto before = static_cast<uint64_t>(static_cast<double>(n) * config.testing_error_ratio);
  const auto after = static_cast<uint64_t>(static_cast<double>(n + 1) * config.testing_error_ratio);
  if (after == before) {
    return false;
  }
  injected_faults_->Increment();
  http::SetJsonError(response, 500, "injected_fault",
                     "failed on purpose by the test-only --testing-error-ratio setting");
  return true;
}

void FraudService::CountRequest(Route route, int status, double seconds) {
  const auto r = static_cast<size_t>(route);
  const auto s = static_cast<size_t>(status >= 100 && status < 600 ? status : 599);
  Counter* counter = request_counters_[r][s].load(std::memory_order_acquire);
  if (counter == nullptr) {
    const std::string status_text = std::to_string(s);
    counter = &requests_total_->WithLabels({kJob, RouteName(route), status_text});
    request_counters_[r][s].store(counter, std::memory_order_release);
  }
  counter->Increment();
  request_duration_[r]->Observe(seconds);
  if (deps_.sli != nullptr) {
    deps_.sli->Record(r, static_cast<int>(s), seconds);
  }
}

void FraudService::Handle(const http::Request& request, http::Response& response, int worker) {
  const int64_t start_ns = MonotonicNanos();
  const Route route = MatchRoute(request.path);
  if (route == Route::kUnknown) {
    http::SetJsonError(response, 404, "not_found",
                       "no route " + std::string(request.path) + "; see docs/api.md");
  } else if (!RouteAccepts(route, request.method)) {
    http::SetJsonError(
        response, 405, "method_not_allowed",
        std::string(RouteName(route)) + " accepts " + std::string(RouteMethod(route)) + " only");
    response.headers.emplace_back("Allow", std::string(RouteMethod(route)));
  } else {
    Dispatch(route, request, response, worker);
  }
  CountRequest(route, response.status, static_cast<double>(MonotonicNanos() - start_ns) / 1e9);
}

FraudService::Readiness FraudService::CurrentReadiness() const {
  if (draining_.load()) {
    return Readiness::kDraining;
  }
  if (!ready_.load()) {
    return Readiness::kStarting;
  }
  // A full feature log means updates are no longer durable: a balancer should send the traffic
  // to an instance that can keep it.
  return deps_.features->log_backlog_full() ? Readiness::kFeatureLogBacklogFull : Readiness::kReady;
}

std::string_view FraudService::ReadinessJson(Readiness readiness) {
  switch (readiness) {
    case Readiness::kReady:
      return R"({"status":"ready"})";
    case Readiness::kStarting:
      return R"({"status":"starting"})";
    case Readiness::kDraining:
      return R"({"status":"draining"})";
    case Readiness::kFeatureLogBacklogFull:
      return R"({"status":"degraded","reason":"feature_log_backlog_full"})";
  }
  return R"({"status":"starting"})";
}

void FraudService::Dispatch(Route route,
                            const http::Request& request,
                            http::Response& response,
                            int worker) {
  switch (route) {
    case Route::kHealth:
      response.body = R"({"status":"alive"})";
      return;
    case Route::kReady: {
      const Readiness readiness = CurrentReadiness();
      response.status = readiness == Readiness::kReady ? 200 : 503;
      response.body = ReadinessJson(readiness);
      return;
    }
    case Route::kMetrics:
      ready_gauge_->Set(CurrentReadiness() == Readiness::kReady ? 1 : 0);
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      deps_.metrics->Render(response.body);
      return;
    case Route::kApiHealth:
      HandleApiHealth(response);
      return;
    case Route::kAnalyze:
      if (Authorize(request, Role::kScore, response) && !InjectTestingFault(response)) {
        HandleAnalyze(request, response, worker);
      }
      return;
    case Route::kAnalyzeBatch:
      if (Authorize(request, Role::kScore, response) && !InjectTestingFault(response)) {
        HandleAnalyzeBatch(request, response, worker);
      }
      return;
    case Route::kDecision:
      if (Authorize(request, Role::kRead, response)) {
        HandleDecision(request, response);
      }
      return;
    case Route::kFeatures:
      if (Authorize(request, Role::kRead, response)) {
        HandleFeatures(request, response);
      }
      return;
    case Route::kAdminReload:
      if (Authorize(request, Role::kAdmin, response)) {
        HandleReload(response);
      }
      return;
    case Route::kSlo:
    case Route::kSloByName:
      if (Authorize(request, Role::kRead, response)) {
        HandleSlo(route, request, response);
      }
      return;
    case Route::kFeedback:
      // A label changes stored state and the accuracy figures, so like every other write it
      // needs the admin role; a key for a chargeback feed can carry admin alone.
      if (Authorize(request, Role::kAdmin, response)) {
        HandleFeedback(request, response, worker);
      }
      return;
    case Route::kRolloutStatus:
      if (Authorize(request, Role::kRead, response)) {
        HandleRollout(route, request, response);
      }
      return;
    case Route::kRolloutStart:
    case Route::kRolloutPromote:
    case Route::kRolloutRollback:
      if (Authorize(request, Role::kAdmin, response)) {
        HandleRollout(route, request, response);
      }
      return;
    case Route::kIncidents:
    case Route::kIncident:
      HandleIncidents(route, request, response);
      return;
    case Route::kIncidentAction:
      HandleIncidentAction(request, response);
      return;
    case Route::kAlerts:
      if (Authorize(request, Role::kRead, response)) {
        HandleAlerts(response);
      }
      return;
    case Route::kAlertmanager:
      // Alerts open incidents: a write, so the admin role (Alertmanager sends the key as a
      // bearer token, see deploy/alertmanager.yml).
      if (Authorize(request, Role::kAdmin, response)) {
        HandleAlertmanager(request, response);
      }
      return;
    case Route::kNotifications:
      if (Authorize(request, Role::kRead, response)) {
        HandleNotifications(request, response);
      }
      return;
    case Route::kHistory:
      if (Authorize(request, Role::kRead, response)) {
        HandleHistory(request, response);
      }
      return;
    case Route::kCapacity:
      if (Authorize(request, Role::kRead, response)) {
        HandleCapacity(request, response);
      }
      return;
    case Route::kDashboard:
      // The page and its files hold no data (the page reads the API with the visitor's key),
      // so they need no key, like /metrics.
      dashboard::ServeDashboardFile(request.path, response);
      return;
    case Route::kUnknown:
      return;
  }
}

bool FraudService::Authorize(const http::Request& request,
                             Role role,
                             http::Response& response,
                             std::string* actor) {
  if (deps_.keys == nullptr) {
    if (actor != nullptr) {
      *actor = "anonymous";
    }
    return true;
  }
  std::string_view key = request.GetHeader("X-API-Key");
  if (key.empty()) {
    const std::string_view authorization = request.GetHeader("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.size() > kBearer.size() &&
        http::EqualsIgnoreCase(authorization.substr(0, kBearer.size()), kBearer)) {
      key = authorization.substr(kBearer.size());
    }
  }
  if (key.empty()) {
    auth_failures_->WithLabels({"missing"}).Increment();
    http::SetJsonError(response, 401, "unauthenticated", "send an API key in the X-API-Key header");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return false;
  }
  const auto principal = deps_.keys->Authenticate(key);
  if (!principal) {
    auth_failures_->WithLabels({"invalid"}).Increment();
    http::SetJsonError(response, 401, "unauthenticated", "the API key is not valid");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return false;
  }
  if (!principal->Has(role)) {
    auth_failures_->WithLabels({"forbidden"}).Increment();
    const char* role_name = role == Role::kAdmin ? "admin" : role == Role::kRead ? "read" : "score";
    http::SetJsonError(response, 403, "forbidden",
                       "the key '" + principal->name + "' lacks the " + role_name + " role");
    return false;
  }
  if (actor != nullptr) {
    *actor = principal->name;
  }
  return true;
}

namespace {

// The decision log's row for `decision` on `txn`, with the response body it was answered with.
DecisionRecord RecordOf(const Transaction& txn,
                        const Decision& decision,
                        int64_t decided_ms,
                        std::string response_json) {
  DecisionRecord record;
  record.transaction_id = txn.transaction_id;
  record.timestamp_ms = txn.timestamp_ms;
  record.decided_ms = decided_ms;
  record.amount = txn.amount;
  record.currency = txn.currency;
  record.card_id = txn.card_id;
  record.customer_id = txn.customer_id;
  record.merchant_id = txn.merchant_id;
  record.risk_score = decision.risk_score;
  record.risk_level = RiskLevelName(decision.level);
  record.action = ActionName(decision.action);
  record.model_version = decision.model_version;
  record.server_time_us = decision.server_time_us;
  record.response_json = std::move(response_json);
  return record;
}

}  // namespace

bool FraudService::ScoreAndRecord(const Transaction& txn, int worker, std::string& out) {
  WorkerState& state = *workers_[static_cast<size_t>(worker)];
  Decision& decision = state.decision;
  const rollout::RolloutRoute rollout_route =
      deps_.rollout != nullptr ? deps_.rollout->Route(txn.card_id) : rollout::RolloutRoute{};
  if (rollout_route.candidate) {
    deps_.scorer->ScoreWithCandidate(txn, worker, *rollout_route.candidate,
                                     rollout_route.serve_candidate, decision, state.other_decision);
    deps_.rollout->Record(rollout_route, decision, deps_.scorer->last_inference_ns(worker),
                          state.other_decision, deps_.scorer->last_other_inference_ns(worker));
  } else {
    deps_.scorer->Score(txn, worker, decision);
  }

  const size_t json_start = out.size();
  AppendDecisionJson(decision, out);

  const int64_t decided_ms = deps_.clock->NowMillis();
  DecisionRecord record = RecordOf(txn, decision, decided_ms, out.substr(json_start));
  if (!deps_.decisions->AppendReserved(std::move(record), worker)) {
    decision_log_full_->Increment();  // only when the log closed under us, during shutdown
    return false;
  }

  if (rollout_route.candidate != nullptr && deps_.other_model_decisions != nullptr) {
    RecordOtherModelDecision(txn, state.other_decision, decided_ms, state);
  }
  if (deps_.drift != nullptr) {
    // Drift is measured for the active model, against its reference, whichever model served.
    const Decision& active = rollout_route.candidate != nullptr && rollout_route.serve_candidate
                                 ? state.other_decision
                                 : decision;
    deps_.drift->Observe(worker, active.risk_score, deps_.scorer->last_features(worker),
                         decided_ms);
  }
  transactions_total_->Increment();
  amount_total_->WithLabels({txn.currency.empty() ? std::string_view("unknown") : txn.currency})
      .Increment(txn.amount);
  decisions_total_[static_cast<size_t>(decision.level)][static_cast<size_t>(decision.action)]
      ->Increment();
  inference_time_->Observe(static_cast<double>(deps_.scorer->last_inference_ns(worker)) / 1e9);
  decision_time_->Observe(static_cast<double>(decision.server_time_us) / 1e6);
  return true;
}

void FraudService::RecordOtherModelDecision(const Transaction& txn,
                                            const Decision& other,
                                            int64_t decided_ms,
                                            WorkerState& state) {
  state.other_decision_json.clear();
  AppendDecisionJson(other, state.other_decision_json);
  DecisionRecord record = RecordOf(txn, other, decided_ms, state.other_decision_json);
  // Not reserved: when this log is full the served answer still goes out, and the loss counts.
  if (!deps_.other_model_decisions->Append(std::move(record))) {
    other_model_decisions_dropped_->Increment();
  }
}

void FraudService::HandleAnalyze(const http::Request& request,
                                 http::Response& response,
                                 int worker) {
  WorkerState& state = *workers_[static_cast<size_t>(worker)];
  RequestError error;
  if (!state.decoder.DecodeOne(request.body, deps_.clock->NowMillis(), state.transaction, error)) {
    http::SetJsonError(response, 400, error.code, error.message, error.field);
    return;
  }
  // Room in the decision log is held before scoring: scoring changes the feature state, so a
  // transaction refused afterwards would count twice in its windows when the caller retries.
  // The log itself writes one line when it fills and one when it recovers.
  DecisionRoom room(*deps_.decisions, 1);
  if (!room.held()) {
    decision_log_full_->Increment();
    http::SetJsonError(response, 503, "decision_log_full",
                       "the decision log cannot keep up; nothing was scored, retry shortly");
    return;
  }
  const bool recorded = ScoreAndRecord(state.transaction, worker, response.body);
  room.Used();  // AppendReserved took the room, whether or not it succeeded
  if (!recorded) {
    response.body.clear();
    http::SetJsonError(response, 503, "decision_log_closed", "the service is shutting down");
  }
}

void FraudService::HandleAnalyzeBatch(const http::Request& request,
                                      http::Response& response,
                                      int worker) {
  WorkerState& state = *workers_[static_cast<size_t>(worker)];
  RequestError error;
  if (!state.decoder.DecodeBatch(request.body, deps_.clock->NowMillis(), state.batch, error)) {
    http::SetJsonError(response, error.code == "too_many_items" ? 413 : 400, error.code,
                       error.message, error.field);
    return;
  }
  const size_t capacity = deps_.decisions->queue_capacity();
  if (state.batch.size() > capacity) {
    // Could never be reserved whole, however idle the log: not worth a retry.
    http::SetJsonError(response, 413, "too_many_items",
                       "a batch holds at most " + std::to_string(capacity) +
                           " transactions with this decision log queue",
                       "transactions");
    return;
  }
  // All or nothing: room for every decision of the batch is held before any is scored.
  DecisionRoom room(*deps_.decisions, state.batch.size());
  if (!room.held()) {
    decision_log_full_->Increment(static_cast<double>(state.batch.size()));
    http::SetJsonError(response, 503, "decision_log_full",
                       "the decision log cannot keep up; nothing was scored, retry shortly");
    return;
  }
  std::string& out = response.body;
  out = R"({"results":[)";
  for (size_t i = 0; i < state.batch.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    const bool recorded = ScoreAndRecord(state.batch[i], worker, out);
    room.Used();
    if (!recorded) {
      // Only a log closing during shutdown refuses reserved room.
      out.clear();
      http::SetJsonError(response, 503, "decision_log_closed",
                         "the service is shutting down; transactions from index " +
                             std::to_string(i) + " on were not recorded");
      return;
    }
  }
  out += "]}";
}

void FraudService::HandleDecision(const http::Request& request, http::Response& response) {
  std::string transaction_id;
  if (!PercentDecode(request.path.substr(kDecisionPrefix.size()), transaction_id) ||
      transaction_id.size() > 256) {
    http::SetJsonError(response, 400, "invalid_field", "the transaction id is malformed",
                       "transaction_id");
    return;
  }
  auto found = deps_.decisions->Find(transaction_id);
  if (!found) {
    http::SetJsonError(response, 503, "decision_log_unavailable", found.error());
    return;
  }
  if (!found->has_value()) {
    http::SetJsonError(response, 404, "not_found",
                       "no decision for transaction '" + transaction_id + "'", "transaction_id");
    return;
  }
  std::optional<LabelRecord> label;
  if (deps_.labels != nullptr) {
    auto stored = deps_.labels->Find(transaction_id);
    if (!stored) {
      label_store_errors_->Increment();
      http::SetJsonError(response, 503, "label_store_unavailable", stored.error());
      return;
    }
    label = std::move(stored).value();
  }
  // What the rollout's other model decided for it, when one was held.
  std::optional<DecisionRecord> other_model;
  if (deps_.other_model_decisions != nullptr) {
    auto other = deps_.other_model_decisions->Find(transaction_id);
    if (!other) {
      http::SetJsonError(response, 503, "decision_log_unavailable", other.error());
      return;
    }
    other_model = std::move(other).value();
  }
  const DecisionRecord& record = **found;
  JsonWriter json(response.body);
  json.BeginObject()
      .Field("transaction_id", record.transaction_id)
      .Field("decided_at_ms", record.decided_ms)
      .Field("timestamp_ms", record.timestamp_ms)
      .Field("amount", record.amount)
      .Field("currency", record.currency)
      .Key("decision")
      .Raw(record.response_json);
  if (label) {
    json.Key("label")
        .BeginObject()
        .Field("label", FraudLabelName(label->label))
        .Field("source", label->source)
        .Field("timestamp_ms", label->label_ms)
        .Field("received_at_ms", label->received_ms)
        .EndObject();
  }
  if (other_model) {
    json.Key("other_model_decision").Raw(other_model->response_json);
  }
  json.EndObject();
}

void FraudService::HandleFeedback(const http::Request& request,
                                  http::Response& response,
                                  int worker) {
  if (deps_.labels == nullptr || deps_.accuracy == nullptr) {
    http::SetJsonError(response, 503, "feedback_unavailable", "feedback labels are not stored");
    return;
  }
  WorkerState& state = *workers_[static_cast<size_t>(worker)];
  FeedbackRequest feedback;
  RequestError error;
  const int64_t now_ms = deps_.clock->NowMillis();
  if (!state.feedback_decoder.Decode(request.body, now_ms, feedback, error)) {
    http::SetJsonError(response, 400, error.code, error.message, error.field);
    return;
  }
  auto found = deps_.decisions->Find(feedback.transaction_id);
  if (!found) {
    http::SetJsonError(response, 503, "decision_log_unavailable", found.error());
    return;
  }
  if (!found->has_value()) {
    http::SetJsonError(response, 404, "not_found",
                       "no decision for transaction '" + feedback.transaction_id +
                           "'; only scored transactions can be labelled",
                       "transaction_id");
    return;
  }
  const DecisionRecord& decision = **found;
  LabelRecord label;
  label.transaction_id = feedback.transaction_id;
  label.label = feedback.label;
  label.source = feedback.source;
  label.label_ms = feedback.label_ms;
  label.received_ms = now_ms;
  label.action = decision.action;
  label.amount = decision.amount;
  label.currency = decision.currency;
  label.model_version = decision.model_version;
  LabelRecord existing;
  auto outcome = deps_.labels->Insert(label, existing);
  if (!outcome) {
    label_store_errors_->Increment();
    LogError("label_store_write_failed")
        .Field("transaction_id", label.transaction_id)
        .Field("error", outcome.error());
    http::SetJsonError(response, 503, "label_store_unavailable",
                       "the label was not stored; retry shortly");
    return;
  }
  if (*outcome == LabelOutcome::kConflict) {
    feedback_total_->WithLabels({"conflict"}).Increment();
    http::SetJsonError(response, 409, "label_conflict",
                       "transaction '" + label.transaction_id + "' is already labelled " +
                           std::string(FraudLabelName(existing.label)) +
                           (existing.source.empty() ? "" : " (source " + existing.source + ")") +
                           "; the first label stays",
                       "label");
    return;
  }
  const bool duplicate = *outcome == LabelOutcome::kDuplicate;
  if (duplicate) {
    feedback_total_->WithLabels({"duplicate"}).Increment();
  } else {
    feedback_total_->WithLabels({"stored"}).Increment();
    deps_.accuracy->Add(ToLabelledDecision(label));
    if (label.label == FraudLabel::kFraud) {
      // Feeds the merchant's delayed fraud-risk features; committed with this worker's log
      // before the answer leaves (BeforeSend).
      deps_.features->RecordFraudLabel(decision.merchant_id, decision.timestamp_ms, worker);
    }
  }
  const LabelRecord& stored = duplicate ? existing : label;
  JsonWriter json(response.body);
  json.BeginObject()
      .Field("transaction_id", stored.transaction_id)
      .Field("label", FraudLabelName(stored.label))
      .Field("source", stored.source)
      .Field("timestamp_ms", stored.label_ms)
      .Field("received_at_ms", stored.received_ms)
      .Field("duplicate", duplicate)
      .Key("decision")
      .BeginObject()
      .Field("action", decision.action)
      .Field("risk_score", decision.risk_score)
      .Field("model_version", decision.model_version)
      .EndObject()
      .EndObject();
}

void FraudService::HandleFeatures(const http::Request& request, http::Response& response) {
  const std::string_view rest = request.path.substr(kFeaturesPrefix.size());
  const size_t slash = rest.find('/');
  EntityType type{};
  std::string id;
  if (slash == std::string_view::npos || !ParseEntityType(rest.substr(0, slash), type)) {
    http::SetJsonError(response, 400, "invalid_field",
                       "use /api/v1/features/{card|customer|merchant|device|ip}/{id}", "entity");
    return;
  }
  if (!PercentDecode(rest.substr(slash + 1), id) || id.empty() || id.size() > 256) {
    http::SetJsonError(response, 400, "invalid_field", "the entity id is malformed", "id");
    return;
  }
  if (!deps_.features->DescribeEntity(type, id, response.body)) {
    http::SetJsonError(response, 404, "not_found", "no feature state for this entity", "id");
  }
}

void FraudService::HandleApiHealth(http::Response& response) {
  const auto model = deps_.scorer->model();
  const auto feature_stats = deps_.features->stats();
  const auto log_stats = deps_.decisions->stats();
  uint64_t keys = 0;
  for (const uint64_t count : feature_stats.keys) {
    keys += count;
  }
  const bool ready = ready_.load() && !draining_.load();
  JsonWriter json(response.body);
  json.BeginObject()
      .Field("status", ready ? "ok" : (draining_.load() ? "draining" : "starting"))
      .Field("version", FRAUDGUARD_VERSION)
      .Field("model_version", model->file.version)
      .Field("uptime_seconds", static_cast<double>(deps_.clock->NowMillis() - started_ms_) / 1000.0)
      .Key("feature_state")
      .BeginObject()
      .Field("keys", keys)
      .Field("bytes", feature_stats.bytes)
      .Field("last_snapshot_ms", feature_stats.last_snapshot_ms)
      .Field("pending_log_bytes", feature_stats.pending_log_bytes)
      .Field("unlogged_records", feature_stats.unlogged_records)
      .Field("log_backlog_full", deps_.features->log_backlog_full())
      .EndObject()
      .Key("decision_log")
      .BeginObject()
      .Field("lag_ms", log_stats.lag_ms)
      .Field("queued", log_stats.queued)
      .Field("written", log_stats.written)
      .Field("dropped", log_stats.dropped)
      .EndObject()
      .Field("authentication", deps_.keys != nullptr)
      .EndObject();
}

void FraudService::HandleReload(http::Response& response) {
  const Status status = deps_.reload();
  if (!status) {
    http::SetJsonError(response, 422, "reload_failed", status.error());
    return;
  }
  const auto model = deps_.scorer->model();
  JsonWriter json(response.body);
  json.BeginObject()
      .Field("status", "reloaded")
      .Field("model_version", model->file.version)
      .Field("rules_version", deps_.scorer->rules()->version())
      .EndObject();
}

void FraudService::HandleSlo(Route route, const http::Request& request, http::Response& response) {
  std::string name;
  if (route == Route::kSloByName &&
      (!PercentDecode(request.path.substr(kSloPrefix.size()), name) || name.size() > 128)) {
    http::SetJsonError(response, 400, "invalid_field", "the SLO name is malformed", "name");
    return;
  }
  if (deps_.slo == nullptr) {
    http::SetJsonError(response, 503, "slo_unavailable", "SLO tracking is not configured");
    return;
  }
  if (route == Route::kSloByName && deps_.slo->config().Find(name) == nullptr) {
    std::string known;
    for (const SloDefinition& slo : deps_.slo->config().slos) {
      known += (known.empty() ? "" : ", ") + slo.name;
    }
    http::SetJsonError(response, 404, "not_found", "no SLO named '" + name + "'; defined: " + known,
                       "name");
    return;
  }
  auto reports = deps_.slo->Reports();
  if (!reports) {
    http::SetJsonError(response, 503, "slo_unavailable", reports.error());
    return;
  }
  if (route == Route::kSlo) {
    AppendSloReportsJson(*reports, deps_.clock->NowMillis(), response.body);
    return;
  }
  for (const SloReport& report : *reports) {
    if (report.name == name) {
      AppendSloReportJson(report, response.body);
    }
  }
}

void FraudService::HandleHistory(const http::Request& request, http::Response& response) {
  HistoryRequest wanted;
  RequestError error;
  if (!DecodeHistoryQuery(request.query, wanted, error)) {
    http::SetJsonError(response, 400, error.code, error.message, error.field);
    return;
  }
  if (deps_.sli == nullptr || deps_.slo == nullptr) {
    http::SetJsonError(response, 503, "history_unavailable", "SLI recording is not configured");
    return;
  }
  // The minute in progress is shown as far as it has been counted.
  (void)deps_.sli->Flush();
  const std::vector<std::string> routes = HistoryRoutes(wanted.routes, deps_.slo->config());
  auto history = QuerySliHistory(*deps_.sli, wanted.range, routes, deps_.clock->NowMillis());
  if (!history) {
    LogWarn("history_query_failed").Field("error", history.error());
    http::SetJsonError(response, 503, "history_unavailable", history.error());
    return;
  }
  AppendHistoryJson(*history, wanted.routes, routes, response.body);
}

void FraudService::HandleRollout(Route route,
                                 const http::Request& request,
                                 http::Response& response) {
  if (deps_.rollout == nullptr || !deps_.load_candidate) {
    http::SetJsonError(response, 503, "rollout_unavailable", "model rollout is not configured");
    return;
  }
  if (route == Route::kRolloutPromote || route == Route::kRolloutRollback) {
    const bool promote = route == Route::kRolloutPromote;
    const Status status = promote ? deps_.rollout->Promote("promoted by an operator")
                                  : deps_.rollout->Rollback("rolled back by an operator");
    if (!status) {
      http::SetJsonError(response, 409, "rollout_conflict", status.error());
      return;
    }
  } else if (route == Route::kRolloutStart) {
    simdjson::dom::parser parser;
    simdjson::dom::object body;
    if (request.body.size() > 4096 ||
        parser.parse(request.body.data(), request.body.size()).get(body) != simdjson::SUCCESS) {
      http::SetJsonError(response, 400, "malformed_json",
                         "the body must be a JSON object of at most 4096 bytes");
      return;
    }
    std::string model;
    rollout::RolloutTiming timing;
    bool phase_given = false;
    for (const auto field : body) {
      const std::string_view key = field.key;
      std::string_view text;
      if (field.value.get(text) != simdjson::SUCCESS) {
        http::SetJsonError(response, 400, "invalid_field", std::string(key) + " must be a string",
                           std::string(key));
        return;
      }
      if (key == "model") {
        // A file name in the directory of the configured model, never a path.
        if (text.empty() || text.size() > 128 || text.find('/') != std::string_view::npos ||
            text.front() == '.') {
          http::SetJsonError(response, 400, "invalid_field",
                             "model must be a file name (at most 128 characters, no '/', not "
                             "starting with '.') in the directory of the active model",
                             "model");
          return;
        }
        model = std::string(text);
        continue;
      }
      int64_t* target = key == "shadow"     ? &timing.shadow_ms
                        : key == "phase"    ? &timing.phase_ms
                        : key == "interval" ? &timing.interval_ms
                                            : nullptr;
      if (target == nullptr) {
        http::SetJsonError(response, 400, "invalid_field",
                           "unknown field; the fields are model, shadow, phase and interval",
                           std::string(key));
        return;
      }
      auto duration = rollout::ParseDurationMillis(text);
      if (!duration) {
        http::SetJsonError(response, 400, "invalid_field", duration.error(), std::string(key));
        return;
      }
      *target = *duration;
      phase_given = phase_given || key == "phase";
    }
    if (model.empty()) {
      http::SetJsonError(response, 400, "missing_field", "model is required", "model");
      return;
    }
    constexpr int64_t kWeekMs = 7LL * 24 * 3600 * 1000;
    if (timing.interval_ms < 100 || timing.interval_ms > 3'600'000) {
      http::SetJsonError(response, 400, "invalid_field", "interval must be from 100ms to 1h",
                         "interval");
      return;
    }
    // Each phase must hold enough intervals for the judge to tell the models apart.
    const int64_t shortest = timing.interval_ms * static_cast<int64_t>(rollout::kMinIntervals);
    if (timing.shadow_ms < shortest || timing.shadow_ms > kWeekMs) {
      http::SetJsonError(response, 400, "invalid_field",
                         "shadow must hold at least " + std::to_string(rollout::kMinIntervals) +
                             " intervals and last at most 7 days",
                         "shadow");
      return;
    }
    if (phase_given && (timing.phase_ms < shortest || timing.phase_ms > kWeekMs)) {
      http::SetJsonError(response, 400, "invalid_field",
                         "phase must hold at least " + std::to_string(rollout::kMinIntervals) +
                             " intervals and last at most 7 days",
                         "phase");
      return;
    }
    auto candidate = deps_.load_candidate(model);
    if (!candidate) {
      http::SetJsonError(response, 422, "model_invalid", candidate.error(), "model");
      return;
    }
    if (auto started = deps_.rollout->Start(std::move(candidate).value(), timing); !started) {
      http::SetJsonError(response, 409, "rollout_conflict", started.error());
      return;
    }
    response.status = 202;
  }
  deps_.rollout->AppendStatusJson(response.body);
}

namespace {

void SetIncidentFailure(http::Response& response, EngineFailure failure, const std::string& why) {
  switch (failure) {
    case EngineFailure::kNotFound:
      http::SetJsonError(response, 404, "not_found", why, "id");
      return;
    case EngineFailure::kConflict:
      http::SetJsonError(response, 409, "conflict", why);
      return;
    default:
      http::SetJsonError(response, 503, "incidents_unavailable", why);
      return;
  }
}

void AppendIncidentResponse(const Incident& incident,
                            const PlaybookSet& playbooks,
                            int64_t now_ms,
                            std::string& out) {
  out += "{\"incident\":";
  AppendIncidentJson(incident, now_ms, out);
  out += ",\"playbook\":";
  if (const Playbook* playbook = playbooks.Find(incident.playbook)) {
    AppendPlaybookJson(*playbook, out);
  } else {
    out += "null";
  }
  out += "}";
}

}  // namespace

void FraudService::HandleIncidents(Route route,
                                   const http::Request& request,
                                   http::Response& response) {
  const bool write = request.method == "POST";
  std::string actor;
  if (!Authorize(request, write ? Role::kAdmin : Role::kRead, response, &actor)) {
    return;
  }
  if (deps_.incidents == nullptr) {
    http::SetJsonError(response, 503, "incidents_unavailable", "incidents are not tracked");
    return;
  }
  IncidentEngine& engine = *deps_.incidents;
  const int64_t now_ms = deps_.clock->NowMillis();
  if (route == Route::kIncident) {
    int64_t id = 0;
    if (!ParseIncidentId(request.path.substr(kIncidentPrefix.size()), id)) {
      http::SetJsonError(response, 400, "invalid_field",
                         "the incident id must be a positive integer", "id");
      return;
    }
    auto incident = engine.Get(id);
    if (!incident) {
      http::SetJsonError(response, 404, "not_found", "no incident " + std::to_string(id), "id");
      return;
    }
    AppendIncidentResponse(*incident, engine.playbooks(), now_ms, response.body);
    return;
  }
  if (write) {
    ManualIncident manual;
    RequestError error;
    if (!DecodeManualIncident(request.body, manual, error)) {
      http::SetJsonError(response, 400, error.code, error.message, error.field);
      return;
    }
    auto created = engine.Create(manual, actor);
    if (!created) {
      http::SetJsonError(response, 503, "incidents_unavailable", created.error());
      return;
    }
    response.status = 201;
    AppendIncidentResponse(*created, engine.playbooks(), now_ms, response.body);
    return;
  }
  const std::string_view state = QueryValue(request.query, "state");
  if (!state.empty() && state != "open" && state != "all") {
    http::SetJsonError(response, 400, "invalid_field", R"(state must be "open" or "all")", "state");
    return;
  }
  size_t limit = 100;
  const std::string_view limit_text = QueryValue(request.query, "limit");
  if (!limit_text.empty()) {
    int64_t parsed = 0;
    if (!ParseIncidentId(limit_text, parsed) ||
        parsed > static_cast<int64_t>(kMaxIncidentsListed)) {
      http::SetJsonError(
          response, 400, "invalid_field",
          "limit must be an integer from 1 to " + std::to_string(kMaxIncidentsListed), "limit");
      return;
    }
    limit = static_cast<size_t>(parsed);
  }
  JsonWriter json(response.body);
  json.BeginObject().Field("generated_at_ms", now_ms).Key("incidents").BeginArray();
  for (const Incident& incident : engine.List(state == "open", limit)) {
    std::string item;
    AppendIncidentJson(incident, now_ms, item);
    json.Raw(item);
  }
  json.EndArray().EndObject();
}

void FraudService::HandleIncidentAction(const http::Request& request, http::Response& response) {
  std::string actor;
  if (!Authorize(request, Role::kAdmin, response, &actor)) {
    return;
  }
  if (deps_.incidents == nullptr) {
    http::SetJsonError(response, 503, "incidents_unavailable", "incidents are not tracked");
    return;
  }
  const std::string_view rest = request.path.substr(kIncidentPrefix.size());
  const size_t slash = rest.find('/');
  const std::string_view action = rest.substr(slash + 1);
  int64_t id = 0;
  if (!ParseIncidentId(rest.substr(0, slash), id)) {
    http::SetJsonError(response, 400, "invalid_field", "the incident id must be a positive integer",
                       "id");
    return;
  }
  IncidentEngine& engine = *deps_.incidents;
  RequestError error;
  EngineFailure failure = EngineFailure::kNone;
  std::optional<Result<Incident>> result;
  if (action == "acknowledge") {
    std::string note;
    if (!DecodeAcknowledge(request.body, note, error)) {
      http::SetJsonError(response, 400, error.code, error.message, error.field);
      return;
    }
    result = engine.Acknowledge(id, actor, failure);
    if (*result && !note.empty()) {
      result = engine.AddNote(id, actor, note, failure);
    }
  } else if (action == "state") {
    IncidentState state = IncidentState::kInvestigating;
    std::string note;
    if (!DecodeStateChange(request.body, state, note, error)) {
      http::SetJsonError(response, 400, error.code, error.message, error.field);
      return;
    }
    result = engine.ChangeState(id, state, actor, note, failure);
  } else if (action == "notes") {
    std::string text;
    if (!DecodeNote(request.body, text, error)) {
      http::SetJsonError(response, 400, error.code, error.message, error.field);
      return;
    }
    result = engine.AddNote(id, actor, text, failure);
  } else {
    http::SetJsonError(response, 404, "not_found",
                       "no incident action '" + std::string(action.substr(0, 64)) +
                           "'; use acknowledge, state or notes");
    return;
  }
  if (!*result) {
    SetIncidentFailure(response, failure, result->error());
    return;
  }
  AppendIncidentResponse(**result, engine.playbooks(), deps_.clock->NowMillis(), response.body);
}

void FraudService::HandleAlertmanager(const http::Request& request, http::Response& response) {
  if (deps_.incidents == nullptr) {
    http::SetJsonError(response, 503, "incidents_unavailable", "incidents are not tracked");
    return;
  }
  AlertmanagerWebhook webhook;
  RequestError error;
  if (!DecodeAlertmanagerWebhook(request.body, webhook, error)) {
    http::SetJsonError(response, 400, error.code, error.message, error.field);
    return;
  }
  if (webhook.truncated_alerts > 0) {
    LogWarn("alertmanager_alerts_truncated")
        .Field("group_key", webhook.group_key)
        .Field("truncated", webhook.truncated_alerts)
        .Field("effect", "raise max_alerts in the webhook config to see them all");
  }
  std::vector<int64_t> ids;
  uint64_t opened = 0;
  for (const AlertEvent& event : webhook.alerts) {
    auto outcome = deps_.incidents->Ingest(event);
    if (!outcome) {
      // Alertmanager retries a 5xx; the alerts taken already are recognised by fingerprint.
      http::SetJsonError(response, 503, "incidents_unavailable", outcome.error());
      return;
    }
    opened += outcome->opened ? 1 : 0;
    if (outcome->incident_id != 0 &&
        std::find(ids.begin(), ids.end(), outcome->incident_id) == ids.end()) {
      ids.push_back(outcome->incident_id);
    }
  }
  JsonWriter json(response.body);
  json.BeginObject()
      .Field("received", static_cast<uint64_t>(webhook.alerts.size()))
      .Field("opened", opened)
      .Key("incidents")
      .BeginArray();
  for (int64_t id : ids) {
    json.Int(id);
  }
  json.EndArray().EndObject();
}

void FraudService::HandleNotifications(const http::Request& request, http::Response& response) {
  if (deps_.notifier == nullptr) {
    http::SetJsonError(response, 503, "notifications_unavailable", "notifications are not kept");
    return;
  }
  std::string_view state = QueryValue(request.query, "state");
  if (state.empty()) {
    state = "undeliverable";
  }
  if (state != "undeliverable" && state != "pending" && state != "delivered") {
    http::SetJsonError(response, 400, "invalid_field",
                       R"(state must be "undeliverable", "pending" or "delivered")", "state");
    return;
  }
  auto pending = deps_.notifier->Count("pending");
  auto undeliverable = deps_.notifier->Count("undeliverable");
  auto entries = deps_.notifier->List(std::string(state), 100);
  if (!pending || !undeliverable || !entries) {
    http::SetJsonError(response, 503, "notifications_unavailable",
                       !entries ? entries.error() : "the outbox cannot be read");
    return;
  }
  JsonWriter json(response.body);
  json.BeginObject()
      .Field("pending", *pending)
      .Field("undeliverable", *undeliverable)
      .Key("notifications")
      .BeginArray();
  for (const OutboxEntry& entry : *entries) {
    json.BeginObject()
        .Field("id", entry.id)
        .Field("target", entry.target)
        .Field("event", entry.event)
        .Field("incident_id", entry.incident_id)
        .Field("created_ms", entry.created_ms)
        .Field("attempts", entry.attempts)
        .Field("next_attempt_ms", entry.next_attempt_ms)
        .Field("state", entry.state)
        .Field("last_error", entry.last_error)
        .EndObject();
  }
  json.EndArray().EndObject();
}

void FraudService::HandleCapacity(const http::Request& request, http::Response& response) {
  CapacityQuery query;
  RequestError error;
  if (!DecodeCapacityQuery(request.query, capacity::kDefaultViewHorizonSeconds, query, error)) {
    http::SetJsonError(response, 400, error.code, error.message, error.field);
    return;
  }
  if (deps_.capacity == nullptr) {
    http::SetJsonError(response, 503, "capacity_unavailable", "the capacity view is not set up");
    return;
  }
  auto answer = deps_.capacity->Answer(query.horizon_seconds);
  if (!answer) {
    capacity_errors_->Increment();
    if (!capacity_failing_.exchange(true)) {
      LogWarn("capacity_forecast_failed").Field("error", answer.error());
    }
    http::SetJsonError(response, 503, "capacity_unavailable", answer.error());
    return;
  }
  if (capacity_failing_.exchange(false)) {
    LogInfo("capacity_forecast_recovered");
  }
  if (answer->computed) {
    capacity_forecasts_->Increment();
  }
  response.body = *answer->body;
}

void FraudService::HandleAlerts(http::Response& response) {
  const AlertEvaluator* alerts = alerts_.load();
  if (alerts == nullptr) {
    http::SetJsonError(response, 503, "alerts_unavailable", "the alert evaluator is not running");
    return;
  }
  JsonWriter json(response.body);
  json.BeginObject().Field("generated_at_ms", deps_.clock->NowMillis()).Key("alerts").BeginArray();
  for (const RuleStatus& status : alerts->Statuses()) {
    json.BeginObject()
        .Field("name", status.name)
        .Field("condition", status.condition)
        .Field("state", RuleStateName(status.state))
        .Field("value", status.value)
        .Field("active_since_ms", status.active_since_ms)
        .Key("labels")
        .BeginObject();
    for (const auto& [key, value] : status.labels) {
      json.Field(key, value);
    }
    json.EndObject().EndObject();
  }
  json.EndArray().EndObject();
}

// TODO: when the feature log write fails the responses of this iteration are already built and
// go out as successes; the records stay buffered (up to the store's max_pending_log_bytes, then
// counted unlogged and /ready fails) and are retried on the next commit, so they are lost only
// if the process dies before a later write or snapshot succeeds.
void FraudService::BeforeSend(int worker) {
  // A failure is logged by the store (once per streak); here it is counted.
  if (!deps_.features->Commit(worker)) {
    feature_commit_errors_->Increment();
  }
  // The decisions about to be answered reach the crash journal before their answers leave.
  const Status journal = deps_.decisions->CommitJournal(worker);
  WorkerState& state = *workers_[static_cast<size_t>(worker)];
  if (!journal) {
    decision_journal_errors_->Increment();
    if (!state.journal_failing) {  // once per streak of failures, not once per loop
      LogError("decision_journal_write_failed")
          .Field("worker", worker)
          .Field("error", journal.error());
    }
  } else if (state.journal_failing) {
    LogInfo("decision_journal_write_recovered").Field("worker", worker);
  }
  state.journal_failing = !journal.ok();
}

void FraudService::OnProtocolError(int status, int /*worker*/) {
  CountRequest(Route::kUnknown, status, 0.0);
}

}  // namespace fraudguard
