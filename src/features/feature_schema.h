// The feature vector the store computes for every transaction: its layout, names and the
// entity types it covers. Training (offline CSV replay) and serving use this one definition, so
// a model trained on the names below reads the very same positions at scoring time.
//
// Layout, in order:
//   1. transaction features (kTransactionFeatureCount of them),
//   2. one block of kPerEntityFeatureCount per entity type (card, customer, merchant, device,
//      ip): count/sum/mean/std of amounts over 1 h, 24 h, 7 d and 30 d sliding windows that
//      include the current transaction, then seconds since the entity's previous transaction,
//   3. card-only features (kCardExtraFeatureCount),
//   4. label-driven merchant features (kLabelFeatureCount): over windows of 1, 7 and 30 days
//      that end kLabelDelayDays before the transaction (to within 6 hours, the store's step),
//      the merchant's transaction count and the share of them confirmed as fraud. Only
//      transactions at least the label delay old are read because fraud labels (chargebacks,
//      reviews) take about that long to arrive;
//      training replays a labelled file with the same delay, so the model never learns from a
//      label production would not yet have.
// NaN means missing: an entity whose id is empty gives NaN for its whole block, and a fraud
// share over a window without transactions is NaN.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace fraudguard {

enum class EntityType : uint8_t { kCard, kCustomer, kMerchant, kDevice, kIp };
inline constexpr size_t kEntityTypeCount = 5;
// Lower-case names used in feature names, JSON and the REST path.
inline constexpr std::array<std::string_view, kEntityTypeCount> kEntityTypeNames = {
    "card", "customer", "merchant", "device", "ip"};

// Parses "card", "customer", ... ; false when the name is unknown.
bool ParseEntityType(std::string_view name, EntityType& type);

// The sliding windows, shortest first.
inline constexpr size_t kWindowCount = 4;
inline constexpr std::array<int64_t, kWindowCount> kWindowMillis = {
    3600LL * 1000, 24 * 3600LL * 1000, 7 * 24 * 3600LL * 1000, 30 * 24 * 3600LL * 1000};
inline constexpr std::array<std::string_view, kWindowCount> kWindowNames = {"1h", "24h", "7d",
                                                                            "30d"};

// Statistics of the amounts in one window.
enum class WindowStat : uint8_t { kCount, kSum, kMean, kStd };
inline constexpr size_t kWindowStatCount = 4;
inline constexpr std::array<std::string_view, kWindowStatCount> kWindowStatNames = {"count", "sum",
                                                                                    "mean", "std"};

// Transaction features.
inline constexpr size_t kAmount = 0;
inline constexpr size_t kUserAgeDays = 1;
inline constexpr size_t kHourOfDay = 2;    // 0-23, UTC.
inline constexpr size_t kDayOfWeek = 3;    // 0 = Monday ... 6 = Sunday, UTC.
inline constexpr size_t kIsWeekend = 4;    // 1 on Saturday and Sunday.
inline constexpr size_t kIsNight = 5;      // 1 from 00:00 to 05:59 UTC.
inline constexpr size_t kChannelCode = 6;  // See ChannelCode().
inline constexpr size_t kTransactionFeatureCount = 7;

// Per entity block.
inline constexpr size_t kPerEntityFeatureCount = kWindowCount * kWindowStatCount + 1;
inline constexpr size_t kEntityFeaturesBegin = kTransactionFeatureCount;

constexpr size_t EntityWindowFeature(EntityType type, size_t window, WindowStat stat) {
  return kEntityFeaturesBegin + static_cast<size_t>(type) * kPerEntityFeatureCount +
         window * kWindowStatCount + static_cast<size_t>(stat);
}
constexpr size_t EntitySecondsSincePreviousFeature(EntityType type) {
  return kEntityFeaturesBegin + static_cast<size_t>(type) * kPerEntityFeatureCount +
         kWindowCount * kWindowStatCount;
}

// Card-only features.
inline constexpr size_t kCardFeaturesBegin =
    kEntityFeaturesBegin + kEntityTypeCount * kPerEntityFeatureCount;
inline constexpr size_t kCardDistinctMerchants24h = kCardFeaturesBegin + 0;
inline constexpr size_t kCardDistinctCountries24h = kCardFeaturesBegin + 1;
// (amount - mean) / std against the card's 30 d history before this transaction.
inline constexpr size_t kCardAmountZScore30d = kCardFeaturesBegin + 2;
// amount / mean of the card's 30 d history before this transaction.
inline constexpr size_t kCardAmountToMean30d = kCardFeaturesBegin + 3;
inline constexpr size_t kCardIsNewDevice30d = kCardFeaturesBegin + 4;
inline constexpr size_t kCardIsNewCountry30d = kCardFeaturesBegin + 5;
inline constexpr size_t kCardExtraFeatureCount = 6;

// Label-driven merchant features (see the header comment).
inline constexpr int64_t kLabelDelayDays = 7;
inline constexpr size_t kLabelWindowCount = 3;
inline constexpr std::array<int64_t, kLabelWindowCount> kLabelWindowDays = {1, 7, 30};
inline constexpr size_t kLabelFeaturesBegin = kCardFeaturesBegin + kCardExtraFeatureCount;
inline constexpr size_t kLabelFeatureCount = 2 * kLabelWindowCount;
// Transactions at the merchant in the window (all of them, labelled or not).
constexpr size_t MerchantDelayedCountFeature(size_t window) {
  return kLabelFeaturesBegin + window;
}
// Confirmed frauds among them divided by their count.
constexpr size_t MerchantDelayedFraudRiskFeature(size_t window) {
  return kLabelFeaturesBegin + kLabelWindowCount + window;
}

inline constexpr size_t kFeatureCount = kLabelFeaturesBegin + kLabelFeatureCount;

using FeatureVector = std::array<float, kFeatureCount>;

// Stable snake_case names, one per position, e.g. "card_count_24h", "ip_secs_since_prev".
std::span<const std::string_view> FeatureNames();
// Position of `name`, or -1 when there is no such feature.
int FeatureIndex(std::string_view name);

// online/ecommerce/web = 1, pos = 2, atm = 3, mobile/app = 4, anything else = 0 (case
// insensitive); NaN when the channel is empty.
float ChannelCode(std::string_view channel);

}  // namespace fraudguard
