#include "features/feature_schema.h"

#include <cctype>
#include <limits>
#include <string>

namespace fraudguard {
namespace {

struct NameTable {
  std::array<std::string, kFeatureCount> storage;
  std::array<std::string_view, kFeatureCount> views;

  NameTable() {
    storage[kAmount] = "amount";
    storage[kUserAgeDays] = "user_age_days";
    storage[kHourOfDay] = "hour_of_day";
    storage[kDayOfWeek] = "day_of_week";
    storage[kIsWeekend] = "is_weekend";
    storage[kIsNight] = "is_night";
    storage[kChannelCode] = "channel_code";
    for (size_t e = 0; e < kEntityTypeCount; ++e) {
      const auto type = static_cast<EntityType>(e);
      const std::string prefix = std::string(kEntityTypeNames[e]) + "_";
      for (size_t w = 0; w < kWindowCount; ++w) {
        for (size_t s = 0; s < kWindowStatCount; ++s) {
          storage[EntityWindowFeature(type, w, static_cast<WindowStat>(s))] =
              prefix + std::string(kWindowStatNames[s]) + "_" + std::string(kWindowNames[w]);
        }
      }
      storage[EntitySecondsSincePreviousFeature(type)] = prefix + "secs_since_prev";
    }
    storage[kCardDistinctMerchants24h] = "card_distinct_merchants_24h";
    storage[kCardDistinctCountries24h] = "card_distinct_countries_24h";
    storage[kCardAmountZScore30d] = "card_amount_zscore_30d";
    storage[kCardAmountToMean30d] = "card_amount_to_mean_30d";
    storage[kCardIsNewDevice30d] = "card_is_new_device_30d";
    storage[kCardIsNewCountry30d] = "card_is_new_country_30d";
    for (size_t w = 0; w < kLabelWindowCount; ++w) {
      const std::string days = std::to_string(kLabelWindowDays[w]) + "d";
      storage[MerchantDelayedCountFeature(w)] = "merchant_delayed_count_" + days;
      storage[MerchantDelayedFraudRiskFeature(w)] = "merchant_delayed_fraud_risk_" + days;
    }
    for (size_t i = 0; i < kFeatureCount; ++i) {
      views[i] = storage[i];
    }
  }
};

const NameTable& Names() {
  static const NameTable table;
  return table;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseEntityType(std::string_view name, EntityType& type) {
  for (size_t e = 0; e < kEntityTypeCount; ++e) {
    if (name == kEntityTypeNames[e]) {
      type = static_cast<EntityType>(e);
      return true;
    }
  }
  return false;
}

std::span<const std::string_view> FeatureNames() {
  return Names().views;
}

int FeatureIndex(std::string_view name) {
  const auto& views = Names().views;
  for (size_t i = 0; i < views.size(); ++i) {
    if (views[i] == name) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

float ChannelCode(std::string_view channel) {
  if (channel.empty()) {
    return std::numeric_limits<float>::quiet_NaN();
  }
  for (std::string_view online : {"online", "ecommerce", "e-commerce", "web"}) {
    if (EqualsIgnoreCase(channel, online)) {
      return 1.0f;
    }
  }
  if (EqualsIgnoreCase(channel, "pos")) {
    return 2.0f;
  }
  if (EqualsIgnoreCase(channel, "atm")) {
    return 3.0f;
  }
  if (EqualsIgnoreCase(channel, "mobile") || EqualsIgnoreCase(channel, "app")) {
    return 4.0f;
  }
  return 0.0f;
}

}  // namespace fraudguard
