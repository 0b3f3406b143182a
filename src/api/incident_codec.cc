#include "api/incident_codec.h"

#include <simdjson.h>

#include <charconv>
#include <map>
#include <vector>

namespace fraudguard {
namespace {

struct FieldSpec {
  const char* name;
  bool required;
  size_t max_bytes;
};

bool Fail(RequestError& error, std::string code, std::string field, std::string message) {
  error.code = std::move(code);
  error.field = std::move(field);
  error.message = std::move(message);
  return false;
}

bool IsBlank(std::string_view body) {
  return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// Decodes an object of string fields. With `allow_empty`, an empty body is an empty object.
bool DecodeStringFields(std::string_view body,
                        const std::vector<FieldSpec>& fields,
                        bool allow_empty,
                        std::map<std::string, std::string>& out,
                        RequestError& error) {
  if (body.size() > kMaxIncidentBodyBytes) {
    return Fail(
        error, "body_too_large", "",
        "the request body is larger than " + std::to_string(kMaxIncidentBodyBytes) + " bytes");
  }
  if (IsBlank(body)) {
    if (allow_empty) {
      return true;
    }
    std::string names;
    for (const FieldSpec& field : fields) {
      names += (names.empty() ? "" : ", ") + std::string(field.name);
    }
    return Fail(error, "empty_body", "",
                "the request body is empty; send a JSON object with " + names);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root)) {
    return Fail(error, "malformed_json", "", "the request body is not valid JSON");
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    return Fail(error, "invalid_body", "", "the request body must be a JSON object");
  }
  for (auto item : object) {
    const std::string key(item.key);
    const FieldSpec* spec = nullptr;
    for (const FieldSpec& field : fields) {
      if (key == field.name) {
        spec = &field;
      }
    }
    if (spec == nullptr) {
      std::string names;
      for (const FieldSpec& field : fields) {
        names += (names.empty() ? "" : ", ") + std::string(field.name);
      }
      return Fail(error, "invalid_field", key.substr(0, 64),
                  "unknown field '" + key.substr(0, 64) + "'; this route takes " + names);
    }
    if (out.count(key) > 0) {
      return Fail(error, "invalid_field", key, key + " appears twice");
    }
    std::string_view text;
    if (item.value.get_string().get(text)) {
      return Fail(error, "invalid_field", key, key + " must be a string");
    }
    if (text.size() > spec->max_bytes) {
      return Fail(error, "invalid_field", key,
                  key + " is longer than " + std::to_string(spec->max_bytes) + " bytes");
    }
    out[key] = std::string(text);
  }
  for (const FieldSpec& field : fields) {
    auto found = out.find(field.name);
    if (field.required && (found == out.end() || found->second.empty())) {
      return Fail(error, "missing_field", field.name, std::string(field.name) + " is required");
    }
  }
  return true;
}

}  // namespace

bool DecodeManualIncident(std::string_view body, ManualIncident& out, RequestError& error) {
  std::map<std::string, std::string> fields;
  if (!DecodeStringFields(body,
                          {{"title", true, kMaxTitleBytes},
                           {"service", true, 128},
                           {"severity", true, 8},
                           {"note", false, kMaxNoteBytes}},
                          false, fields, error)) {
    return false;
  }
  if (!ParseSeverity(fields["severity"], out.severity)) {
    return Fail(error, "invalid_field", "severity",
                R"(severity must be "SEV1", "SEV2", "SEV3" or "SEV4")");
  }
  out.title = fields["title"];
  out.service = fields["service"];
  out.note = fields["note"];
  return true;
}

bool DecodeAcknowledge(std::string_view body, std::string& note, RequestError& error) {
  std::map<std::string, std::string> fields;
  if (!DecodeStringFields(body, {{"note", false, kMaxNoteBytes}}, true, fields, error)) {
    return false;
  }
  note = fields["note"];
  return true;
}

bool DecodeStateChange(std::string_view body,
                       IncidentState& state,
                       std::string& note,
                       RequestError& error) {
  std::map<std::string, std::string> fields;
  if (!DecodeStringFields(body, {{"state", true, 32}, {"note", false, kMaxNoteBytes}}, false,
                          fields, error)) {
    return false;
  }
  if (!ParseIncidentState(fields["state"], state)) {
    return Fail(error, "invalid_field", "state",
                R"(state must be "INVESTIGATING", "IDENTIFIED", "MONITORING" or "RESOLVED")");
  }
  note = fields["note"];
  return true;
}

bool DecodeNote(std::string_view body, std::string& text, RequestError& error) {
  std::map<std::string, std::string> fields;
  if (!DecodeStringFields(body, {{"text", true, kMaxNoteBytes}}, false, fields, error)) {
    return false;
  }
  text = fields["text"];
  return true;
}

bool ParseIncidentId(std::string_view text, int64_t& id) {
  if (text.empty() || text.size() > 18) {
    return false;
  }
  const auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), id);
  return error == std::errc() && stop == text.data() + text.size() && id > 0;
}

}  // namespace fraudguard
