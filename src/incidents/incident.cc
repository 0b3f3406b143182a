#include "incidents/incident.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>

#include "core/json_writer.h"

namespace fraudguard {
namespace {

constexpr int64_t kMinuteMs = 60'000;

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void AppendStringMap(JsonWriter& json, const std::map<std::string, std::string>& values) {
  json.BeginObject();
  for (const auto& [key, value] : values) {
    json.Field(key, value);
  }
  json.EndObject();
}

bool ReadStringMap(simdjson::dom::element element, std::map<std::string, std::string>& out) {
  simdjson::dom::object object;
  if (element.get_object().get(object)) {
    return false;
  }
  for (auto field : object) {
    std::string_view value;
    if (field.value.get_string().get(value)) {
      return false;
    }
    out[std::string(field.key)] = std::string(value);
  }
  return true;
}

}  // namespace

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kSev1:
      return "SEV1";
    case Severity::kSev2:
      return "SEV2";
    case Severity::kSev3:
      return "SEV3";
    case Severity::kSev4:
      return "SEV4";
  }
  return "SEV4";
}

bool ParseSeverity(std::string_view text, Severity& severity) {
  const std::string lower = Lower(text);
  for (Severity candidate : {Severity::kSev1, Severity::kSev2, Severity::kSev3, Severity::kSev4}) {
    if (lower == Lower(SeverityName(candidate))) {
      severity = candidate;
      return true;
    }
  }
  return false;
}

int64_t ResponseTargetMillis(Severity severity) {
  switch (severity) {
    case Severity::kSev1:
      return 5 * kMinuteMs;
    case Severity::kSev2:
      return 15 * kMinuteMs;
    case Severity::kSev3:
      return 60 * kMinuteMs;
    case Severity::kSev4:
      return 240 * kMinuteMs;
  }
  return 240 * kMinuteMs;
}

std::string_view AlertSeverityName(AlertSeverity severity) {
  switch (severity) {
    case AlertSeverity::kCritical:
      return "critical";
    case AlertSeverity::kHigh:
      return "high";
    case AlertSeverity::kMedium:
      return "medium";
    case AlertSeverity::kLow:
      return "low";
  }
  return "low";
}

AlertSeverity ParseAlertSeverity(std::string_view text) {
  const std::string lower = Lower(text);
  if (lower == "critical" || lower == "page") {
    return AlertSeverity::kCritical;
  }
  if (lower == "high" || lower == "error") {
    return AlertSeverity::kHigh;
  }
  if (lower == "medium" || lower == "warning") {
    return AlertSeverity::kMedium;
  }
  return AlertSeverity::kLow;
}

int AlertWeight(AlertSeverity severity) {
  switch (severity) {
    case AlertSeverity::kCritical:
      return 5;
    case AlertSeverity::kHigh:
      return 3;
    case AlertSeverity::kMedium:
      return 2;
    case AlertSeverity::kLow:
      return 1;
  }
  return 1;
}

Severity SeverityFromScore(int score, int firing_alerts, bool has_critical) {
  Severity severity = Severity::kSev4;
  if (score >= 10 && firing_alerts >= 1) {
    severity = Severity::kSev1;
  } else if (score >= 7 && firing_alerts >= 2) {
    severity = Severity::kSev2;
  } else if (score >= 5 && firing_alerts >= 3) {
    severity = Severity::kSev3;
  }
  if (has_critical && MoreSevere(Severity::kSev2, severity)) {
    severity = Severity::kSev2;
  }
  return severity;
}

std::string_view IncidentStateName(IncidentState state) {
  switch (state) {
    case IncidentState::kInvestigating:
      return "INVESTIGATING";
    case IncidentState::kIdentified:
      return "IDENTIFIED";
    case IncidentState::kMonitoring:
      return "MONITORING";
    case IncidentState::kResolved:
      return "RESOLVED";
  }
  return "INVESTIGATING";
}

bool ParseIncidentState(std::string_view text, IncidentState& state) {
  const std::string lower = Lower(text);
  for (IncidentState candidate : {IncidentState::kInvestigating, IncidentState::kIdentified,
                                  IncidentState::kMonitoring, IncidentState::kResolved}) {
    if (lower == Lower(IncidentStateName(candidate))) {
      state = candidate;
      return true;
    }
  }
  return false;
}

