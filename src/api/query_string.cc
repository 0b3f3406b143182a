#include "api/query_string.h"

namespace fraudguard {

std::vector<QueryParameter> SplitQuery(std::string_view query) {
  std::vector<QueryParameter> parameters;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const size_t eq = pair.find('=');
    parameters.push_back({pair.substr(0, eq),
                          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1)});
  }
  return parameters;
}

}  // namespace fraudguard
