// Business rules applied after the model score: deny lists, allow lists and overrides, loaded
// from a YAML file. Each rule carries a reason code that is reported with the decision.
//
//   deny:       # a transaction whose `field` equals one of `values` is declined
//     - field: card_id
//       values: ["4111111111111111", "5500000000000004"]
//       reason_code: DENY_CARD
//       description: "Cards reported stolen"
//   allow:      # a transaction whose `field` equals one of `values` is approved
//     - {field: customer_id, values: [c_vip_1], reason_code: ALLOW_VIP, description: "VIPs"}
//   overrides:  # a transaction meeting every condition of `when` gets `effect`
//     - name: high_risk_mcc
//       when: {merchant_category: ["7995"], min_amount: 1000}
//       effect: review          # review | deny | allow
//       reason_code: MCC_GAMBLING_LARGE
//       description: "Large gambling payments"
//
// Fields (lists and `when` alike): card_id, device_id, ip, merchant_id, customer_id,
// merchant_category, country, channel, currency. Values compare exactly; a field the transaction
// does not carry (empty) matches nothing. Numeric conditions of `when`, inclusive bounds:
// min_amount, max_amount, min_score, max_score (score 0-100). `description` is optional; every
// other key shown is required, and unknown keys are errors.
//
// Precedence: deny beats allow beats review. The outcome reports the rules of the winning
// effect, in file order (deny lists, then allow lists, then overrides). When one value appears
// in several lists of the same kind and field, the first such list is reported.
//
// Limits (RuleLimits): 10,000 rules, 1,000,000 values in all, 256 bytes per value; 64 MiB of text.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/transaction.h"

namespace fraudguard {

struct RuleMatch {
  std::string reason_code;
  std::string description;
  bool operator==(const RuleMatch&) const = default;
};

enum class RuleEffect { kNone, kAllow, kDeny, kReview };

// "none", "allow", "deny" or "review".
std::string_view RuleEffectName(RuleEffect effect);

struct RuleOutcome {
  RuleEffect effect = RuleEffect::kNone;
  std::vector<RuleMatch> matches;  // The rules behind `effect`; empty when it is kNone.
};

// Bounds on a rules file, so that a mistaken or hostile file cannot exhaust memory.
struct RuleLimits {
  size_t max_rules = 10000;
  size_t max_values = 1000000;  // Across all lists and conditions.
  size_t max_value_length = 256;
};

class RuleSet {
public:
  RuleSet() = default;  // No rules: every outcome is kNone.

  // Errors name the file, the rule (list and index, and its name or reason code) and the key.
  static Result<RuleSet> LoadFile(const std::string& path, const RuleLimits& limits = {});
  static Result<RuleSet> Parse(std::string_view yaml_text, const RuleLimits& limits = {});

  // Thread-safe (const). Hash lookups per field; allocates only when a rule matches.
  RuleOutcome Apply(const Transaction& txn, double risk_score) const;

  size_t size() const { return rule_count_; }  // Deny lists + allow lists + overrides.
  // The first 16 hex digits of the SHA-256 of the file content, to tie decisions to rules.
  const std::string& version() const { return version_; }

  enum class Field : uint8_t {
    kCardId,
    kDeviceId,
    kIp,
    kMerchantId,
    kCustomerId,
    kMerchantCategory,
    kCountry,
    kChannel,
    kCurrency,
  };
  static constexpr size_t kFieldCount = 9;

private:
  // Searchable by string_view without building a std::string.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };
  using ValueSet = std::unordered_set<std::string, TextHash, std::equal_to<>>;
  // Value -> index of the first list rule naming it.
  using ValueIndex = std::unordered_map<std::string, uint32_t, TextHash, std::equal_to<>>;

  struct Override {
    std::string name;
    RuleEffect effect = RuleEffect::kReview;
    RuleMatch match;
    std::vector<std::pair<Field, ValueSet>> field_conditions;
    double min_amount, max_amount, min_score, max_score;
  };

  friend class RuleSetParser;

  std::array<ValueIndex, kFieldCount> deny_index_;
  std::array<ValueIndex, kFieldCount> allow_index_;
  std::vector<RuleMatch> deny_rules_;
  std::vector<RuleMatch> allow_rules_;
  std::vector<Override> overrides_;
  size_t rule_count_ = 0;
  std::string version_;
};

}  // namespace fraudguard
