#include "config/serve_config.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

std::string WriteTemp(const std::string& text) {
  char path[] = "/tmp/fraudguard-config-XXXXXX";
  const int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

TEST(ServeConfig, ReadsNestedKeys) {
  const auto path = WriteTemp("server:\n  port: 9090\n  threads: 4\nmodel: m.json\n");
  ServeConfig config;
  ASSERT_TRUE(LoadServeConfigFile(path, config));
  EXPECT_EQ(config.port, 9090);
  EXPECT_EQ(config.threads, 4);
  EXPECT_EQ(config.model_path, "m.json");
  std::remove(path.c_str());
}

// The file `make run` starts the service with: every key in it must load and validate.
TEST(ServeConfig, TheShippedConfigLoadsAndValidates) {
  ServeConfig config;
  const auto loaded =
      LoadServeConfigFile(std::string(FRAUDGUARD_SOURCE_DIR) + "/config/fraudguard.yaml", config);
  ASSERT_TRUE(loaded) << loaded.error();
  const auto valid = ValidateServeConfig(config);
  EXPECT_TRUE(valid) << valid.error();
  EXPECT_EQ(config.port, 8080);
  EXPECT_EQ(config.bind_address, "127.0.0.1");
}

TEST(ServeConfig, UnknownKeyIsNamed) {
  const auto path = WriteTemp("server:\n  prot: 9090\n");
  ServeConfig config;
  const auto status = LoadServeConfigFile(path, config);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("server.prot"), std::string::npos) << status.error();
  std::remove(path.c_str());
}

TEST(ServeConfig, WrongTypeIsNamed) {
  const auto path = WriteTemp("server:\n  port: eighty\n");
  ServeConfig config;
  const auto status = LoadServeConfigFile(path, config);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("server.port"), std::string::npos) << status.error();
  std::remove(path.c_str());
}

TEST(ServeConfig, InvalidYamlNamesTheLine) {
  const auto path = WriteTemp("server:\n  port: [1,\n");
  ServeConfig config;
  const auto status = LoadServeConfigFile(path, config);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("line"), std::string::npos) << status.error();
  std::remove(path.c_str());
}

TEST(ServeConfig, OutOfRangeValueIsRefused) {
  ServeConfig config;
  config.threads = 0;
  const auto status = ValidateServeConfig(config);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().find("server.threads"), std::string::npos);
}

TEST(ServeConfig, DriftSettingsAreReadAndChecked) {
  const auto path = WriteTemp("drift:\n  window_minutes: 120\n  alert_psi: 0.2\n");
  ServeConfig config;
  ASSERT_TRUE(LoadServeConfigFile(path, config));
  std::remove(path.c_str());
  EXPECT_EQ(config.drift_window_minutes, 120);
  EXPECT_DOUBLE_EQ(config.drift_alert_psi, 0.2);
  EXPECT_TRUE(ValidateServeConfig(config));

  const struct {
    int64_t window_minutes;
    double alert_psi;
    const char* message;
  } cases[] = {
      {0, 0.05, "drift.window_minutes"},                // shorter than one step
      {7 * 24 * 60 + 5, 0.05, "drift.window_minutes"},  // longer than a week
      {62, 0.05, "drift.window_minutes': must be a multiple of 5"},
      {60, 0.0, "drift.alert_psi"},
      {60, -1.0, "drift.alert_psi"},
      {60, 11.0, "drift.alert_psi"},
      {60, std::nan(""), "drift.alert_psi"},
  };
  for (const auto& c : cases) {
    ServeConfig bad;
    bad.drift_window_minutes = c.window_minutes;
    bad.drift_alert_psi = c.alert_psi;
    const auto status = ValidateServeConfig(bad);
    ASSERT_FALSE(status) << c.message;
    EXPECT_NE(status.error().find(c.message), std::string::npos) << status.error();
  }
}

TEST(ServeConfig, CapacitySettingsAreReadAndChecked) {
  const auto path = WriteTemp(
      "capacity:\n  replica_requests_per_second: 1500\n  benchmarks: b.md\n"
      "  current_replicas: 3\n");
  ServeConfig config;
  ASSERT_TRUE(LoadServeConfigFile(path, config));
  std::remove(path.c_str());
  EXPECT_DOUBLE_EQ(config.capacity_replica_requests_per_second, 1500);
  EXPECT_EQ(config.capacity_benchmarks_path, "b.md");
  EXPECT_EQ(config.capacity_current_replicas, 3);
  EXPECT_TRUE(ValidateServeConfig(config));
  // The default reads the measured figure, as `fraudguard capacity forecast` does.
  EXPECT_DOUBLE_EQ(ServeConfig{}.capacity_replica_requests_per_second, 0);
  EXPECT_EQ(ServeConfig{}.capacity_benchmarks_path, "docs/benchmarks.md");

  for (const double rps : {-1.0, 2e9, std::nan("")}) {
    ServeConfig bad;
    bad.capacity_replica_requests_per_second = rps;
    const auto status = ValidateServeConfig(bad);
    ASSERT_FALSE(status) << rps;
    EXPECT_NE(status.error().find("capacity.replica_requests_per_second"), std::string::npos);
  }
  for (const int64_t replicas : {0, 10001}) {
    ServeConfig bad;
    bad.capacity_current_replicas = replicas;
    const auto status = ValidateServeConfig(bad);
    ASSERT_FALSE(status) << replicas;
    EXPECT_NE(status.error().find("capacity.current_replicas"), std::string::npos);
  }
}

TEST(ServeConfig, PublicBindWithoutKeysIsRefused) {
  ServeConfig config;
  config.bind_address = "0.0.0.0";
  EXPECT_FALSE(ValidateServeConfig(config));
  config.keys_path = "keys.yaml";
  EXPECT_TRUE(ValidateServeConfig(config));
  config.bind_address = "127.0.0.1";
  config.keys_path.clear();
  EXPECT_TRUE(ValidateServeConfig(config));
}

}  // namespace
}  // namespace fraudguard

namespace fraudguard {
namespace {

TEST(ServeConfig, BindMustBeAnIpv4AddressTheServerCanListenOn) {
  ServeConfig config;
  config.keys_path = "keys.yaml";
  for (const char* address : {"localhost", "::1", "example.com", "127.0.0.1x", ""}) {
    config.bind_address = address;
    const auto status = ValidateServeConfig(config);
    ASSERT_FALSE(status) << address;
    EXPECT_NE(status.error().find("server.bind"), std::string::npos) << status.error();
  }
  config.bind_address = "127.0.0.2";
  config.keys_path.clear();
  EXPECT_TRUE(ValidateServeConfig(config)) << "all of 127.0.0.0/8 is loopback";
}

}  // namespace
}  // namespace fraudguard
