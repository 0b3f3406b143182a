#include "scoring/reasons.h"

#include <cmath>
#include <cstdio>

namespace fraudguard {
namespace {

// From this amount on, an amount that raises the risk is described as high.
constexpr double kHighAmount = 100.0;

}  // namespace

ReasonGroup ReasonGroupForFeature(std::string_view name) {
  const auto starts = [name](std::string_view prefix) { return name.rfind(prefix, 0) == 0; };
  const bool against_history = name.find("amount_zscore") != std::string_view::npos ||
                               name.find("amount_to_mean") != std::string_view::npos;
  if (against_history && starts("card_")) {
    return ReasonGroup::kUnusualAmountForCard;
  }
  if (name == "amount" || against_history) {
    return ReasonGroup::kUnusualAmount;
  }
  if (name == "user_age_days") {
    return ReasonGroup::kNewAccount;
  }
  if (starts("card_new_") || name.find("new_device") != std::string_view::npos ||
      name.find("new_country") != std::string_view::npos) {
    return ReasonGroup::kNewDeviceOrCountry;
  }
  if (starts("card_distinct_")) {
    return ReasonGroup::kCardSpread;
  }
  if (starts("card_")) {
    return ReasonGroup::kCardVelocity;
  }
  if (starts("customer_")) {
    return ReasonGroup::kCustomerVelocity;
  }
  if (starts("merchant_")) {
    return ReasonGroup::kMerchantRisk;
  }
  if (starts("device_")) {
    return ReasonGroup::kDeviceVelocity;
  }
  if (starts("ip_")) {
    return ReasonGroup::kIpVelocity;
  }
  if (starts("hour_") || starts("day_") || name == "is_weekend" || name == "is_night") {
    return ReasonGroup::kTimeOfDay;
  }
  if (starts("channel")) {
    return ReasonGroup::kChannelRisk;
  }
  return ReasonGroup::kOther;
}

ReasonGroup CreditedReasonGroup(ReasonGroup group, const Transaction& txn) {
  bool entity_absent = false;
  switch (group) {
    case ReasonGroup::kUnusualAmountForCard:
    case ReasonGroup::kCardVelocity:
    case ReasonGroup::kCardSpread:
    case ReasonGroup::kNewDeviceOrCountry:
      entity_absent = txn.card_id.empty();
      break;
    case ReasonGroup::kCustomerVelocity:
      entity_absent = txn.customer_id.empty();
      break;
    case ReasonGroup::kMerchantRisk:
      entity_absent = txn.merchant_id.empty();
      break;
    case ReasonGroup::kDeviceVelocity:
      entity_absent = txn.device_id.empty();
      break;
    case ReasonGroup::kIpVelocity:
      entity_absent = txn.ip.empty();
      break;
    case ReasonGroup::kChannelRisk:
      entity_absent = txn.channel.empty();
      break;
    default:
      break;
  }
  return entity_absent ? ReasonGroup::kMissingDetails : group;
}

std::string_view ReasonCode(ReasonGroup group) {
  switch (group) {
    case ReasonGroup::kUnusualAmount:
      return "HIGH_AMOUNT";
    case ReasonGroup::kUnusualAmountForCard:
      return "UNUSUAL_AMOUNT_FOR_CARD";
    case ReasonGroup::kNewAccount:
      return "NEW_ACCOUNT";
    case ReasonGroup::kCardVelocity:
      return "CARD_VELOCITY";
    case ReasonGroup::kCardSpread:
      return "CARD_SPREAD";
    case ReasonGroup::kNewDeviceOrCountry:
      return "NEW_DEVICE_OR_COUNTRY";
    case ReasonGroup::kCustomerVelocity:
      return "CUSTOMER_VELOCITY";
    case ReasonGroup::kMerchantRisk:
      return "MERCHANT_RISK";
    case ReasonGroup::kDeviceVelocity:
      return "DEVICE_VELOCITY";
    case ReasonGroup::kIpVelocity:
      return "IP_VELOCITY";
    case ReasonGroup::kTimeOfDay:
      return "UNUSUAL_TIME";
    case ReasonGroup::kChannelRisk:
      return "CHANNEL_RISK";
    case ReasonGroup::kMissingDetails:
      return "MISSING_DETAILS";
    case ReasonGroup::kOther:
      return "OTHER";
  }
  return "OTHER";
}

std::string ReasonSentence(ReasonGroup group, const Transaction& txn) {
  char buffer[160];
  switch (group) {
    case ReasonGroup::kUnusualAmount:
      // The model can find small amounts risky too (card testing), so only large ones are
      // called high.
      std::snprintf(buffer, sizeof(buffer), "The amount %.2f is %s for transactions like it.",
                    txn.amount, txn.amount >= kHighAmount ? "high" : "unusual");
      return buffer;
    case ReasonGroup::kUnusualAmountForCard:
      std::snprintf(buffer, sizeof(buffer),
                    "The amount %.2f is far from what this card usually spends.", txn.amount);
      return buffer;
    case ReasonGroup::kNewAccount:
      if (std::isfinite(txn.user_age_days)) {
        std::snprintf(buffer, sizeof(buffer), "The account is only %.0f %s old.", txn.user_age_days,
                      std::round(txn.user_age_days) == 1 ? "day" : "days");
        return buffer;
      }
      return "The account's age is unknown.";
    case ReasonGroup::kCardVelocity:
      return "The card is being used more often or for more money than usual.";
    case ReasonGroup::kCardSpread:
      return "The card was used at many different merchants or countries in the last 24 hours.";
    case ReasonGroup::kNewDeviceOrCountry:
      return "The device or country is new for this card.";
    case ReasonGroup::kCustomerVelocity:
      return "The customer's recent activity is unusual.";
    case ReasonGroup::kMerchantRisk:
      return "The merchant's recent activity is unusual.";
    case ReasonGroup::kDeviceVelocity:
      return "The device has unusual recent activity.";
    case ReasonGroup::kIpVelocity:
      return "The IP address has unusual recent activity.";
    case ReasonGroup::kTimeOfDay:
      return "The transaction happened at an unusual time.";
    case ReasonGroup::kChannelRisk:
      return "The payment channel carries more risk.";
    case ReasonGroup::kMissingDetails: {
      std::string missing;
      const auto note = [&missing](const std::string& value, std::string_view name) {
        if (value.empty()) {
          missing += missing.empty() ? "" : ", ";
          missing += name;
        }
      };
      note(txn.card_id, "card");
      note(txn.customer_id, "customer");
      note(txn.merchant_id, "merchant");
      note(txn.device_id, "device");
      note(txn.ip, "IP address");
      note(txn.channel, "channel");
      return "The request did not name the " + missing + "; requests without them carry more risk.";
    }
    case ReasonGroup::kOther:
      return "Other signals raised the risk.";
  }
  return "Other signals raised the risk.";
}

}  // namespace fraudguard
