#include "scoring/rules.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

constexpr char kRules[] = R"yaml(
deny:
  - field: card_id
    values: ["4111111111111111", "5500000000000004"]
    reason_code: DENY_CARD
    description: "Cards reported stolen"
  - {field: ip, values: [203.0.113.7], reason_code: DENY_IP}
allow:
  - {field: customer_id, values: [c_vip_1, c_vip_2], reason_code: ALLOW_VIP, description: "VIPs"}
  - {field: card_id, values: ["4111111111111111"], reason_code: ALLOW_TEST_CARD}
overrides:
  - name: high_risk_mcc
    when: {merchant_category: ["7995"], min_amount: 1000}
    effect: review
    reason_code: MCC_GAMBLING_LARGE
    description: "Large gambling payments"
  - name: risky_new_country
    when: {country: [KP, IR], min_score: 50}
    effect: deny
    reason_code: SANCTIONED_RISKY
  - name: small_trusted_channel
    when: {channel: [pos], max_amount: 5, max_score: 90}
    effect: allow
    reason_code: SMALL_POS
)yaml";

Transaction Plain() {
  Transaction txn;
  txn.transaction_id = "t1";
  txn.amount = 50;
  txn.currency = "EUR";
  txn.card_id = "card_plain";
  txn.customer_id = "c_plain";
  txn.merchant_id = "m_1";
  txn.merchant_category = "5411";
  txn.country = "DE";
  txn.channel = "web";
  txn.ip = "198.51.100.1";
  return txn;
}

RuleSet Load() {
  auto rules = RuleSet::Parse(kRules);
  EXPECT_TRUE(rules.ok()) << rules.error();
  return rules.ok() ? std::move(rules).value() : RuleSet();
}

std::vector<std::string> Codes(const RuleOutcome& outcome) {
  std::vector<std::string> codes;
  for (const RuleMatch& match : outcome.matches) {
    codes.push_back(match.reason_code);
  }
  return codes;
}

TEST(Rules, NothingMatchesAnOrdinaryTransaction) {
  const RuleSet rules = Load();
  EXPECT_EQ(rules.size(), 7u);
  const RuleOutcome outcome = rules.Apply(Plain(), 10);
  EXPECT_EQ(outcome.effect, RuleEffect::kNone);
  EXPECT_TRUE(outcome.matches.empty());
}

TEST(Rules, DenyListMatchesByField) {
  const RuleSet rules = Load();
  Transaction txn = Plain();
  txn.ip = "203.0.113.7";
  RuleOutcome outcome = rules.Apply(txn, 1);
  EXPECT_EQ(outcome.effect, RuleEffect::kDeny);
  ASSERT_EQ(outcome.matches.size(), 1u);
  EXPECT_EQ(outcome.matches[0], (RuleMatch{"DENY_IP", ""}));

  // The same text in another field does not match.
  txn = Plain();
  txn.device_id = "203.0.113.7";
  EXPECT_EQ(rules.Apply(txn, 1).effect, RuleEffect::kNone);
}

TEST(Rules, AllowListMatches) {
  const RuleSet rules = Load();
  Transaction txn = Plain();
  txn.customer_id = "c_vip_2";
  const RuleOutcome outcome = rules.Apply(txn, 99);
  EXPECT_EQ(outcome.effect, RuleEffect::kAllow);
  ASSERT_EQ(outcome.matches.size(), 1u);
  EXPECT_EQ(outcome.matches[0], (RuleMatch{"ALLOW_VIP", "VIPs"}));
}