bool TransitionAllowed(IncidentState from, IncidentState to) {
  if (from == to) {
    return false;
  }
  if (from == IncidentState::kResolved) {
    return to == IncidentState::kInvestigating;
  }
  return true;
}

int Incident::FiringCount() const {
  return static_cast<int>(
      std::count_if(alerts.begin(), alerts.end(), [](const IncidentAlert& a) { return a.firing; }));
}

int Incident::Score() const {
  int score = 0;
  for (const IncidentAlert& alert : alerts) {
    if (alert.firing) {
      score += AlertWeight(alert.severity);
    }
  }
  return score;
}

bool Incident::HasCriticalFiring() const {
  return std::any_of(alerts.begin(), alerts.end(), [](const IncidentAlert& a) {
    return a.firing && a.severity == AlertSeverity::kCritical;
  });
}

IncidentAlert* Incident::FindAlert(std::string_view fingerprint) {
  for (IncidentAlert& alert : alerts) {
    if (alert.fingerprint == fingerprint) {
      return &alert;
    }
  }
  return nullptr;
}

bool Incident::AckMissed(int64_t now_ms) const {
  if (acknowledged_ms > 0) {
    return acknowledged_ms > ack_deadline_ms;
  }
  const int64_t until = resolved_ms > 0 ? resolved_ms : now_ms;
  return until > ack_deadline_ms;
}

std::optional<int64_t> Incident::TimeToAcknowledgeMs() const {
  if (acknowledged_ms == 0) {
    return std::nullopt;
  }
  return acknowledged_ms - opened_ms;
}

std::optional<int64_t> Incident::TimeToResolveMs() const {
  if (resolved_ms == 0) {
    return std::nullopt;
  }
  return resolved_ms - opened_ms;
}

void AppendIncidentJson(const Incident& incident, int64_t now_ms, std::string& out) {
  JsonWriter json(out);
  json.BeginObject()
      .Field("id", incident.id)
      .Field("group_key", incident.group_key)
      .Field("service", incident.service)
      .Field("title", incident.title)
      .Field("severity", SeverityName(incident.severity))
      .Field("state", IncidentStateName(incident.state))
      .Field("opened_ms", incident.opened_ms)
      .Field("updated_ms", incident.updated_ms)
      .Field("last_alert_ms", incident.last_alert_ms)
      .Field("response_target_seconds", ResponseTargetMillis(incident.severity) / 1000)
      .Field("ack_deadline_ms", incident.ack_deadline_ms)
      .Field("acknowledged_ms", incident.acknowledged_ms)
      .Field("acknowledged_by", incident.acknowledged_by)
      .Field("ack_missed", incident.AckMissed(now_ms))
      .Key("time_to_acknowledge_seconds");
  if (auto tta = incident.TimeToAcknowledgeMs()) {
    json.Number(static_cast<double>(*tta) / 1000.0);
  } else {
    json.Null();
  }
  json.Field("resolved_ms", incident.resolved_ms).Key("time_to_resolve_seconds");
  if (auto ttr = incident.TimeToResolveMs()) {
    json.Number(static_cast<double>(*ttr) / 1000.0);
  } else {
    json.Null();
  }
  json.Field("score", incident.Score())
      .Field("firing_alerts", incident.FiringCount())
      .Field("playbook", incident.playbook)
      .Key("responders")
      .BeginArray();
  for (const std::string& responder : incident.responders) {
    json.String(responder);
  }
  json.EndArray().Key("alerts").BeginArray();
  for (const IncidentAlert& alert : incident.alerts) {
    json.BeginObject()
        .Field("fingerprint", alert.fingerprint)
        .Field("name", alert.name)
        .Field("severity", AlertSeverityName(alert.severity))
        .Field("source", alert.source)
        .Field("status", alert.firing ? "firing" : "resolved")
        .Field("starts_ms", alert.starts_ms)
        .Field("ends_ms", alert.ends_ms)
        .Field("fired_count", alert.fired_count)
        .Key("labels");
    AppendStringMap(json, alert.labels);
    json.Key("annotations");
    AppendStringMap(json, alert.annotations);
    json.EndObject();
  }
  json.EndArray().Key("timeline").BeginArray();
  for (const TimelineEntry& entry : incident.timeline) {
    json.BeginObject()
        .Field("at_ms", entry.at_ms)
        .Field("actor", entry.actor)
        .Field("kind", entry.kind)
        .Field("text", entry.text)
        .EndObject();
  }
  json.EndArray().EndObject();
}

