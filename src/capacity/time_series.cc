#include "capacity/time_series.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <fstream>

#include "api/http_client.h"
#include "core/log.h"

namespace fraudguard::capacity {
namespace {

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

bool ParseDouble(std::string_view text, double& out) {
  if (text.empty()) {
    return false;
  }
  if (text.front() == '+') {
    text.remove_prefix(1);
  }
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

bool ParseDigits(std::string_view text, size_t at, size_t count, int& out) {
  if (at + count > text.size()) {
    return false;
  }
  out = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

// "YYYY-MM-DDTHH:MM[:SS[.fff]]Z" or with a "+HH:MM"/"-HH:MM" offset; a space may replace T.
bool ParseIsoTimestamp(std::string_view text, double& out) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!ParseDigits(text, 0, 4, year) || text.size() < 16 || text[4] != '-' ||
      !ParseDigits(text, 5, 2, month) || text[7] != '-' || !ParseDigits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != ' ') || !ParseDigits(text, 11, 2, hour) || text[13] != ':' ||
      !ParseDigits(text, 14, 2, minute)) {
    return false;
  }
  size_t at = 16;
  double fraction = 0;
  if (at < text.size() && text[at] == ':') {
    if (!ParseDigits(text, at + 1, 2, second)) {
      return false;
    }
    at += 3;
    if (at < text.size() && text[at] == '.') {
      size_t end = at + 1;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') {
        ++end;
      }
      if (end == at + 1 || !ParseDouble(text.substr(at, end - at), fraction)) {
        return false;
      }
      at = end;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  int offset_seconds = 0;
  const std::string_view zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
    offset_seconds = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int offset_hours = 0;
    int offset_minutes = 0;
    if (!ParseDigits(zone, 1, 2, offset_hours) || !ParseDigits(zone, 4, 2, offset_minutes)) {
      return false;
    }
    offset_seconds = (offset_hours * 3600 + offset_minutes * 60) * (zone[0] == '-' ? -1 : 1);
  } else {
    return false;  // a local time without a zone is ambiguous
  }
  std::tm parts{};
  parts.tm_year = year - 1900;
  parts.tm_mon = month - 1;
  parts.tm_mday = day;
  parts.tm_hour = hour;
  parts.tm_min = minute;
  parts.tm_sec = second;
  out = static_cast<double>(timegm(&parts)) + fraction - offset_seconds;
  return true;
}

std::string LineError(size_t line, const std::string& message) {
  return "line " + std::to_string(line) + ": " + message;
}

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string FormatPlain(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.3f", value);
  return buffer;
}

}  // namespace

double TimeSeries::StepSeconds() const {
  if (timestamps.size() < 2) {
    return 0;
  }
  std::vector<double> steps(timestamps.size() - 1);
  for (size_t i = 1; i < timestamps.size(); ++i) {
    steps[i - 1] = timestamps[i] - timestamps[i - 1];
  }
  std::nth_element(steps.begin(), steps.begin() + steps.size() / 2, steps.end());
  return steps[steps.size() / 2];
}

bool TimeSeries::IsRegular() const {
  const double step = StepSeconds();
  if (step <= 0) {
    return false;
  }
  for (size_t i = 1; i < timestamps.size(); ++i) {
    if (std::abs(timestamps[i] - timestamps[i - 1] - step) > 0.01 * step) {
      return false;
    }
  }
  return true;
}

