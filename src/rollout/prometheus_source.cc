#include "rollout/prometheus_source.h"

#include <simdjson.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "api/http_client.h"

namespace fraudguard::rollout {
namespace {

// The scoring routes, as the service labels them.
constexpr std::string_view kScoringRoutes = R"(route=~"/api/v1/fraud/analyze(/batch)?")";

std::string UrlEncode(std::string_view text) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string Seconds(int64_t ms) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.3f", static_cast<double>(ms) / 1000.0);
  return text;
}

std::string Matchers(std::string_view fixed, std::string_view selector) {
  std::string out = "{" + std::string(fixed);
  if (!selector.empty()) {
    out += (fixed.empty() ? "" : ",") + std::string(selector);
  }
  return out + "}";
}

std::string Quantile(double q, std::string_view selector, const std::string& range) {
  return "histogram_quantile(" + std::to_string(q) +
         ", sum by (le) (rate(http_request_duration_seconds_bucket" +
         Matchers(kScoringRoutes, selector) + range + "))) * 1000";
}

Result<std::string> Fetch(http::Client& client, const std::string& target) {
  auto response = client.Send("GET", target);
  if (!response) {
    return Error{"Prometheus: " + response.error()};
  }
  if (response->status != 200) {
    return Error{"Prometheus answered " + std::to_string(response->status) + ": " +
                 response->body.substr(0, 300)};
  }
  return std::move(response->body);
}

// The values of the first series of a range query; NaN values (no traffic) are left out.
Result<std::vector<double>> RangeValues(http::Client& client,
                                        const PrometheusOptions& options,
                                        const std::string& query) {
  const std::string target = "/api/v1/query_range?query=" + UrlEncode(query) +
                             "&start=" + Seconds(options.end_ms - options.window_ms) +
                             "&end=" + Seconds(options.end_ms) +
                             "&step=" + Seconds(options.interval_ms);
  auto body = Fetch(client, target);
  if (!body) {
    return Error{body.error()};
  }
  simdjson::dom::parser parser;
  simdjson::dom::array result;
  if (parser.parse(*body)["data"]["result"].get(result) != simdjson::SUCCESS) {
    return Error{"Prometheus: not a range query answer: " + body->substr(0, 300)};
  }
  std::vector<double> values;
  if (result.size() == 0) {
    return values;
  }
  simdjson::dom::array points;
  if (result.at(0)["values"].get(points) != simdjson::SUCCESS) {
    return Error{"Prometheus: a series without values"};
  }
  for (simdjson::dom::element point : points) {
    std::string_view text;
    if (point.at(1).get(text) != simdjson::SUCCESS) {
      continue;
    }
    const double value = std::strtod(std::string(text).c_str(), nullptr);
    if (std::isfinite(value)) {
      values.push_back(value);
    }
  }
  return values;
}

// The value of an instant query at the window's end; NaN when it has no result.
Result<double> InstantValue(http::Client& client,
                            const PrometheusOptions& options,
                            const std::string& query) {
  auto body =
      Fetch(client, "/api/v1/query?query=" + UrlEncode(query) + "&time=" + Seconds(options.end_ms));
  if (!body) {
    return Error{body.error()};
  }
  simdjson::dom::parser parser;
  simdjson::dom::array result;
  if (parser.parse(*body)["data"]["result"].get(result) != simdjson::SUCCESS) {
    return Error{"Prometheus: not a query answer: " + body->substr(0, 300)};
  }
  std::string_view text;
  if (result.size() == 0 || result.at(0)["value"].at(1).get(text) != simdjson::SUCCESS) {
    return std::nan("");
  }
  return std::strtod(std::string(text).c_str(), nullptr);
}

Status Collect(http::Client& client,
               const PrometheusOptions& options,
               std::string_view selector,
               MetricSamples& samples) {
  for (size_t m = 0; m < kCanaryMetricCount; ++m) {
    auto values = RangeValues(
        client, options, MetricQuery(static_cast<CanaryMetric>(m), selector, options.interval_ms));
    if (!values) {
      return Error{values.error()};
    }
    samples.values[m] = std::move(values).value();
  }
  const std::string window = "[" + std::to_string(options.window_ms) + "ms]";
  auto requests = InstantValue(
      client, options,
      "sum(increase(http_requests_total" + Matchers(kScoringRoutes, selector) + window + "))");
  auto errors =
      InstantValue(client, options,
                   "sum(increase(http_requests_total" +
                       Matchers(std::string(kScoringRoutes) + R"(,status=~"5..")", selector) +
                       window + ")) or vector(0)");
  auto p95 = InstantValue(client, options, Quantile(0.95, selector, window));
  if (!requests || !errors || !p95) {
    return Error{!requests ? requests.error() : !errors ? errors.error() : p95.error()};
  }
  samples.requests = std::isfinite(*requests) ? static_cast<uint64_t>(std::llround(*requests)) : 0;
  samples.errors = std::isfinite(*errors) ? static_cast<uint64_t>(std::llround(*errors)) : 0;
  samples.p95_ms = std::isfinite(*p95) ? *p95 : 0;
  return OkStatus();
}

}  // namespace

std::string MetricQuery(CanaryMetric metric, std::string_view selector, int64_t range_ms) {
  const std::string range = "[" + std::to_string(range_ms) + "ms]";
  switch (metric) {
    case CanaryMetric::kErrorRate:
      // Without a 5xx series the numerator is empty, hence "or vector(0)".
      return "(sum(rate(http_requests_total" +
             Matchers(std::string(kScoringRoutes) + R"(,status=~"5..")", selector) + range +
             ")) or vector(0)) / sum(rate(http_requests_total" +
             Matchers(kScoringRoutes, selector) + range + "))";
    case CanaryMetric::kLatencyP50:
      return Quantile(0.5, selector, range);
    case CanaryMetric::kLatencyP95:
      return Quantile(0.95, selector, range);
    case CanaryMetric::kLatencyP99:
      return Quantile(0.99, selector, range);
    case CanaryMetric::kFlaggedRate:
      return "sum(rate(fraudguard_decisions_total" + Matchers(R"(action!="approve")", selector) +
             range + ")) / sum(rate(fraudguard_decisions_total" + Matchers("", selector) + range +
             "))";
  }
  return "";
}

Status CheckSelector(std::string_view flag, std::string_view selector) {
  if (selector.size() > 512 || selector.find_first_of("{}") != std::string_view::npos) {
    return Error{std::string(flag) +
                 ": label matchers without braces, at most 512 characters, e.g. "
                 "instance=\"10.0.0.7:8080\""};
  }
  return OkStatus();
}

Status CollectFromPrometheus(const PrometheusOptions& options,
                             MetricSamples& baseline,
                             MetricSamples& canary) {
  auto address = http::ParseHttpUrl(options.url);
  if (!address) {
    return Error{"--prometheus: " + address.error()};
  }
  http::Client client(address->first, address->second, options.timeout_ms);
  if (auto status = Collect(client, options, options.baseline_selector, baseline); !status) {
    return status;
  }
  return Collect(client, options, options.canary_selector, canary);
}

}  // namespace fraudguard::rollout
