#include "features/entity_table.h"

#include <utility>

namespace fraudguard {
namespace {

constexpr size_t kInitialCapacity = 16;
// malloc bookkeeping for a separately allocated block.
constexpr size_t kHeapBlockOverhead = 16;

}  // namespace

size_t AccountedRecordBytes(EntityType type) {
  size_t bytes = EntityTable::kBytesPerKey + sizeof(EntityRecord) + kHeapBlockOverhead;
  if (type == EntityType::kCard) {
    bytes += sizeof(CardExtras) + kHeapBlockOverhead;
  }
  if (type == EntityType::kMerchant) {
    bytes += sizeof(MerchantLabelDays) + kHeapBlockOverhead;
  }
  return bytes;
}

ptrdiff_t EntityTable::Find(uint64_t key) const {
  if (size_ == 0) {
    return -1;
  }
  const size_t mask = slots_.size() - 1;
  for (size_t i = HomeOf(key);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.record) {
      return -1;
    }
    if (s.key == key) {
      return static_cast<ptrdiff_t>(i);
    }
  }
}

size_t EntityTable::FindOrInsert(uint64_t key, EntityType type, bool& inserted) {
  if ((size_ + 1) * 2 > slots_.size()) {
    Grow();
  }
  const size_t mask = slots_.size() - 1;
  for (size_t i = HomeOf(key);; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (!s.record) {
      s.key = key;
      s.touched_ms = 0;
      s.record = std::make_unique<EntityRecord>();
      s.record->key = key;
      s.record->type = type;
      ++size_;
      inserted = true;
      return i;
    }
    if (s.key == key) {
      inserted = false;
      return i;
    }
  }
}

void EntityTable::EraseAt(size_t index) {
  const size_t mask = slots_.size() - 1;
  slots_[index] = Slot{};
  --size_;
  // Backward shift: move later members of the probe run into the hole when their home slot
  // does not lie cyclically in (hole, position].
  size_t hole = index;
  for (size_t j = (index + 1) & mask; slots_[j].record; j = (j + 1) & mask) {
    const size_t home = HomeOf(slots_[j].key);
    const bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_range) {
      slots_[hole] = std::move(slots_[j]);
      slots_[j] = Slot{};
      hole = j;
    }
  }
}

void EntityTable::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_ = std::vector<Slot>(old.empty() ? kInitialCapacity : old.size() * 2);
  const size_t mask = slots_.size() - 1;
  for (Slot& s : old) {
    if (!s.record) {
      continue;
    }
    size_t i = HomeOf(s.key);
    while (slots_[i].record) {
      i = (i + 1) & mask;
    }
    slots_[i] = std::move(s);
  }
}

}  // namespace fraudguard
