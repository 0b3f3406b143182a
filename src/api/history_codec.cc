#include "api/history_codec.h"

#include "api/query_string.h"
#include "core/json_writer.h"

namespace fraudguard {
namespace {

bool Fail(RequestError& error, std::string field, std::string message) {
  error.code = "invalid_field";
  error.field = std::move(field);
  error.message = std::move(message);
  return false;
}

void AppendPoint(JsonWriter& json, const HistoryPoint& point) {
  json.BeginObject()
      .Field("start_ms", point.start_minute * 60'000)
      .Field("seconds", point.seconds)
      .Field("requests", point.requests)
      .Field("bad", point.bad)
      .Field("requests_per_second", point.requests_per_second)
      .Field("error_ratio", point.error_ratio)
      .Field("latency_p50_seconds", point.p50_seconds)
      .Field("latency_p95_seconds", point.p95_seconds)
      .Field("latency_p99_seconds", point.p99_seconds)
      .Field("from_hourly_rows", point.from_hourly_rows)
      .EndObject();
}

}  // namespace

bool DecodeHistoryQuery(std::string_view query, HistoryRequest& out, RequestError& error) {
  if (query.size() > kMaxHistoryQueryBytes) {
    return Fail(
        error, "query",
        "the query string is longer than " + std::to_string(kMaxHistoryQueryBytes) + " bytes");
  }
  bool range_seen = false;
  bool routes_seen = false;
  for (const QueryParameter& parameter : SplitQuery(query)) {
    const std::string key(parameter.name.substr(0, 64));
    const std::string_view value = parameter.value;
    if (key == "range") {
      if (range_seen) {
        return Fail(error, key, "range appears twice");
      }
      range_seen = true;
      if (!ParseHistoryRange(value, out.range)) {
        return Fail(error, key, R"(range must be "1h", "24h" or "7d")");
      }
    } else if (key == "routes") {
      if (routes_seen) {
        return Fail(error, key, "routes appears twice");
      }
      routes_seen = true;
      if (!ParseHistoryRouteGroup(value, out.routes)) {
        return Fail(error, key, R"(routes must be "scoring", "dashboard" or "all")");
      }
    } else {
      return Fail(error, key, "unknown parameter '" + key + "'; this route takes range, routes");
    }
  }
  if (!range_seen) {
    error.code = "missing_field";
    error.field = "range";
    error.message = R"(range is required: "1h", "24h" or "7d")";
    return false;
  }
  return true;
}

void AppendHistoryJson(const History& history,
                       HistoryRouteGroup group,
                       const std::vector<std::string>& route_labels,
                       std::string& out) {
  JsonWriter json(out);
  json.BeginObject()
      .Field("range", HistoryRangeSpecOf(history.range).name)
      .Field("routes", HistoryRouteGroupName(group))
      .Key("route_labels")
      .BeginArray();
  for (const std::string& route : route_labels) {
    json.String(route);
  }
  json.EndArray()
      .Field("step_seconds", history.step_minutes * 60)
      .Field("from_ms", history.from_minute * 60'000)
      .Field("generated_at_ms", history.now_ms)
      .Key("total");
  AppendPoint(json, history.total);
  json.Key("points").BeginArray();
  for (const HistoryPoint& point : history.points) {
    AppendPoint(json, point);
  }
  json.EndArray().EndObject();
}

}  // namespace fraudguard
