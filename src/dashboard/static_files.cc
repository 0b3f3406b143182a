#include "dashboard/static_files.h"

#include <string>

#include "dashboard/embedded_files.h"

namespace fraudguard::dashboard {
namespace {

constexpr std::string_view kIndex = "index.html";
// The page is checked on every load; scripts and styles are reused for five minutes at most,
// so a browser polling every few seconds does not fetch them again.
constexpr std::string_view kPageCaching = "no-cache";
constexpr std::string_view kAssetCaching = "public, max-age=300";
constexpr size_t kMaxEchoedPath = 64;

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

bool IsDashboardPath(std::string_view path) {
  if (path.rfind(kPathPrefix, 0) != 0) {
    return false;
  }
  return path.size() == kPathPrefix.size() || path[kPathPrefix.size()] == '/';
}

std::string_view ContentTypeFor(std::string_view name) {
  if (EndsWith(name, ".html")) {
    return "text/html; charset=utf-8";
  }
  if (EndsWith(name, ".js")) {
    return "text/javascript; charset=utf-8";
  }
  if (EndsWith(name, ".css")) {
    return "text/css; charset=utf-8";
  }
  if (EndsWith(name, ".svg")) {
    return "image/svg+xml";
  }
  return "application/octet-stream";
}

void ServeDashboardFile(std::string_view path, http::Response& response) {
  std::string_view name = path.substr(kPathPrefix.size());
  if (!name.empty()) {
    name.remove_prefix(1);  // the slash
  }
  if (name.empty()) {
    name = kIndex;
  }
  for (const EmbeddedFile& file : EmbeddedFiles()) {
    if (file.name != name) {
      continue;
    }
    response.status = 200;
    response.content_type = std::string(ContentTypeFor(file.name));
    response.body.assign(file.bytes);
    response.headers.emplace_back("Cache-Control",
                                  std::string(name == kIndex ? kPageCaching : kAssetCaching));
    response.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return;
  }
  std::string shown(path.substr(0, kMaxEchoedPath));
  http::SetJsonError(response, 404, "not_found",
                     "no dashboard file " + shown + "; the dashboard is at /dashboard", "path");
}

}  // namespace fraudguard::dashboard
