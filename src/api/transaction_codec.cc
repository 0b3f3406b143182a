#include "api/transaction_codec.h"

#include <atomic>
#include <cmath>
#include <random>

namespace fraudguard {
namespace {

// Latest timestamp accepted: 9999-12-31T23:59:59Z.
constexpr int64_t kMaxTimestampMs = 253402300799999;

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<int64_t>(day_of_era) - 719468;
}

bool ReadDigits(std::string_view text, size_t& pos, size_t count, int& value) {
  value = 0;
  for (size_t i = 0; i < count; ++i, ++pos) {
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') {
      return false;
    }
    value = value * 10 + (text[pos] - '0');
  }
  return true;
}

bool Expect(std::string_view text, size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

void SetError(RequestError& error, std::string code, std::string field, std::string message) {
  error.code = std::move(code);
  error.field = std::move(field);
  error.message = std::move(message);
}

std::string JoinField(std::string_view prefix, std::string_view name) {
  std::string field(prefix);
  field += name;
  return field;
}

// Generated ids: a process-wide random prefix keeps them unique across restarts, and one
// process-wide sequence keeps them unique across the workers' decoders.
std::atomic<uint64_t> generated_id_sequence{0};

uint64_t GeneratedIdPrefix() {
  static const uint64_t prefix = [] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32U) ^ device();
  }();
  return prefix;
}

// After the root value was consumed, the document has a current location only when more
// tokens follow it.
bool HasTrailingContent(simdjson::ondemand::document& document) {
  const char* location = nullptr;
  return document.current_location().get(location) == simdjson::SUCCESS;
}

// The on-demand parser reports a body that is not an object either as the wrong type or, when
// the damage is found first, as a parse error. Only on this error path is the whole body checked
// once more with the validating DOM parser, so that "not JSON" and "JSON, but not an object" get
// their own codes.
bool IsValidJson(std::string_view body) {
  simdjson::dom::parser validator;
  simdjson::dom::element root;
  return validator.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS;
}

// Unknown fields are skipped by the on-demand parser without looking inside them; CheckValue
// walks one fully so that a malformed value there is caught too. Nesting is bounded so that a
// hostile body cannot exhaust the stack.
constexpr int kMaxUnknownValueDepth = 32;

bool IsNullAtom(simdjson::ondemand::value value) {
  bool is_null = false;
  return value.is_null().get(is_null) == simdjson::SUCCESS && is_null;
}

enum class ValueCheck : uint8_t { kWellFormed, kMalformed, kTooDeep };

ValueCheck CheckValue(simdjson::ondemand::value value, int depth) {
  if (depth > kMaxUnknownValueDepth) {
    return ValueCheck::kTooDeep;
  }
  const auto verdict = [](bool ok) {
    return ok ? ValueCheck::kWellFormed : ValueCheck::kMalformed;
  };
  simdjson::ondemand::json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) {
    return ValueCheck::kMalformed;
  }
  switch (type) {
    case simdjson::ondemand::json_type::object: {
      simdjson::ondemand::object object;
      if (value.get_object().get(object) != simdjson::SUCCESS) {
        return ValueCheck::kMalformed;
      }
      for (auto field : object) {
        std::string_view key;
        simdjson::ondemand::value inner;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
            field.value().get(inner) != simdjson::SUCCESS) {
          return ValueCheck::kMalformed;
        }
        if (const ValueCheck inner_check = CheckValue(inner, depth + 1);
            inner_check != ValueCheck::kWellFormed) {
          return inner_check;
        }
      }
      return ValueCheck::kWellFormed;
    }
    case simdjson::ondemand::json_type::array: {
      simdjson::ondemand::array array;
      if (value.get_array().get(array) != simdjson::SUCCESS) {
        return ValueCheck::kMalformed;
      }
      for (auto element : array) {
        simdjson::ondemand::value inner;
        if (element.get(inner) != simdjson::SUCCESS) {
          return ValueCheck::kMalformed;
        }
        if (const ValueCheck inner_check = CheckValue(inner, depth + 1);
            inner_check != ValueCheck::kWellFormed) {
          return inner_check;
        }
      }
      return ValueCheck::kWellFormed;
    }
    case simdjson::ondemand::json_type::string: {
      std::string_view text;
      return verdict(value.get_string().get(text) == simdjson::SUCCESS);
    }
    case simdjson::ondemand::json_type::number: {
      simdjson::ondemand::number number;
      return verdict(value.get_number().get(number) == simdjson::SUCCESS);
    }
    case simdjson::ondemand::json_type::boolean: {
      bool flag = false;
      return verdict(value.get_bool().get(flag) == simdjson::SUCCESS);
    }
    case simdjson::ondemand::json_type::null:
      return verdict(IsNullAtom(value));
  }
  return ValueCheck::kMalformed;
}

