#include "incidents/alert_rules.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "slo/error_budget.h"

namespace fraudguard {
namespace {

// The same text as config/alerts.yaml (a unit test keeps the two equal).
constexpr const char* kDefaultYaml =
    R"yaml(# FraudGuard's built-in alert rules (measurements: see src/incidents/alert_rules.h).
evaluation_interval: 15s
slo_burn_rate_alerts: true
rules:
  # The specification's four alert rules.
  - name: FraudAPIHighErrorRate
    condition: "error_ratio(5m) > 0.05"
    for: 2m
    labels: {severity: critical, service: fraud-api}
    annotations:
      summary: "High error rate on fraud API"
      description: "Error rate is {{ $value | humanizePercentage }} for the last 5 minutes"
  - name: FraudAPIHighLatency
    condition: "latency_p95(5m) > 0.1"
    for: 5m
    labels: {severity: warning, service: fraud-api}
    annotations:
      summary: "High latency on fraud API"
      description: "95th percentile latency is {{ $value }}s"
  - name: MLModelAccuracyDrop
    condition: "model_accuracy < 0.9"
    for: 10m
    labels: {severity: warning, service: ml-inference}
    annotations:
      summary: "ML model accuracy degraded"
      description: "Model accuracy dropped to {{ $value | humanizePercentage }}"
  # FraudGuard has no database connection pool (SQLite is in the process); the pool that can
  # run out is the HTTP server's, bounded by max_connections.
  - name: ConnectionPoolExhausted
    condition: "connection_usage > 0.9"
    for: 1m
    labels: {severity: critical, service: fraud-api}
    annotations:
      summary: "Connection pool nearly exhausted"
      description: "{{ $value | humanizePercentage }} of connections are in use"
  # Not one of the specification's four: its drift threshold (under 5 %) as an alert.
  - name: MLModelDrift
    condition: "model_drift > 0.05"
    for: 30m
    labels: {severity: warning, service: ml-inference}
    annotations:
      summary: "Traffic has drifted from the model's validation period"
      description: "Population stability index of the risk score is {{ $value }}"
  # The fraud API outage playbook's trigger conditions.
  - name: FraudAPIAvailabilityLow
    condition: "availability(5m) < 0.95"
    for: 5m
    labels: {severity: critical, service: fraud-api}
    annotations:
      summary: "Fraud API availability below 95%"
      description: "Availability is {{ $value | humanizePercentage }} over 5 minutes"
  - name: FraudAPIOutageErrorRate
    condition: "error_ratio(1m) > 0.5"
    for: 2m
    labels: {severity: critical, service: fraud-api}
    annotations:
      summary: "Fraud API failing most requests"
      description: "Error rate is {{ $value | humanizePercentage }} over the last minute"
  - name: FraudAPINoSuccessfulRequests
    condition: "successful_requests(1m) == 0 and requests(1m) > 0"
    for: 1m
    labels: {severity: critical, service: fraud-api}
    annotations:
      summary: "Fraud API answers no request successfully"
      description: "No successful request in the last minute"
)yaml";

struct MeasurementName {
  const char* name;
  Measurement measurement;
  bool windowed;
};
constexpr MeasurementName kMeasurements[] = {
    {"requests", Measurement::kRequests, true},
    {"successful_requests", Measurement::kSuccessfulRequests, true},
    {"error_ratio", Measurement::kErrorRatio, true},
    {"availability", Measurement::kAvailability, true},
    {"latency_p50", Measurement::kLatencyP50, true},
    {"latency_p95", Measurement::kLatencyP95, true},
    {"latency_p99", Measurement::kLatencyP99, true},
    {"model_accuracy", Measurement::kModelAccuracy, false},
    {"connection_usage", Measurement::kConnectionUsage, false},
    {"model_drift", Measurement::kModelDrift, false},
    {"burn_rate", Measurement::kBurnRate, true},
};

std::string Trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.erase(text.begin());
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.pop_back();
  }
  return text;
}

// "5m", "2h", "1d", "30s" (whole minutes only for windows) into milliseconds.
bool ParseDurationMs(const std::string& text, int64_t& ms) {
  if (text.size() < 2) {
    return false;
  }
  int64_t count = 0;
  const char* end = text.data() + text.size() - 1;
  const auto [stop, error] = std::from_chars(text.data(), end, count);
  if (error != std::errc() || stop != end || count < 0 || count > 400LL * 24 * 60) {
    return false;
  }
  switch (text.back()) {
    case 's':
      ms = count * 1000;
      return true;
    case 'm':
      ms = count * 60'000;
      return true;
    case 'h':
      ms = count * 3'600'000;
      return true;
    case 'd':
      ms = count * 86'400'000;
      return true;
    default:
      return false;
  }
}

