// Hashing of entity ids. The store keeps 64-bit hashes instead of id strings (ids can be long
// and are only ever compared); with a different seed per entity type a card and a device that
// share an id string do not collide. At 5 million keys the chance of any 64-bit collision is
// about 1e-6, and a collision would merely merge two entities' histories.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace fraudguard {

// Finalising mixer: every input bit affects every output bit (the SplitMix64 constants).
constexpr uint64_t MixBits64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// A fast non-cryptographic hash: 8 bytes at a time, multiply-rotate, then a final mix.
inline uint64_t HashBytes(const void* data, size_t size, uint64_t seed) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint64_t state = MixBits64(seed ^ (size * 0x9e3779b97f4a7c15ULL));
  size_t offset = 0;
  for (; offset + 8 <= size; offset += 8) {
    uint64_t word;
    std::memcpy(&word, bytes + offset, 8);
    state = (state ^ MixBits64(word)) * 0x9e3779b97f4a7c15ULL;
    state = (state << 31) | (state >> 33);
  }
  uint64_t tail = 0;
  if (size > offset) {
    std::memcpy(&tail, bytes + offset, size - offset);
  }
  state ^= MixBits64(tail ^ 0x2545f4914f6cdd1dULL);
  return MixBits64(state);
}

inline uint64_t HashString(std::string_view text, uint64_t seed) {
  return HashBytes(text.data(), text.size(), seed);
}

// A 32-bit hash that is never 0, so 0 can mean "absent" in compact sets and log records.
inline uint32_t HashString32(std::string_view text, uint64_t seed) {
  if (text.empty()) {
    return 0;
  }
  const auto hash = static_cast<uint32_t>(HashString(text, seed) >> 32);
  return hash == 0 ? 1 : hash;
}

}  // namespace fraudguard
