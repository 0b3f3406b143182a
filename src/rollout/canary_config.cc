#include "rollout/canary_config.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace fraudguard::rollout {
namespace {

constexpr size_t kMaxPhases = 16;
constexpr int64_t kLongestPhaseMillis = 7LL * 24 * 3600 * 1000;

// The same numbers as config/canary.yaml (a unit test keeps the two equal).
constexpr const char* kDefaultYaml = R"yaml(
judge:
  confidence: 0.98
  pass_score: 95
  marginal_score: 75
groups:
  errors: 50
  latency: 40
  decisions: 10
metrics:
  - name: error_rate
    group: errors
    direction: increase
    critical: true
  - name: latency_p50_ms
    group: latency
    direction: increase
    allowed_increase: 1.25
    min_change: 2
  - name: latency_p95_ms
    group: latency
    direction: increase
    allowed_increase: 1.25
    min_change: 5
    critical: true
  - name: latency_p99_ms
    group: latency
    direction: increase
    allowed_increase: 1.5
    min_change: 10
  - name: flagged_rate
    group: decisions
    direction: either
    allowed_increase: 1.5
    allowed_decrease: 0.67
    min_change: 0.05
phases:
  - traffic_percent: 5
    duration: "10 minutes"
    success_criteria: {max_error_rate: 0.01, max_p95_ms: 100}
  - traffic_percent: 25
    duration: "20 minutes"
    success_criteria: {max_error_rate: 0.01, max_p95_ms: 100}
  - traffic_percent: 100
    duration: stable
)yaml";

bool ParseMetricName(std::string_view name, CanaryMetric& out) {
  for (size_t i = 0; i < kCanaryMetricCount; ++i) {
    if (CanaryMetricName(static_cast<CanaryMetric>(i)) == name) {
      out = static_cast<CanaryMetric>(i);
      return true;
    }
  }
  return false;
}

std::string MetricNames() {
  std::string names;
  for (size_t i = 0; i < kCanaryMetricCount; ++i) {
    names += (i == 0 ? "" : ", ") + std::string(CanaryMetricName(static_cast<CanaryMetric>(i)));
  }
  return names;
}

// Reads a number within [low, high]; errors name `key`.
Status ReadNumber(
    const YAML::Node& node, const std::string& key, double low, double high, double& out) {
  if (!node.IsScalar()) {
    return Error{"canary config key '" + key + "': expected a number"};
  }
  try {
    out = node.as<double>();
  } catch (const YAML::Exception&) {
    return Error{"canary config key '" + key + "': '" + node.Scalar() + "' is not a number"};
  }
  if (!std::isfinite(out) || out < low || out > high) {
    std::ostringstream range;
    range << low << ".." << high;
    return Error{"canary config key '" + key + "': " + node.Scalar() + " is outside " +
                 range.str()};
  }
  return OkStatus();
}

Status CheckKeys(const YAML::Node& node,
                 const std::string& key,
                 const std::set<std::string>& allowed) {
  if (!node.IsMap()) {
    return Error{"canary config key '" + key + "': expected a mapping"};
  }
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    if (allowed.count(name) == 0) {
      return Error{"canary config key '" + (key.empty() ? name : key + "." + name) +
                   "': unknown key"};
    }
  }
  return OkStatus();
}

Status ParseMetric(const YAML::Node& node, const std::string& key, MetricCriterion& out) {
  if (auto status = CheckKeys(node, key,
                              {"name", "group", "direction", "allowed_increase", "allowed_decrease",
                               "min_change", "critical"});
      !status) {
    return status;
  }
  if (!node["name"] || !node["name"].IsScalar() ||
      !ParseMetricName(node["name"].Scalar(), out.metric)) {
    return Error{"canary config key '" + key + ".name': must be one of " + MetricNames()};
  }
  if (!node["group"] || !node["group"].IsScalar() || node["group"].Scalar().empty()) {
    return Error{"canary config key '" + key + ".group': a group name is required"};
  }
  out.group = node["group"].Scalar();
  if (node["direction"]) {
    const std::string direction = node["direction"].IsScalar() ? node["direction"].Scalar() : "";
    if (direction == "increase") {
      out.direction = Direction::kIncrease;
    } else if (direction == "decrease") {
      out.direction = Direction::kDecrease;
    } else if (direction == "either") {
      out.direction = Direction::kEither;
    } else {
      return Error{"canary config key '" + key +
                   ".direction': must be increase, decrease or either"};
    }
  }
  if (node["allowed_increase"]) {
    if (auto status = ReadNumber(node["allowed_increase"], key + ".allowed_increase", 1, 1000,
                                 out.allowed_increase);
        !status) {
      return status;
    }
  }
  if (node["allowed_decrease"]) {
    if (auto status = ReadNumber(node["allowed_decrease"], key + ".allowed_decrease", 0, 1,
                                 out.allowed_decrease);
        !status) {
      return status;
    }
  }
  if (node["min_change"]) {
    if (auto status = ReadNumber(node["min_change"], key + ".min_change", 0, 1e9, out.min_change);
        !status) {
      return status;
    }
  }
  if (node["critical"]) {
    try {
      out.critical = node["critical"].as<bool>();
    } catch (const YAML::Exception&) {
      return Error{"canary config key '" + key + ".critical': expected true or false"};
    }
  }
  return OkStatus();
}

