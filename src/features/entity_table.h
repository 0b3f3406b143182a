// An open-addressing hash table from entity key to EntityRecord, one per store shard.
//
// Why not std::unordered_map: at millions of keys every lookup there costs a bucket-array miss,
// a miss on the node before the chain and one per chain node. Here a lookup is one miss on a
// 24-byte slot (linear probing, load factor at most 1/2) and one on the record. The slot also
// holds the last-touched time, so eviction scans read only the compact slot array.
//
// TODO: shrink the slot array after mass eviction; today it keeps its peak size.
// Deletion uses backward shifting (no tombstones). Slot references are invalidated by any
// insert or erase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "features/entity_state.h"

namespace fraudguard {

class EntityTable {
public:
  struct Slot {
    uint64_t key = 0;
    int64_t touched_ms = 0;                // Clock time of the last update.
    std::unique_ptr<EntityRecord> record;  // Null when the slot is empty.
  };

  // Memory the table spends per key: slots are at most half full.
  static constexpr size_t kBytesPerKey = 2 * sizeof(Slot);

  // Index of `key`'s slot, or -1.
  ptrdiff_t Find(uint64_t key) const;
  // Index of `key`'s slot, inserting a fresh record (key and type set) if absent.
  size_t FindOrInsert(uint64_t key, EntityType type, bool& inserted);
  void EraseAt(size_t index);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  Slot& slot(size_t index) { return slots_[index]; }
  const Slot& slot(size_t index) const { return slots_[index]; }
  // Home slot of a key; eviction samples start here.
  size_t HomeOf(uint64_t key) const { return static_cast<size_t>(key) & (slots_.size() - 1); }

private:
  void Grow();

  std::vector<Slot> slots_;  // Size is 0 or a power of two.
  size_t size_ = 0;
};

// Bytes the store accounts for one entity of `type`: its table share, the record and, for
// cards, the card extras, for merchants, the label days. Deterministic, so tests can assert the
// memory bound.
size_t AccountedRecordBytes(EntityType type);

}  // namespace fraudguard
