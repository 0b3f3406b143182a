#include "slo/slo_tracker.h"

#include <algorithm>

#include "core/log.h"

namespace fraudguard {
namespace {

constexpr int64_t kMillisPerMinute = 60'000;

int64_t MinuteOf(int64_t millis) {
  return millis >= 0 ? millis / kMillisPerMinute
                     : (millis - kMillisPerMinute + 1) / kMillisPerMinute;
}

}  // namespace

SloTracker::SloTracker(SloConfig config, SliRecorder& recorder, const Clock& clock)
    : config_(std::move(config)), recorder_(recorder), clock_(clock) {
  for (const SloDefinition& slo : config_.slos) {
    longest_window_minutes_ = std::max(longest_window_minutes_, slo.window_minutes);
  }
  longest_window_minutes_ = std::max(longest_window_minutes_, kBurnRateWindowsMinutes.back());
  minutes_.resize(config_.slos.size());
}

Result<std::vector<SloReport>> SloTracker::Reports() {
  std::lock_guard lock(mutex_);
  // A failed flush leaves the counts queued for the next one; the reports then lag by them.
  (void)recorder_.Flush();
  const int64_t now_minute = MinuteOf(clock_.NowMillis());
  const int64_t window_start = now_minute - longest_window_minutes_ + 1;
  if (now_minute < loaded_through_minute_) {
    loaded_through_minute_ = INT64_MIN;  // the clock went back: start over
  }
  // The last minute read may have grown since (rows are added to), so it is read again.
  const int64_t from = std::max(window_start, loaded_through_minute_);
  auto rows = recorder_.ReadMinutes(from, now_minute + 1);
  if (!rows) {
    if (!read_failing_) {
      LogError("sli_read_failed").Field("error", rows.error());
      read_failing_ = true;
    }
    return Error{rows.error()};
  }
  if (read_failing_) {
    LogInfo("sli_read_recovered");
    read_failing_ = false;
  }
  std::vector<SloReport> reports;
  for (size_t i = 0; i < config_.slos.size(); ++i) {
    SloMinutes& minutes = minutes_[i];
    if (loaded_through_minute_ == INT64_MIN) {
      minutes.clear();
    }
    minutes.erase(minutes.begin(), minutes.lower_bound(window_start));
    minutes.erase(minutes.lower_bound(from), minutes.end());
    AddSloMinutes(config_.slos[i], *rows, recorder_.bounds(), minutes);
    reports.push_back(ComputeSloReport(config_.slos[i], config_.policy, minutes, now_minute));
  }
  loaded_through_minute_ = now_minute;
  return reports;
}

void SloTracker::RegisterMetrics(MetricsRegistry& metrics) {
  auto& remaining = metrics.AddGauge(
      "slo_error_budget_remaining_ratio",
      "Share of the SLO's error budget left over its window (negative once overspent).", {"slo"});
  auto& burn = metrics.AddGauge(
      "slo_burn_rate", "Error ratio over the window divided by the SLO's allowed error ratio.",
      {"slo", "window"});
  auto& status = metrics.AddGauge(
      "slo_error_budget_status",
      "Error budget policy status: 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 EXHAUSTED.", {"slo"});
  auto& write_errors = metrics
                           .AddCounter("fraudguard_sli_write_errors_total",
                                       "Failed writes of SLI counts to the data directory "
                                       "(the counts are kept and retried).")
                           .WithLabels({});
  auto& read_errors = metrics
                          .AddCounter("fraudguard_slo_report_errors_total",
                                      "SLO reports that could not be computed.")
                          .WithLabels({});
  // Children exist from the start so that dashboards see every series before the first scrape.
  for (const SloDefinition& slo : config_.slos) {
    remaining.WithLabels({slo.name}).Set(1);
    status.WithLabels({slo.name}).Set(0);
    for (const int64_t window : kBurnRateWindowsMinutes) {
      burn.WithLabels({slo.name, FormatWindow(window)}).Set(0);
    }
  }
  metrics.AddCollector([this, &remaining, &burn, &status, &write_errors, &read_errors] {
    auto reports = Reports();
    write_errors.SetTotal(static_cast<double>(recorder_.write_errors()));
    if (!reports) {
      read_errors.Increment();
      return;
    }
    for (const SloReport& report : *reports) {
      remaining.WithLabels({report.name}).Set(report.remaining_ratio);
      status.WithLabels({report.name}).Set(static_cast<double>(report.status));
      for (size_t i = 0; i < kBurnRateWindowsMinutes.size(); ++i) {
        burn.WithLabels({report.name, FormatWindow(kBurnRateWindowsMinutes[i])})
            .Set(report.burn_rates[i]);
      }
    }
  });
}

}  // namespace fraudguard
