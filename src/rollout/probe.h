// Probe traffic for `fraudguard validate` and `fraudguard canary`: synthetic transactions sent to
// a running server, each answer timed and classified. Bounded by the caller (a count or a
// deadline); nothing here runs on the request path of the service.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_client.h"
#include "core/result.h"

namespace fraudguard::rollout {

// Where probes go: host and port parsed from a URL, and the API key sent (empty: none).
struct Target {
  std::string url;
  std::string host;
  uint16_t port = 0;
  std::string key;
};
// Parses `url` (http://host:port) into a Target; the error names `flag`.
Result<Target> ParseTarget(std::string_view flag, std::string_view url, std::string key);

// The request headers for `target`: JSON content type and its key.
std::vector<std::pair<std::string, std::string>> ProbeHeaders(const Target& target);

// The JSON body of synthetic transaction `n` of a run: mostly everyday amounts, two thousand
// cards and two hundred merchants, so that the feature state sees some repeat activity. The same
// `run` and `n` give the same body, which lets a canary send identical traffic to both servers.
std::string SyntheticTransactionJson(std::string_view run, uint64_t n);

// One answered (or failed) scoring request.
struct ProbeResult {
  double latency_ms = 0;
  int status = 0;        // 0: no HTTP answer (connection refused, timeout)
  bool ok = false;       // 200 with a decision whose fields check out
  bool flagged = false;  // the decision was review or decline
};

// Sends one synthetic transaction to /api/v1/fraud/analyze and times it.
ProbeResult SendProbe(http::Client& client, const Target& target, std::string_view run, uint64_t n);

// Nearest-rank percentile (`q` in 0..1) of `values`, which it sorts; 0 for an empty vector.
double Percentile(std::vector<double>& values, double q);

// A run's identifier: the process id and the start time, so that transaction ids of two runs
// never collide in a server's decision log.
std::string NewRunId(std::string_view prefix);

}  // namespace fraudguard::rollout
