// Scenario tests of the error budget engine with an injected clock: a clean month, each status
// boundary exactly, a short total outage, a slow burn into CRITICAL, and the gate in each.
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "slo/error_budget.h"
#include "slo/slo_tracker.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 24 * 60;                                  // in minutes
constexpr int64_t kNow = 1'793'491'200'000 / kMinute + 40 * kDay;  // a minute, well after 1970
const char* const kAnalyze = "/api/v1/fraud/analyze";
const char* const kDecisions = "/api/v1/fraud/decisions/{transaction_id}";

const std::vector<double>& Bounds() {
  static const std::vector<double> bounds = LatencyBucketsSeconds();
  return bounds;
}

// One minute row of `total` requests, `bad` of them 5xx, all taking `seconds`.
SliRow Row(int64_t minute,
           const std::string& route,
           uint64_t total,
           uint64_t bad,
           double seconds = 0.002) {
  SliRow row;
  row.minute = minute;
  row.route = route;
  row.counts.total = total;
  row.counts.bad = bad;
  row.counts.buckets.assign(Bounds().size() + 1, 0);
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(Bounds().begin(), Bounds().end(), seconds) - Bounds().begin());
  row.counts.buckets[bucket] = total;
  return row;
}

const SloReport& Find(const std::vector<SloReport>& reports, const std::string& name) {
  for (const SloReport& report : reports) {
    if (report.name == name) {
      return report;
    }
  }
  ADD_FAILURE() << "no report " << name;
  return reports.front();
}

TEST(ErrorBudget, CleanMonthIsHealthy) {
  const SloConfig config = DefaultSloConfig();
  std::vector<SliRow> rows;
  for (int64_t m = kNow - 30 * kDay + 1; m <= kNow; ++m) {
    rows.push_back(Row(m, kAnalyze, 100, 0, 0.004));
    rows.push_back(Row(m, kDecisions, 5, 0, 0.001));
  }
  const auto reports = ComputeSloReports(config, rows, kNow, Bounds());
  ASSERT_EQ(reports.size(), config.slos.size());
  for (const SloReport& report : reports) {
    EXPECT_EQ(report.status, BudgetStatus::kHealthy) << report.name;
    EXPECT_DOUBLE_EQ(report.utilisation_percent, 0) << report.name;
    EXPECT_DOUBLE_EQ(report.remaining_ratio, 1) << report.name;
    EXPECT_FALSE(report.time_to_exhaustion_seconds.has_value()) << report.name;
    for (const double burn : report.burn_rates) {
      EXPECT_DOUBLE_EQ(burn, 0) << report.name;
    }
  }
  const SloReport& availability = Find(reports, "fraud_api_availability");
  EXPECT_EQ(availability.total_requests, 100u * 30 * kDay);
  EXPECT_NEAR(availability.allowed_errors, 4.32, 1e-9);  // minutes
  EXPECT_EQ(std::string(availability.unit()), "minutes");
  // The 7-day latency SLO counts only its own window.
  EXPECT_EQ(Find(reports, "fraud_api_latency_p95").total_requests, 100u * 7 * kDay);
  EXPECT_NEAR(Find(reports, "fraud_api_latency_p95").allowed_errors, 0.05 * 100 * 7 * kDay, 1e-6);
  const GateDecision gate = EvaluateGate(reports);
  EXPECT_TRUE(gate.allowed);
  EXPECT_EQ(GateExitCode(gate), kGateAllowed);
}

