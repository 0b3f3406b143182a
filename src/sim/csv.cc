#include "sim/csv.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/log.h"

extern char** environ;

namespace fraudguard {
namespace {

constexpr size_t kReadChunkBytes = 1 << 20;

// FraudGuard's columns, in the order the writer uses.
enum FraudGuardColumn {
  kTransactionId,
  kTimestampMs,
  kAmount,
  kCurrency,
  kCardId,
  kCustomerId,
  kMerchantId,
  kMerchantCategory,
  kCountry,
  kDeviceId,
  kIp,
  kChannel,
  kUserAgeDays,
  kIsFraud,
  kScenario,
  kFraudGuardColumnCount
};
constexpr std::array<std::string_view, kFraudGuardColumnCount> kFraudGuardNames = {
    "transaction_id", "timestamp_ms",      "amount",  "currency",  "card_id", "customer_id",
    "merchant_id",    "merchant_category", "country", "device_id", "ip",      "channel",
    "user_age_days",  "is_fraud",          "scenario"};
constexpr std::array<FraudGuardColumn, 4> kFraudGuardRequired = {kTransactionId, kTimestampMs,
                                                                 kAmount, kIsFraud};

// The handbook's columns that the reader uses (TX_TIME_SECONDS and TX_TIME_DAYS repeat
// TX_DATETIME).
enum HandbookColumn {
  kHbTransactionId,
  kHbDatetime,
  kHbCustomerId,
  kHbTerminalId,
  kHbAmount,
  kHbFraud,
  kHbScenario,
  kHandbookColumnCount
};
constexpr std::array<std::string_view, kHandbookColumnCount> kHandbookNames = {
    "TRANSACTION_ID", "TX_DATETIME", "CUSTOMER_ID",      "TERMINAL_ID",
    "TX_AMOUNT",      "TX_FRAUD",    "TX_FRAUD_SCENARIO"};
constexpr std::array<HandbookColumn, 6> kHandbookRequired = {
    kHbTransactionId, kHbDatetime, kHbCustomerId, kHbTerminalId, kHbAmount, kHbFraud};

template <typename T>
void AppendNumber(std::string& out, T value) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof(buffer), value).ptr;
  out.append(buffer, end);
}

bool ParseInt64(std::string_view text, int64_t& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

bool ParseDouble(std::string_view text, double& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

// "YYYY-MM-DD HH:MM:SS" as UTC, to Unix milliseconds.
bool ParseDatetime(std::string_view text, int64_t& millis) {
  if (text.size() != 19 || text[4] != '-' || text[7] != '-' || text[10] != ' ' || text[13] != ':' ||
      text[16] != ':') {
    return false;
  }
  auto number = [&](size_t position, size_t length, int64_t& value) {
    const char* begin = text.data() + position;
    const auto [end, error] = std::from_chars(begin, begin + length, value);
    return error == std::errc() && end == begin + length;
  };
  int64_t year, month, day, hour, minute, second;
  if (!number(0, 4, year) || !number(5, 2, month) || !number(8, 2, day) || !number(11, 2, hour) ||
      !number(14, 2, minute) || !number(17, 2, second)) {
    return false;
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 ||
      second > 59) {
    return false;
  }
  constexpr std::array<int64_t, 12> kDaysInMonth = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDaysInMonth[month - 1] + (month == 2 && leap ? 1 : 0)) {
    return false;
  }
  const int64_t days = DaysFromCivil(year, month, day);
  millis = ((days * 24 + hour) * 60 + minute) * 60'000 + second * 1000;
  return true;
}

// Splits one line into cells. Quoted cells (RFC 4180, within one line) are unquoted into
// `scratch`, which must not be resized while the cells are in use.
bool SplitCells(std::string_view line, std::string& scratch, std::vector<std::string_view>& cells) {
  cells.clear();
  if (line.find('"') == std::string_view::npos) {
    size_t start = 0;
    while (true) {
      const size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) {
        cells.push_back(line.substr(start));
        return true;
      }
      cells.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
  }
  scratch.clear();
  scratch.reserve(line.size());
  size_t i = 0;
  while (true) {
    const size_t cell_start = scratch.size();
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) {
          return false;  // unterminated quote
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            scratch.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        scratch.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') {
        return false;  // text after the closing quote
      }
    } else {
      while (i < line.size() && line[i] != ',') {
        if (line[i] == '"') {
          return false;  // a quote inside an unquoted cell
        }
        scratch.push_back(line[i++]);
      }
    }
    cells.push_back(std::string_view(scratch).substr(cell_start, scratch.size() - cell_start));
    if (i >= line.size()) {
      return true;
    }
    ++i;  // the comma
  }
}

