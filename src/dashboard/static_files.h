// Answers the dashboard's routes, /dashboard and /dashboard/<file>, from the embedded files:
// the content type follows the file's extension, and the caching headers make a browser check
// the page itself on every load (so an upgraded server is seen at once) while the scripts and
// styles may be reused for a few minutes.
#pragma once

#include <string_view>

#include "api/http_parser.h"

namespace fraudguard::dashboard {

inline constexpr std::string_view kPathPrefix = "/dashboard";

// True for "/dashboard", "/dashboard/" and anything below "/dashboard/".
bool IsDashboardPath(std::string_view path);

// The content type for a file name by its extension; "application/octet-stream" when unknown.
std::string_view ContentTypeFor(std::string_view name);

// Fills `response` with the file for `path` (a dashboard path): 200 with the bytes, or 404
// not_found in the JSON error format for a file that is not embedded.
void ServeDashboardFile(std::string_view path, http::Response& response);

}  // namespace fraudguard::dashboard
