#include "incidents/incident_engine.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "incidents/playbook.h"
#include "incidents/postmortem.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kStart = 1'800'000'000'000;

class IncidentEngineTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("incident_engine_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<IncidentEngine> OpenEngine() {
    IncidentEngineOptions options;
    options.store_path = (dir_ / "incidents.db").string();
    options.group_window_ms = 30 * kMinute;
    auto engine = IncidentEngine::Open(options, DefaultPlaybooks(), clock_);
    EXPECT_TRUE(engine) << engine.error();
    return engine ? std::move(engine).value() : nullptr;
  }

  static AlertEvent Alert(const std::string& name,
                          const std::string& severity,
                          bool firing = true,
                          const std::string& service = "fraud-api") {
    AlertEvent event;
    event.name = name;
    event.labels = {{"alertname", name}, {"severity", severity}, {"service", service}};
    event.annotations = {{"summary", name + " summary"}, {"description", "value 0.5"}};
    event.firing = firing;
    return event;
  }

  std::filesystem::path dir_;
  ManualClock clock_{kStart};
};

TEST(IncidentModelTest, SeverityFollowsTheWeightedScoreAndCount) {
  EXPECT_EQ(AlertWeight(ParseAlertSeverity("critical")), 5);
  EXPECT_EQ(AlertWeight(ParseAlertSeverity("high")), 3);
  EXPECT_EQ(AlertWeight(ParseAlertSeverity("medium")), 2);
  EXPECT_EQ(AlertWeight(ParseAlertSeverity("warning")), 2);
  EXPECT_EQ(AlertWeight(ParseAlertSeverity("low")), 1);
  EXPECT_EQ(AlertWeight(ParseAlertSeverity("whatever")), 1);

  // One critical alert scores 5: the table says SEV4, the critical floor says SEV2.
  EXPECT_EQ(SeverityFromScore(5, 1, true), Severity::kSev2);
  EXPECT_EQ(SeverityFromScore(5, 1, false), Severity::kSev4);
  EXPECT_EQ(SeverityFromScore(10, 2, true), Severity::kSev1);
  EXPECT_EQ(SeverityFromScore(7, 2, false), Severity::kSev2);
  EXPECT_EQ(SeverityFromScore(7, 1, false), Severity::kSev4);  // one alert cannot score 7
  EXPECT_EQ(SeverityFromScore(6, 3, false), Severity::kSev3);
  EXPECT_EQ(SeverityFromScore(5, 2, false), Severity::kSev4);
  EXPECT_EQ(SeverityFromScore(3, 3, false), Severity::kSev4);

  EXPECT_EQ(ResponseTargetMillis(Severity::kSev1), 5 * kMinute);
  EXPECT_EQ(ResponseTargetMillis(Severity::kSev2), 15 * kMinute);
  EXPECT_EQ(ResponseTargetMillis(Severity::kSev3), 60 * kMinute);
  EXPECT_EQ(ResponseTargetMillis(Severity::kSev4), 240 * kMinute);
}

TEST(IncidentModelTest, TransitionsAllowOpenStatesToMoveAndResolvedOnlyToReopen) {
  using S = IncidentState;
  EXPECT_TRUE(TransitionAllowed(S::kInvestigating, S::kIdentified));
  EXPECT_TRUE(TransitionAllowed(S::kIdentified, S::kMonitoring));
  EXPECT_TRUE(TransitionAllowed(S::kMonitoring, S::kResolved));
  EXPECT_TRUE(TransitionAllowed(S::kMonitoring, S::kInvestigating));
  EXPECT_TRUE(TransitionAllowed(S::kResolved, S::kInvestigating));
  EXPECT_FALSE(TransitionAllowed(S::kResolved, S::kMonitoring));
  EXPECT_FALSE(TransitionAllowed(S::kResolved, S::kIdentified));
  EXPECT_FALSE(TransitionAllowed(S::kInvestigating, S::kInvestigating));
  IncidentState parsed = S::kResolved;
  EXPECT_TRUE(ParseIncidentState("identified", parsed));
  EXPECT_EQ(parsed, S::kIdentified);
  EXPECT_FALSE(ParseIncidentState("closed", parsed));
}

