#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "api/fraud_service.h"
#include "incidents/alert_evaluator.h"
#include "incidents/alert_rules.h"
#include "incidents/incident_engine.h"
#include "slo/slo_tracker.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kTick = 15'000;
constexpr int64_t kStart = 1'800'000'000'000 - 1'800'000'000'000 % kMinute;
const size_t kAnalyze = static_cast<size_t>(Route::kAnalyze);

// The specification's four rules alone (the defaults also hold the playbook's triggers).
std::vector<AlertRule> SpecRules() {
  std::vector<AlertRule> rules = DefaultAlertRules().rules;
  rules.resize(4);
  return rules;
}

class AlertScenarioTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("incident_alerts_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    SliRecorderOptions sli_options;
    sli_options.path = (dir_ / "sli.db").string();
    sli_options.routes = RouteLabels();
    sli_options.start_writer = false;
    auto sli = SliRecorder::Open(sli_options, clock_);
    ASSERT_TRUE(sli) << sli.error();
    sli_ = std::move(sli).value();
    IncidentEngineOptions options;
    options.store_path = (dir_ / "incidents.db").string();
    auto engine = IncidentEngine::Open(options, DefaultPlaybooks(), clock_);
    ASSERT_TRUE(engine) << engine.error();
    engine_ = std::move(engine).value();
  }
  void TearDown() override {
    evaluator_.reset();
    slo_.reset();
    sli_.reset();
    engine_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartEvaluator(std::vector<AlertRule> rules, bool with_slo = false) {
    MeasurementSources sources;
    sources.sli = sli_.get();
    sources.api_routes = {"/api/v1/fraud/analyze", "/api/v1/fraud/analyze/batch"};
    if (with_slo) {
      slo_ = std::make_unique<SloTracker>(DefaultSloConfig(), *sli_, clock_);
      sources.slo = slo_.get();
    }
    sources.accuracy = &accuracy_;
    sources.connection_usage = [this] { return connection_usage_; };
    sources.model_drift = [this] { return model_drift_; };
    evaluator_ =
        std::make_unique<AlertEvaluator>(std::move(rules), std::move(sources), *engine_, clock_);
  }

  // `minutes` of traffic, 40 requests per 15-second tick, `error_share` of them answered 500,
  // each taking `seconds`; the evaluator runs after every tick.
  void Traffic(int64_t minutes, double error_share, double seconds = 0.002) {
    for (int64_t tick = 0; tick < minutes * kMinute / kTick; ++tick) {
      const int errors = static_cast<int>(std::lround(40 * error_share));
      for (int i = 0; i < 40; ++i) {
        sli_->Record(kAnalyze, i < errors ? 500 : 200, seconds);
      }
      clock_.Advance(kTick);
      evaluator_->Tick();
    }
  }

  RuleState StateOf(const std::string& name) const {
    for (const RuleStatus& status : evaluator_->Statuses()) {
      if (status.name == name) {
        return status.state;
      }
    }
    return RuleState::kInactive;
  }

  std::filesystem::path dir_;
  ManualClock clock_{kStart};
  std::unique_ptr<SliRecorder> sli_;
  std::unique_ptr<IncidentEngine> engine_;
  std::unique_ptr<SloTracker> slo_;
  AccuracyTracker accuracy_{clock_};
  double connection_usage_ = 0.1;
  double model_drift_ = std::nan("");  // no data: too few transactions in the drift window
  std::unique_ptr<AlertEvaluator> evaluator_;
};

TEST_F(AlertScenarioTest, ModelDriftFiresAfterHalfAnHourAndNoDataNeverFires) {
  StartEvaluator(DefaultAlertRules().rules);
  Traffic(40, 0.0);  // no drift figure yet: nothing fires however long
  EXPECT_EQ(StateOf("MLModelDrift"), RuleState::kInactive);
  model_drift_ = 0.04;  // under the threshold
  Traffic(40, 0.0);
  EXPECT_EQ(StateOf("MLModelDrift"), RuleState::kInactive);
  model_drift_ = 0.3;
  Traffic(29, 0.0);
  EXPECT_EQ(StateOf("MLModelDrift"), RuleState::kPending);
  Traffic(2, 0.0);
  EXPECT_EQ(StateOf("MLModelDrift"), RuleState::kFiring);
  auto incidents = engine_->List(false, 10);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].service, "ml-inference");
  model_drift_ = 0.02;
  Traffic(1, 0.0);
  EXPECT_EQ(StateOf("MLModelDrift"), RuleState::kInactive);
}

