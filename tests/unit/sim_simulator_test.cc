#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/csv.h"
#include "sim/simulator.h"

namespace fraudguard {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// Counts of one simulated run, per day and per scenario.
struct Tally {
  std::vector<uint64_t> transactions_per_day;
  std::vector<std::array<uint64_t, kScenarioCount>> frauds_per_day;
  double amount_sum = 0;
  std::set<std::string> customers;
};

Tally SimulateAndCount(const SimulationOptions& options) {
  Tally tally;
  tally.transactions_per_day.assign(options.days, 0);
  tally.frauds_per_day.assign(options.days, {});
  Simulator simulator(options);
  LabelledTransaction row;
  int64_t previous_ms = 0;
  while (simulator.Next(row)) {
    EXPECT_GE(row.txn.timestamp_ms, previous_ms) << "not chronological";
    previous_ms = row.txn.timestamp_ms;
    const int64_t day = (row.txn.timestamp_ms - options.start_ms) / kDayMs;
    EXPECT_TRUE(day >= 0 && day < options.days) << row.txn.timestamp_ms;
    if (day < 0 || day >= options.days) {
      continue;
    }
    ++tally.transactions_per_day[day];
    if (row.fraud) {
      ++tally.frauds_per_day[day][row.scenario];
    }
    EXPECT_EQ(row.fraud, row.scenario != kScenarioGenuine);
    tally.amount_sum += row.txn.amount;
    tally.customers.insert(row.txn.customer_id);
  }
  return tally;
}

double Share(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0 : static_cast<double>(part) / static_cast<double>(whole);
}

// The handbook publishes: 9,586 transactions a day on average (9,285 to 9,789), a fraud rate of
// 0.87-0.90% once scenarios 2 and 3 have ramped up, mean amount 53.63, scenario 1 at 0.055%,
// scenario 2 at 0.52% and scenario 3 at 0.26% of all transactions. 60 days keep the test short.
TEST(SimulatorTest, HandbookProfileMatchesThePublishedStatistics) {
  SimulationOptions options;
  options.profile = SimulationProfile::kHandbook;
  options.days = 60;
  const Tally tally = SimulateAndCount(options);

  uint64_t total = 0;
  for (uint64_t count : tally.transactions_per_day) {
    EXPECT_GT(count, 9000u);
    EXPECT_LT(count, 10200u);
    total += count;
  }
  EXPECT_NEAR(static_cast<double>(total) / options.days, 9586, 9586 * 0.04);
  EXPECT_NEAR(tally.amount_sum / static_cast<double>(total), 53.63, 3);
  EXPECT_GT(tally.customers.size(), 4900u);
  EXPECT_LE(tally.customers.size(), 5000u);

  // After the 28-day ramp-up of scenario 2.
  uint64_t later_total = 0;
  std::array<uint64_t, kScenarioCount> later_frauds = {};
  for (int day = 30; day < options.days; ++day) {
    later_total += tally.transactions_per_day[day];
    for (int s = 0; s < kScenarioCount; ++s) {
      later_frauds[s] += tally.frauds_per_day[day][s];
    }
  }
  uint64_t later_fraud_total = 0;
  for (uint64_t count : later_frauds) {
    later_fraud_total += count;
  }
  EXPECT_NEAR(Share(later_fraud_total, later_total), 0.0089, 0.0025);
  EXPECT_NEAR(Share(later_frauds[kScenarioLargeAmount], later_total), 0.00055, 0.0003);
  EXPECT_NEAR(Share(later_frauds[kScenarioCompromisedTerminal], later_total), 0.0057, 0.002);
  EXPECT_NEAR(Share(later_frauds[kScenarioLeakedCard], later_total), 0.0026, 0.0012);
  for (int s = kScenarioCardTesting; s < kScenarioCount; ++s) {
    EXPECT_EQ(later_frauds[s], 0u) << "scenario " << s << " is not the handbook's";
  }
}

TEST(SimulatorTest, HandbookProfileLeavesTheExtraFieldsEmpty) {
  SimulationOptions options;
  options.profile = SimulationProfile::kHandbook;
  options.days = 1;
  Simulator simulator(options);
  LabelledTransaction row;
  ASSERT_TRUE(simulator.Next(row));
  EXPECT_EQ(row.txn.transaction_id, "0");
  EXPECT_EQ(row.txn.card_id, row.txn.customer_id);
  EXPECT_TRUE(row.txn.device_id.empty());
  EXPECT_TRUE(row.txn.country.empty());
  EXPECT_TRUE(std::isnan(row.txn.user_age_days));
}

// Fraud shares of the FraudGuard profile by amount and account age, the pattern the model must
// be able to learn from the data alone.
struct AgeAmountCell {
  uint64_t total = 0;
  uint64_t fraud = 0;
  double share() const { return Share(fraud, total); }
};

TEST(SimulatorTest, FraudGuardProfileHasItsScenariosFieldsAndRates) {
  SimulationOptions options;
  options.days = 60;
  Simulator simulator(options);
  LabelledTransaction row;
  uint64_t total = 0;
  uint64_t frauds = 0;
  std::array<uint64_t, kScenarioCount> by_scenario = {};
  std::array<uint64_t, 2> incomplete = {};  // genuine, fraud
  std::array<uint64_t, 2> by_class = {};
  uint64_t genuine_above_300 = 0;
  uint64_t only_amount_and_age_count = 0;
  AgeAmountCell new_account_large;  // age <= 3 days, amount >= 300
  AgeAmountCell month_old_500;      // age 20..45 days, amount 300..800
  AgeAmountCell year_old_50;        // age >= 365 days, amount 20..80
  while (simulator.Next(row)) {
    const Transaction& txn = row.txn;
    ++total;
    frauds += row.fraud ? 1 : 0;
    ++by_scenario[row.scenario];
    ++by_class[row.fraud];
    if (txn.card_id.empty() || txn.device_id.empty() || txn.ip.empty()) {
      ++incomplete[row.fraud];
    }
    EXPECT_EQ(txn.device_id.empty(), txn.ip.empty());
    // A request either carries every descriptive field or, like the specification's known
    // cases, only the amount, the time and the account age.
    const bool only_amount_and_age = txn.customer_id.empty();
    only_amount_and_age_count += only_amount_and_age ? 1 : 0;
    EXPECT_EQ(txn.currency.empty(), only_amount_and_age);
    EXPECT_EQ(txn.country.empty(), only_amount_and_age);
    EXPECT_EQ(txn.channel.empty(), only_amount_and_age);
    EXPECT_EQ(txn.merchant_category.empty(), only_amount_and_age);
    EXPECT_EQ(txn.merchant_id.empty(), only_amount_and_age);
    if (only_amount_and_age) {
      EXPECT_TRUE(txn.card_id.empty());
      EXPECT_TRUE(txn.device_id.empty());
    }
    ASSERT_TRUE(std::isfinite(txn.user_age_days));
    ASSERT_GE(txn.user_age_days, 0);
    if (!row.fraud && txn.amount > 300) {
      ++genuine_above_300;
    }
    AgeAmountCell* cell = nullptr;
    if (txn.user_age_days <= 3 && txn.amount >= 300) {
      cell = &new_account_large;
    } else if (txn.user_age_days >= 20 && txn.user_age_days <= 45 && txn.amount >= 300 &&
               txn.amount <= 800) {
      cell = &month_old_500;
    } else if (txn.user_age_days >= 365 && txn.amount >= 20 && txn.amount <= 80) {
      cell = &year_old_50;
    }
    if (cell != nullptr) {
      ++cell->total;
      cell->fraud += row.fraud ? 1 : 0;
    }
  }
  EXPECT_GT(Share(frauds, total), 0.01);
  EXPECT_LT(Share(frauds, total), 0.02);
  EXPECT_EQ(by_scenario[kScenarioLargeAmount], 0u);
  for (int s = kScenarioCompromisedTerminal; s < kScenarioCount; ++s) {
    EXPECT_GT(Share(by_scenario[s], total), 0.0005) << "scenario " << s;
  }
  // Incomplete requests in both classes at about the configured rate.
  const double incomplete_rate = SimulationOptions{}.incomplete_rate;
  EXPECT_NEAR(Share(incomplete[0], by_class[0]), incomplete_rate, 0.005);
  EXPECT_NEAR(Share(incomplete[1], by_class[1]), incomplete_rate, 0.015);
  // A quarter of the incomplete ones carry no id at all.
  EXPECT_NEAR(Share(only_amount_and_age_count, total), incomplete_rate / 4, 0.004);
  // Genuine amounts are mostly tens, rarely several hundred.
  EXPECT_GT(Share(genuine_above_300, by_class[0]), 0.001);
  EXPECT_LT(Share(genuine_above_300, by_class[0]), 0.01);
  // Large amounts from new accounts are mostly fraud; 50 from a year-old account almost never;
  // ~500 from a month-old account lies in between.
  ASSERT_GT(new_account_large.total, 100u);
  ASSERT_GT(month_old_500.total, 20u);
  EXPECT_GT(new_account_large.share(), 0.8);
  EXPECT_LT(year_old_50.share(), 0.01);
  EXPECT_GT(month_old_500.share(), year_old_50.share());
  EXPECT_LT(month_old_500.share(), new_account_large.share());
}

std::string SimulateCsv(SimulationOptions options) {
  std::string csv;
  WriteCsvHeader(csv);
  Simulator simulator(options);
  LabelledTransaction row;
  while (simulator.Next(row)) {
    AppendCsvRow(csv, row);
  }
  return csv;
}

TEST(SimulatorTest, SameSeedGivesTheSameBytesAndAnotherSeedDiffers) {
  for (SimulationProfile profile : {SimulationProfile::kHandbook, SimulationProfile::kFraudGuard}) {
    SimulationOptions options;
    options.profile = profile;
    options.customers = 300;
    options.terminals = 600;
    options.radius = 20;
    options.days = 10;
    options.seed = 7;
    const std::string first = SimulateCsv(options);
    EXPECT_GT(first.size(), 10'000u);
    EXPECT_EQ(first, SimulateCsv(options));
    options.seed = 8;
    EXPECT_NE(first, SimulateCsv(options));
  }
}

TEST(SimulatorTest, ProgressRisesFromZeroToOne) {
  SimulationOptions options;
  options.customers = 200;
  options.terminals = 400;
  options.days = 4;
  Simulator simulator(options);
  EXPECT_EQ(simulator.progress(), 0);
  LabelledTransaction row;
  double previous = 0;
  while (simulator.Next(row)) {
    EXPECT_GE(simulator.progress(), previous);
    EXPECT_LE(simulator.progress(), 1);
    previous = simulator.progress();
  }
  EXPECT_EQ(simulator.progress(), 1);
  EXPECT_GT(simulator.generated(), 0u);
  EXPECT_FALSE(simulator.Next(row));
}

TEST(SimulatorTest, OutOfBoundsOptionsAreRejectedByValidationAndClampedByTheSimulator) {
  SimulationOptions options;
  options.customers = -5;
  options.incomplete_rate = std::nan("");
  options.days = 2;
  const Status status = ValidateSimulationOptions(options);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().find("customers"), std::string::npos) << status.error();
  EXPECT_NE(status.error().find("incomplete_rate"), std::string::npos) << status.error();
  EXPECT_TRUE(ValidateSimulationOptions(SimulationOptions{}).ok());

  Simulator simulator(options);
  EXPECT_EQ(simulator.clamped_options(), 2);
  EXPECT_EQ(simulator.options().customers, 1);
  EXPECT_EQ(simulator.options().incomplete_rate, 0);
  LabelledTransaction row;
  while (simulator.Next(row)) {
  }
}

TEST(SimulatorTest, ParsesProfileNames) {
  SimulationProfile profile = SimulationProfile::kFraudGuard;
  EXPECT_TRUE(ParseSimulationProfile("handbook", profile));
  EXPECT_EQ(profile, SimulationProfile::kHandbook);
  EXPECT_TRUE(ParseSimulationProfile("fraudguard", profile));
  EXPECT_EQ(profile, SimulationProfile::kFraudGuard);
  EXPECT_FALSE(ParseSimulationProfile("other", profile));
}

}  // namespace
}  // namespace fraudguard
