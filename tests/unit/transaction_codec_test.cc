#include "api/transaction_codec.h"

#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

constexpr int64_t kNowMs = 1714521600000;  // 2024-05-01T00:00:00Z

RequestError DecodeOneError(std::string_view body) {
  TransactionDecoder decoder(TransactionLimits{});
  Transaction txn;
  RequestError error;
  EXPECT_FALSE(decoder.DecodeOne(body, kNowMs, txn, error)) << body;
  return error;
}

RequestError DecodeBatchError(std::string_view body, TransactionLimits limits = {}) {
  TransactionDecoder decoder(limits);
  std::vector<Transaction> batch;
  RequestError error;
  EXPECT_FALSE(decoder.DecodeBatch(body, kNowMs, batch, error)) << body;
  return error;
}

TEST(TransactionCodecTest, DecodesEveryFieldAndDefaultsTheTimestamp) {
  TransactionDecoder decoder(TransactionLimits{});
  Transaction txn;
  RequestError error;
  ASSERT_TRUE(decoder.DecodeOne(
      R"({"transaction_id":"t1","amount":12.5,"card_id":"c","customer_id":"u","merchant_id":"m",
          "merchant_category":"grocery","country":"FR","currency":"EUR","device_id":"d",
          "ip":"10.0.0.1","channel":"web","user_age_days":30,"unknown":{"nested":[1,2]}})",
      kNowMs, txn, error))
      << error.message;
  EXPECT_EQ(txn.transaction_id, "t1");
  EXPECT_DOUBLE_EQ(txn.amount, 12.5);
  EXPECT_EQ(txn.card_id, "c");
  EXPECT_EQ(txn.merchant_category, "grocery");
  EXPECT_EQ(txn.channel, "web");
  EXPECT_DOUBLE_EQ(txn.user_age_days, 30);
  EXPECT_EQ(txn.timestamp_ms, kNowMs);
}

TEST(TransactionCodecTest, NotJsonAndNotAnObjectGetTheirOwnCodes) {
  EXPECT_EQ(DecodeOneError(R"({"amount": 10,)").code, "malformed_json");
  EXPECT_EQ(DecodeOneError("not json").code, "malformed_json");
  EXPECT_EQ(DecodeOneError(R"({"amount":5} trailing)").code, "malformed_json");
  EXPECT_EQ(DecodeOneError(R"({"amount":5}})").code, "malformed_json");
  EXPECT_EQ(DecodeOneError("[1,2]").code, "invalid_body");
  EXPECT_EQ(DecodeOneError(R"("a string")").code, "invalid_body");
  EXPECT_EQ(DecodeOneError("null").code, "invalid_body");
  EXPECT_EQ(DecodeOneError("").code, "empty_body");
}

TEST(TransactionCodecTest, MalformedValuesAnywhereAreMalformedJson) {
  // Values the on-demand parser would otherwise skip or judge by their first character.
  for (const char* body :
       {R"({"amount":5,"other":nope})", R"({"amount":5,"card_id":nxyz})",
        R"({"amount":5,"timestamp":nope})", R"({"amount":5,"user_age_days":nul})",
        R"({"amount":tru})", R"({"amount":12x})", R"({"amount":5,"card_id":tru})",
        R"({"amount":5,"extra":{"deep":[1,2,nope]}})", R"({"amount":5,"extra":"bad \q escape"})"}) {
    EXPECT_EQ(DecodeOneError(body).code, "malformed_json") << body;
  }
  EXPECT_EQ(DecodeBatchError(R"([{"amount":1},nope])").code, "malformed_json");
  EXPECT_EQ(DecodeBatchError(R"({"source":nope,"transactions":[{"amount":1}]})").code,
            "malformed_json");
  // Deep nesting in an unknown field is refused rather than walked without bound.
  const std::string deep =
      R"({"amount":5,"x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  const RequestError too_deep = DecodeOneError(deep);
  EXPECT_EQ(too_deep.code, "invalid_field");
  EXPECT_EQ(too_deep.field, "x");
  // Well-formed nulls and unknown values are fine.
  TransactionDecoder decoder(TransactionLimits{});
  Transaction txn;
  RequestError error;
  EXPECT_TRUE(
      decoder.DecodeOne(R"({"amount":5,"card_id":null,"timestamp":null,"user_age_days":null,)"
                        R"("x":[true,false,null,{"a":-1.5e3}]})",
                        kNowMs, txn, error))
      << error.message;
}

