#include "slo/error_budget.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "core/json_writer.h"

namespace fraudguard {
namespace {

size_t BoundIndex(const std::vector<double>& bounds, double threshold) {
  size_t best = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (std::fabs(bounds[i] - threshold) < std::fabs(bounds[best] - threshold)) {
      best = i;
    }
  }
  return best;
}

bool MinuteIsBad(const MinuteCounts& counts, double slice_target) {
  if (counts.total == 0) {
    return false;  // no requests, nothing failed
  }
  const double good = static_cast<double>(counts.total - counts.bad);
  return good / static_cast<double>(counts.total) < slice_target;
}

}  // namespace

void AddSloMinutes(const SloDefinition& slo,
                   const std::vector<SliRow>& rows,
                   const std::vector<double>& bounds,
                   SloMinutes& minutes) {
  const size_t bound = BoundIndex(bounds, slo.latency_threshold_seconds);
  for (const SliRow& row : rows) {
    if (std::find(slo.routes.begin(), slo.routes.end(), row.route) == slo.routes.end()) {
      continue;
    }
    MinuteCounts& counts = minutes[row.minute];
    counts.total += row.counts.total;
    if (slo.kind == SliKind::kAvailability) {
      counts.bad += row.counts.bad;
    } else {
      counts.bad += row.counts.total - std::min(row.counts.total, row.counts.AtMost(bound));
    }
  }
}

SloReport ComputeSloReport(const SloDefinition& slo,
                           const ErrorBudgetPolicy& policy,
                           const SloMinutes& minutes,
                           int64_t now_minute) {
  SloReport report;
  report.name = slo.name;
  report.section = slo.section;
  report.kind = slo.kind;
  report.budgeting = slo.budgeting;
  report.target = slo.target;
  report.window_minutes = slo.window_minutes;
  report.latency_threshold_seconds = slo.latency_threshold_seconds;
  report.time_slice_target = slo.time_slice_target;

  // Sums over the last `window` minutes, the current (partial) minute included.
  const auto sum_over = [&](int64_t window, uint64_t& total, uint64_t& bad, uint64_t& bad_minutes) {
    total = bad = bad_minutes = 0;
    for (auto it = minutes.upper_bound(now_minute - window);
         it != minutes.end() && it->first <= now_minute; ++it) {
      total += it->second.total;
      bad += it->second.bad;
      bad_minutes += MinuteIsBad(it->second, slo.time_slice_target) ? 1 : 0;
    }
  };
  const double error_ratio_budget = slo.allowed_error_ratio();
  sum_over(slo.window_minutes, report.total_requests, report.bad_requests, report.bad_minutes);
  if (slo.budgeting == Budgeting::kTimeSlices) {
    report.allowed_errors = error_ratio_budget * static_cast<double>(slo.window_minutes);
    report.actual_errors = static_cast<double>(report.bad_minutes);
    report.sli =
        1.0 - static_cast<double>(report.bad_minutes) / static_cast<double>(slo.window_minutes);
  } else {
    report.allowed_errors = error_ratio_budget * static_cast<double>(report.total_requests);
    report.actual_errors = static_cast<double>(report.bad_requests);
    report.sli = report.total_requests == 0 ? 1.0
                                            : 1.0 - static_cast<double>(report.bad_requests) /
                                                        static_cast<double>(report.total_requests);
  }
  report.remaining_errors = report.allowed_errors - report.actual_errors;
  if (report.allowed_errors > 0) {
    report.utilisation_percent = report.actual_errors / report.allowed_errors * 100.0;
  } else {
    report.utilisation_percent = report.actual_errors > 0 ? 100.0 : 0.0;
  }
  // Targets such as 99.99 % are not exact in binary; rounding keeps a boundary that is hit
  // exactly (40 of 50 allowed errors is 80 %) from landing a hair below it.
  report.utilisation_percent = std::round(report.utilisation_percent * 1e6) / 1e6;
  report.remaining_ratio = 1.0 - report.utilisation_percent / 100.0;
  report.status = policy.StatusFor(report.utilisation_percent);
  const PolicyLevel& level = policy.Level(report.status);
  report.halt_deployments = level.halt_deployments;
  report.actions = level.actions;

  for (size_t i = 0; i < kBurnRateWindowsMinutes.size(); ++i) {
    const int64_t window = kBurnRateWindowsMinutes[i];
    uint64_t total = 0;
    uint64_t bad = 0;
    uint64_t bad_minutes = 0;
    sum_over(window, total, bad, bad_minutes);
    double error_ratio = 0;
    if (slo.budgeting == Budgeting::kTimeSlices) {
      error_ratio = static_cast<double>(bad_minutes) / static_cast<double>(window);
    } else if (total > 0) {
      error_ratio = static_cast<double>(bad) / static_cast<double>(total);
    }
    report.burn_rates[i] = error_ratio / error_ratio_budget;
  }
  const double current_burn = report.burn_rates[kCurrentBurnWindowIndex];
  if (report.remaining_ratio <= 0) {
    report.time_to_exhaustion_seconds = 0.0;
  } else if (current_burn > 0) {
    // At burn rate 1 a whole budget lasts one SLO window.
    report.time_to_exhaustion_seconds =
        report.remaining_ratio * static_cast<double>(slo.window_minutes) * 60.0 / current_burn;
  }
  return report;
}

