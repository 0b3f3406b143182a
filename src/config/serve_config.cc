#include "config/serve_config.h"

#include <arpa/inet.h>

#include <array>
#include <functional>
#include <map>

#include <yaml-cpp/yaml.h>

namespace fraudguard {
namespace {

// Reads a scalar of type T from `node`, naming `key` in the error.
template <typename T>
Status ReadScalar(const YAML::Node& node, const std::string& key, T& out) {
  if (!node.IsScalar()) {
    return Error{"config key '" + key + "': expected a single value"};
  }
  try {
    out = node.as<T>();
  } catch (const YAML::Exception&) {
    return Error{"config key '" + key + "': '" + node.Scalar() + "' is not a valid " +
                 (std::is_same_v<T, std::string> ? "string" : "number")};
  }
  return OkStatus();
}

using Setter = std::function<Status(const YAML::Node&, const std::string&)>;

template <typename T>
Setter Bind(T& field) {
  return [&field](const YAML::Node& node, const std::string& key) {
    return ReadScalar(node, key, field);
  };
}

// Walks a mapping, dispatching each key to its setter; unknown keys are errors.
Status ApplySection(const YAML::Node& section,
                    const std::string& prefix,
                    const std::map<std::string, Setter>& setters,
                    const std::map<std::string, std::map<std::string, Setter>>& subsections) {
  if (!section.IsMap()) {
    return Error{"config key '" + (prefix.empty() ? std::string("(top level)") : prefix) +
                 "': expected a mapping"};
  }
  for (const auto& item : section) {
    const std::string name = item.first.as<std::string>();
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    if (const auto it = setters.find(name); it != setters.end()) {
      if (auto status = it->second(item.second, key); !status) {
        return status;
      }
    } else if (const auto sub = subsections.find(name); sub != subsections.end()) {
      if (auto status = ApplySection(item.second, key, sub->second, {}); !status) {
        return status;
      }
    } else {
      return Error{"config key '" + key + "': unknown key"};
    }
  }
  return OkStatus();
}

}  // namespace

Status LoadServeConfigFile(const std::string& path, ServeConfig& config) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{"config file '" + path + "': cannot be read"};
  } catch (const YAML::ParserException& e) {
    return Error{"config file '" + path + "': invalid YAML at line " +
                 std::to_string(e.mark.line + 1) + ": " + e.msg};
  }
  if (root.IsNull()) {
    return OkStatus();
  }
  const std::map<std::string, Setter> top = {
      {"data_dir", Bind(config.data_dir)},
      {"model", Bind(config.model_path)},
      {"rules", Bind(config.rules_path)},
      {"keys", Bind(config.keys_path)},
      {"log_level", Bind(config.log_level)},
      {"slo_config", Bind(config.slo_config_path)},
      {"canary_config", Bind(config.canary_config_path)},
      {"alert_rules", Bind(config.alert_rules_path)},
      {"playbooks", Bind(config.playbooks_path)},
      {"notifications", Bind(config.notifications_path)},
  };
  const std::map<std::string, std::map<std::string, Setter>> sections = {
      {"server",
       {{"bind", Bind(config.bind_address)},
        {"port", Bind(config.port)},
        {"threads", Bind(config.threads)},
        {"max_body_bytes", Bind(config.max_body_bytes)},
        {"max_batch_items", Bind(config.max_batch_items)},
        {"request_timeout_ms", Bind(config.request_timeout_ms)},
        {"idle_timeout_ms", Bind(config.idle_timeout_ms)},
        {"max_connections", Bind(config.max_connections)},
        {"drain_timeout_ms", Bind(config.drain_timeout_ms)}}},
      {"limits", {{"max_amount", Bind(config.max_amount)}}},
      {"features",
       {{"max_keys", Bind(config.feature_max_keys)},
        {"idle_eviction_hours", Bind(config.feature_idle_eviction_hours)},
        {"snapshot_interval_seconds", Bind(config.snapshot_interval_seconds)},
        {"max_pending_log_bytes", Bind(config.feature_max_pending_log_bytes)}}},
      {"decision_log",
       {{"batch_size", Bind(config.decision_batch_size)},
        {"flush_interval_ms", Bind(config.decision_flush_interval_ms)},
        {"queue_capacity", Bind(config.decision_queue_capacity)}}},
      {"drift",
       {{"window_minutes", Bind(config.drift_window_minutes)},
        {"alert_psi", Bind(config.drift_alert_psi)}}},
      {"capacity",
       {{"replica_requests_per_second", Bind(config.capacity_replica_requests_per_second)},
        {"benchmarks", Bind(config.capacity_benchmarks_path)},
        {"current_replicas", Bind(config.capacity_current_replicas)}}},
  };
  return ApplySection(root, "", top, sections);
}

