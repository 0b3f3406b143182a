#include "security/api_keys.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <openssl/sha.h>

namespace fraudguard {
namespace {

namespace fs = std::filesystem;

// Computes the stored digest independently of the code under test.
std::string Sha256Hex(const std::string& salt_hex, const std::string& secret) {
  std::string bytes;
  for (size_t i = 0; i < salt_hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(salt_hex.substr(i, 2), nullptr, 16)));
  }
  bytes += secret;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  std::string hex;
  char two[3];
  for (unsigned char byte : digest) {
    std::snprintf(two, sizeof(two), "%02x", byte);
    hex += two;
  }
  return hex;
}

constexpr char kSalt1[] = "00112233445566778899aabbccddeeff";
constexpr char kSalt2[] = "ffeeddccbbaa99887766554433221100";
constexpr char kSecret1[] = "s3cret-one-0123456789";
constexpr char kSecret2[] = "s3cret-two-9876543210";

std::string TwoKeysYaml() {
  return std::string("keys:\n") +
         "  - {id: checkout1, name: checkout, roles: [score], salt: " + kSalt1 +
         ", sha256: " + Sha256Hex(kSalt1, kSecret1) + "}\n" +
         "  - id: ops-2\n    name: \"ops team\"\n    roles: [admin]\n    salt: " + kSalt2 +
         "\n    sha256: " + Sha256Hex(kSalt2, kSecret2) + "\n";
}

class ApiKeysFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("fg_api_keys_" + std::to_string(::getpid()) + "_" + info->name() + ".yaml");
  }
  void TearDown() override { fs::remove(path_); }
  void Write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }

  fs::path path_;
};

TEST(ApiKeys, AuthenticatesTheRightSecretOnly) {
  auto store = ApiKeyStore::Parse(TwoKeysYaml());
  ASSERT_TRUE(store.ok()) << store.error();
  EXPECT_EQ(store->size(), 2u);

  auto checkout = store->Authenticate(std::string("fg_checkout1_") + kSecret1);
  ASSERT_TRUE(checkout.has_value());
  EXPECT_EQ(checkout->name, "checkout");
  EXPECT_TRUE(checkout->Has(Role::kScore));
  EXPECT_FALSE(checkout->Has(Role::kRead));
  EXPECT_FALSE(checkout->Has(Role::kAdmin));

  auto ops = store->Authenticate(std::string("fg_ops-2_") + kSecret2);
  ASSERT_TRUE(ops.has_value());
  EXPECT_EQ(ops->name, "ops team");
  EXPECT_TRUE(ops->Has(Role::kAdmin));
  EXPECT_TRUE(ops->Has(Role::kRead)) << "admin implies read";
  EXPECT_TRUE(ops->Has(Role::kScore)) << "admin implies score";

  // Another key's secret, a near miss, and an id that does not exist.
  EXPECT_FALSE(store->Authenticate(std::string("fg_checkout1_") + kSecret2));
  EXPECT_FALSE(store->Authenticate(std::string("fg_checkout1_") + kSecret1 + "x"));
  EXPECT_FALSE(store->Authenticate(std::string("fg_unknown_") + kSecret1));
}

TEST(ApiKeys, RejectsMalformedKeys) {
  auto store = ApiKeyStore::Parse(TwoKeysYaml());
  ASSERT_TRUE(store.ok()) << store.error();
  const std::vector<std::string> malformed = {
      "",
      "fg_",
      "fg_checkout1",
      "fg_checkout1_",
      "fg__secret",
      "xx_checkout1_" + std::string(kSecret1),
      "checkout1_" + std::string(kSecret1),
      "fg_checkout1_" + std::string(300, 'a'),
      "fg_" + std::string(100, 'c') + "_secret",
  };
  for (const std::string& key : malformed) {
    EXPECT_FALSE(store->Authenticate(key).has_value()) << key;
  }
}

TEST(ApiKeys, PresentedKeyComesFromEitherHeader) {
  EXPECT_EQ(PresentedApiKey("fg_a_b", ""), "fg_a_b");
  EXPECT_EQ(PresentedApiKey("fg_a_b", "Bearer fg_c_d"), "fg_a_b") << "X-API-Key wins";
  EXPECT_EQ(PresentedApiKey("", "Bearer fg_c_d"), "fg_c_d");
  EXPECT_EQ(PresentedApiKey("", "Bearer  fg_c_d "), "fg_c_d");
  EXPECT_EQ(PresentedApiKey("", "Basic dXNlcjpwYXNz"), "");
  EXPECT_EQ(PresentedApiKey("", "Bearer "), "");
  EXPECT_EQ(PresentedApiKey("", ""), "");
}

TEST(ApiKeys, ParsesRoleLists) {
  auto score = ParseRoles("score");
  ASSERT_TRUE(score.ok());
  EXPECT_EQ(*score, static_cast<uint8_t>(Role::kScore));
  auto two = ParseRoles("read, score");
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, static_cast<uint8_t>(Role::kScore) | static_cast<uint8_t>(Role::kRead));
  auto admin = ParseRoles("admin");
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(*admin, 7);
  auto unknown = ParseRoles("score,root");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().find("'root'"), std::string::npos) << unknown.error();
  EXPECT_FALSE(ParseRoles("score,,read").ok());
  EXPECT_FALSE(ParseRoles("").ok());
}

