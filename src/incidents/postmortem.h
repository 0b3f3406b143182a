// A postmortem draft in Markdown from an incident's record: the summary figures (severity,
// response target, time to acknowledge and to resolve), the alerts, the timeline in UTC, the
// playbook's steps as a checklist, and headed blanks for what only people can write.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "incidents/incident.h"
#include "incidents/playbook.h"

namespace fraudguard {

// `playbook` may be null. `now_ms` dates the draft.
std::string PostmortemMarkdown(const Incident& incident, const Playbook* playbook, int64_t now_ms);

// "2026-12-04 06:05:36 UTC"
std::string FormatUtc(int64_t ms);
// "4 min 30 s", "2 h 5 min"
std::string FormatDuration(int64_t ms);

// Reads GET /api/v1/incidents/{id}'s answer: {"incident": {...}, "playbook": {...} | null}.
struct IncidentResponse {
  Incident incident;
  bool has_playbook = false;
  Playbook playbook;
};
Result<IncidentResponse> ParseIncidentResponse(std::string_view json);

}  // namespace fraudguard
