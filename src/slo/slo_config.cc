#include "slo/slo_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinutesPerDay = 24 * 60;
constexpr int64_t kShortestWindowMinutes = 60;
constexpr int64_t kLongestWindowMinutes = 400 * kMinutesPerDay;
constexpr size_t kMaxRoutesPerSection = 32;

// The same numbers as config/slo.yaml (a unit test keeps the two equal).
constexpr const char* kDefaultYaml = R"yaml(
fraud_detection_api_slos:
  routes: ["/api/v1/fraud/analyze", "/api/v1/fraud/analyze/batch"]
  availability:
    target: 99.99%
    measurement_window: "30 days"
    error_budget: 4.32 minutes per month
    budgeting: time_slices
    time_slice_target: 99.99%
  latency:
    p50: "10ms"
    p95: "50ms"
    p99: "100ms"
    measurement_window: "7 days"
dashboard_slos:
  routes:
    - "/api/v1/fraud/decisions/{transaction_id}"
    - "/api/v1/features/{entity}/{id}"
    - "/api/v1/health"
    - "/api/v1/slo"
    - "/api/v1/slo/{name}"
    - "/api/v1/capacity"
    - "/api/v1/history"
    - "/dashboard"
  availability: 99.95%
  query_response_time: "<500ms p95"
  measurement_window: "30 days"
)yaml";

std::string_view Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

// Reads a leading decimal number; the rest of the text is left in `text`.
bool TakeNumber(std::string_view& text, double& value) {
  text = Trim(text);
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop == text.data() || !std::isfinite(value)) {
    return false;
  }
  text.remove_prefix(static_cast<size_t>(stop - text.data()));
  text = Trim(text);
  return true;
}

