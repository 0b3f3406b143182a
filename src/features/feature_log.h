// On-disk formats of the feature store's durability: log records (one per entity update) and
// the snapshot file, plus the small POSIX file helpers they need.
//
// Log record, fixed kLogRecordSize bytes, native byte order:
//   u64 shard_seq | u64 key | i64 timestamp_ms | f64 amount | u32 merchant_hash |
//   u32 country_hash | u32 device_hash | u16 shard | u8 entity type | u8 record kind |
//   u32 checksum (of the preceding 48 bytes)
// The record kind is an UpdateKind: 1 a transaction, 2 a fraud label (timestamp_ms is the
// labelled transaction's time). Logs written before fraud labels existed hold only kind 1 (the
// byte was the format version, 1), so they read unchanged.
// A segment file is a plain sequence of records; a torn last record (crash mid-write) is
// detected by its length or checksum and dropped.
//
// Snapshot file "snapshot-<generation>":
//   "FGSNAP02" | u64 generation | u32 shard count |
//   per shard: u64 payload size | payload | u64 checksum of payload |
//   "FGSNEND1"
// where a shard payload is u64 shard_seq | u32 record count | records (SerializeRecord).
// "FGSNAP01" snapshots, from before merchants kept label days, are still read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "features/entity_state.h"

namespace fraudguard {

inline constexpr size_t kLogRecordSize = 52;

struct LogRecord {
  uint64_t shard_seq = 0;
  uint16_t shard = 0;
  EntityUpdate update;
};

void EncodeLogRecord(const LogRecord& record, char* out);
// False if the bytes are not a valid record (bad checksum, record kind or entity type).
bool DecodeLogRecord(const char* data, LogRecord& record);

uint64_t Checksum64(std::string_view data);

// File names: "wal-<generation>-<worker>-<part>" and "snapshot-<generation>".
std::string SegmentFileName(uint64_t generation, int worker, uint64_t part);
std::string SnapshotFileName(uint64_t generation);
// Parse the generation out of a file name; false if the name is not of that kind.
bool ParseSegmentFileName(std::string_view name, uint64_t& generation);
bool ParseSnapshotFileName(std::string_view name, uint64_t& generation);

// Writes all of `data` to `fd`, retrying short writes and EINTR. `written` receives the bytes
// that reached the file even on failure.
Status WriteFully(int fd, std::string_view data, size_t& written);
// Reads a whole file (bounded by `max_bytes`).
Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes);
Status FsyncDirectory(const std::string& dir);
// Names of the entries of `dir` (not "." and "..").
Result<std::vector<std::string>> ListDirectory(const std::string& dir);

}  // namespace fraudguard
