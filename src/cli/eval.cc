#include "cli/eval.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/calendar_day.h"
#include "core/clock.h"
#include "core/file_write.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "evaluation/detection_metrics.h"
#include "evaluation/drift.h"
#include "evaluation/precision_recall_plot.h"
#include "features/feature_store.h"
#include "scoring/rules.h"
#include "scoring/scorer.h"
#include "sim/csv.h"
#include "sim/progress_bar.h"
#include "sim/simulator.h"

namespace fraudguard {
namespace {

constexpr int kMaxDelayDays = 366;
constexpr size_t kNoCard = std::numeric_limits<size_t>::max();

// What the replay keeps of each scored transaction in the evaluation period.
struct EvaluatedRows {
  // Rows with a card: frauds of the look-back period first, then the period's rows.
  std::vector<CardScore> cards;
  size_t lookback_frauds = 0;  // leading entries of `cards` from before the period
  std::vector<float> scores;   // per period row
  // Per period row: its index among the period's rows with a card (in `cards` after the
  // look-back frauds), kNoCard without a card.
  std::vector<size_t> card_of;
  std::vector<float> labels;
  std::vector<uint8_t> levels;
  std::vector<uint8_t> scenarios;  // per period row; the file's scenario column, 0 without one
  // Per period row, kept only for --scores: what identifies the transaction.
  struct Identity {
    std::string transaction_id;
    std::string card;
    std::string merchant_id;
    int64_t timestamp_ms = 0;
  };
  std::vector<Identity> identities;
  size_t replayed = 0;
  int64_t first_day = 0;
  int64_t last_day = 0;
  int64_t file_first_day = 0;
  int64_t file_last_day = 0;
};

struct EvalReport {
  std::string model_version;
  double medium_threshold = 0;
  double high_threshold = 0;
  int64_t from_day = 0;
  int64_t to_day = 0;
  size_t replayed = 0;
  size_t in_period = 0;
  size_t excluded = 0;
  DetectionMetrics metrics;
  CardPrecisionAtK card_precision;
  RiskLevelConfusion confusion;
  // PSI of the period's scores and features against the model's validation reference; empty
  // when the model file has no reference.
  std::vector<DistributionDrift> drift;
  // Evaluated frauds by the file's scenario column, when it names any: how many each scenario
  // has, and how many score at or above the review threshold and the 2 % FPR threshold.
  struct ScenarioDetection {
    int scenario = 0;
    size_t frauds = 0;
    size_t at_review = 0;
    size_t at_fpr_2 = 0;
  };
  std::vector<ScenarioDetection> scenarios;
  double fpr_2_threshold = 0;
};

// Frauds per scenario among the evaluated rows; empty when every fraud is scenario 0 (a file
// without the column).
std::vector<EvalReport::ScenarioDetection> DetectionByScenario(std::span<const float> scores,
                                                               std::span<const float> labels,
                                                               std::span<const uint8_t> levels,
                                                               std::span<const uint8_t> scenarios,
                                                               double fpr_2_threshold) {
  std::array<EvalReport::ScenarioDetection, 256> by_number{};
  bool named = false;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] < 0.5F) {
      continue;
    }
    EvalReport::ScenarioDetection& entry = by_number[scenarios[i]];
    entry.scenario = scenarios[i];
    ++entry.frauds;
    entry.at_review += levels[i] >= 1 ? 1 : 0;
    entry.at_fpr_2 += scores[i] >= fpr_2_threshold ? 1 : 0;
    named = named || scenarios[i] != kScenarioGenuine;
  }
  std::vector<EvalReport::ScenarioDetection> result;
  if (named) {
    for (const auto& entry : by_number) {
      if (entry.frauds > 0) {
        result.push_back(entry);
      }
    }
  }
  return result;
}