TEST(IncidentModelTest, JsonRoundTripKeepsEveryField) {
  Incident incident;
  incident.id = 7;
  incident.group_key = "service:fraud-api";
  incident.service = "fraud-api";
  incident.title = "High \"error\" rate";
  incident.severity = Severity::kSev2;
  incident.state = IncidentState::kIdentified;
  incident.opened_ms = 1000;
  incident.updated_ms = 2000;
  incident.last_alert_ms = 1500;
  incident.ack_deadline_ms = 1000 + 15 * kMinute;
  incident.acknowledged_ms = 1200;
  incident.acknowledged_by = "alice";
  incident.playbook = "fraud_api_outage";
  incident.responders = {"alice", "bob"};
  IncidentAlert alert;
  alert.fingerprint = "00112233aabbccdd";
  alert.name = "FraudAPIHighErrorRate";
  alert.severity = AlertSeverity::kCritical;
  alert.source = "builtin";
  alert.labels = {{"service", "fraud-api"}};
  alert.annotations = {{"summary", "s\nline"}};
  alert.firing = false;
  alert.starts_ms = 1000;
  alert.ends_ms = 1400;
  alert.fired_count = 3;
  incident.alerts.push_back(alert);
  incident.timeline.push_back({1000, "engine", "opened", "opened by alert X"});

  std::string json;
  AppendIncidentJson(incident, 3000, json);
  auto back = ParseIncidentJson(json);
  ASSERT_TRUE(back) << back.error();
  std::string again;
  AppendIncidentJson(*back, 3000, again);
  EXPECT_EQ(json, again);
  EXPECT_EQ(back->alerts.at(0).fired_count, 3);
  EXPECT_FALSE(back->alerts.at(0).firing);
  EXPECT_EQ(back->responders.size(), 2u);

  EXPECT_FALSE(ParseIncidentJson("{").ok());
  EXPECT_FALSE(ParseIncidentJson(R"({"id":"x"})").ok());
}

TEST_F(IncidentEngineTest, CriticalAlertOpensOneSev2IncidentWithThePlaybook) {
  auto engine = OpenEngine();
  ASSERT_NE(engine, nullptr);
  auto outcome = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
  ASSERT_TRUE(outcome) << outcome.error();
  EXPECT_TRUE(outcome->opened);
  auto incident = engine->Get(outcome->incident_id);
  ASSERT_TRUE(incident.has_value());
  EXPECT_EQ(incident->severity, Severity::kSev2);
  EXPECT_EQ(incident->state, IncidentState::kInvestigating);
  EXPECT_EQ(incident->playbook, "fraud_api_outage");
  EXPECT_EQ(incident->title, "FraudAPIHighErrorRate summary");
  EXPECT_EQ(incident->ack_deadline_ms, kStart + 15 * kMinute);
  EXPECT_FALSE(incident->AckMissed(kStart + 14 * kMinute));
  EXPECT_TRUE(incident->AckMissed(kStart + 16 * kMinute));

  // The same alert again (Alertmanager repeating a group) changes nothing.
  clock_.Advance(kMinute);
  auto repeat = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
  ASSERT_TRUE(repeat);
  EXPECT_FALSE(repeat->opened);
  EXPECT_EQ(engine->Get(outcome->incident_id)->timeline.size(), incident->timeline.size());
  EXPECT_EQ(engine->List(false, 100).size(), 1u);
}

TEST_F(IncidentEngineTest, SeverityRisesAsAlertsJoinAndTheDeadlineComesCloser) {
  auto engine = OpenEngine();
  ASSERT_NE(engine, nullptr);
  auto first = engine->Ingest(Alert("FraudAPIHighLatency", "warning"));
  ASSERT_TRUE(first);
  EXPECT_EQ(engine->Get(first->incident_id)->severity, Severity::kSev4);
  EXPECT_EQ(engine->Get(first->incident_id)->playbook, "");

  clock_.Advance(2 * kMinute);
  auto second = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->opened);
  EXPECT_EQ(second->incident_id, first->incident_id);
  auto incident = engine->Get(first->incident_id);
  EXPECT_EQ(incident->Score(), 7);
  EXPECT_EQ(incident->severity, Severity::kSev2);
  EXPECT_EQ(incident->ack_deadline_ms, kStart + 2 * kMinute + 15 * kMinute);
  EXPECT_EQ(incident->playbook, "fraud_api_outage");

  clock_.Advance(kMinute);
  ASSERT_TRUE(engine->Ingest(Alert("DatabaseConnectionPoolExhausted", "critical")));
  incident = engine->Get(first->incident_id);
  EXPECT_EQ(incident->Score(), 12);
  EXPECT_EQ(incident->severity, Severity::kSev1);
  EXPECT_EQ(incident->ack_deadline_ms, kStart + 3 * kMinute + 5 * kMinute);

  // Resolving alerts does not lower the severity.
  clock_.Advance(kMinute);
  ASSERT_TRUE(engine->Ingest(Alert("DatabaseConnectionPoolExhausted", "critical", false)));
  EXPECT_EQ(engine->Get(first->incident_id)->severity, Severity::kSev1);
}

