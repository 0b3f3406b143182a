// Runs the real `fraudguard eval` and `fraudguard train` on a small simulated CSV, and on each
// class of bad input.
#include <fcntl.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace fraudguard {
namespace {

// This file carries its own small process and directory helpers (rather than
// server_process.cc's) so that it builds alone in a narrowed test build, and so that it can
// read the command's stderr, where the error messages go.

std::string RepoPath(const std::string& relative) {
  return std::string(FRAUDGUARD_SOURCE_DIR) + "/" + relative;
}

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fraudguard-eval-XXXXXX");
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
    }
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

// 2024-01-01T00:00:00Z: the simulation's first day, so that the tests can name dates.
constexpr const char* kStartMs = "1704067200000";

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `program` (the fraudguard binary unless named) with stdout and stderr captured in files
// of `dir`.
Outcome RunCapturingOutput(const std::string& dir,
                           const std::vector<std::string>& args,
                           const std::string& program = FRAUDGUARD_BINARY) {
  const std::string out_path = dir + "/stdout";
  const std::string err_path = dir + "/stderr";
  std::vector<std::string> full = {program};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : full) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out_fd < 0 || err_fd < 0) {
      _exit(126);
    }
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Outcome outcome;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  outcome.out = ReadFile(out_path);
  outcome.err = ReadFile(err_path);
  return outcome;
}

// A minimal XML well-formedness check: every tag closes, in order, with quoted attributes, and
// one root element named `root`.
::testing::AssertionResult IsWellFormedXml(const std::string& text, const std::string& root) {
  std::vector<std::string> open;
  size_t roots = 0;
  size_t at = 0;
  while ((at = text.find('<', at)) != std::string::npos) {
    const size_t end = text.find('>', at);
    if (end == std::string::npos) {
      return ::testing::AssertionFailure() << "unterminated tag at " << at;
    }
    const std::string tag = text.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.empty()) {
      return ::testing::AssertionFailure() << "empty tag";
    }
    if (tag[0] == '?') {
      continue;  // the XML declaration
    }
    size_t quotes = 0;
    for (const char c : tag) {
      quotes += c == '"' ? 1 : 0;
    }
    if (quotes % 2 != 0) {
      return ::testing::AssertionFailure() << "unbalanced quotes in <" << tag << ">";
    }
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) {
        return ::testing::AssertionFailure() << "</" << name << "> closes nothing open";
      }
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (open.empty()) {
      ++roots;
      if (name != root) {
        return ::testing::AssertionFailure() << "root element is " << name;
      }
    }
    if (tag.back() != '/') {
      open.push_back(name);
    }
  }
  if (!open.empty()) {
    return ::testing::AssertionFailure() << "<" << open.back() << "> never closes";
  }
  if (roots != 1) {
    return ::testing::AssertionFailure() << roots << " root elements";
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

void WriteLines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const auto& line : lines) {
    out << line << '\n';
  }
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream stream(line);
  for (std::string cell; std::getline(stream, cell, ',');) {
    cells.push_back(cell);
  }
  if (!line.empty() && line.back() == ',') {
    cells.emplace_back();
  }
  return cells;
}

std::string JoinCsv(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    line += (i == 0 ? "" : ",") + cells[i];
  }
  return line;
}

// The whole number at a JSON pointer of eval's report (0, and a failure, when it is not one).
uint64_t CountAt(simdjson::dom::element root, const char* pointer) {
  uint64_t value = 0;
  EXPECT_EQ(root.at_pointer(pointer).get_uint64().get(value), simdjson::SUCCESS) << pointer;
  return value;
}

class EvalCommandTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    csv_ = dir_->path() + "/sim.csv";
    ASSERT_FALSE(dir_->path().empty());
    const Outcome simulated =
        RunCapturingOutput(dir_->path(), {"simulate", "--profile", "fraudguard", "--seed", "314",
                                          "--customers", "300", "--terminals", "600", "--days",
                                          "20", "--start-ms", kStartMs, "--output", csv_});
    ASSERT_EQ(simulated.exit_code, 0) << simulated.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::string Path(const std::string& name) { return dir_->path() + "/" + name; }
  static Outcome Eval(std::vector<std::string> args) {
    args.insert(args.begin(), "eval");
    return RunCapturingOutput(dir_->path(), args);
  }

  static TempDir* dir_;
  static std::string csv_;
};