bool NearlyEqual(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

class Parser {
public:
  Parser(std::string source, const std::vector<std::string>& known_routes)
      : source_(std::move(source)), known_routes_(known_routes) {}

  Result<SloConfig> Parse(const YAML::Node& root);

private:
  Error Fail(const std::string& key, const std::string& problem) const {
    return Error{source_ + ": key '" + key + "': " + problem};
  }
  Status ReadString(const YAML::Node& node, const std::string& key, std::string& out) const;
  Status ReadNumber(const YAML::Node& node, const std::string& key, double& out) const;
  Status ReadBool(const YAML::Node& node, const std::string& key, bool& out) const;
  Status ReadPercent(const YAML::Node& node, const std::string& key, double& ratio) const;
  Status ReadWindow(const YAML::Node& node, const std::string& key, int64_t& minutes) const;
  Status ReadThreshold(const YAML::Node& node, const std::string& key, double& seconds) const;
  Status ReadRoutes(const YAML::Node& node,
                    const std::string& key,
                    std::vector<std::string>& routes) const;
  Status ReadSection(const YAML::Node& node,
                     const std::string& key,
                     const std::string& prefix,
                     SloConfig& config) const;
  Status ReadAvailability(const YAML::Node& node, const std::string& key, SloDefinition& slo) const;
  Status ReadPolicy(const YAML::Node& node, ErrorBudgetPolicy& policy) const;
  Status ReadStorage(const YAML::Node& node, SliStorageConfig& storage) const;
  Status ReadPrometheus(const YAML::Node& node, PrometheusRulesConfig& prometheus) const;

  std::string source_;
  const std::vector<std::string>& known_routes_;
};

Status Parser::ReadString(const YAML::Node& node, const std::string& key, std::string& out) const {
  if (!node.IsScalar()) {
    return Fail(key, "expected a single value");
  }
  out = node.Scalar();
  return OkStatus();
}

Status Parser::ReadNumber(const YAML::Node& node, const std::string& key, double& out) const {
  std::string text;
  if (auto status = ReadString(node, key, text); !status) {
    return status;
  }
  std::string_view rest = text;
  if (!TakeNumber(rest, out) || !rest.empty()) {
    return Fail(key, "'" + text + "' is not a number");
  }
  return OkStatus();
}

Status Parser::ReadBool(const YAML::Node& node, const std::string& key, bool& out) const {
  std::string text;
  if (auto status = ReadString(node, key, text); !status) {
    return status;
  }
  if (text == "true") {
    out = true;
  } else if (text == "false") {
    out = false;
  } else {
    return Fail(key, "'" + text + "' is not true or false");
  }
  return OkStatus();
}

Status Parser::ReadPercent(const YAML::Node& node, const std::string& key, double& ratio) const {
  std::string text;
  if (auto status = ReadString(node, key, text); !status) {
    return status;
  }
  if (!ParsePercent(text, ratio)) {
    return Fail(key, "'" + text + "' is not a percentage such as 99.9%");
  }
  if (!(ratio >= 0.5 && ratio < 1.0)) {
    return Fail(key, "'" + text + "' must be at least 50% and below 100%");
  }
  return OkStatus();
}

Status Parser::ReadWindow(const YAML::Node& node, const std::string& key, int64_t& minutes) const {
  std::string text;
  if (auto status = ReadString(node, key, text); !status) {
    return status;
  }
  if (!ParseWindowMinutes(text, minutes)) {
    return Fail(key, "'" + text + "' is not a window such as \"30 days\", \"7d\" or \"6h\"");
  }
  if (minutes < kShortestWindowMinutes || minutes > kLongestWindowMinutes) {
    return Fail(key, "'" + text + "' must be between 1 hour and 400 days");
  }
  return OkStatus();
}

Status Parser::ReadThreshold(const YAML::Node& node,
                             const std::string& key,
                             double& seconds) const {
  std::string text;
  if (auto status = ReadString(node, key, text); !status) {
    return status;
  }
  if (!ParseDurationSeconds(text, seconds) || !(seconds > 0)) {
    return Fail(key, "'" + text + "' is not a duration such as \"50ms\" or \"0.5s\"");
  }
  // The recorder counts requests per histogram bucket, so a threshold between two edges could
  // only be estimated; refuse it rather than report an interpolated budget.
  const auto bounds = LatencyBucketsSeconds();
  const bool is_edge = std::any_of(bounds.begin(), bounds.end(),
                                   [&](double bound) { return NearlyEqual(bound, seconds); });
  if (!is_edge) {
    std::string edges;
    for (const double bound : bounds) {
      if (bound >= 0.001) {
        edges +=
            (edges.empty() ? "" : ", ") + std::to_string(static_cast<int>(bound * 1000)) + "ms";
      }
    }
    return Fail(key, "'" + text + "' is not an edge of the latency histogram (" + edges + ")");
  }
  return OkStatus();
}

Status Parser::ReadRoutes(const YAML::Node& node,
                          const std::string& key,
                          std::vector<std::string>& routes) const {
  if (!node.IsSequence() || node.size() == 0) {
    return Fail(key, "expected a non-empty list of route labels");
  }
  if (node.size() > kMaxRoutesPerSection) {
    return Fail(key, "at most " + std::to_string(kMaxRoutesPerSection) + " routes");
  }
  routes.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    std::string route;
    if (auto status = ReadString(node[i], key + "[" + std::to_string(i) + "]", route); !status) {
      return status;
    }
    if (!known_routes_.empty() &&
        std::find(known_routes_.begin(), known_routes_.end(), route) == known_routes_.end()) {
      return Fail(key + "[" + std::to_string(i) + "]", "'" + route + "' is not a route label");
    }
    routes.push_back(std::move(route));
  }
  return OkStatus();
}

