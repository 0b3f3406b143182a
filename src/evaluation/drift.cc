#include "evaluation/drift.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "core/log.h"
#include "features/feature_schema.h"
#include "model/tree_ensemble.h"

namespace fraudguard {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Validation rows whose contributions rank the features; a sample keeps training quick.
constexpr size_t kImportanceSampleRows = 20000;
constexpr size_t kMaxDistributionNameLength = 128;
// Shares written by training sum to 1 up to rounding; anything further off is a broken file.
constexpr double kShareSumTolerance = 1e-6;
// One worker's counters start on their own cache line (16 four-byte counters).
constexpr size_t kCountersPerCacheLine = 16;
// Model versions whose series a scrape keeps marking unknown after a reload replaced them.
constexpr size_t kMaxReportedVersions = 16;

Error FieldError(const std::string& field, const std::string& problem) {
  return Error{"metadata.drift_reference" + field + ": " + problem};
}

Result<std::vector<double>> ReadNumbers(simdjson::dom::element element,
                                        const std::string& field,
                                        size_t max_size) {
  simdjson::dom::array array;
  if (element.get_array().get(array)) {
    return FieldError(field, "expected an array of numbers");
  }
  std::vector<double> numbers;
  for (simdjson::dom::element item : array) {
    if (numbers.size() == max_size) {
      return FieldError(field, "more than " + std::to_string(max_size) + " numbers");
    }
    double number = 0;
    if (item.get_double().get(number) || !std::isfinite(number)) {
      return FieldError(field, "expected finite numbers");
    }
    numbers.push_back(number);
  }
  return numbers;
}

Result<DriftDistribution> ReadDistribution(simdjson::dom::element element,
                                           const std::string& field) {
  simdjson::dom::object object;
  if (element.get_object().get(object)) {
    return FieldError(field, "expected an object");
  }
  DriftDistribution distribution;
  std::string_view name;
  if (object["name"].get_string().get(name) || name.empty() ||
      name.size() > kMaxDistributionNameLength) {
    return FieldError(field + ".name", "expected a non-empty string of at most " +
                                           std::to_string(kMaxDistributionNameLength) +
                                           " characters");
  }
  distribution.name.assign(name);
  simdjson::dom::element edges;
  simdjson::dom::element expected;
  if (object["edges"].get(edges)) {
    return FieldError(field + ".edges", "missing");
  }
  if (object["expected"].get(expected)) {
    return FieldError(field + ".expected", "missing");
  }
  auto edge_values = ReadNumbers(edges, field + ".edges", kMaxDriftEdges);
  if (!edge_values) {
    return Error{edge_values.error()};
  }
  distribution.edges = std::move(edge_values).value();
  for (size_t i = 1; i < distribution.edges.size(); ++i) {
    if (!(distribution.edges[i - 1] < distribution.edges[i])) {
      return FieldError(field + ".edges", "must be strictly ascending");
    }
  }
  auto shares = ReadNumbers(expected, field + ".expected", kMaxDriftEdges + 2);
  if (!shares) {
    return Error{shares.error()};
  }
  distribution.expected = std::move(shares).value();
  if (distribution.expected.size() != distribution.bin_count()) {
    return FieldError(field + ".expected",
                      "needs " + std::to_string(distribution.bin_count()) +
                          " shares (one per bin between the edges, then missing values)");
  }
  double sum = 0;
  for (const double share : distribution.expected) {
    if (share < 0 || share > 1) {
      return FieldError(field + ".expected", "shares must lie between 0 and 1");
    }
    sum += share;
  }
  if (std::abs(sum - 1.0) > kShareSumTolerance * static_cast<double>(distribution.bin_count())) {
    return FieldError(field + ".expected", "shares must sum to 1");
  }
  return distribution;
}

// A counter written by one worker only, so an increment needs no read-modify-write atomic.
void Bump(std::atomic<uint32_t>& counter) {
  counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

int64_t FloorDivide(int64_t value, int64_t divisor) {
  const int64_t quotient = value / divisor;
  return (value % divisor != 0 && value < 0) ? quotient - 1 : quotient;
}

}  // namespace

size_t DriftDistribution::BinOf(double value) const {
  if (std::isnan(value)) {
    return edges.size() + 1;
  }
  return static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), value) - edges.begin());
}

