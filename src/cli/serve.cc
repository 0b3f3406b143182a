#include "cli/serve.h"

#include <pthread.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "api/fraud_service.h"
#include "api/http_server.h"
#include "capacity/capacity_view.h"
#include "capacity/recommendation.h"
#include "capacity/sli_history.h"
#include "core/clock.h"
#include "core/log.h"
#include "evaluation/accuracy_tracker.h"
#include "evaluation/drift.h"
#include "incidents/alert_evaluator.h"
#include "incidents/alert_rules.h"
#include "incidents/incident_engine.h"
#include "incidents/notifier.h"
#include "incidents/playbook.h"
#include "rollout/canary_config.h"
#include "rollout/model_rollout.h"
#include "slo/slo_config.h"
#include "slo/slo_tracker.h"
#include "storage/label_store.h"

namespace fraudguard {
namespace {

Result<std::shared_ptr<const RuleSet>> LoadRules(const std::string& path) {
  if (path.empty()) {
    auto empty = RuleSet::Parse("{}");
    if (!empty) {
      return Error{empty.error()};
    }
    return std::make_shared<const RuleSet>(std::move(empty).value());
  }
  auto rules = RuleSet::LoadFile(path);
  if (!rules) {
    return Error{rules.error()};
  }
  return std::make_shared<const RuleSet>(std::move(rules).value());
}

int Fail(std::string_view event, const std::string& message) {
  LogError(event).Field("error", message);
  return 1;
}

}  // namespace

int RunServe(const ServeConfig& config, const std::string& port_file) {
  LogLevel level = LogLevel::kInfo;
  ParseLogLevel(config.log_level, level);
  SetLogLevel(level);
  if (auto status = ValidateServeConfig(config); !status) {
    return Fail("config_invalid", status.error());
  }

  // Signals are taken by a sigwait loop on this thread; block them before any thread starts so
  // that every worker inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // NOLINT(cert-err33-c): a closed socket is handled where written

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) {
    return Fail("data_dir_unusable", config.data_dir + ": " + ec.message());
  }
  LogInfo("config")
      .Field("bind", config.bind_address)
      .Field("port", config.port)
      .Field("threads", config.threads)
      .Field("data_dir", config.data_dir)
      .Field("model", config.model_path)
      .Field("rules", config.rules_path)
      .Field("keys", config.keys_path)
      .Field("max_body_bytes", config.max_body_bytes)
      .Field("max_batch_items", config.max_batch_items)
      .Field("feature_max_keys", config.feature_max_keys);

  if (config.testing_added_latency_ms > 0 || config.testing_error_ratio > 0) {
    LogWarn("testing_faults_enabled")
        .Field("reason", "test-only settings make this server worse on purpose")
        .Field("added_latency_ms", config.testing_added_latency_ms)
        .Field("error_ratio", config.testing_error_ratio);
  }

  std::unique_ptr<ApiKeyStore> keys;
  if (!config.keys_path.empty()) {
    auto loaded = ApiKeyStore::LoadFile(config.keys_path);
    if (!loaded) {
      return Fail("keys_invalid", loaded.error());
    }
    keys = std::make_unique<ApiKeyStore>(std::move(loaded).value());
    LogInfo("keys_loaded").Field("path", config.keys_path).Field("keys", keys->size());
  } else {
    LogWarn("authentication_disabled")
        .Field("reason", "no keys file; allowed only because the bind address is loopback")
        .Field("bind", config.bind_address);
  }

  auto model = LoadedModel::Load(config.model_path);
  if (!model) {
    return Fail("model_invalid", config.model_path + ": " + model.error());
  }
  LogInfo("model_loaded")
      .Field("path", config.model_path)
      .Field("version", (*model)->file.version)
      .Field("trees", (*model)->file.ensemble.num_trees())
      .Field("features", (*model)->file.feature_names.size())
      .Field("max_depth", (*model)->file.ensemble.max_depth());
  auto rules = LoadRules(config.rules_path);
  if (!rules) {
    return Fail("rules_invalid", rules.error());
  }
  LogInfo("rules_loaded")
      .Field("path", config.rules_path)
      .Field("rules", (*rules)->size())
      .Field("version", (*rules)->version());

