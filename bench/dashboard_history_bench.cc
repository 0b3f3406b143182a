// The dashboard's own queries against 30 days of history (objective: under 500 ms at p95).
//
// A temporary SLI store is filled once with 30 days of minute rows for the scoring routes and
// the dashboard's read routes, in a realistic shape: a daily cycle (quiet nights, busy
// afternoons), quieter weekends, latency that grows with load, a steady trickle of 5xx and a
// few bad hours. Then each benchmark times one query per iteration and reports its p50, p95 and
// max in milliseconds as counters (bench/report.py puts them in docs/benchmarks.md):
//   - the history behind GET /api/v1/history for each range (query and JSON),
//   - the SLO status behind GET /api/v1/slo, from a fresh tracker (a server's first call reads
//     the whole 30-day window) and from a warm one (later calls read the new minutes only),
//   - the incident list behind GET /api/v1/incidents with 500 incidents stored.
//
// FRAUDGUARD_BENCH_HISTORY_DIR=<dir> writes the store to <dir>/sli.db and keeps it, so that
// bench/run.sh can time the real HTTP route on a server started on that directory.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>

#include <benchmark/benchmark.h>

#include "api/fraud_service.h"
#include "api/history_codec.h"
#include "core/clock.h"
#include "incidents/incident_engine.h"
#include "slo/error_budget.h"
#include "slo/sli_history_query.h"
#include "slo/sli_recorder.h"
#include "slo/slo_tracker.h"
#include "telemetry/metrics.h"

namespace fraudguard {
namespace {

constexpr int64_t kMillisPerMinute = 60'000;
constexpr int64_t kHistoryDays = 30;
constexpr int64_t kMinutesPerDay = 24 * 60;

// Requests per second of each route at the daily peak.
struct RouteTraffic {
  Route route;
  double peak_per_second;
};
constexpr RouteTraffic kTraffic[] = {
    {Route::kAnalyze, 400}, {Route::kAnalyzeBatch, 20}, {Route::kApiHealth, 0.2},
    {Route::kSlo, 0.2},     {Route::kDecision, 2},      {Route::kFeatures, 1},
};

// The store, filled once for every benchmark of the run.
struct HistoryStore {
  std::string dir;
  bool keep = false;
  ManualClock clock;
  std::unique_ptr<SliRecorder> recorder;
  size_t rows = 0;
  double fill_seconds = 0;

  ~HistoryStore() {
    recorder.reset();
    if (!keep && !dir.empty()) {
      std::filesystem::remove_all(dir);
    }
  }
};

// One minute of a route: counts spread over the latency buckets around a median that rises with
// load, and the 5xx that the hour brings.
SliCounts MinuteCounts(double requests,
                       double load,
                       bool bad_hour,
                       const std::vector<double>& bounds,
                       std::mt19937_64& random) {
  SliCounts counts;
  counts.total = static_cast<uint64_t>(std::poisson_distribution<int64_t>(requests)(random));
  const double error_ratio = bad_hour ? 0.02 : 0.0003;
  counts.bad = std::binomial_distribution<uint64_t>(counts.total, error_ratio)(random);
  counts.buckets.assign(bounds.size() + 1, 0);
  // A log-normal latency: median 2 ms when quiet, 6 ms at the peak, slower in a bad hour.
  const double median = (0.002 + 0.004 * load) * (bad_hour ? 4 : 1);
  std::lognormal_distribution<double> latency(std::log(median), 0.6);
  // Sampling every request is slow for 30 days of traffic: 64 samples shape the minute.
  constexpr int kSamples = 64;
  std::vector<double> shares(counts.buckets.size(), 0);
  for (int i = 0; i < kSamples; ++i) {
    const double seconds = latency(random);
    shares[static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), seconds) -
                               bounds.begin())] += 1.0 / kSamples;
  }
  uint64_t assigned = 0;
  for (size_t i = 0; i + 1 < shares.size(); ++i) {
    counts.buckets[i] =
        static_cast<uint64_t>(std::floor(shares[i] * static_cast<double>(counts.total)));
    assigned += counts.buckets[i];
  }
  counts.buckets.back() = counts.total - std::min(assigned, counts.total);
  return counts;
}

HistoryStore& Store() {
  static HistoryStore* store = [] {
    auto* made = new HistoryStore();
    if (const char* keep_dir = std::getenv("FRAUDGUARD_BENCH_HISTORY_DIR"); keep_dir != nullptr) {
      made->dir = keep_dir;
      made->keep = true;
      std::filesystem::create_directories(made->dir);
      std::filesystem::remove(made->dir + "/sli.db");
    } else {
      char pattern[] = "/tmp/fraudguard-history-bench-XXXXXX";
      made->dir = mkdtemp(pattern);
    }
    made->clock.Set(SystemClock::Instance().NowMillis());
    SliRecorderOptions options;
    options.path = made->dir + "/sli.db";
    options.routes = RouteLabels();
    options.start_writer = false;
    auto recorder = SliRecorder::Open(options, made->clock);
    if (!recorder) {
      std::fprintf(stderr, "%s\n", recorder.error().c_str());
      std::abort();
    }
    made->recorder = std::move(recorder).value();
    const std::vector<double>& bounds = made->recorder->bounds();
    std::mt19937_64 random(42);
    const int64_t now_minute = made->clock.NowMillis() / kMillisPerMinute;
    const int64_t first_minute = now_minute - kHistoryDays * kMinutesPerDay;
    const int64_t started = MonotonicNanos();
    std::vector<SliRow> day;
    for (int64_t minute = first_minute; minute <= now_minute; ++minute) {
      const double hour_of_day = static_cast<double>(minute % kMinutesPerDay) / 60.0;
      // Quiet at 04:00, busiest at 16:00; weekends (days 2 and 3 after the epoch's Thursday) at 60
      // %.
      const double daily = 0.55 - 0.45 * std::cos((hour_of_day - 4.0) / 24.0 * 2 * M_PI);
      const int64_t day_number = minute / kMinutesPerDay;
      const double weekly = (day_number % 7 == 2 || day_number % 7 == 3) ? 0.6 : 1.0;
      const double load = daily * weekly;
      const bool bad_hour = (minute / 60) % 173 == 0;  // about four bad hours in 30 days
      for (const RouteTraffic& traffic : kTraffic) {
        const double requests = traffic.peak_per_second * 60 * load;
        day.push_back({minute, std::string(RouteName(traffic.route)),
                       MinuteCounts(requests, load, bad_hour, bounds, random)});
      }
      if (static_cast<int64_t>(day.size()) >= kMinutesPerDay * 6 || minute == now_minute) {
        if (Status status = made->recorder->AddRows(day); !status) {
          std::fprintf(stderr, "%s\n", status.error().c_str());
          std::abort();
        }
        made->rows += day.size();
        day.clear();
      }
    }
    made->fill_seconds = static_cast<double>(MonotonicNanos() - started) / 1e9;
    return made;
  }();
  return *store;
}

