// `fraudguard validate`: checks that a freshly deployed server is fit for traffic, in four parts
// as the specification's deployment validation lists them: the health endpoints, the API's
// behaviour on valid and invalid requests, a short bounded performance run, and detection
// quality (the specification's three known cases, plus an optional labelled sample replayed
// through the API). Each check passes or fails with a sentence saying what was seen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rollout/probe.h"

namespace fraudguard::rollout {

struct ValidationOptions {
  Target target;
  // Performance run: this many scoring requests over `connections` connections.
  int performance_requests = 300;
  int connections = 2;
  double max_p95_ms = 100;  // the specification's canary criteria
  double max_error_rate = 0.01;
  int64_t request_timeout_ms = 5000;
  // Labelled CSV replayed through the batch API (empty: skipped), at most `sample_limit` rows.
  std::string sample_path;
  int64_t sample_limit = 20000;
  double min_recall = 0.5;                // share of frauds flagged (review or decline)
  double max_false_positive_rate = 0.05;  // share of genuine transactions flagged
};

struct ValidationCheck {
  std::string group;  // health, api, performance, detection
  std::string name;
  bool passed = false;
  std::string detail;
};

struct ValidationReport {
  std::string url;
  std::vector<ValidationCheck> checks;
  // Performance figures, measured on the client.
  uint64_t performance_requests = 0;
  uint64_t performance_errors = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  // Labelled sample figures (sample_rows 0 when no sample was given).
  uint64_t sample_rows = 0;
  uint64_t sample_frauds = 0;
  uint64_t sample_skipped = 0;  // rows the API contract refuses (amount not positive)
  double sample_recall = 0;
  double sample_false_positive_rate = 0;
  int64_t duration_ms = 0;

  bool passed() const;
};

// Runs every check against the server; never throws. A server that cannot be reached fails
// its checks. Usage errors (an unreadable sample file) come back as an Error.
Result<ValidationReport> RunValidation(const ValidationOptions& options);

std::string FormatValidationReport(const ValidationReport& report);
void AppendValidationJson(const ValidationReport& report, std::string& out);

// Exit statuses of `fraudguard validate`.
inline constexpr int kValidationPassed = 0;
inline constexpr int kValidationFailed = 1;
inline constexpr int kValidationUsageError = 2;

}  // namespace fraudguard::rollout