Status Parser::ReadAvailability(const YAML::Node& node,
                                const std::string& key,
                                SloDefinition& slo) const {
  if (node.IsScalar()) {
    slo.budgeting = Budgeting::kRequests;
    if (auto status = ReadPercent(node, key, slo.target); !status) {
      return status;
    }
    slo.time_slice_target = slo.target;
    return OkStatus();
  }
  if (!node.IsMap()) {
    return Fail(key, "expected a percentage or a mapping with target");
  }
  bool has_target = false;
  bool has_slice_target = false;
  std::string error_budget;
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    const std::string item_key = key + "." + name;
    if (name == "target") {
      if (auto status = ReadPercent(item.second, item_key, slo.target); !status) {
        return status;
      }
      has_target = true;
    } else if (name == "measurement_window") {
      if (auto status = ReadWindow(item.second, item_key, slo.window_minutes); !status) {
        return status;
      }
    } else if (name == "error_budget") {
      if (auto status = ReadString(item.second, item_key, error_budget); !status) {
        return status;
      }
    } else if (name == "budgeting") {
      std::string text;
      if (auto status = ReadString(item.second, item_key, text); !status) {
        return status;
      }
      if (text == "requests") {
        slo.budgeting = Budgeting::kRequests;
      } else if (text == "time_slices") {
        slo.budgeting = Budgeting::kTimeSlices;
      } else {
        return Fail(item_key, "'" + text + "' is not requests or time_slices");
      }
    } else if (name == "time_slice_target") {
      if (auto status = ReadPercent(item.second, item_key, slo.time_slice_target); !status) {
        return status;
      }
      has_slice_target = true;
    } else {
      return Fail(item_key, "unknown key");
    }
  }
  if (!has_target) {
    return Fail(key + ".target", "missing");
  }
  if (!has_slice_target) {
    slo.time_slice_target = slo.target;
  }
  if (has_slice_target && slo.budgeting != Budgeting::kTimeSlices) {
    return Fail(key + ".time_slice_target", "only applies with budgeting: time_slices");
  }
  if (!error_budget.empty()) {
    // The specification states the budget in minutes too; a mismatch means a typo somewhere.
    std::string_view rest = error_budget;
    double minutes = 0;
    if (!TakeNumber(rest, minutes) || rest.rfind("minutes", 0) != 0) {
      return Fail(key + ".error_budget", "'" + error_budget + "' is not \"N minutes ...\"");
    }
    const double implied = slo.allowed_error_ratio() * static_cast<double>(slo.window_minutes);
    if (std::fabs(minutes - implied) > 0.01 * implied + 0.005) {
      std::ostringstream message;
      message << "'" << error_budget << "' does not match target and window, which allow "
              << implied << " minutes";
      return Fail(key + ".error_budget", message.str());
    }
  }
  return OkStatus();
}

Status Parser::ReadSection(const YAML::Node& node,
                           const std::string& key,
                           const std::string& prefix,
                           SloConfig& config) const {
  if (!node.IsMap()) {
    return Fail(key, "expected a mapping");
  }
  std::vector<std::string> routes;
  int64_t section_window = 30 * kMinutesPerDay;
  bool window_set = false;
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    if (name == "routes") {
      if (auto status = ReadRoutes(item.second, key + ".routes", routes); !status) {
        return status;
      }
    } else if (name == "measurement_window") {
      if (auto status = ReadWindow(item.second, key + "." + name, section_window); !status) {
        return status;
      }
      window_set = true;
    } else if (name != "availability" && name != "latency" && name != "query_response_time") {
      return Fail(key + "." + name, "unknown key");
    }
  }
  if (routes.empty()) {
    return Fail(key + ".routes", "missing");
  }
  size_t defined = 0;
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    const std::string item_key = key + "." + name;
    if (name == "availability") {
      SloDefinition slo;
      slo.name = prefix + "_availability";
      slo.section = key;
      slo.kind = SliKind::kAvailability;
      slo.routes = routes;
      slo.window_minutes = section_window;
      if (auto status = ReadAvailability(item.second, item_key, slo); !status) {
        return status;
      }
      if (item.second.IsMap() && window_set) {
        return Fail(key + ".measurement_window",
                    "give the window inside availability when it is a mapping");
      }
      config.slos.push_back(std::move(slo));
      ++defined;
    } else if (name == "latency") {
      if (!item.second.IsMap()) {
        return Fail(item_key, "expected a mapping of percentiles (p95: \"50ms\")");
      }
      int64_t window = section_window;
      if (item.second["measurement_window"]) {
        if (auto status = ReadWindow(item.second["measurement_window"],
                                     item_key + ".measurement_window", window);
            !status) {
          return status;
        }
      }
      for (const auto& percentile : item.second) {
        const std::string p = percentile.first.as<std::string>();
        const std::string p_key = item_key + "." + p;
        if (p == "measurement_window") {
          continue;
        }
        int value = 0;
        const auto [stop, error] = std::from_chars(p.data() + 1, p.data() + p.size(), value);
        if (p.size() < 2 || p[0] != 'p' || error != std::errc() || stop != p.data() + p.size() ||
            value < 1 || value > 99) {
          return Fail(p_key, "unknown key (percentiles are p1 to p99)");
        }
        SloDefinition slo;
        slo.name = prefix + "_latency_" + p;
        slo.section = key;
        slo.kind = SliKind::kLatency;
        slo.target = value / 100.0;
        slo.time_slice_target = slo.target;
        slo.window_minutes = window;
        slo.routes = routes;
        if (auto status = ReadThreshold(percentile.second, p_key, slo.latency_threshold_seconds);
            !status) {
          return status;
        }
        config.slos.push_back(std::move(slo));
        ++defined;
      }
    } else if (name == "query_response_time") {
      // "<500ms p95": the dashboard's way of writing one latency percentile.
      std::string text;
      if (auto status = ReadString(item.second, item_key, text); !status) {
        return status;
      }
      const size_t space = text.rfind(' ');
      int value = 0;
      const std::string p = space == std::string::npos ? "" : text.substr(space + 1);
      const auto [stop, error] =
          std::from_chars(p.data() + std::min<size_t>(1, p.size()), p.data() + p.size(), value);
      if (p.size() < 2 || p[0] != 'p' || error != std::errc() || stop != p.data() + p.size() ||
          value < 1 || value > 99) {
        return Fail(item_key, "'" + text + "' is not \"<500ms p95\"");
      }
      SloDefinition slo;
      slo.name = prefix + "_query_latency_" + p;
      slo.section = key;
      slo.kind = SliKind::kLatency;
      slo.target = value / 100.0;
      slo.time_slice_target = slo.target;
      slo.window_minutes = section_window;
      slo.routes = routes;
      if (auto status = ReadThreshold(YAML::Node(text.substr(0, space)), item_key,
                                      slo.latency_threshold_seconds);
          !status) {
        return status;
      }
      config.slos.push_back(std::move(slo));
      ++defined;
    }
  }
  if (defined == 0) {
    return Fail(key, "defines no SLO (give availability, latency or query_response_time)");
  }
  return OkStatus();
}