std::string ReportJson(const EvalCommandOptions& options, const EvalReport& report) {
  std::string out;
  JsonWriter json(out);
  json.BeginObject()
      .Field("input", options.input)
      .Field("model", options.model_path)
      .Field("model_version", report.model_version)
      .Field("rules", options.rules_path)
      .Key("period")
      .BeginObject()
      .Field("from", FormatDay(report.from_day))
      .Field("to", FormatDay(report.to_day))
      .Field("days", static_cast<int64_t>(report.card_precision.days.size()))
      .EndObject()
      .Field("label_delay_days", options.label_delay_days)
      .Field("known_label_days", options.known_label_days)
      .Key("transactions")
      .BeginObject()
      .Field("replayed", static_cast<uint64_t>(report.replayed))
      .Field("in_period", static_cast<uint64_t>(report.in_period))
      .Field("excluded_known_compromised", static_cast<uint64_t>(report.excluded))
      .Field("evaluated", static_cast<uint64_t>(report.confusion.Total()))
      .Field("frauds", static_cast<uint64_t>(report.metrics.positives))
      .Field("legitimate", static_cast<uint64_t>(report.metrics.negatives))
      .EndObject()
      .Field("auc_roc", report.metrics.auc_roc)
      .Field("average_precision", report.metrics.average_precision)
      .Field("detection_at_fpr_1", report.metrics.detection_at_fpr_1)
      .Field("detection_at_fpr_2", report.metrics.detection_at_fpr_2)
      .Key("card_precision")
      .BeginObject()
      .Field("k", static_cast<uint64_t>(report.card_precision.k))
      .Field("mean", report.card_precision.mean)
      .Key("days")
      .BeginArray();
  for (const DailyCardPrecision& day : report.card_precision.days) {
    json.BeginObject()
        .Field("date", FormatDay(day.day))
        .Field("cards", static_cast<uint64_t>(day.cards))
        .Field("fraud_cards", static_cast<uint64_t>(day.fraud_cards))
        .Field("precision", day.precision)
        .EndObject();
  }
  json.EndArray().EndObject();
  json.Key("thresholds")
      .BeginObject()
      .Field("medium", report.medium_threshold)
      .Field("high", report.high_threshold)
      .EndObject();
  json.Key("confusion").BeginObject();
  static constexpr std::array<const char*, 3> kLevelNames = {"low", "medium", "high"};
  for (size_t level = 0; level < 3; ++level) {
    json.Key(kLevelNames[level])
        .BeginObject()
        .Field("fraud", static_cast<uint64_t>(report.confusion.counts[level][1]))
        .Field("legitimate", static_cast<uint64_t>(report.confusion.counts[level][0]))
        .EndObject();
  }
  json.EndObject();
  json.Key("medium_or_above")
      .BeginObject()
      .Field("detection_rate", report.confusion.DetectionRateAtOrAbove(1))
      .Field("false_positive_rate", report.confusion.FalsePositiveRateAtOrAbove(1))
      .Field("precision", report.confusion.PrecisionAtOrAbove(1))
      .EndObject()
      .Key("high")
      .BeginObject()
      .Field("detection_rate", report.confusion.DetectionRateAtOrAbove(2))
      .Field("false_positive_rate", report.confusion.FalsePositiveRateAtOrAbove(2))
      .Field("precision", report.confusion.PrecisionAtOrAbove(2))
      .EndObject();
  json.Key("drift").BeginObject();
  for (const DistributionDrift& distribution : report.drift) {
    json.Field(distribution.name, distribution.psi);
  }
  json.EndObject();
  json.Field("fpr_2_threshold", report.fpr_2_threshold).Key("frauds_by_scenario").BeginArray();
  for (const auto& entry : report.scenarios) {
    json.BeginObject()
        .Field("scenario", entry.scenario)
        .Field("name", ScenarioName(entry.scenario))
        .Field("frauds", static_cast<uint64_t>(entry.frauds))
        .Field("detected_at_review", static_cast<uint64_t>(entry.at_review))
        .Field("detected_at_fpr_2", static_cast<uint64_t>(entry.at_fpr_2))
        .EndObject();
  }
  json.EndArray().EndObject();
  out += '\n';
  return out;
}