TEST_F(IncidentEngineTest, FlappingAlertStaysOneIncidentAndMovesBetweenStates) {
  auto engine = OpenEngine();
  ASSERT_NE(engine, nullptr);
  auto opened = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
  ASSERT_TRUE(opened);
  for (int flap = 0; flap < 5; ++flap) {
    clock_.Advance(3 * kMinute);
    auto resolved = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical", false));
    ASSERT_TRUE(resolved);
    EXPECT_EQ(resolved->incident_id, opened->incident_id);
    EXPECT_EQ(engine->Get(opened->incident_id)->state, IncidentState::kMonitoring);
    clock_.Advance(3 * kMinute);
    auto fired = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
    ASSERT_TRUE(fired);
    EXPECT_FALSE(fired->opened);
    EXPECT_EQ(engine->Get(opened->incident_id)->state, IncidentState::kInvestigating);
  }
  auto incident = engine->Get(opened->incident_id);
  ASSERT_EQ(incident->alerts.size(), 1u);
  EXPECT_EQ(incident->alerts[0].fired_count, 6);
  EXPECT_EQ(engine->List(false, 100).size(), 1u);
}

TEST_F(IncidentEngineTest, GroupsByServiceAndTimeWindow) {
  auto engine = OpenEngine();
  ASSERT_NE(engine, nullptr);
  auto api = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
  auto ml = engine->Ingest(Alert("MLModelAccuracyDrop", "warning", true, "ml-inference"));
  ASSERT_TRUE(api && ml);
  EXPECT_NE(api->incident_id, ml->incident_id);

  // Past the group window a new alert of the same service opens its own incident.
  clock_.Advance(31 * kMinute);
  auto later = engine->Ingest(Alert("FraudAPIHighLatency", "warning"));
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->opened);
  EXPECT_NE(later->incident_id, api->incident_id);

  // A resolved event for an alert nobody holds changes nothing.
  auto stray = engine->Ingest(Alert("SomethingElse", "critical", false));
  ASSERT_TRUE(stray);
  EXPECT_EQ(stray->incident_id, 0);
  EXPECT_EQ(engine->List(false, 100).size(), 3u);
}

TEST_F(IncidentEngineTest, PeopleAcknowledgeChangeStateAndNoteWithRules) {
  auto engine = OpenEngine();
  ASSERT_NE(engine, nullptr);
  auto opened = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
  ASSERT_TRUE(opened);
  const int64_t id = opened->incident_id;
  EngineFailure failure = EngineFailure::kNone;

  clock_.Advance(20 * kMinute);  // past the SEV2 target of 15 minutes
  auto acked = engine->Acknowledge(id, "alice", failure);
  ASSERT_TRUE(acked) << acked.error();
  EXPECT_EQ(*acked->TimeToAcknowledgeMs(), 20 * kMinute);
  EXPECT_TRUE(acked->AckMissed(clock_.NowMillis()));
  EXPECT_EQ(acked->responders, std::vector<std::string>{"alice"});
  EXPECT_FALSE(engine->Acknowledge(id, "bob", failure));
  EXPECT_EQ(failure, EngineFailure::kConflict);

  ASSERT_TRUE(engine->ChangeState(id, IncidentState::kIdentified, "alice", "bad deploy", failure));
  ASSERT_TRUE(engine->AddNote(id, "bob", "rolled back to v41", failure));
  clock_.Advance(10 * kMinute);
  auto resolved = engine->ChangeState(id, IncidentState::kResolved, "alice", "", failure);
  ASSERT_TRUE(resolved);
  EXPECT_EQ(*resolved->TimeToResolveMs(), 30 * kMinute);
  EXPECT_FALSE(engine->ChangeState(id, IncidentState::kMonitoring, "alice", "", failure));
  EXPECT_EQ(failure, EngineFailure::kConflict);
  EXPECT_FALSE(engine->AddNote(999, "bob", "x", failure));
  EXPECT_EQ(failure, EngineFailure::kNotFound);

  // The resolved incident holds no alert any more: the alert firing again opens a new one.
  auto again = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->opened);

  const std::vector<TimelineEntry> timeline = engine->Get(id)->timeline;
  std::vector<std::string> kinds;
  for (const auto& entry : timeline) {
    kinds.push_back(entry.kind);
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"opened", "alert_firing", "playbook", "severity",
                                             "acknowledged", "state", "note", "state"}));
  EXPECT_EQ(timeline.back().actor, "alice");
}

TEST_F(IncidentEngineTest, EverythingSurvivesARestart) {
  int64_t id = 0;
  {
    auto engine = OpenEngine();
    ASSERT_NE(engine, nullptr);
    auto opened = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical"));
    ASSERT_TRUE(opened);
    id = opened->incident_id;
    EngineFailure failure = EngineFailure::kNone;
    ASSERT_TRUE(engine->AddNote(id, "alice", "looking", failure));
    // No close: the engine is dropped as a killed process would drop it.
  }
  auto engine = OpenEngine();
  ASSERT_NE(engine, nullptr);
  auto incident = engine->Get(id);
  ASSERT_TRUE(incident.has_value());
  EXPECT_EQ(incident->timeline.back().text, "looking");
  // The alert is still known: its recovery lands in the same incident, and ids continue.
  auto resolved = engine->Ingest(Alert("FraudAPIHighErrorRate", "critical", false));
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->incident_id, id);
  auto created = engine->Create({"Checkout slow", "checkout", Severity::kSev3, ""}, "bob");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->id, id + 1);
}

