// Reason codes: the stable names a caller sees for why a transaction scored as it did.
// Each model feature belongs to one reason group; a group's contribution is the sum of its
// features' contributions to the model's log-odds for this transaction.
#pragma once

#include <string>
#include <string_view>

#include "core/transaction.h"

namespace fraudguard {

enum class ReasonGroup : uint8_t {
  kUnusualAmount,
  kUnusualAmountForCard,  // the amount against the card's own history
  kNewAccount,
  kCardVelocity,
  kCardSpread,
  kNewDeviceOrCountry,
  kCustomerVelocity,
  kMerchantRisk,
  kDeviceVelocity,
  kIpVelocity,
  kTimeOfDay,
  kChannelRisk,
  // Features of an entity the request did not name (no card, device, ...): what the model made
  // of the absence, rather than of activity that was never seen.
  kMissingDetails,
  kOther,
};
inline constexpr size_t kReasonGroupCount = static_cast<size_t>(ReasonGroup::kOther) + 1;

// Assigns a feature (by its schema name) to its reason group.
ReasonGroup ReasonGroupForFeature(std::string_view feature_name);
// The group a feature's contribution is credited to for this transaction: its own group, or
// kMissingDetails when the entity that group describes is absent from the request.
ReasonGroup CreditedReasonGroup(ReasonGroup group, const Transaction& txn);
// The stable reason code, such as "HIGH_AMOUNT".
std::string_view ReasonCode(ReasonGroup group);
// A sentence for a person, filled in with the transaction's own values where they help.
std::string ReasonSentence(ReasonGroup group, const Transaction& txn);

}  // namespace fraudguard