TempDir* EvalCommandTest::dir_ = nullptr;
std::string EvalCommandTest::csv_;

TEST_F(EvalCommandTest, JsonReportHasEveryFieldInRangeAndThePlotIsWritten) {
  const std::string plot = Path("pr.svg");
  const Outcome outcome =
      Eval({"--input", csv_, "--model", RepoPath("models/default.json"), "--from", "2024-01-08",
            "--to", "2024-01-20", "--json", "--plot", plot});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(outcome.out).get(root), simdjson::SUCCESS) << outcome.out;
  const auto number = [&](const char* pointer) {
    double value = -1;
    EXPECT_EQ(root.at_pointer(pointer).get_double().get(value), simdjson::SUCCESS) << pointer;
    return value;
  };
  const auto count = [&](const char* pointer) { return CountAt(root, pointer); };
  std::string_view from;
  ASSERT_EQ(root.at_pointer("/period/from").get_string().get(from), simdjson::SUCCESS);
  EXPECT_EQ(from, "2024-01-08");
  EXPECT_EQ(count("/period/days"), 13U);
  EXPECT_EQ(count("/label_delay_days"), 7U);

  const uint64_t replayed = count("/transactions/replayed");
  const uint64_t in_period = count("/transactions/in_period");
  const uint64_t excluded = count("/transactions/excluded_known_compromised");
  const uint64_t evaluated = count("/transactions/evaluated");
  const uint64_t frauds = count("/transactions/frauds");
  const uint64_t legitimate = count("/transactions/legitimate");
  EXPECT_GT(replayed, in_period);  // the first week only warms the features
  EXPECT_EQ(in_period, excluded + evaluated);
  EXPECT_EQ(evaluated, frauds + legitimate);
  EXPECT_GT(frauds, 0U);
  // Drift of the period against the model's validation reference: the score and the features
  // the reference tracks, each a PSI (how large depends on how warm the feature windows are).
  simdjson::dom::object drift;
  ASSERT_EQ(root.at_pointer("/drift").get_object().get(drift), simdjson::SUCCESS);
  EXPECT_EQ(drift.size(), 6U);
  EXPECT_GE(number("/drift/risk_score"), 0.0);
  EXPECT_GE(number("/drift/merchant_delayed_count_30d"), 0.0);
  uint64_t confusion_total = 0;
  uint64_t confusion_frauds = 0;
  for (const char* level : {"low", "medium", "high"}) {
    const std::string base = std::string("/confusion/") + level;
    confusion_frauds += count((base + "/fraud").c_str());
    confusion_total += count((base + "/fraud").c_str()) + count((base + "/legitimate").c_str());
  }
  EXPECT_EQ(confusion_total, evaluated);
  EXPECT_EQ(confusion_frauds, frauds);

  const double auc = number("/auc_roc");
  EXPECT_GT(auc, 0.5);
  EXPECT_LE(auc, 1.0);
  const double ap = number("/average_precision");
  EXPECT_GT(ap, 0.0);
  EXPECT_LE(ap, 1.0);
  const double at_1 = number("/detection_at_fpr_1");
  const double at_2 = number("/detection_at_fpr_2");
  EXPECT_GE(at_1, 0.0);
  EXPECT_LE(at_1, at_2);
  EXPECT_LE(at_2, 1.0);
  EXPECT_EQ(count("/card_precision/k"), 100U);
  const double card_precision = number("/card_precision/mean");
  EXPECT_GT(card_precision, 0.0);
  EXPECT_LE(card_precision, 1.0);
  simdjson::dom::array days;
  ASSERT_EQ(root.at_pointer("/card_precision/days").get_array().get(days), simdjson::SUCCESS);
  EXPECT_EQ(days.size(), 13U);
  EXPECT_GT(number("/thresholds/high"), number("/thresholds/medium"));
  const double medium_detection = number("/medium_or_above/detection_rate");
  const double high_detection = number("/high/detection_rate");
  EXPECT_GE(medium_detection, high_detection);
  EXPECT_GE(number("/medium_or_above/false_positive_rate"), number("/high/false_positive_rate"));
  EXPECT_LE(number("/medium_or_above/false_positive_rate"), 1.0);
  EXPECT_LE(number("/high/precision"), 1.0);

  // The simulation names each fraud's scenario: every evaluated fraud is in one row, and no
  // scenario detects more than it has.
  simdjson::dom::array scenarios;
  ASSERT_EQ(root.at_pointer("/frauds_by_scenario").get_array().get(scenarios), simdjson::SUCCESS);
  EXPECT_GE(scenarios.size(), 3U);
  uint64_t scenario_frauds = 0;
  uint64_t detected_at_review = 0;
  for (simdjson::dom::element entry : scenarios) {
    const uint64_t in_scenario = entry["frauds"].get_uint64().value_unsafe();
    const uint64_t at_review = entry["detected_at_review"].get_uint64().value_unsafe();
    EXPECT_LE(at_review, in_scenario);
    EXPECT_LE(entry["detected_at_fpr_2"].get_uint64().value_unsafe(), in_scenario);
    EXPECT_NE(entry["name"].get_string().value_unsafe(), "genuine");
    scenario_frauds += in_scenario;
    detected_at_review += at_review;
  }
  EXPECT_EQ(scenario_frauds, frauds);
  EXPECT_EQ(detected_at_review, confusion_frauds - count("/confusion/low/fraud"));

  const std::string svg = ReadFile(plot);
  ASSERT_FALSE(svg.empty());
  EXPECT_TRUE(IsWellFormedXml(svg, "svg"));
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("medium or above"), std::string::npos);
  EXPECT_NE(svg.find("high (decline)"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(plot + ".tmp"));
}