// Reports a failed CheckValue of the field `field`; false when the value was well formed.
bool SetValueCheckError(ValueCheck check, std::string field, RequestError& error) {
  if (check == ValueCheck::kMalformed) {
    SetError(error, "malformed_json", std::move(field),
             "the value of this field is not valid JSON");
    return true;
  }
  if (check == ValueCheck::kTooDeep) {
    SetError(
        error, "invalid_field", std::move(field),
        "the value is nested more than " + std::to_string(kMaxUnknownValueDepth) + " levels deep");
    return true;
  }
  return false;
}

// A field-level error can have been caused by a malformed value that the on-demand parser only
// met there ("amount": 12x). Only on this error path is the whole body validated, so that such
// a body is reported as malformed JSON rather than as a wrong value.
void ReclassifyIfMalformed(std::string_view body, RequestError& error) {
  if (error.code != "malformed_json" && error.code != "empty_body" && !IsValidJson(body)) {
    // The field that failed need not be where the JSON breaks, so none is named.
    error.code = "malformed_json";
    error.field.clear();
    error.message = "the request body is not valid JSON";
  }
}

void SetShapeError(simdjson::error_code code,
                   std::string_view body,
                   std::string_view expected,
                   RequestError& error) {
  if (code != simdjson::INCORRECT_TYPE || !IsValidJson(body)) {
    SetError(error, "malformed_json", "", "the request body is not valid JSON");
  } else {
    SetError(error, "invalid_body", "", "the request body must be " + std::string(expected));
  }
}

}  // namespace

bool ParseRfc3339(std::string_view text, int64_t& epoch_ms) {
  size_t pos = 0;
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ReadDigits(text, pos, 4, year) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, month) || !Expect(text, pos, '-') ||
      !ReadDigits(text, pos, 2, day)) {
    return false;
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return false;
  }
  ++pos;
  if (!ReadDigits(text, pos, 2, hour) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, minute) || !Expect(text, pos, ':') ||
      !ReadDigits(text, pos, 2, second)) {
    return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  int millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) {
        millis = millis * 10 + (text[pos] - '0');
      }
      ++digits;
      ++pos;
    }
    if (digits == 0) {
      return false;
    }
    for (int i = digits; i < 3; ++i) {
      millis *= 10;
    }
  }
  int64_t offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int offset_hours = 0;
    int offset_mins = 0;
    if (!ReadDigits(text, pos, 2, offset_hours) || !Expect(text, pos, ':') ||
        !ReadDigits(text, pos, 2, offset_mins) || offset_hours > 23 || offset_mins > 59) {
      return false;
    }
    offset_minutes = sign * (offset_hours * 60 + offset_mins);
  } else {
    return false;
  }
  if (pos != text.size()) {
    return false;
  }
  const int64_t days =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + std::min(second, 59) - offset_minutes * 60;
  epoch_ms = seconds * 1000 + millis;
  return epoch_ms >= 0 && epoch_ms <= kMaxTimestampMs;
}

