#include <map>
#include <random>

#include <gtest/gtest.h>

#include "features/entity_table.h"

namespace fraudguard {
namespace {

// Random inserts and erases against std::map, with keys forced into few home slots so that
// probe runs are long, wrap around the end, and backward shifting is exercised.
TEST(FeatureTableTest, MatchesAReferenceMapUnderRandomInsertsAndErases) {
  std::mt19937_64 rng(17);
  EntityTable table;
  std::map<uint64_t, int> reference;
  for (int step = 0; step < 20000; ++step) {
    const uint64_t key = ((rng() % 200) << 8) | (rng() % 3 == 0 ? 0xff : rng() % 4);
    if (rng() % 3 == 0) {
      const ptrdiff_t index = table.Find(key);
      ASSERT_EQ(index >= 0, reference.count(key) == 1) << step;
      if (index >= 0) {
        table.EraseAt(static_cast<size_t>(index));
        reference.erase(key);
      }
    } else {
      bool inserted = false;
      const size_t index = table.FindOrInsert(key, EntityType::kIp, inserted);
      ASSERT_EQ(inserted, reference.count(key) == 0) << step;
      ASSERT_EQ(table.slot(index).key, key);
      ASSERT_EQ(table.slot(index).record->key, key);
      if (inserted) {
        table.slot(index).touched_ms = step;
        reference[key] = step;
      }
    }
    ASSERT_EQ(table.size(), reference.size());
    ASSERT_LE(table.size() * 2, table.capacity());
  }
  for (const auto& [key, step] : reference) {
    const ptrdiff_t index = table.Find(key);
    ASSERT_GE(index, 0) << key;
    EXPECT_EQ(table.slot(static_cast<size_t>(index)).touched_ms, step);
  }
  EXPECT_EQ(table.Find(0xdeadbeef), -1);
}

TEST(FeatureTableTest, RecordsKeepTheirAddressWhenTheTableGrows) {
  EntityTable table;
  bool inserted = false;
  EntityRecord* first =
      table.slot(table.FindOrInsert(42, EntityType::kCard, inserted)).record.get();
  for (uint64_t key = 100; key < 1100; ++key) {
    (void)table.FindOrInsert(key, EntityType::kCard, inserted);
  }
  EXPECT_EQ(table.slot(static_cast<size_t>(table.Find(42))).record.get(), first);
  EXPECT_EQ(first->type, EntityType::kCard);
}

}  // namespace
}  // namespace fraudguard