double PopulationStabilityIndex(std::span<const double> expected,
                                std::span<const uint64_t> actual) {
  if (expected.size() != actual.size()) {
    return kNaN;
  }
  const uint64_t total = std::accumulate(actual.begin(), actual.end(), uint64_t{0});
  if (total == 0) {
    return kNaN;
  }
  double psi = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (expected[i] <= 0 && actual[i] == 0) {
      continue;
    }
    const double e = std::max(expected[i], kPsiShareFloor);
    const double a =
        std::max(static_cast<double>(actual[i]) / static_cast<double>(total), kPsiShareFloor);
    psi += (a - e) * std::log(a / e);
  }
  return psi;
}

DriftDistribution BuildDriftDistribution(std::string name,
                                         std::span<const float> values,
                                         size_t bins) {
  DriftDistribution distribution;
  distribution.name = std::move(name);
  std::vector<float> present;
  present.reserve(values.size());
  for (const float value : values) {
    if (!std::isnan(value)) {
      present.push_back(value);
    }
  }
  std::sort(present.begin(), present.end());
  for (size_t i = 1; i < bins && !present.empty(); ++i) {
    const double cut = present[i * present.size() / bins];
    if (distribution.edges.empty() || cut > distribution.edges.back()) {
      distribution.edges.push_back(cut);
    }
  }
  std::vector<uint64_t> counts(distribution.bin_count(), 0);
  for (const float value : values) {
    ++counts[distribution.BinOf(value)];
  }
  distribution.expected.resize(counts.size(), 0.0);
  if (!values.empty()) {
    for (size_t i = 0; i < counts.size(); ++i) {
      distribution.expected[i] =
          static_cast<double>(counts[i]) / static_cast<double>(values.size());
    }
  }
  return distribution;
}

DriftReference BuildDriftReference(std::span<const float> scores,
                                   std::span<const float> rows,
                                   std::span<const std::string_view> feature_names,
                                   const TreeEnsemble& ensemble,
                                   size_t tracked_features) {
  DriftReference reference;
  reference.rows = scores.size();
  reference.distributions.push_back(
      BuildDriftDistribution(std::string(kRiskScoreDistribution), scores));
  const size_t width = feature_names.size();
  if (width == 0 || ensemble.num_features() != width || rows.size() != scores.size() * width) {
    return reference;
  }

  // Rank the features by mean absolute contribution on an even sample of the rows.
  const size_t row_count = scores.size();
  const size_t step = std::max<size_t>(1, row_count / kImportanceSampleRows);
  std::vector<double> importance(width, 0.0);
  std::vector<float> contributions(width + 1, 0.0F);
  for (size_t row = 0; row < row_count; row += step) {
    ensemble.Explain(rows.subspan(row * width, width), contributions);
    for (size_t i = 0; i < width; ++i) {
      importance[i] += std::abs(static_cast<double>(contributions[i]));
    }
  }
  std::vector<size_t> order(width);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return importance[a] > importance[b]; });

  std::vector<float> column(row_count);
  for (size_t rank = 0; rank < std::min(tracked_features, width); ++rank) {
    const size_t feature = order[rank];
    if (importance[feature] <= 0) {
      break;  // the model never splits on it: nothing of the model's to watch
    }
    for (size_t row = 0; row < row_count; ++row) {
      column[row] = rows[row * width + feature];
    }
    reference.distributions.push_back(
        BuildDriftDistribution(std::string(feature_names[feature]), column));
  }
  return reference;
}

void AppendDriftReferenceJson(const DriftReference& reference, JsonWriter& json) {
  json.BeginObject().Field("rows", reference.rows).Key("distributions").BeginArray();
  for (const DriftDistribution& distribution : reference.distributions) {
    json.BeginObject().Field("name", distribution.name).Key("edges").BeginArray();
    for (const double edge : distribution.edges) {
      json.Number(edge);
    }
    json.EndArray().Key("expected").BeginArray();
    for (const double share : distribution.expected) {
      json.Number(share);
    }
    json.EndArray().EndObject();
  }
  json.EndArray().EndObject();
}