// Each bad file must fail with a message naming the entry and the problem.
TEST(ApiKeys, BadFilesNameTheProblem) {
  const std::string good_hash = Sha256Hex(kSalt1, kSecret1);
  const std::string entry_head = "keys:\n  - {id: k1, name: n, roles: [score], ";
  struct Case {
    std::string yaml;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"keys:\n  - {id: k1, name: n, roles: [score], salt: " + std::string(kSalt1) + "}\n",
       {"keys[0] (id k1)", "missing field 'sha256'"}},
      {"keys:\n  - {name: n, roles: [score]}\n", {"keys[0]", "missing field 'id'"}},
      {entry_head + "salt: xyz1, sha256: " + good_hash + "}\n", {"(id k1)", "salt: not a hex"}},
      {entry_head + "salt: " + kSalt1 + ", sha256: abcd}\n", {"(id k1)", "sha256: must be 64"}},
      {entry_head + "salt: 0011, sha256: " + good_hash + "}\n", {"(id k1)", "salt: must be 8-64"}},
      {"keys:\n  - {id: k1, name: n, roles: [root], salt: " + std::string(kSalt1) +
           ", sha256: " + good_hash + "}\n",
       {"(id k1)", "unknown role 'root'"}},
      {entry_head + "salt: " + kSalt1 + ", sha256: " + good_hash + ", secret: oops}\n",
       {"(id k1)", "unknown field 'secret'"}},
      {entry_head + "salt: " + kSalt1 + ", sha256: " + good_hash + "}\n" +
           "  - {id: k1, name: other, roles: [read], salt: " + kSalt2 + ", sha256: " + good_hash +
           "}\n",
       {"keys[1] (id k1)", "duplicate id 'k1'", "line 3"}},
      {"keys:\n  - {id: bad_id, name: n, roles: [score], salt: " + std::string(kSalt1) +
           ", sha256: " + good_hash + "}\n",
       {"keys[0]", "id 'bad_id'"}},
      {"keys: {id: k1}\n", {"'keys' must be a list"}},
      {"users: []\n", {"unknown top-level key 'users'"}},
      {"keys: []\nkeys: []\n", {"'keys' appears twice"}},
      {"keys: [ {id: k1\n", {"line"}},
  };
  for (const Case& test_case : cases) {
    auto store = ApiKeyStore::Parse(test_case.yaml, "keys.yaml");
    ASSERT_FALSE(store.ok()) << test_case.yaml;
    EXPECT_EQ(store.error().rfind("keys.yaml: ", 0), 0u) << store.error();
    for (const std::string& part : test_case.expected) {
      EXPECT_NE(store.error().find(part), std::string::npos)
          << "'" << store.error() << "' lacks '" << part << "'";
    }
  }
}

TEST_F(ApiKeysFileTest, LoadsFileAndNamesMissingFile) {
  Write(TwoKeysYaml());
  auto store = ApiKeyStore::LoadFile(path_.string());
  ASSERT_TRUE(store.ok()) << store.error();
  EXPECT_EQ(store->size(), 2u);
  EXPECT_TRUE(store->Authenticate(std::string("fg_ops-2_") + kSecret2).has_value());

  auto missing = ApiKeyStore::LoadFile(path_.string() + ".missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find(".missing"), std::string::npos) << missing.error();
}

TEST_F(ApiKeysFileTest, GeneratedKeyAuthenticatesAfterBeingAppendedToTheFile) {
  auto generated =
      ApiKeyStore::GenerateKey("fraud \"analyst\": west", static_cast<uint8_t>(Role::kRead));
  ASSERT_TRUE(generated.ok()) << generated.error();
  const auto& [plain_key, entry] = *generated;
  EXPECT_EQ(plain_key.rfind("fg_", 0), 0u);
  EXPECT_EQ(entry.find(plain_key.substr(plain_key.rfind('_') + 1)), std::string::npos)
      << "the entry must not contain the secret";
  auto admin = ApiKeyStore::GenerateKey("root", static_cast<uint8_t>(Role::kAdmin));
  ASSERT_TRUE(admin.ok()) << admin.error();

  Write(TwoKeysYaml() + entry + admin->second);
  auto store = ApiKeyStore::LoadFile(path_.string());
  ASSERT_TRUE(store.ok()) << store.error();
  EXPECT_EQ(store->size(), 4u);
  auto principal = store->Authenticate(plain_key);
  ASSERT_TRUE(principal.has_value());
  EXPECT_EQ(principal->name, "fraud \"analyst\": west");
  EXPECT_TRUE(principal->Has(Role::kRead));
  EXPECT_FALSE(principal->Has(Role::kScore));
  auto root = store->Authenticate(admin->first);
  ASSERT_TRUE(root.has_value());
  EXPECT_TRUE(root->Has(Role::kAdmin) && root->Has(Role::kScore));
  // Older keys still work and the two generated keys are distinct.
  EXPECT_TRUE(store->Authenticate(std::string("fg_checkout1_") + kSecret1).has_value());
  EXPECT_NE(plain_key, admin->first);

  EXPECT_FALSE(ApiKeyStore::GenerateKey("", static_cast<uint8_t>(Role::kRead)).ok());
  EXPECT_FALSE(ApiKeyStore::GenerateKey("x", 0).ok());
  EXPECT_FALSE(ApiKeyStore::GenerateKey("x", 8).ok());
}

}  // namespace
}  // namespace fraudguard