Result<Comparison> ParseComparison(std::string text) {
  text = Trim(std::move(text));
  size_t name_end = 0;
  while (name_end < text.size() &&
         (std::isalnum(static_cast<unsigned char>(text[name_end])) || text[name_end] == '_')) {
    ++name_end;
  }
  const std::string name = text.substr(0, name_end);
  const MeasurementName* found = nullptr;
  for (const MeasurementName& candidate : kMeasurements) {
    if (name == candidate.name) {
      found = &candidate;
    }
  }
  if (found == nullptr) {
    return Error{"unknown measurement '" + name +
                 "'; known: requests, successful_requests, error_ratio, availability, "
                 "latency_p50, latency_p95, latency_p99, model_accuracy, connection_usage, "
                 "model_drift, burn_rate"};
  }
  Comparison comparison;
  comparison.measurement = found->measurement;
  std::string rest = Trim(text.substr(name_end));
  if (found->windowed) {
    const size_t close = rest.find(')');
    if (rest.empty() || rest[0] != '(' || close == std::string::npos) {
      return Error{"'" + name + "' needs a window, e.g. " + name +
                   (found->measurement == Measurement::kBurnRate ? "(slo_name, 1h)" : "(5m)")};
    }
    std::string args = rest.substr(1, close - 1);
    rest = Trim(rest.substr(close + 1));
    if (found->measurement == Measurement::kBurnRate) {
      const size_t comma = args.find(',');
      if (comma == std::string::npos) {
        return Error{"burn_rate needs an SLO name and a window, e.g. burn_rate(slo_name, 1h)"};
      }
      comparison.slo = Trim(args.substr(0, comma));
      args = args.substr(comma + 1);
    }
    int64_t ms = 0;
    args = Trim(args);
    if (!ParseDurationMs(args, ms) || ms % 60'000 != 0 || ms == 0 ||
        ms > kMaxRuleWindowMinutes * 60'000) {
      return Error{"window '" + args + "' of '" + name +
                   "' must be whole minutes from 1m to 3d, e.g. 5m"};
    }
    comparison.window_minutes = ms / 60'000;
    if (comparison.measurement == Measurement::kBurnRate) {
      bool known = false;
      for (int64_t window : kBurnRateWindowsMinutes) {
        known = known || window == comparison.window_minutes;
      }
      if (!known) {
        return Error{"burn_rate window '" + args + "' must be one of 5m 30m 1h 2h 6h 1d 3d"};
      }
    }
  }
  static const std::pair<const char*, CompareOp> kOps[] = {
      {">=", CompareOp::kGreaterEqual}, {"<=", CompareOp::kLessEqual}, {"==", CompareOp::kEqual},
      {"!=", CompareOp::kNotEqual},     {">", CompareOp::kGreater},    {"<", CompareOp::kLess}};
  bool op_found = false;
  for (const auto& [symbol, op] : kOps) {
    const std::string_view view(symbol);
    if (rest.compare(0, view.size(), view) == 0) {
      comparison.op = op;
      rest = Trim(rest.substr(view.size()));
      op_found = true;
      break;
    }
  }
  if (!op_found) {
    return Error{"expected one of > >= < <= == != after '" + name + "'"};
  }
  const char* end = rest.data() + rest.size();
  const auto [stop, error] = std::from_chars(rest.data(), end, comparison.threshold);
  if (rest.empty() || error != std::errc() || stop != end || !std::isfinite(comparison.threshold)) {
    return Error{"expected a number after the comparison of '" + name + "', found '" + rest + "'"};
  }
  return comparison;
}

