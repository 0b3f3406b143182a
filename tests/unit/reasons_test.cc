#include "scoring/reasons.h"

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

TEST(ReasonsTest, FeaturesFallIntoTheirGroups) {
  EXPECT_EQ(ReasonGroupForFeature("amount"), ReasonGroup::kUnusualAmount);
  EXPECT_EQ(ReasonGroupForFeature("card_amount_zscore_30d"), ReasonGroup::kUnusualAmountForCard);
  EXPECT_EQ(ReasonGroupForFeature("user_age_days"), ReasonGroup::kNewAccount);
  EXPECT_EQ(ReasonGroupForFeature("card_count_1h"), ReasonGroup::kCardVelocity);
  EXPECT_EQ(ReasonGroupForFeature("card_distinct_merchants_24h"), ReasonGroup::kCardSpread);
  EXPECT_EQ(ReasonGroupForFeature("ip_count_24h"), ReasonGroup::kIpVelocity);
  EXPECT_EQ(ReasonGroupForFeature("something_else"), ReasonGroup::kOther);
}

TEST(ReasonsTest, AnEntityTheRequestDidNotNameIsCreditedToMissingDetails) {
  Transaction txn;
  txn.amount = 10;
  EXPECT_EQ(CreditedReasonGroup(ReasonGroup::kIpVelocity, txn), ReasonGroup::kMissingDetails);
  EXPECT_EQ(CreditedReasonGroup(ReasonGroup::kCardVelocity, txn), ReasonGroup::kMissingDetails);
  EXPECT_EQ(CreditedReasonGroup(ReasonGroup::kUnusualAmount, txn), ReasonGroup::kUnusualAmount);
  txn.ip = "192.0.2.1";
  txn.card_id = "c-1";
  EXPECT_EQ(CreditedReasonGroup(ReasonGroup::kIpVelocity, txn), ReasonGroup::kIpVelocity);
  EXPECT_EQ(CreditedReasonGroup(ReasonGroup::kCardSpread, txn), ReasonGroup::kCardSpread);
  EXPECT_EQ(CreditedReasonGroup(ReasonGroup::kDeviceVelocity, txn), ReasonGroup::kMissingDetails);
  EXPECT_EQ(ReasonCode(ReasonGroup::kMissingDetails), "MISSING_DETAILS");
  const std::string sentence = ReasonSentence(ReasonGroup::kMissingDetails, txn);
  EXPECT_NE(sentence.find("device"), std::string::npos) << sentence;
  EXPECT_EQ(sentence.find("card,"), std::string::npos) << sentence;
}

TEST(ReasonsTest, SentencesCarryTheTransactionsValues) {
  Transaction txn;
  txn.amount = 10000;
  txn.user_age_days = 1;
  EXPECT_EQ(ReasonSentence(ReasonGroup::kNewAccount, txn), "The account is only 1 day old.");
  txn.user_age_days = 30;
  EXPECT_EQ(ReasonSentence(ReasonGroup::kNewAccount, txn), "The account is only 30 days old.");
  EXPECT_EQ(ReasonSentence(ReasonGroup::kUnusualAmount, txn),
            "The amount 10000.00 is high for transactions like it.");
  txn.amount = 1;
  EXPECT_EQ(ReasonSentence(ReasonGroup::kUnusualAmount, txn),
            "The amount 1.00 is unusual for transactions like it.");
  // Without a card there is no card history to compare with.
  EXPECT_EQ(CreditedReasonGroup(ReasonGroup::kUnusualAmountForCard, txn),
            ReasonGroup::kMissingDetails);
}

}  // namespace
}  // namespace fraudguard