TEST_F(EvalCommandTest, TableForPeopleAndTheSameFiguresAsJson) {
  const std::vector<std::string> common = {
      "--input", csv_, "--model", RepoPath("models/default.json"), "--from", "2024-01-15"};
  const Outcome table = Eval(common);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  for (const char* row : {"AUC ROC", "average precision", "card precision at 100 per day",
                          "detection at 2% FPR", "risk level", "medium or above", "high ("}) {
    EXPECT_NE(table.out.find(row), std::string::npos) << row << "\n" << table.out;
  }
  std::vector<std::string> json_args = common;
  json_args.emplace_back("--json");
  const Outcome json = Eval(json_args);
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::parser parser;
  double auc = 0;
  ASSERT_EQ(parser.parse(json.out)["auc_roc"].get_double().get(auc), simdjson::SUCCESS);
  char expected[32];
  std::snprintf(expected, sizeof(expected), "%.4f", auc);
  EXPECT_NE(table.out.find(expected), std::string::npos) << expected << "\n" << table.out;
}

// The simulated rows rewritten in the handbook's schema (its column names, its date format and
// whole-number ids), as its published data comes.
std::string WriteHandbookCsv(const std::string& source, const std::string& path) {
  const auto lines = ReadLines(source);
  const auto header = SplitCsv(lines.at(0));
  const auto column = [&](const char* name) {
    return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  const size_t timestamp = column("timestamp_ms");
  const size_t amount = column("amount");
  const size_t customer = column("customer_id");
  const size_t merchant = column("merchant_id");
  const size_t fraud = column("is_fraud");
  const auto digits = [](const std::string& id) {
    return id.substr(id.find_first_of("0123456789"));
  };
  std::ofstream out(path);
  out << "TRANSACTION_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_TIME_SECONDS,"
         "TX_TIME_DAYS,TX_FRAUD,TX_FRAUD_SCENARIO\n";
  const int64_t start_seconds = std::stoll(kStartMs) / 1000;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto cells = SplitCsv(lines[i]);
    if (cells.at(customer).empty() || cells.at(merchant).empty()) {
      continue;  // every handbook row has both
    }
    const int64_t seconds = std::stoll(cells.at(timestamp)) / 1000;
    const std::time_t as_time = seconds;
    std::tm parts{};
    gmtime_r(&as_time, &parts);
    char datetime[32];
    std::strftime(datetime, sizeof(datetime), "%Y-%m-%d %H:%M:%S", &parts);
    out << i - 1 << ',' << datetime << ',' << digits(cells.at(customer)) << ','
        << digits(cells.at(merchant)) << ',' << cells.at(amount) << ',' << seconds - start_seconds
        << ',' << (seconds - start_seconds) / 86400 << ',' << cells.at(fraud) << ','
        << (cells.at(fraud) == "1" ? 1 : 0) << '\n';
  }
  return path;
}