// dashboard_availability is request-based at 99.95 %: 100000 requests allow 50 errors.
TEST(ErrorBudget, EachStatusBoundaryOfARequestBudgetExactly) {
  const SloConfig config = DefaultSloConfig();
  const struct {
    uint64_t bad;
    BudgetStatus status;
    double utilisation;
  } cases[] = {
      {0, BudgetStatus::kHealthy, 0},      {24, BudgetStatus::kHealthy, 48},
      {25, BudgetStatus::kWarning, 50},    {39, BudgetStatus::kWarning, 78},
      {40, BudgetStatus::kCritical, 80},   {49, BudgetStatus::kCritical, 98},
      {50, BudgetStatus::kExhausted, 100}, {75, BudgetStatus::kExhausted, 150},
  };
  for (const auto& c : cases) {
    std::vector<SliRow> rows;
    // Spread over 100 minutes of the window, the errors in the first ones.
    for (int64_t i = 0; i < 100; ++i) {
      const uint64_t bad = std::min<uint64_t>(1000, c.bad > static_cast<uint64_t>(i) ? 1 : 0);
      rows.push_back(Row(kNow - 1000 + i, kDecisions, 1000, bad));
    }
    const auto reports = ComputeSloReports(config, rows, kNow, Bounds());
    const SloReport& report = Find(reports, "dashboard_availability");
    EXPECT_EQ(report.total_requests, 100000u);
    EXPECT_NEAR(report.allowed_errors, 50, 1e-9);
    EXPECT_DOUBLE_EQ(report.actual_errors, static_cast<double>(std::min<uint64_t>(c.bad, 100)));
    EXPECT_DOUBLE_EQ(report.utilisation_percent, c.utilisation) << c.bad;
    EXPECT_EQ(report.status, c.status) << c.bad << " errors";
    const bool halts = c.status == BudgetStatus::kCritical || c.status == BudgetStatus::kExhausted;
    EXPECT_EQ(report.halt_deployments, halts);
    const GateDecision gate = EvaluateGate(reports);
    EXPECT_EQ(GateExitCode(gate), halts ? kGateHalted : kGateAllowed) << c.bad << " errors";
    if (halts) {
      ASSERT_EQ(gate.reasons.size(), 1u);
      EXPECT_NE(gate.reasons[0].find("dashboard_availability is " +
                                     std::string(BudgetStatusName(c.status))),
                std::string::npos)
          << gate.reasons[0];
    }
  }
}

// A time-slice SLO of 99.9 % over 10000 minutes allows exactly 10 bad minutes.
TEST(ErrorBudget, EachStatusBoundaryOfATimeSliceBudgetExactly) {
  auto config = ParseSloConfig(
      "fraud_detection_api_slos:\n"
      "  routes: [\"/api/v1/fraud/analyze\"]\n"
      "  availability:\n"
      "    target: 99.9%\n"
      "    measurement_window: \"10000m\"\n"
      "    budgeting: time_slices\n"
      "    time_slice_target: 99%\n",
      {});
  ASSERT_TRUE(config) << config.error();
  const std::pair<int, BudgetStatus> cases[] = {
      {4, BudgetStatus::kHealthy},  {5, BudgetStatus::kWarning},  {7, BudgetStatus::kWarning},
      {8, BudgetStatus::kCritical}, {9, BudgetStatus::kCritical}, {10, BudgetStatus::kExhausted},
  };
  for (const auto& [bad_minutes, status] : cases) {
    std::vector<SliRow> rows;
    for (int64_t i = 0; i < 100; ++i) {
      // A bad minute misses 99 %: 2 errors in 100. A minute with 1 error in 100 still meets it.
      const uint64_t bad = i < bad_minutes ? 2 : 1;
      rows.push_back(Row(kNow - 5000 + i, kAnalyze, 100, bad));
    }
    // Minutes before the window do not count.
    rows.push_back(Row(kNow - 10000, kAnalyze, 100, 100));
    const auto reports = ComputeSloReports(*config, rows, kNow, Bounds());
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_NEAR(reports[0].allowed_errors, 10, 1e-9);
    EXPECT_EQ(reports[0].bad_minutes, static_cast<uint64_t>(bad_minutes));
    EXPECT_DOUBLE_EQ(reports[0].utilisation_percent, bad_minutes * 10.0);
    EXPECT_EQ(reports[0].status, status) << bad_minutes << " bad minutes";
    EXPECT_EQ(GateExitCode(EvaluateGate(reports)),
              status >= BudgetStatus::kCritical ? kGateHalted : kGateAllowed);
  }
}