bool IsLoopbackAddress(const std::string& address) {
  in_addr parsed{};
  return ::inet_pton(AF_INET, address.c_str(), &parsed) == 1 && address.rfind("127.", 0) == 0;
}

Status ValidateServeConfig(const ServeConfig& config) {
  const auto range = [](const std::string& key, int64_t value, int64_t low,
                        int64_t high) -> Status {
    if (value < low || value > high) {
      return Error{"config key '" + key + "': " + std::to_string(value) + " is outside " +
                   std::to_string(low) + ".." + std::to_string(high)};
    }
    return OkStatus();
  };
  const std::pair<const char*, std::array<int64_t, 3>> checks[] = {
      {"server.port", {config.port, 0, 65535}},
      {"server.threads", {config.threads, 1, 256}},
      {"server.max_body_bytes", {config.max_body_bytes, 1024, 64LL << 20}},
      {"server.max_batch_items", {config.max_batch_items, 1, 100000}},
      {"server.request_timeout_ms", {config.request_timeout_ms, 10, 3600000}},
      {"server.idle_timeout_ms", {config.idle_timeout_ms, 10, 86400000}},
      {"server.max_connections", {config.max_connections, 1, 1000000}},
      {"server.drain_timeout_ms", {config.drain_timeout_ms, 0, 600000}},
      {"features.max_keys", {config.feature_max_keys, 1, 1'000'000'000}},
      {"features.idle_eviction_hours", {config.feature_idle_eviction_hours, 1, 24 * 3650}},
      {"features.snapshot_interval_seconds", {config.snapshot_interval_seconds, 1, 86400}},
      {"features.max_pending_log_bytes", {config.feature_max_pending_log_bytes, 4096, 1LL << 30}},
      {"decision_log.batch_size", {config.decision_batch_size, 1, 100000}},
      {"decision_log.flush_interval_ms", {config.decision_flush_interval_ms, 1, 60000}},
      {"decision_log.queue_capacity", {config.decision_queue_capacity, 1, 100'000'000}},
      // Whole multiples of the 5 minute step the window moves in, up to a week.
      {"drift.window_minutes", {config.drift_window_minutes, 5, 7 * 24 * 60}},
      {"capacity.current_replicas", {config.capacity_current_replicas, 1, 10000}},
      {"--testing-added-latency-ms", {config.testing_added_latency_ms, 0, 10000}},
  };
  for (const auto& [key, values] : checks) {
    if (auto status = range(key, values[0], values[1], values[2]); !status) {
      return status;
    }
  }
  if (!(config.max_amount > 0) || config.max_amount > 1e15) {
    return Error{"config key 'limits.max_amount': must be positive and at most 1e15"};
  }
  if (config.drift_window_minutes % 5 != 0) {
    return Error{"config key 'drift.window_minutes': must be a multiple of 5"};
  }
  if (!(config.drift_alert_psi > 0) || config.drift_alert_psi > 10) {
    return Error{"config key 'drift.alert_psi': must be above 0 and at most 10"};
  }
  if (!(config.capacity_replica_requests_per_second >= 0) ||
      config.capacity_replica_requests_per_second > 1e9) {
    return Error{
        "config key 'capacity.replica_requests_per_second': must be from 0 (the benchmark "
        "figure) to 1e9"};
  }
  if (!(config.testing_error_ratio >= 0 && config.testing_error_ratio <= 1)) {
    return Error{"config key '--testing-error-ratio': must be from 0 to 1"};
  }
  if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warn" &&
      config.log_level != "error") {
    return Error{"config key 'log_level': '" + config.log_level +
                 "' is not one of debug, info, warn, error"};
  }
  if (config.data_dir.empty()) {
    return Error{"config key 'data_dir': must not be empty"};
  }
  if (config.model_path.empty()) {
    return Error{"config key 'model': must not be empty"};
  }
  // The server listens on IPv4 only; a name or an IPv6 address would fail later, at bind.
  if (in_addr parsed{}; ::inet_pton(AF_INET, config.bind_address.c_str(), &parsed) != 1) {
    return Error{"config key 'server.bind': '" + config.bind_address +
                 "' is not an IPv4 address such as 127.0.0.1 or 0.0.0.0"};
  }
  if (config.keys_path.empty() && !IsLoopbackAddress(config.bind_address)) {
    return Error{"config key 'keys': binding to " + config.bind_address +
                 " (not loopback) requires a keys file; create one with 'fraudguard keys add'"};
  }
  return OkStatus();
}

}  // namespace fraudguard
