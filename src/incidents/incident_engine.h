// The incident engine: turns alert events (from the built-in alert evaluator or Alertmanager's
// webhook) into incidents, and applies what people do to them (acknowledge, change state, note).
//
// Grouping and dedup:
//   - An alert is identified by its fingerprint (Alertmanager's, or a hash of its name and
//     labels). While an open incident holds that fingerprint, every event of the alert goes to
//     it: a flapping alert stays one incident, counted in the alert's fired_count.
//   - A new firing alert joins the open incident with the same group key (the Alertmanager
//     groupKey, else "service:<service label>") whose last alert event is at most
//     group_window_ms old; otherwise it opens a new incident.
//   - A resolved event for an alert no open incident holds changes nothing.
// State changes by the engine: when every alert of an incident has resolved it moves to
// MONITORING; when an alert fires again it goes back to INVESTIGATING. Only people resolve.
//
// Every change is saved to the IncidentStore before the call returns; when saving fails the
// change is not applied and the call fails (callers answer 503, and Alertmanager retries).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "incidents/incident.h"
#include "incidents/incident_store.h"
#include "incidents/playbook.h"
#include "telemetry/metrics.h"

namespace fraudguard {

struct AlertEvent {
  std::string fingerprint;  // empty: computed from the name and labels
  std::string name;
  std::map<std::string, std::string> labels;  // "severity" and "service" are read from here
  std::map<std::string, std::string> annotations;
  bool firing = true;
  int64_t starts_ms = 0;  // 0: now
  int64_t ends_ms = 0;    // resolved events; 0: now
  std::string group_key;  // empty: "service:<service label>"
  std::string source = "builtin";
  std::string actor = "engine";
};

// 16 hex digits of a 64-bit FNV-1a hash over the name and the sorted labels.
std::string AlertFingerprint(const std::string& name,
                             const std::map<std::string, std::string>& labels);

struct IncidentEngineOptions {
  std::string store_path;
  int64_t group_window_ms = 30 * 60'000;
};

enum class EngineFailure { kNone, kNotFound, kConflict, kUnavailable };

struct IngestOutcome {
  int64_t incident_id = 0;  // 0 when the event changed nothing
  bool opened = false;      // a new incident was opened
};

struct ManualIncident {
  std::string title;
  std::string service;
  Severity severity = Severity::kSev3;
  std::string note;  // optional first note
};

class IncidentEngine {
public:
  // Opens the store and loads every incident it holds.
  static Result<std::unique_ptr<IncidentEngine>> Open(IncidentEngineOptions options,
                                                      PlaybookSet playbooks,
                                                      const Clock& clock);

  Result<IngestOutcome> Ingest(const AlertEvent& event);
  Result<Incident> Create(const ManualIncident& request, const std::string& actor);
  Result<Incident> Acknowledge(int64_t id, const std::string& actor, EngineFailure& failure);
  Result<Incident> ChangeState(int64_t id,
                               IncidentState to,
                               const std::string& actor,
                               const std::string& note,
                               EngineFailure& failure);
  Result<Incident> AddNote(int64_t id,
                           const std::string& actor,
                           const std::string& text,
                           EngineFailure& failure);

  std::optional<Incident> Get(int64_t id) const;
  // Whether an open incident holds the alert as firing (the evaluator, after a restart, picks up
  // where the last process left off).
  bool AlertFiring(const std::string& fingerprint) const;
  // Newest first; `open_only` leaves resolved incidents out; at most `limit`.
  std::vector<Incident> List(bool open_only, size_t limit) const;
  const PlaybookSet& playbooks() const { return playbooks_; }
  const Clock& clock() const { return clock_; }

  // Called, after the change is stored, with "opened", "severity" (it rose) or "resolved".
  using Listener = std::function<void(const std::string& event, const Incident& incident)>;
  void SetListener(Listener listener);

  // fraudguard_incidents_open{severity}, time to acknowledge and to resolve, store errors.
  void RegisterMetrics(MetricsRegistry& metrics);

private:
  IncidentEngine(IncidentEngineOptions options, PlaybookSet playbooks, const Clock& clock)
      : options_(std::move(options)), playbooks_(std::move(playbooks)), clock_(clock) {}
  Incident* FindOpenWithAlert(const std::string& fingerprint);
  Incident* FindOpenGroup(const std::string& group_key, int64_t now_ms);
  // Raises the severity to what the firing alerts demand.
  void UpdateSeverity(Incident& incident, int64_t now_ms, const std::string& actor);
  // Saves `changed` and, when that worked, puts it in place of its stored version.
  Status Commit(Incident changed);
  Result<Incident> Mutate(int64_t id,
                          EngineFailure& failure,
                          const std::function<bool(Incident&, std::string&)>& change);

  const IncidentEngineOptions options_;
  const PlaybookSet playbooks_;
  const Clock& clock_;
  std::unique_ptr<IncidentStore> store_;

  mutable std::mutex mutex_;  // guards what follows
  std::map<int64_t, Incident> incidents_;
  int64_t next_id_ = 1;
  bool store_failing_ = false;
  Listener listener_;

  Histogram* time_to_acknowledge_ = nullptr;
  Histogram* time_to_resolve_ = nullptr;
  Counter* store_errors_ = nullptr;
  Counter* dropped_alerts_ = nullptr;
};

// Appends a timeline entry unless the timeline is full (the last room says so once).
void AddTimeline(Incident& incident,
                 int64_t at_ms,
                 const std::string& actor,
                 const std::string& kind,
                 const std::string& text);

}  // namespace fraudguard
