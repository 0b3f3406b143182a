#include "scoring/rules.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

#include <openssl/sha.h>
#include <yaml-cpp/yaml.h>

namespace fraudguard {
namespace {

constexpr size_t kMaxCodeLength = 64;
constexpr size_t kMaxDescriptionLength = 512;
constexpr std::uintmax_t kMaxTextBytes = 64u << 20;
constexpr size_t kVersionHexDigits = 16;

using Field = RuleSet::Field;

constexpr std::array<std::pair<std::string_view, Field>, RuleSet::kFieldCount> kFieldNames = {{
    {"card_id", Field::kCardId},
    {"device_id", Field::kDeviceId},
    {"ip", Field::kIp},
    {"merchant_id", Field::kMerchantId},
    {"customer_id", Field::kCustomerId},
    {"merchant_category", Field::kMerchantCategory},
    {"country", Field::kCountry},
    {"channel", Field::kChannel},
    {"currency", Field::kCurrency},
}};

std::optional<Field> FieldByName(std::string_view name) {
  for (const auto& [field_name, field] : kFieldNames) {
    if (field_name == name) {
      return field;
    }
  }
  return std::nullopt;
}

const std::string& FieldValue(const Transaction& txn, Field field) {
  switch (field) {
    case Field::kCardId:
      return txn.card_id;
    case Field::kDeviceId:
      return txn.device_id;
    case Field::kIp:
      return txn.ip;
    case Field::kMerchantId:
      return txn.merchant_id;
    case Field::kCustomerId:
      return txn.customer_id;
    case Field::kMerchantCategory:
      return txn.merchant_category;
    case Field::kCountry:
      return txn.country;
    case Field::kChannel:
      return txn.channel;
    case Field::kCurrency:
      return txn.currency;
  }
  return txn.card_id;  // Unreachable: the switch covers every field.
}

std::string FieldList() {
  std::string names;
  for (const auto& [name, field] : kFieldNames) {
    names += names.empty() ? "" : ", ";
    names += name;
  }
  return names;
}

std::string Where(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    return "";
  }
  return " (line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1) +
         ")";
}

bool IsValidReasonCode(std::string_view code) {
  if (code.empty() || code.size() > kMaxCodeLength) {
    return false;
  }
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool ParseNumber(const YAML::Node& node, double& value) {
  if (!node.IsScalar()) {
    return false;
  }
  const std::string& text = node.Scalar();
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && ptr == end && std::isfinite(value);
}

std::string Sha256Prefix(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < kVersionHexDigits / 2; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

}  // namespace

std::string_view RuleEffectName(RuleEffect effect) {
  switch (effect) {
    case RuleEffect::kNone:
      return "none";
    case RuleEffect::kAllow:
      return "allow";
    case RuleEffect::kDeny:
      return "deny";
    case RuleEffect::kReview:
      return "review";
  }
  return "none";
}

// Builds a RuleSet from a parsed document; every error names the rule and the key.
class RuleSetParser {
public:
  RuleSetParser(RuleSet& rules, const RuleLimits& limits) : rules_(rules), limits_(limits) {}

  Status ParseDocument(const YAML::Node& root) {
    if (root.IsNull()) {
      return OkStatus();  // An empty file: no rules.
    }
    if (!root.IsMap()) {
      return Error{"expected a mapping with deny, allow and overrides" + Where(root)};
    }
    for (const auto& item : root) {
      const std::string key = item.first.as<std::string>();
      if (key != "deny" && key != "allow" && key != "overrides") {
        return Error{"unknown top-level key '" + key + "' (expected deny, allow, overrides)" +
                     Where(item.first)};
      }
      if (!item.second.IsSequence() && !item.second.IsNull()) {
        return Error{"'" + key + "' must be a list" + Where(item.second)};
      }
      if (item.second.IsNull()) {
        continue;
      }
      for (size_t index = 0; index < item.second.size(); ++index) {
        const std::string rule_name = key + "[" + std::to_string(index) + "]";
        if (++rules_.rule_count_ > limits_.max_rules) {
          return Error{rule_name + ": more than " + std::to_string(limits_.max_rules) + " rules"};
        }
        const Status status =
            key == "overrides"
                ? ParseOverride(item.second[index], rule_name)
                : ParseList(item.second[index], rule_name,
                            key == "deny" ? rules_.deny_index_ : rules_.allow_index_,
                            key == "deny" ? rules_.deny_rules_ : rules_.allow_rules_);
        if (!status) {
          return status;
        }
      }
    }
    return OkStatus();
  }

private:
  // Reads reason_code and description, and checks that `node` has no keys beyond `allowed`.
  Status ParseCommon(const YAML::Node& node,
                     std::string& rule_name,
                     std::initializer_list<std::string_view> allowed,
                     RuleMatch& match) {
    if (!node.IsMap()) {
      return Error{rule_name + ": expected a mapping" + Where(node)};
    }
    const YAML::Node code = node["reason_code"];
    if (!code) {
      return Error{rule_name + ": missing key 'reason_code'" + Where(node)};
    }
    if (!code.IsScalar() || !IsValidReasonCode(code.Scalar())) {
      return Error{rule_name + ": reason_code: must be 1-64 of A-Z, 0-9 and _" + Where(code)};
    }
    match.reason_code = code.Scalar();
    rule_name += " (" + match.reason_code + ")";
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      bool known = key == "reason_code" || key == "description";
      for (std::string_view name : allowed) {
        known = known || key == name;
      }
      if (!known) {
        return Error{rule_name + ": unknown key '" + key + "'" + Where(item.first)};
      }
    }
    if (const YAML::Node description = node["description"]; description) {
      if (!description.IsScalar() || description.Scalar().size() > kMaxDescriptionLength) {
        return Error{rule_name + ": description: must be text of at most 512 bytes" +
                     Where(description)};
      }
      match.description = description.Scalar();
    }
    return OkStatus();
  }

  Result<Field> ParseField(const YAML::Node& node,
                           const std::string& rule_name,
                           const std::string& key) {
    std::optional<Field> field = node.IsScalar() ? FieldByName(node.Scalar()) : std::nullopt;
    if (!field) {
      return Error{rule_name + ": " + key + ": unknown field '" +
                   (node.IsScalar() ? node.Scalar() : std::string("?")) + "' (expected one of " +
                   FieldList() + ")" + Where(node)};
    }
    return *field;
  }

  // Calls `add` with each value of the list `node`, checking bounds.
  template <typename Add>
  Status ForEachValue(const YAML::Node& node,
                      const std::string& rule_name,
                      const std::string& key,
                      Add add) {
    if (!node.IsSequence() || node.size() == 0) {
      return Error{rule_name + ": " + key + ": must be a non-empty list" + Where(node)};
    }
    for (const auto& value : node) {
      if (!value.IsScalar() || value.Scalar().empty() ||
          value.Scalar().size() > limits_.max_value_length) {
        return Error{rule_name + ": " + key + ": each value must be text of 1-" +
                     std::to_string(limits_.max_value_length) + " bytes" + Where(value)};
      }
      if (++value_count_ > limits_.max_values) {
        return Error{rule_name + ": " + key + ": more than " + std::to_string(limits_.max_values) +
                     " values in the file" + Where(value)};
      }
      add(value.Scalar());
    }
    return OkStatus();
  }

  Status ParseList(const YAML::Node& node,
                   std::string rule_name,
                   std::array<RuleSet::ValueIndex, RuleSet::kFieldCount>& index,
                   std::vector<RuleMatch>& rules) {
    RuleMatch match;
    if (Status status = ParseCommon(node, rule_name, {"field", "values"}, match); !status) {
      return status;
    }
    for (const char* required : {"field", "values"}) {
      if (!node[required]) {
        return Error{rule_name + ": missing key '" + required + "'" + Where(node)};
      }
    }
    Result<Field> field = ParseField(node["field"], rule_name, "field");
    if (!field) {
      return Error{field.error()};
    }
    const auto rule_index = static_cast<uint32_t>(rules.size());
    auto& values = index[static_cast<size_t>(*field)];
    if (Status status = ForEachValue(node["values"], rule_name, "values",
                                     [&](const std::string& value) {
                                       values.emplace(value, rule_index);  // Keeps the first.
                                     });
        !status) {
      return status;
    }
    rules.push_back(std::move(match));
    return OkStatus();
  }

  Status ParseOverride(const YAML::Node& node, std::string rule_name) {
    RuleSet::Override rule;
    if (node.IsMap() && node["name"] && node["name"].IsScalar()) {
      rule.name = node["name"].Scalar();
      rule_name += " '" + rule.name + "'";
    }
    if (Status status = ParseCommon(node, rule_name, {"name", "when", "effect"}, rule.match);
        !status) {
      return status;
    }
    for (const char* required : {"name", "when", "effect"}) {
      if (!node[required]) {
        return Error{rule_name + ": missing key '" + required + "'" + Where(node)};
      }
    }
    if (rule.name.empty() || rule.name.size() > kMaxCodeLength) {
      return Error{rule_name + ": name: must be text of 1-64 bytes" + Where(node["name"])};
    }

    const YAML::Node effect = node["effect"];
    const std::string effect_name = effect.IsScalar() ? effect.Scalar() : "";
    if (effect_name == "review") {
      rule.effect = RuleEffect::kReview;
    } else if (effect_name == "deny") {
      rule.effect = RuleEffect::kDeny;
    } else if (effect_name == "allow") {
      rule.effect = RuleEffect::kAllow;
    } else {
      return Error{rule_name + ": effect: must be review, deny or allow" + Where(effect)};
    }

    const YAML::Node when = node["when"];
    if (!when.IsMap() || when.size() == 0) {
      return Error{rule_name + ": when: must be a non-empty mapping of conditions" + Where(when)};
    }
    rule.min_amount = rule.min_score = -std::numeric_limits<double>::infinity();
    rule.max_amount = rule.max_score = std::numeric_limits<double>::infinity();
    const std::pair<std::string_view, double*> bounds[] = {{"min_amount", &rule.min_amount},
                                                           {"max_amount", &rule.max_amount},
                                                           {"min_score", &rule.min_score},
                                                           {"max_score", &rule.max_score}};
    for (const auto& condition : when) {
      const std::string key = condition.first.as<std::string>();
      const std::string where_key = "when." + key;
      double* bound = nullptr;
      for (const auto& [bound_name, target] : bounds) {
        if (bound_name == key) {
          bound = target;
        }
      }
      if (bound != nullptr) {
        if (!ParseNumber(condition.second, *bound)) {
          return Error{rule_name + ": " + where_key + ": not a number" + Where(condition.second)};
        }
        continue;
      }
      Result<Field> field = ParseField(condition.first, rule_name, "when");
      if (!field) {
        return Error{rule_name + ": when: unknown condition '" + key +
                     "' (expected a field, min_amount, max_amount, min_score or max_score)" +
                     Where(condition.first)};
      }
      RuleSet::ValueSet values;
      if (Status status = ForEachValue(condition.second, rule_name, where_key,
                                       [&](const std::string& value) { values.insert(value); });
          !status) {
        return status;
      }
      rule.field_conditions.emplace_back(*field, std::move(values));
    }
    if (rule.min_amount > rule.max_amount || rule.min_score > rule.max_score) {
      return Error{rule_name + ": when: a minimum exceeds its maximum" + Where(when)};
    }
    rules_.overrides_.push_back(std::move(rule));
    return OkStatus();
  }

  RuleSet& rules_;
  const RuleLimits& limits_;
  size_t value_count_ = 0;
};

Result<RuleSet> RuleSet::Parse(std::string_view yaml_text, const RuleLimits& limits) {
  if (yaml_text.size() > kMaxTextBytes) {
    return Error{"rules: larger than " + std::to_string(kMaxTextBytes) + " bytes"};
  }
  RuleSet rules;
  RuleSetParser parser(rules, limits);
  // yaml-cpp reports problems by throwing; rules load at startup or reload, never per request.
  try {
    if (Status status = parser.ParseDocument(YAML::Load(std::string(yaml_text))); !status) {
      return Error{"rules: " + status.error()};
    }
  } catch (const YAML::Exception& error) {
    std::string message = "rules: " + error.msg;
    if (!error.mark.is_null()) {
      message += " (line " + std::to_string(error.mark.line + 1) + ", column " +
                 std::to_string(error.mark.column + 1) + ")";
    }
    return Error{std::move(message)};
  }
  rules.version_ = Sha256Prefix(yaml_text);
  return rules;
}

Result<RuleSet> RuleSet::LoadFile(const std::string& path, const RuleLimits& limits) {
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::file_size(path, size_error);
  if (size_error) {
    return Error{"rules file '" + path + "': " + size_error.message()};
  }
  if (size > kMaxTextBytes) {
    return Error{"rules file '" + path + "': larger than " + std::to_string(kMaxTextBytes) +
                 " bytes"};
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Error{"rules file '" + path + "': cannot open"};
  }
  std::ostringstream text;
  text << file.rdbuf();
  Result<RuleSet> rules = Parse(text.str(), limits);
  if (!rules) {
    return Error{"rules file '" + path + "': " + rules.error()};
  }
  return rules;
}

RuleOutcome RuleSet::Apply(const Transaction& txn, double risk_score) const {
  // Rule indices per effect, gathered without allocating; copied out only for the winner.
  constexpr size_t kMaxListMatches = kFieldCount;
  uint32_t deny_hits[kMaxListMatches];
  uint32_t allow_hits[kMaxListMatches];
  size_t deny_count = 0;
  size_t allow_count = 0;
  for (size_t field = 0; field < kFieldCount; ++field) {
    if (deny_index_[field].empty() && allow_index_[field].empty()) {
      continue;
    }
    const std::string& value = FieldValue(txn, static_cast<Field>(field));
    if (value.empty()) {
      continue;
    }
    if (auto found = deny_index_[field].find(value); found != deny_index_[field].end()) {
      deny_hits[deny_count++] = found->second;
    }
    if (auto found = allow_index_[field].find(value); found != allow_index_[field].end()) {
      allow_hits[allow_count++] = found->second;
    }
  }

  RuleOutcome outcome;
  auto override_applies = [&](const Override& rule) {
    if (txn.amount < rule.min_amount || txn.amount > rule.max_amount ||
        risk_score < rule.min_score || risk_score > rule.max_score) {
      return false;
    }
    for (const auto& [field, values] : rule.field_conditions) {
      const std::string& value = FieldValue(txn, field);
      if (value.empty() || !values.contains(value)) {
        return false;
      }
    }
    return true;
  };
  // Which effects the overrides produce, so the winning effect is known before copying matches.
  bool override_effects[4] = {false, false, false, false};
  for (const Override& rule : overrides_) {
    if (override_applies(rule)) {
      override_effects[static_cast<size_t>(rule.effect)] = true;
    }
  }
  if (deny_count > 0 || override_effects[static_cast<size_t>(RuleEffect::kDeny)]) {
    outcome.effect = RuleEffect::kDeny;
  } else if (allow_count > 0 || override_effects[static_cast<size_t>(RuleEffect::kAllow)]) {
    outcome.effect = RuleEffect::kAllow;
  } else if (override_effects[static_cast<size_t>(RuleEffect::kReview)]) {
    outcome.effect = RuleEffect::kReview;
  } else {
    return outcome;
  }

  // List matches in file order (field order otherwise), then the overrides with the effect.
  if (outcome.effect == RuleEffect::kDeny || outcome.effect == RuleEffect::kAllow) {
    const bool deny = outcome.effect == RuleEffect::kDeny;
    uint32_t* hits = deny ? deny_hits : allow_hits;
    const size_t count = deny ? deny_count : allow_count;
    std::sort(hits, hits + count);
    const std::vector<RuleMatch>& rules = deny ? deny_rules_ : allow_rules_;
    for (size_t i = 0; i < count; ++i) {
      outcome.matches.push_back(rules[hits[i]]);
    }
  }
  for (const Override& rule : overrides_) {
    if (rule.effect == outcome.effect && override_applies(rule)) {
      outcome.matches.push_back(rule.match);
    }
  }
  return outcome;
}

}  // namespace fraudguard