Status Parser::ReadPolicy(const YAML::Node& node, ErrorBudgetPolicy& policy) const {
  const std::string key = "error_budget_policy";
  if (!node.IsMap()) {
    return Fail(key, "expected a mapping of HEALTHY, WARNING, CRITICAL, EXHAUSTED");
  }
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    const std::string level_key = key + "." + name;
    size_t index = kBudgetStatusCount;
    for (size_t i = 0; i < kBudgetStatusCount; ++i) {
      if (BudgetStatusName(static_cast<BudgetStatus>(i)) == name) {
        index = i;
      }
    }
    if (index == kBudgetStatusCount) {
      return Fail(level_key, "unknown status (HEALTHY, WARNING, CRITICAL or EXHAUSTED)");
    }
    if (!item.second.IsMap()) {
      return Fail(level_key, "expected a mapping");
    }
    PolicyLevel& level = policy.levels[index];
    for (const auto& field : item.second) {
      const std::string field_name = field.first.as<std::string>();
      const std::string field_key = level_key + "." + field_name;
      Status status = OkStatus();
      if (field_name == "below_percent") {
        if (level.status == BudgetStatus::kExhausted) {
          return Fail(field_key, "EXHAUSTED has no upper bound");
        }
        status = ReadNumber(field.second, field_key, level.below_percent);
      } else if (field_name == "halt_deployments") {
        status = ReadBool(field.second, field_key, level.halt_deployments);
      } else if (field_name == "actions") {
        status = ReadString(field.second, field_key, level.actions);
        if (status && level.actions.size() > 500) {
          return Fail(field_key, "longer than 500 characters");
        }
      } else {
        return Fail(field_key, "unknown key");
      }
      if (!status) {
        return status;
      }
    }
  }
  double previous = 0;
  for (size_t i = 0; i + 1 < kBudgetStatusCount; ++i) {
    const PolicyLevel& level = policy.levels[i];
    const std::string level_key =
        key + "." + std::string(BudgetStatusName(level.status)) + ".below_percent";
    if (!(level.below_percent > previous) || level.below_percent > 1000) {
      return Fail(level_key, "must be above the previous level's bound (" +
                                 std::to_string(previous) + ") and at most 1000");
    }
    previous = level.below_percent;
  }
  return OkStatus();
}

