#include "features/feature_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "features/entity_hash.h"

namespace fraudguard {
namespace {

constexpr uint64_t kChecksumSeed = 0x46475741'4c434b53ULL;

std::string ErrnoText(std::string_view what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

template <typename T>
void PutAt(char* out, size_t& offset, const T& value) {
  std::memcpy(out + offset, &value, sizeof(value));
  offset += sizeof(value);
}

template <typename T>
void GetAt(const char* data, size_t& offset, T& value) {
  std::memcpy(&value, data + offset, sizeof(value));
  offset += sizeof(value);
}

// Parses "<prefix><u64><rest>"; `rest` must start with `terminator` or be empty if it is 0.
bool ParseGeneration(std::string_view name,
                     std::string_view prefix,
                     char terminator,
                     uint64_t& generation) {
  if (name.substr(0, prefix.size()) != prefix) {
    return false;
  }
  const char* begin = name.data() + prefix.size();
  const char* end = name.data() + name.size();
  const auto [ptr, ec] = std::from_chars(begin, end, generation);
  if (ec != std::errc() || ptr == begin) {
    return false;
  }
  return terminator == '\0' ? ptr == end : (ptr != end && *ptr == terminator);
}

}  // namespace

uint64_t Checksum64(std::string_view data) {
  return HashBytes(data.data(), data.size(), kChecksumSeed);
}

void EncodeLogRecord(const LogRecord& record, char* out) {
  size_t offset = 0;
  PutAt(out, offset, record.shard_seq);
  PutAt(out, offset, record.update.key);
  PutAt(out, offset, record.update.timestamp_ms);
  PutAt(out, offset, record.update.amount);
  PutAt(out, offset, record.update.merchant_hash);
  PutAt(out, offset, record.update.country_hash);
  PutAt(out, offset, record.update.device_hash);
  PutAt(out, offset, record.shard);
  PutAt(out, offset, static_cast<uint8_t>(record.update.type));
  PutAt(out, offset, static_cast<uint8_t>(record.update.kind));
  const auto checksum = static_cast<uint32_t>(Checksum64(std::string_view(out, offset)));
  PutAt(out, offset, checksum);
}

bool DecodeLogRecord(const char* data, LogRecord& record) {
  constexpr size_t kChecksummed = kLogRecordSize - sizeof(uint32_t);
  uint32_t stored_checksum = 0;
  std::memcpy(&stored_checksum, data + kChecksummed, sizeof(stored_checksum));
  if (stored_checksum != static_cast<uint32_t>(Checksum64(std::string_view(data, kChecksummed)))) {
    return false;
  }
  size_t offset = 0;
  uint8_t type = 0;
  uint8_t kind = 0;
  GetAt(data, offset, record.shard_seq);
  GetAt(data, offset, record.update.key);
  GetAt(data, offset, record.update.timestamp_ms);
  GetAt(data, offset, record.update.amount);
  GetAt(data, offset, record.update.merchant_hash);
  GetAt(data, offset, record.update.country_hash);
  GetAt(data, offset, record.update.device_hash);
  GetAt(data, offset, record.shard);
  GetAt(data, offset, type);
  GetAt(data, offset, kind);
  if (type >= kEntityTypeCount || (kind != static_cast<uint8_t>(UpdateKind::kTransaction) &&
                                   kind != static_cast<uint8_t>(UpdateKind::kFraudLabel))) {
    return false;
  }
  record.update.type = static_cast<EntityType>(type);
  record.update.kind = static_cast<UpdateKind>(kind);
  return true;
}

std::string SegmentFileName(uint64_t generation, int worker, uint64_t part) {
  return "wal-" + std::to_string(generation) + "-" + std::to_string(worker) + "-" +
         std::to_string(part);
}

std::string SnapshotFileName(uint64_t generation) {
  return "snapshot-" + std::to_string(generation);
}

bool ParseSegmentFileName(std::string_view name, uint64_t& generation) {
  return ParseGeneration(name, "wal-", '-', generation);
}

bool ParseSnapshotFileName(std::string_view name, uint64_t& generation) {
  return ParseGeneration(name, "snapshot-", '\0', generation);
}

Status WriteFully(int fd, std::string_view data, size_t& written) {
  written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error{std::string("write failed: ") + std::strerror(errno)};
    }
    written += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<std::string> ReadWholeFile(const std::string& path, size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error{ErrnoText("cannot open", path)};
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const std::string message = ErrnoText("cannot stat", path);
    ::close(fd);
    return Error{message};
  }
  if (static_cast<uint64_t>(info.st_size) > max_bytes) {
    ::close(fd);
    return Error{path + ": file of " + std::to_string(info.st_size) +
                 " bytes exceeds the limit of " + std::to_string(max_bytes)};
  }
  std::string data(static_cast<size_t>(info.st_size), '\0');
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const std::string message = ErrnoText("cannot read", path);
      ::close(fd);
      return Error{message};
    }
    if (n == 0) {
      data.resize(done);  // The file shrank while reading.
      break;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return data;
}

Status FsyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error{ErrnoText("cannot open directory", dir)};
  }
  const int rc = ::fsync(fd);
  const std::string message = rc != 0 ? ErrnoText("cannot fsync directory", dir) : "";
  ::close(fd);
  if (rc != 0) {
    return Error{message};
  }
  return OkStatus();
}

Result<std::vector<std::string>> ListDirectory(const std::string& dir) {
  DIR* handle = ::opendir(dir.c_str());
  if (handle == nullptr) {
    return Error{ErrnoText("cannot list directory", dir)};
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(handle)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != "..") {
      names.emplace_back(name);
    }
  }
  ::closedir(handle);
  return names;
}

}  // namespace fraudguard