TEST_F(EvalCommandTest, HandbookSchemaIsReadThroughItsColumnNames) {
  const std::string handbook = WriteHandbookCsv(csv_, Path("handbook.csv"));
  const Outcome outcome = Eval({"--input", handbook, "--schema", "handbook", "--model",
                                RepoPath("models/default.json"), "--from", "2024-01-08", "--json"});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(outcome.out).get(root), simdjson::SUCCESS) << outcome.out;
  uint64_t in_period = 0;
  uint64_t excluded = 0;
  uint64_t evaluated = 0;
  uint64_t frauds = 0;
  uint64_t legitimate = 0;
  ASSERT_EQ(root.at_pointer("/transactions/in_period").get(in_period), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/transactions/excluded_known_compromised").get(excluded),
            simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/transactions/evaluated").get(evaluated), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/transactions/frauds").get(frauds), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/transactions/legitimate").get(legitimate), simdjson::SUCCESS);
  EXPECT_EQ(in_period, excluded + evaluated);
  EXPECT_EQ(evaluated, frauds + legitimate);
  EXPECT_GT(frauds, 0U);
  double auc = -1;
  ASSERT_EQ(root.at_pointer("/auc_roc").get(auc), simdjson::SUCCESS);
  EXPECT_GE(auc, 0.0);
  EXPECT_LE(auc, 1.0);

  // Forcing the other schema names the column it misses; an unknown schema is a usage error.
  const Outcome forced = Eval(
      {"--input", handbook, "--schema", "fraudguard", "--model", RepoPath("models/default.json")});
  EXPECT_NE(forced.exit_code, 0);
  EXPECT_NE(forced.err.find("missing column transaction_id"), std::string::npos) << forced.err;
  const Outcome unknown = Eval({"--input", handbook, "--schema", "excel"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("--schema"), std::string::npos) << unknown.err;
}

TEST_F(EvalCommandTest, DirectoryAsInputIsNamed) {
  const Outcome outcome =
      Eval({"--input", dir_->path(), "--model", RepoPath("models/default.json")});
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.err.find("cannot read " + dir_->path()), std::string::npos) << outcome.err;
}

TEST_F(EvalCommandTest, MissingInputFileIsNamed) {
  const Outcome outcome =
      Eval({"--input", Path("absent.csv"), "--model", RepoPath("models/default.json")});
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.err.find("absent.csv"), std::string::npos) << outcome.err;
}

TEST_F(EvalCommandTest, BadCsvNamesTheLineAndTheColumn) {
  auto lines = ReadLines(csv_);
  ASSERT_GT(lines.size(), 10U);
  const auto header = SplitCsv(lines[0]);
  const auto amount = std::find(header.begin(), header.end(), "amount") - header.begin();
  auto cells = SplitCsv(lines[4]);
  cells[static_cast<size_t>(amount)] = "lots";
  lines[4] = JoinCsv(cells);
  lines.resize(10);
  WriteLines(Path("bad.csv"), lines);
  const Outcome outcome =
      Eval({"--input", Path("bad.csv"), "--model", RepoPath("models/default.json")});
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.err.find("line 5"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("amount"), std::string::npos) << outcome.err;
}

