#include "rollout/canary_command.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>

#include "core/clock.h"
#include "core/json_writer.h"
#include "rollout/prometheus_source.h"
#include "rollout/rollout_cli.h"
#include "sim/progress_bar.h"

namespace fraudguard::rollout {
namespace {

constexpr int64_t kShortestInterval = 50;
constexpr int64_t kLongestInterval = 3'600'000;
constexpr size_t kMostIntervals = 1000;

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

// One interval's probes to one server, reduced to the metric values.
struct IntervalResults {
  std::vector<double> latencies;
  uint64_t errors = 0;
  uint64_t ok = 0;
  uint64_t flagged = 0;

  void Add(const ProbeResult& result) {
    latencies.push_back(result.latency_ms);
    if (result.ok) {
      ++ok;
      flagged += result.flagged ? 1 : 0;
    } else {
      ++errors;
    }
  }
  void AppendTo(MetricSamples& samples, std::vector<double>& all_latencies) {
    const auto count = static_cast<double>(latencies.size());
    samples.requests += latencies.size();
    samples.errors += errors;
    all_latencies.insert(all_latencies.end(), latencies.begin(), latencies.end());
    auto& values = samples.values;
    values[static_cast<size_t>(CanaryMetric::kErrorRate)].push_back(static_cast<double>(errors) /
                                                                    count);
    values[static_cast<size_t>(CanaryMetric::kLatencyP50)].push_back(Percentile(latencies, 0.5));
    values[static_cast<size_t>(CanaryMetric::kLatencyP95)].push_back(Percentile(latencies, 0.95));
    values[static_cast<size_t>(CanaryMetric::kLatencyP99)].push_back(Percentile(latencies, 0.99));
    if (ok > 0) {  // no decision, no flagged rate: the error rate already speaks for it
      values[static_cast<size_t>(CanaryMetric::kFlaggedRate)].push_back(
          static_cast<double>(flagged) / static_cast<double>(ok));
    }
  }
};

void AppendSamplesJson(const MetricSamples& samples, JsonWriter& json) {
  json.BeginObject()
      .Field("requests", samples.requests)
      .Field("errors", samples.errors)
      .Field("p95_ms", samples.p95_ms)
      .EndObject();
}

}  // namespace

void CollectCanarySamples(const CollectionOptions& options,
                          MetricSamples& baseline,
                          MetricSamples& canary) {
  const std::string run = NewRunId("canary");
  http::Client baseline_client(options.baseline.host, options.baseline.port,
                               options.request_timeout_ms);
  http::Client canary_client(options.canary.host, options.canary.port, options.request_timeout_ms);
  const int64_t intervals = std::max<int64_t>(1, options.window_ms / options.interval_ms);
  const int64_t per_interval =
      std::max<int64_t>(1, options.rate_per_second * options.interval_ms / 1000);
  const auto pause_ns = options.interval_ms * 1'000'000 / per_interval;
  std::vector<double> baseline_latencies;
  std::vector<double> canary_latencies;
  std::optional<ProgressBar> progress;
  if (options.progress) {
    progress.emplace("canary", static_cast<uint64_t>(intervals));
  }
  uint64_t n = 0;
  const int64_t start_ns = MonotonicNanos();
  for (int64_t interval = 0; interval < intervals; ++interval) {
    IntervalResults baseline_interval;
    IntervalResults canary_interval;
    for (int64_t i = 0; i < per_interval; ++i, ++n) {
      // Paced to the rate; both servers get the same transaction, the first of the two taking
      // turns so that neither is always measured after the other.
      const int64_t due_ns = start_ns + (interval * per_interval + i) * pause_ns;
      const int64_t wait_ns = due_ns - MonotonicNanos();
      if (wait_ns > 0) {
        std::this_thread::sleep_for(std::chrono::nanoseconds(wait_ns));
      }
      if (n % 2 == 0) {
        baseline_interval.Add(SendProbe(baseline_client, options.baseline, run, n));
        canary_interval.Add(SendProbe(canary_client, options.canary, run, n));
      } else {
        canary_interval.Add(SendProbe(canary_client, options.canary, run, n));
        baseline_interval.Add(SendProbe(baseline_client, options.baseline, run, n));
      }
    }
    baseline_interval.AppendTo(baseline, baseline_latencies);
    canary_interval.AppendTo(canary, canary_latencies);
    if (progress) {
      progress->Update(static_cast<uint64_t>(interval + 1));
    }
  }
  if (progress) {
    progress->Finish();
  }
  baseline.p95_ms = Percentile(baseline_latencies, 0.95);
  canary.p95_ms = Percentile(canary_latencies, 0.95);
}

std::string FormatCanaryReport(const CanaryJudgement& judgement,
                               const CanaryConfig& config,
                               size_t phase_index,
                               const MetricSamples& baseline,
                               const MetricSamples& canary) {
  const CanaryPhase& phase = config.phases[phase_index];
  std::string out = "Canary analysis, phase " + std::to_string(phase_index + 1) + " of " +
                    std::to_string(config.phases.size()) + " (" +
                    std::to_string(phase.traffic_percent) + " % of traffic)\n";
  out += "  baseline: " + std::to_string(baseline.requests) + " requests, " +
         std::to_string(baseline.errors) + " errors, p95 " + Fixed(baseline.p95_ms, 2) + " ms\n";
  out += "  canary:   " + std::to_string(canary.requests) + " requests, " +
         std::to_string(canary.errors) + " errors, p95 " + Fixed(canary.p95_ms, 2) + " ms\n\n";
  char line[256];
  std::snprintf(line, sizeof(line), "  %-16s %-10s %-8s %12s %12s %8s %9s\n", "metric", "group",
                "class", "baseline", "canary", "ratio", "p-value");
  out += line;
  for (const MetricJudgement& metric : judgement.metrics) {
    std::snprintf(line, sizeof(line), "  %-16s %-10s %-8s %12.4f %12.4f %8.2f %9.4f%s\n",
                  std::string(CanaryMetricName(metric.criterion.metric)).c_str(),
                  metric.criterion.group.c_str(),
                  std::string(MetricClassName(metric.classification)).c_str(), metric.baseline_mean,
                  metric.canary_mean, metric.effect, metric.test.p_value,
                  metric.criterion.critical ? "  critical" : "");
    out += line;
  }
  out += "\n  groups:";
  for (const GroupScore& group : judgement.groups) {
    out +=
        " " + group.name + " " + Fixed(group.score, 0) + " (weight " + Fixed(group.weight, 0) + ")";
  }
  out += "\n  score " + Fixed(judgement.score, 2) + " (pass at " + Fixed(config.pass_score, 0) +
         ", marginal at " + Fixed(config.marginal_score, 0) + ")\n";
  for (const std::string& reason : judgement.reasons) {
    out += "  - " + reason + "\n";
  }
  std::string next;
  switch (judgement.verdict) {
    case Verdict::kPass:
      next = phase_index + 1 < config.phases.size()
                 ? "promote to phase " + std::to_string(phase_index + 2) + " (" +
                       std::to_string(config.phases[phase_index + 1].traffic_percent) +
                       " % of traffic)"
                 : "the rollout is complete";
      break;
    case Verdict::kMarginal:
      next = "hold: a person decides";
      break;
    case Verdict::kFail:
      next = "roll back";
      break;
    case Verdict::kHalted:
      next = "do not promote while the error budget policy halts deployments";
      break;
  }
  std::string verdict(VerdictName(judgement.verdict));
  std::transform(verdict.begin(), verdict.end(), verdict.begin(),
                 [](char c) { return static_cast<char>(std::toupper(c)); });
  out += "\n" + verdict + ": " + next + "\n";
  return out;
}

void AppendCanaryJson(const CanaryJudgement& judgement,
                      const CanaryConfig& config,
                      size_t phase_index,
                      const MetricSamples& baseline,
                      const MetricSamples& canary,
                      std::string& out) {
  const CanaryPhase& phase = config.phases[phase_index];
  JsonWriter json(out);
  json.BeginObject()
      .Field("verdict", VerdictName(judgement.verdict))
      .Field("judge_verdict", VerdictName(judgement.judge_verdict))
      .Field("score", judgement.score)
      .Field("critical_failure", judgement.critical_failure)
      .Key("phase")
      .BeginObject()
      .Field("index", static_cast<int64_t>(phase_index + 1))
      .Field("traffic_percent", phase.traffic_percent)
      .Field("max_error_rate", phase.max_error_rate)
      .Field("max_p95_ms", phase.max_p95_ms)
      .EndObject();
  json.Key("baseline");
  AppendSamplesJson(baseline, json);
  json.Key("canary");
  AppendSamplesJson(canary, json);
  json.Key("metrics").BeginArray();
  for (const MetricJudgement& metric : judgement.metrics) {
    json.BeginObject()
        .Field("name", CanaryMetricName(metric.criterion.metric))
        .Field("group", metric.criterion.group)
        .Field("critical", metric.criterion.critical)
        .Field("classification", MetricClassName(metric.classification))
        .Field("baseline_mean", metric.baseline_mean)
        .Field("canary_mean", metric.canary_mean)
        .Field("effect", metric.effect)
        .Field("u", metric.test.u)
        .Field("z", metric.test.z)
        .Field("p_value", metric.test.p_value)
        .Field("shift", metric.test.shift)
        .Field("shift_lower", metric.test.lower)
        .Field("shift_upper", metric.test.upper)
        .EndObject();
  }
  json.EndArray().Key("groups").BeginArray();
  for (const GroupScore& group : judgement.groups) {
    json.BeginObject()
        .Field("name", group.name)
        .Field("weight", group.weight)
        .Field("score", group.score)
        .Field("passed", group.passed)
        .Field("judged", group.judged)
        .EndObject();
  }
  json.EndArray().Key("reasons").BeginArray();
  for (const std::string& reason : judgement.reasons) {
    json.String(reason);
  }
  json.EndArray().EndObject();
}

CanaryCommand::CanaryCommand(CLI::App& app) {
  command_ = app.add_subcommand(
      "canary", "Judge a canary against its baseline: Mann-Whitney per metric, weighted score");
  command_->add_option("--baseline", baseline_url_, "The baseline server (the current release)")
      ->required();
  command_->add_option("--canary", canary_url_, "The canary server (the new release)")->required();
  command_->add_option("-c,--config", config_path_,
                       "Judge settings, metrics and phases (default: built-in, as "
                       "config/canary.yaml)");
  command_->add_option("--phase", phase_, "Which phase is being judged, from 1 (default 1)")
      ->check(CLI::Range(1, 16));
  command_->add_option("--window", window_,
                       "Analysis window, e.g. 10m (default: the phase's duration)");
  command_->add_option("--interval", interval_,
                       "Length of one measurement interval, e.g. 30s (default 30s)");
  command_->add_option("--rate", rate_, "Probe requests per second to each server (default 10)")
      ->check(CLI::Range(1, 1000));
  command_->add_option("--timeout-ms", timeout_ms_, "Time limit of each request (default 5000)")
      ->check(CLI::Range(1, 600000));
  command_->add_option("--key", key_,
                       "API key with the score and read roles (or FRAUDGUARD_API_KEY)");
  command_->add_option("--slo-url", slo_url_,
                       "Server whose error budget gates promotion (default: the baseline)");
  command_->add_option("--prometheus", prometheus_url_,
                       "Read both deployments' figures over the past window from this Prometheus "
                       "instead of sending probes");
  command_->add_option("--baseline-selector", baseline_selector_,
                       "With --prometheus: label matchers of the baseline's series (default "
                       "instance=\"<host:port of --baseline>\")");
  command_->add_option("--canary-selector", canary_selector_,
                       "With --prometheus: label matchers of the canary's series (default "
                       "instance=\"<host:port of --canary>\")");
  command_->add_flag("--json", json_, "JSON for pipelines instead of a report");
}

bool CanaryCommand::parsed() const {
  return command_->parsed();
}

int CanaryCommand::Run() const {
  const auto usage = [](const std::string& message) {
    std::fprintf(stderr, "error: %s\n", message.c_str());
    return kCanaryUsageError;
  };
  auto config = config_path_.empty() ? Result<CanaryConfig>(DefaultCanaryConfig())
                                     : LoadCanaryConfigFile(config_path_);
  if (!config) {
    return usage(config.error());
  }
  const std::string key = KeyOrEnvironment(key_);
  auto baseline = ParseTarget("--baseline", baseline_url_, key);
  auto canary = ParseTarget("--canary", canary_url_, key);
  auto slo = ParseTarget("--slo-url", slo_url_.empty() ? baseline_url_ : slo_url_, key);
  if (!baseline || !canary || !slo) {
    return usage(!baseline ? baseline.error() : !canary ? canary.error() : slo.error());
  }
  if (static_cast<size_t>(phase_) > config->phases.size()) {
    return usage("--phase: the configuration has " + std::to_string(config->phases.size()) +
                 " phases");
  }
  const size_t phase_index = static_cast<size_t>(phase_) - 1;
  const CanaryPhase& phase = config->phases[phase_index];
  CollectionOptions options;
  options.baseline = *baseline;
  options.canary = *canary;
  options.rate_per_second = rate_;
  options.request_timeout_ms = timeout_ms_;
  options.progress = !json_;
  auto interval = ParseDurationMillis(interval_);
  if (!interval || *interval < kShortestInterval) {
    return usage("--interval: " +
                 (interval ? std::string("must be at least 50ms") : interval.error()));
  }
  options.interval_ms = *interval;
  if (!window_.empty()) {
    auto window = ParseDurationMillis(window_);
    if (!window || *window < options.interval_ms) {
      return usage("--window: " +
                   (window ? std::string("must be at least one --interval") : window.error()));
    }
    options.window_ms = *window;
  } else if (phase.duration_ms == 0) {
    return usage("--phase " + std::to_string(phase_) +
                 " is the stable phase: nothing to analyse (give --window to judge it anyway)");
  } else {
    options.window_ms = phase.duration_ms;
  }
  if (options.window_ms / options.interval_ms < static_cast<int64_t>(kMinIntervals)) {
    return usage("the window holds fewer than " + std::to_string(kMinIntervals) +
                 " intervals, too few to judge; use a shorter --interval");
  }
  if (options.window_ms / options.interval_ms > static_cast<int64_t>(kMostIntervals)) {
    return usage("--window holds more than " + std::to_string(kMostIntervals) +
                 " intervals; use a longer --interval");
  }

  MetricSamples baseline_samples;
  MetricSamples canary_samples;
  if (prometheus_url_.empty()) {
    CollectCanarySamples(options, baseline_samples, canary_samples);
  } else {
    PrometheusOptions source;
    source.url = prometheus_url_;
    if (auto address = http::ParseHttpUrl(prometheus_url_); !address) {
      return usage("--prometheus: " + address.error());
    }
    const auto instance = [](const Target& target) {
      return "instance=\"" + target.host + ":" + std::to_string(target.port) + "\"";
    };
    source.baseline_selector =
        baseline_selector_.empty() ? instance(*baseline) : baseline_selector_;
    source.canary_selector = canary_selector_.empty() ? instance(*canary) : canary_selector_;
    for (const auto& [flag, selector] : {std::pair<const char*, const std::string*>{
                                             "--baseline-selector", &source.baseline_selector},
                                         {"--canary-selector", &source.canary_selector}}) {
      if (auto status = CheckSelector(flag, *selector); !status) {
        return usage(status.error());
      }
    }
    source.end_ms = SystemClock::Instance().NowMillis();
    source.window_ms = options.window_ms;
    source.interval_ms = options.interval_ms;
    source.timeout_ms = timeout_ms_;
    if (auto status = CollectFromPrometheus(source, baseline_samples, canary_samples); !status) {
      // Without the figures there is no evidence that the canary is fit: it does not pass.
      std::fprintf(stderr, "canary failed: %s\n", status.error().c_str());
      return VerdictExitCode(Verdict::kFail);
    }
  }
  CanaryJudgement judgement = JudgeCanary(*config, baseline_samples, canary_samples);
  ApplyPhaseCriteria(phase, canary_samples, judgement);

  // The error budget gate, read after the analysis so that it is current when acted on; an
  // unreadable budget halts promotion (fail closed), as `fraudguard slo gate` does.
  GateDecision gate;
  {
    http::Client client(slo->host, slo->port, timeout_ms_);
    std::vector<std::pair<std::string, std::string>> headers;
    if (!slo->key.empty()) {
      headers.emplace_back("X-API-Key", slo->key);
    }
    auto response = client.Send("GET", "/api/v1/slo", {}, headers);
    Result<std::vector<SloReport>> reports = Error{""};
    if (!response) {
      reports = Error{response.error()};
    } else if (response->status != 200) {
      reports = Error{"answered " + std::to_string(response->status) + ": " +
                      response->body.substr(0, 160)};
    } else {
      reports = ParseSloReportsJson(response->body);
    }
    if (reports) {
      gate = EvaluateGate(*reports);
    } else {
      gate.allowed = false;
      gate.reasons.push_back("the error budget of " + slo->url +
                             " cannot be read: " + reports.error());
    }
  }
  ApplyGate(gate, judgement);

  std::string out;
  if (json_) {
    AppendCanaryJson(judgement, *config, phase_index, baseline_samples, canary_samples, out);
    out += "\n";
  } else {
    out = FormatCanaryReport(judgement, *config, phase_index, baseline_samples, canary_samples);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return VerdictExitCode(judgement.verdict);
}

}  // namespace fraudguard::rollout
