#include "capacity/capacity_command.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <CLI/CLI.hpp>

#include "capacity/chart.h"
#include "capacity/forecast.h"
#include "capacity/hpa_simulation.h"
#include "capacity/manifest_check.h"
#include "capacity/manifests.h"
#include "capacity/recommendation.h"
#include "capacity/sli_history.h"
#include "capacity/time_series.h"
#include "core/file_write.h"
#include "core/json_writer.h"
#include "core/log.h"

namespace fraudguard::capacity {

struct CapacityFlags {
  CLI::App* forecast = nullptr;

  // Input: a CSV file or a Prometheus range query.
  std::string csv;
  std::string sli_store;
  std::vector<std::string> routes;
  std::string prometheus;
  std::string query;
  std::string range = "14d";
  std::string step = "1h";
  double end = 0;  // Unix seconds; 0 means now

  std::string horizon = "90d";
  std::string resource = "requests";
  double current_capacity = 0;
  int current_replicas = 5;
  double replica_rps = 0;
  std::string benchmarks = "docs/benchmarks.md";
  double target_utilisation = kTargetUtilisation;
  bool json = false;
  std::string chart;

  CLI::App* manifests = nullptr;
  ManifestOptions manifest;
  std::vector<std::string> schedules;
  bool no_schedules = false;
  bool no_keda = false;
  std::string output = "-";

