#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/label_store.h"

namespace fraudguard {
namespace {

class LabelStoreTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("label_store_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path() const { return (dir_ / "labels.db").string(); }

  std::filesystem::path dir_;
};

LabelRecord Record(std::string id, FraudLabel label) {
  LabelRecord record;
  record.transaction_id = std::move(id);
  record.label = label;
  record.source = "review";
  record.label_ms = 100;
  record.received_ms = 200;
  record.action = "decline";
  record.amount = 42.5;
  record.currency = "EUR";
  record.model_version = "v1";
  return record;
}

TEST_F(LabelStoreTest, StoresOnceAndTellsDuplicatesFromConflicts) {
  auto store = LabelStore::Open(Path());
  ASSERT_TRUE(store) << store.error();
  LabelRecord existing;
  const LabelRecord first = Record("t-1", FraudLabel::kFraud);
  ASSERT_EQ(*(*store)->Insert(first, existing), LabelOutcome::kStored);

  LabelRecord again = first;
  again.source = "customer";
  ASSERT_EQ(*(*store)->Insert(again, existing), LabelOutcome::kDuplicate);
  EXPECT_EQ(existing, first);  // the first stays, source included

  ASSERT_EQ(*(*store)->Insert(Record("t-1", FraudLabel::kLegitimate), existing),
            LabelOutcome::kConflict);
  EXPECT_EQ(existing.label, FraudLabel::kFraud);

  auto missing = (*store)->Find("t-2");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
}

TEST_F(LabelStoreTest, SurvivesReopening) {
  {
    auto store = LabelStore::Open(Path());
    ASSERT_TRUE(store);
    LabelRecord existing;
    ASSERT_TRUE((*store)->Insert(Record("t-1", FraudLabel::kFraud), existing));
    ASSERT_TRUE((*store)->Insert(Record("t-2", FraudLabel::kLegitimate), existing));
  }
  auto store = LabelStore::Open(Path());
  ASSERT_TRUE(store);
  std::vector<LabelRecord> all;
  ASSERT_TRUE((*store)->ForEach([&](const LabelRecord& record) { all.push_back(record); }));
  ASSERT_EQ(all.size(), 2U);
  auto found = (*store)->Find("t-1");
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ(**found, Record("t-1", FraudLabel::kFraud));
}

TEST_F(LabelStoreTest, UnusablePathIsAnError) {
  auto store = LabelStore::Open((dir_ / "missing" / "labels.db").string());
  EXPECT_FALSE(store);
}

TEST_F(LabelStoreTest, ClosedStoreRefuses) {
  auto store = LabelStore::Open(Path());
  ASSERT_TRUE(store);
  (*store)->Close();
  LabelRecord existing;
  EXPECT_FALSE((*store)->Insert(Record("t-1", FraudLabel::kFraud), existing));
  EXPECT_FALSE((*store)->Find("t-1"));
}

}  // namespace
}  // namespace fraudguard
