#include "config/serve_config.h"

#include <unistd.h>

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
