#include "api/feedback_codec.h"

namespace fraudguard {
namespace {

// Latest timestamp accepted, as for transactions: 9999-12-31T23:59:59Z.
constexpr int64_t kMaxTimestampMs = 253402300799999;

using simdjson::ondemand::json_type;

bool Fail(RequestError& error, std::string code, std::string field, std::string message) {
  error.code = std::move(code);
  error.field = std::move(field);
  error.message = std::move(message);
  return false;
}

bool IsValidJson(std::string_view body) {
  simdjson::dom::parser validator;
  simdjson::dom::element root;
  return validator.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS;
}

bool IsNull(simdjson::ondemand::value value) {
  bool is_null = false;
  return value.is_null().get(is_null) == simdjson::SUCCESS && is_null;
}

// Reads a string field of at most `max_length` bytes without control characters.
bool ReadText(simdjson::ondemand::value value,
              std::string_view name,
              size_t max_length,
              std::string& out,
              RequestError& error) {
  std::string_view text;
  if (value.get_string().get(text) != simdjson::SUCCESS) {
    return Fail(error, "invalid_field", std::string(name), std::string(name) + " must be a string");
  }
  if (text.empty() || text.size() > max_length) {
    return Fail(error, "invalid_field", std::string(name),
                std::string(name) + " must be 1 to " + std::to_string(max_length) + " characters");
  }
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Fail(error, "invalid_field", std::string(name),
                  std::string(name) + " must not contain control characters");
    }
  }
  out.assign(text);
  return true;
}

}  // namespace

bool FeedbackDecoder::Decode(std::string_view body,
                             int64_t now_ms,
                             FeedbackRequest& out,
                             RequestError& error) {
  if (DecodeUnchecked(body, now_ms, out, error)) {
    return true;
  }
  // A field-level error may come from a malformed value the on-demand parser only met there
  // ("label": fraud): only on this error path is the whole body validated, to tell them apart.
  if (error.code != "malformed_json" && error.code != "empty_body" && !IsValidJson(body)) {
    Fail(error, "malformed_json", "", "the request body is not valid JSON");
  }
  return false;
}

bool FeedbackDecoder::DecodeUnchecked(std::string_view body,
                                      int64_t now_ms,
                                      FeedbackRequest& out,
                                      RequestError& error) {
  out = FeedbackRequest{};
  if (body.empty()) {
    return Fail(error, "empty_body", "",
                R"(the request body is empty; send {"transaction_id": ..., "label": ...})");
  }
  padded_.assign(body);
  padded_.resize(body.size() + simdjson::SIMDJSON_PADDING, '\0');
  simdjson::ondemand::document document;
  if (parser_.iterate(padded_.data(), body.size(), padded_.size()).get(document) !=
      simdjson::SUCCESS) {
    return Fail(error, "malformed_json", "", "the request body is not valid JSON");
  }
  simdjson::ondemand::object object;
  if (const auto code = document.get_object().get(object); code != simdjson::SUCCESS) {
    if (code != simdjson::INCORRECT_TYPE || !IsValidJson(body)) {
      return Fail(error, "malformed_json", "", "the request body is not valid JSON");
    }
    return Fail(error, "invalid_body", "", "the request body must be a JSON object");
  }

  bool has_id = false;
  bool has_label = false;
  bool has_source = false;
  bool has_timestamp = false;
  bool label_set = false;  // the fields above were present; these two were also not null
  bool timestamp_set = false;
  for (auto field : object) {
    std::string_view key;
    simdjson::ondemand::value value;
    json_type type;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
        field.value().get(value) != simdjson::SUCCESS ||
        value.type().get(type) != simdjson::SUCCESS) {
      return Fail(error, "malformed_json", "", "the request body is not valid JSON");
    }
    const std::string name(key);
    bool* seen = key == "transaction_id" ? &has_id
                 : key == "label"        ? &has_label
                 : key == "source"       ? &has_source
                 : key == "timestamp"    ? &has_timestamp
                                         : nullptr;
    if (seen == nullptr) {
      return Fail(error, "invalid_field", name,
                  "unknown field; accepted: transaction_id, label, source, timestamp");
    }
    if (*seen) {
      return Fail(error, "invalid_field", name, name + " appears twice");
    }
    *seen = true;
    if (type == json_type::null && IsNull(value)) {
      continue;  // null is the same as leaving the field out
    }
    if (key == "transaction_id") {
      if (!ReadText(value, key, kMaxFeedbackIdLength, out.transaction_id, error)) {
        return false;
      }
    } else if (key == "label") {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS ||
          (text != "fraud" && text != "legitimate")) {
        return Fail(error, "invalid_field", name, R"(label must be "fraud" or "legitimate")");
      }
      out.label = text == "fraud" ? FraudLabel::kFraud : FraudLabel::kLegitimate;
      label_set = true;
    } else if (key == "source") {
      if (!ReadText(value, key, kMaxFeedbackSourceLength, out.source, error)) {
        return false;
      }
    } else if (type == json_type::number) {
      int64_t millis = 0;
      if (value.get_int64().get(millis) != simdjson::SUCCESS || millis < 0 ||
          millis > kMaxTimestampMs) {
        return Fail(error, "invalid_field", name,
                    "timestamp must be epoch milliseconds (a non-negative integer) or RFC 3339");
      }
      out.label_ms = millis;
      timestamp_set = true;
    } else if (type == json_type::string) {
      std::string_view text;
      if (value.get_string().get(text) != simdjson::SUCCESS || !ParseRfc3339(text, out.label_ms)) {
        return Fail(error, "invalid_field", name,
                    "timestamp is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z");
      }
      timestamp_set = true;
    } else {
      return Fail(error, "invalid_field", name,
                  "timestamp must be epoch milliseconds or an RFC 3339 string");
    }
  }
  if (document.current_location().error() == simdjson::SUCCESS) {
    return Fail(error, "malformed_json", "", "unexpected content after the JSON object");
  }
  if (out.transaction_id.empty()) {
    return Fail(error, "missing_field", "transaction_id", "transaction_id is required");
  }
  if (!label_set) {
    return Fail(error, "missing_field", "label", R"(label is required: "fraud" or "legitimate")");
  }
  if (!timestamp_set) {
    out.label_ms = now_ms;
  }
  return true;
}

}  // namespace fraudguard