Status ParsePhase(const YAML::Node& node, const std::string& key, CanaryPhase& out) {
  if (auto status = CheckKeys(node, key, {"traffic_percent", "duration", "success_criteria"});
      !status) {
    return status;
  }
  double percent = 0;
  if (!node["traffic_percent"]) {
    return Error{"canary config key '" + key + ".traffic_percent': required"};
  }
  if (auto status = ReadNumber(node["traffic_percent"], key + ".traffic_percent", 1, 100, percent);
      !status) {
    return status;
  }
  out.traffic_percent = static_cast<int>(percent);
  if (!node["duration"] || !node["duration"].IsScalar()) {
    return Error{"canary config key '" + key + ".duration': required, e.g. \"10 minutes\""};
  }
  if (node["duration"].Scalar() == "stable") {
    out.duration_ms = 0;
  } else {
    auto duration = ParseDurationMillis(node["duration"].Scalar());
    if (!duration || *duration <= 0 || *duration > kLongestPhaseMillis) {
      return Error{
          "canary config key '" + key + ".duration': " +
          (duration ? std::string("must be more than 0 and at most 7 days") : duration.error()) +
          " (or \"stable\" for the last phase)"};
    }
    out.duration_ms = *duration;
  }
  if (const YAML::Node criteria = node["success_criteria"]) {
    const std::string criteria_key = key + ".success_criteria";
    if (auto status = CheckKeys(criteria, criteria_key, {"max_error_rate", "max_p95_ms"});
        !status) {
      return status;
    }
    if (criteria["max_error_rate"]) {
      if (auto status = ReadNumber(criteria["max_error_rate"], criteria_key + ".max_error_rate", 0,
                                   1, out.max_error_rate);
          !status) {
        return status;
      }
    }
    if (criteria["max_p95_ms"]) {
      if (auto status = ReadNumber(criteria["max_p95_ms"], criteria_key + ".max_p95_ms", 0.001,
                                   600000, out.max_p95_ms);
          !status) {
        return status;
      }
    }
  }
  return OkStatus();
}

}  // namespace

std::string_view CanaryMetricName(CanaryMetric metric) {
  switch (metric) {
    case CanaryMetric::kErrorRate:
      return "error_rate";
    case CanaryMetric::kLatencyP50:
      return "latency_p50_ms";
    case CanaryMetric::kLatencyP95:
      return "latency_p95_ms";
    case CanaryMetric::kLatencyP99:
      return "latency_p99_ms";
    case CanaryMetric::kFlaggedRate:
      return "flagged_rate";
  }
  return "error_rate";
}

Result<int64_t> ParseDurationMillis(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) {
    return Error{"'" + std::string(text) + "' is not a duration such as 500ms, 30s or 10m"};
  }
  std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  while (!unit.empty() && std::isspace(static_cast<unsigned char>(unit.front()))) {
    unit.remove_prefix(1);
  }
  double scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s" || unit == "second" || unit == "seconds") {
    scale = 1000;
  } else if (unit == "m" || unit == "minute" || unit == "minutes") {
    scale = 60'000;
  } else if (unit == "h" || unit == "hour" || unit == "hours") {
    scale = 3'600'000;
  } else {
    return Error{"'" + std::string(text) + "' has no unit of ms, s, m or h"};
  }
  if (value * scale > 1e15) {
    return Error{"'" + std::string(text) + "' is too long"};
  }
  return static_cast<int64_t>(std::llround(value * scale));
}

