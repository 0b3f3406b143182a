#include "rollout/rollout_cli.h"

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

namespace fraudguard::rollout {

std::string KeyOrEnvironment(const std::string& flag) {
  if (!flag.empty()) {
    return flag;
  }
  const char* env = std::getenv("FRAUDGUARD_API_KEY");
  return env != nullptr ? env : "";
}

RolloutCommands::RolloutCommands(CLI::App& app) : canary_(app) {
  validate_ = app.add_subcommand(
      "validate",
      "Check a deployed server: health endpoints, API behaviour, a short load, detection");
  validate_->add_option("--url", validate_url_, "The server, e.g. http://127.0.0.1:8080")
      ->required();
  validate_->add_option("--key", key_, "API key with the score role (or FRAUDGUARD_API_KEY)");
  validate_->add_flag("--json", json_, "JSON for pipelines instead of a report");
  validate_
      ->add_option("--requests", validation_.performance_requests,
                   "Scoring requests of the performance run (default 300)")
      ->check(CLI::Range(1, 100000));
  validate_
      ->add_option("--connections", validation_.connections,
                   "Connections of the performance run (default 2)")
      ->check(CLI::Range(1, 64));
  validate_
      ->add_option("--max-p95-ms", validation_.max_p95_ms,
                   "Highest p95 latency that passes (default 100)")
      ->check(CLI::Range(0.001, 600000.0));
  validate_
      ->add_option("--max-error-rate", validation_.max_error_rate,
                   "Error rate that fails, 0..1 (default 0.01)")
      ->check(CLI::Range(0.0, 1.0));
  validate_
      ->add_option("--timeout-ms", validation_.request_timeout_ms,
                   "Time limit of each request (default 5000)")
      ->check(CLI::Range(1, 600000));
  validate_->add_option("--sample", validation_.sample_path,
                        "Labelled CSV to replay (fraudguard simulate writes one)");
  validate_
      ->add_option("--sample-limit", validation_.sample_limit,
                   "Most rows of the sample replayed (default 20000)")
      ->check(CLI::Range(1, 1000000));
  validate_
      ->add_option("--min-recall", validation_.min_recall,
                   "Share of the sample's frauds that must be flagged (default 0.5)")
      ->check(CLI::Range(0.0, 1.0));
  validate_
      ->add_option("--max-false-positive-rate", validation_.max_false_positive_rate,
                   "Share of genuine transactions that may be flagged (default 0.05)")
      ->check(CLI::Range(0.0, 1.0));
}

bool RolloutCommands::parsed() const {
  return validate_->parsed() || canary_.parsed();
}

int RolloutCommands::Run() {
  if (validate_->parsed()) {
    return RunValidate();
  }
  return canary_.Run();
}

int RolloutCommands::RunValidate() {
  auto target = ParseTarget("--url", validate_url_, KeyOrEnvironment(key_));
  if (!target) {
    std::fprintf(stderr, "error: %s\n", target.error().c_str());
    return kValidationUsageError;
  }
  validation_.target = std::move(target).value();
  auto report = RunValidation(validation_);
  if (!report) {
    std::fprintf(stderr, "error: %s\n", report.error().c_str());
    return kValidationUsageError;
  }
  if (json_) {
    std::string out;
    AppendValidationJson(*report, out);
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("%s", FormatValidationReport(*report).c_str());
  }
  return report->passed() ? kValidationPassed : kValidationFailed;
}

}  // namespace fraudguard::rollout