TEST(PlaybookTest, ShippedFileEqualsTheBuiltInAndMatchesByTrigger) {
  std::ifstream in(std::string(FRAUDGUARD_SOURCE_DIR) + "/config/playbooks.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), DefaultPlaybooksYaml());
  const PlaybookSet set = DefaultPlaybooks();
  ASSERT_EQ(set.playbooks.size(), 1u);
  const Playbook& outage = set.playbooks[0];
  EXPECT_EQ(outage.severity, Severity::kSev1);
  EXPECT_EQ(outage.investigation_steps.size(), 5u);
  EXPECT_EQ(outage.recovery_procedures.size(), 4u);
  EXPECT_NE(set.Match("FraudAPIHighErrorRate", {}), nullptr);
  EXPECT_EQ(set.Match("MLModelAccuracyDrop", {}), nullptr);
}

TEST(PostmortemTest, DraftHoldsTheFiguresTimelineAndPlaybook) {
  EXPECT_EQ(FormatDuration(5 * kMinute), "5 min");
  EXPECT_EQ(FormatDuration(188'643), "3 min 8 s");
  EXPECT_EQ(FormatDuration(2 * 60 * kMinute), "2 h");
  EXPECT_EQ(FormatDuration(125 * kMinute), "2 h 5 min");
  EXPECT_EQ(FormatUtc(kStart), "2027-01-15 08:00:00 UTC");
  Incident incident;
  incident.id = 3;
  incident.title = "Errors | on the API";
  incident.severity = Severity::kSev1;
  incident.state = IncidentState::kResolved;
  incident.opened_ms = kStart;
  incident.ack_deadline_ms = kStart + 5 * kMinute;
  incident.acknowledged_ms = kStart + 7 * kMinute;
  incident.acknowledged_by = "alice";
  incident.resolved_ms = kStart + 40 * kMinute;
  incident.timeline.push_back({kStart + 7 * kMinute, "alice", "note", "two\nlines"});
  const PlaybookSet playbooks = DefaultPlaybooks();
  const std::string markdown =
      PostmortemMarkdown(incident, &playbooks.playbooks[0], kStart + 41 * kMinute);
  EXPECT_NE(markdown.find("# Postmortem: incident 3, Errors / on the API"), std::string::npos);
  EXPECT_NE(markdown.find("| Severity | SEV1 (respond within 5 min) |"), std::string::npos);
  EXPECT_NE(markdown.find("by alice, after 7 min (response target missed)"), std::string::npos);
  EXPECT_NE(markdown.find("| Resolved | 2027-01-15 08:40:00 UTC, after 40 min |"),
            std::string::npos);
  EXPECT_NE(markdown.find("- 08:07:00 alice (note): two lines"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("- [ ] Verify database connectivity"), std::string::npos);
  EXPECT_NE(markdown.find("No alert; the incident was opened by hand."), std::string::npos);
}

TEST(PlaybookTest, ErrorsNameTheKey) {
  const auto error = [](const std::string& yaml) {
    auto parsed = ParsePlaybooks(yaml, "p.yaml");
    return parsed ? std::string("parsed") : parsed.error();
  };
  EXPECT_NE(error("nothing: here").find("key 'playbooks'"), std::string::npos);
  EXPECT_NE(error("playbooks: [{name: a}]").find("playbooks[0].triggers"), std::string::npos);
  EXPECT_NE(error("playbooks: [{name: a, triggers: [{alertname: X}], severity: SEV9}]")
                .find("playbooks[0].severity"),
            std::string::npos);
  EXPECT_NE(error("playbooks: [{name: a, triggers: [{alertname: X}], colour: red}]")
                .find("playbooks[0].colour': unknown key"),
            std::string::npos);
  EXPECT_NE(error("playbooks: [{name: a, triggers: [x]}]").find("playbooks[0].triggers[0]"),
            std::string::npos);
  EXPECT_NE(error("playbooks: [{name: a, triggers: [{a: b}]}, {name: a, triggers: [{a: b}]}]")
                .find("defined twice"),
            std::string::npos);
  EXPECT_NE(error("playbooks: [").find("not valid YAML"), std::string::npos);
  EXPECT_EQ(error("playbooks: [{name: a, triggers: [{service: db}]}]"), "parsed");
}

}  // namespace
}  // namespace fraudguard
