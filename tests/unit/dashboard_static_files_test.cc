// The dashboard's embedded files: every file in dashboard/ is in the binary byte for byte,
// each is answered with its content type and caching header, and a path that names no file
// gets the JSON 404.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "dashboard/embedded_files.h"
#include "dashboard/static_files.h"

namespace fraudguard::dashboard {
namespace {

std::string Header(const http::Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

std::string ReadRepoFile(const std::string& relative) {
  std::ifstream in(std::string(FRAUDGUARD_SOURCE_DIR) + "/" + relative, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(DashboardFiles, EmbedsEveryFileByteForByte) {
  // Every file of dashboard/ is built in (DASHBOARD_FILES in CMakeLists.txt lists them).
  size_t on_disk_files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(FRAUDGUARD_SOURCE_DIR) + "/dashboard")) {
    on_disk_files += entry.is_regular_file() ? 1 : 0;
  }
  ASSERT_EQ(EmbeddedFiles().size(), on_disk_files);
  for (const EmbeddedFile& file : EmbeddedFiles()) {
    const std::string on_disk = ReadRepoFile("dashboard/" + std::string(file.name));
    ASSERT_FALSE(on_disk.empty()) << file.name;
    EXPECT_EQ(file.bytes, on_disk) << file.name;
  }
}

TEST(DashboardFiles, MatchesOnlyDashboardPaths) {
  EXPECT_TRUE(IsDashboardPath("/dashboard"));
  EXPECT_TRUE(IsDashboardPath("/dashboard/"));
  EXPECT_TRUE(IsDashboardPath("/dashboard/app.js"));
  EXPECT_FALSE(IsDashboardPath("/dashboards"));
  EXPECT_FALSE(IsDashboardPath("/dashboard.js"));
  EXPECT_FALSE(IsDashboardPath("/api/v1/dashboard"));
}

TEST(DashboardFiles, ServesThePageWithoutCaching) {
  for (const char* path : {"/dashboard", "/dashboard/", "/dashboard/index.html"}) {
    http::Response response;
    ServeDashboardFile(path, response);
    EXPECT_EQ(response.status, 200) << path;
    EXPECT_EQ(response.content_type, "text/html; charset=utf-8") << path;
    EXPECT_EQ(Header(response, "Cache-Control"), "no-cache") << path;
    EXPECT_EQ(Header(response, "X-Content-Type-Options"), "nosniff") << path;
    EXPECT_NE(response.body.find("<title>FraudGuard operations</title>"), std::string::npos);
  }
}

TEST(DashboardFiles, ServesAssetsWithTheirTypes) {
  http::Response script;
  ServeDashboardFile("/dashboard/app.js", script);
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(Header(script, "Cache-Control"), "public, max-age=300");
  http::Response style;
  ServeDashboardFile("/dashboard/style.css", style);
  EXPECT_EQ(style.content_type, "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("chart.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("data.bin"), "application/octet-stream");
}

TEST(DashboardFiles, UnknownFilesAreJsonNotFound) {
  for (const char* path : {"/dashboard/missing.js", "/dashboard/../CMakeLists.txt",
                           "/dashboard/app.js/", "/dashboard//app.js"}) {
    http::Response response;
    ServeDashboardFile(path, response);
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_EQ(response.content_type, "application/json") << path;
    EXPECT_NE(response.body.find(R"("error":"not_found")"), std::string::npos) << response.body;
    EXPECT_NE(response.body.find(R"("field":"path")"), std::string::npos) << response.body;
  }
}

TEST(DashboardFiles, LongUnknownPathsAreCutInTheMessage) {
  http::Response response;
  ServeDashboardFile("/dashboard/" + std::string(5000, 'a'), response);
  EXPECT_EQ(response.status, 404);
  EXPECT_LT(response.body.size(), 300U);
}

}  // namespace
}  // namespace fraudguard::dashboard