void PrintTable(const EvalCommandOptions& options, const EvalReport& report) {
  const RiskLevelConfusion& c = report.confusion;
  std::printf("evaluation of model %s on %s\n", report.model_version.c_str(),
              options.input.c_str());
  std::printf("  %-34s %s .. %s (%zu days)\n", "period", FormatDay(report.from_day).c_str(),
              FormatDay(report.to_day).c_str(), report.card_precision.days.size());
  std::printf("  %-34s %zu replayed, %zu in the period, %zu evaluated\n", "transactions",
              report.replayed, report.in_period, c.Total());
  std::printf("  %-34s %zu (cards with a fraud known after a %d-day delay)\n",
              "excluded, card known compromised", report.excluded, options.label_delay_days);
  std::printf("  %-34s %zu frauds, %zu legitimate\n", "labels", report.metrics.positives,
              report.metrics.negatives);
  std::printf("  %-34s %.4f\n", "AUC ROC", report.metrics.auc_roc);
  std::printf("  %-34s %.4f\n", "average precision", report.metrics.average_precision);
  std::printf("  %-34s %.4f\n",
              ("card precision at " + std::to_string(report.card_precision.k) + " per day").c_str(),
              report.card_precision.mean);
  std::printf("  %-34s %.4f\n", "detection at 1% FPR", report.metrics.detection_at_fpr_1);
  std::printf("  %-34s %.4f\n", "detection at 2% FPR", report.metrics.detection_at_fpr_2);
  std::printf("\n  %-10s %12s %12s\n", "risk level", "fraud", "legitimate");
  static constexpr std::array<const char*, 3> kLevelNames = {"low", "medium", "high"};
  for (size_t level = 0; level < 3; ++level) {
    std::printf("  %-10s %12zu %12zu\n", kLevelNames[level], c.counts[level][1],
                c.counts[level][0]);
  }
  char medium_label[64];
  std::snprintf(medium_label, sizeof(medium_label), "medium or above (score >= %.2f)",
                report.medium_threshold);
  char high_label[64];
  std::snprintf(high_label, sizeof(high_label), "high (score >= %.2f)", report.high_threshold);
  std::printf("\n  %-34s detection %.4f, FPR %.4f, precision %.4f\n", medium_label,
              c.DetectionRateAtOrAbove(1), c.FalsePositiveRateAtOrAbove(1),
              c.PrecisionAtOrAbove(1));
  std::printf("  %-34s detection %.4f, FPR %.4f, precision %.4f\n", high_label,
              c.DetectionRateAtOrAbove(2), c.FalsePositiveRateAtOrAbove(2),
              c.PrecisionAtOrAbove(2));
  if (!report.scenarios.empty()) {
    std::printf("\n  %-22s %8s %18s %18s\n", "frauds by scenario", "frauds", "at review",
                "at 2% FPR");
    for (const auto& entry : report.scenarios) {
      const auto share = [&](size_t detected) {
        return static_cast<double>(detected) / static_cast<double>(entry.frauds);
      };
      std::printf("  %d %-20s %8zu %10zu (%.3f) %10zu (%.3f)\n", entry.scenario,
                  std::string(ScenarioName(entry.scenario)).c_str(), entry.frauds, entry.at_review,
                  share(entry.at_review), entry.at_fpr_2, share(entry.at_fpr_2));
    }
  }
  if (report.drift.empty()) {
    std::printf("\n  drift: the model file has no reference\n");
    return;
  }
  std::printf("\n  %-34s %s\n", "drift against validation", "PSI (< 0.1 stable, > 0.25 major)");
  for (const DistributionDrift& distribution : report.drift) {
    std::printf("  %-34s %.4f\n", distribution.name.c_str(), distribution.psi);
  }
}

