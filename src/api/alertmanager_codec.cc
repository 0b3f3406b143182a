#include "api/alertmanager_codec.h"

#include <simdjson.h>

#include <cctype>
#include <ctime>
#include <map>

#include "incidents/incident.h"

namespace fraudguard {
namespace {

bool Fail(RequestError& error, std::string code, std::string field, std::string message) {
  error.code = std::move(code);
  error.field = std::move(field);
  error.message = std::move(message);
  return false;
}

bool Digits(std::string_view text, size_t at, size_t count, int& value) {
  if (at + count > text.size()) {
    return false;
  }
  value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

bool ReadLabels(simdjson::dom::element element,
                const std::string& field,
                std::map<std::string, std::string>& out,
                RequestError& error) {
  simdjson::dom::object object;
  if (element.get_object().get(object)) {
    return Fail(error, "invalid_field", field, field + " must be an object of strings");
  }
  for (auto item : object) {
    std::string_view value;
    if (item.value.get_string().get(value)) {
      return Fail(error, "invalid_field", field,
                  field + "." + std::string(item.key.substr(0, 64)) + " must be a string");
    }
    if (out.size() >= kMaxLabelCount || item.key.size() > 256 || value.size() > kMaxLabelBytes) {
      return Fail(error, "invalid_field", field,
                  field + " holds more than " + std::to_string(kMaxLabelCount) +
                      " entries, or one longer than " + std::to_string(kMaxLabelBytes) + " bytes");
    }
    out[std::string(item.key)] = std::string(value);
  }
  return true;
}

}  // namespace

bool ParseRfc3339Millis(std::string_view text, int64_t& ms) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (text.size() < 20 || !Digits(text, 0, 4, year) || text[4] != '-' ||
      !Digits(text, 5, 2, month) || text[7] != '-' || !Digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !Digits(text, 11, 2, hour) || text[13] != ':' ||
      !Digits(text, 14, 2, minute) || text[16] != ':' || !Digits(text, 17, 2, second) ||
      month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  int64_t fraction_ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    const size_t start = pos;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      fraction_ms += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) {
      return false;
    }
  }
  int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offset_hours = 0;
    int offset_minutes = 0;
    if (!Digits(text, pos + 1, 2, offset_hours) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !Digits(text, pos + 4, 2, offset_minutes)) {
      return false;
    }
    offset_seconds = (text[pos] == '+' ? 1 : -1) * (offset_hours * 3600 + offset_minutes * 60);
    pos += 6;
  } else {
    return false;
  }
  if (pos != text.size()) {
    return false;
  }
  if (year < 1970) {
    ms = 0;  // Alertmanager's "no time" (0001-01-01)
    return true;
  }
  std::tm parts{};
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  parts.tm_mday = day;
  parts.tm_hour = hour;
  parts.tm_min = minute;
  parts.tm_sec = second;
  const int64_t seconds = static_cast<int64_t>(timegm(&parts)) - offset_seconds;
  ms = seconds * 1000 + fraction_ms;
  return true;
}

