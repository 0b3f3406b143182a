// The parameters of a URL query string ("range=24h&routes=all"), for the read routes that take
// them.
#pragma once

#include <string_view>
#include <vector>

namespace fraudguard {

struct QueryParameter {
  std::string_view name;
  std::string_view value;  // empty when the pair has no '='; not percent-decoded
};

// The name=value pairs of `query` in order. Empty pairs ("a=1&&b=2", a trailing '&') are
// skipped. The views point into `query`.
std::vector<QueryParameter> SplitQuery(std::string_view query);

}  // namespace fraudguard
