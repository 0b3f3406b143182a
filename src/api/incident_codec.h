// Bodies of the incident write routes. Strict like the other codecs: a JSON object with only the
// route's fields, each a string of bounded length, nothing repeated; the first problem is
// reported with the field's name (the error codes of transaction_codec.h).
//
//   POST /api/v1/incidents                    {"title", "service", "severity", "note"?}
//   POST /api/v1/incidents/{id}/acknowledge   empty, {} or {"note"}
//   POST /api/v1/incidents/{id}/state         {"state", "note"?}
//   POST /api/v1/incidents/{id}/notes         {"text"}
#pragma once

#include <string>
#include <string_view>

#include "api/transaction_codec.h"
#include "incidents/incident.h"
#include "incidents/incident_engine.h"

namespace fraudguard {

inline constexpr size_t kMaxIncidentBodyBytes = 16 * 1024;

bool DecodeManualIncident(std::string_view body, ManualIncident& out, RequestError& error);
bool DecodeAcknowledge(std::string_view body, std::string& note, RequestError& error);
bool DecodeStateChange(std::string_view body,
                       IncidentState& state,
                       std::string& note,
                       RequestError& error);
bool DecodeNote(std::string_view body, std::string& text, RequestError& error);

// Parses a positive incident id (the path segment); false when malformed.
bool ParseIncidentId(std::string_view text, int64_t& id);

}  // namespace fraudguard