  const Clock& clock = SystemClock::Instance();
  FeatureStoreOptions feature_options;
  feature_options.data_dir = config.data_dir + "/features";
  feature_options.max_keys = static_cast<size_t>(config.feature_max_keys);
  feature_options.idle_eviction_ms = config.feature_idle_eviction_hours * 3600 * 1000;
  feature_options.snapshot_interval_ms = config.snapshot_interval_seconds * 1000;
  feature_options.worker_threads = config.threads;
  feature_options.max_pending_log_bytes = static_cast<size_t>(config.feature_max_pending_log_bytes);
  auto features = FeatureStore::Open(feature_options, clock);
  if (!features) {
    return Fail("feature_state_unusable", features.error());
  }

  DecisionLogOptions log_options;
  log_options.path = config.data_dir + "/decisions.db";
  log_options.batch_size = static_cast<size_t>(config.decision_batch_size);
  log_options.flush_interval_ms = config.decision_flush_interval_ms;
  log_options.queue_capacity = static_cast<size_t>(config.decision_queue_capacity);
  log_options.journal_writers = config.threads;  // one journal buffer per HTTP worker
  auto decisions = DecisionLog::Open(log_options);
  if (!decisions) {
    return Fail("decision_log_unusable", decisions.error());
  }

  // Feedback labels, and the online accuracy rebuilt from them.
  auto labels = LabelStore::Open(config.data_dir + "/labels.db");
  if (!labels) {
    return Fail("label_store_unusable", labels.error());
  }
  AccuracyTracker accuracy(clock);
  uint64_t labels_loaded = 0;
  if (auto loaded = (*labels)->ForEach([&](const LabelRecord& record) {
        accuracy.Add(ToLabelledDecision(record));
        ++labels_loaded;
      });
      !loaded) {
    return Fail("label_store_unusable", loaded.error());
  }
  LogInfo("labels_loaded").Field("labels", labels_loaded);

  SloConfig slo_config = DefaultSloConfig();
  if (!config.slo_config_path.empty()) {
    auto loaded = LoadSloConfigFile(config.slo_config_path, RouteLabels());
    if (!loaded) {
      return Fail("slo_config_invalid", loaded.error());
    }
    slo_config = std::move(loaded).value();
  }
  SliRecorderOptions sli_options;
  sli_options.path = config.data_dir + "/sli.db";
  sli_options.routes = RouteLabels();
  sli_options.minute_retention_days = slo_config.storage.minute_retention_days;
  sli_options.hourly_retention_days = slo_config.storage.hourly_retention_days;
  auto sli = SliRecorder::Open(sli_options, clock);
  if (!sli) {
    return Fail("sli_unusable", sli.error());
  }
  LogInfo("slo_loaded")
      .Field("path", config.slo_config_path.empty() ? "(built-in)" : config.slo_config_path)
      .Field("slos", static_cast<uint64_t>(slo_config.slos.size()));
  SloTracker slo_tracker(std::move(slo_config), **sli, clock);
  // The first report reads the whole window; doing it now keeps it off the first scrape.
  if (auto reports = slo_tracker.Reports(); !reports) {
    return Fail("sli_unusable", reports.error());
  }

