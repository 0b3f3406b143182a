// `fraudguard canary --baseline URL --canary URL`: sends the same bounded probe traffic to both
// servers over the analysis window, measures each interval, and judges the canary (see
// canary_judge.h), the error budget gate included.
#pragma once

#include <cstdint>
#include <string>

#include "rollout/canary_judge.h"
#include "rollout/probe.h"

namespace CLI {
class App;
}

namespace fraudguard::rollout {

struct CollectionOptions {
  Target baseline;
  Target canary;
  int64_t window_ms = 600'000;
  int64_t interval_ms = 30'000;
  int rate_per_second = 10;  // probes per second sent to each server
  int64_t request_timeout_ms = 5000;
  bool progress = true;
};

// Collects both servers' samples. Bounded: window_ms plus at most one request timeout.
void CollectCanarySamples(const CollectionOptions& options,
                          MetricSamples& baseline,
                          MetricSamples& canary);

// The judgement as a table for people, or as JSON for pipelines.
std::string FormatCanaryReport(const CanaryJudgement& judgement,
                               const CanaryConfig& config,
                               size_t phase_index,
                               const MetricSamples& baseline,
                               const MetricSamples& canary);
void AppendCanaryJson(const CanaryJudgement& judgement,
                      const CanaryConfig& config,
                      size_t phase_index,
                      const MetricSamples& baseline,
                      const MetricSamples& canary,
                      std::string& out);

class CanaryCommand {
public:
  explicit CanaryCommand(CLI::App& app);
  bool parsed() const;
  int Run() const;

private:
  CLI::App* command_ = nullptr;
  std::string baseline_url_;
  std::string canary_url_;
  std::string config_path_;
  int phase_ = 1;
  std::string window_;
  std::string interval_ = "30s";
  int rate_ = 10;
  int64_t timeout_ms_ = 5000;
  std::string key_;
  std::string slo_url_;
  std::string prometheus_url_;
  std::string baseline_selector_;
  std::string canary_selector_;
  bool json_ = false;
};

}  // namespace fraudguard::rollout