Result<std::optional<DriftReference>> ParseDriftReference(std::string_view metadata_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(metadata_json.data(), metadata_json.size()).get(root)) {
    return Error{"metadata: not valid JSON"};
  }
  simdjson::dom::element element;
  if (root["drift_reference"].get(element)) {
    return std::optional<DriftReference>();
  }
  simdjson::dom::object object;
  if (element.get_object().get(object)) {
    return FieldError("", "expected an object");
  }
  DriftReference reference;
  int64_t rows = 0;
  if (object["rows"].get_int64().get(rows) || rows < 0) {
    return FieldError(".rows", "expected a non-negative integer");
  }
  reference.rows = static_cast<uint64_t>(rows);
  simdjson::dom::array distributions;
  if (object["distributions"].get_array().get(distributions)) {
    return FieldError(".distributions", "expected an array");
  }
  for (simdjson::dom::element item : distributions) {
    const std::string field =
        ".distributions[" + std::to_string(reference.distributions.size()) + "]";
    if (reference.distributions.size() == kMaxDriftDistributions) {
      return FieldError(".distributions",
                        "more than " + std::to_string(kMaxDriftDistributions) + " entries");
    }
    auto distribution = ReadDistribution(item, field);
    if (!distribution) {
      return Error{distribution.error()};
    }
    reference.distributions.push_back(std::move(distribution).value());
  }
  if (reference.distributions.empty() ||
      reference.distributions.front().name != kRiskScoreDistribution) {
    return FieldError(".distributions",
                      "the first entry must be \"" + std::string(kRiskScoreDistribution) + "\"");
  }
  return std::optional<DriftReference>(std::move(reference));
}

DriftTally::DriftTally(DriftReference reference) {
  for (DriftDistribution& distribution : reference.distributions) {
    const int slot =
        distribution.name == kRiskScoreDistribution ? -1 : FeatureIndex(distribution.name);
    if (slot < 0 && distribution.name != kRiskScoreDistribution) {
      continue;
    }
    feature_slots_.push_back(slot);
    counts_.emplace_back(distribution.bin_count(), 0);
    reference_.distributions.push_back(std::move(distribution));
  }
  reference_.rows = reference.rows;
}

void DriftTally::Add(double risk_score, std::span<const float> features) {
  ++observations_;
  for (size_t d = 0; d < counts_.size(); ++d) {
    const int slot = feature_slots_[d];
    const double value =
        slot < 0 ? risk_score : static_cast<double>(features[static_cast<size_t>(slot)]);
    ++counts_[d][reference_.distributions[d].BinOf(value)];
  }
}

std::vector<DistributionDrift> DriftTally::Drift() const {
  std::vector<DistributionDrift> drift;
  for (size_t d = 0; d < counts_.size(); ++d) {
    drift.push_back({reference_.distributions[d].name,
                     PopulationStabilityIndex(reference_.distributions[d].expected, counts_[d])});
  }
  return drift;
}

// What is tracked for one model: its reference and the per-worker bin counters of every time
// bucket in the window. A worker's block holds, per time slot, one total count and then the
// bins of each distribution.
struct DriftMonitor::Tracked {
  std::string model_version;
  std::optional<DriftReference> reference;
  std::vector<int> feature_slots;   // per distribution: schema position, -1 for the risk score
  std::vector<size_t> bin_offsets;  // per distribution: first counter within a slot
  size_t counters_per_slot = 1;
  size_t counters_per_worker = 0;
  std::unique_ptr<std::atomic<uint32_t>[]> counters;
  // The time bucket each (worker, slot) currently counts; -1 when never used.
  std::unique_ptr<std::atomic<int64_t>[]> slot_buckets;
  std::atomic<int64_t> checked_bucket{std::numeric_limits<int64_t>::min()};
  std::atomic<bool> drifting{false};
};

struct alignas(64) DriftMonitor::WorkerCache {
  uint64_t generation = 0;
  std::shared_ptr<Tracked> tracked;
};

DriftMonitor::DriftMonitor(const Clock& clock, DriftMonitorOptions options, int workers)
    : clock_(clock),
      options_(options),
      slots_(static_cast<size_t>(std::max<int64_t>(1, options.window_ms / options.bucket_ms))),
      workers_(std::make_unique<WorkerCache[]>(static_cast<size_t>(std::max(1, workers)))),
      worker_count_(std::max(1, workers)) {}

DriftMonitor::~DriftMonitor() = default;