  // Alerts and incidents.
  PlaybookSet playbooks = DefaultPlaybooks();
  if (!config.playbooks_path.empty()) {
    auto loaded = LoadPlaybooksFile(config.playbooks_path);
    if (!loaded) {
      return Fail("playbooks_invalid", loaded.error());
    }
    playbooks = std::move(loaded).value();
  }
  AlertRulesConfig alert_config = DefaultAlertRules();
  if (!config.alert_rules_path.empty()) {
    auto loaded = LoadAlertRulesFile(config.alert_rules_path);
    if (!loaded) {
      return Fail("alert_rules_invalid", loaded.error());
    }
    alert_config = std::move(loaded).value();
  }
  std::vector<AlertRule> alert_rules = alert_config.rules;
  if (alert_config.slo_burn_rate_alerts) {
    for (AlertRule& rule : BurnRateRules(slo_tracker.config().slos)) {
      alert_rules.push_back(std::move(rule));
    }
  }
  for (const AlertRule& rule : alert_rules) {
    for (const Comparison& comparison : rule.comparisons) {
      if (comparison.measurement == Measurement::kBurnRate &&
          slo_tracker.config().Find(comparison.slo) == nullptr) {
        return Fail("alert_rules_invalid",
                    "rule " + rule.name + ": burn_rate of unknown SLO '" + comparison.slo + "'");
      }
    }
  }
  IncidentEngineOptions incident_options;
  incident_options.store_path = config.data_dir + "/incidents.db";
  auto incidents = IncidentEngine::Open(incident_options, std::move(playbooks), clock);
  if (!incidents) {
    return Fail("incident_store_unusable", incidents.error());
  }
  NotifierConfig notifier_config;
  if (!config.notifications_path.empty()) {
    auto loaded = LoadNotifierConfigFile(config.notifications_path);
    if (!loaded) {
      return Fail("notifications_invalid", loaded.error());
    }
    notifier_config = std::move(loaded).value();
  }
  auto notifier =
      Notifier::Open(config.data_dir + "/notifications.db", std::move(notifier_config), clock);
  if (!notifier) {
    return Fail("notification_outbox_unusable", notifier.error());
  }
  Notifier* outbox = notifier->get();
  (*incidents)->SetListener([outbox](const std::string& event, const Incident& incident) {
    if (auto status = outbox->Enqueue(event, incident); !status) {
      LogError("notification_enqueue_failed")
          .Field("incident", incident.id)
          .Field("event", event)
          .Field("error", status.error());
    }
  });
  LogInfo("alert_rules_loaded")
      .Field("path", config.alert_rules_path.empty() ? "(built-in)" : config.alert_rules_path)
      .Field("rules", static_cast<uint64_t>(alert_rules.size()))
      .Field("evaluation_interval_ms", alert_config.evaluation_interval_ms);

  Scorer scorer(**features, *model, *rules, config.threads);
  MetricsRegistry metrics;
  AddProcessMetrics(metrics);
  auto& state_keys = metrics.AddGauge("fraudguard_feature_state_keys",
                                      "Entities held in the online feature state.", {"entity"});
  auto& state_bytes =
      metrics.AddGauge("fraudguard_feature_state_bytes", "Memory held by the feature state.")
          .WithLabels({});
  auto& evictions = metrics
                        .AddCounter("fraudguard_feature_state_evictions_total",
                                    "Entities evicted for idleness or the memory bound.")
                        .WithLabels({});
  auto& log_lag = metrics
                      .AddGauge("fraudguard_decision_log_lag_seconds",
                                "Age of the oldest decision not yet written to the log.")
                      .WithLabels({});
  auto& log_queued =
      metrics.AddGauge("fraudguard_decision_log_queued", "Decisions waiting to be written.")
          .WithLabels({});
  auto& log_errors = metrics
                         .AddCounter("fraudguard_decision_log_write_errors_total",
                                     "Failed decision log batch writes (each is retried).")
                         .WithLabels({});
  auto& snapshot_failures = metrics
                                .AddCounter("fraudguard_feature_snapshot_failures_total",
                                            "Feature state snapshots that could not be written.")
                                .WithLabels({});
  auto& pending_log_bytes =
      metrics
          .AddGauge(
              "fraudguard_feature_log_pending_bytes",
              "Feature log bytes buffered in memory, not yet written (grows while writes fail).")
          .WithLabels({});
  auto& unlogged_records =
      metrics
          .AddCounter("fraudguard_feature_log_unlogged_records_total",
                      "Feature updates applied but never logged because the log buffer was full.")
          .WithLabels({});
  auto& recovery_losses =
      metrics.AddGauge("fraudguard_feature_recovery_dropped",
                       "What the last start dropped while recovering the feature state.", {"what"});
  auto& model_info = metrics.AddGauge(
      "fraudguard_model_info",
      "1 for the active model, 0 for models replaced by a reload since the start.", {"version"});
  FeatureStore* feature_store = features->get();
  DecisionLog* decision_log = decisions->get();
  // While a rollout holds a candidate, what the model that did not serve decided, one row per
  // transaction in a file of its own. Without a crash journal: these rows are for comparing
  // models, and losing the last batch on a crash costs no answer.
  DecisionLogOptions other_model_log_options = log_options;
  other_model_log_options.path = config.data_dir + "/other-model-decisions.db";
  other_model_log_options.journal_writers = 0;
  auto other_model_decisions = DecisionLog::Open(other_model_log_options);
  if (!other_model_decisions) {
    return Fail("decision_log_unusable", other_model_decisions.error());
  }
  metrics.AddCollector([&, feature_store, decision_log] {
    static constexpr std::string_view kEntityNames[] = {"card", "customer", "merchant", "device",
                                                        "ip"};
    const auto stats = feature_store->stats();
    for (size_t i = 0; i < 5; ++i) {
      state_keys.WithLabels({kEntityNames[i]}).Set(static_cast<double>(stats.keys[i]));
    }
    state_bytes.Set(static_cast<double>(stats.bytes));
    evictions.SetTotal(static_cast<double>(stats.evictions));
    snapshot_failures.SetTotal(static_cast<double>(stats.snapshot_failures));
    pending_log_bytes.Set(static_cast<double>(stats.pending_log_bytes));
    unlogged_records.SetTotal(static_cast<double>(stats.unlogged_records));
    recovery_losses.WithLabels({"corrupt_snapshots"})
        .Set(static_cast<double>(stats.corrupt_snapshots));
    recovery_losses.WithLabels({"log_bytes"}).Set(static_cast<double>(stats.dropped_log_bytes));
    const auto log = decision_log->stats();
    log_lag.Set(static_cast<double>(log.lag_ms) / 1000.0);
    log_queued.Set(static_cast<double>(log.queued));
    log_errors.SetTotal(static_cast<double>(log.write_errors));
  });
  model_info.WithLabels({(*model)->file.version}).Set(1);
  slo_tracker.RegisterMetrics(metrics);
  accuracy.RegisterMetrics(metrics);
  (*incidents)->RegisterMetrics(metrics);
  outbox->RegisterMetrics(metrics);