TEST(ErrorBudget, LatencyBudgetCountsSlowRequests) {
  const SloConfig config = DefaultSloConfig();
  std::vector<SliRow> rows;
  rows.push_back(Row(kNow - 10, kAnalyze, 940, 0, 0.05));  // at the threshold: good
  rows.push_back(Row(kNow - 9, kAnalyze, 60, 0, 0.075));   // over 50 ms, under 100 ms
  const auto reports = ComputeSloReports(config, rows, kNow, Bounds());
  const SloReport& p95 = Find(reports, "fraud_api_latency_p95");
  EXPECT_EQ(p95.total_requests, 1000u);
  EXPECT_DOUBLE_EQ(p95.actual_errors, 60);
  EXPECT_NEAR(p95.allowed_errors, 50, 1e-9);
  EXPECT_DOUBLE_EQ(p95.utilisation_percent, 120);
  EXPECT_EQ(p95.status, BudgetStatus::kExhausted);
  EXPECT_DOUBLE_EQ(p95.sli, 0.94);
  const SloReport& p99 = Find(reports, "fraud_api_latency_p99");
  EXPECT_DOUBLE_EQ(p99.actual_errors, 0);
  const SloReport& p50 = Find(reports, "fraud_api_latency_p50");
  EXPECT_DOUBLE_EQ(p50.actual_errors, 1000);  // every request took over 10 ms
}

TEST(ErrorBudget, BurnRatesPerWindow) {
  const SloConfig config = DefaultSloConfig();
  std::vector<SliRow> rows;
  // Three days of traffic, 1 % errors in the last five minutes only.
  for (int64_t m = kNow - 3 * kDay + 1; m <= kNow; ++m) {
    rows.push_back(Row(m, kDecisions, 100, m > kNow - 5 ? 1 : 0));
  }
  const auto reports = ComputeSloReports(config, rows, kNow, Bounds());
  const SloReport& report = Find(reports, "dashboard_availability");
  // 5 errors in 500 requests over 5 minutes is 1 %, 20 times the 0.05 % allowed.
  const double expected[] = {20, 20.0 / 6, 20.0 / 12, 20.0 / 24, 20.0 / 72, 20.0 / 288, 20.0 / 864};
  for (size_t i = 0; i < kBurnRateWindowsMinutes.size(); ++i) {
    EXPECT_NEAR(report.burn_rates[i], expected[i], 1e-9)
        << FormatWindow(kBurnRateWindowsMinutes[i]);
  }
  // Used: 5 of 0.0005 x 432000 requests = 216 allowed; the rest of 30 days' budget at the 1h
  // burn rate of 20/12.
  ASSERT_TRUE(report.time_to_exhaustion_seconds.has_value());
  const double remaining = 1 - 5 / 216.0;
  EXPECT_NEAR(*report.time_to_exhaustion_seconds, remaining * 30 * 86400 / (20.0 / 12), 1);
}

// The value of the sample `series` in exposition text; NaN when absent.
double SampleValue(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no sample " << series;
    return std::nan("");
  }
  return std::stod(text.substr(at + series.size() + 2));
}

class SloTrackerTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/fraudguard-slo-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    options_.path = dir_ + "/sli.db";
    options_.routes = {kAnalyze, kDecisions};
    options_.start_writer = false;
    auto recorder = SliRecorder::Open(options_, clock_);
    ASSERT_TRUE(recorder) << recorder.error();
    recorder_ = std::move(recorder).value();
    tracker_ = std::make_unique<SloTracker>(DefaultSloConfig(), *recorder_, clock_);
  }
  void TearDown() override {
    tracker_.reset();
    recorder_.reset();
    std::filesystem::remove_all(dir_);
  }

  // One minute of fraud API traffic: `requests` requests, `failed` of them 503; then a flush,
  // as the background writer would do.
  void Minute(int requests, int failed) {
    for (int i = 0; i < requests; ++i) {
      recorder_->Record(0, i < failed ? 503 : 200, 0.003);
    }
    ASSERT_TRUE(recorder_->Flush());
    clock_.Advance(kMinute);
  }
  SloReport Availability() {
    auto reports = tracker_->Reports();
    EXPECT_TRUE(reports) << reports.error();
    return Find(*reports, "fraud_api_availability");
  }

  std::string dir_;
  SliRecorderOptions options_;
  ManualClock clock_{kNow * kMinute - 40 * kDay * kMinute};
  std::unique_ptr<SliRecorder> recorder_;
  std::unique_ptr<SloTracker> tracker_;
};

// The fraud API's 99.99 % over 30 days allows 4.32 bad minutes.
TEST_F(SloTrackerTest, ShortTotalOutageSpendsBudgetMinutes) {
  for (int m = 0; m < 120; ++m) {
    Minute(100, 0);
  }
  EXPECT_EQ(Availability().status, BudgetStatus::kHealthy);

  for (int m = 0; m < 3; ++m) {
    Minute(100, 100);  // every request fails
  }
  SloReport report = Availability();
  EXPECT_EQ(report.bad_minutes, 3u);
  EXPECT_NEAR(report.remaining_errors, 1.32, 1e-9);
  EXPECT_NEAR(report.utilisation_percent, 3 / 4.32 * 100, 1e-5);
  EXPECT_EQ(report.status, BudgetStatus::kWarning);
  auto reports = tracker_->Reports();
  ASSERT_TRUE(reports);
  EXPECT_EQ(GateExitCode(EvaluateGate(*reports)), kGateAllowed);

  Minute(100, 100);  // a fourth minute down
  report = Availability();
  EXPECT_EQ(report.bad_minutes, 4u);
  EXPECT_EQ(report.status, BudgetStatus::kCritical);
  // The last five minutes hold 4 bad ones: (4/5) / 0.0001.
  EXPECT_NEAR(report.burn_rates[0], 8000, 1e-6);
  ASSERT_TRUE(report.time_to_exhaustion_seconds.has_value());
  const double burn_1h = (4.0 / 60) / 0.0001;
  EXPECT_NEAR(*report.time_to_exhaustion_seconds, report.remaining_ratio * 30 * 86400 / burn_1h,
              1e-6);
  reports = tracker_->Reports();
  ASSERT_TRUE(reports);
  const GateDecision gate = EvaluateGate(*reports);
  EXPECT_EQ(GateExitCode(gate), kGateHalted);
  ASSERT_FALSE(gate.reasons.empty());
  EXPECT_NE(gate.reasons[0].find("fraud_api_availability is CRITICAL"), std::string::npos);

  Minute(100, 100);
  EXPECT_EQ(Availability().status, BudgetStatus::kExhausted);
  EXPECT_EQ(Availability().time_to_exhaustion_seconds, 0.0);

  // The spent budget survives a restart.
  tracker_.reset();
  ASSERT_TRUE(recorder_->Close());
  recorder_.reset();
  auto reopened = SliRecorder::Open(options_, clock_);
  ASSERT_TRUE(reopened);
  recorder_ = std::move(reopened).value();
  tracker_ = std::make_unique<SloTracker>(DefaultSloConfig(), *recorder_, clock_);
  report = Availability();
  EXPECT_EQ(report.bad_minutes, 5u);
  EXPECT_EQ(report.status, BudgetStatus::kExhausted);

  // Thirty days later the outage has left the window.
  clock_.Advance(30 * kDay * kMinute);
  EXPECT_EQ(Availability().status, BudgetStatus::kHealthy);
}