bool TransactionDecoder::Prepare(std::string_view body,
                                 std::string_view expected,
                                 RequestError& error) {
  if (body.empty()) {
    SetError(error, "empty_body", "", "the request body is empty; send " + std::string(expected));
    return false;
  }
  padded_.assign(body);
  padded_.resize(body.size() + simdjson::SIMDJSON_PADDING, '\0');
  return true;
}

bool TransactionDecoder::DecodeObject(simdjson::ondemand::object object,
                                      std::string_view field_prefix,
                                      int64_t now_ms,
                                      Transaction& out,
                                      RequestError& error) {
  out = Transaction{};
  bool has_amount = false;
  bool has_timestamp = false;
  const auto read_text = [&](simdjson::ondemand::value value, std::string_view name,
                             std::string& target) {
    if (value.type().value_unsafe() == simdjson::ondemand::json_type::null) {
      if (!IsNullAtom(value)) {
        SetError(error, "malformed_json", JoinField(field_prefix, name),
                 "the value of this field is not valid JSON");
        return false;
      }
      return true;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      SetError(error, "invalid_field", JoinField(field_prefix, name),
               std::string(name) + " must be a string");
      return false;
    }
    if (text.size() > limits_.max_text_length) {
      SetError(error, "invalid_field", JoinField(field_prefix, name),
               std::string(name) + " is longer than " + std::to_string(limits_.max_text_length) +
                   " characters");
      return false;
    }
    target.assign(text);
    return true;
  };

  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
      SetError(error, "malformed_json", "", "the request body is not valid JSON");
      return false;
    }
    simdjson::ondemand::value value;
    if (field.value().get(value) != simdjson::SUCCESS) {
      SetError(error, "malformed_json", "", "the request body is not valid JSON");
      return false;
    }
    simdjson::ondemand::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) {
      SetError(error, "malformed_json", JoinField(field_prefix, key),
               "the value of this field is not valid JSON");
      return false;
    }
    bool ok = true;
    if (key == "amount") {
      if (type != simdjson::ondemand::json_type::number) {
        SetError(error, "invalid_field", JoinField(field_prefix, key), "amount must be a number");
        return false;
      }
      double amount = 0;
      if (value.get_double().get(amount) != simdjson::SUCCESS || !std::isfinite(amount)) {
        SetError(error, "invalid_field", JoinField(field_prefix, key),
                 "amount must be a finite number");
        return false;
      }
      if (!(amount > 0)) {
        SetError(error, "invalid_field", JoinField(field_prefix, key), "amount must be positive");
        return false;
      }
      if (amount > limits_.max_amount) {
        SetError(error, "invalid_field", JoinField(field_prefix, key),
                 "amount exceeds the maximum accepted value");
        return false;
      }
      out.amount = amount;
      has_amount = true;
    } else if (key == "timestamp") {
      if (type == simdjson::ondemand::json_type::number) {
        int64_t millis = 0;
        if (value.get_int64().get(millis) != simdjson::SUCCESS || millis < 0 ||
            millis > kMaxTimestampMs) {
          SetError(error, "invalid_field", JoinField(field_prefix, key),
                   "timestamp must be epoch milliseconds (a non-negative integer) or RFC 3339");
          return false;
        }
        out.timestamp_ms = millis;
        has_timestamp = true;
      } else if (type == simdjson::ondemand::json_type::string) {
        std::string_view text;
        if (value.get_string().get(text) != simdjson::SUCCESS ||
            !ParseRfc3339(text, out.timestamp_ms)) {
          SetError(error, "invalid_field", JoinField(field_prefix, key),
                   "timestamp is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z");
          return false;
        }
        has_timestamp = true;
      } else if (type != simdjson::ondemand::json_type::null || !IsNullAtom(value)) {
        SetError(error, "invalid_field", JoinField(field_prefix, key),
                 "timestamp must be epoch milliseconds or an RFC 3339 string");
        return false;
      }
    } else if (key == "user_age_days") {
      if (type == simdjson::ondemand::json_type::null && IsNullAtom(value)) {
        continue;
      }
      double age = 0;
      if (type != simdjson::ondemand::json_type::number ||
          value.get_double().get(age) != simdjson::SUCCESS || !std::isfinite(age) || age < 0 ||
          age > 36500) {
        SetError(error, "invalid_field", JoinField(field_prefix, key),
                 "user_age_days must be a number from 0 to 36500");
        return false;
      }
      out.user_age_days = age;
    } else if (key == "transaction_id") {
      ok = read_text(value, key, out.transaction_id);
    } else if (key == "currency") {
      ok = read_text(value, key, out.currency);
    } else if (key == "card_id") {
      ok = read_text(value, key, out.card_id);
    } else if (key == "customer_id") {
      ok = read_text(value, key, out.customer_id);
    } else if (key == "merchant_id") {
      ok = read_text(value, key, out.merchant_id);
    } else if (key == "merchant_category") {
      ok = read_text(value, key, out.merchant_category);
    } else if (key == "country") {
      ok = read_text(value, key, out.country);
    } else if (key == "device_id") {
      ok = read_text(value, key, out.device_id);
    } else if (key == "ip") {
      ok = read_text(value, key, out.ip);
    } else if (key == "channel") {
      ok = read_text(value, key, out.channel);
    } else if (SetValueCheckError(CheckValue(value, 0), JoinField(field_prefix, key), error)) {
      // Unknown fields are ignored (callers may send more than FraudGuard uses), but they must
      // still be valid JSON.
      return false;
    }
    if (!ok) {
      return false;
    }
  }
  if (!has_amount) {
    SetError(error, "missing_field", JoinField(field_prefix, "amount"), "amount is required");
    return false;
  }
  if (!has_timestamp) {
    out.timestamp_ms = now_ms;
  }
  if (out.transaction_id.empty()) {
    char buffer[40];
    std::snprintf(
        buffer, sizeof(buffer), "gen-%016llx-%llx",
        static_cast<unsigned long long>(GeneratedIdPrefix()),  // NOLINT(google-runtime-int)
        static_cast<unsigned long long>(generated_id_sequence.fetch_add(1) +
                                        1));  // NOLINT(google-runtime-int)
    out.transaction_id = buffer;
  }
  return true;
}