  // Drift of the traffic against the active model's validation reference.
  DriftMonitorOptions drift_options;
  drift_options.alert_psi = config.drift_alert_psi;
  drift_options.window_ms = config.drift_window_minutes * 60 * 1000;
  DriftMonitor drift(clock, drift_options, config.threads);
  const auto track_drift = [&drift](const LoadedModel& loaded) -> Status {
    auto reference = ParseDriftReference(loaded.file.metadata_json);
    if (!reference) {
      return Error{reference.error()};
    }
    return drift.SetReference(loaded.file.version, std::move(reference).value());
  };
  if (auto status = track_drift(**model); !status) {
    return Fail("model_invalid", status.error());
  }
  drift.RegisterMetrics(metrics);

  std::mutex reload_mutex;
  const auto reload = [&]() -> Status {
    std::lock_guard lock(reload_mutex);
    auto new_model = LoadedModel::Load(config.model_path);
    if (!new_model) {
      LogWarn("reload_refused").Field("what", "model").Field("error", new_model.error());
      return Error{"model: " + new_model.error()};
    }
    auto new_rules = LoadRules(config.rules_path);
    if (!new_rules) {
      LogWarn("reload_refused").Field("what", "rules").Field("error", new_rules.error());
      return Error{"rules: " + new_rules.error()};
    }
    if (auto tracked = track_drift(**new_model); !tracked) {
      LogWarn("reload_refused").Field("what", "model").Field("error", tracked.error());
      return Error{"model: " + tracked.error()};
    }
    const std::string old_version = scorer.model()->file.version;
    model_info.WithLabels({old_version}).Set(0);
    model_info.WithLabels({(*new_model)->file.version}).Set(1);
    scorer.SetModel(*new_model);
    scorer.SetRules(*new_rules);
    LogInfo("reloaded")
        .Field("model_version", (*new_model)->file.version)
        .Field("previous_model_version", old_version)
        .Field("rules", (*new_rules)->size());
    return OkStatus();
  };

