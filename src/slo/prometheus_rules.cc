#include "slo/prometheus_rules.h"

#include <cstdio>
#include <string_view>
#include <vector>

#include "core/json_writer.h"
#include "slo/error_budget.h"

namespace fraudguard {
namespace {

std::string Number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.10g", value);
  return buffer;
}

// A regular expression matching exactly these route labels, for a PromQL raw string
// (backticks), where a backslash needs no escaping of its own.
std::string RouteRegex(const std::vector<std::string>& routes) {
  std::string regex;
  for (const std::string& route : routes) {
    if (!regex.empty()) {
      regex += '|';
    }
    for (const char c : route) {
      if (std::string_view(".+*?()[]{}|^$\\").find(c) != std::string_view::npos) {
        regex += '\\';
      }
      regex += c;
    }
  }
  return regex;
}

// PromQL selectors of one SLO's events.
struct Selectors {
  std::string total;  // every request
  std::string bad;    // availability: 5xx requests
  std::string good;   // latency: requests within the threshold
};

Selectors SelectorsFor(const SloDefinition& slo, const std::string& job) {
  const std::string match = "job=\"" + job + "\",route=~`" + RouteRegex(slo.routes) + "`";
  Selectors selectors;
  if (slo.kind == SliKind::kAvailability) {
    selectors.total = "http_requests_total{" + match + "}";
    selectors.bad = "http_requests_total{" + match + ",status=~\"5..\"}";
  } else {
    std::string le;
    AppendJsonNumber(le, slo.latency_threshold_seconds);
    selectors.total = "http_request_duration_seconds_count{" + match + "}";
    selectors.good = "http_request_duration_seconds_bucket{" + match + ",le=\"" + le + "\"}";
  }
  return selectors;
}

std::string ErrorRatioExpr(const SloDefinition& slo, const Selectors& s, const std::string& w) {
  if (slo.kind == SliKind::kAvailability) {
    // No 5xx series at all means no errors, not an unknown ratio.
    return "(sum(rate(" + s.bad + "[" + w + "])) or vector(0))\n  /\nsum(rate(" + s.total + "[" +
           w + "]))";
  }
  return "1 - (\n  sum(rate(" + s.good + "[" + w + "]))\n    /\n  sum(rate(" + s.total + "[" + w +
         "]))\n)";
}

void AppendRule(std::string& out,
                const std::string& kind,
                const std::string& name,
                const std::string& expr,
                const std::vector<std::pair<std::string, std::string>>& labels,
                const std::string& for_duration = {},
                const std::vector<std::pair<std::string, std::string>>& annotations = {}) {
  out += "      - " + kind + ": " + name + "\n";
  out += "        expr: |\n";
  size_t start = 0;
  while (start <= expr.size()) {
    const size_t end = expr.find('\n', start);
    const std::string line = expr.substr(start, end == std::string::npos ? end : end - start);
    out += "          " + line + "\n";
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  if (!for_duration.empty()) {
    out += "        for: " + for_duration + "\n";
  }
  out += "        labels:\n";
  for (const auto& [key, value] : labels) {
    out += "          " + key + ": \"" + value + "\"\n";
  }
  if (!annotations.empty()) {
    out += "        annotations:\n";
    for (const auto& [key, value] : annotations) {
      out += "          " + key + ": \"" + value + "\"\n";
    }
  }
}

std::vector<int64_t> RecordingWindows(const SloDefinition& slo) {
  std::vector<int64_t> windows(kBurnRateWindowsMinutes.begin(), kBurnRateWindowsMinutes.end());
  bool has_period = false;
  for (const int64_t window : windows) {
    has_period = has_period || window == slo.window_minutes;
  }
  if (!has_period) {
    windows.push_back(slo.window_minutes);
  }
  return windows;
}

void AppendSloGroup(std::string& out, const SloDefinition& slo, const PrometheusRulesConfig& p) {
  const Selectors selectors = SelectorsFor(slo, p.job);
  const std::string budget = Number(slo.allowed_error_ratio());
  const std::string period = FormatWindow(slo.window_minutes);
  const std::vector<std::pair<std::string, std::string>> slo_label = {{"slo", slo.name}};
  const std::string by_slo = "{slo=\"" + slo.name + "\"}";

  out += "  - name: fraudguard-slo-" + slo.name + "\n";
  out += "    rules:\n";
  for (const int64_t minutes : RecordingWindows(slo)) {
    const std::string w = FormatWindow(minutes);
    AppendRule(out, "record", "slo:sli_error:ratio_rate" + w, ErrorRatioExpr(slo, selectors, w),
               slo_label);
    AppendRule(out, "record", "slo:sli_requests:rate" + w,
               "sum(rate(" + selectors.total + "[" + w + "]))", slo_label);
    AppendRule(out, "record", "slo:burn_rate:ratio_rate" + w,
               "slo:sli_error:ratio_rate" + w + by_slo + " / " + budget, slo_label);
  }
  AppendRule(out, "record", "slo:objective:ratio", "vector(" + Number(slo.target) + ")", slo_label);
  AppendRule(out, "record", "slo:error_budget:ratio", "vector(" + budget + ")", slo_label);
  AppendRule(out, "record", "slo:time_period:days",
             "vector(" + Number(static_cast<double>(slo.window_minutes) / 1440.0) + ")", slo_label);
  AppendRule(out, "record", "slo:period_error_budget_remaining:ratio",
             "1 - slo:sli_error:ratio_rate" + period + by_slo + " / " + budget, slo_label);

  for (const BurnRateAlertWindow& window : kBurnRateAlertWindows) {
    const double factor = BurnRateFactor(window, slo.window_minutes);
    const double threshold = factor * slo.allowed_error_ratio();
    const std::string long_w = FormatWindow(window.long_minutes);
    const std::string short_w = FormatWindow(window.short_minutes);
    const std::string alert = std::string("SLOErrorBudgetBurn") + window.name;
    if (threshold >= 1.0) {
      // An error ratio cannot exceed 1, so the rule could never fire.
      out += "      # " + alert + " left out for " + slo.name + ": " + Number(factor) +
             " x its error budget is over 100 % errors.\n";
      continue;
    }
    const std::string expr = "slo:sli_error:ratio_rate" + long_w + by_slo + " > " +
                             Number(threshold) + "\nand\nslo:sli_error:ratio_rate" + short_w +
                             by_slo + " > " + Number(threshold) + "\nand\nslo:sli_requests:rate" +
                             long_w + by_slo + " >= " + Number(p.min_requests_per_second);
    AppendRule(out, "alert", alert, expr,
               {{"severity", window.severity},
                {"slo", slo.name},
                {"long_window", long_w},
                {"short_window", short_w}},
               window.for_duration,
               {{"summary",
                 slo.name + " is spending its error budget " + Number(factor) + " times too fast"},
                {"description", "Error ratio {{ $value | humanizePercentage }} over " + long_w +
                                    " (and over " + short_w + "), above " + Number(factor) +
                                    " x the " + budget + " allowed; at this rate " +
                                    Number(window.budget_spent * 100) + " % of the " + period +
                                    " budget goes in " + long_w + "."}});
  }
}

// The specification's alert rules, as it states them (the job from the configuration).
void AppendSpecificationAlerts(std::string& out, const std::string& job) {
  const std::string j = "job=\"" + job + "\"";
  out += "  - name: fraudguard-specification-alerts\n";
  out += "    rules:\n";
  AppendRule(
      out, "alert", "FraudAPIHighErrorRate",
      "rate(http_requests_total{" + j + ",status=~\"5..\"}[5m]) > 0.05",
      {{"severity", "critical"}, {"service", "fraud-api"}}, "2m",
      {{"summary", "High error rate on fraud API"},
       {"description", "Error rate is {{ $value | humanizePercentage }} for the last 5 minutes"}});
  AppendRule(
      out, "alert", "FraudAPIHighLatency",
      "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{" + j + "}[5m])) > 0.1",
      {{"severity", "warning"}, {"service", "fraud-api"}}, "5m",
      {{"summary", "High latency on fraud API"},
       {"description", "95th percentile latency is {{ $value }}s"}});
  // TODO: fraud_model_accuracy and the database pool gauges come from other exporters (the
  // labelling pipeline, the database); FraudGuard itself does not export them yet.
  AppendRule(out, "alert", "MLModelAccuracyDrop", "fraud_model_accuracy < 0.9",
             {{"severity", "warning"}, {"service", "ml-inference"}}, "10m",
             {{"summary", "ML model accuracy degraded"},
              {"description", "Model accuracy dropped to {{ $value | humanizePercentage }}"}});
  AppendRule(out, "alert", "DatabaseConnectionPoolExhausted",
             "database_connection_pool_active / database_connection_pool_max > 0.9",
             {{"severity", "critical"}, {"service", "database"}}, "1m",
             {{"summary", "Database connection pool nearly exhausted"},
              {"description", "{{ $value | humanizePercentage }} of connections are in use"}});
}

}  // namespace

double BurnRateFactor(const BurnRateAlertWindow& window, int64_t period_minutes) {
  return window.budget_spent * static_cast<double>(period_minutes) /
         static_cast<double>(window.long_minutes);
}

std::string GeneratePrometheusRules(const SloConfig& config) {
  std::string out =
      "# Generated by `fraudguard slo rules` from the SLO definitions; do not edit by hand.\n"
      "# Prometheus must scrape FraudGuard under the job name \"" +
      config.prometheus.job +
      "\" (the job label of the series).\n"
      "groups:\n";
  for (const SloDefinition& slo : config.slos) {
    AppendSloGroup(out, slo, config.prometheus);
  }
  AppendSpecificationAlerts(out, config.prometheus.job);
  return out;
}

}  // namespace fraudguard
