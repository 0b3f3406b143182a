// The incident model: severities SEV1-SEV4 with their response-time targets, the weighted alert
// score that sets an incident's severity, the states an incident moves through and the timeline
// that records every change with its time and actor.
//
// Severity follows the specification's incident detection engine: each firing alert weighs
// critical 5, high 3, medium 2, low 1, and an incident is
//   SEV1 when the score is at least 10,
//   SEV2 when at least 2 alerts score at least 7,
//   SEV3 when at least 3 alerts score at least 5,
//   SEV4 otherwise,
// and never lower than SEV2 while it holds a critical alert (one critical alert scores 5, which
// the table alone would call SEV4). Severity only rises on its own; people may lower it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace fraudguard {

enum class Severity : uint8_t { kSev1 = 1, kSev2 = 2, kSev3 = 3, kSev4 = 4 };
std::string_view SeverityName(Severity severity);  // "SEV1"
bool ParseSeverity(std::string_view text, Severity& severity);
// SEV1 5 min, SEV2 15 min, SEV3 1 h, SEV4 4 h.
int64_t ResponseTargetMillis(Severity severity);
// True when `a` is more severe than `b` (SEV1 is the most severe).
inline bool MoreSevere(Severity a, Severity b) {
  return static_cast<uint8_t>(a) < static_cast<uint8_t>(b);
}

// Alert severities and their weights. Prometheus' usual "warning" and "info", and PagerDuty's
// "error", are read as medium, low and high; anything else weighs as low, as in the spec.
enum class AlertSeverity : uint8_t { kCritical, kHigh, kMedium, kLow };
std::string_view AlertSeverityName(AlertSeverity severity);
AlertSeverity ParseAlertSeverity(std::string_view text);
int AlertWeight(AlertSeverity severity);

// The severity the detection engine gives `firing_alerts` alerts weighing `score` in total.
Severity SeverityFromScore(int score, int firing_alerts, bool has_critical);

enum class IncidentState : uint8_t { kInvestigating, kIdentified, kMonitoring, kResolved };
std::string_view IncidentStateName(IncidentState state);  // "INVESTIGATING"
bool ParseIncidentState(std::string_view text, IncidentState& state);
// Any open state may move to any other state; a resolved incident may only be reopened (to
// INVESTIGATING). Staying in the same state is not a transition.
bool TransitionAllowed(IncidentState from, IncidentState to);

struct TimelineEntry {
  int64_t at_ms = 0;
  std::string actor;  // "engine", "alertmanager" or the API key's name
  std::string kind;   // opened, alert_firing, alert_resolved, severity, state, acknowledged, note,
                      // responder, playbook
  std::string text;
};

// One alert as the incident knows it. Alerts are keyed by fingerprint: the same alert firing
// again (a flapping alert) updates its entry instead of adding one.
struct IncidentAlert {
  std::string fingerprint;
  std::string name;
  AlertSeverity severity = AlertSeverity::kLow;
  std::string source;  // "builtin" or "alertmanager"
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool firing = true;
  int64_t starts_ms = 0;
  int64_t ends_ms = 0;  // 0 while firing
  int64_t fired_count = 1;
};

struct Incident {
  int64_t id = 0;
  std::string group_key;  // alerts with this key join this incident
  std::string service;
  std::string title;
  Severity severity = Severity::kSev4;
  IncidentState state = IncidentState::kInvestigating;
  int64_t opened_ms = 0;
  int64_t updated_ms = 0;
  int64_t last_alert_ms = 0;  // the last alert event; grouping windows count from it
  int64_t ack_deadline_ms = 0;
  int64_t acknowledged_ms = 0;  // 0 until acknowledged
  std::string acknowledged_by;
  int64_t resolved_ms = 0;  // 0 unless resolved
  std::string playbook;     // name of the attached playbook, empty when none matched
  std::vector<std::string> responders;
  std::vector<IncidentAlert> alerts;
  std::vector<TimelineEntry> timeline;

  bool open() const { return state != IncidentState::kResolved; }
  int FiringCount() const;
  int Score() const;  // weights of the firing alerts
  bool HasCriticalFiring() const;
  IncidentAlert* FindAlert(std::string_view fingerprint);
  // Acknowledged after the deadline, or not acknowledged and the deadline has passed.
  bool AckMissed(int64_t now_ms) const;
  std::optional<int64_t> TimeToAcknowledgeMs() const;
  std::optional<int64_t> TimeToResolveMs() const;
};

// Bounds on what an incident holds, so that a stored document stays small.
inline constexpr size_t kMaxAlertsPerIncident = 256;
inline constexpr size_t kMaxTimelineEntries = 2000;
inline constexpr size_t kMaxResponders = 64;
inline constexpr size_t kMaxNoteBytes = 4096;
inline constexpr size_t kMaxActorBytes = 128;
inline constexpr size_t kMaxTitleBytes = 256;
inline constexpr size_t kMaxLabelCount = 64;
inline constexpr size_t kMaxLabelBytes = 1024;

// The incident as JSON: the document the store keeps and the API serves. `now_ms` sets the
// ack_missed flag.
void AppendIncidentJson(const Incident& incident, int64_t now_ms, std::string& out);
// Reads back what AppendIncidentJson wrote (the store at start, and the CLI).
Result<Incident> ParseIncidentJson(std::string_view json);

}  // namespace fraudguard
