#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/csv.h"

namespace fraudguard {
namespace {

const char kFraudGuardHeader[] =
    "transaction_id,timestamp_ms,amount,currency,card_id,customer_id,merchant_id,"
    "merchant_category,country,device_id,ip,channel,user_age_days,is_fraud,scenario\n";

std::vector<LabelledTransaction> Simulate(SimulationProfile profile, int days) {
  SimulationOptions options;
  options.profile = profile;
  options.customers = 300;
  options.terminals = 600;
  options.radius = 20;
  options.days = days;
  Simulator simulator(options);
  std::vector<LabelledTransaction> rows;
  LabelledTransaction row;
  while (simulator.Next(row)) {
    rows.push_back(row);
  }
  return rows;
}

std::string ToCsv(const std::vector<LabelledTransaction>& rows) {
  std::string csv;
  WriteCsvHeader(csv);
  for (const LabelledTransaction& row : rows) {
    AppendCsvRow(csv, row);
  }
  return csv;
}

void ExpectSame(const LabelledTransaction& a, const LabelledTransaction& b) {
  EXPECT_EQ(a.txn.transaction_id, b.txn.transaction_id);
  EXPECT_EQ(a.txn.timestamp_ms, b.txn.timestamp_ms);
  EXPECT_EQ(a.txn.amount, b.txn.amount);
  EXPECT_EQ(a.txn.currency, b.txn.currency);
  EXPECT_EQ(a.txn.card_id, b.txn.card_id);
  EXPECT_EQ(a.txn.customer_id, b.txn.customer_id);
  EXPECT_EQ(a.txn.merchant_id, b.txn.merchant_id);
  EXPECT_EQ(a.txn.merchant_category, b.txn.merchant_category);
  EXPECT_EQ(a.txn.country, b.txn.country);
  EXPECT_EQ(a.txn.device_id, b.txn.device_id);
  EXPECT_EQ(a.txn.ip, b.txn.ip);
  EXPECT_EQ(a.txn.channel, b.txn.channel);
  EXPECT_EQ(std::isnan(a.txn.user_age_days), std::isnan(b.txn.user_age_days));
  if (!std::isnan(a.txn.user_age_days)) {
    EXPECT_EQ(a.txn.user_age_days, b.txn.user_age_days);
  }
  EXPECT_EQ(a.fraud, b.fraud);
  EXPECT_EQ(a.scenario, b.scenario);
}

std::vector<LabelledTransaction> ReadAll(TransactionCsvReader& reader) {
  std::vector<LabelledTransaction> rows;
  LabelledTransaction row;
  while (true) {
    Result<bool> got = reader.Next(row);
    EXPECT_TRUE(got.ok()) << got.error();
    if (!got.ok() || !*got) {
      return rows;
    }
    rows.push_back(row);
  }
}

TEST(CsvTest, SimulatedRowsSurviveARoundTrip) {
  for (SimulationProfile profile : {SimulationProfile::kFraudGuard, SimulationProfile::kHandbook}) {
    const std::vector<LabelledTransaction> rows = Simulate(profile, 3);
    ASSERT_GT(rows.size(), 1000u);
    auto reader = TransactionCsvReader::FromString(ToCsv(rows));
    ASSERT_TRUE(reader.ok()) << reader.error();
    EXPECT_EQ((*reader)->schema(), CsvSchema::kFraudGuard);
    const std::vector<LabelledTransaction> read = ReadAll(**reader);
    ASSERT_EQ(read.size(), rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      ExpectSame(read[i], rows[i]);
    }
    EXPECT_EQ((*reader)->line(), rows.size() + 1);
    EXPECT_EQ((*reader)->progress(), 1);
  }
}

TEST(CsvTest, TextWithCommasQuotesAndLineBreaksStaysOneRow) {
  LabelledTransaction row;
  row.txn.transaction_id = "a,b";
  row.txn.merchant_category = "say \"hi\"";
  row.txn.channel = "two\nlines";
  row.txn.amount = 12.5;
  std::string csv;
  WriteCsvHeader(csv);
  AppendCsvRow(csv, row);
  EXPECT_EQ(csv.find("\"a,b\","), std::string(kFraudGuardHeader).size()) << csv;
  auto reader = TransactionCsvReader::FromString(csv);
  ASSERT_TRUE(reader.ok()) << reader.error();
  const std::vector<LabelledTransaction> read = ReadAll(**reader);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].txn.transaction_id, "a,b");
  EXPECT_EQ(read[0].txn.merchant_category, "say \"hi\"");
  EXPECT_EQ(read[0].txn.channel, "two lines");
}

class CsvFileTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/sim_csv_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    const std::string command = "rm -rf '" + directory_ + "'";
    EXPECT_EQ(std::system(command.c_str()), 0);
  }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = directory_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::string directory_;
};