// One bad minute every eight hours: the budget drains slowly and crosses into CRITICAL on the
// fourth, 24 hours after the first.
TEST_F(SloTrackerTest, SlowBurnCrossesIntoCritical) {
  std::vector<BudgetStatus> statuses;
  std::vector<int> gate_codes;
  for (int bad = 1; bad <= 4; ++bad) {
    Minute(50, 50);
    clock_.Advance((8 * 60 - 1) * kMinute);
    auto reports = tracker_->Reports();
    ASSERT_TRUE(reports);
    statuses.push_back(Find(*reports, "fraud_api_availability").status);
    gate_codes.push_back(GateExitCode(EvaluateGate(*reports)));
  }
  // 1/4.32 = 23 %, 46 %, 69 %, 93 %.
  EXPECT_EQ(statuses, (std::vector<BudgetStatus>{BudgetStatus::kHealthy, BudgetStatus::kHealthy,
                                                 BudgetStatus::kWarning, BudgetStatus::kCritical}));
  EXPECT_EQ(gate_codes, (std::vector<int>{0, 0, 0, 1}));
  const SloReport report = Availability();
  // The last day, 8 h after the fourth bad minute, holds the third and the fourth (the second
  // is exactly 24 h back, just outside): (2 / 1440) / 0.0001.
  EXPECT_NEAR(report.burn_rates[5], 2.0 / 1440 / 0.0001, 1e-6);
}

// Reports read only the minutes written since the previous report; the result must equal a
// computation from every row, also when a minute grows after it was read.
TEST_F(SloTrackerTest, IncrementalReportsEqualAFullComputation) {
  for (int step = 0; step < 50; ++step) {
    for (int i = 0; i < 7; ++i) {
      recorder_->Record(i % 2, (step * 7 + i) % 5 == 0 ? 500 : 200, i % 3 == 0 ? 0.2 : 0.001);
    }
    auto incremental = tracker_->Reports();
    ASSERT_TRUE(incremental);
    auto rows = recorder_->ReadMinutes(0, INT64_MAX);
    ASSERT_TRUE(rows);
    const auto full = ComputeSloReports(tracker_->config(), *rows, clock_.NowMillis() / kMinute,
                                        recorder_->bounds());
    ASSERT_EQ(incremental->size(), full.size());
    for (size_t i = 0; i < full.size(); ++i) {
      EXPECT_EQ((*incremental)[i].total_requests, full[i].total_requests) << step;
      EXPECT_EQ((*incremental)[i].bad_requests, full[i].bad_requests) << step;
      EXPECT_EQ((*incremental)[i].bad_minutes, full[i].bad_minutes) << step;
      EXPECT_DOUBLE_EQ((*incremental)[i].utilisation_percent, full[i].utilisation_percent);
    }
    clock_.Advance(step % 3 == 0 ? 20'000 : 70'000);  // sometimes within the same minute
  }
}

TEST_F(SloTrackerTest, PublishesBudgetAndBurnRateMetrics) {
  MetricsRegistry metrics;
  tracker_->RegisterMetrics(metrics);
  Minute(100, 100);
  std::string text;
  metrics.Render(text);
  // 1 bad minute of 4.32: 76.85 % left.
  EXPECT_NE(text.find("slo_error_budget_remaining_ratio{slo=\"fraud_api_availability\"} 0.768"),
            std::string::npos)
      << text;
  // 1 bad minute in the last five: (1/5) / 0.0001.
  EXPECT_NEAR(SampleValue(text, "slo_burn_rate{slo=\"fraud_api_availability\",window=\"5m\"}"),
              2000, 1e-6);
  EXPECT_EQ(SampleValue(text, "slo_burn_rate{slo=\"dashboard_availability\",window=\"3d\"}"), 0);
}