class Parser {
public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  Result<AlertRulesConfig> Parse(const YAML::Node& root) const {
    if (!root.IsMap()) {
      return Fail("(top level)", "expected a map with 'rules'");
    }
    AlertRulesConfig config;
    for (const auto& item : root) {
      const std::string key = item.first.Scalar();
      const YAML::Node value = item.second;
      if (key == "evaluation_interval") {
        int64_t ms = 0;
        if (!value.IsScalar() || !ParseDurationMs(value.Scalar(), ms) || ms < 1000 ||
            ms > 600'000) {
          return Fail(key, "expected a duration from 1s to 10m, e.g. 15s");
        }
        config.evaluation_interval_ms = ms;
      } else if (key == "slo_burn_rate_alerts") {
        if (!value.IsScalar() || (value.Scalar() != "true" && value.Scalar() != "false")) {
          return Fail(key, "expected true or false");
        }
        config.slo_burn_rate_alerts = value.Scalar() == "true";
      } else if (key == "rules") {
        if (!value.IsSequence() || value.size() > kMaxAlertRules) {
          return Fail(key,
                      "expected a list of at most " + std::to_string(kMaxAlertRules) + " rules");
        }
        std::set<std::string> names;
        for (size_t i = 0; i < value.size(); ++i) {
          auto rule = ReadRule(value[i], "rules[" + std::to_string(i) + "]");
          if (!rule) {
            return Error{rule.error()};
          }
          if (!names.insert(rule->name).second) {
            return Fail("rules[" + std::to_string(i) + "].name",
                        "'" + rule->name + "' is defined twice");
          }
          config.rules.push_back(std::move(rule).value());
        }
      } else {
        return Fail(key, "unknown key");
      }
    }
    return config;
  }

private:
  Error Fail(const std::string& key, const std::string& problem) const {
    return Error{source_ + ": key '" + key + "': " + problem};
  }

  Status ReadMap(const YAML::Node& node,
                 const std::string& path,
                 std::map<std::string, std::string>& out) const {
    if (!node.IsMap() || node.size() > kMaxLabelCount) {
      return Fail(path, "expected a map of at most " + std::to_string(kMaxLabelCount) + " texts");
    }
    for (const auto& item : node) {
      if (!item.second.IsScalar() || item.first.Scalar().empty() ||
          item.second.Scalar().size() > kMaxLabelBytes) {
        return Fail(path + "." + item.first.Scalar(), "expected a text of at most 1024 bytes");
      }
      out[item.first.Scalar()] = item.second.Scalar();
    }
    return OkStatus();
  }

  Result<AlertRule> ReadRule(const YAML::Node& node, const std::string& prefix) const {
    if (!node.IsMap()) {
      return Fail(prefix, "expected a map");
    }
    AlertRule rule;
    for (const auto& item : node) {
      const std::string key = item.first.Scalar();
      const std::string path = prefix + "." + key;
      const YAML::Node value = item.second;
      if (key == "name") {
        if (!value.IsScalar() || value.Scalar().empty() || value.Scalar().size() > 128) {
          return Fail(path, "expected a name of 1 to 128 characters");
        }
        rule.name = value.Scalar();
      } else if (key == "condition") {
        if (!value.IsScalar() || value.Scalar().size() > 1024) {
          return Fail(path, "expected a condition such as \"error_ratio(5m) > 0.05\"");
        }
        rule.condition = value.Scalar();
        auto parsed = ParseCondition(rule.condition);
        if (!parsed) {
          return Fail(path, parsed.error());
        }
        rule.comparisons = std::move(parsed).value();
      } else if (key == "for") {
        if (!value.IsScalar() || !ParseDurationMs(value.Scalar(), rule.for_ms) ||
            rule.for_ms > 86'400'000) {
          return Fail(path, "expected a duration of at most 1d, e.g. 2m");
        }
      } else if (key == "labels" || key == "annotations") {
        if (auto status = ReadMap(value, path, key == "labels" ? rule.labels : rule.annotations);
            !status) {
          return Error{status.error()};
        }
      } else {
        return Fail(path, "unknown key");
      }
    }
    if (rule.name.empty()) {
      return Fail(prefix + ".name", "missing");
    }
    if (rule.comparisons.empty()) {
      return Fail(prefix + ".condition", "missing");
    }
    return rule;
  }

  std::string source_;
};

std::string FormatNumber(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

}  // namespace

bool Comparison::Holds(double value) const {
  if (std::isnan(value)) {
    return false;
  }
  switch (op) {
    case CompareOp::kGreater:
      return value > threshold;
    case CompareOp::kGreaterEqual:
      return value >= threshold;
    case CompareOp::kLess:
      return value < threshold;
    case CompareOp::kLessEqual:
      return value <= threshold;
    case CompareOp::kEqual:
      return value == threshold;
    case CompareOp::kNotEqual:
      return value != threshold;
  }
  return false;
}