bool TransactionDecoder::DecodeOne(std::string_view body,
                                   int64_t now_ms,
                                   Transaction& out,
                                   RequestError& error) {
  if (DecodeOneUnchecked(body, now_ms, out, error)) {
    return true;
  }
  ReclassifyIfMalformed(body, error);
  return false;
}

bool TransactionDecoder::DecodeBatch(std::string_view body,
                                     int64_t now_ms,
                                     std::vector<Transaction>& out,
                                     RequestError& error) {
  if (DecodeBatchUnchecked(body, now_ms, out, error)) {
    return true;
  }
  ReclassifyIfMalformed(body, error);
  out.clear();
  return false;
}

bool TransactionDecoder::DecodeOneUnchecked(std::string_view body,
                                            int64_t now_ms,
                                            Transaction& out,
                                            RequestError& error) {
  if (!Prepare(body, "a JSON object", error)) {
    return false;
  }
  simdjson::ondemand::document document;
  if (parser_.iterate(padded_.data(), body.size(), padded_.size()).get(document) !=
      simdjson::SUCCESS) {
    SetError(error, "malformed_json", "", "the request body is not valid JSON");
    return false;
  }
  simdjson::ondemand::object object;
  if (const auto code = document.get_object().get(object); code != simdjson::SUCCESS) {
    SetShapeError(code, body, "a JSON object", error);
    return false;
  }
  if (!DecodeObject(object, "", now_ms, out, error)) {
    return false;
  }
  if (HasTrailingContent(document)) {
    SetError(error, "malformed_json", "", "unexpected content after the JSON object");
    return false;
  }
  return true;
}

