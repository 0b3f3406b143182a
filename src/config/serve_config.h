// Configuration of `fraudguard serve`: read from a YAML file, then overridden by flags.
// Unknown keys and out-of-range values are refused with a message naming the key, so that a
// typo cannot silently fall back to a default.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"

namespace fraudguard {

struct ServeConfig {
  // server
  std::string bind_address = "127.0.0.1";
  int port = 8080;
  int threads = 2;
  int64_t max_body_bytes = 1 << 20;
  int64_t max_batch_items = 1000;
  int64_t request_timeout_ms = 10000;
  int64_t idle_timeout_ms = 60000;
  int64_t max_connections = 10000;
  int64_t drain_timeout_ms = 5000;

  // files
  std::string data_dir = "data";
  std::string model_path = "models/default.json";
  std::string rules_path = "config/rules.yaml";
  std::string keys_path;  // empty: no authentication (allowed on loopback only)
  std::string log_level = "info";
  // Phases and judge settings of in-service model rollouts; empty: the built-in ones (the same
  // as config/canary.yaml).
  std::string canary_config_path;
  std::string slo_config_path;     // empty: the built-in SLOs (the same as config/slo.yaml)
  std::string alert_rules_path;    // empty: the built-in rules (the same as config/alerts.yaml)
  std::string playbooks_path;      // empty: the built-in playbooks (config/playbooks.yaml)
  std::string notifications_path;  // empty: no outgoing incident webhooks

  // transactions
  double max_amount = 1e9;  // larger amounts are refused as absurd

  // feature state
  int64_t feature_max_keys = 5'000'000;
  int64_t feature_idle_eviction_hours = 35 * 24;
  int64_t snapshot_interval_seconds = 60;
  // per worker, while feature log writes fail
  int64_t feature_max_pending_log_bytes = 16LL << 20;

  // decision log
  int64_t decision_batch_size = 512;
  int64_t decision_flush_interval_ms = 50;
  int64_t decision_queue_capacity = 200'000;

  // model drift (population stability index against the model's validation reference)
  int64_t drift_window_minutes = 60;
  double drift_alert_psi = 0.05;
  // capacity view (GET /api/v1/capacity): what one replica sustains, in requests/s. 0 means the
  // measured figure of the `fraudguard serve` row in `capacity_benchmarks_path` (the page
  // bench/run.sh writes, as `fraudguard capacity forecast` reads it); the view has no
  // recommendation when neither is there.
  double capacity_replica_requests_per_second = 0;
  std::string capacity_benchmarks_path = "docs/benchmarks.md";
  int64_t capacity_current_replicas = 1;  // replicas running today, for today's capacity
  // Test-only faults, off by default and settable by flags only (never from the YAML file), so
  // that the validation and canary tests can run a server made worse on purpose. They apply to
  // the two scoring routes: every request waits `testing_added_latency_ms` more, and that share
  // of requests is answered 500 "injected_fault" without being scored.
  int64_t testing_added_latency_ms = 0;
  double testing_error_ratio = 0.0;
};

// Reads `path` over the defaults in `config`. Errors name the key and the problem.
Status LoadServeConfigFile(const std::string& path, ServeConfig& config);
// Checks ranges and combinations (for example a public bind address without a keys file).
Status ValidateServeConfig(const ServeConfig& config);
// True when the address is a loopback address (127.0.0.0/8, ::1 or "localhost").
bool IsLoopbackAddress(const std::string& address);

}  // namespace fraudguard