Result<CanaryConfig> ParseCanaryConfig(const std::string& yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    return Error{"canary config: invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " +
                 e.msg};
  }
  CanaryConfig config;
  if (auto status = CheckKeys(root, "", {"judge", "groups", "metrics", "phases"}); !status) {
    return Error{status.error()};
  }
  if (const YAML::Node judge = root["judge"]) {
    if (auto status = CheckKeys(judge, "judge", {"confidence", "pass_score", "marginal_score"});
        !status) {
      return Error{status.error()};
    }
    if (judge["confidence"]) {
      if (auto status =
              ReadNumber(judge["confidence"], "judge.confidence", 0.5, 0.9999, config.confidence);
          !status) {
        return Error{status.error()};
      }
    }
    if (judge["pass_score"]) {
      if (auto status =
              ReadNumber(judge["pass_score"], "judge.pass_score", 0, 100, config.pass_score);
          !status) {
        return Error{status.error()};
      }
    }
    if (judge["marginal_score"]) {
      if (auto status = ReadNumber(judge["marginal_score"], "judge.marginal_score", 0, 100,
                                   config.marginal_score);
          !status) {
        return Error{status.error()};
      }
    }
    if (config.marginal_score > config.pass_score) {
      return Error{"canary config key 'judge.marginal_score': must not exceed judge.pass_score"};
    }
  }
  const YAML::Node groups = root["groups"];
  if (!groups || !groups.IsMap() || groups.size() == 0) {
    return Error{"canary config key 'groups': a mapping of group name to weight is required"};
  }
  double total_weight = 0;
  for (const auto& item : groups) {
    const std::string name = item.first.as<std::string>();
    double weight = 0;
    if (auto status = ReadNumber(item.second, "groups." + name, 0, 100, weight); !status) {
      return Error{status.error()};
    }
    config.group_weights.emplace_back(name, weight);
    total_weight += weight;
  }
  if (std::fabs(total_weight - 100) > 1e-9) {
    return Error{"canary config key 'groups': the weights add up to " +
                 std::to_string(total_weight) + ", not 100"};
  }
  const YAML::Node metrics = root["metrics"];
  if (!metrics || !metrics.IsSequence() || metrics.size() == 0) {
    return Error{"canary config key 'metrics': a list of metrics is required"};
  }
  std::set<CanaryMetric> seen;
  for (size_t i = 0; i < metrics.size(); ++i) {
    const std::string key = "metrics[" + std::to_string(i) + "]";
    MetricCriterion criterion;
    if (auto status = ParseMetric(metrics[i], key, criterion); !status) {
      return Error{status.error()};
    }
    if (!seen.insert(criterion.metric).second) {
      return Error{"canary config key '" + key + ".name': " +
                   std::string(CanaryMetricName(criterion.metric)) + " is listed twice"};
    }
    bool known_group = false;
    for (const auto& [name, weight] : config.group_weights) {
      known_group = known_group || name == criterion.group;
    }
    if (!known_group) {
      return Error{"canary config key '" + key + ".group': '" + criterion.group +
                   "' is not in groups"};
    }
    config.metrics.push_back(criterion);
  }
  const YAML::Node phases = root["phases"];
  if (!phases || !phases.IsSequence() || phases.size() == 0 || phases.size() > kMaxPhases) {
    return Error{"canary config key 'phases': a list of 1 to " + std::to_string(kMaxPhases) +
                 " phases is required"};
  }
  for (size_t i = 0; i < phases.size(); ++i) {
    const std::string key = "phases[" + std::to_string(i) + "]";
    CanaryPhase phase;
    if (auto status = ParsePhase(phases[i], key, phase); !status) {
      return Error{status.error()};
    }
    if (!config.phases.empty() && phase.traffic_percent <= config.phases.back().traffic_percent) {
      return Error{"canary config key '" + key +
                   ".traffic_percent': each phase must send more traffic than the one before"};
    }
    const bool last = i + 1 == phases.size();
    if (last != (phase.traffic_percent == 100)) {
      return Error{"canary config key '" + key +
                   ".traffic_percent': the last phase, and only it, takes 100 %"};
    }
    if (!last && phase.duration_ms == 0) {
      return Error{"canary config key '" + key + ".duration': only the last phase is stable"};
    }
    config.phases.push_back(phase);
  }
  return config;
}

Result<CanaryConfig> LoadCanaryConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{"canary config file '" + path + "': cannot be read"};
  }
  std::stringstream text;
  text << in.rdbuf();
  auto config = ParseCanaryConfig(text.str());
  if (!config) {
    return Error{path + ": " + config.error()};
  }
  return config;
}

CanaryConfig DefaultCanaryConfig() {
  auto config = ParseCanaryConfig(kDefaultYaml);
  return config ? std::move(config).value() : CanaryConfig{};
}

}  // namespace fraudguard::rollout
