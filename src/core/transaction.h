// The transaction as the scoring pipeline sees it, after the request body has been parsed and
// validated. Optional text fields are empty when the caller did not send them.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

namespace fraudguard {

struct Transaction {
  std::string transaction_id;
  int64_t timestamp_ms = 0;  // Unix epoch milliseconds.
  double amount = 0.0;
  std::string currency;
  std::string card_id;
  std::string customer_id;
  std::string merchant_id;
  std::string merchant_category;
  std::string country;
  std::string device_id;
  std::string ip;
  std::string channel;
  // Age of the customer's account in days; NaN when not given.
  double user_age_days = std::numeric_limits<double>::quiet_NaN();
};

}  // namespace fraudguard