TEST_F(CsvFileTest, ReadsPlainAndGzippedFiles) {
  const std::vector<LabelledTransaction> rows = Simulate(SimulationProfile::kFraudGuard, 3);
  const std::string path = Write("rows.csv", ToCsv(rows));
  const std::string command = "gzip -k '" + path + "'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  for (const std::string& name : {path, path + ".gz"}) {
    auto reader = TransactionCsvReader::Open(name);
    ASSERT_TRUE(reader.ok()) << reader.error();
    if (name == path) {  // gzip may have read all of a small compressed file already
      EXPECT_LT((*reader)->progress(), 1);
    }
    const std::vector<LabelledTransaction> read = ReadAll(**reader);
    ASSERT_EQ(read.size(), rows.size()) << name;
    ExpectSame(read.back(), rows.back());
    EXPECT_EQ((*reader)->progress(), 1) << name;
  }
}

TEST_F(CsvFileTest, ReadsStandardInputForADash) {
  const std::vector<LabelledTransaction> rows = Simulate(SimulationProfile::kHandbook, 1);
  const int file_fd = open(Write("stdin.csv", ToCsv(rows)).c_str(), O_RDONLY);
  ASSERT_GE(file_fd, 0);
  const int saved_stdin = dup(STDIN_FILENO);
  ASSERT_EQ(dup2(file_fd, STDIN_FILENO), STDIN_FILENO);
  close(file_fd);
  std::vector<LabelledTransaction> read;
  {
    auto reader = TransactionCsvReader::Open("-");
    ASSERT_TRUE(reader.ok()) << reader.error();
    EXPECT_EQ((*reader)->progress(), 0);  // the size of standard input is unknown
    read = ReadAll(**reader);
  }
  dup2(saved_stdin, STDIN_FILENO);
  close(saved_stdin);
  ASSERT_EQ(read.size(), rows.size());
  ExpectSame(read.front(), rows.front());
}

TEST_F(CsvFileTest, ReportsFilesThatCannotBeRead) {
  auto missing = TransactionCsvReader::Open(directory_ + "/missing.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("missing.csv"), std::string::npos) << missing.error();

  auto not_gzip = TransactionCsvReader::Open(Write("bad.csv.gz", "not gzip data\n"));
  ASSERT_FALSE(not_gzip.ok());
  EXPECT_NE(not_gzip.error().find("gzip"), std::string::npos) << not_gzip.error();

  auto empty = TransactionCsvReader::Open(Write("empty.csv", ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().find("empty"), std::string::npos) << empty.error();
}

TEST_F(CsvFileTest, StopsReadingAGzipFileEarlyWithoutHanging) {
  std::string csv = kFraudGuardHeader;
  for (int i = 0; i < 200'000; ++i) {
    csv += std::to_string(i) + ",1522540800000,10.5,,,,,,,,,,,0,0\n";
  }
  const std::string path = Write("big.csv", csv);
  const std::string command = "gzip '" + path + "'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  auto reader = TransactionCsvReader::Open(path + ".gz");
  ASSERT_TRUE(reader.ok()) << reader.error();
  LabelledTransaction row;
  ASSERT_TRUE((*reader)->Next(row).ok());
  EXPECT_EQ(row.txn.transaction_id, "0");
  // The reader is destroyed with gzip still writing; the destructor must reap it.
}

std::string ErrorOf(const std::string& csv) {
  auto reader = TransactionCsvReader::FromString(csv);
  if (!reader.ok()) {
    return reader.error();
  }
  LabelledTransaction row;
  while (true) {
    Result<bool> got = (*reader)->Next(row);
    if (!got.ok()) {
      return got.error();
    }
    if (!*got) {
      return "no error";
    }
  }
}

TEST(CsvTest, ErrorsNameTheLineTheColumnAndTheProblem) {
  const std::string good = "t1,1522540800000,10.5,EUR,c1,u1,m1,grocery,FR,d1,1.2.3.4,web,30,0,0\n";
  const std::string header = kFraudGuardHeader;
  EXPECT_EQ(ErrorOf(header + good + "t2,1522540800000,abc,,,,,,,,,,,0,0\n"),
            "line 3, column amount: not a number: 'abc'");
  EXPECT_EQ(ErrorOf(header + "t2,1522540800000,inf,,,,,,,,,,,0,0\n"),
            "line 2, column amount: not finite: 'inf'");
  EXPECT_EQ(ErrorOf(header + "t2,1522540800000,nan,,,,,,,,,,,0,0\n"),
            "line 2, column amount: not finite: 'nan'");
  EXPECT_EQ(ErrorOf(header + "t2,1522540800000,-3,,,,,,,,,,,0,0\n"),
            "line 2, column amount: negative: '-3'");
  EXPECT_EQ(ErrorOf(header + "t2,12x,3,,,,,,,,,,,0,0\n"),
            "line 2, column timestamp_ms: not an integer: '12x'");
  EXPECT_EQ(ErrorOf(header + "t2,1522540800000,3,,,,,,,,,,,yes,0\n"),
            "line 2, column is_fraud: expected 0 or 1: 'yes'");
  EXPECT_EQ(ErrorOf(header + "t2,1522540800000,3,,,,,,,,,,-1,0,0\n"),
            "line 2, column user_age_days: not a finite number of days >= 0: '-1'");
  EXPECT_EQ(ErrorOf(header + good + good + "t2,1522540800000,3,,,,,,,,,,0,0\n"),
            "line 4: expected 15 columns, found 14");
  EXPECT_EQ(ErrorOf(header + "t2,1522540800000,3,\"EUR,,,,,,,,,,,0,0\n"),
            "line 2: malformed quoting");
  EXPECT_EQ(ErrorOf(header + "t2,1522540800000,3," + std::string(300, 'x') + ",,,,,,,,,,0,0\n"),
            "line 2, column currency: longer than 256 bytes: '" + std::string(40, 'x') + "...'");
  EXPECT_EQ(ErrorOf(header + "t2," + std::string(kMaxCsvLineBytes, '1') + "\n"),
            "line 2: longer than 65536 bytes");
}

TEST(CsvTest, HeaderErrorsNameTheMissingColumn) {
  EXPECT_EQ(ErrorOf("transaction_id,timestamp_ms,is_fraud\n"), "line 1: missing column amount");
  EXPECT_EQ(ErrorOf("TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TX_AMOUNT,TX_FRAUD\n"),
            "line 1: missing column TERMINAL_ID");
  EXPECT_EQ(ErrorOf("transaction_id,amount,amount,timestamp_ms,is_fraud\n"),
            "line 1, column amount: appears twice");
  EXPECT_NE(ErrorOf("id,time,value\n").find("line 1: unknown header"), std::string::npos);
  EXPECT_EQ(ErrorOf(""), "<string>: empty input, expected a header line");
}

TEST(CsvTest, ReadsOnlyTheRequiredColumnsInAnyOrder) {
  auto reader = TransactionCsvReader::FromString(
      "is_fraud,amount,extra,transaction_id,timestamp_ms\r\n"
      "1,99.95,ignored,t9,1522540800123\r\n"
      "\r\n"
      "0,5,,t10,1522540800124\r\n");
  ASSERT_TRUE(reader.ok()) << reader.error();
  const std::vector<LabelledTransaction> rows = ReadAll(**reader);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].txn.transaction_id, "t9");
  EXPECT_EQ(rows[0].txn.timestamp_ms, 1522540800123);
  EXPECT_EQ(rows[0].txn.amount, 99.95);
  EXPECT_TRUE(rows[0].fraud);
  EXPECT_TRUE(rows[0].txn.card_id.empty());
  EXPECT_TRUE(std::isnan(rows[0].txn.user_age_days));
  EXPECT_EQ(rows[1].txn.transaction_id, "t10");
}