TEST(Rules, OverrideNeedsEveryCondition) {
  const RuleSet rules = Load();
  Transaction txn = Plain();
  txn.merchant_category = "7995";
  txn.amount = 999.99;
  EXPECT_EQ(rules.Apply(txn, 10).effect, RuleEffect::kNone) << "below min_amount";
  txn.amount = 1000;
  RuleOutcome outcome = rules.Apply(txn, 10);
  EXPECT_EQ(outcome.effect, RuleEffect::kReview) << "min_amount is inclusive";
  EXPECT_EQ(Codes(outcome), std::vector<std::string>{"MCC_GAMBLING_LARGE"});

  txn = Plain();
  txn.country = "IR";
  EXPECT_EQ(rules.Apply(txn, 49.9).effect, RuleEffect::kNone) << "below min_score";
  EXPECT_EQ(rules.Apply(txn, 50).effect, RuleEffect::kDeny);

  txn = Plain();
  txn.channel = "pos";
  txn.amount = 4;
  EXPECT_EQ(rules.Apply(txn, 90).effect, RuleEffect::kAllow);
  EXPECT_EQ(rules.Apply(txn, 90.5).effect, RuleEffect::kNone) << "above max_score";
  txn.amount = 6;
  EXPECT_EQ(rules.Apply(txn, 10).effect, RuleEffect::kNone) << "above max_amount";
}

TEST(Rules, DenyBeatsAllowBeatsReview) {
  const RuleSet rules = Load();
  // The test card is on both the deny and the allow list.
  Transaction txn = Plain();
  txn.card_id = "4111111111111111";
  txn.customer_id = "c_vip_1";
  RuleOutcome outcome = rules.Apply(txn, 10);
  EXPECT_EQ(outcome.effect, RuleEffect::kDeny);
  EXPECT_EQ(Codes(outcome), std::vector<std::string>{"DENY_CARD"}) << "only the winning rules";

  // Allow list plus a review override: allow wins.
  txn = Plain();
  txn.customer_id = "c_vip_1";
  txn.merchant_category = "7995";
  txn.amount = 5000;
  outcome = rules.Apply(txn, 10);
  EXPECT_EQ(outcome.effect, RuleEffect::kAllow);
  EXPECT_EQ(Codes(outcome), std::vector<std::string>{"ALLOW_VIP"});

  // A deny override beats an allow list; several deny reasons are all reported in file order.
  txn.country = "KP";
  txn.ip = "203.0.113.7";
  outcome = rules.Apply(txn, 80);
  EXPECT_EQ(outcome.effect, RuleEffect::kDeny);
  EXPECT_EQ(Codes(outcome), (std::vector<std::string>{"DENY_IP", "SANCTIONED_RISKY"}));
}

TEST(Rules, EmptyFieldsMatchNothingAndEmptyFileHasNoRules) {
  auto empty = RuleSet::Parse("");
  ASSERT_TRUE(empty.ok()) << empty.error();
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_EQ(empty->Apply(Plain(), 100).effect, RuleEffect::kNone);

  auto rules = RuleSet::Parse(
      "overrides:\n  - {name: any_device, when: {device_id: [d1]}, "
      "effect: review, reason_code: DEV}\n");
  ASSERT_TRUE(rules.ok()) << rules.error();
  Transaction txn = Plain();
  EXPECT_EQ(rules->Apply(txn, 50).effect, RuleEffect::kNone);
  txn.device_id = "d1";
  EXPECT_EQ(rules->Apply(txn, 50).effect, RuleEffect::kReview);
}

TEST(Rules, VersionIsADigestOfTheContent) {
  auto first = RuleSet::Parse(kRules);
  auto same = RuleSet::Parse(kRules);
  auto other = RuleSet::Parse(std::string(kRules) + "\n# edited\n");
  ASSERT_TRUE(first.ok() && same.ok() && other.ok());
  EXPECT_EQ(first->version().size(), 16u);
  EXPECT_EQ(first->version(), same->version());
  EXPECT_NE(first->version(), other->version());
}