TEST_F(EvalCommandTest, RowsOutOfTimeOrderAreNamed) {
  auto lines = ReadLines(csv_);
  lines.resize(20);
  std::swap(lines[5], lines[15]);  // file line 7 is then earlier than line 6
  WriteLines(Path("unsorted.csv"), lines);
  const Outcome outcome =
      Eval({"--input", Path("unsorted.csv"), "--model", RepoPath("models/default.json")});
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.err.find("time order"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("line 7, column timestamp_ms"), std::string::npos) << outcome.err;
}

TEST_F(EvalCommandTest, EmptyEvaluationPeriodIsNamed) {
  const Outcome outcome = Eval({"--input", csv_, "--model", RepoPath("models/default.json"),
                                "--from", "2030-01-01", "--to", "2030-01-07"});
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.err.find("holds no transactions"), std::string::npos) << outcome.err;
  EXPECT_NE(outcome.err.find("2024-01-01"), std::string::npos) << outcome.err;  // the file's span

  const Outcome before = Eval({"--input", csv_, "--model", RepoPath("models/default.json"),
                               "--from", "2023-01-01", "--to", "2023-01-07"});
  EXPECT_NE(before.exit_code, 0);
  EXPECT_NE(before.err.find("holds no transactions"), std::string::npos) << before.err;
  EXPECT_NE(before.err.find("starts on 2024-01-01"), std::string::npos) << before.err;

  const Outcome reversed = Eval({"--input", csv_, "--from", "2024-01-10", "--to", "2024-01-02"});
  EXPECT_NE(reversed.exit_code, 0);
  EXPECT_NE(reversed.err.find("--from"), std::string::npos) << reversed.err;
  const Outcome impossible = Eval({"--input", csv_, "--from", "2024-02-30"});
  EXPECT_NE(impossible.exit_code, 0);
  EXPECT_NE(impossible.err.find("2024-02-30"), std::string::npos) << impossible.err;
}

TEST_F(EvalCommandTest, NoPositivesIsNamed) {
  auto lines = ReadLines(csv_);
  const auto header = SplitCsv(lines[0]);
  const auto label =
      static_cast<size_t>(std::find(header.begin(), header.end(), "is_fraud") - header.begin());
  ASSERT_LT(label, header.size());
  lines.resize(2000);
  for (size_t i = 1; i < lines.size(); ++i) {
    auto cells = SplitCsv(lines[i]);
    cells[label] = "0";
    lines[i] = JoinCsv(cells);
  }
  WriteLines(Path("no-fraud.csv"), lines);
  const Outcome outcome =
      Eval({"--input", Path("no-fraud.csv"), "--model", RepoPath("models/default.json")});
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.err.find("no fraud"), std::string::npos) << outcome.err;
}

TEST_F(EvalCommandTest, ModelFeatureMismatchAndMissingModelAreNamed) {
  std::string model = ReadFile(RepoPath("models/default.json"));
  const size_t at = model.find("\"card_count_1h\"");
  ASSERT_NE(at, std::string::npos);
  model.replace(at, 15, "\"card_count_9h\"");
  std::ofstream(Path("mismatch.json")) << model;
  const Outcome mismatch = Eval({"--input", csv_, "--model", Path("mismatch.json")});
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_NE(mismatch.err.find("card_count_9h"), std::string::npos) << mismatch.err;

  const Outcome missing = Eval({"--input", csv_, "--model", Path("absent.json")});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("absent.json"), std::string::npos) << missing.err;
}

TEST_F(EvalCommandTest, UnwritablePlotIsNamed) {
  const Outcome outcome = Eval({"--input", csv_, "--model", RepoPath("models/default.json"),
                                "--plot", Path("no-such-dir/pr.svg")});
  EXPECT_NE(outcome.exit_code, 0);
  EXPECT_NE(outcome.err.find("--plot"), std::string::npos) << outcome.err;
}