Status DriftMonitor::SetReference(std::string model_version,
                                  std::optional<DriftReference> reference) {
  auto tracked = std::make_shared<Tracked>();
  tracked->model_version = std::move(model_version);
  if (reference) {
    for (const DriftDistribution& distribution : reference->distributions) {
      int slot = -1;
      if (distribution.name != kRiskScoreDistribution) {
        slot = FeatureIndex(distribution.name);
        if (slot < 0) {
          return Error{"drift reference: unknown feature '" + distribution.name + "'"};
        }
      }
      tracked->feature_slots.push_back(slot);
      tracked->bin_offsets.push_back(tracked->counters_per_slot);
      tracked->counters_per_slot += distribution.bin_count();
    }
    const size_t per_worker = tracked->counters_per_slot * slots_;
    tracked->counters_per_worker =
        (per_worker + kCountersPerCacheLine - 1) / kCountersPerCacheLine * kCountersPerCacheLine;
    const size_t workers = static_cast<size_t>(worker_count_);
    tracked->counters =
        std::make_unique<std::atomic<uint32_t>[]>(tracked->counters_per_worker * workers);
    tracked->slot_buckets = std::make_unique<std::atomic<int64_t>[]>(slots_ * workers);
    for (size_t i = 0; i < slots_ * workers; ++i) {
      tracked->slot_buckets[i].store(-1, std::memory_order_relaxed);
    }
    LogInfo("drift_tracking")
        .Field("model_version", tracked->model_version)
        .Field("distributions", static_cast<uint64_t>(reference->distributions.size()))
        .Field("reference_rows", reference->rows);
  } else {
    LogWarn("drift_reference_missing")
        .Field("model_version", tracked->model_version)
        .Field("effect", "model drift is not measured for this model");
  }
  tracked->reference = std::move(reference);
  std::lock_guard lock(mutex_);
  tracked_ = std::move(tracked);
  generation_.fetch_add(1, std::memory_order_release);
  return OkStatus();
}

void DriftMonitor::Observe(int worker,
                           double risk_score,
                           std::span<const float> features,
                           int64_t now_ms) {
  WorkerCache& cache = workers_[static_cast<size_t>(worker)];
  const uint64_t generation = generation_.load(std::memory_order_acquire);
  if (cache.generation != generation) {
    std::lock_guard lock(mutex_);
    cache.tracked = tracked_;
    cache.generation = generation_.load(std::memory_order_relaxed);
  }
  Tracked* tracked = cache.tracked.get();
  if (tracked == nullptr || !tracked->reference) {
    return;
  }
  const int64_t bucket = FloorDivide(now_ms, options_.bucket_ms);
  const auto slot = static_cast<size_t>(bucket % static_cast<int64_t>(slots_));
  const size_t worker_index = static_cast<size_t>(worker);
  std::atomic<int64_t>& slot_bucket = tracked->slot_buckets[worker_index * slots_ + slot];
  std::atomic<uint32_t>* counters = &tracked->counters[worker_index * tracked->counters_per_worker +
                                                       slot * tracked->counters_per_slot];
  if (slot_bucket.load(std::memory_order_relaxed) != bucket) {
    // This slot last counted a bucket that has left the window: start it afresh.
    for (size_t i = 0; i < tracked->counters_per_slot; ++i) {
      counters[i].store(0, std::memory_order_relaxed);
    }
    slot_bucket.store(bucket, std::memory_order_release);
    int64_t checked = tracked->checked_bucket.load(std::memory_order_relaxed);
    if (checked < bucket && tracked->checked_bucket.compare_exchange_strong(
                                checked, bucket, std::memory_order_relaxed)) {
      CheckState(*tracked, now_ms);
    }
  }
  Bump(counters[0]);
  const auto& distributions = tracked->reference->distributions;
  for (size_t d = 0; d < distributions.size(); ++d) {
    const int feature = tracked->feature_slots[d];
    const double value =
        feature < 0 ? risk_score : static_cast<double>(features[static_cast<size_t>(feature)]);
    Bump(counters[tracked->bin_offsets[d] + distributions[d].BinOf(value)]);
  }
}

DriftReport DriftMonitor::ReportOf(const Tracked& tracked, int64_t now_ms) const {
  DriftReport report;
  report.model_version = tracked.model_version;
  report.has_reference = tracked.reference.has_value();
  report.score_psi = kNaN;
  if (!tracked.reference) {
    return report;
  }
  const int64_t newest = FloorDivide(now_ms, options_.bucket_ms);
  const int64_t oldest = newest - static_cast<int64_t>(slots_) + 1;
  std::vector<uint64_t> sums(tracked.counters_per_slot, 0);
  for (size_t worker = 0; worker < static_cast<size_t>(worker_count_); ++worker) {
    for (size_t slot = 0; slot < slots_; ++slot) {
      const int64_t bucket =
          tracked.slot_buckets[worker * slots_ + slot].load(std::memory_order_acquire);
      if (bucket < oldest || bucket > newest) {
        continue;
      }
      const std::atomic<uint32_t>* counters =
          &tracked
               .counters[worker * tracked.counters_per_worker + slot * tracked.counters_per_slot];
      for (size_t i = 0; i < tracked.counters_per_slot; ++i) {
        sums[i] += counters[i].load(std::memory_order_relaxed);
      }
    }
  }
  report.observations = sums[0];
  const bool enough = report.observations >= options_.min_observations;
  const auto& distributions = tracked.reference->distributions;
  for (size_t d = 0; d < distributions.size(); ++d) {
    const std::span<const uint64_t> actual(&sums[tracked.bin_offsets[d]],
                                           distributions[d].bin_count());
    const double psi = enough ? PopulationStabilityIndex(distributions[d].expected, actual) : kNaN;
    report.distributions.push_back({distributions[d].name, psi});
  }
  report.score_psi = report.distributions.front().psi;
  report.drifting = report.score_psi > options_.alert_psi;
  return report;
}

