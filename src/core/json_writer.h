// A small, allocation-friendly JSON serialiser. Responses and log lines are built with it; it
// appends to a caller-owned string so that the hot path can reuse buffers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fraudguard {

// Appends `text` to `out` as a JSON string literal, quotes included.
void AppendJsonString(std::string& out, std::string_view text);
// Appends a number; NaN and infinities, which JSON cannot hold, become null.
void AppendJsonNumber(std::string& out, double value);

class JsonWriter {
public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Number(double value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // Inserts already-serialised JSON as one value.
  JsonWriter& Raw(std::string_view json);

  // Shorthands for a key followed by its value.
  JsonWriter& Field(std::string_view key, std::string_view value) { return Key(key).String(value); }
  JsonWriter& Field(std::string_view key, const char* value) { return Key(key).String(value); }
  JsonWriter& Field(std::string_view key, double value) { return Key(key).Number(value); }
  JsonWriter& Field(std::string_view key, int64_t value) { return Key(key).Int(value); }
  JsonWriter& Field(std::string_view key, int value) { return Key(key).Int(value); }
  JsonWriter& Field(std::string_view key, uint64_t value) {
    return Key(key).Int(static_cast<int64_t>(value));
  }
  JsonWriter& Field(std::string_view key, bool value) { return Key(key).Bool(value); }

private:
  void BeforeValue();

  std::string& out_;
  // True when the next value in the current container needs a comma before it.
  bool need_comma_ = false;
};

}  // namespace fraudguard
