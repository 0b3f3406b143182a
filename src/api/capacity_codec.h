// The query string of GET /api/v1/capacity. Strict like the body codecs: unknown or repeated
// parameters are refused, and the first problem is reported with the parameter's name (the
// error codes of transaction_codec.h).
#pragma once

#include <string_view>

#include "api/transaction_codec.h"

namespace fraudguard {

inline constexpr size_t kMaxCapacityQueryLength = 256;

struct CapacityQuery {
  double horizon_seconds = 0;  // whole hours
};

// Fills `query` from `text` ("horizon=7d"); `default_horizon_seconds` when none is given.
// Returns false and fills `error` on bad input.
bool DecodeCapacityQuery(std::string_view text,
                         double default_horizon_seconds,
                         CapacityQuery& query,
                         RequestError& error);

}  // namespace fraudguard
