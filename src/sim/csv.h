// CSV files of labelled transactions: FraudGuard's own schema, written and read, and the Fraud
// Detection Handbook's schema, read.
//
// FraudGuard's schema, one transaction per line, an empty cell for an absent field:
//   transaction_id,timestamp_ms,amount,currency,card_id,customer_id,merchant_id,
//   merchant_category,country,device_id,ip,channel,user_age_days,is_fraud,scenario
// The handbook's schema (see its README): TRANSACTION_ID, TX_DATETIME ("YYYY-MM-DD HH:MM:SS",
// read as UTC), CUSTOMER_ID (becomes card_id and customer_id), TERMINAL_ID (merchant_id),
// TX_AMOUNT, TX_TIME_SECONDS, TX_TIME_DAYS, TX_FRAUD, TX_FRAUD_SCENARIO.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "sim/simulator.h"

namespace fraudguard {

// Appends FraudGuard's header line, newline included.
void WriteCsvHeader(std::string& out);
// Appends one text field: quoted when it holds a comma or a quote; line breaks become spaces, so
// that every row is one line.
void AppendCsvText(std::string& out, std::string_view text);
// Appends one row, newline included, its text fields written by AppendCsvText.
void AppendCsvRow(std::string& out, const LabelledTransaction& row);

enum class CsvSchema { kAuto, kFraudGuard, kHandbook };

// Limits on what the reader accepts; longer input is an error, not a truncation.
inline constexpr size_t kMaxCsvLineBytes = 64 * 1024;
inline constexpr size_t kMaxCsvFieldBytes = 256;

// A streaming reader of either schema. The header decides the schema (kAuto) or must match the
// forced one; columns may come in any order, unknown columns are ignored. Errors name the line,
// the column and the problem: "line 7, column amount: not a number: 'abc'".
class TransactionCsvReader {
public:
  // `path` ending in ".gz" is decompressed through `gzip -dc`; "-" reads standard input.
  static Result<std::unique_ptr<TransactionCsvReader>> Open(const std::string& path,
                                                            CsvSchema schema = CsvSchema::kAuto);
  // Reads from a string (for tests and small inputs).
  static Result<std::unique_ptr<TransactionCsvReader>> FromString(
      std::string text, CsvSchema schema = CsvSchema::kAuto);
  ~TransactionCsvReader();
  TransactionCsvReader(const TransactionCsvReader&) = delete;
  TransactionCsvReader& operator=(const TransactionCsvReader&) = delete;

  // The next row; false at the end; an Error on a bad line (reading may not continue after it).
  Result<bool> Next(LabelledTransaction& out);

  // The schema found in the header.
  CsvSchema schema() const { return schema_; }
  // Number of the last line read, counting the header as line 1.
  uint64_t line() const { return line_number_; }
  // Fraction of the input consumed, 0..1; 0 when the size is unknown (standard input).
  double progress() const;

private:
  TransactionCsvReader() = default;
  Status ReadHeader(CsvSchema forced);
  // The next line without its line break; false at the end of the input.
  Result<bool> ReadLine(std::string_view& line);
  Status Refill();
  Status ParseFraudGuardRow(LabelledTransaction& out);
  Status ParseHandbookRow(LabelledTransaction& out);
  Error FieldError(size_t column, std::string_view problem, std::string_view value) const;

  std::string path_;
  int fd_ = -1;
  bool owns_fd_ = false;
  int child_pid_ = -1;      // the gzip process, when decompressing
  int input_file_fd_ = -1;  // the compressed file, shared with gzip, for progress
  uint64_t input_size_ = 0;
  uint64_t bytes_read_ = 0;
  bool eof_ = false;

  std::string buffer_;
  size_t buffer_start_ = 0;
  std::string line_copy_;  // a line that had to be unquoted

  CsvSchema schema_ = CsvSchema::kFraudGuard;
  std::vector<std::string> header_;
  // For each field the schema knows, the column it sits in (-1: absent).
  std::vector<int> column_of_;
  std::vector<std::string_view> cells_;
  uint64_t line_number_ = 0;
};

}  // namespace fraudguard
