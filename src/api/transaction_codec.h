// Turns request bodies into Transactions. Every field is checked for type and range; the first
// problem found is reported with the field's name (for batches, "transactions[3].amount").
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/transaction.h"

namespace fraudguard {

struct TransactionLimits {
  double max_amount = 1e9;
  size_t max_text_length = 256;  // every text field
  size_t max_batch_items = 1000;
};

struct RequestError {
  std::string code;     // machine-readable: malformed_json, missing_field, invalid_field, ...
  std::string field;    // empty when the problem is not one field's
  std::string message;  // a sentence for a person
};

// Reusable parser state: one per worker thread (simdjson parsers are not thread-safe).
class TransactionDecoder {
public:
  explicit TransactionDecoder(TransactionLimits limits) : limits_(limits) {}

  // Parses one transaction object. `now_ms` fills a missing timestamp; a missing transaction id
  // is generated. Returns false and fills `error` on bad input.
  bool DecodeOne(std::string_view body, int64_t now_ms, Transaction& out, RequestError& error);
  // Parses {"transactions":[...]} or a bare array; all-or-nothing.
  bool DecodeBatch(std::string_view body,
                   int64_t now_ms,
                   std::vector<Transaction>& out,
                   RequestError& error);

private:
  // The decoders proper; the public ones add the check that tells a malformed body from a bad
  // value on their error path.
  bool DecodeOneUnchecked(std::string_view body,
                          int64_t now_ms,
                          Transaction& out,
                          RequestError& error);
  bool DecodeBatchUnchecked(std::string_view body,
                            int64_t now_ms,
                            std::vector<Transaction>& out,
                            RequestError& error);
  // Copies the body with simdjson's padding; an empty body is refused, naming what to send.
  bool Prepare(std::string_view body, std::string_view expected, RequestError& error);
  // Decodes the items of a batch's array into `out`, enforcing the item limit.
  bool DecodeItems(simdjson::ondemand::array array,
                   const std::string& prefix,
                   int64_t now_ms,
                   std::vector<Transaction>& out,
                   RequestError& error);
  bool DecodeObject(simdjson::ondemand::object object,
                    std::string_view field_prefix,
                    int64_t now_ms,
                    Transaction& out,
                    RequestError& error);

  TransactionLimits limits_;
  simdjson::ondemand::parser parser_;
  std::string padded_;  // the body copied with simdjson's required padding
};

// Parses an RFC 3339 timestamp ("2024-05-01T12:00:00Z", fractions and offsets allowed) into
// Unix epoch milliseconds; false when it is not one.
bool ParseRfc3339(std::string_view text, int64_t& epoch_ms);

}  // namespace fraudguard
