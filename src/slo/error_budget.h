// The error budget engine: from per-minute SLI rows to each SLO's budget, status and burn rates.
//
// For a request-based SLO over a window of W minutes the budget is (1 - target) x requests in
// the window; for a time-slice SLO it is (1 - target) x W minutes. Utilisation is the errors
// spent over the budget, in percent, and the error budget policy turns it into a status. The
// burn rate over a shorter window is its error ratio over (1 - target): at 1 the budget lasts
// exactly the SLO window. docs/operations.md walks through an example.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slo/sli_recorder.h"
#include "slo/slo_config.h"

namespace fraudguard {

// The windows over which burn rates are reported, in minutes: 5m 30m 1h 2h 6h 1d 3d.
inline constexpr std::array<int64_t, 7> kBurnRateWindowsMinutes = {5, 30, 60, 120, 360, 1440, 4320};
// The burn rate that time to exhaustion is projected from.
inline constexpr size_t kCurrentBurnWindowIndex = 2;  // 1h

struct SloReport {
  std::string name;
  std::string section;
  SliKind kind = SliKind::kAvailability;
  Budgeting budgeting = Budgeting::kRequests;
  double target = 0;
  int64_t window_minutes = 0;
  double latency_threshold_seconds = 0;
  double time_slice_target = 0;

  uint64_t total_requests = 0;  // in the window
  uint64_t bad_requests = 0;
  uint64_t bad_minutes = 0;  // time slices only
  double sli = 1.0;          // good share of requests (or of minutes) in the window

  // In requests or minutes, following the budgeting.
  double allowed_errors = 0;
  double actual_errors = 0;
  double remaining_errors = 0;
  double utilisation_percent = 0;
  double remaining_ratio = 1.0;  // 1 - utilisation; negative once overspent

  BudgetStatus status = BudgetStatus::kHealthy;
  bool halt_deployments = false;
  std::string actions;

  std::array<double, kBurnRateWindowsMinutes.size()> burn_rates{};
  // At the 1h burn rate; empty when nothing is burning, 0 once exhausted.
  std::optional<double> time_to_exhaustion_seconds;

  const char* unit() const { return budgeting == Budgeting::kTimeSlices ? "minutes" : "requests"; }
};

// The requests of one SLO in one minute, summed over its routes.
struct MinuteCounts {
  uint64_t total = 0;
  uint64_t bad = 0;  // bad for this SLO: a 5xx, or slower than the latency threshold
};
using SloMinutes = std::map<int64_t, MinuteCounts>;  // by minute since the epoch

// Adds the rows of the SLO's routes to `minutes`.
void AddSloMinutes(const SloDefinition& slo,
                   const std::vector<SliRow>& rows,
                   const std::vector<double>& bounds,
                   SloMinutes& minutes);
// One SLO's report at `now_minute` from its per-minute counts.
SloReport ComputeSloReport(const SloDefinition& slo,
                           const ErrorBudgetPolicy& policy,
                           const SloMinutes& minutes,
                           int64_t now_minute);

// Computes every SLO of `config` at `now_minute` from minute rows covering at least the longest
// window (rows outside a window are ignored). `bounds` are the recorder's latency bucket bounds.
std::vector<SloReport> ComputeSloReports(const SloConfig& config,
                                         const std::vector<SliRow>& rows,
                                         int64_t now_minute,
                                         const std::vector<double>& bounds);

// Whether deployments may go ahead: no SLO's status halts them.
struct GateDecision {
  bool allowed = true;
  std::vector<std::string> reasons;  // one per halting SLO
};
GateDecision EvaluateGate(const std::vector<SloReport>& reports);
// Exit statuses of `fraudguard slo gate`.
inline constexpr int kGateAllowed = 0;
inline constexpr int kGateHalted = 1;
inline constexpr int kGateUsageError = 2;
inline constexpr int kGateUnknown = 3;  // the budget could not be read: fail closed
inline int GateExitCode(const GateDecision& decision) {
  return decision.allowed ? kGateAllowed : kGateHalted;
}

// {"generated_at_ms":..,"slos":[{...}]} as served by GET /api/v1/slo.
void AppendSloReportsJson(const std::vector<SloReport>& reports, int64_t now_ms, std::string& out);
void AppendSloReportJson(const SloReport& report, std::string& out);
// Reads back what AppendSloReportsJson wrote (the CLI talking to a running server).
Result<std::vector<SloReport>> ParseSloReportsJson(const std::string& json);
// A fixed-width table for people.
std::string FormatSloTable(const std::vector<SloReport>& reports);

}  // namespace fraudguard