Status WriteScores(const EvalCommandOptions& options,
                   const EvaluatedRows& rows,
                   const std::vector<bool>& excluded) {
  static constexpr std::array<const char*, 3> kLevelNames = {"low", "medium", "high"};
  std::string csv =
      "transaction_id,timestamp_ms,card,merchant_id,risk_score,risk_level,is_fraud,scenario,"
      "excluded_known_compromised\n";
  char number[32];
  for (size_t i = 0; i < rows.scores.size(); ++i) {
    const auto& identity = rows.identities[i];
    AppendCsvText(csv, identity.transaction_id);
    csv += ',' + std::to_string(identity.timestamp_ms) + ',';
    AppendCsvText(csv, identity.card);
    csv += ',';
    AppendCsvText(csv, identity.merchant_id);
    std::snprintf(number, sizeof(number), ",%.2f,", static_cast<double>(rows.scores[i]));
    csv += number;
    csv += kLevelNames[std::min<size_t>(rows.levels[i], 2)];
    csv += rows.labels[i] > 0.5F ? ",1," : ",0,";
    csv += std::to_string(rows.scenarios[i]);
    csv += excluded[i] ? ",1\n" : ",0\n";
  }
  if (Status written = WriteFileReplacing(options.scores_path, csv); !written) {
    return Error{"--scores: " + written.error()};
  }
  return OkStatus();
}

Status WritePlot(const EvalCommandOptions& options,
                 const EvalReport& report,
                 const EvaluatedRows& rows,
                 const std::vector<bool>& excluded) {
  std::vector<float> scores;
  std::vector<float> labels;
  for (size_t i = 0; i < rows.scores.size(); ++i) {
    if (!excluded[i]) {
      scores.push_back(rows.scores[i]);
      labels.push_back(rows.labels[i]);
    }
  }
  const auto curve = ComputePrecisionRecallCurve(scores, labels);
  std::vector<PlotOperatingPoint> points;
  char label[96];
  std::snprintf(label, sizeof(label), "medium or above (review), score >= %.2f",
                report.medium_threshold);
  points.push_back(
      {label, report.confusion.DetectionRateAtOrAbove(1), report.confusion.PrecisionAtOrAbove(1)});
  std::snprintf(label, sizeof(label), "high (decline), score >= %.2f", report.high_threshold);
  points.push_back(
      {label, report.confusion.DetectionRateAtOrAbove(2), report.confusion.PrecisionAtOrAbove(2)});
  char subtitle[256];
  std::snprintf(subtitle, sizeof(subtitle),
                "model %s, %s .. %s, %zu transactions, %zu frauds; AUC ROC %.3f, AP %.3f",
                report.model_version.c_str(), FormatDay(report.from_day).c_str(),
                FormatDay(report.to_day).c_str(), report.confusion.Total(),
                report.metrics.positives, report.metrics.auc_roc, report.metrics.average_precision);
  const std::string svg =
      RenderPrecisionRecallSvg(curve, points, "Precision-recall curve", subtitle);
  if (Status written = WriteFileReplacing(options.plot_path, svg); !written) {
    return Error{"--plot: " + written.error()};
  }
  return OkStatus();
}

}  // namespace