bool TransactionDecoder::DecodeBatchUnchecked(std::string_view body,
                                              int64_t now_ms,
                                              std::vector<Transaction>& out,
                                              RequestError& error) {
  out.clear();
  if (!Prepare(body, R"({"transactions": [...]} or a JSON array of transactions)", error)) {
    return false;
  }
  simdjson::ondemand::document document;
  if (parser_.iterate(padded_.data(), body.size(), padded_.size()).get(document) !=
      simdjson::SUCCESS) {
    SetError(error, "malformed_json", "", "the request body is not valid JSON");
    return false;
  }
  simdjson::ondemand::json_type type;
  if (const auto code = document.type().get(type); code != simdjson::SUCCESS) {
    SetShapeError(code, body, "an array or an object", error);
    return false;
  }
  const std::string prefix = "transactions";
  if (type == simdjson::ondemand::json_type::array) {
    simdjson::ondemand::array array;
    if (const auto code = document.get_array().get(array); code != simdjson::SUCCESS) {
      SetShapeError(code, body, "an array or an object", error);
      return false;
    }
    if (!DecodeItems(array, prefix, now_ms, out, error)) {
      return false;
    }
  } else if (type == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object object;
    if (const auto code = document.get_object().get(object); code != simdjson::SUCCESS) {
      SetShapeError(code, body, "an array or an object", error);
      return false;
    }
    // Every field is visited (unknown ones skipped), so that the whole document is consumed
    // and content after it can be detected.
    bool found = false;
    for (auto field : object) {
      std::string_view key;
      simdjson::ondemand::value value;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
          field.value().get(value) != simdjson::SUCCESS) {
        SetError(error, "malformed_json", "", "the request body is not valid JSON");
        return false;
      }
      if (key != "transactions") {
        if (SetValueCheckError(CheckValue(value, 0), std::string(key), error)) {
          return false;
        }
        continue;
      }
      simdjson::ondemand::array array;
      if (found || value.get_array().get(array) != simdjson::SUCCESS) {
        SetError(error, "invalid_field", prefix,
                 found ? "transactions appears twice" : "transactions must be an array");
        return false;
      }
      found = true;
      if (!DecodeItems(array, prefix, now_ms, out, error)) {
        return false;
      }
    }
    if (!found) {
      SetError(error, "missing_field", prefix,
               "send {\"transactions\": [...]} or a JSON array of transactions");
      return false;
    }
  } else {
    SetShapeError(simdjson::INCORRECT_TYPE, body, "an array or an object", error);
    return false;
  }
  if (HasTrailingContent(document)) {
    SetError(error, "malformed_json", "", "unexpected content after the JSON value");
    return false;
  }
  return true;
}

bool TransactionDecoder::DecodeItems(simdjson::ondemand::array array,
                                     const std::string& prefix,
                                     int64_t now_ms,
                                     std::vector<Transaction>& out,
                                     RequestError& error) {
  size_t index = 0;
  for (auto element : array) {
    const std::string item_prefix = prefix + "[" + std::to_string(index) + "].";
    if (index >= limits_.max_batch_items) {
      SetError(
          error, "too_many_items", "transactions",
          "a batch holds at most " + std::to_string(limits_.max_batch_items) + " transactions");
      return false;
    }
    simdjson::ondemand::object object;
    if (element.get_object().get(object) != simdjson::SUCCESS) {
      SetError(error, "invalid_field", prefix + "[" + std::to_string(index) + "]",
               "each transaction must be a JSON object");
      return false;
    }
    out.emplace_back();
    if (!DecodeObject(object, item_prefix, now_ms, out.back(), error)) {
      return false;
    }
    ++index;
  }
  if (index == 0) {
    SetError(error, "invalid_field", prefix, "the batch is empty");
    return false;
  }
  return true;
}

}  // namespace fraudguard