DriftReport DriftMonitor::Report() const {
  std::shared_ptr<Tracked> tracked;
  {
    std::lock_guard lock(mutex_);
    tracked = tracked_;
  }
  if (!tracked) {
    DriftReport empty;
    empty.score_psi = kNaN;
    return empty;
  }
  return ReportOf(*tracked, clock_.NowMillis());
}

void DriftMonitor::CheckState(Tracked& tracked, int64_t now_ms) {
  // The bucket just started is empty; judge the window that ended with the previous one.
  const DriftReport report = ReportOf(tracked, now_ms - 1);
  if (std::isnan(report.score_psi)) {
    return;
  }
  const bool was_drifting = tracked.drifting.exchange(report.drifting);
  if (report.drifting == was_drifting) {
    return;
  }
  // The feature that moved most, to say where to look.
  const DistributionDrift* worst = nullptr;
  for (size_t i = 1; i < report.distributions.size(); ++i) {
    if (worst == nullptr || report.distributions[i].psi > worst->psi) {
      worst = &report.distributions[i];
    }
  }
  if (report.drifting) {
    LogWarn("model_drift_detected")
        .Field("model_version", report.model_version)
        .Field("score_psi", report.score_psi)
        .Field("threshold", options_.alert_psi)
        .Field("observations", report.observations)
        .Field("most_shifted_feature", worst != nullptr ? worst->name : std::string())
        .Field("most_shifted_feature_psi", worst != nullptr ? worst->psi : kNaN);
  } else {
    LogInfo("model_drift_cleared")
        .Field("model_version", report.model_version)
        .Field("score_psi", report.score_psi)
        .Field("threshold", options_.alert_psi);
  }
}

void DriftMonitor::RegisterMetrics(MetricsRegistry& metrics) {
  auto& score = metrics.AddGauge(
      "model_drift_score",
      "Population stability index of the risk score over the drift window against the model's "
      "validation reference (NaN while too few transactions were scored).",
      {"model_name"});
  auto& distributions = metrics.AddGauge(
      "fraudguard_feature_drift_psi",
      "Population stability index of each tracked distribution (the risk score and the "
      "model's most influential features) over the drift window.",
      {"model_name", "distribution"});
  auto& drifting = metrics.AddGauge(
      "fraudguard_model_drifting",
      "1 while the risk score's drift is above the alert threshold, else 0.", {"model_name"});
  auto& observations = metrics.AddGauge("fraudguard_drift_observations",
                                        "Scored transactions in the drift window.", {"model_name"});
  auto reported = std::make_shared<std::vector<std::string>>();  // versions with live gauges
  metrics.AddCollector([this, &score, &distributions, &drifting, &observations, reported] {
    const DriftReport report = Report();
    if (report.model_version.empty()) {
      return;
    }
    // A replaced model keeps its series, marked unknown, so that no stale figure lingers.
    for (const std::string& version : *reported) {
      if (version != report.model_version) {
        score.WithLabels({version}).Set(kNaN);
        drifting.WithLabels({version}).Set(0);
        observations.WithLabels({version}).Set(0);
      }
    }
    if (std::find(reported->begin(), reported->end(), report.model_version) == reported->end()) {
      reported->push_back(report.model_version);
      if (reported->size() > kMaxReportedVersions) {
        reported->erase(reported->begin());  // its series stay at their last, unknown, value
      }
    }
    score.WithLabels({report.model_version}).Set(report.score_psi);
    drifting.WithLabels({report.model_version}).Set(report.drifting ? 1 : 0);
    observations.WithLabels({report.model_version}).Set(static_cast<double>(report.observations));
    for (const DistributionDrift& distribution : report.distributions) {
      distributions.WithLabels({report.model_version, distribution.name}).Set(distribution.psi);
    }
  });
}

}  // namespace fraudguard
