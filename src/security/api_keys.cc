#include "security/api_keys.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <yaml-cpp/yaml.h>

namespace fraudguard {
namespace {

constexpr std::string_view kKeyPrefix = "fg_";
constexpr size_t kMaxIdLength = 64;
constexpr size_t kMaxSecretLength = 256;
constexpr size_t kMinSaltBytes = 8;
constexpr size_t kMaxSaltBytes = 64;
constexpr size_t kMaxNameLength = 128;
constexpr size_t kMaxKeys = 100000;
constexpr std::uintmax_t kMaxFileBytes = 16u << 20;
// Sizes of a generated key's parts, in random bytes (each shown as two hex digits).
constexpr size_t kGeneratedIdBytes = 6;
constexpr size_t kGeneratedSecretBytes = 32;
constexpr size_t kGeneratedSaltBytes = 16;

constexpr char kHexDigits[] = "0123456789abcdef";

std::string ToHex(const uint8_t* data, size_t size) {
  std::string hex;
  hex.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    hex.push_back(kHexDigits[data[i] >> 4]);
    hex.push_back(kHexDigits[data[i] & 0x0f]);
  }
  return hex;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// False when `hex` has odd length or a non-hex character.
bool FromHex(std::string_view hex, std::vector<uint8_t>& bytes) {
  if (hex.size() % 2 != 0) {
    return false;
  }
  bytes.clear();
  bytes.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = HexValue(hex[i]);
    const int low = HexValue(hex[i + 1]);
    if (high < 0 || low < 0) {
      return false;
    }
    bytes.push_back(static_cast<uint8_t>(high << 4 | low));
  }
  return true;
}

// Ids select an entry and are split from the secret at the first '_' after the prefix, so they
// may not contain '_'.
bool IsValidId(std::string_view id) {
  return !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

void HashSaltedSecret(const std::vector<uint8_t>& salt,
                      std::string_view secret,
                      uint8_t (&digest)[SHA256_DIGEST_LENGTH]) {
  // Both parts are bounded, so salt || secret fits a stack buffer and the check allocates nothing.
  uint8_t buffer[kMaxSaltBytes + kMaxSecretLength];
  std::memcpy(buffer, salt.data(), salt.size());
  std::memcpy(buffer + salt.size(), secret.data(), secret.size());
  SHA256(buffer, salt.size() + secret.size(), digest);
  OPENSSL_cleanse(buffer, sizeof(buffer));
}

std::string Trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) {
    return {};
  }
  const auto end = text.find_last_not_of(" \t");
  return std::string(text.substr(begin, end - begin + 1));
}

Result<uint8_t> RoleBit(std::string_view name) {
  if (name == "score") {
    return static_cast<uint8_t>(Role::kScore);
  }
  if (name == "read") {
    return static_cast<uint8_t>(Role::kRead);
  }
  if (name == "admin") {
    return static_cast<uint8_t>(static_cast<uint8_t>(Role::kAdmin) |
                                static_cast<uint8_t>(Role::kRead) |
                                static_cast<uint8_t>(Role::kScore));
  }
  return Error{"unknown role '" + std::string(name) + "' (expected score, read or admin)"};
}

std::string Where(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    return "";
  }
  return " (line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ")";
}

}  // namespace

Result<uint8_t> ParseRoles(std::string_view comma_separated) {
  uint8_t roles = 0;
  size_t start = 0;
  while (start <= comma_separated.size()) {
    size_t comma = comma_separated.find(',', start);
    if (comma == std::string_view::npos) {
      comma = comma_separated.size();
    }
    const std::string name = Trim(comma_separated.substr(start, comma - start));
    if (name.empty()) {
      return Error{"roles '" + std::string(comma_separated) + "': empty role name"};
    }
    Result<uint8_t> bit = RoleBit(name);
    if (!bit) {
      return Error{"roles '" + std::string(comma_separated) + "': " + bit.error()};
    }
    roles |= *bit;
    start = comma + 1;
  }
  return roles;
}

std::string_view PresentedApiKey(std::string_view x_api_key_header,
                                 std::string_view authorization_header) {
  if (!x_api_key_header.empty()) {
    return x_api_key_header;
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization_header.size() > kBearer.size() &&
      authorization_header.substr(0, kBearer.size()) == kBearer) {
    std::string_view token = authorization_header.substr(kBearer.size());
    while (!token.empty() && token.front() == ' ') {
      token.remove_prefix(1);
    }
    while (!token.empty() && token.back() == ' ') {
      token.remove_suffix(1);
    }
    return token;
  }
  return {};
}