namespace {

std::string FormatNumber(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

std::string FormatDuration(std::optional<double> seconds) {
  if (!seconds) {
    return "-";
  }
  const double s = *seconds;
  if (s < 3600) {
    return FormatNumber(s / 60.0, 1) + "m";
  }
  if (s < 86400 * 2) {
    return FormatNumber(s / 3600.0, 1) + "h";
  }
  return FormatNumber(s / 86400.0, 1) + "d";
}

}  // namespace

std::vector<SloReport> ComputeSloReports(const SloConfig& config,
                                         const std::vector<SliRow>& rows,
                                         int64_t now_minute,
                                         const std::vector<double>& bounds) {
  std::vector<SloReport> reports;
  reports.reserve(config.slos.size());
  for (const SloDefinition& slo : config.slos) {
    SloMinutes minutes;
    AddSloMinutes(slo, rows, bounds, minutes);
    reports.push_back(ComputeSloReport(slo, config.policy, minutes, now_minute));
  }
  return reports;
}

GateDecision EvaluateGate(const std::vector<SloReport>& reports) {
  GateDecision decision;
  for (const SloReport& report : reports) {
    if (!report.halt_deployments) {
      continue;
    }
    decision.allowed = false;
    decision.reasons.push_back(
        report.name + " is " + std::string(BudgetStatusName(report.status)) + ": " +
        FormatNumber(report.utilisation_percent, 1) + "% of its error budget used (" +
        FormatNumber(report.actual_errors, 2) + " of " + FormatNumber(report.allowed_errors, 2) +
        " " + report.unit() + " over " + FormatWindow(report.window_minutes) + "); " +
        report.actions);
  }
  return decision;
}

void AppendSloReportJson(const SloReport& report, std::string& out) {
  JsonWriter json(out);
  json.BeginObject()
      .Field("name", report.name)
      .Field("section", report.section)
      .Field("sli", report.kind == SliKind::kAvailability ? "availability" : "latency")
      .Field("budgeting", report.budgeting == Budgeting::kTimeSlices ? "time_slices" : "requests")
      .Field("target", report.target)
      .Field("window", FormatWindow(report.window_minutes))
      .Field("window_minutes", report.window_minutes);
  if (report.kind == SliKind::kLatency) {
    json.Field("latency_threshold_seconds", report.latency_threshold_seconds);
  }
  if (report.budgeting == Budgeting::kTimeSlices) {
    json.Field("time_slice_target", report.time_slice_target);
  }
  json.Field("total_requests", report.total_requests)
      .Field("bad_requests", report.bad_requests)
      .Field("bad_minutes", report.bad_minutes)
      .Field("sli_value", report.sli)
      .Field("unit", report.unit())
      .Field("allowed_errors", report.allowed_errors)
      .Field("actual_errors", report.actual_errors)
      .Field("remaining_errors", report.remaining_errors)
      .Field("utilisation_percent", report.utilisation_percent)
      .Field("remaining_ratio", report.remaining_ratio)
      .Field("status", BudgetStatusName(report.status))
      .Field("halt_deployments", report.halt_deployments)
      .Field("actions", report.actions)
      .Key("burn_rates")
      .BeginObject();
  for (size_t i = 0; i < kBurnRateWindowsMinutes.size(); ++i) {
    json.Field(FormatWindow(kBurnRateWindowsMinutes[i]), report.burn_rates[i]);
  }
  json.EndObject().Key("time_to_exhaustion_seconds");
  if (report.time_to_exhaustion_seconds) {
    json.Number(*report.time_to_exhaustion_seconds);
  } else {
    json.Null();
  }
  json.EndObject();
}

void AppendSloReportsJson(const std::vector<SloReport>& reports, int64_t now_ms, std::string& out) {
  const GateDecision gate = EvaluateGate(reports);
  JsonWriter json(out);
  json.BeginObject()
      .Field("generated_at_ms", now_ms)
      .Field("deployments_allowed", gate.allowed)
      .Key("slos")
      .BeginArray();
  for (const SloReport& report : reports) {
    std::string item;
    AppendSloReportJson(report, item);
    json.Raw(item);
  }
  json.EndArray().EndObject();
}

Result<std::vector<SloReport>> ParseSloReportsJson(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(text).get(root); error) {
    return Error{std::string("SLO report is not JSON: ") + simdjson::error_message(error)};
  }
  simdjson::dom::array slos;
  if (root["slos"].get_array().get(slos)) {
    return Error{"SLO report has no 'slos' array"};
  }
  std::vector<SloReport> reports;
  for (simdjson::dom::element item : slos) {
    SloReport report;
    std::string_view text_value;
    const auto read_text = [&](const char* key, std::string& out) {
      if (item[key].get_string().get(text_value)) {
        return false;
      }
      out = std::string(text_value);
      return true;
    };
    const auto read_number = [&](const char* key, double& out) {
      return !item[key].get_double().get(out);
    };
    std::string status;
    std::string kind;
    std::string budgeting;
    double total = 0;
    double bad = 0;
    double bad_minutes = 0;
    double window = 0;
    bool ok = read_text("name", report.name) && read_text("section", report.section) &&
              read_text("sli", kind) && read_text("budgeting", budgeting) &&
              read_text("status", status) && read_text("actions", report.actions) &&
              read_number("target", report.target) && read_number("window_minutes", window) &&
              read_number("total_requests", total) && read_number("bad_requests", bad) &&
              read_number("bad_minutes", bad_minutes) && read_number("sli_value", report.sli) &&
              read_number("allowed_errors", report.allowed_errors) &&
              read_number("actual_errors", report.actual_errors) &&
              read_number("remaining_errors", report.remaining_errors) &&
              read_number("utilisation_percent", report.utilisation_percent) &&
              read_number("remaining_ratio", report.remaining_ratio) &&
              !item["halt_deployments"].get_bool().get(report.halt_deployments);
    if (!ok) {
      return Error{"SLO report entry is missing a field or has a wrong type"};
    }
    report.kind = kind == "latency" ? SliKind::kLatency : SliKind::kAvailability;
    report.budgeting = budgeting == "time_slices" ? Budgeting::kTimeSlices : Budgeting::kRequests;
    report.window_minutes = static_cast<int64_t>(window);
    report.total_requests = static_cast<uint64_t>(total);
    report.bad_requests = static_cast<uint64_t>(bad);
    report.bad_minutes = static_cast<uint64_t>(bad_minutes);
    (void)read_number("latency_threshold_seconds", report.latency_threshold_seconds);
    (void)read_number("time_slice_target", report.time_slice_target);
    bool known_status = false;
    for (size_t i = 0; i < kBudgetStatusCount; ++i) {
      if (BudgetStatusName(static_cast<BudgetStatus>(i)) == status) {
        report.status = static_cast<BudgetStatus>(i);
        known_status = true;
      }
    }
    if (!known_status) {
      return Error{"SLO report entry has an unknown status '" + status + "'"};
    }
    for (size_t i = 0; i < kBurnRateWindowsMinutes.size(); ++i) {
      const std::string key = FormatWindow(kBurnRateWindowsMinutes[i]);
      // A missing rate stays 0 (an older server may report fewer windows).
      if (item["burn_rates"][key].get_double().get(report.burn_rates[i]) != simdjson::SUCCESS) {
        report.burn_rates[i] = 0;
      }
    }
    double exhaustion = 0;
    if (!item["time_to_exhaustion_seconds"].get_double().get(exhaustion)) {
      report.time_to_exhaustion_seconds = exhaustion;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

std::string FormatSloTable(const std::vector<SloReport>& reports) {
  char line[512];
  std::string out;
  std::snprintf(line, sizeof(line), "%-30s %-10s %9s %8s %22s %8s %7s %7s %7s %10s\n", "SLO",
                "STATUS", "TARGET", "WINDOW", "ERRORS (USED/ALLOWED)", "USED", "BURN5M", "BURN1H",
                "BURN1D", "EXHAUSTS");
  out += line;
  for (const SloReport& report : reports) {
    const std::string errors = FormatNumber(report.actual_errors, 2) + "/" +
                               FormatNumber(report.allowed_errors, 2) +
                               (report.budgeting == Budgeting::kTimeSlices ? " min" : " req");
    std::snprintf(line, sizeof(line), "%-30s %-10s %8s%% %8s %22s %7s%% %7s %7s %7s %10s\n",
                  report.name.c_str(), std::string(BudgetStatusName(report.status)).c_str(),
                  FormatNumber(report.target * 100.0, 2).c_str(),
                  FormatWindow(report.window_minutes).c_str(), errors.c_str(),
                  FormatNumber(report.utilisation_percent, 1).c_str(),
                  FormatNumber(report.burn_rates[0], 2).c_str(),
                  FormatNumber(report.burn_rates[2], 2).c_str(),
                  FormatNumber(report.burn_rates[5], 2).c_str(),
                  FormatDuration(report.time_to_exhaustion_seconds).c_str());
    out += line;
  }
  return out;
}

}  // namespace fraudguard
