// The query string and the JSON answer of GET /api/v1/history (the dashboard's traffic charts
// over the last hour, day or week; see docs/api.md). Strict like the other codecs: only the
// route's parameters, each at most once, every value from a fixed list; the first problem is
// reported with the parameter's name (the error codes of transaction_codec.h).
//
//   GET /api/v1/history?range=1h|24h|7d[&routes=scoring|dashboard|all]
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/transaction_codec.h"
#include "slo/sli_history_query.h"

namespace fraudguard {

inline constexpr size_t kMaxHistoryQueryBytes = 256;

struct HistoryRequest {
  HistoryRange range = HistoryRange::kHour;
  HistoryRouteGroup routes = HistoryRouteGroup::kScoring;
};

// `query` is the raw query string (after '?'). `range` is required; `routes` defaults to scoring.
bool DecodeHistoryQuery(std::string_view query, HistoryRequest& out, RequestError& error);

// {"range", "routes", "route_labels", "step_seconds", "from_ms", "generated_at_ms", "total",
//  "points": [...]}; `route_labels` empty means every route.
void AppendHistoryJson(const History& history,
                       HistoryRouteGroup group,
                       const std::vector<std::string>& route_labels,
                       std::string& out);

}  // namespace fraudguard