Result<ApiKeyStore> ApiKeyStore::LoadFile(const std::string& path) {
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  if (size_error) {
    return Error{"api keys file '" + path + "': " + size_error.message()};
  }
  if (size > kMaxFileBytes) {
    return Error{"api keys file '" + path + "': larger than " + std::to_string(kMaxFileBytes) +
                 " bytes"};
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Error{"api keys file '" + path + "': cannot open"};
  }
  std::ostringstream text;
  text << file.rdbuf();
  Result<ApiKeyStore> store = Parse(text.str(), "api keys file '" + path + "'");
  return store;
}

Result<ApiKeyStore> ApiKeyStore::Parse(std::string_view yaml_text, std::string_view source) {
  const std::string prefix(source);
  if (yaml_text.size() > kMaxFileBytes) {
    return Error{prefix + ": larger than " + std::to_string(kMaxFileBytes) + " bytes"};
  }
  ApiKeyStore store;
  // yaml-cpp reports problems by throwing; loading happens at startup, never per request.
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root.IsMap()) {
      return Error{prefix + ": expected a mapping with a 'keys' list" + Where(root)};
    }
    size_t keys_lists = 0;
    for (const auto& item : root) {
      const std::string key = item.first.as<std::string>();
      if (key != "keys") {
        return Error{prefix + ": unknown top-level key '" + key + "'" + Where(item.first)};
      }
      // yaml-cpp keeps one of two equal keys; a second list would silently vanish.
      if (++keys_lists > 1) {
        return Error{prefix + ": 'keys' appears twice" + Where(item.first)};
      }
    }
    const YAML::Node keys = root["keys"];
    if (!keys || !keys.IsSequence()) {
      return Error{prefix + ": 'keys' must be a list" + Where(keys ? keys : root)};
    }
    if (keys.size() > kMaxKeys) {
      return Error{prefix + ": more than " + std::to_string(kMaxKeys) + " keys"};
    }
    for (size_t index = 0; index < keys.size(); ++index) {
      const YAML::Node entry = keys[index];
      std::string entry_name = "keys[" + std::to_string(index) + "]";
      auto fail = [&](const std::string& problem, const YAML::Node& at) {
        return Error{prefix + ": " + entry_name + ": " + problem + Where(at)};
      };
      if (!entry.IsMap()) {
        return fail("expected a mapping with id, name, roles, salt and sha256", entry);
      }
      // The id first, so that every later error names the entry by it.
      const YAML::Node id_node = entry["id"];
      if (!id_node || !id_node.IsScalar()) {
        return fail("missing field 'id'", entry);
      }
      const std::string id = id_node.as<std::string>();
      if (!IsValidId(id)) {
        return fail("id '" + id + "' must be 1-64 letters, digits or '-'", id_node);
      }
      entry_name += " (id " + id + ")";
      for (const auto& field : entry) {
        const std::string field_name = field.first.as<std::string>();
        if (field_name != "id" && field_name != "name" && field_name != "roles" &&
            field_name != "salt" && field_name != "sha256") {
          return fail("unknown field '" + field_name + "'", field.first);
        }
      }
      for (const char* required : {"name", "roles", "salt", "sha256"}) {
        if (!entry[required]) {
          return fail(std::string("missing field '") + required + "'", entry);
        }
      }

      StoredKey stored;
      const YAML::Node name = entry["name"];
      if (!name.IsScalar() || name.Scalar().empty() || name.Scalar().size() > kMaxNameLength) {
        return fail("name: must be 1-128 characters", name);
      }
      stored.principal.name = name.Scalar();

      const YAML::Node roles = entry["roles"];
      if (!roles.IsSequence() || roles.size() == 0) {
        return fail("roles: must be a non-empty list of score, read, admin", roles);
      }
      for (const auto& role : roles) {
        Result<uint8_t> bit = role.IsScalar() ? RoleBit(role.Scalar())
                                              : Result<uint8_t>(Error{"a role must be a name"});
        if (!bit) {
          return fail("roles: " + bit.error(), role);
        }
        stored.principal.roles |= *bit;
      }

      const YAML::Node salt = entry["salt"];
      if (!salt.IsScalar() || !FromHex(salt.Scalar(), stored.salt)) {
        return fail("salt: not a hex string", salt);
      }
      if (stored.salt.size() < kMinSaltBytes || stored.salt.size() > kMaxSaltBytes) {
        return fail("salt: must be 8-64 bytes (16-128 hex digits)", salt);
      }

      const YAML::Node digest = entry["sha256"];
      std::vector<uint8_t> digest_bytes;
      if (!digest.IsScalar() || !FromHex(digest.Scalar(), digest_bytes)) {
        return fail("sha256: not a hex string", digest);
      }
      if (digest_bytes.size() != stored.sha256.size()) {
        return fail("sha256: must be 64 hex digits", digest);
      }
      std::copy(digest_bytes.begin(), digest_bytes.end(), stored.sha256.begin());

      if (store.keys_.contains(id)) {
        return fail("duplicate id '" + id + "'", id_node);
      }
      store.keys_.emplace(id, std::move(stored));
    }
  } catch (const YAML::Exception& error) {
    std::string message = prefix + ": " + error.msg;
    if (!error.mark.is_null()) {
      message += " (line " + std::to_string(error.mark.line + 1) + ", column " +
                 std::to_string(error.mark.column + 1) + ")";
    }
    return Error{std::move(message)};
  }
  return store;
}

