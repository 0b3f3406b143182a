#include "incidents/incident_engine.h"

#include <algorithm>
#include <cstdio>

#include "core/log.h"

namespace fraudguard {
namespace {

constexpr const char* kEngineActor = "engine";

std::string Bounded(const std::string& text, size_t limit) {
  return text.size() <= limit ? text : text.substr(0, limit);
}

std::string LabelOr(const std::map<std::string, std::string>& labels,
                    const std::string& key,
                    const std::string& fallback) {
  auto found = labels.find(key);
  return found != labels.end() && !found->second.empty() ? found->second : fallback;
}

std::vector<double> ResponseBucketsSeconds() {
  return {30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 72 * 3600};
}

}  // namespace

std::string AlertFingerprint(const std::string& name,
                             const std::map<std::string, std::string>& labels) {
  uint64_t hash = 14695981039346656037ULL;
  const auto mix = [&hash](std::string_view text) {
    for (unsigned char c : text) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
    hash ^= 0xff;  // a separator no label text holds, so "ab","c" differs from "a","bc"
    hash *= 1099511628211ULL;
  };
  mix(name);
  for (const auto& [key, value] : labels) {  // std::map: sorted by key
    mix(key);
    mix(value);
  }
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

void AddTimeline(Incident& incident,
                 int64_t at_ms,
                 const std::string& actor,
                 const std::string& kind,
                 const std::string& text) {
  if (incident.timeline.size() >= kMaxTimelineEntries) {
    return;
  }
  if (incident.timeline.size() + 1 == kMaxTimelineEntries) {
    incident.timeline.push_back(
        {at_ms, kEngineActor, "truncated", "the timeline is full; later entries are not kept"});
    return;
  }
  incident.timeline.push_back({at_ms, actor, kind, text});
}

Result<std::unique_ptr<IncidentEngine>> IncidentEngine::Open(IncidentEngineOptions options,
                                                             PlaybookSet playbooks,
                                                             const Clock& clock) {
  if (options.store_path.empty() || options.group_window_ms <= 0) {
    return Error{"incident engine: store path and a positive group window must be set"};
  }
  auto store = IncidentStore::Open(options.store_path);
  if (!store) {
    return Error{store.error()};
  }
  auto loaded = (*store)->LoadAll();
  if (!loaded) {
    return Error{loaded.error()};
  }
  std::unique_ptr<IncidentEngine> engine(
      new IncidentEngine(std::move(options), std::move(playbooks), clock));
  engine->store_ = std::move(store).value();
  size_t open = 0;
  for (Incident& incident : *loaded) {
    engine->next_id_ = std::max(engine->next_id_, incident.id + 1);
    open += incident.open() ? 1 : 0;
    engine->incidents_.emplace(incident.id, std::move(incident));
  }
  LogInfo("incidents_loaded")
      .Field("path", engine->options_.store_path)
      .Field("incidents", static_cast<uint64_t>(engine->incidents_.size()))
      .Field("open", static_cast<uint64_t>(open))
      .Field("playbooks", static_cast<uint64_t>(engine->playbooks_.playbooks.size()));
  return engine;
}

Incident* IncidentEngine::FindOpenWithAlert(const std::string& fingerprint) {
  for (auto& [id, incident] : incidents_) {
    if (incident.open() && incident.FindAlert(fingerprint) != nullptr) {
      return &incident;
    }
  }
  return nullptr;
}

Incident* IncidentEngine::FindOpenGroup(const std::string& group_key, int64_t now_ms) {
  Incident* newest = nullptr;
  for (auto& [id, incident] : incidents_) {
    if (incident.open() && incident.group_key == group_key &&
        now_ms - incident.last_alert_ms <= options_.group_window_ms) {
      newest = &incident;
    }
  }
  return newest;
}

void IncidentEngine::UpdateSeverity(Incident& incident, int64_t now_ms, const std::string& actor) {
  const Severity demanded =
      SeverityFromScore(incident.Score(), incident.FiringCount(), incident.HasCriticalFiring());
  if (!MoreSevere(demanded, incident.severity)) {
    return;
  }
  AddTimeline(incident, now_ms, actor, "severity",
              std::string(SeverityName(incident.severity)) + " -> " +
                  std::string(SeverityName(demanded)) + " (score " +
                  std::to_string(incident.Score()) + " from " +
                  std::to_string(incident.FiringCount()) + " firing alerts)");
  incident.severity = demanded;
  // A more severe incident is due sooner; a deadline already set is never pushed back.
  incident.ack_deadline_ms =
      std::min(incident.ack_deadline_ms, now_ms + ResponseTargetMillis(demanded));
}

Status IncidentEngine::Commit(Incident changed) {
  if (auto status = store_->Save(changed); !status) {
    if (store_errors_ != nullptr) {
      store_errors_->Increment();
    }
    if (!store_failing_) {
      LogError("incident_store_write_failed").Field("error", status.error());
      store_failing_ = true;
    }
    return status;
  }
  if (store_failing_) {
    LogInfo("incident_store_write_recovered").Field("path", options_.store_path);
    store_failing_ = false;
  }
  const int64_t id = changed.id;
  incidents_[id] = std::move(changed);
  return OkStatus();
}

Result<IngestOutcome> IncidentEngine::Ingest(const AlertEvent& event) {
  const int64_t now_ms = clock_.NowMillis();
  const std::string fingerprint =
      event.fingerprint.empty() ? AlertFingerprint(event.name, event.labels) : event.fingerprint;
  const std::string service = Bounded(LabelOr(event.labels, "service", "unknown"), 128);
  const std::string group_key =
      event.group_key.empty() ? "service:" + service : Bounded(event.group_key, kMaxLabelBytes);

  std::lock_guard lock(mutex_);
  Incident* existing = FindOpenWithAlert(fingerprint);
  if (existing == nullptr && event.firing) {
    existing = FindOpenGroup(group_key, now_ms);
  }
  if (existing == nullptr && !event.firing) {
    return IngestOutcome{};  // nothing open knows this alert
  }

  IngestOutcome outcome;
  Incident incident;
  if (existing != nullptr) {
    incident = *existing;
  } else {
    incident.id = next_id_;
    incident.group_key = group_key;
    incident.service = service;
    incident.title = Bounded(LabelOr(event.annotations, "summary", event.name + " on " + service),
                             kMaxTitleBytes);
    incident.severity = Severity::kSev4;
    incident.state = IncidentState::kInvestigating;
    incident.opened_ms = now_ms;
    incident.ack_deadline_ms = now_ms + ResponseTargetMillis(Severity::kSev4);
    AddTimeline(incident, now_ms, event.actor, "opened", "opened by alert " + event.name);
    outcome.opened = true;
  }
  outcome.incident_id = incident.id;
  incident.updated_ms = now_ms;
  incident.last_alert_ms = now_ms;

  IncidentAlert* alert = incident.FindAlert(fingerprint);
  if (alert == nullptr) {
    if (incident.alerts.size() >= kMaxAlertsPerIncident) {
      if (dropped_alerts_ != nullptr) {
        dropped_alerts_->Increment();
      }
      LogWarn("incident_alert_dropped")
          .Field("incident", incident.id)
          .Field("alert", event.name)
          .Field("reason", "the incident holds the most alerts it may");
      return IngestOutcome{};
    }
    IncidentAlert added;
    added.fingerprint = fingerprint;
    added.name = Bounded(event.name, kMaxLabelBytes);
    added.severity = ParseAlertSeverity(LabelOr(event.labels, "severity", "low"));
    added.source = event.source;
    added.labels = event.labels;
    added.annotations = event.annotations;
    added.firing = event.firing;
    added.starts_ms = event.starts_ms > 0 ? event.starts_ms : now_ms;
    added.fired_count = 1;
    incident.alerts.push_back(std::move(added));
    AddTimeline(incident, now_ms, event.actor, "alert_firing",
                event.name + " (" +
                    std::string(AlertSeverityName(incident.alerts.back().severity)) +
                    ") firing: " + LabelOr(event.annotations, "description", "no description"));
  } else {
    // A resolved event's annotations describe the recovery; the firing ones say what happened.
    if (event.firing) {
      alert->annotations = event.annotations;
    }
    if (event.firing && !alert->firing) {
      alert->firing = true;
      alert->ends_ms = 0;
      alert->starts_ms = event.starts_ms > 0 ? event.starts_ms : now_ms;
      ++alert->fired_count;
      AddTimeline(incident, now_ms, event.actor, "alert_firing",
                  event.name + " fired again (time " + std::to_string(alert->fired_count) +
                      "): " + LabelOr(event.annotations, "description", "no description"));
    } else if (!event.firing && alert->firing) {
      alert->firing = false;
      alert->ends_ms = event.ends_ms > 0 ? event.ends_ms : now_ms;
      AddTimeline(incident, now_ms, event.actor, "alert_resolved", event.name + " resolved");
    } else if (existing != nullptr) {
      // The same state again (Alertmanager repeats a group): nothing to record.
      return IngestOutcome{incident.id, false};
    }
  }

  if (incident.playbook.empty() && event.firing) {
    if (const Playbook* playbook = playbooks_.Match(event.name, event.labels)) {
      incident.playbook = playbook->name;
      AddTimeline(incident, now_ms, kEngineActor, "playbook",
                  "playbook " + playbook->name + " attached (matched " + event.name + ")");
    }
  }
  const Severity severity_before = existing != nullptr ? existing->severity : incident.severity;
  UpdateSeverity(incident, now_ms, kEngineActor);

  const int firing = incident.FiringCount();
  if (firing == 0 && (incident.state == IncidentState::kInvestigating ||
                      incident.state == IncidentState::kIdentified)) {
    AddTimeline(incident, now_ms, kEngineActor, "state",
                std::string(IncidentStateName(incident.state)) +
                    " -> MONITORING (every alert has resolved)");
    incident.state = IncidentState::kMonitoring;
  } else if (event.firing && incident.state == IncidentState::kMonitoring) {
    AddTimeline(incident, now_ms, kEngineActor, "state",
                "MONITORING -> INVESTIGATING (" + event.name + " fired again)");
    incident.state = IncidentState::kInvestigating;
  }

  const Severity severity = incident.severity;
  const IncidentState state = incident.state;
  const Incident saved = listener_ ? incident : Incident{};
  if (auto status = Commit(std::move(incident)); !status) {
    return Error{status.error()};
  }
  if (listener_ && (outcome.opened || severity != severity_before)) {
    listener_(outcome.opened ? "opened" : "severity", saved);
  }
  if (outcome.opened) {
    ++next_id_;
    LogInfo("incident_opened")
        .Field("id", outcome.incident_id)
        .Field("severity", SeverityName(severity))
        .Field("alert", event.name)
        .Field("service", service);
  } else {
    LogInfo("incident_alert")
        .Field("id", outcome.incident_id)
        .Field("alert", event.name)
        .Field("status", event.firing ? "firing" : "resolved")
        .Field("severity", SeverityName(severity))
        .Field("state", IncidentStateName(state));
  }
  return outcome;
}

Result<Incident> IncidentEngine::Create(const ManualIncident& request, const std::string& actor) {
  const int64_t now_ms = clock_.NowMillis();
  std::lock_guard lock(mutex_);
  Incident incident;
  incident.id = next_id_;
  incident.group_key = "manual:" + std::to_string(incident.id);
  incident.service = Bounded(request.service, 128);
  incident.title = Bounded(request.title, kMaxTitleBytes);
  incident.severity = request.severity;
  incident.opened_ms = now_ms;
  incident.updated_ms = now_ms;
  incident.last_alert_ms = now_ms;
  incident.ack_deadline_ms = now_ms + ResponseTargetMillis(request.severity);
  AddTimeline(incident, now_ms, actor, "opened",
              "opened by hand as " + std::string(SeverityName(request.severity)));
  if (!request.note.empty()) {
    AddTimeline(incident, now_ms, actor, "note", Bounded(request.note, kMaxNoteBytes));
  }
  Incident copy = incident;
  if (auto status = Commit(std::move(incident)); !status) {
    return Error{status.error()};
  }
  ++next_id_;
  if (listener_) {
    listener_("opened", copy);
  }
  LogInfo("incident_opened")
      .Field("id", copy.id)
      .Field("severity", SeverityName(copy.severity))
      .Field("actor", actor)
      .Field("service", copy.service);
  return copy;
}

Result<Incident> IncidentEngine::Mutate(
    int64_t id,
    EngineFailure& failure,
    const std::function<bool(Incident&, std::string&)>& change) {
  failure = EngineFailure::kNone;
  std::lock_guard lock(mutex_);
  auto found = incidents_.find(id);
  if (found == incidents_.end()) {
    failure = EngineFailure::kNotFound;
    return Error{"no incident " + std::to_string(id)};
  }
  Incident incident = found->second;
  std::string problem;
  if (!change(incident, problem)) {
    failure = EngineFailure::kConflict;
    return Error{problem};
  }
  incident.updated_ms = clock_.NowMillis();
  const bool resolved =
      incident.state == IncidentState::kResolved && found->second.state != IncidentState::kResolved;
  Incident copy = incident;
  if (auto status = Commit(std::move(incident)); !status) {
    failure = EngineFailure::kUnavailable;
    return Error{status.error()};
  }
  if (resolved && listener_) {
    listener_("resolved", copy);
  }
  return copy;
}

Result<Incident> IncidentEngine::Acknowledge(int64_t id,
                                             const std::string& actor,
                                             EngineFailure& failure) {
  const int64_t now_ms = clock_.NowMillis();
  auto result = Mutate(id, failure, [&](Incident& incident, std::string& problem) {
    if (incident.acknowledged_ms != 0) {
      problem = "incident " + std::to_string(id) + " was acknowledged by " +
                incident.acknowledged_by + " already";
      return false;
    }
    incident.acknowledged_ms = now_ms;
    incident.acknowledged_by = Bounded(actor, kMaxActorBytes);
    if (std::find(incident.responders.begin(), incident.responders.end(), actor) ==
            incident.responders.end() &&
        incident.responders.size() < kMaxResponders) {
      incident.responders.push_back(incident.acknowledged_by);
    }
    AddTimeline(incident, now_ms, actor, "acknowledged",
                "acknowledged after " + std::to_string((now_ms - incident.opened_ms) / 1000) +
                    " s" + (incident.AckMissed(now_ms) ? " (response target missed)" : ""));
    return true;
  });
  if (result) {
    if (time_to_acknowledge_ != nullptr) {
      time_to_acknowledge_->Observe(static_cast<double>(now_ms - result->opened_ms) / 1000.0);
    }
    LogInfo("incident_acknowledged")
        .Field("id", id)
        .Field("actor", actor)
        .Field("ack_missed", result->AckMissed(now_ms));
  }
  return result;
}

Result<Incident> IncidentEngine::ChangeState(int64_t id,
                                             IncidentState to,
                                             const std::string& actor,
                                             const std::string& note,
                                             EngineFailure& failure) {
  const int64_t now_ms = clock_.NowMillis();
  IncidentState from = IncidentState::kInvestigating;
  auto result = Mutate(id, failure, [&](Incident& incident, std::string& problem) {
    from = incident.state;
    if (!TransitionAllowed(incident.state, to)) {
      problem = "incident " + std::to_string(id) + " cannot go from " +
                std::string(IncidentStateName(incident.state)) + " to " +
                std::string(IncidentStateName(to));
      return false;
    }
    AddTimeline(incident, now_ms, actor, "state",
                std::string(IncidentStateName(incident.state)) + " -> " +
                    std::string(IncidentStateName(to)) +
                    (note.empty() ? "" : ": " + Bounded(note, kMaxNoteBytes)));
    incident.state = to;
    incident.resolved_ms = to == IncidentState::kResolved ? now_ms : 0;
    return true;
  });
  if (result) {
    if (to == IncidentState::kResolved && time_to_resolve_ != nullptr) {
      time_to_resolve_->Observe(static_cast<double>(now_ms - result->opened_ms) / 1000.0);
    }
    LogInfo("incident_state")
        .Field("id", id)
        .Field("from", IncidentStateName(from))
        .Field("to", IncidentStateName(to))
        .Field("actor", actor);
  }
  return result;
}

Result<Incident> IncidentEngine::AddNote(int64_t id,
                                         const std::string& actor,
                                         const std::string& text,
                                         EngineFailure& failure) {
  const int64_t now_ms = clock_.NowMillis();
  return Mutate(id, failure, [&](Incident& incident, std::string& problem) {
    if (incident.timeline.size() + 1 >= kMaxTimelineEntries) {
      problem = "incident " + std::to_string(id) + " has a full timeline";
      return false;
    }
    AddTimeline(incident, now_ms, actor, "note", Bounded(text, kMaxNoteBytes));
    if (std::find(incident.responders.begin(), incident.responders.end(), actor) ==
            incident.responders.end() &&
        incident.responders.size() < kMaxResponders) {
      incident.responders.push_back(Bounded(actor, kMaxActorBytes));
    }
    return true;
  });
}

std::optional<Incident> IncidentEngine::Get(int64_t id) const {
  std::lock_guard lock(mutex_);
  auto found = incidents_.find(id);
  if (found == incidents_.end()) {
    return std::nullopt;
  }
  return found->second;
}

void IncidentEngine::SetListener(Listener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

bool IncidentEngine::AlertFiring(const std::string& fingerprint) const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, incident] : incidents_) {
    if (!incident.open()) {
      continue;
    }
    for (const IncidentAlert& alert : incident.alerts) {
      if (alert.fingerprint == fingerprint && alert.firing) {
        return true;
      }
    }
  }
  return false;
}

