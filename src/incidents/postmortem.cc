#include "incidents/postmortem.h"

#include <simdjson.h>

#include <cstdio>
#include <ctime>

namespace fraudguard {
namespace {

// Markdown table cells and list items hold one line; pipes would split a cell.
std::string OneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c == '\n' || c == '\r' ? ' ' : c == '|' ? '/' : c;
  }
  return out;
}

void AppendSteps(std::string& out, const char* heading, const std::vector<std::string>& steps) {
  if (steps.empty()) {
    return;
  }
  out += std::string("\n**") + heading + "**\n\n";
  for (const std::string& step : steps) {
    out += "- [ ] " + OneLine(step) + "\n";
  }
}

}  // namespace

std::string FormatUtc(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

std::string FormatDuration(int64_t ms) {
  const int64_t seconds = ms / 1000;
  char text[48];
  if (seconds < 60) {
    std::snprintf(text, sizeof(text), "%lld s", static_cast<long long>(seconds));
  } else if (seconds < 3600) {
    std::snprintf(text, sizeof(text), seconds % 60 == 0 ? "%lld min" : "%lld min %lld s",
                  static_cast<long long>(seconds / 60), static_cast<long long>(seconds % 60));
  } else {
    std::snprintf(text, sizeof(text), seconds % 3600 / 60 == 0 ? "%lld h" : "%lld h %lld min",
                  static_cast<long long>(seconds / 3600),
                  static_cast<long long>(seconds % 3600 / 60));
  }
  return text;
}

std::string PostmortemMarkdown(const Incident& incident, const Playbook* playbook, int64_t now_ms) {
  std::string out;
  out += "# Postmortem: incident " + std::to_string(incident.id) + ", " + OneLine(incident.title) +
         "\n\n";
  out += "_Draft written by `fraudguard incidents postmortem` on " + FormatUtc(now_ms) +
         " from the incident's record. Fill in the sections marked TODO._\n\n";
  out += "## Summary\n\n| | |\n|---|---|\n";
  out += "| Severity | " + std::string(SeverityName(incident.severity)) + " (respond within " +
         FormatDuration(ResponseTargetMillis(incident.severity)) + ") |\n";
  out += "| Service | " + OneLine(incident.service) + " |\n";
  out += "| State | " + std::string(IncidentStateName(incident.state)) + " |\n";
  out += "| Opened | " + FormatUtc(incident.opened_ms) + " |\n";
  if (auto tta = incident.TimeToAcknowledgeMs()) {
    out += "| Acknowledged | " + FormatUtc(incident.acknowledged_ms) + " by " +
           OneLine(incident.acknowledged_by) + ", after " + FormatDuration(*tta) +
           (incident.AckMissed(now_ms) ? " (response target missed)" : " (within target)") + " |\n";
  } else {
    out += std::string("| Acknowledged | never") +
           (incident.AckMissed(now_ms) ? " (response target missed)" : "") + " |\n";
  }
  if (auto ttr = incident.TimeToResolveMs()) {
    out += "| Resolved | " + FormatUtc(incident.resolved_ms) + ", after " + FormatDuration(*ttr) +
           " |\n";
  } else {
    out += "| Resolved | not yet |\n";
  }
  std::string responders;
  for (const std::string& responder : incident.responders) {
    responders += (responders.empty() ? "" : ", ") + OneLine(responder);
  }
  out +=
      "| Responders | " + (responders.empty() ? std::string("none recorded") : responders) + " |\n";
  out += "| Playbook | " + (incident.playbook.empty() ? std::string("none") : incident.playbook) +
         " |\n";

  out += "\n## Alerts\n\n";
  if (incident.alerts.empty()) {
    out += "No alert; the incident was opened by hand.\n";
  } else {
    out += "| Alert | Severity | Fired | First start | Status | Description |\n";
    out += "|---|---|---|---|---|---|\n";
    for (const IncidentAlert& alert : incident.alerts) {
      auto description = alert.annotations.find("description");
      out +=
          "| " + OneLine(alert.name) + " | " + std::string(AlertSeverityName(alert.severity)) +
          " | " + std::to_string(alert.fired_count) + " | " + FormatUtc(alert.starts_ms) + " | " +
          (alert.firing ? std::string("firing") : "resolved " + FormatUtc(alert.ends_ms)) + " | " +
          (description != alert.annotations.end() ? OneLine(description->second) : "") + " |\n";
    }
  }

  out += "\n## Timeline (UTC)\n\n";
  for (const TimelineEntry& entry : incident.timeline) {
    out += "- " + FormatUtc(entry.at_ms).substr(11, 8) + " " + OneLine(entry.actor) + " (" +
           entry.kind + "): " + OneLine(entry.text) + "\n";
  }

  out += "\n## Impact\n\nTODO: who and what was affected, for how long, and how it was measured.\n";
  out += "\n## Root cause\n\nTODO: what failed and why.\n";
  out += "\n## Resolution\n\nTODO: what brought the service back.\n";
  if (playbook != nullptr) {
    out += "\n## Playbook: " + OneLine(playbook->title) + "\n\nWhich steps were taken?\n";
    AppendSteps(out, "Immediate actions", playbook->immediate_actions);
    AppendSteps(out, "Investigation steps", playbook->investigation_steps);
    AppendSteps(out, "Escalation criteria", playbook->escalation_criteria);
    AppendSteps(out, "Recovery procedures", playbook->recovery_procedures);
  }
  out += "\n## What went well\n\nTODO\n";
  out += "\n## What went badly\n\nTODO\n";
  out += "\n## Action items\n\n| Action | Owner | Due |\n|---|---|---|\n| TODO | | |\n";
  return out;
}

Result<IncidentResponse> ParseIncidentResponse(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root)) {
    return Error{"the answer is not JSON"};
  }
  simdjson::dom::element incident;
  if (root["incident"].get(incident)) {
    return Error{"the answer has no 'incident'"};
  }
  auto parsed = ParseIncidentJson(simdjson::minify(incident));
  if (!parsed) {
    return Error{parsed.error()};
  }
  IncidentResponse response;
  response.incident = std::move(parsed).value();
  simdjson::dom::object playbook;
  if (!root["playbook"].get_object().get(playbook)) {
    response.has_playbook = true;
    std::string_view text;
    if (!playbook["name"].get_string().get(text)) {
      response.playbook.name = std::string(text);
    }
    if (!playbook["title"].get_string().get(text)) {
      response.playbook.title = std::string(text);
    }
    const std::pair<const char*, std::vector<std::string>*> lists[] = {
        {"immediate_actions", &response.playbook.immediate_actions},
        {"investigation_steps", &response.playbook.investigation_steps},
        {"escalation_criteria", &response.playbook.escalation_criteria},
        {"recovery_procedures", &response.playbook.recovery_procedures}};
    for (const auto& [key, out] : lists) {
      simdjson::dom::array items;
      if (playbook[key].get_array().get(items)) {
        continue;
      }
      for (simdjson::dom::element item : items) {
        if (!item.get_string().get(text)) {
          out->emplace_back(text);
        }
      }
    }
  }
  return response;
}

}  // namespace fraudguard