  // A candidate model beside the active one (shadow, canary, promotion); swaps go through the
  // same Scorer::SetModel as a reload.
  rollout::CanaryConfig canary_config = rollout::DefaultCanaryConfig();
  if (!config.canary_config_path.empty()) {
    auto loaded = rollout::LoadCanaryConfigFile(config.canary_config_path);
    if (!loaded) {
      return Fail("canary_config_invalid", loaded.error());
    }
    canary_config = std::move(loaded).value();
  }
  rollout::ModelRollout model_rollout(
      scorer, std::move(canary_config), metrics, clock,
      [&model_info, &scorer, &track_drift](const std::string& previous, const std::string& next) {
        model_info.WithLabels({previous}).Set(0);
        model_info.WithLabels({next}).Set(1);
        // The candidate's reference was checked when it was loaded, so this cannot fail.
        if (auto tracked = track_drift(*scorer.model()); !tracked) {
          LogWarn("drift_reference_refused").Field("error", tracked.error());
        }
      });
  const std::string model_directory =
      std::filesystem::path(config.model_path).parent_path().string();
  const auto load_candidate =
      [model_directory](const std::string& name) -> Result<std::shared_ptr<const LoadedModel>> {
    const std::string path = (model_directory.empty() ? "." : model_directory) + "/" + name;
    auto candidate = LoadedModel::Load(path);
    if (!candidate) {
      LogWarn("rollout_refused").Field("path", path).Field("error", candidate.error());
      return Error{path + ": " + candidate.error()};
    }
    // A candidate must carry a readable drift reference (or none), as a reloaded model must.
    if (auto reference = ParseDriftReference((*candidate)->file.metadata_json); !reference) {
      LogWarn("rollout_refused").Field("path", path).Field("error", reference.error());
      return Error{path + ": " + reference.error()};
    }
    return candidate;
  };

  // The capacity view's per-replica figure: the configured one, else the measured one.
  capacity::CapacityViewSettings capacity_settings;
  capacity_settings.routes = capacity::DefaultSliRoutes();
  capacity_settings.current_replicas = static_cast<int>(config.capacity_current_replicas);
  if (config.capacity_replica_requests_per_second > 0) {
    capacity_settings.replica = {config.capacity_replica_requests_per_second,
                                 "config capacity.replica_requests_per_second"};
  } else if (auto measured = capacity::ReadReplicaCapacity(config.capacity_benchmarks_path);
             measured) {
    capacity_settings.replica = *measured;
  } else {
    capacity_settings.replica_unknown_reason =
        "no per-replica capacity: set capacity.replica_requests_per_second, or capacity.benchmarks "
        "to the page bench/run.sh writes (" +
        measured.error() + ")";
    LogWarn("capacity_replica_capacity_unknown").Field("error", measured.error());
  }
  if (capacity_settings.replica.requests_per_second > 0) {
    LogInfo("capacity_view_ready")
        .Field("replica_requests_per_second", capacity_settings.replica.requests_per_second)
        .Field("source", capacity_settings.replica.source);
  }
  capacity::CapacityView capacity_view(**sli, std::move(capacity_settings), clock);

  ServiceDependencies dependencies;
  dependencies.config = &config;
  dependencies.scorer = &scorer;
  dependencies.features = feature_store;
  dependencies.decisions = decision_log;
  dependencies.keys = keys.get();
  dependencies.metrics = &metrics;
  dependencies.clock = &clock;
  dependencies.reload = reload;
  dependencies.sli = sli->get();
  dependencies.slo = &slo_tracker;
  dependencies.labels = labels->get();
  dependencies.accuracy = &accuracy;
  dependencies.drift = &drift;
  dependencies.other_model_decisions = other_model_decisions->get();
  dependencies.rollout = &model_rollout;
  dependencies.load_candidate = load_candidate;
  dependencies.incidents = incidents->get();
  dependencies.notifier = outbox;
  dependencies.capacity = &capacity_view;
  FraudService service(dependencies, config.threads);