Status Parser::ReadStorage(const YAML::Node& node, SliStorageConfig& storage) const {
  if (!node.IsMap()) {
    return Fail("sli_storage", "expected a mapping");
  }
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    const std::string key = "sli_storage." + name;
    double value = 0;
    if (name != "minute_retention_days" && name != "hourly_retention_days") {
      return Fail(key, "unknown key");
    }
    if (auto status = ReadNumber(item.second, key, value); !status) {
      return status;
    }
    if (value != std::floor(value) || value < 1 || value > 3650) {
      return Fail(key, "must be a whole number of days from 1 to 3650");
    }
    (name == "minute_retention_days" ? storage.minute_retention_days
                                     : storage.hourly_retention_days) = static_cast<int64_t>(value);
  }
  return OkStatus();
}

Status Parser::ReadPrometheus(const YAML::Node& node, PrometheusRulesConfig& prometheus) const {
  if (!node.IsMap()) {
    return Fail("prometheus", "expected a mapping");
  }
  for (const auto& item : node) {
    const std::string name = item.first.as<std::string>();
    const std::string key = "prometheus." + name;
    if (name == "job") {
      if (auto status = ReadString(item.second, key, prometheus.job); !status) {
        return status;
      }
      const bool valid =
          !prometheus.job.empty() && prometheus.job.size() <= 64 &&
          std::all_of(prometheus.job.begin(), prometheus.job.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
          });
      if (!valid) {
        return Fail(key, "letters, digits, '-', '_' and '.' only, at most 64");
      }
    } else if (name == "min_requests_per_second") {
      if (auto status = ReadNumber(item.second, key, prometheus.min_requests_per_second); !status) {
        return status;
      }
      if (prometheus.min_requests_per_second < 0 || prometheus.min_requests_per_second > 1e6) {
        return Fail(key, "must be from 0 to 1000000");
      }
    } else {
      return Fail(key, "unknown key");
    }
  }
  return OkStatus();
}

Result<SloConfig> Parser::Parse(const YAML::Node& root) {
  if (!root.IsMap()) {
    return Fail("(top level)", "expected a mapping");
  }
  SloConfig config;
  for (const auto& item : root) {
    const std::string name = item.first.as<std::string>();
    Status status = OkStatus();
    if (name == "fraud_detection_api_slos") {
      status = ReadSection(item.second, name, "fraud_api", config);
    } else if (name == "dashboard_slos") {
      status = ReadSection(item.second, name, "dashboard", config);
    } else if (name == "error_budget_policy") {
      status = ReadPolicy(item.second, config.policy);
    } else if (name == "sli_storage") {
      status = ReadStorage(item.second, config.storage);
    } else if (name == "prometheus") {
      status = ReadPrometheus(item.second, config.prometheus);
    } else {
      status = Fail(name, "unknown key");
    }
    if (!status) {
      return Error{status.error()};
    }
  }
  if (config.slos.empty()) {
    return Fail("fraud_detection_api_slos", "missing (no SLO is defined)");
  }
  for (const SloDefinition& slo : config.slos) {
    if (slo.window_minutes > config.storage.minute_retention_days * kMinutesPerDay) {
      return Fail(
          "sli_storage.minute_retention_days",
          "shorter than the window of " + slo.name + " (" + FormatWindow(slo.window_minutes) + ")");
    }
  }
  if (config.storage.hourly_retention_days < config.storage.minute_retention_days) {
    return Fail("sli_storage.hourly_retention_days", "must be at least minute_retention_days");
  }
  return config;
}

}  // namespace

std::string_view BudgetStatusName(BudgetStatus status) {
  switch (status) {
    case BudgetStatus::kHealthy:
      return "HEALTHY";
    case BudgetStatus::kWarning:
      return "WARNING";
    case BudgetStatus::kCritical:
      return "CRITICAL";
    case BudgetStatus::kExhausted:
      return "EXHAUSTED";
  }
  return "EXHAUSTED";
}

ErrorBudgetPolicy ErrorBudgetPolicy::Defaults() {
  ErrorBudgetPolicy policy;
  policy.levels = {{
      {BudgetStatus::kHealthy, 50, false, "Normal operations, focus on feature development"},
      {BudgetStatus::kWarning, 80, false, "Increase monitoring, review recent changes"},
      {BudgetStatus::kCritical, 100, true, "Halt non-critical deployments, focus on reliability"},
      {BudgetStatus::kExhausted, 0, true, "All hands on deck, incident response mode"},
  }};
  return policy;
}