std::optional<Principal> ApiKeyStore::Authenticate(std::string_view presented_key) const {
  if (presented_key.size() <= kKeyPrefix.size() ||
      presented_key.substr(0, kKeyPrefix.size()) != kKeyPrefix) {
    return std::nullopt;
  }
  const std::string_view rest = presented_key.substr(kKeyPrefix.size());
  const size_t separator = rest.find('_');
  if (separator == std::string_view::npos) {
    return std::nullopt;
  }
  const std::string_view id = rest.substr(0, separator);
  const std::string_view secret = rest.substr(separator + 1);
  if (id.empty() || id.size() > kMaxIdLength || secret.empty() ||
      secret.size() > kMaxSecretLength) {
    return std::nullopt;
  }
  // The id is public, so finding it need not be constant-time; the secret comparison must be.
  const auto found = keys_.find(id);
  if (found == keys_.end()) {
    return std::nullopt;
  }
  uint8_t digest[SHA256_DIGEST_LENGTH];
  HashSaltedSecret(found->second.salt, secret, digest);
  if (CRYPTO_memcmp(digest, found->second.sha256.data(), sizeof(digest)) != 0) {
    return std::nullopt;
  }
  return found->second.principal;
}

Result<std::pair<std::string, std::string>> ApiKeyStore::GenerateKey(std::string_view name,
                                                                     uint8_t roles) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return Error{"key name must be 1-128 characters"};
  }
  const uint8_t all_roles = static_cast<uint8_t>(Role::kScore) | static_cast<uint8_t>(Role::kRead) |
                            static_cast<uint8_t>(Role::kAdmin);
  if (roles == 0 || (roles & ~all_roles) != 0) {
    return Error{"key roles must be a non-empty combination of score, read and admin"};
  }
  uint8_t id_bytes[kGeneratedIdBytes];
  uint8_t secret_bytes[kGeneratedSecretBytes];
  std::vector<uint8_t> salt(kGeneratedSaltBytes);
  if (RAND_bytes(id_bytes, sizeof(id_bytes)) != 1 ||
      RAND_bytes(secret_bytes, sizeof(secret_bytes)) != 1 ||
      RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    return Error{"generating an api key: the random number generator failed"};
  }
  const std::string id = ToHex(id_bytes, sizeof(id_bytes));
  const std::string secret = ToHex(secret_bytes, sizeof(secret_bytes));
  OPENSSL_cleanse(secret_bytes, sizeof(secret_bytes));
  uint8_t digest[SHA256_DIGEST_LENGTH];
  HashSaltedSecret(salt, secret, digest);

  YAML::Emitter entry;
  entry << YAML::Flow << YAML::BeginMap;
  entry << YAML::Key << "id" << YAML::Value << id;
  entry << YAML::Key << "name" << YAML::Value << YAML::DoubleQuoted << std::string(name);
  entry << YAML::Key << "roles" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  if ((roles & static_cast<uint8_t>(Role::kAdmin)) != 0) {
    entry << "admin";
  } else {
    if ((roles & static_cast<uint8_t>(Role::kScore)) != 0) {
      entry << "score";
    }
    if ((roles & static_cast<uint8_t>(Role::kRead)) != 0) {
      entry << "read";
    }
  }
  entry << YAML::EndSeq;
  entry << YAML::Key << "salt" << YAML::Value << ToHex(salt.data(), salt.size());
  entry << YAML::Key << "sha256" << YAML::Value << ToHex(digest, sizeof(digest));
  entry << YAML::EndMap;
  if (!entry.good()) {
    return Error{"generating an api key: " + entry.GetLastError()};
  }
  std::string plain_key = std::string(kKeyPrefix) + id + "_" + secret;
  return std::pair{std::move(plain_key), "  - " + std::string(entry.c_str()) + "\n"};
}

}  // namespace fraudguard
