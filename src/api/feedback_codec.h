// Turns the body of POST /api/v1/fraud/feedback into a FeedbackRequest. Strict: the types,
// sizes and values of every field are checked, unknown or repeated fields are refused, and the
// first problem is reported with the field's name (the error codes of transaction_codec.h).
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "api/transaction_codec.h"
#include "storage/label_store.h"

namespace fraudguard {

inline constexpr size_t kMaxFeedbackIdLength = 256;
inline constexpr size_t kMaxFeedbackSourceLength = 64;

struct FeedbackRequest {
  std::string transaction_id;
  FraudLabel label = FraudLabel::kLegitimate;
  std::string source;    // empty when not sent
  int64_t label_ms = 0;  // the "timestamp" field, or now
};

// Reusable parser state: one per worker thread (simdjson parsers are not thread-safe).
class FeedbackDecoder {
public:
  // `now_ms` fills a missing timestamp. Returns false and fills `error` on bad input.
  bool Decode(std::string_view body, int64_t now_ms, FeedbackRequest& out, RequestError& error);

private:
  bool DecodeUnchecked(std::string_view body,
                       int64_t now_ms,
                       FeedbackRequest& out,
                       RequestError& error);

  simdjson::ondemand::parser parser_;
  std::string padded_;  // the body copied with simdjson's required padding
};

}  // namespace fraudguard