BudgetStatus ErrorBudgetPolicy::StatusFor(double utilisation_percent) const {
  for (size_t i = 0; i + 1 < kBudgetStatusCount; ++i) {
    if (utilisation_percent < levels[i].below_percent) {
      return levels[i].status;
    }
  }
  return BudgetStatus::kExhausted;
}

const SloDefinition* SloConfig::Find(std::string_view name) const {
  for (const SloDefinition& slo : slos) {
    if (slo.name == name) {
      return &slo;
    }
  }
  return nullptr;
}

Result<SloConfig> ParseSloConfig(const std::string& yaml_text,
                                 const std::vector<std::string>& known_routes,
                                 const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    return Error{source + ": invalid YAML at line " + std::to_string(e.mark.line + 1) + ": " +
                 e.msg};
  }
  try {
    return Parser(source, known_routes).Parse(root);
  } catch (const YAML::Exception& e) {
    // Keys that are not scalars (a list used as a key) end up here.
    return Error{source + ": " + e.what()};
  }
}

Result<SloConfig> LoadSloConfigFile(const std::string& path,
                                    const std::vector<std::string>& known_routes) {
  std::ifstream in(path);
  if (!in) {
    return Error{"slo config '" + path + "': cannot be read"};
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1 << 20)) {
    return Error{"slo config '" + path + "': larger than 1 MiB"};
  }
  return ParseSloConfig(text.str(), known_routes, "slo config '" + path + "'");
}

const std::string& DefaultSloConfigYaml() {
  static const std::string yaml(kDefaultYaml);
  return yaml;
}

SloConfig DefaultSloConfig() {
  auto config = ParseSloConfig(DefaultSloConfigYaml(), {}, "built-in slo config");
  return std::move(config).value();
}

bool ParseWindowMinutes(std::string_view text, int64_t& minutes) {
  double amount = 0;
  if (!TakeNumber(text, amount) || !(amount > 0) || amount > 1e7) {
    return false;
  }
  static const std::map<std::string_view, int64_t> kUnits = {
      {"m", 1},
      {"min", 1},
      {"minute", 1},
      {"minutes", 1},
      {"h", 60},
      {"hour", 60},
      {"hours", 60},
      {"d", kMinutesPerDay},
      {"day", kMinutesPerDay},
      {"days", kMinutesPerDay},
      {"w", 7 * kMinutesPerDay},
      {"week", 7 * kMinutesPerDay},
      {"weeks", 7 * kMinutesPerDay},
  };
  const auto unit = kUnits.find(text);
  if (unit == kUnits.end()) {
    return false;
  }
  const double total = amount * static_cast<double>(unit->second);
  if (total != std::floor(total)) {
    return false;
  }
  minutes = static_cast<int64_t>(total);
  return true;
}

bool ParsePercent(std::string_view text, double& ratio) {
  double value = 0;
  if (!TakeNumber(text, value)) {
    return false;
  }
  if (!text.empty() && text != "%") {
    return false;
  }
  // Through whole millionths of a percent, so that 99.99 % becomes the double nearest 0.9999.
  ratio = std::round(value * 1e6) / 1e8;
  return true;
}

bool ParseDurationSeconds(std::string_view text, double& seconds) {
  text = Trim(text);
  if (!text.empty() && text.front() == '<') {
    text.remove_prefix(1);
  }
  double value = 0;
  if (!TakeNumber(text, value)) {
    return false;
  }
  if (text == "ms") {
    seconds = value / 1000.0;
  } else if (text == "s") {
    seconds = value;
  } else if (text == "us") {
    seconds = value / 1e6;
  } else {
    return false;
  }
  return true;
}

std::string FormatWindow(int64_t minutes) {
  if (minutes % kMinutesPerDay == 0) {
    return std::to_string(minutes / kMinutesPerDay) + "d";
  }
  if (minutes % 60 == 0) {
    return std::to_string(minutes / 60) + "h";
  }
  return std::to_string(minutes) + "m";
}

}  // namespace fraudguard