  CLI::App* simulate = nullptr;
  HpaPolicy hpa;
  std::string load = "upper";
  std::string duration = "24h";
  std::string every = "1h";
  bool simulate_no_schedules = false;
};

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

int Fail(int status, const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return status;
}

std::string Fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

// 1234567.8 -> "1,234,568": capacity figures are read by people, digits grouped.
std::string Grouped(double value) {
  if (!std::isfinite(value)) {
    return "n/a";
  }
  if (std::abs(value) < 100) {
    return Fixed(value, std::abs(value) < 10 ? 2 : 1);
  }
  std::string digits = Fixed(std::abs(value), 0);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return (value < 0 ? "-" : "") + out;
}

std::string Pad(const std::string& text, size_t width) {
  return text.size() >= width ? text : text + std::string(width - text.size(), ' ');
}

std::string Date(double unix_seconds) {
  return FormatTimestamp(unix_seconds).substr(0, 10);
}

Result<TimeSeries> LoadInput(const CapacityFlags& flags) {
  const int sources = (flags.csv.empty() ? 0 : 1) + (flags.prometheus.empty() ? 0 : 1) +
                      (flags.sli_store.empty() ? 0 : 1);
  if (sources != 1) {
    return Error{"give exactly one of --csv FILE, --sli-store DATA_DIR or --prometheus URL"};
  }
  if (!flags.csv.empty()) {
    return LoadCsvSeries(flags.csv);
  }
  auto range = ParseDurationSeconds(flags.range);
  if (!range) {
    return Error{"--range: " + range.error()};
  }
  auto step = ParseDurationSeconds(flags.step);
  if (!step) {
    return Error{"--step: " + step.error()};
  }
  const double end = flags.end > 0 ? flags.end : static_cast<double>(std::time(nullptr));
  if (!flags.sli_store.empty()) {
    SliHistoryRequest request;
    request.data_dir = flags.sli_store;
    request.routes = flags.routes.empty() ? DefaultSliRoutes() : flags.routes;
    request.step_seconds = *step;
    // Whole steps, so every point covers a full step of requests.
    request.end = std::floor(end / *step) * *step;
    request.start = request.end - *range;
    return LoadSliRequestRate(request);
  }
  PrometheusRangeQuery request;
  request.url = flags.prometheus;
  request.query = flags.query;
  request.end = end;
  request.start = request.end - *range;
  request.step_seconds = *step;
  return FetchPrometheusRange(request);
}

// The request rate one replica sustains: --replica-rps, else the benchmark page. Never a guess.
Result<ReplicaCapacity> ReplicaCapacityFromFlags(const CapacityFlags& flags) {
  if (flags.replica_rps > 0) {
    return ReplicaCapacity{flags.replica_rps, "--replica-rps"};
  }
  auto measured = ReadReplicaCapacity(flags.benchmarks);
  if (!measured) {
    return Error{"no measured per-replica capacity (" + measured.error() +
                 "): run bench/run.sh to write docs/benchmarks.md, or pass --replica-rps"};
  }
  return measured;
}

void WriteJson(const TimeSeries& series,
               const ForecastReport& report,
               const Recommendation& recommendation,
               std::string& out) {
  JsonWriter json(out);
  json.BeginObject();
  json.Field("resource", ResourceName(recommendation.resource));
  json.Field("unit", ResourceUnit(recommendation.resource));
  json.Key("history").BeginObject();
  json.Field("points", series.size());
  json.Field("start", FormatTimestamp(series.timestamps.front()));
  json.Field("end", FormatTimestamp(series.timestamps.back()));
  json.Field("step_seconds", report.step_seconds);
  json.EndObject();
  json.Field("horizon_steps", report.horizon_steps);
  json.Field("interval", kIntervalCoverage);
  json.Field("linear_slope_per_day", report.linear.slope_per_second * 86400);
  json.Key("models").BeginArray();
  for (const ModelResult& model : report.models) {
    json.BeginObject();
    json.Field("name", ModelName(model.kind));
    json.Field("available", model.available);
    if (model.available) {
      json.Field("parameters", model.parameters);
      json.Key("backtest").BeginObject();
      json.Field("mape_percent", model.backtest.mape);
      json.Field("rmse", model.backtest.rmse);
      json.Field("coverage", model.backtest.coverage);
      json.Field("points", model.backtest.points);
      json.Field("folds", model.backtest.folds);
      json.Field("horizon_steps", model.backtest.horizon_steps);
      json.EndObject();
    } else {
      json.Field("reason", model.unavailable_reason);
    }
    json.EndObject();
  }
  json.EndArray();
  json.Field("chosen_model", ModelName(report.Chosen().kind));
  json.Field("choice_reason", report.choice_reason);
  json.Key("forecast").BeginArray();
  for (const ForecastPoint& point : report.Chosen().forecast) {
    json.BeginObject();
    json.Field("timestamp", FormatTimestamp(point.timestamp));
    json.Field("value", point.value);
    json.Field("lower", point.lower);
    json.Field("upper", point.upper);
    json.EndObject();
  }
  json.EndArray();
  json.Key("recommendation").BeginObject();
  json.Field("target_utilisation", recommendation.target_utilisation);
  json.Field("current_capacity", recommendation.current_capacity);
  json.Field("forecast_peak_upper", recommendation.forecast_peak_upper);
  json.Field("forecast_peak_time", FormatTimestamp(recommendation.forecast_peak_time));
  json.Field("recommended_capacity", recommendation.recommended_capacity);
  json.Field("scaling_factor", recommendation.scaling_factor);
  json.Field("action_required", recommendation.action_required);
  if (recommendation.first_breach_time > 0) {
    json.Field("first_breach_time", FormatTimestamp(recommendation.first_breach_time));
  } else {
    json.Key("first_breach_time").Null();
  }
  if (recommendation.resource == Resource::kRequests) {
    json.Field("replica_requests_per_second", recommendation.replica.requests_per_second);
    json.Field("replica_capacity_source", recommendation.replica.source);
    json.Field("current_replicas", recommendation.current_replicas);
    json.Field("recommended_replicas", recommendation.recommended_replicas);
  }
  json.EndObject();
  json.EndObject();
  out.push_back('\n');
}

void WriteTable(const TimeSeries& series,
                const ForecastReport& report,
                const Recommendation& recommendation,
                std::string& out) {
  const std::string unit = ResourceUnit(recommendation.resource);
  out += "Capacity forecast: " + std::string(ResourceName(recommendation.resource)) + " (" + unit +
         ")\n";
  out += "History: " + std::to_string(series.size()) + " points, " +
         FormatTimestamp(series.timestamps.front()) + " to " +
         FormatTimestamp(series.timestamps.back()) + ", step " + Fixed(report.step_seconds, 0) +
         " s\n";
  const ModelResult& chosen = report.Chosen();
  out += "Horizon: " + std::to_string(report.horizon_steps) + " steps, to " +
         FormatTimestamp(chosen.forecast.back().timestamp) + "\n\n";

  out += "Backtest (rolling origin; 95 % interval coverage should be near 0.95)\n";
  out += Pad("model", 14) + Pad("MAPE", 10) + Pad("RMSE", 12) + Pad("coverage", 10) +
         "held-out points\n";
  for (const ModelResult& model : report.models) {
    std::string row = Pad(ModelName(model.kind), 14);
    if (model.available) {
      row += Pad(std::isfinite(model.backtest.mape) ? Fixed(model.backtest.mape, 1) + " %" : "n/a",
                 10) +
             Pad(Grouped(model.backtest.rmse), 12) + Pad(Fixed(model.backtest.coverage, 3), 10) +
             std::to_string(model.backtest.points) + " (" + std::to_string(model.backtest.folds) +
             " x " + std::to_string(model.backtest.horizon_steps) + ")";
      if (&model == &chosen) {
        row += "  <- chosen";
      }
    } else {
      row += "not applicable: " + model.unavailable_reason;
    }
    out += row + "\n";
  }
  out += "Chosen: " + report.choice_reason + "\n";
  out += "Model: " + chosen.parameters + "\n";
  out += "Linear trend: " + Grouped(report.linear.slope_per_second * 86400) + " " + unit +
         " per day\n\n";

  // Peaks per day for short horizons, per week for long ones.
  const double bucket = report.horizon_steps * report.step_seconds > 21 * 86400 ? 7 * 86400 : 86400;
  out +=
      std::string("Forecast peaks per ") + (bucket > 86400 ? "week" : "day") + " (" + unit + ")\n";
  out += Pad(bucket > 86400 ? "week from" : "day", 14) + Pad("forecast", 14) + "upper 95 %\n";
  std::map<int64_t, std::pair<double, double>> peaks;
  const double origin = chosen.forecast.front().timestamp;
  for (const ForecastPoint& point : chosen.forecast) {
    const auto key = static_cast<int64_t>(std::floor((point.timestamp - origin) / bucket));
    auto [it, inserted] = peaks.try_emplace(key, point.value, point.upper);
    if (!inserted) {
      it->second.first = std::max(it->second.first, point.value);
      it->second.second = std::max(it->second.second, point.upper);
    }
  }
  for (const auto& [key, peak] : peaks) {
    out += Pad(Date(origin + static_cast<double>(key) * bucket), 14) +
           Pad(Grouped(peak.first), 14) + Grouped(peak.second) + "\n";
  }

  out += "\nRecommendation (target utilisation " +
         Fixed(recommendation.target_utilisation * 100, 0) + " %)\n";
  std::string current = Grouped(recommendation.current_capacity);
  std::string recommended = Grouped(recommendation.recommended_capacity);
  if (recommendation.resource == Resource::kRequests) {
    current += " (" + std::to_string(recommendation.current_replicas) + " replicas x " +
               Grouped(recommendation.replica.requests_per_second) + ")";
    recommended += " (" + std::to_string(recommendation.recommended_replicas) + " replicas)";
  }
  out += "  current capacity:        " + current + " " + unit + "\n";
  out += "  forecast peak (upper):   " + Grouped(recommendation.forecast_peak_upper) + " " + unit +
         " at " + FormatTimestamp(recommendation.forecast_peak_time) + "\n";
  out += "  recommended capacity:    " + recommended + " " + unit + "\n";
  out += "  scaling factor:          " + Fixed(recommendation.scaling_factor, 2) + "\n";
  if (recommendation.action_required) {
    out += "  action:                  REQUIRED: the upper bound passes " +
           Fixed(recommendation.target_utilisation * 100, 0) + " % of today's capacity on " +
           FormatTimestamp(recommendation.first_breach_time) + "\n";
  } else {
    out += "  action:                  none: the upper bound stays under " +
           Fixed(recommendation.target_utilisation * 100, 0) + " % of today's capacity\n";
  }
  if (recommendation.resource == Resource::kRequests) {
    out += "  per-replica capacity:    " + Grouped(recommendation.replica.requests_per_second) +
           " requests/s from " + recommendation.replica.source + "\n";
  }
}

int RunForecast(const CapacityFlags& flags) {
  auto resource = ParseResource(flags.resource);
  if (!resource) {
    return Fail(kExitBadInput, resource.error());
  }
  auto horizon = ParseDurationSeconds(flags.horizon);
  if (!horizon) {
    return Fail(kExitBadInput, "--horizon: " + horizon.error());
  }
  RecommendationInput input;
  input.resource = *resource;
  input.current_capacity = flags.current_capacity;
  input.current_replicas = flags.current_replicas;
  input.target_utilisation = flags.target_utilisation;
  if (*resource == Resource::kRequests) {
    auto replica = ReplicaCapacityFromFlags(flags);
    if (!replica) {
      return Fail(kExitBadInput, replica.error());
    }
    input.replica = *replica;
  }

  auto series = LoadInput(flags);
  if (!series) {
    return Fail(flags.prometheus.empty() ? kExitBadInput : kExitFailure, series.error());
  }
  auto report = ForecastSeries(*series, *horizon);
  if (!report) {
    return Fail(kExitBadInput, report.error());
  }
  auto recommendation = Recommend(report->Chosen().forecast, input);
  if (!recommendation) {
    return Fail(kExitBadInput, recommendation.error());
  }
  LogInfo("capacity_forecast")
      .Field("resource", flags.resource)
      .Field("points", series->size())
      .Field("model", ModelName(report->Chosen().kind))
      .Field("action_required", recommendation->action_required);

  if (!flags.chart.empty()) {
    ChartOptions options;
    options.title = std::string("FraudGuard ") + ResourceName(*resource) + " forecast (" +
                    ModelName(report->Chosen().kind) + ", 95 % prediction interval)";
    options.unit = ResourceUnit(*resource);
    options.capacity = recommendation->current_capacity;
    options.target_level = recommendation->current_capacity * recommendation->target_utilisation;
    const std::string svg = RenderForecastSvg(*series, report->Chosen().forecast, options);
    if (Status written = WriteFileReplacing(flags.chart, svg); !written) {
      return Fail(kExitFailure, written.error());
    }
  }
  std::string text;
  if (flags.json) {
    WriteJson(*series, *report, *recommendation, text);
  } else {
    WriteTable(*series, *report, *recommendation, text);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return 0;
}

Status WriteOutput(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return std::ferror(stdout) ? Status(Error{"writing standard output failed"}) : OkStatus();
  }
  return WriteFileReplacing(path, text);
}

int RunManifests(const CapacityFlags& flags) {
  ManifestOptions options = flags.manifest;
  options.keda = !flags.no_keda;
  if (flags.no_schedules) {
    options.schedules.clear();
  } else if (!flags.schedules.empty()) {
    options.schedules.clear();
    for (const std::string& text : flags.schedules) {
      auto schedule = ParseSchedule(text);
      if (!schedule) {
        return Fail(kExitBadInput, schedule.error());
      }
      options.schedules.push_back(std::move(*schedule));
    }
  }
  auto yaml = RenderManifests(options);
  if (!yaml) {
    return Fail(kExitBadInput, yaml.error());
  }
  // The generator's own output must pass the schema check; a failure here is a bug.
  if (auto status = CheckManifests(*yaml); !status) {
    return Fail(kExitFailure, "generated manifests fail the schema check: " + status.error());
  }
  if (auto status = WriteOutput(flags.output, *yaml); !status) {
    return Fail(kExitFailure, status.error());
  }
  return 0;
}

std::string Clock(double unix_seconds) {
  return FormatTimestamp(unix_seconds).substr(11, 5);
}

void WriteSimulationTable(const SimulationResult& result,
                          const HpaPolicy& policy,
                          const ReplicaCapacity& replica,
                          double every_seconds,
                          const std::string& load_kind,
                          std::string& out) {
  out += "HPA replay: " + FormatTimestamp(result.steps.front().time) + " to " +
         FormatTimestamp(result.steps.back().time) + ", " + load_kind +
         " of the forecast as load\n";
  out += "Controller: target " + Grouped(policy.rps_target) + " decisions/s and " +
         Fixed(policy.cpu_target * 100, 0) + " % CPU per replica, tolerance " +
         Fixed(policy.tolerance, 2) + ", sync " + std::to_string(policy.sync_seconds) +
         " s, scale-down window " + std::to_string(policy.scale_down_window_seconds) +
         " s, replicas " + std::to_string(policy.min_replicas) + "-" +
         std::to_string(policy.max_replicas) + ", pods serve after " +
         std::to_string(policy.startup_seconds) + " s\n";
  out += "Per-replica capacity: " + Grouped(replica.requests_per_second) + " decisions/s from " +
         replica.source + "\n\n";
  out += Pad("time (UTC)", 12) + Pad("load/s", 12) + Pad("proposal", 10) + Pad("replicas", 10) +
         Pad("ready", 8) + "utilisation\n";
  double next_row = result.steps.front().time;
  for (const SimulationStep& step : result.steps) {
    if (step.time + 1e-6 < next_row) {
      continue;
    }
    next_row = step.time + every_seconds;
    std::string row = Pad(Clock(step.time), 12) + Pad(Grouped(step.load), 12) +
                      Pad(std::to_string(step.desired), 10) +
                      Pad(std::to_string(step.replicas), 10) + Pad(std::to_string(step.ready), 8) +
                      (std::isfinite(step.utilisation) ? Fixed(step.utilisation * 100, 0) + " %"
                                                       : "no ready pod");
    if (step.utilisation > 1.0) {
      row += "  OVERLOADED";
    }
    out += row + "\n";
  }
  out += "\nReplicas: " + std::to_string(result.min_replicas) + " to " +
         std::to_string(result.max_replicas) + "; " + std::to_string(result.scale_ups) +
         " scale-ups, " + std::to_string(result.scale_downs) + " scale-downs\n";
  out += "Peak utilisation of ready replicas: " +
         (std::isfinite(result.peak_utilisation) ? Fixed(result.peak_utilisation * 100, 0) + " %"
                                                 : std::string("unbounded")) +
         "; above the " + Fixed(policy.cpu_target * 100, 0) + " % target for " +
         Fixed(result.above_target_seconds / 60, 0) + " min\n";
  if (result.at_max) {
    out += "The maximum of " + std::to_string(policy.max_replicas) +
           " replicas capped the controller: raise --max-replicas\n";
  }
  if (result.latency_objective_holds) {
    out +=
        "Latency objective: holds; no replica is asked for more than the rate its latency "
        "was measured at\n";
  } else {
    out += "Latency objective: MISSED for " + Fixed(result.overloaded_seconds / 60, 0) +
           " min, first at " + FormatTimestamp(result.first_overload) +
           "; the ready replicas cannot carry the load there\n";
  }
}

void WriteSimulationJson(const SimulationResult& result,
                         const ReplicaCapacity& replica,
                         std::string& out) {
  JsonWriter json(out);
  json.BeginObject();
  json.Field("replica_requests_per_second", replica.requests_per_second);
  json.Field("replica_capacity_source", replica.source);
  json.Field("min_replicas", result.min_replicas);
  json.Field("max_replicas", result.max_replicas);
  json.Field("scale_ups", result.scale_ups);
  json.Field("scale_downs", result.scale_downs);
  json.Field("peak_utilisation", result.peak_utilisation);
  json.Field("overloaded_seconds", result.overloaded_seconds);
  json.Field("above_target_seconds", result.above_target_seconds);
  json.Field("capped_at_max", result.at_max);
  json.Field("latency_objective_holds", result.latency_objective_holds);
  json.Key("steps").BeginArray();
  for (const SimulationStep& step : result.steps) {
    json.BeginObject();
    json.Field("time", FormatTimestamp(step.time));
    json.Field("load", step.load);
    json.Field("proposal", step.desired);
    json.Field("replicas", step.replicas);
    json.Field("ready", step.ready);
    json.Field("utilisation", step.utilisation);
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  out.push_back('\n');
}

int RunSimulate(const CapacityFlags& flags) {
  if (flags.load != "upper" && flags.load != "value") {
    return Fail(kExitBadInput, "--load must be upper or value");
  }
  auto duration = ParseDurationSeconds(flags.duration);
  if (!duration) {
    return Fail(kExitBadInput, "--duration: " + duration.error());
  }
  if (*duration > 7 * 86400.0) {
    return Fail(kExitBadInput, "--duration: at most 7d is replayed");
  }
  auto every = ParseDurationSeconds(flags.every);
  if (!every) {
    return Fail(kExitBadInput, "--every: " + every.error());
  }
  auto replica = ReplicaCapacityFromFlags(flags);
  if (!replica) {
    return Fail(kExitBadInput, replica.error());
  }
  std::vector<ScalingSchedule> schedules;
  if (!flags.simulate_no_schedules) {
    schedules = DefaultSchedules();
    if (!flags.schedules.empty()) {
      schedules.clear();
      for (const std::string& text : flags.schedules) {
        auto schedule = ParseSchedule(text);
        if (!schedule) {
          return Fail(kExitBadInput, schedule.error());
        }
        schedules.push_back(std::move(*schedule));
      }
    }
  }
  auto series = LoadInput(flags);
  if (!series) {
    return Fail(flags.prometheus.empty() ? kExitBadInput : kExitFailure, series.error());
  }
  auto report = ForecastSeries(*series, *duration);
  if (!report) {
    return Fail(kExitBadInput, report.error());
  }
  SimulationInput input;
  input.replica_capacity = replica->requests_per_second;
  if (!schedules.empty()) {
    input.weekly_floor = WeeklyFloor(schedules, flags.hpa.min_replicas);
  }
  for (const ForecastPoint& point : report->Chosen().forecast) {
    input.timestamps.push_back(point.timestamp);
    input.load.push_back(std::max(0.0, flags.load == "upper" ? point.upper : point.value));
  }
  if (input.timestamps.size() < 2) {
    return Fail(kExitBadInput, "--duration covers fewer than two points of the series");
  }
  auto result = SimulateHpa(input, flags.hpa);
  if (!result) {
    return Fail(kExitBadInput, result.error());
  }
  LogInfo("capacity_simulation")
      .Field("max_replicas", result->max_replicas)
      .Field("latency_objective_holds", result->latency_objective_holds);
  std::string text;
  if (flags.json) {
    WriteSimulationJson(*result, *replica, text);
  } else {
    WriteSimulationTable(*result, flags.hpa, *replica, *every,
                         flags.load == "upper" ? "upper 95 % bound" : "point forecast", text);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

CapacityCommand::CapacityCommand(CLI::App& app) : flags_(std::make_unique<CapacityFlags>()) {
  CapacityFlags& f = *flags_;
  CLI::App* capacity =
      app.add_subcommand("capacity", "Forecast capacity and generate autoscaling manifests");
  capacity->require_subcommand(1);

  f.forecast = capacity->add_subcommand(
      "forecast", "Forecast a resource with 95 % prediction intervals and recommend capacity");
  CLI::App* forecast = f.forecast;
  forecast->add_option("--csv", f.csv, "History as timestamp,value rows");
  forecast->add_option("--sli-store", f.sli_store,
                       "A server's --data-dir: request rate from its SLI store");
  forecast->add_option("--route", f.routes,
                       "Routes to count from the SLI store (default: the analyze routes)");
  forecast->add_option("--prometheus", f.prometheus,
                       "Prometheus base URL on 127.0.0.1, e.g. http://127.0.0.1:9090");
  forecast->add_option("--query", f.query, "PromQL returning one series");
  forecast->add_option("--range", f.range,
                       "History to read from Prometheus or the SLI store (default 14d)");
  forecast->add_option("--step", f.step, "Step of the Prometheus query or SLI store (default 1h)");
  forecast->add_option("--end", f.end, "End of the range, Unix seconds (default now)");
  forecast->add_option("--horizon", f.horizon, "How far ahead to forecast (default 90d)");
  forecast->add_option("--resource", f.resource, "requests, cpu, memory or storage");
  forecast->add_option("--current-capacity", f.current_capacity,
                       "Today's capacity in the series' unit (cpu, memory, storage)");
  forecast->add_option("--current-replicas", f.current_replicas,
                       "Replicas running today (requests; default 5)");
  forecast->add_option("--replica-rps", f.replica_rps,
                       "Requests/s one replica sustains (default: read from --benchmarks)");
  forecast->add_option("--benchmarks", f.benchmarks,
                       "Benchmark page holding the measured per-replica rate");
  forecast->add_option("--target-utilisation", f.target_utilisation,
                       "Utilisation to plan for (default 0.7)");
  forecast->add_flag("--json", f.json, "Write JSON instead of tables");
  forecast->add_option("--chart", f.chart, "Write an SVG chart to this file");

  f.manifests = capacity->add_subcommand(
      "manifests", "Write Kubernetes autoscaling manifests (KEDA ScaledObject or HPA + CronJobs)");
  CLI::App* manifests = f.manifests;
  ManifestOptions& m = f.manifest;
  manifests->add_option("-o,--output", f.output, "YAML file, - for stdout");
  manifests->add_option("--name", m.name, "Deployment name (default fraudguard)");
  manifests->add_option("--namespace", m.kubernetes_namespace, "Namespace (default default)");
  manifests->add_option("--min-replicas", m.min_replicas, "Base replicas (default 5)");
  manifests->add_option("--max-replicas", m.max_replicas, "Most replicas (default 100)");
  manifests->add_option("--cpu", m.cpu_utilisation, "CPU utilisation target, % (default 70)");
  manifests->add_option("--memory", m.memory_utilisation,
                        "Memory utilisation target, % (default 80)");
  manifests->add_option("--rps-target", m.rps_per_replica,
                        "Decisions per second per replica (default 1000)");
  manifests->add_option("--scale-up-threshold", m.scale_up_threshold,
                        "Scale up above this multiple of the target (default 1.2)");
  manifests->add_option("--scale-down-threshold", m.scale_down_threshold,
                        "Scale down below this multiple of the target (default 0.8)");
  manifests->add_flag("--cluster-tolerance", m.cluster_tolerance,
                      "Leave out the per-HPA tolerance (Kubernetes before 1.33)");
  manifests->add_flag("--no-keda", f.no_keda,
                      "HorizontalPodAutoscaler and CronJobs instead of a KEDA ScaledObject");
  manifests->add_option("--timezone", m.timezone, "IANA time zone of the schedules (default UTC)");
  manifests->add_option("--prometheus-address", m.prometheus_address,
                        "Prometheus URL KEDA queries");
  manifests->add_option("--rps-query", m.rps_query, "PromQL for decisions per second");
  manifests->add_option("--rps-metric", m.rps_metric,
                        "Pods metric name served by prometheus-adapter (HPA only)");
  manifests->add_option("--kubectl-image", m.kubectl_image, "Image the CronJobs run");
  manifests->add_option("--schedule", f.schedules,
                        "name|M H * * DAYS|DURATION|REPLICAS; replaces the default schedules");
  manifests->add_flag("--no-schedules", f.no_schedules, "Metric-based scaling only");

  f.simulate = capacity->add_subcommand(
      "simulate", "Replay a forecast day against the HPA algorithm; show replicas and latency");
  CLI::App* simulate = f.simulate;
  HpaPolicy& h = f.hpa;
  simulate->add_option("--csv", f.csv, "History as timestamp,value rows (decisions/s)");
  simulate->add_option("--sli-store", f.sli_store,
                       "A server's --data-dir: request rate from its SLI store");
  simulate->add_option("--route", f.routes,
                       "Routes to count from the SLI store (default: the analyze routes)");
  simulate->add_option("--prometheus", f.prometheus, "Prometheus base URL on 127.0.0.1");
  simulate->add_option("--query", f.query, "PromQL returning one series");
  simulate->add_option("--range", f.range,
                       "History to read from Prometheus or the SLI store (default 14d)");
  simulate->add_option("--step", f.step, "Step of the Prometheus query or SLI store (default 1h)");
  simulate->add_option("--end", f.end, "End of the range, Unix seconds (default now)");
  simulate->add_option("--duration", f.duration,
                       "How much of the forecast to replay (default 24h)");
  simulate->add_option("--load", f.load, "upper (95 % bound, default) or value (point forecast)");
  simulate->add_option("--replica-rps", f.replica_rps,
                       "Decisions/s one replica sustains (default: read from --benchmarks)");
  simulate->add_option("--benchmarks", f.benchmarks, "Benchmark page with the measured rate");
  simulate->add_option("--tolerance", h.tolerance, "HPA tolerance (default 0.1)");
  simulate->add_option("--rps-target", h.rps_target,
                       "Decisions/s per replica target (default 1000)");
  simulate->add_option("--cpu-target", h.cpu_target, "CPU utilisation target (default 0.7)");
  simulate->add_option("--min-replicas", h.min_replicas, "Base replicas (default 5)");
  simulate->add_option("--max-replicas", h.max_replicas, "Most replicas (default 100)");
  simulate->add_option("--scale-down-window", h.scale_down_window_seconds,
                       "Scale-down stabilisation window, seconds (default 300)");
  simulate->add_option("--startup-seconds", h.startup_seconds,
                       "Seconds before a new pod serves (default 30)");
  simulate->add_option("--schedule", f.schedules, "name|M H * * DAYS|DURATION|REPLICAS");
  simulate->add_flag("--no-schedules", f.simulate_no_schedules, "No schedule floors");
  simulate->add_option("--every", f.every, "Table row interval (default 1h)");
  simulate->add_flag("--json", f.json, "Write JSON instead of a table");
}

CapacityCommand::~CapacityCommand() = default;

bool CapacityCommand::Parsed() const {
  return flags_->forecast->parsed() || flags_->manifests->parsed() || flags_->simulate->parsed();
}

int CapacityCommand::Run() const {
  if (flags_->forecast->parsed()) {
    return RunForecast(*flags_);
  }
  if (flags_->manifests->parsed()) {
    return RunManifests(*flags_);
  }
  if (flags_->simulate->parsed()) {
    return RunSimulate(*flags_);
  }
  return kExitBadInput;
}

}  // namespace fraudguard::capacity