// Times `query` once per iteration; reports p50, p95 and max in ms.
template <typename Query>
void TimeEach(benchmark::State& state, Query&& query) {
  std::vector<double> millis;
  for (auto _ : state) {
    const int64_t started = MonotonicNanos();
    query();
    millis.push_back(static_cast<double>(MonotonicNanos() - started) / 1e6);
  }
  std::sort(millis.begin(), millis.end());
  const auto at = [&](double q) {
    return millis[std::min(millis.size() - 1,
                           static_cast<size_t>(q * static_cast<double>(millis.size())))];
  };
  state.counters["p50_ms"] = at(0.50);
  state.counters["p95_ms"] = at(0.95);
  state.counters["max_ms"] = millis.back();
  state.counters["stored_rows"] = static_cast<double>(Store().rows);
}

void BM_DashboardHistory(benchmark::State& state) {
  HistoryStore& store = Store();
  const auto range = static_cast<HistoryRange>(state.range(0));
  const std::vector<std::string> routes =
      HistoryRoutes(HistoryRouteGroup::kScoring, DefaultSloConfig());
  std::string body;
  TimeEach(state, [&] {
    auto history = QuerySliHistory(*store.recorder, range, routes, store.clock.NowMillis());
    if (!history) {
      state.SkipWithError(history.error().c_str());
      return;
    }
    body.clear();
    AppendHistoryJson(*history, HistoryRouteGroup::kScoring, routes, body);
    benchmark::DoNotOptimize(body.data());
  });
  state.SetLabel(std::string(HistoryRangeSpecOf(range).name));
}
BENCHMARK(BM_DashboardHistory)
    ->Arg(static_cast<int>(HistoryRange::kHour))
    ->Arg(static_cast<int>(HistoryRange::kDay))
    ->Arg(static_cast<int>(HistoryRange::kWeek))
    ->Iterations(40)
    ->Unit(benchmark::kMillisecond);

// A server's first /api/v1/slo: a new tracker reads the whole 30-day window.
void BM_DashboardSloStatusCold(benchmark::State& state) {
  HistoryStore& store = Store();
  std::string body;
  TimeEach(state, [&] {
    SloTracker tracker(DefaultSloConfig(), *store.recorder, store.clock);
    auto reports = tracker.Reports();
    if (!reports) {
      state.SkipWithError(reports.error().c_str());
      return;
    }
    body.clear();
    AppendSloReportsJson(*reports, store.clock.NowMillis(), body);
    benchmark::DoNotOptimize(body.data());
  });
}
BENCHMARK(BM_DashboardSloStatusCold)->Iterations(10)->Unit(benchmark::kMillisecond);

// Every later /api/v1/slo: the tracker reads the minutes since its last report.
void BM_DashboardSloStatusWarm(benchmark::State& state) {
  HistoryStore& store = Store();
  SloTracker tracker(DefaultSloConfig(), *store.recorder, store.clock);
  (void)tracker.Reports();
  std::string body;
  TimeEach(state, [&] {
    auto reports = tracker.Reports();
    body.clear();
    if (reports) {
      AppendSloReportsJson(*reports, store.clock.NowMillis(), body);
    }
    benchmark::DoNotOptimize(body.data());
  });
}
BENCHMARK(BM_DashboardSloStatusWarm)->Iterations(40)->Unit(benchmark::kMillisecond);

// GET /api/v1/incidents?state=all&limit=50, as the dashboard polls it, with 500 stored.
void BM_DashboardIncidentList(benchmark::State& state) {
  HistoryStore& store = Store();
  IncidentEngineOptions options;
  options.store_path = store.dir + "/incidents.db";
  std::filesystem::remove(options.store_path);
  auto engine = IncidentEngine::Open(options, PlaybookSet{}, store.clock);
  if (!engine) {
    state.SkipWithError(engine.error().c_str());
    return;
  }
  for (int i = 0; i < 500; ++i) {
    (void)(*engine)->Create(
        {"incident " + std::to_string(i), "fraud-api", Severity::kSev3, "bench"}, "bench");
  }
  std::string body;
  TimeEach(state, [&] {
    body.clear();
    for (const Incident& incident : (*engine)->List(false, 50)) {
      AppendIncidentJson(incident, store.clock.NowMillis(), body);
    }
    benchmark::DoNotOptimize(body.data());
  });
  engine->reset();
  if (!store.keep) {
    std::filesystem::remove(options.store_path);  // kept, the HTTP run lists the same incidents
  }
}
BENCHMARK(BM_DashboardIncidentList)->Iterations(40)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fraudguard