// --scores lists every transaction of the period once, and agrees with the report: the rows not
// excluded are the evaluated ones, their labels the frauds, and the scores above the 2 % false
// positive threshold the detected share.
TEST_F(EvalCommandTest, ScoresFileAgreesWithTheReport) {
  const std::string scores = Path("scores.csv");
  const Outcome outcome =
      Eval({"--input", csv_, "--model", RepoPath("models/default.json"), "--from", "2024-01-08",
            "--to", "2024-01-20", "--json", "--scores", scores});
  ASSERT_EQ(outcome.exit_code, 0) << outcome.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(outcome.out).get(root), simdjson::SUCCESS) << outcome.out;
  const auto count = [&](const char* pointer) { return CountAt(root, pointer); };
  double threshold = -1;
  double detection = -1;
  ASSERT_EQ(root.at_pointer("/fpr_2_threshold").get_double().get(threshold), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/detection_at_fpr_2").get_double().get(detection), simdjson::SUCCESS);

  std::ifstream in(scores);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line,
            "transaction_id,timestamp_ms,card,merchant_id,risk_score,risk_level,is_fraud,scenario,"
            "excluded_known_compromised");
  uint64_t rows = 0;
  uint64_t excluded = 0;
  uint64_t frauds = 0;
  uint64_t detected = 0;
  int64_t previous_ms = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::stringstream split(line);
    for (std::string field; std::getline(split, field, ',');) {
      fields.push_back(field);
    }
    ASSERT_EQ(fields.size(), 9U) << line;
    ++rows;
    const int64_t timestamp_ms = std::stoll(fields[1]);
    EXPECT_GE(timestamp_ms, previous_ms) << line;
    previous_ms = timestamp_ms;
    EXPECT_TRUE(fields[5] == "low" || fields[5] == "medium" || fields[5] == "high") << line;
    if (fields[8] == "1") {
      ++excluded;
      continue;
    }
    if (fields[6] == "1") {
      ++frauds;
      // Scores carry two decimals, and the threshold is one of them read back as a float.
      detected += std::stod(fields[4]) > std::round(threshold * 100) / 100 ? 1 : 0;
    }
  }
  EXPECT_EQ(rows, count("/transactions/in_period"));
  EXPECT_EQ(excluded, count("/transactions/excluded_known_compromised"));
  EXPECT_EQ(frauds, count("/transactions/frauds"));
  ASSERT_GT(frauds, 0U);
  EXPECT_NEAR(static_cast<double>(detected) / static_cast<double>(frauds), detection, 1e-9);

  // The script that splits the frauds into those the label delay hides and the rest reads the
  // same file: its counts add up to the report's.
  const Outcome ceiling =
      RunCapturingOutput(dir_->path(),
                         {RepoPath("scripts/label-delay-ceiling.py"), csv_, "--scores", scores,
                          "--threshold", std::to_string(threshold)},
                         "/usr/bin/python3");
  ASSERT_EQ(ceiling.exit_code, 0) << ceiling.err;
  // The table's one row: | file | frauds | hidden | ceiling | detected | ... |
  const size_t row = ceiling.out.find("| " + scores + " |");
  ASSERT_NE(row, std::string::npos) << ceiling.out;
  std::vector<std::string> cells;
  std::stringstream split(ceiling.out.substr(row + 1, ceiling.out.find('\n', row) - row - 1));
  for (std::string cell; std::getline(split, cell, '|');) {
    cells.push_back(cell);
  }
  ASSERT_GE(cells.size(), 5U) << ceiling.out;
  EXPECT_EQ(std::stoull(cells[1]), frauds) << ceiling.out;
  EXPECT_LE(std::stoull(cells[2]), frauds) << ceiling.out;
  EXPECT_NEAR(std::stod(cells[4]), detection, 0.0005) << ceiling.out;

  const Outcome unwritable = Eval({"--input", csv_, "--model", RepoPath("models/default.json"),
                                   "--scores", Path("no-such-dir/scores.csv")});
  EXPECT_NE(unwritable.exit_code, 0);
  EXPECT_NE(unwritable.err.find("--scores"), std::string::npos) << unwritable.err;
}