TEST_F(AlertScenarioTest, ErrorRateOutageOpensOneSev2IncidentRecoveryMonitorsFlappingStaysOne) {
  StartEvaluator(SpecRules());
  Traffic(5, 0.0);
  EXPECT_TRUE(engine_->List(false, 10).empty());

  // 30 % errors: pending once the 5-minute ratio passes 5 %, firing only after `for: 2m`.
  Traffic(1, 0.30);
  EXPECT_EQ(StateOf("FraudAPIHighErrorRate"), RuleState::kPending);
  EXPECT_TRUE(engine_->List(false, 10).empty());
  Traffic(2, 0.30);
  EXPECT_EQ(StateOf("FraudAPIHighErrorRate"), RuleState::kFiring);
  auto incidents = engine_->List(false, 10);
  ASSERT_EQ(incidents.size(), 1u);
  const int64_t id = incidents[0].id;
  EXPECT_EQ(incidents[0].severity, Severity::kSev2);  // one critical alert
  EXPECT_EQ(incidents[0].playbook, "fraud_api_outage");
  EXPECT_EQ(incidents[0].state, IncidentState::kInvestigating);
  ASSERT_EQ(incidents[0].alerts.size(), 1u);
  EXPECT_EQ(incidents[0].alerts[0].annotations.at("description"),
            "Error rate is 18% for the last 5 minutes");

  // Recovery: once the bad minutes leave the 5-minute window the alert resolves.
  Traffic(6, 0.0);
  EXPECT_EQ(StateOf("FraudAPIHighErrorRate"), RuleState::kInactive);
  auto incident = engine_->Get(id);
  EXPECT_EQ(incident->state, IncidentState::kMonitoring);
  EXPECT_FALSE(incident->alerts[0].firing);
  EXPECT_EQ(incident->alerts[0].annotations.at("description"),
            "Error rate is 18% for the last 5 minutes");  // what fired, not the recovery

  // It comes back: the same incident, investigating again, the alert counted twice.
  Traffic(4, 0.30);
  incidents = engine_->List(false, 10);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].state, IncidentState::kInvestigating);
  EXPECT_EQ(incidents[0].alerts[0].fired_count, 2);
}

TEST_F(AlertScenarioTest, TotalOutageWithEveryDefaultRuleIsOneSev1Incident) {
  std::vector<AlertRule> rules = DefaultAlertRules().rules;
  for (AlertRule& rule : BurnRateRules(DefaultSloConfig().slos)) {
    rules.push_back(std::move(rule));
  }
  StartEvaluator(std::move(rules), true);
  Traffic(3, 0.0);
  Traffic(6, 1.0);
  auto incidents = engine_->List(false, 10);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].severity, Severity::kSev1);
  EXPECT_EQ(incidents[0].playbook, "fraud_api_outage");
  std::set<std::string> names;
  for (const IncidentAlert& alert : incidents[0].alerts) {
    names.insert(alert.name);
  }
  EXPECT_TRUE(names.count("FraudAPIHighErrorRate"));
  EXPECT_TRUE(names.count("FraudAPIOutageErrorRate"));
  EXPECT_TRUE(names.count("FraudAPINoSuccessfulRequests"));
  EXPECT_TRUE(names.count("FraudAPIAvailabilityLow"));
  EXPECT_TRUE(names.count("SLOBurnRatePage"));
  EXPECT_GE(incidents[0].Score(), 25);
}