Result<TimeSeries> ParseCsvSeries(std::string_view text) {
  if (text.size() > kMaxSeriesBytes) {
    return Error{"input is larger than " + std::to_string(kMaxSeriesBytes) + " bytes"};
  }
  TimeSeries series;
  size_t line_number = 0;
  bool first_row = true;  // only the first row may be the header
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line =
        Trim(text.substr(0, newline == std::string_view::npos ? text.size() : newline));
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') {
      continue;
    }
    const size_t comma = line.find(',');
    if (comma == std::string_view::npos || line.find(',', comma + 1) != std::string_view::npos) {
      const size_t fields = 1 + static_cast<size_t>(std::count(line.begin(), line.end(), ','));
      return Error{LineError(line_number,
                             "expected 2 fields 'timestamp,value', got " + std::to_string(fields))};
    }
    const std::string_view time_text = Trim(line.substr(0, comma));
    const std::string_view value_text = Trim(line.substr(comma + 1));
    if (first_row && time_text == "timestamp") {
      first_row = false;  // the header; a second one later is an error like any other text
      continue;
    }
    first_row = false;
    double timestamp = 0;
    if (!ParseDouble(time_text, timestamp) && !ParseIsoTimestamp(time_text, timestamp)) {
      return Error{LineError(line_number, "timestamp '" + std::string(time_text) +
                                              "' is neither Unix seconds nor ISO 8601 UTC")};
    }
    if (!std::isfinite(timestamp)) {
      return Error{LineError(line_number, "timestamp is not finite")};
    }
    double value = 0;
    if (!ParseDouble(value_text, value) || !std::isfinite(value)) {
      return Error{
          LineError(line_number, "value '" + std::string(value_text) + "' is not a finite number")};
    }
    if (!series.timestamps.empty() && timestamp <= series.timestamps.back()) {
      return Error{LineError(line_number, "timestamp " + FormatTimestamp(timestamp) +
                                              " is not after the previous one (" +
                                              FormatTimestamp(series.timestamps.back()) +
                                              "); rows must be in time order")};
    }
    if (series.size() == kMaxSeriesPoints) {
      return Error{LineError(line_number, "more than " + std::to_string(kMaxSeriesPoints) +
                                              " points; aggregate to a coarser step")};
    }
    series.timestamps.push_back(timestamp);
    series.values.push_back(value);
  }
  return series;
}

Result<TimeSeries> LoadCsvSeries(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Error{"cannot open " + path};
  }
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(in.tellg());
  if (size > kMaxSeriesBytes) {
    return Error{path + " is larger than " + std::to_string(kMaxSeriesBytes) + " bytes"};
  }
  in.seekg(0);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (!in) {
    return Error{"cannot read " + path};
  }
  auto series = ParseCsvSeries(text);
  if (!series) {
    return Error{path + ": " + series.error()};
  }
  return series;
}

Result<TimeSeries> ParsePrometheusRange(std::string_view json, size_t* skipped) {
  if (json.size() > kMaxSeriesBytes) {
    return Error{"Prometheus response is larger than " + std::to_string(kMaxSeriesBytes) +
                 " bytes"};
  }
  const simdjson::padded_string padded(json);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(padded).get(root)) {
    return Error{std::string("Prometheus response is not JSON: ") + simdjson::error_message(error)};
  }
  std::string_view status;
  if (root["status"].get_string().get(status)) {
    return Error{"Prometheus response has no 'status'"};
  }
  if (status != "success") {
    std::string_view message = "(no message)";
    if (root["error"].get_string().get(message)) {
      message = "(no message)";
    }
    return Error{"Prometheus query failed: " + std::string(message)};
  }
  std::string_view result_type;
  if (root["data"]["resultType"].get_string().get(result_type)) {
    return Error{"Prometheus response has no 'data.resultType'"};
  }
  if (result_type != "matrix") {
    return Error{"Prometheus returned a " + std::string(result_type) +
                 ", expected a matrix (use the query_range endpoint)"};
  }
  simdjson::dom::array result;
  if (root["data"]["result"].get_array().get(result)) {
    return Error{"Prometheus response has no 'data.result' array"};
  }
  if (result.size() != 1) {
    return Error{"the query returned " + std::to_string(result.size()) +
                 " series, expected exactly 1; aggregate it, for example sum(...)"};
  }
  simdjson::dom::array samples;
  if (result.at(0)["values"].get_array().get(samples)) {
    return Error{"Prometheus series has no 'values' array"};
  }
  TimeSeries series;
  size_t non_finite = 0;
  for (simdjson::dom::element sample : samples) {
    simdjson::dom::array pair;
    double timestamp = 0;
    std::string_view value_text;
    if (sample.get_array().get(pair) || pair.size() != 2 ||
        pair.at(0).get_double().get(timestamp) || pair.at(1).get_string().get(value_text)) {
      return Error{"Prometheus sample " + std::to_string(series.size() + non_finite) +
                   " is not [timestamp, \"value\"]"};
    }
    double value = 0;
    if (value_text == "NaN" || value_text == "+Inf" || value_text == "-Inf") {
      ++non_finite;
      continue;
    }
    if (!ParseDouble(value_text, value)) {
      return Error{"Prometheus sample value '" + std::string(value_text) + "' is not a number"};
    }
    if (!series.timestamps.empty() && timestamp <= series.timestamps.back()) {
      return Error{"Prometheus samples are not in time order"};
    }
    if (series.size() == kMaxSeriesPoints) {
      return Error{"more than " + std::to_string(kMaxSeriesPoints) + " samples"};
    }
    series.timestamps.push_back(timestamp);
    series.values.push_back(value);
  }
  if (skipped != nullptr) {
    *skipped = non_finite;
  }
  return series;
}