TEST(Rules, BadFilesNameTheRuleAndKey) {
  struct Case {
    std::string yaml;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"deny:\n  - {field: cardid, values: [x], reason_code: D1}\n",
       {"deny[0] (D1)", "field: unknown field 'cardid'", "line 2"}},
      {"deny:\n  - {field: card_id, values: [x]}\n", {"deny[0]", "missing key 'reason_code'"}},
      {"allow:\n  - {field: card_id, reason_code: A1}\n",
       {"allow[0] (A1)", "missing key 'values'"}},
      {"allow:\n  - {field: card_id, values: [], reason_code: A1}\n",
       {"allow[0] (A1)", "values: must be a non-empty list"}},
      {"deny:\n  - {field: card_id, values: [x], reason_code: bad-code}\n",
       {"deny[0]", "reason_code: must be"}},
      {"deny:\n  - {field: card_id, values: [x], reason_code: D1, colour: red}\n",
       {"deny[0] (D1)", "unknown key 'colour'"}},
      {"overrides:\n  - {name: o1, when: {min_amount: lots}, effect: review, reason_code: O1}\n",
       {"overrides[0] 'o1' (O1)", "when.min_amount: not a number"}},
      {"overrides:\n  - {name: o1, when: {planet: [mars]}, effect: review, reason_code: O1}\n",
       {"overrides[0] 'o1' (O1)", "unknown condition 'planet'"}},
      {"overrides:\n  - {name: o1, when: {country: [DE]}, effect: block, reason_code: O1}\n",
       {"overrides[0] 'o1' (O1)", "effect: must be review, deny or allow"}},
      {"overrides:\n  - {name: o1, when: {}, effect: review, reason_code: O1}\n",
       {"overrides[0] 'o1' (O1)", "when: must be a non-empty mapping"}},
      {"overrides:\n  - {name: o1, when: {min_amount: 10, max_amount: 5}, effect: review, "
       "reason_code: O1}\n",
       {"overrides[0] 'o1' (O1)", "minimum exceeds"}},
      {"overrides:\n  - {when: {country: [DE]}, effect: review, reason_code: O1}\n",
       {"overrides[0] (O1)", "missing key 'name'"}},
      {"deny:\n  - {field: card_id, values: [\"" + std::string(300, 'x') +
           "\"], reason_code: D1}\n",
       {"deny[0] (D1)", "values: each value must be text of 1-256 bytes"}},
      {"rules: []\n", {"unknown top-level key 'rules'"}},
      {"deny: {field: card_id}\n", {"'deny' must be a list"}},
      {"deny: [ {field: card_id\n", {"line"}},
  };
  for (const Case& test_case : cases) {
    auto rules = RuleSet::Parse(test_case.yaml);
    ASSERT_FALSE(rules.ok()) << test_case.yaml;
    for (const std::string& part : test_case.expected) {
      EXPECT_NE(rules.error().find(part), std::string::npos)
          << "'" << rules.error() << "' lacks '" << part << "'";
    }
  }
}

TEST(Rules, EnforcesLimits) {
  const std::string yaml =
      "deny:\n  - {field: card_id, values: [a, b], reason_code: D1}\n"
      "overrides:\n  - {name: o, when: {country: [DE, FR]}, effect: review, reason_code: O1}\n";
  ASSERT_TRUE(RuleSet::Parse(yaml, RuleLimits{.max_rules = 2, .max_values = 4}).ok());

  auto values = RuleSet::Parse(yaml, RuleLimits{.max_values = 3});
  ASSERT_FALSE(values.ok());
  EXPECT_NE(values.error().find("overrides[0] 'o' (O1): when.country: more than 3 values"),
            std::string::npos)
      << values.error();
  auto rules = RuleSet::Parse(yaml, RuleLimits{.max_rules = 1});
  ASSERT_FALSE(rules.ok());
  EXPECT_NE(rules.error().find("overrides[0]: more than 1 rules"), std::string::npos)
      << rules.error();
  // The default limit is the documented million values.
  EXPECT_EQ(RuleLimits().max_values, 1000000u);
}

TEST(Rules, LoadFileNamesTheFile) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("fg_rules_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << kRules;
  auto rules = RuleSet::LoadFile(path.string());
  ASSERT_TRUE(rules.ok()) << rules.error();
  EXPECT_EQ(rules->size(), 7u);
  EXPECT_EQ(rules->version(), RuleSet::Parse(kRules)->version());
  std::ofstream(path, std::ios::trunc) << "deny: [{field: x, values: [1], reason_code: D}]\n";
  auto bad = RuleSet::LoadFile(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find(path.string()), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("unknown field 'x'"), std::string::npos) << bad.error();
  auto missing = RuleSet::LoadFile(path.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find(path.string()), std::string::npos);
}

}  // namespace
}  // namespace fraudguard
