#include "rollout/probe.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "core/clock.h"
#include "core/json_writer.h"

namespace fraudguard::rollout {

Result<Target> ParseTarget(std::string_view flag, std::string_view url, std::string key) {
  auto address = http::ParseHttpUrl(url);
  if (!address) {
    return Error{std::string(flag) + ": " + address.error()};
  }
  Target target;
  target.url = std::string(url);
  while (!target.url.empty() && target.url.back() == '/') {
    target.url.pop_back();
  }
  target.host = address->first;
  target.port = address->second;
  target.key = std::move(key);
  return target;
}

std::vector<std::pair<std::string, std::string>> ProbeHeaders(const Target& target) {
  std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
  if (!target.key.empty()) {
    headers.emplace_back("X-API-Key", target.key);
  }
  return headers;
}

std::string SyntheticTransactionJson(std::string_view run, uint64_t n) {
  // A cheap integer hash spreads the fields without a random generator to seed and share.
  uint64_t h = n * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 29;
  // Mostly everyday amounts (5 to 80), one in twenty larger (up to about 900).
  const double amount = h % 20 == 0 ? 80.0 + static_cast<double>(h % 82000) / 100.0
                                    : 5.0 + static_cast<double>(h % 7500) / 100.0;
  std::string body;
  JsonWriter json(body);
  json.BeginObject()
      .Field("transaction_id", std::string(run) + "-" + std::to_string(n))
      .Field("amount", amount)
      .Field("currency", "EUR")
      .Field("card_id", std::string(run) + "-card-" + std::to_string((h >> 20) % 2000))
      .Field("customer_id", std::string(run) + "-customer-" + std::to_string((h >> 20) % 2000))
      .Field("merchant_id", "probe-merchant-" + std::to_string((h >> 40) % 200))
      .Field("country", "FR")
      .Field("channel", "online")
      .Field("user_age_days", static_cast<int64_t>(200 + (h >> 8) % 2000))
      .EndObject();
  return body;
}

ProbeResult SendProbe(http::Client& client,
                      const Target& target,
                      std::string_view run,
                      uint64_t n) {
  ProbeResult result;
  const std::string body = SyntheticTransactionJson(run, n);
  const int64_t start = MonotonicNanos();
  auto response = client.Send("POST", "/api/v1/fraud/analyze", body, ProbeHeaders(target));
  result.latency_ms = static_cast<double>(MonotonicNanos() - start) / 1e6;
  if (!response) {
    client.Close();  // start the next probe on a fresh connection
    return result;
  }
  result.status = response->status;
  if (response->status != 200) {
    return result;
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view action;
  double score = 0;
  if (parser.parse(response->body).get(root) != simdjson::SUCCESS ||
      root["action"].get(action) != simdjson::SUCCESS ||
      root["risk_score"].get(score) != simdjson::SUCCESS) {
    return result;
  }
  result.ok = true;
  result.flagged = action != "approve";
  return result;
}

double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

std::string NewRunId(std::string_view prefix) {
  return std::string(prefix) + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(SystemClock::Instance().NowMillis());
}

}  // namespace fraudguard::rollout