Result<std::vector<Comparison>> ParseCondition(const std::string& text) {
  std::vector<Comparison> comparisons;
  size_t start = 0;
  while (true) {
    const size_t split = text.find(" and ", start);
    auto comparison =
        ParseComparison(text.substr(start, split == std::string::npos ? split : split - start));
    if (!comparison) {
      return Error{comparison.error()};
    }
    comparisons.push_back(std::move(comparison).value());
    if (split == std::string::npos) {
      break;
    }
    if (comparisons.size() >= 8) {
      return Error{"at most 8 comparisons in a condition"};
    }
    start = split + 5;
  }
  return comparisons;
}

Result<AlertRulesConfig> ParseAlertRules(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& error) {
    return Error{source + ": not valid YAML: " + error.what()};
  }
  return Parser(source).Parse(root);
}

Result<AlertRulesConfig> LoadAlertRulesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Error{path + ": cannot be read"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return ParseAlertRules(text.str(), path);
}

const char* DefaultAlertRulesYaml() {
  return kDefaultYaml;
}

AlertRulesConfig DefaultAlertRules() {
  auto parsed = ParseAlertRules(kDefaultYaml, "built-in alert rules");
  return parsed ? std::move(parsed).value() : AlertRulesConfig{};
}

std::vector<AlertRule> BurnRateRules(const std::vector<SloDefinition>& slos) {
  struct Level {
    const char* suffix;
    const char* severity;
    int64_t long_minutes;
    int64_t short_minutes;
    double budget_share;
  };
  static constexpr Level kLevels[] = {{"Page", "critical", 60, 5, 0.02},
                                      {"Ticket", "high", 360, 30, 0.05}};
  std::vector<AlertRule> rules;
  for (const SloDefinition& slo : slos) {
    for (const Level& level : kLevels) {
      // budget share x SLO window / long window: 0.02 x 30 d / 1 h = 14.4.
      const double factor = level.budget_share * static_cast<double>(slo.window_minutes) /
                            static_cast<double>(level.long_minutes);
      AlertRule rule;
      rule.name = std::string("SLOBurnRate") + level.suffix;
      for (int64_t window : {level.long_minutes, level.short_minutes}) {
        Comparison comparison;
        comparison.measurement = Measurement::kBurnRate;
        comparison.slo = slo.name;
        comparison.window_minutes = window;
        comparison.op = CompareOp::kGreater;
        comparison.threshold = factor;
        rule.comparisons.push_back(comparison);
      }
      rule.condition = "burn_rate(" + slo.name + ", " + std::to_string(level.long_minutes) +
                       "m) > " + FormatNumber("%g", factor) + " and burn_rate(" + slo.name + ", " +
                       std::to_string(level.short_minutes) + "m) > " + FormatNumber("%g", factor);
      rule.labels = {{"severity", level.severity}, {"service", "fraud-api"}, {"slo", slo.name}};
      rule.annotations = {
          {"summary", "SLO " + slo.name + " is burning its error budget"},
          {"description", "Burn rate is {{ $value }} over " + std::to_string(level.long_minutes) +
                              "m (alerting above " + FormatNumber("%g", factor) + ")"}};
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

std::string RenderTemplate(const std::string& text,
                           double value,
                           const std::map<std::string, std::string>& labels) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string::npos) {
      out += text.substr(pos);
      break;
    }
    const size_t close = text.find("}}", open);
    if (close == std::string::npos) {
      out += text.substr(pos);
      break;
    }
    out += text.substr(pos, open - pos);
    const std::string expression = Trim(text.substr(open + 2, close - open - 2));
    if (expression == "$value") {
      out += FormatNumber("%.4g", value);
    } else if (expression == "$value | humanize") {
      out += FormatNumber("%.4g", value);
    } else if (expression == "$value | humanizePercentage") {
      out += FormatNumber("%.4g", value * 100.0) + "%";
    } else if (expression.rfind("$labels.", 0) == 0) {
      auto found = labels.find(expression.substr(8));
      out += found != labels.end() ? found->second : "";
    } else {
      out += text.substr(open, close + 2 - open);  // unknown: left as written
    }
    pos = close + 2;
  }
  return out;
}

}  // namespace fraudguard