// Training on a chosen period, the way the handbook's folds are trained: earlier rows warm the
// features, the period's rows are trained on, later rows are not read; then eval scores a later
// week with that model.
TEST_F(EvalCommandTest, TrainOnAPeriodThenEvaluateTheWeekAfter) {
  const std::string model = Path("period-model.json");
  const Outcome trained = RunCapturingOutput(
      dir_->path(), {"train", "--input", csv_, "--output", model, "--from", "2024-01-08", "--to",
                     "2024-01-14", "--rounds", "20", "--threads", "1"});
  ASSERT_EQ(trained.exit_code, 0) << trained.err;

  // The rows of the period and before it, counted from the CSV's own timestamps.
  const std::vector<std::string> lines = ReadLines(csv_);
  const std::vector<std::string> header = SplitCsv(lines.at(0));
  const size_t column =
      static_cast<size_t>(std::find(header.begin(), header.end(), "timestamp_ms") - header.begin());
  ASSERT_LT(column, header.size());
  const int64_t day_ms = 24LL * 3600 * 1000;
  const int64_t from_ms = std::stoll(kStartMs) + 7 * day_ms;  // 2024-01-08
  const int64_t to_end_ms = std::stoll(kStartMs) + 14 * day_ms;
  int64_t before = 0;
  int64_t within = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const int64_t ms = std::stoll(SplitCsv(lines[i]).at(column));
    before += ms < from_ms ? 1 : 0;
    within += (ms >= from_ms && ms < to_end_ms) ? 1 : 0;
  }

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  const std::string text = ReadFile(model);
  ASSERT_EQ(parser.parse(text).get(root), simdjson::SUCCESS);
  int64_t transactions = 0;
  int64_t warmup = 0;
  std::string_view period_from;
  std::string_view period_start;
  ASSERT_EQ(root.at_pointer("/metadata/training/transactions").get(transactions),
            simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/metadata/training/warmup_transactions").get(warmup),
            simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/metadata/training/period_from").get(period_from), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/metadata/training/period_start").get(period_start),
            simdjson::SUCCESS);
  EXPECT_EQ(transactions, within);
  EXPECT_EQ(warmup, before);
  EXPECT_EQ(period_from, "2024-01-08");
  EXPECT_EQ(period_start.substr(0, 10), "2024-01-08");
  EXPECT_NE(trained.out.find("warm-up transactions"), std::string::npos) << trained.out;

  const Outcome evaluated = Eval(
      {"--input", csv_, "--model", model, "--from", "2024-01-15", "--to", "2024-01-20", "--json"});
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  double auc = 0;
  ASSERT_EQ(parser.parse(evaluated.out).get(root), simdjson::SUCCESS);
  ASSERT_EQ(root.at_pointer("/auc_roc").get(auc), simdjson::SUCCESS);
  EXPECT_GT(auc, 0.5);  // better than chance on the week after
}

TEST_F(EvalCommandTest, TrainRefusesABadPeriodNamingIt) {
  const struct {
    std::vector<std::string> period;
    const char* message;
  } cases[] = {
      {{"--from", "2024-01-18", "--to", "2024-01-14"}, "--from 2024-01-18 is after --to"},
      {{"--from", "2024-02-30"}, "--from: expected a date YYYY-MM-DD, got '2024-02-30'"},
      {{"--to", "18-01-2024"}, "--to: expected a date"},
      {{"--from", "2024-01-19", "--to", "2024-01-19"},
       "in the period 2024-01-19 .. 2024-01-19 are too few"},
      {{"--from", "2025-01-01"}, "in the period 2025-01-01 .. end are too few"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"train", "--input", csv_, "--output", Path("bad.json")};
    args.insert(args.end(), c.period.begin(), c.period.end());
    const Outcome outcome = RunCapturingOutput(dir_->path(), args);
    EXPECT_NE(outcome.exit_code, 0) << c.message;
    EXPECT_NE(outcome.err.find(c.message), std::string::npos) << outcome.err;
    EXPECT_FALSE(std::filesystem::exists(Path("bad.json"))) << "nothing written on an error";
  }
}

}  // namespace
}  // namespace fraudguard