TEST_F(AlertScenarioTest, LatencyAccuracyAndConnectionRulesHonourTheirFor) {
  StartEvaluator(SpecRules());
  // 200 ms answers: p95 over 100 ms, firing after 5 minutes, not before.
  Traffic(4, 0.0, 0.2);
  EXPECT_EQ(StateOf("FraudAPIHighLatency"), RuleState::kPending);
  Traffic(2, 0.0, 0.2);
  EXPECT_EQ(StateOf("FraudAPIHighLatency"), RuleState::kFiring);

  // Accuracy: no labels is no data, not zero.
  EXPECT_EQ(StateOf("MLModelAccuracyDrop"), RuleState::kInactive);
  for (int i = 0; i < 20; ++i) {
    LabelledDecision decision;
    decision.received_ms = clock_.NowMillis();
    decision.fraud = i < 4;
    decision.flagged = false;  // four frauds missed: accuracy 0.8
    accuracy_.Add(decision);
  }
  Traffic(9, 0.0);
  EXPECT_EQ(StateOf("MLModelAccuracyDrop"), RuleState::kPending);
  Traffic(2, 0.0);
  EXPECT_EQ(StateOf("MLModelAccuracyDrop"), RuleState::kFiring);

  connection_usage_ = 0.95;
  evaluator_->Tick();
  EXPECT_EQ(StateOf("ConnectionPoolExhausted"), RuleState::kPending);
  Traffic(1, 0.0);
  EXPECT_EQ(StateOf("ConnectionPoolExhausted"), RuleState::kFiring);

  // The latency incident (fraud-api) and the accuracy one (ml-inference) are apart.
  auto incidents = engine_->List(false, 10);
  ASSERT_EQ(incidents.size(), 2u);
  std::set<std::string> services = {incidents[0].service, incidents[1].service};
  EXPECT_EQ(services, (std::set<std::string>{"fraud-api", "ml-inference"}));
}

TEST_F(AlertScenarioTest, AFreshEvaluatorResolvesWhatTheLastOneLeftFiring) {
  StartEvaluator(SpecRules());
  Traffic(5, 1.0);
  ASSERT_EQ(engine_->List(false, 10).size(), 1u);
  ASSERT_EQ(engine_->List(false, 10)[0].state, IncidentState::kInvestigating);
  // A restart while the errors go on: the alert stays firing, without a resolved-then-fired flap.
  StartEvaluator(SpecRules());
  Traffic(1, 1.0);
  EXPECT_EQ(StateOf("FraudAPIHighErrorRate"), RuleState::kFiring);
  auto held = engine_->List(false, 10);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].FiringCount(), 1);
  EXPECT_EQ(held[0].alerts[0].fired_count, 1);
  // Another restart, and the errors are over by then.
  StartEvaluator(SpecRules());
  Traffic(7, 0.0);
  auto incidents = engine_->List(false, 10);
  ASSERT_EQ(incidents.size(), 1u);
  EXPECT_EQ(incidents[0].state, IncidentState::kMonitoring);
  EXPECT_EQ(incidents[0].FiringCount(), 0);
}