bool DecodeAlertmanagerWebhook(std::string_view body,
                               AlertmanagerWebhook& out,
                               RequestError& error) {
  if (body.size() > kMaxWebhookBodyBytes) {
    return Fail(error, "body_too_large", "", "the webhook body is larger than 4 MiB");
  }
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Fail(error, "empty_body", "", "the request body is empty; send Alertmanager's webhook");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body.data(), body.size()).get(root)) {
    return Fail(error, "malformed_json", "", "the request body is not valid JSON");
  }
  if (!root.is_object()) {
    return Fail(error, "invalid_body", "", "the request body must be a JSON object");
  }
  std::string_view text;
  if (root["version"].get_string().get(text)) {
    return Fail(error, "missing_field", "version", R"(version is required: "4")");
  }
  if (text != "4") {
    return Fail(error, "invalid_field", "version",
                "version '" + std::string(text.substr(0, 16)) + "' is not supported; only \"4\"");
  }
  if (root["groupKey"].get_string().get(text) || text.empty() || text.size() > kMaxLabelBytes) {
    return Fail(error, "invalid_field", "groupKey",
                "groupKey must be a string of 1 to " + std::to_string(kMaxLabelBytes) + " bytes");
  }
  out.group_key = std::string(text);
  if (root["status"].get_string().get(text) || (text != "firing" && text != "resolved")) {
    return Fail(error, "invalid_field", "status", R"(status must be "firing" or "resolved")");
  }
  out.status = std::string(text);
  if (auto receiver = root["receiver"]; !receiver.error()) {
    if (receiver.get_string().get(text) || text.size() > 256) {
      return Fail(error, "invalid_field", "receiver", "receiver must be a string of 256 bytes");
    }
    out.receiver = std::string(text);
  }
  if (auto truncated = root["truncatedAlerts"]; !truncated.error()) {
    if (truncated.get_uint64().get(out.truncated_alerts)) {
      return Fail(error, "invalid_field", "truncatedAlerts",
                  "truncatedAlerts must be a whole number");
    }
  }
  simdjson::dom::array alerts;
  if (root["alerts"].get_array().get(alerts)) {
    return Fail(error, "missing_field", "alerts", "alerts is required: a list of alerts");
  }
  if (alerts.size() == 0 || alerts.size() > kMaxWebhookAlerts) {
    return Fail(error, "invalid_field", "alerts",
                "alerts must hold 1 to " + std::to_string(kMaxWebhookAlerts) + " alerts");
  }
  size_t index = 0;
  for (simdjson::dom::element item : alerts) {
    const std::string prefix = "alerts[" + std::to_string(index++) + "]";
    if (!item.is_object()) {
      return Fail(error, "invalid_field", prefix, prefix + " must be an object");
    }
    AlertEvent event;
    event.group_key = "alertmanager:" + out.group_key;
    event.source = "alertmanager";
    event.actor = "alertmanager";
    if (item["status"].get_string().get(text) || (text != "firing" && text != "resolved")) {
      return Fail(error, "invalid_field", prefix + ".status",
                  R"(status must be "firing" or "resolved")");
    }
    event.firing = text == "firing";
    simdjson::dom::element labels;
    if (item["labels"].get(labels)) {
      return Fail(error, "missing_field", prefix + ".labels", "labels are required");
    }
    if (!ReadLabels(labels, prefix + ".labels", event.labels, error)) {
      return false;
    }
    auto name = event.labels.find("alertname");
    if (name == event.labels.end() || name->second.empty()) {
      return Fail(error, "missing_field", prefix + ".labels.alertname",
                  "every alert needs an alertname label");
    }
    event.name = name->second;
    if (auto annotations = item["annotations"]; !annotations.error()) {
      if (!ReadLabels(annotations.value_unsafe(), prefix + ".annotations", event.annotations,
                      error)) {
        return false;
      }
    }
    if (item["fingerprint"].get_string().get(text) || text.empty() || text.size() > 64) {
      return Fail(error, "invalid_field", prefix + ".fingerprint",
                  "fingerprint must be a string of 1 to 64 characters");
    }
    event.fingerprint = std::string(text);
    for (const auto& [key, target] :
         {std::pair<const char*, int64_t*>{"startsAt", &event.starts_ms},
          std::pair<const char*, int64_t*>{"endsAt", &event.ends_ms}}) {
      if (auto value = item[key]; !value.error()) {
        if (value.get_string().get(text) || !ParseRfc3339Millis(text, *target)) {
          return Fail(error, "invalid_field", prefix + "." + key,
                      std::string(key) + " must be an RFC 3339 time such as 2026-12-04T06:05:36Z");
        }
      }
    }
    out.alerts.push_back(std::move(event));
  }
  return true;
}

}  // namespace fraudguard
