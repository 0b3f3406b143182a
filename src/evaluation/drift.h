// Drift: how far the traffic a model meets in production has moved from the traffic it was
// validated on, as the population stability index (PSI) of the risk score and of the model's
// most influential features.
//
// Training stores a reference in the model file's metadata ("drift_reference"): for each
// tracked distribution, the cut points of its deciles on the validation period and the share
// of the validation rows in each bin (the last bin holds missing values). Serving bins every
// scored transaction the same way over a sliding window and compares:
//
//   PSI = sum over bins of (actual - expected) * ln(actual / expected)
//
// 0 means the same distribution; the usual reading is below 0.1 stable, 0.1-0.25 a moderate
// shift, above 0.25 a major one. Shares are floored at kPsiShareFloor so an empty bin on one
// side gives a large but finite term.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/json_writer.h"
#include "core/result.h"
#include "telemetry/metrics.h"

namespace fraudguard {

class TreeEnsemble;

inline constexpr double kPsiShareFloor = 1e-4;
// The name of the risk score's distribution in a reference.
inline constexpr std::string_view kRiskScoreDistribution = "risk_score";
// Bounds on a reference read from a model file.
inline constexpr size_t kMaxDriftDistributions = 32;
inline constexpr size_t kMaxDriftEdges = 64;

struct DriftDistribution {
  std::string name;           // kRiskScoreDistribution or a feature name of the schema
  std::vector<double> edges;  // ascending cut points; value v falls in bin #(edges <= v)
  // Share of the reference rows per bin: edges.size() + 1 value bins, then the missing bin.
  std::vector<double> expected;

  // Bin of `value` (NaN goes to the missing bin, the last one).
  size_t BinOf(double value) const;
  size_t bin_count() const { return edges.size() + 2; }
};

struct DriftReference {
  uint64_t rows = 0;  // reference rows the shares were computed on
  std::vector<DriftDistribution> distributions;
};

// PSI of `actual` bin counts against `expected` shares (same size); NaN when `actual` is empty
// or the sizes differ. Bins empty on both sides add nothing.
double PopulationStabilityIndex(std::span<const double> expected, std::span<const uint64_t> actual);

// Builds the distribution of `values` (NaN = missing) cut at up to `bins` quantiles; repeated
// cut points collapse, so a feature with few distinct values gets fewer bins.
DriftDistribution BuildDriftDistribution(std::string name,
                                         std::span<const float> values,
                                         size_t bins = 10);

// The reference training writes: the risk score on the validation period and the
// `tracked_features` features with the largest mean absolute contribution to the model's margin
// over (a sample of) the validation rows. `rows` holds validation_rows x feature_names.size()
// values in schema order, and the model's inputs are that same order.
DriftReference BuildDriftReference(std::span<const float> scores,
                                   std::span<const float> rows,
                                   std::span<const std::string_view> feature_names,
                                   const TreeEnsemble& ensemble,
                                   size_t tracked_features = 5);

// Writes the reference as the value of the current key: {"rows":N,"distributions":[...]}.
void AppendDriftReferenceJson(const DriftReference& reference, JsonWriter& json);

// Reads "drift_reference" from a model file's metadata object. No reference (older model files)
// gives nullopt; a malformed one an error naming the field.
Result<std::optional<DriftReference>> ParseDriftReference(std::string_view metadata_json);

struct DistributionDrift {
  std::string name;
  double psi = 0;  // NaN while the window holds too few observations
};

// Counts a whole replayed period against a reference, on one thread: what `fraudguard eval`
// reports as the period's drift. Features the schema does not know are left out.
class DriftTally {
public:
  explicit DriftTally(DriftReference reference);
  void Add(double risk_score, std::span<const float> features);
  uint64_t observations() const { return observations_; }
  std::vector<DistributionDrift> Drift() const;

private:
  DriftReference reference_;
  std::vector<int> feature_slots_;  // per distribution: schema position, -1 for the risk score
  std::vector<std::vector<uint64_t>> counts_;
  uint64_t observations_ = 0;
};

struct DriftMonitorOptions {
  int64_t window_ms = int64_t{3600} * 1000;  // PSI over the last hour
  int64_t bucket_ms = int64_t{300} * 1000;   // the window moves in 5 minute steps
  // Below this many observations in the window the PSI is too noisy to report (NaN).
  uint64_t min_observations = 1000;
  // The risk score's PSI above which the model counts as drifting (log line and gauge). The
  // specification asks for drift under 5 %; a PSI of 0.05 is the matching, strict reading.
  double alert_psi = 0.05;
};

struct DriftReport {
  std::string model_version;
  bool has_reference = false;
  uint64_t observations = 0;  // scored transactions in the window
  double score_psi = 0;       // PSI of the risk score; NaN without reference or observations
  bool drifting = false;      // score_psi above the alert threshold
  std::vector<DistributionDrift> distributions;
};

// Bins every scored transaction against the active model's reference, per worker and without
// locks on the scoring path, in time buckets forming a sliding window.
class DriftMonitor {
public:
  DriftMonitor(const Clock& clock, DriftMonitorOptions options, int workers);
  ~DriftMonitor();
  DriftMonitor(const DriftMonitor&) = delete;
  DriftMonitor& operator=(const DriftMonitor&) = delete;

  // Tracks `model_version` against `reference` from now on, with an empty window. Without a
  // reference drift is not measured (logged once). Fails, changing nothing, when the reference
  // names a feature the schema does not have.
  Status SetReference(std::string model_version, std::optional<DriftReference> reference);

  // Counts one scored transaction; `features` is the schema-ordered feature vector. One thread
  // per worker index at a time (the scorer's rule).
  void Observe(int worker, double risk_score, std::span<const float> features, int64_t now_ms);

  DriftReport Report() const;

  // model_drift_score{model_name}, fraudguard_feature_drift_psi{model_name,distribution},
  // fraudguard_model_drifting{model_name} and fraudguard_drift_observations{model_name},
  // refreshed on every scrape.
  void RegisterMetrics(MetricsRegistry& metrics);

private:
  struct Tracked;
  struct WorkerCache;

  DriftReport ReportOf(const Tracked& tracked, int64_t now_ms) const;
  // Run once per time bucket by whichever worker reaches it first: logs a change of state.
  void CheckState(Tracked& tracked, int64_t now_ms);

  const Clock& clock_;
  const DriftMonitorOptions options_;
  const size_t slots_;  // time buckets in the window
  mutable std::mutex mutex_;
  std::shared_ptr<Tracked> tracked_;  // guarded by mutex_; workers keep their own copy
  std::atomic<uint64_t> generation_{1};
  std::unique_ptr<WorkerCache[]> workers_;
  const int worker_count_;
};

}  // namespace fraudguard