std::string Shorten(std::string_view value) {
  constexpr size_t kShown = 40;
  if (value.size() <= kShown) {
    return std::string(value);
  }
  return std::string(value.substr(0, kShown)) + "...";
}

}  // namespace

void WriteCsvHeader(std::string& out) {
  for (size_t i = 0; i < kFraudGuardNames.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    out.append(kFraudGuardNames[i]);
  }
  out.push_back('\n');
}

void AppendCsvText(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(text);
    return;
  }
  const bool quote = text.find_first_of(",\"") != std::string_view::npos;
  if (quote) {
    out.push_back('"');
  }
  for (char c : text) {
    if (c == '"') {
      out.append("\"\"");
    } else if (c == '\r' || c == '\n') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (quote) {
    out.push_back('"');
  }
}

void AppendCsvRow(std::string& out, const LabelledTransaction& row) {
  const Transaction& txn = row.txn;
  AppendCsvText(out, txn.transaction_id);
  out.push_back(',');
  AppendNumber(out, txn.timestamp_ms);
  out.push_back(',');
  AppendNumber(out, txn.amount);
  for (const std::string* text :
       {&txn.currency, &txn.card_id, &txn.customer_id, &txn.merchant_id, &txn.merchant_category,
        &txn.country, &txn.device_id, &txn.ip, &txn.channel}) {
    out.push_back(',');
    AppendCsvText(out, *text);
  }
  out.push_back(',');
  if (!std::isnan(txn.user_age_days)) {
    AppendNumber(out, txn.user_age_days);
  }
  out.append(row.fraud ? ",1," : ",0,");
  AppendNumber(out, row.scenario);
  out.push_back('\n');
}

Result<std::unique_ptr<TransactionCsvReader>> TransactionCsvReader::Open(const std::string& path,
                                                                         CsvSchema schema) {
  std::unique_ptr<TransactionCsvReader> reader(new TransactionCsvReader());
  reader->path_ = path;
  if (path == "-") {
    reader->fd_ = STDIN_FILENO;
  } else {
    const int file_fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file_fd < 0) {
      return Error{"cannot open " + path + ": " + std::strerror(errno)};
    }
    struct stat info {};
    if (fstat(file_fd, &info) == 0 && S_ISREG(info.st_mode)) {
      reader->input_size_ = static_cast<uint64_t>(info.st_size);
    }
    const bool gzipped = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
    if (!gzipped) {
      reader->fd_ = file_fd;
      reader->owns_fd_ = true;
    } else {
      // TODO: read through zlib's gzread once the build links -lz; until then gzip runs as a
      // child reading the file we opened. It shares our file offset, which gives the progress.
      reader->input_file_fd_ = file_fd;
      int pipe_fds[2];
      if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
        return Error{std::string("cannot create a pipe for gzip: ") + std::strerror(errno)};
      }
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_adddup2(&actions, file_fd, STDIN_FILENO);
      posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
      char arg0[] = "gzip";
      char arg1[] = "-dc";
      char* argv[] = {arg0, arg1, nullptr};
      pid_t pid = -1;
      const int spawn_error = posix_spawnp(&pid, "gzip", &actions, nullptr, argv, environ);
      posix_spawn_file_actions_destroy(&actions);
      close(pipe_fds[1]);
      if (spawn_error != 0) {
        close(pipe_fds[0]);
        return Error{"cannot run gzip -dc for " + path + ": " + std::strerror(spawn_error)};
      }
      reader->child_pid_ = pid;
      reader->fd_ = pipe_fds[0];
      reader->owns_fd_ = true;
    }
  }
  if (Status status = reader->ReadHeader(schema); !status.ok()) {
    return Error{status.error()};
  }
  return reader;
}