Result<TimeSeries> FetchPrometheusRange(const PrometheusRangeQuery& request) {
  auto address = http::ParseHttpUrl(request.url);
  if (!address) {
    return Error{"--prometheus: " + address.error()};
  }
  if (address->first != "127.0.0.1" && address->first != "localhost") {
    return Error{"--prometheus: only a Prometheus on 127.0.0.1 is supported, got '" +
                 address->first + "'"};
  }
  if (request.query.empty()) {
    return Error{"--query: empty"};
  }
  if (request.query.size() > 4096) {
    return Error{"--query: longer than 4096 characters"};
  }
  if (!(request.step_seconds > 0) || !(request.end > request.start)) {
    return Error{"the range must have end after start and a positive step"};
  }
  if ((request.end - request.start) / request.step_seconds > 11000) {
    return Error{"the range holds more than 11,000 steps (Prometheus' limit); use a larger step"};
  }
  const std::string target = "/api/v1/query_range?query=" + UrlEncode(request.query) +
                             "&start=" + FormatPlain(request.start) +
                             "&end=" + FormatPlain(request.end) +
                             "&step=" + FormatPlain(request.step_seconds);
  http::Client client(address->first, address->second, 30000);
  auto response = client.Send("GET", target);
  if (!response) {
    return Error{"Prometheus at " + request.url + ": " + response.error()};
  }
  // Prometheus answers bad queries with 400 and a JSON error body, which the parser reports.
  size_t skipped = 0;
  auto series = ParsePrometheusRange(response->body, &skipped);
  if (!series) {
    return Error{series.error() + " (HTTP " + std::to_string(response->status) + ")"};
  }
  if (skipped > 0) {
    LogWarn("capacity_samples_skipped").Field("reason", "not finite").Field("count", skipped);
  }
  return series;
}

Status RequireForecastable(const TimeSeries& series) {
  if (series.size() < kMinForecastPoints) {
    return Error{"need at least " + std::to_string(kMinForecastPoints) +
                 " points to forecast, got " + std::to_string(series.size())};
  }
  return OkStatus();
}

Result<double> ParseDurationSeconds(std::string_view text) {
  if (text.size() < 2) {
    return Error{"duration '" + std::string(text) + "' needs a number and a unit (s, m, h, d, w)"};
  }
  double unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    case 'w':
      unit = 7 * 86400;
      break;
    default:
      return Error{"duration '" + std::string(text) + "' has no unit (s, m, h, d or w)"};
  }
  double amount = 0;
  if (!ParseDouble(text.substr(0, text.size() - 1), amount) || !(amount > 0) ||
      !std::isfinite(amount)) {
    return Error{"duration '" + std::string(text) + "' is not a positive number and a unit"};
  }
  return amount * unit;
}

std::string FormatTimestamp(double unix_seconds) {
  const auto seconds = static_cast<time_t>(std::floor(unix_seconds));
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buffer;
}

}  // namespace fraudguard::capacity