// The example of docs/operations.md, number for number.
TEST(ErrorBudget, WorkedExampleOfTheOperationsGuide) {
  const SloConfig config = DefaultSloConfig();
  std::vector<SliRow> rows;
  for (int64_t m = kNow - 30 * kDay + 1; m <= kNow; ++m) {
    uint64_t bad = 0;
    if (m >= kNow - 10 * kDay && m < kNow - 10 * kDay + 3) {
      bad = 20000;  // the 3-minute outage
    } else if (m == kNow - kDay + 5) {
      bad = 6;  // 99.97 % good, below 99.99 %
    } else if (m == kNow - 2 * kDay) {
      bad = 2;  // 99.99 % good: meets the objective, not a bad minute
    }
    rows.push_back(Row(m, kAnalyze, 20000, bad));
  }
  const auto reports = ComputeSloReports(config, rows, kNow, Bounds());
  const SloReport& report = Find(reports, "fraud_api_availability");
  EXPECT_EQ(report.bad_minutes, 4u);
  EXPECT_NEAR(report.allowed_errors, 4.32, 1e-9);
  EXPECT_NEAR(report.remaining_errors, 0.32, 1e-9);
  EXPECT_NEAR(report.utilisation_percent, 92.592593, 1e-6);
  EXPECT_EQ(report.status, BudgetStatus::kCritical);
  EXPECT_NEAR(report.burn_rates[5], 6.944444, 1e-6);  // 1d
  EXPECT_EQ(report.burn_rates[2], 0);                 // 1h
  EXPECT_FALSE(report.time_to_exhaustion_seconds.has_value());
  const GateDecision gate = EvaluateGate(reports);
  EXPECT_EQ(GateExitCode(gate), kGateHalted);
  ASSERT_EQ(gate.reasons.size(), 1u);
  EXPECT_EQ(gate.reasons[0],
            "fraud_api_availability is CRITICAL: 92.6% of its error budget used (4.00 of 4.32 "
            "minutes over 30d); Halt non-critical deployments, focus on reliability");

  // Twenty days and three minutes on, the outage has left the window.
  const auto later = ComputeSloReports(config, rows, kNow + 20 * kDay + 3, Bounds());
  EXPECT_EQ(Find(later, "fraud_api_availability").bad_minutes, 1u);
  EXPECT_EQ(Find(later, "fraud_api_availability").status, BudgetStatus::kHealthy);
}

TEST(ErrorBudget, JsonRoundTripAndTable) {
  const SloConfig config = DefaultSloConfig();
  std::vector<SliRow> rows = {Row(kNow, kAnalyze, 1000, 3, 0.02), Row(kNow, kDecisions, 10, 0)};
  const auto reports = ComputeSloReports(config, rows, kNow, Bounds());
  std::string json;
  AppendSloReportsJson(reports, kNow * kMinute, json);
  auto parsed = ParseSloReportsJson(json);
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_EQ(parsed->size(), reports.size());
  for (size_t i = 0; i < reports.size(); ++i) {
    const SloReport& a = reports[i];
    const SloReport& b = (*parsed)[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.status, b.status);
    EXPECT_EQ(a.budgeting, b.budgeting);
    EXPECT_EQ(a.halt_deployments, b.halt_deployments);
    EXPECT_EQ(a.total_requests, b.total_requests);
    EXPECT_NEAR(a.utilisation_percent, b.utilisation_percent, 1e-9);
    EXPECT_NEAR(a.burn_rates[0], b.burn_rates[0], 1e-9 * std::max(1.0, a.burn_rates[0]));
    EXPECT_EQ(a.time_to_exhaustion_seconds.has_value(), b.time_to_exhaustion_seconds.has_value());
  }
  const std::string table = FormatSloTable(reports);
  EXPECT_NE(table.find("fraud_api_availability"), std::string::npos);
  EXPECT_NE(table.find("EXHAUSTED"), std::string::npos) << table;  // 1 bad minute... of 3 errors
  EXPECT_FALSE(ParseSloReportsJson("{\"slos\":[{\"name\":1}]}"));
  EXPECT_FALSE(ParseSloReportsJson("not json"));
}

}  // namespace
}  // namespace fraudguard