  http::ServerOptions server_options;
  server_options.bind_address = config.bind_address;
  server_options.port = static_cast<uint16_t>(config.port);
  server_options.threads = config.threads;
  server_options.max_body_bytes = static_cast<size_t>(config.max_body_bytes);
  server_options.request_timeout_ms = config.request_timeout_ms;
  server_options.idle_timeout_ms = config.idle_timeout_ms;
  server_options.max_connections = static_cast<size_t>(config.max_connections);
  server_options.drain_timeout_ms = config.drain_timeout_ms;
  http::Server server(server_options, service);
  auto& connections_open =
      metrics.AddGauge("fraudguard_http_connections_open", "Client connections open now.")
          .WithLabels({});
  auto& connection_events = metrics.AddCounter(
      "fraudguard_http_connection_events_total",
      "Connection events: accepted, refused over the connection limit, timed out, closed for a "
      "protocol error (which includes the timed out and the refused), and failed accept() calls.",
      {"event"});
  metrics.AddCollector([&] {
    const http::Server::Stats stats = server.stats();
    connections_open.Set(static_cast<double>(stats.open));
    connection_events.WithLabels({"accepted"}).SetTotal(static_cast<double>(stats.accepted));
    connection_events.WithLabels({"over_limit"})
        .SetTotal(static_cast<double>(stats.rejected_over_limit));
    connection_events.WithLabels({"timeout"}).SetTotal(static_cast<double>(stats.timeouts));
    connection_events.WithLabels({"protocol_error"})
        .SetTotal(static_cast<double>(stats.protocol_errors));
    connection_events.WithLabels({"accept_error"})
        .SetTotal(static_cast<double>(stats.accept_errors));
  });
  MeasurementSources sources;
  sources.sli = sli->get();
  sources.api_routes = {std::string(RouteName(Route::kAnalyze)),
                        std::string(RouteName(Route::kAnalyzeBatch))};
  sources.slo = &slo_tracker;
  sources.accuracy = &accuracy;
  sources.model_drift = [&drift] { return drift.Report().score_psi; };
  sources.connection_usage = [&server, &config] {
    return static_cast<double>(server.stats().open) / static_cast<double>(config.max_connections);
  };
  AlertEvaluator alerts(std::move(alert_rules), std::move(sources), **incidents, clock);
  alerts.RegisterMetrics(metrics);
  service.SetAlertEvaluator(&alerts);
  if (auto status = server.Start(); !status) {
    return Fail("listen_failed", status.error());
  }
  alerts.Start(alert_config.evaluation_interval_ms);
  outbox->Start();
  service.MarkReady();
  if (!port_file.empty()) {
    const std::string temporary = port_file + ".tmp";
    std::ofstream(temporary) << server.port() << "\n";
    std::filesystem::rename(temporary, port_file, ec);
  }
  LogInfo("started")
      .Field("bind", config.bind_address)
      .Field("port", static_cast<int>(server.port()))
      .Field("version", FRAUDGUARD_VERSION)
      .Field("authentication", keys != nullptr);

  int signal_number = 0;
  while (true) {
    if (sigwait(&signals, &signal_number) != 0) {
      continue;
    }
    if (signal_number == SIGHUP) {
      LogInfo("reload_requested").Field("signal", "SIGHUP");
      (void)reload();
      continue;
    }
    break;
  }

  LogInfo("stopping").Field("signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  service.StartDraining();
  server.Stop();
  alerts.Stop();
  outbox->Stop();
  int exit_code = 0;
  if (auto status = feature_store->Close(); !status) {
    LogError("feature_state_close_failed").Field("error", status.error());
    exit_code = 1;
  }
  if (auto status = (*sli)->Close(); !status) {
    LogError("sli_close_failed").Field("error", status.error());
    exit_code = 1;
  }
  (*labels)->Close();
  if (auto status = (*other_model_decisions)->Close(); !status) {
    LogError("decision_log_close_failed").Field("error", status.error());
    exit_code = 1;
  }
  if (auto status = decision_log->Close(); !status) {
    LogError("decision_log_close_failed").Field("error", status.error());
    exit_code = 1;
  }
  const auto log_stats = decision_log->stats();
  LogInfo("stopped").Field("decisions_written", log_stats.written).Field("exit_code", exit_code);
  return exit_code;
}

}  // namespace fraudguard