Status RunEval(const EvalCommandOptions& options) {
  if (options.label_delay_days < 0 || options.label_delay_days > kMaxDelayDays) {
    return Error{"--label-delay-days must be between 0 and " + std::to_string(kMaxDelayDays)};
  }
  if (options.known_label_days < 0 || options.known_label_days > kMaxDelayDays) {
    return Error{"--known-label-days must be between 0 and " + std::to_string(kMaxDelayDays)};
  }
  std::optional<int64_t> from_day;
  std::optional<int64_t> to_day;
  if (!options.from.empty()) {
    auto day = ParseDay("--from", options.from);
    if (!day) {
      return Error{day.error()};
    }
    from_day = *day;
  }
  if (!options.to.empty()) {
    auto day = ParseDay("--to", options.to);
    if (!day) {
      return Error{day.error()};
    }
    to_day = *day;
  }
  if (from_day && to_day && *from_day > *to_day) {
    return Error{"--from " + options.from + " is after --to " + options.to};
  }

  auto reader = TransactionCsvReader::Open(options.input, options.schema);
  if (!reader) {
    return Error{reader.error()};
  }
  auto model = LoadedModel::Load(options.model_path);
  if (!model) {
    return Error{"--model " + options.model_path + ": " + model.error()};
  }
  auto rules = std::make_shared<RuleSet>();
  if (!options.rules_path.empty()) {
    auto loaded = RuleSet::LoadFile(options.rules_path);
    if (!loaded) {
      return Error{"--rules " + options.rules_path + ": " + loaded.error()};
    }
    *rules = std::move(loaded).value();
  }
  FeatureStoreOptions store_options;  // in memory: evaluation must not touch the serving state
  store_options.worker_threads = 1;
  ManualClock clock;
  auto store = FeatureStore::Open(store_options, clock);
  if (!store) {
    return Error{store.error()};
  }
  Scorer scorer(**store, *model, rules, 1);
  auto drift_reference = ParseDriftReference((*model)->file.metadata_json);
  if (!drift_reference) {
    return Error{"--model " + options.model_path + ": " + drift_reference.error()};
  }
  std::optional<DriftTally> drift;
  if (*drift_reference) {
    drift.emplace(std::move(**drift_reference));
  }

  EvaluatedRows rows;
  std::unordered_map<std::string, uint64_t> card_index;
  std::vector<CardScore> period_cards;
  LabelledTransaction row;
  Decision decision;
  int64_t previous_ms = std::numeric_limits<int64_t>::min();
  size_t rows_read = 0;
  bool read_past_period = false;
  std::optional<int64_t> first_known_day;
  ProgressBar progress("eval");
  while (true) {
    auto more = (*reader)->Next(row);
    if (!more) {
      return Error{options.input + ": " + more.error()};
    }
    if (!*more) {
      break;
    }
    const int64_t timestamp_ms = row.txn.timestamp_ms;
    if (timestamp_ms < previous_ms) {
      const char* column =
          (*reader)->schema() == CsvSchema::kHandbook ? "TX_DATETIME" : "timestamp_ms";
      return Error{options.input + ": line " + std::to_string((*reader)->line()) + ", column " +
                   column +
                   ": earlier than the line before; eval replays transactions in time order, so "
                   "sort the file by time"};
    }
    previous_ms = timestamp_ms;
    const int64_t day = DayOf(timestamp_ms);
    if (rows_read++ == 0) {
      rows.file_first_day = day;
    }
    rows.file_last_day = day;
    if (to_day && day > *to_day) {
      read_past_period = true;
      break;  // the rest of the file comes after the period
    }
    if (!first_known_day) {
      const int64_t period_start = from_day.value_or(day);
      first_known_day = period_start - options.label_delay_days - options.known_label_days;
    }
    clock.Set(timestamp_ms);
    scorer.Score(row.txn, 0, decision);
    if (row.fraud) {
      // The file's label stands for the chargeback production would receive; the merchant
      // features read it only once it is kLabelDelayDays old, as they would in production.
      (*store)->RecordFraudLabel(row.txn.merchant_id, timestamp_ms, 0);
    }
    ++rows.replayed;
    progress.Update(rows.replayed, (*reader)->progress());

    // A row without a card or a customer cannot be tied to a card: it counts in the
    // transaction-level metrics only.
    const std::string& card_key = row.txn.card_id.empty() ? row.txn.customer_id : row.txn.card_id;
    const bool has_card = !card_key.empty();
    const uint64_t card =
        has_card ? card_index.emplace(card_key, card_index.size()).first->second : 0;
    const bool in_period = !from_day || day >= *from_day;
    if (!in_period) {
      if (has_card && row.fraud && day >= *first_known_day) {
        rows.cards.push_back({card, day, 0.0F, true});
      }
      continue;
    }
    if (rows.scores.empty()) {
      rows.first_day = day;
    }
    rows.last_day = day;
    if (has_card) {
      rows.card_of.push_back(period_cards.size());
      period_cards.push_back({card, day, static_cast<float>(decision.risk_score), row.fraud});
    } else {
      rows.card_of.push_back(kNoCard);
    }
    rows.scores.push_back(static_cast<float>(decision.risk_score));
    if (drift) {
      drift->Add(decision.risk_score, scorer.last_features(0));
    }
    rows.labels.push_back(row.fraud ? 1.0F : 0.0F);
    rows.levels.push_back(static_cast<uint8_t>(decision.level));
    rows.scenarios.push_back(static_cast<uint8_t>(std::clamp(row.scenario, 0, 255)));
    if (!options.scores_path.empty()) {
      rows.identities.push_back(
          {row.txn.transaction_id, card_key, row.txn.merchant_id, timestamp_ms});
    }
  }
  progress.Finish();

  if (rows_read == 0) {
    return Error{options.input + ": no transactions after the header"};
  }
  if (rows.scores.empty()) {
    // Reading stops at the first row after the period, so the file's last day is unknown then.
    const std::string span = read_past_period
                                 ? options.input + " starts on " + FormatDay(rows.file_first_day)
                                 : options.input + " spans " + FormatDay(rows.file_first_day) +
                                       " .. " + FormatDay(rows.file_last_day);
    return Error{"the evaluation period " + (options.from.empty() ? "start" : options.from) +
                 " .. " + (options.to.empty() ? "end" : options.to) + " holds no transactions; " +
                 span};
  }
  rows.lookback_frauds = rows.cards.size();
  rows.cards.insert(rows.cards.end(), period_cards.begin(), period_cards.end());
  const std::vector<bool> known =
      KnownCompromisedMask(rows.cards, *first_known_day, options.label_delay_days);

  EvalReport report;
  report.model_version = (*model)->file.version;
  report.medium_threshold = (*model)->file.medium_threshold;
  report.high_threshold = (*model)->file.high_threshold;
  report.from_day = from_day.value_or(rows.first_day);
  report.to_day = to_day.value_or(rows.last_day);
  report.replayed = rows.replayed;
  report.in_period = rows.scores.size();
  if (drift) {
    report.drift = drift->Drift();
  }
  std::vector<float> scores;
  std::vector<float> labels;
  std::vector<uint8_t> levels;
  std::vector<uint8_t> scenarios;
  std::vector<CardScore> evaluated_cards;
  std::vector<bool> excluded(rows.scores.size(), false);
  for (size_t i = 0; i < rows.scores.size(); ++i) {
    const size_t slot = rows.card_of[i];
    excluded[i] = slot != kNoCard && known[rows.lookback_frauds + slot];
    if (excluded[i]) {
      ++report.excluded;
      continue;
    }
    scores.push_back(rows.scores[i]);
    labels.push_back(rows.labels[i]);
    levels.push_back(rows.levels[i]);
    scenarios.push_back(rows.scenarios[i]);
    if (slot != kNoCard) {
      evaluated_cards.push_back(period_cards[slot]);
    }
  }
  report.metrics = ComputeDetectionMetrics(scores, labels);
  if (report.metrics.positives == 0) {
    return Error{"no fraud among the " + std::to_string(scores.size()) +
                 " transactions evaluated: AUC ROC, average precision and detection rates are "
                 "undefined without positives (is_fraud / TX_FRAUD all 0 in the period)"};
  }
  if (report.metrics.negatives == 0) {
    return Error{"no legitimate transaction among the " + std::to_string(scores.size()) +
                 " evaluated: false positive rates are undefined"};
  }
  report.card_precision = ComputeCardPrecisionAtK(evaluated_cards, options.card_precision_k);
  report.confusion = ComputeRiskLevelConfusion(levels, labels);
  report.fpr_2_threshold = ThresholdForFalsePositiveRate(scores, labels, 0.02);
  report.scenarios = DetectionByScenario(scores, labels, levels, scenarios, report.fpr_2_threshold);

  if (!options.plot_path.empty()) {
    if (auto status = WritePlot(options, report, rows, excluded); !status) {
      return status;
    }
  }
  if (!options.scores_path.empty()) {
    if (auto status = WriteScores(options, rows, excluded); !status) {
      return status;
    }
  }
  if (options.json) {
    const std::string json = ReportJson(options, report);
    std::fwrite(json.data(), 1, json.size(), stdout);
  } else {
    PrintTable(options, report);
  }
  std::fflush(stdout);
  LogInfo("model_evaluated")
      .Field("model_version", report.model_version)
      .Field("input", options.input)
      .Field("evaluated", static_cast<int64_t>(report.confusion.Total()))
      .Field("auc_roc", report.metrics.auc_roc)
      .Field("average_precision", report.metrics.average_precision)
      .Field("card_precision", report.card_precision.mean);
  return OkStatus();
}

}  // namespace fraudguard