std::vector<Incident> IncidentEngine::List(bool open_only, size_t limit) const {
  std::lock_guard lock(mutex_);
  std::vector<Incident> out;
  for (auto it = incidents_.rbegin(); it != incidents_.rend() && out.size() < limit; ++it) {
    if (!open_only || it->second.open()) {
      out.push_back(it->second);
    }
  }
  return out;
}

void IncidentEngine::RegisterMetrics(MetricsRegistry& metrics) {
  auto& open =
      metrics.AddGauge("fraudguard_incidents_open", "Open incidents by severity.", {"severity"});
  auto& missed =
      metrics
          .AddGauge("fraudguard_incidents_ack_missed",
                    "Open incidents not acknowledged within their severity's response target.")
          .WithLabels({});
  time_to_acknowledge_ = &metrics
                              .AddHistogram("fraudguard_incident_time_to_acknowledge_seconds",
                                            "Time from an incident opening to its acknowledgement.",
                                            ResponseBucketsSeconds())
                              .WithLabels({});
  time_to_resolve_ = &metrics
                          .AddHistogram("fraudguard_incident_time_to_resolve_seconds",
                                        "Time from an incident opening to its resolution.",
                                        ResponseBucketsSeconds())
                          .WithLabels({});
  store_errors_ = &metrics
                       .AddCounter("fraudguard_incident_store_errors_total",
                                   "Incident changes refused because the store write failed.")
                       .WithLabels({});
  dropped_alerts_ = &metrics
                         .AddCounter("fraudguard_incident_alerts_dropped_total",
                                     "Alerts not added to an incident that held the most it may.")
                         .WithLabels({});
  metrics.AddCollector([this, &open, &missed] {
    const int64_t now_ms = clock_.NowMillis();
    std::map<Severity, int> counts = {
        {Severity::kSev1, 0}, {Severity::kSev2, 0}, {Severity::kSev3, 0}, {Severity::kSev4, 0}};
    int missed_count = 0;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [id, incident] : incidents_) {
        if (incident.open()) {
          ++counts[incident.severity];
          missed_count += incident.acknowledged_ms == 0 && incident.AckMissed(now_ms) ? 1 : 0;
        }
      }
    }
    for (const auto& [severity, count] : counts) {
      open.WithLabels({SeverityName(severity)}).Set(count);
    }
    missed.Set(missed_count);
  });
}

}  // namespace fraudguard