Result<std::unique_ptr<TransactionCsvReader>> TransactionCsvReader::FromString(std::string text,
                                                                               CsvSchema schema) {
  std::unique_ptr<TransactionCsvReader> reader(new TransactionCsvReader());
  reader->path_ = "<string>";
  reader->input_size_ = text.size();
  reader->bytes_read_ = text.size();
  reader->buffer_ = std::move(text);
  reader->eof_ = true;
  if (Status status = reader->ReadHeader(schema); !status.ok()) {
    return Error{status.error()};
  }
  return reader;
}

TransactionCsvReader::~TransactionCsvReader() {
  if (owns_fd_ && fd_ >= 0) {
    close(fd_);  // a gzip still writing gets SIGPIPE and exits
  }
  if (input_file_fd_ >= 0) {
    close(input_file_fd_);
  }
  if (child_pid_ > 0) {
    int status = 0;
    while (waitpid(child_pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
}

double TransactionCsvReader::progress() const {
  if (input_size_ == 0) {
    return 0;
  }
  uint64_t consumed = 0;
  if (input_file_fd_ >= 0) {
    const off_t offset = lseek(input_file_fd_, 0, SEEK_CUR);
    consumed = offset > 0 ? static_cast<uint64_t>(offset) : 0;
  } else {
    consumed = bytes_read_ - (buffer_.size() - buffer_start_);
  }
  return std::min(1.0, static_cast<double>(consumed) / static_cast<double>(input_size_));
}

Status TransactionCsvReader::Refill() {
  buffer_.erase(0, buffer_start_);
  buffer_start_ = 0;
  const size_t old_size = buffer_.size();
  buffer_.resize(old_size + kReadChunkBytes);
  ssize_t count;
  do {
    count = read(fd_, buffer_.data() + old_size, kReadChunkBytes);
  } while (count < 0 && errno == EINTR);
  if (count < 0) {
    const int read_errno = errno;
    buffer_.resize(old_size);
    return Error{"cannot read " + path_ + ": " + std::strerror(read_errno)};
  }
  buffer_.resize(old_size + static_cast<size_t>(count));
  bytes_read_ += static_cast<uint64_t>(count);
  if (count == 0) {
    eof_ = true;
    if (child_pid_ > 0) {
      int status = 0;
      while (waitpid(child_pid_, &status, 0) < 0 && errno == EINTR) {
      }
      child_pid_ = -1;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        LogWarn("csv_gzip_failed").Field("path", path_).Field("status", status);
        return Error{"gzip -dc failed for " + path_ + " (not gzip data, or truncated)"};
      }
    }
  }
  return OkStatus();
}

Result<bool> TransactionCsvReader::ReadLine(std::string_view& line) {
  size_t searched = buffer_start_;
  while (true) {
    const size_t newline = buffer_.find('\n', searched);
    if (newline != std::string::npos) {
      line = std::string_view(buffer_).substr(buffer_start_, newline - buffer_start_);
      buffer_start_ = newline + 1;
      break;
    }
    if (buffer_.size() - buffer_start_ > kMaxCsvLineBytes) {
      return Error{"line " + std::to_string(line_number_ + 1) + ": longer than " +
                   std::to_string(kMaxCsvLineBytes) + " bytes"};
    }
    if (eof_) {
      if (buffer_start_ >= buffer_.size()) {
        return false;
      }
      line = std::string_view(buffer_).substr(buffer_start_);
      buffer_start_ = buffer_.size();
      break;
    }
    searched = buffer_.size() - buffer_start_;
    if (Status status = Refill(); !status.ok()) {
      return Error{status.error()};
    }
  }
  ++line_number_;
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (line.size() > kMaxCsvLineBytes) {
    return Error{"line " + std::to_string(line_number_) + ": longer than " +
                 std::to_string(kMaxCsvLineBytes) + " bytes"};
  }
  return true;
}

Status TransactionCsvReader::ReadHeader(CsvSchema forced) {
  std::string_view line;
  Result<bool> got = ReadLine(line);
  if (!got.ok()) {
    return Error{got.error()};
  }
  if (!*got) {
    return Error{path_ + ": empty input, expected a header line"};
  }
  if (!SplitCells(line, line_copy_, cells_)) {
    return Error{"line 1: malformed quoting in the header"};
  }
  header_.assign(cells_.begin(), cells_.end());
  auto has = [&](std::string_view name) {
    return std::find(header_.begin(), header_.end(), name) != header_.end();
  };
  schema_ = forced;
  if (schema_ == CsvSchema::kAuto) {
    if (has("transaction_id")) {
      schema_ = CsvSchema::kFraudGuard;
    } else if (has("TRANSACTION_ID") || has("TX_DATETIME")) {
      schema_ = CsvSchema::kHandbook;
    } else {
      return Error{
          "line 1: unknown header: expected FraudGuard's columns (transaction_id,...) or the "
          "handbook's (TRANSACTION_ID,TX_DATETIME,...)"};
    }
  }
  const bool fraudguard = schema_ == CsvSchema::kFraudGuard;
  const size_t known = fraudguard ? kFraudGuardNames.size() : kHandbookNames.size();
  column_of_.assign(known, -1);
  for (size_t column = 0; column < header_.size(); ++column) {
    for (size_t field = 0; field < known; ++field) {
      const std::string_view name = fraudguard ? kFraudGuardNames[field] : kHandbookNames[field];
      if (header_[column] != name) {
        continue;
      }
      if (column_of_[field] >= 0) {
        return Error{"line 1, column " + header_[column] + ": appears twice"};
      }
      column_of_[field] = static_cast<int>(column);
    }
  }
  auto require = [&](size_t field) -> Status {
    if (column_of_[field] < 0) {
      const std::string_view name = fraudguard ? kFraudGuardNames[field] : kHandbookNames[field];
      return Error{"line 1: missing column " + std::string(name)};
    }
    return OkStatus();
  };
  if (fraudguard) {
    for (FraudGuardColumn field : kFraudGuardRequired) {
      if (Status status = require(field); !status.ok()) {
        return status;
      }
    }
  } else {
    for (HandbookColumn field : kHandbookRequired) {
      if (Status status = require(field); !status.ok()) {
        return status;
      }
    }
  }
  return OkStatus();
}

Error TransactionCsvReader::FieldError(size_t column,
                                       std::string_view problem,
                                       std::string_view value) const {
  return Error{"line " + std::to_string(line_number_) + ", column " + header_[column] + ": " +
               std::string(problem) + ": '" + Shorten(value) + "'"};
}

Result<bool> TransactionCsvReader::Next(LabelledTransaction& out) {
  std::string_view line;
  do {
    Result<bool> got = ReadLine(line);
    if (!got.ok()) {
      return Error{got.error()};
    }
    if (!*got) {
      return false;
    }
  } while (line.empty());  // blank lines carry nothing
  if (!SplitCells(line, line_copy_, cells_)) {
    return Error{"line " + std::to_string(line_number_) + ": malformed quoting"};
  }
  if (cells_.size() != header_.size()) {
    return Error{"line " + std::to_string(line_number_) + ": expected " +
                 std::to_string(header_.size()) + " columns, found " +
                 std::to_string(cells_.size())};
  }
  const Status status =
      schema_ == CsvSchema::kFraudGuard ? ParseFraudGuardRow(out) : ParseHandbookRow(out);
  if (!status.ok()) {
    return Error{status.error()};
  }
  return true;
}

Status TransactionCsvReader::ParseFraudGuardRow(LabelledTransaction& out) {
  Transaction& txn = out.txn;
  for (size_t field = 0; field < column_of_.size(); ++field) {
    const int column = column_of_[field];
    const std::string_view value = column >= 0 ? cells_[column] : std::string_view();
    auto text = [&](std::string& target) -> Status {
      if (value.size() > kMaxCsvFieldBytes) {
        return FieldError(column, "longer than " + std::to_string(kMaxCsvFieldBytes) + " bytes",
                          value);
      }
      target.assign(value);
      return OkStatus();
    };
    Status status = OkStatus();
    switch (static_cast<FraudGuardColumn>(field)) {
      case kTransactionId:
        if (value.empty()) {
          return FieldError(column, "empty", value);
        }
        status = text(txn.transaction_id);
        break;
      case kTimestampMs:
        if (!ParseInt64(value, txn.timestamp_ms)) {
          return FieldError(column, "not an integer", value);
        }
        if (txn.timestamp_ms < 0) {
          return FieldError(column, "negative", value);
        }
        break;
      case kAmount:
        if (!ParseDouble(value, txn.amount)) {
          return FieldError(column, "not a number", value);
        }
        if (!std::isfinite(txn.amount)) {
          return FieldError(column, "not finite", value);
        }
        if (txn.amount < 0) {
          return FieldError(column, "negative", value);
        }
        break;
      case kCurrency:
        status = text(txn.currency);
        break;
      case kCardId:
        status = text(txn.card_id);
        break;
      case kCustomerId:
        status = text(txn.customer_id);
        break;
      case kMerchantId:
        status = text(txn.merchant_id);
        break;
      case kMerchantCategory:
        status = text(txn.merchant_category);
        break;
      case kCountry:
        status = text(txn.country);
        break;
      case kDeviceId:
        status = text(txn.device_id);
        break;
      case kIp:
        status = text(txn.ip);
        break;
      case kChannel:
        status = text(txn.channel);
        break;
      case kUserAgeDays:
        txn.user_age_days = std::numeric_limits<double>::quiet_NaN();
        if (!value.empty()) {
          if (!ParseDouble(value, txn.user_age_days)) {
            return FieldError(column, "not a number", value);
          }
          if (!std::isfinite(txn.user_age_days) || txn.user_age_days < 0) {
            return FieldError(column, "not a finite number of days >= 0", value);
          }
        }
        break;
      case kIsFraud:
        if (value != "0" && value != "1") {
          return FieldError(column, "expected 0 or 1", value);
        }
        out.fraud = value == "1";
        break;
      case kScenario: {
        int64_t scenario = 0;
        if (!value.empty() && !ParseInt64(value, scenario)) {
          return FieldError(column, "not an integer", value);
        }
        if (scenario < 0 || scenario > 1000) {
          return FieldError(column, "out of range 0..1000", value);
        }
        out.scenario = static_cast<int>(scenario);
        break;
      }
      case kFraudGuardColumnCount:
        break;
    }
    if (!status.ok()) {
      return status;
    }
  }
  return OkStatus();
}

Status TransactionCsvReader::ParseHandbookRow(LabelledTransaction& out) {
  Transaction& txn = out.txn;
  auto cell = [&](HandbookColumn field) { return cells_[column_of_[field]]; };
  int64_t number = 0;
  auto integer_text = [&](HandbookColumn field, std::string& target) -> Status {
    const std::string_view value = cell(field);
    if (!ParseInt64(value, number) || number < 0) {
      return FieldError(column_of_[field], "not a non-negative integer", value);
    }
    target.assign(value);
    return OkStatus();
  };
  if (Status status = integer_text(kHbTransactionId, txn.transaction_id); !status.ok()) {
    return status;
  }
  if (!ParseDatetime(cell(kHbDatetime), txn.timestamp_ms)) {
    return FieldError(column_of_[kHbDatetime], "not a date 'YYYY-MM-DD HH:MM:SS'",
                      cell(kHbDatetime));
  }
  if (Status status = integer_text(kHbCustomerId, txn.card_id); !status.ok()) {
    return status;
  }
  txn.customer_id = txn.card_id;
  if (Status status = integer_text(kHbTerminalId, txn.merchant_id); !status.ok()) {
    return status;
  }
  const std::string_view amount = cell(kHbAmount);
  if (!ParseDouble(amount, txn.amount)) {
    return FieldError(column_of_[kHbAmount], "not a number", amount);
  }
  if (!std::isfinite(txn.amount) || txn.amount < 0) {
    return FieldError(column_of_[kHbAmount], "not a finite amount >= 0", amount);
  }
  const std::string_view fraud = cell(kHbFraud);
  if (fraud != "0" && fraud != "1") {
    return FieldError(column_of_[kHbFraud], "expected 0 or 1", fraud);
  }
  out.fraud = fraud == "1";
  out.scenario = kScenarioGenuine;  // when the file has no TX_FRAUD_SCENARIO
  if (column_of_[kHbScenario] >= 0) {
    const std::string_view scenario = cell(kHbScenario);
    if (!ParseInt64(scenario, number) || number < 0 || number > 3) {
      return FieldError(column_of_[kHbScenario], "expected 0, 1, 2 or 3", scenario);
    }
    out.scenario = static_cast<int>(number);
  }
  txn.currency.clear();
  txn.merchant_category.clear();
  txn.country.clear();
  txn.device_id.clear();
  txn.ip.clear();
  txn.channel.clear();
  txn.user_age_days = std::numeric_limits<double>::quiet_NaN();
  return OkStatus();
}

}  // namespace fraudguard