TEST(TransactionCodecTest, BatchAcceptsBothShapesAndOtherFieldsAroundTheArray) {
  TransactionDecoder decoder(TransactionLimits{});
  std::vector<Transaction> batch;
  RequestError error;
  ASSERT_TRUE(decoder.DecodeBatch(R"([{"amount":1},{"amount":2}])", kNowMs, batch, error))
      << error.message;
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_DOUBLE_EQ(batch[1].amount, 2);
  ASSERT_TRUE(
      decoder.DecodeBatch(R"({"source":"checkout","transactions":[{"amount":3}],"trace":{"id":1}})",
                          kNowMs, batch, error))
      << error.message;
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_DOUBLE_EQ(batch[0].amount, 3);
}

TEST(TransactionCodecTest, BadBatchesNameTheProblem) {
  EXPECT_EQ(DecodeBatchError(R"([{"amount":1}] extra)").code, "malformed_json");
  EXPECT_EQ(DecodeBatchError(R"({"transactions":[{"amount":1}]}})").code, "malformed_json");
  EXPECT_EQ(DecodeBatchError(R"({"transactions":[{"amount":1}])").code, "malformed_json");
  EXPECT_EQ(DecodeBatchError("42").code, "invalid_body");
  EXPECT_EQ(DecodeBatchError(R"({"items":[]})").code, "missing_field");
  EXPECT_EQ(DecodeBatchError(R"({"transactions":{}})").field, "transactions");
  EXPECT_EQ(DecodeBatchError(R"({"transactions":[]})").field, "transactions");
  EXPECT_EQ(DecodeBatchError(R"({"transactions":[{"amount":1}],"transactions":[]})").field,
            "transactions");
  EXPECT_EQ(DecodeBatchError(R"([{"amount":1},7])").field, "transactions[1]");
  const RequestError bad_item = DecodeBatchError(R"([{"amount":1},{"amount":-1}])");
  EXPECT_EQ(bad_item.code, "invalid_field");
  EXPECT_EQ(bad_item.field, "transactions[1].amount");
  TransactionLimits two_items;
  two_items.max_batch_items = 2;
  EXPECT_EQ(DecodeBatchError(R"([{"amount":1},{"amount":1},{"amount":1}])", two_items).code,
            "too_many_items");
}

TEST(TransactionCodecTest, GeneratedIdsAreUniqueAcrossDecoders) {
  // Each worker thread has its own decoder; ids they generate must still never collide.
  TransactionDecoder first(TransactionLimits{});
  TransactionDecoder second(TransactionLimits{});
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    for (TransactionDecoder* decoder : {&first, &second}) {
      Transaction txn;
      RequestError error;
      ASSERT_TRUE(decoder->DecodeOne(R"({"amount":1})", kNowMs, txn, error));
      EXPECT_TRUE(ids.insert(txn.transaction_id).second) << txn.transaction_id;
    }
  }
}

TEST(TransactionCodecTest, TimestampsInBothFormsAndBadOnesRefused) {
  int64_t ms = 0;
  ASSERT_TRUE(ParseRfc3339("2024-05-01T00:00:00Z", ms));
  EXPECT_EQ(ms, kNowMs);
  ASSERT_TRUE(ParseRfc3339("2024-05-01T02:00:00.250+02:00", ms));
  EXPECT_EQ(ms, kNowMs + 250);
  EXPECT_FALSE(ParseRfc3339("2024-05-01", ms));
  EXPECT_FALSE(ParseRfc3339("2024-13-01T00:00:00Z", ms));
  EXPECT_FALSE(ParseRfc3339("2024-05-01T00:00:00", ms));
  EXPECT_EQ(DecodeOneError(R"({"amount":1,"timestamp":1.5e30})").field, "timestamp");
}

}  // namespace
}  // namespace fraudguard
