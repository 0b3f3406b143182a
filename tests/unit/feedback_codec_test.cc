#include "api/feedback_codec.h"

#include <string>

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

constexpr int64_t kNowMs = 1700000000000;

struct BadBody {
  std::string body;
  std::string code;
  std::string field;
};

TEST(FeedbackCodecTest, DecodesAFullBody) {
  FeedbackDecoder decoder;
  FeedbackRequest out;
  RequestError error;
  ASSERT_TRUE(decoder.Decode(R"({"transaction_id":"t-1","label":"fraud","source":"chargeback",)"
                             R"("timestamp":"2024-05-01T12:00:00Z"})",
                             kNowMs, out, error))
      << error.message;
  EXPECT_EQ(out.transaction_id, "t-1");
  EXPECT_EQ(out.label, FraudLabel::kFraud);
  EXPECT_EQ(out.source, "chargeback");
  EXPECT_EQ(out.label_ms, 1714564800000);
}

TEST(FeedbackCodecTest, DefaultsAndEpochMilliseconds) {
  FeedbackDecoder decoder;
  FeedbackRequest out;
  RequestError error;
  ASSERT_TRUE(decoder.Decode(R"({"transaction_id":"t-2","label":"legitimate","source":null})",
                             kNowMs, out, error));
  EXPECT_EQ(out.label, FraudLabel::kLegitimate);
  EXPECT_EQ(out.source, "");
  EXPECT_EQ(out.label_ms, kNowMs);
  ASSERT_TRUE(decoder.Decode(R"({"label":"fraud","transaction_id":"t-3","timestamp":1234})", kNowMs,
                             out, error));
  EXPECT_EQ(out.label_ms, 1234);
  EXPECT_EQ(out.transaction_id, "t-3");
}

TEST(FeedbackCodecTest, RefusesEveryKindOfBadBody) {
  const std::string long_id(kMaxFeedbackIdLength + 1, 'x');
  const std::string long_source(kMaxFeedbackSourceLength + 1, 's');
  const std::vector<BadBody> cases = {
      {"", "empty_body", ""},
      {"{", "malformed_json", ""},
      {R"({"transaction_id":"t","label":fraud})", "malformed_json", ""},
      {R"({"transaction_id":"t","label":"fraud"} x)", "malformed_json", ""},
      {R"({"transaction_id":"t","label":"fraud","source":"a",)", "malformed_json", ""},
      {"[1,2]", "invalid_body", ""},
      {R"("fraud")", "invalid_body", ""},
      {R"({"label":"fraud"})", "missing_field", "transaction_id"},
      {R"({"transaction_id":null,"label":"fraud"})", "missing_field", "transaction_id"},
      {R"({"transaction_id":"t"})", "missing_field", "label"},
      {R"({"transaction_id":"t","label":null})", "missing_field", "label"},
      {R"({"transaction_id":7,"label":"fraud"})", "invalid_field", "transaction_id"},
      {R"({"transaction_id":"","label":"fraud"})", "invalid_field", "transaction_id"},
      {R"({"transaction_id":")" + long_id + R"(","label":"fraud"})", "invalid_field",
       "transaction_id"},
      {R"({"transaction_id":"a\u0001b","label":"fraud"})", "invalid_field", "transaction_id"},
      {R"({"transaction_id":"t","label":"Fraud"})", "invalid_field", "label"},
      {R"({"transaction_id":"t","label":"maybe"})", "invalid_field", "label"},
      {R"({"transaction_id":"t","label":true})", "invalid_field", "label"},
      {R"({"transaction_id":"t","label":"fraud","source":5})", "invalid_field", "source"},
      {R"({"transaction_id":"t","label":"fraud","source":")" + long_source + R"("})",
       "invalid_field", "source"},
      {R"({"transaction_id":"t","label":"fraud","timestamp":-1})", "invalid_field", "timestamp"},
      {R"({"transaction_id":"t","label":"fraud","timestamp":1.5})", "invalid_field", "timestamp"},
      {R"({"transaction_id":"t","label":"fraud","timestamp":"yesterday"})", "invalid_field",
       "timestamp"},
      {R"({"transaction_id":"t","label":"fraud","timestamp":[]})", "invalid_field", "timestamp"},
      {R"({"transaction_id":"t","label":"fraud","label":"legitimate"})", "invalid_field", "label"},
      {R"({"transaction_id":"t","label":"fraud","score":1})", "invalid_field", "score"},
  };
  FeedbackDecoder decoder;
  for (const BadBody& bad : cases) {
    FeedbackRequest out;
    RequestError error;
    EXPECT_FALSE(decoder.Decode(bad.body, kNowMs, out, error)) << bad.body;
    EXPECT_EQ(error.code, bad.code) << bad.body << ": " << error.message;
    EXPECT_EQ(error.field, bad.field) << bad.body << ": " << error.message;
    EXPECT_FALSE(error.message.empty()) << bad.body;
  }
  // The decoder is reusable after any failure.
  FeedbackRequest out;
  RequestError error;
  EXPECT_TRUE(decoder.Decode(R"({"transaction_id":"t","label":"fraud"})", kNowMs, out, error));
}

}  // namespace
}  // namespace fraudguard
