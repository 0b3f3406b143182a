// API keys: callers authenticate with a key in the `X-API-Key` header (or
// `Authorization: Bearer <key>`), and each key carries roles.
//
// A key reads "fg_<id>_<secret>". The id is public and only selects the entry; the secret is never
// stored, only SHA-256(salt || secret) with a random per-key salt. Keys file (YAML):
//
//   keys:
//     - {id: 3f9a1c0b7d2e, name: checkout, roles: [score], salt: <hex>, sha256: <hex>}
//     - {id: 0b7d2e3f9a1c, name: ops, roles: [admin], salt: <hex>, sha256: <hex>}
//
// Roles are score (may call the scoring endpoint), read (may look decisions up) and admin (may
// change the service; implies read and score).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/result.h"

namespace fraudguard {

enum class Role : uint8_t { kScore = 1, kRead = 2, kAdmin = 4 };

struct Principal {
  std::string name;
  uint8_t roles = 0;  // Bits of Role, with admin already expanded to read and score.
  bool Has(Role r) const { return (roles & static_cast<uint8_t>(r)) != 0; }
};

// Parses "score,read,admin" (any order, spaces allowed around names) into Role bits; admin adds
// read and score. Unknown or empty names are an error naming them.
Result<uint8_t> ParseRoles(std::string_view comma_separated);

// The key a request presents: the X-API-Key header when present, else the token of an
// "Authorization: Bearer <token>" header; empty when neither carries one.
std::string_view PresentedApiKey(std::string_view x_api_key_header,
                                 std::string_view authorization_header);

class ApiKeyStore {
public:
  // Loads a keys file; errors name the file, the entry (by index and id) and the field.
  static Result<ApiKeyStore> LoadFile(const std::string& path);
  // Same, from YAML text; `source` names it in errors.
  static Result<ApiKeyStore> Parse(std::string_view yaml_text,
                                   std::string_view source = "api keys");

  // Constant-time check of the secret; nullopt for unknown ids and malformed keys. Looks the id
  // up in a hash map and hashes into stack buffers: no scan of all keys, no heap allocation
  // except the returned principal's name.
  std::optional<Principal> Authenticate(std::string_view presented_key) const;
  size_t size() const { return keys_.size(); }

  // Creates a new random key. Returns {plain key, YAML entry}: the plain key is shown to the
  // operator once and never stored; the entry is a line to add under `keys:` in the keys file.
  static Result<std::pair<std::string, std::string>> GenerateKey(std::string_view name,
                                                                 uint8_t roles);

private:
  struct StoredKey {
    Principal principal;
    std::vector<uint8_t> salt;
    std::array<uint8_t, 32> sha256{};
  };
  // Lets the map be searched with a string_view, without building a std::string per request.
  struct IdHash {
    using is_transparent = void;
    size_t operator()(std::string_view id) const { return std::hash<std::string_view>{}(id); }
  };

  std::unordered_map<std::string, StoredKey, IdHash, std::equal_to<>> keys_;
};

}  // namespace fraudguard