TEST(AlertRulesTest, ShippedFileEqualsTheBuiltIn) {
  std::ifstream in(std::string(FRAUDGUARD_SOURCE_DIR) + "/config/alerts.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), DefaultAlertRulesYaml());
  const AlertRulesConfig config = DefaultAlertRules();
  ASSERT_EQ(config.rules.size(), 8u);
  EXPECT_EQ(config.rules[0].name, "FraudAPIHighErrorRate");
  EXPECT_EQ(config.rules[0].for_ms, 2 * kMinute);
  EXPECT_EQ(config.rules[1].for_ms, 5 * kMinute);
  EXPECT_EQ(config.rules[2].for_ms, 10 * kMinute);
  EXPECT_EQ(config.rules[3].for_ms, 1 * kMinute);
  EXPECT_EQ(config.rules[4].name, "MLModelDrift");
  EXPECT_EQ(config.rules[4].for_ms, 30 * kMinute);
  EXPECT_EQ(config.evaluation_interval_ms, 15'000);
}

TEST(AlertRulesTest, ConditionsParseAndErrorsSayWhatIsWrong) {
  auto parsed = ParseCondition("successful_requests(1m) == 0 and requests(1m) > 0");
  ASSERT_TRUE(parsed) << parsed.error();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].measurement, Measurement::kSuccessfulRequests);
  EXPECT_EQ((*parsed)[1].op, CompareOp::kGreater);
  auto burn = ParseCondition("burn_rate(fraud_api_availability, 1h) >= 14.4");
  ASSERT_TRUE(burn) << burn.error();
  EXPECT_EQ((*burn)[0].slo, "fraud_api_availability");
  EXPECT_EQ((*burn)[0].window_minutes, 60);

  const auto error = [](const std::string& text) {
    auto result = ParseCondition(text);
    return result ? std::string("parsed") : result.error();
  };
  EXPECT_NE(error("cpu(5m) > 1").find("unknown measurement 'cpu'"), std::string::npos);
  EXPECT_NE(error("error_ratio > 1").find("needs a window"), std::string::npos);
  EXPECT_NE(error("error_ratio(5x) > 1").find("whole minutes"), std::string::npos);
  EXPECT_NE(error("error_ratio(30s) > 1").find("whole minutes"), std::string::npos);
  EXPECT_NE(error("error_ratio(4d) > 1").find("whole minutes"), std::string::npos);
  EXPECT_NE(error("error_ratio(5m) ~ 1").find("expected one of"), std::string::npos);
  EXPECT_NE(error("error_ratio(5m) > lots").find("expected a number"), std::string::npos);
  EXPECT_NE(error("burn_rate(1h) > 1").find("SLO name"), std::string::npos);
  EXPECT_NE(error("burn_rate(x, 7m) > 1").find("one of 5m"), std::string::npos);

  const auto config_error = [](const std::string& yaml) {
    auto result = ParseAlertRules(yaml, "a.yaml");
    return result ? std::string("parsed") : result.error();
  };
  EXPECT_NE(config_error("rules: [{name: A}]").find("rules[0].condition': missing"),
            std::string::npos);
  EXPECT_NE(config_error("rules: [{name: A, condition: \"x > 1\"}]").find("rules[0].condition"),
            std::string::npos);
  EXPECT_NE(config_error("rules: [{name: A, condition: \"model_accuracy < 1\", for: soon}]")
                .find("rules[0].for"),
            std::string::npos);
  EXPECT_NE(config_error("evaluation_interval: 0s").find("evaluation_interval"), std::string::npos);
  EXPECT_NE(config_error("colour: red").find("'colour': unknown key"), std::string::npos);
  EXPECT_NE(config_error("rules: [{name: A, condition: \"model_accuracy < 1\"}, "
                         "{name: A, condition: \"model_accuracy < 1\"}]")
                .find("defined twice"),
            std::string::npos);
}

TEST(AlertRulesTest, BurnRateFactorsFollowTheSloWindow) {
  SloDefinition slo;
  slo.name = "availability";
  slo.window_minutes = 30 * 24 * 60;
  auto rules = BurnRateRules({slo});
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_DOUBLE_EQ(rules[0].comparisons[0].threshold, 14.4);
  EXPECT_EQ(rules[0].comparisons[1].window_minutes, 5);
  EXPECT_DOUBLE_EQ(rules[1].comparisons[0].threshold, 6.0);
  EXPECT_EQ(rules[1].comparisons[1].window_minutes, 30);
  slo.window_minutes = 7 * 24 * 60;
  EXPECT_NEAR(BurnRateRules({slo})[0].comparisons[0].threshold, 3.36, 1e-9);
}

TEST(AlertRulesTest, TemplatesRenderValuesAndLabels) {
  const std::map<std::string, std::string> labels = {{"service", "fraud-api"}};
  EXPECT_EQ(
      RenderTemplate("{{ $value | humanizePercentage }} on {{ $labels.service }}", 0.04762, labels),
      "4.762% on fraud-api");
  EXPECT_EQ(RenderTemplate("p95 {{ $value }}s", 0.125, labels), "p95 0.125s");
  EXPECT_EQ(RenderTemplate("{{ $nope }} {{ unclosed", 1, labels), "{{ $nope }} {{ unclosed");
}

}  // namespace
}  // namespace fraudguard