Result<Incident> ParseIncidentJson(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(text.data(), text.size()).get(root); error) {
    return Error{std::string("incident is not JSON: ") + simdjson::error_message(error)};
  }
  Incident incident;
  std::string_view value;
  std::string missing;
  const auto text_field = [&](simdjson::dom::element object, const char* key, std::string& out) {
    if (object[key].get_string().get(value)) {
      missing = key;
      return false;
    }
    out = std::string(value);
    return true;
  };
  const auto int_field = [&](simdjson::dom::element object, const char* key, int64_t& out) {
    if (object[key].get_int64().get(out)) {
      missing = key;
      return false;
    }
    return true;
  };
  std::string severity;
  std::string state;
  bool ok = int_field(root, "id", incident.id) &&
            text_field(root, "group_key", incident.group_key) &&
            text_field(root, "service", incident.service) &&
            text_field(root, "title", incident.title) && text_field(root, "severity", severity) &&
            text_field(root, "state", state) && int_field(root, "opened_ms", incident.opened_ms) &&
            int_field(root, "updated_ms", incident.updated_ms) &&
            int_field(root, "last_alert_ms", incident.last_alert_ms) &&
            int_field(root, "ack_deadline_ms", incident.ack_deadline_ms) &&
            int_field(root, "acknowledged_ms", incident.acknowledged_ms) &&
            text_field(root, "acknowledged_by", incident.acknowledged_by) &&
            int_field(root, "resolved_ms", incident.resolved_ms) &&
            text_field(root, "playbook", incident.playbook);
  if (!ok) {
    return Error{"incident field '" + missing + "' is missing or has a wrong type"};
  }
  if (!ParseSeverity(severity, incident.severity) || !ParseIncidentState(state, incident.state)) {
    return Error{"incident severity or state is unknown"};
  }
  simdjson::dom::array responders;
  simdjson::dom::array alerts;
  simdjson::dom::array timeline;
  if (root["responders"].get_array().get(responders) || root["alerts"].get_array().get(alerts) ||
      root["timeline"].get_array().get(timeline)) {
    return Error{"incident responders, alerts or timeline is not an array"};
  }
  for (simdjson::dom::element responder : responders) {
    if (responder.get_string().get(value)) {
      return Error{"incident responder is not a string"};
    }
    incident.responders.emplace_back(value);
  }
  for (simdjson::dom::element item : alerts) {
    IncidentAlert alert;
    std::string alert_severity;
    std::string status;
    simdjson::dom::element labels;
    simdjson::dom::element annotations;
    ok = text_field(item, "fingerprint", alert.fingerprint) &&
         text_field(item, "name", alert.name) && text_field(item, "severity", alert_severity) &&
         text_field(item, "source", alert.source) && text_field(item, "status", status) &&
         int_field(item, "starts_ms", alert.starts_ms) &&
         int_field(item, "ends_ms", alert.ends_ms) &&
         int_field(item, "fired_count", alert.fired_count) && !item["labels"].get(labels) &&
         !item["annotations"].get(annotations) && ReadStringMap(labels, alert.labels) &&
         ReadStringMap(annotations, alert.annotations);
    if (!ok) {
      return Error{"incident alert is malformed"};
    }
    alert.severity = ParseAlertSeverity(alert_severity);
    alert.firing = status == "firing";
    incident.alerts.push_back(std::move(alert));
  }
  for (simdjson::dom::element item : timeline) {
    TimelineEntry entry;
    if (!(int_field(item, "at_ms", entry.at_ms) && text_field(item, "actor", entry.actor) &&
          text_field(item, "kind", entry.kind) && text_field(item, "text", entry.text))) {
      return Error{"incident timeline entry is malformed"};
    }
    incident.timeline.push_back(std::move(entry));
  }
  return incident;
}

}  // namespace fraudguard