const char kHandbookCsv[] =
    "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,TX_TIME_DAYS,"
    "TX_FRAUD,TX_FRAUD_SCENARIO\n"
    "0,2018-04-01 00:00:31,596,3156,57.16,31,0,0,0\n"
    "1,2018-04-01 00:02:10,4961,3412,81.51,130,0,0,0\n"
    "1754154,2018-09-30 23:59:57,2345,8170,423.75,15811197,182,1,3\n";

TEST(CsvTest, DetectsAndReadsTheHandbookSchema) {
  auto reader = TransactionCsvReader::FromString(kHandbookCsv);
  ASSERT_TRUE(reader.ok()) << reader.error();
  EXPECT_EQ((*reader)->schema(), CsvSchema::kHandbook);
  const std::vector<LabelledTransaction> rows = ReadAll(**reader);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].txn.transaction_id, "0");
  EXPECT_EQ(rows[0].txn.timestamp_ms, 1522540831000);  // 2018-04-01T00:00:31Z
  EXPECT_EQ(rows[0].txn.card_id, "596");
  EXPECT_EQ(rows[0].txn.customer_id, "596");
  EXPECT_EQ(rows[0].txn.merchant_id, "3156");
  EXPECT_EQ(rows[0].txn.amount, 57.16);
  EXPECT_FALSE(rows[0].fraud);
  EXPECT_EQ(rows[2].txn.timestamp_ms, 1522540800000 + 15811197 * int64_t{1000});
  EXPECT_TRUE(rows[2].fraud);
  EXPECT_EQ(rows[2].scenario, kScenarioLeakedCard);
}

TEST(CsvTest, HandbookErrorsNameLineAndColumn) {
  std::string csv = kHandbookCsv;
  csv += "5,2018-04-31 10:00:00,1,2,3.5,0,0,0,0\n";
  EXPECT_EQ(ErrorOf(csv),
            "line 5, column TX_DATETIME: not a date 'YYYY-MM-DD HH:MM:SS': '2018-04-31 10:00:00'");
  csv = kHandbookCsv;
  csv += "5,2018-04-01 10:00:00,1,2,3.5,0,0,0,7\n";
  EXPECT_EQ(ErrorOf(csv), "line 5, column TX_FRAUD_SCENARIO: expected 0, 1, 2 or 3: '7'");
}

TEST(CsvTest, AForcedSchemaMustMatchTheHeader) {
  auto reader = TransactionCsvReader::FromString(kHandbookCsv, CsvSchema::kFraudGuard);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.error(), "line 1: missing column transaction_id");
  auto handbook = TransactionCsvReader::FromString(kHandbookCsv, CsvSchema::kHandbook);
  EXPECT_TRUE(handbook.ok());
}

}  // namespace
}  // namespace fraudguard
