#include "rollout/validation.h"

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <thread>

#include "core/clock.h"
#include "core/json_writer.h"
#include "sim/csv.h"

namespace fraudguard::rollout {
namespace {

constexpr size_t kSampleBatchSize = 100;

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

class Checks {
public:
  explicit Checks(ValidationReport& report) : report_(report) {}
  void Add(std::string_view group, std::string_view name, bool passed, std::string detail) {
    report_.checks.push_back(
        ValidationCheck{std::string(group), std::string(name), passed, std::move(detail)});
  }

private:
  ValidationReport& report_;
};

// What was answered, for a failure's sentence: the status and the start of the body.
std::string Answer(const Result<http::ClientResponse>& response) {
  if (!response) {
    return "no answer: " + response.error();
  }
  std::string body = response->body.substr(0, 160);
  return "answered " + std::to_string(response->status) + (body.empty() ? "" : ": " + body);
}

// Empty when `body` is a decision with every contract field in range; else what is wrong.
std::string DecisionProblem(simdjson::dom::element decision, std::string_view expected_id) {
  std::string_view id;
  std::string_view level;
  std::string_view action;
  std::string_view model_version;
  double score = -1;
  int64_t server_time_us = -1;
  simdjson::dom::array reasons;
  if (decision["transaction_id"].get(id) != simdjson::SUCCESS || id != expected_id) {
    return "transaction_id is missing or not the one sent";
  }
  if (decision["risk_score"].get(score) != simdjson::SUCCESS || !(score >= 0 && score <= 100)) {
    return "risk_score is missing or outside 0..100";
  }
  if (decision["risk_level"].get(level) != simdjson::SUCCESS ||
      (level != "low" && level != "medium" && level != "high")) {
    return "risk_level is missing or not low, medium or high";
  }
  if (decision["action"].get(action) != simdjson::SUCCESS ||
      (action != "approve" && action != "review" && action != "decline")) {
    return "action is missing or not approve, review or decline";
  }
  if (decision["reasons"].get(reasons) != simdjson::SUCCESS) {
    return "reasons is not an array";
  }
  for (simdjson::dom::element reason : reasons) {
    std::string_view code;
    std::string_view message;
    if (reason["code"].get(code) != simdjson::SUCCESS || code.empty() ||
        reason["message"].get(message) != simdjson::SUCCESS) {
      return "a reason lacks its code or message";
    }
  }
  if (decision["model_version"].get(model_version) != simdjson::SUCCESS || model_version.empty()) {
    return "model_version is missing";
  }
  if (decision["server_time_us"].get(server_time_us) != simdjson::SUCCESS || server_time_us < 0) {
    return "server_time_us is missing or negative";
  }
  return "";
}

// Empty when the response is the JSON error the API documents, with `code` (and `field` when
// not empty); else what is wrong.
std::string ErrorProblem(const Result<http::ClientResponse>& response,
                         int status,
                         std::string_view code,
                         std::string_view field) {
  if (!response || response->status != status) {
    return "expected " + std::to_string(status) + ", " + Answer(response);
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view got_code;
  std::string_view message;
  if (parser.parse(response->body).get(root) != simdjson::SUCCESS ||
      root["error"].get(got_code) != simdjson::SUCCESS ||
      root["message"].get(message) != simdjson::SUCCESS || message.empty()) {
    return "the body is not {\"error\":..,\"message\":..}: " + response->body.substr(0, 160);
  }
  if (got_code != code) {
    return "error code '" + std::string(got_code) + "', expected '" + std::string(code) + "'";
  }
  std::string_view got_field;
  if (!field.empty() && (root["field"].get(got_field) != simdjson::SUCCESS || got_field != field)) {
    return "the error does not name the field '" + std::string(field) + "'";
  }
  return "";
}

void CheckHealth(http::Client& client,
                 const ValidationOptions& options,
                 Checks& checks,
                 bool& authentication) {
  struct Endpoint {
    const char* path;
    const char* expect;  // a fragment the body must hold
  };
  const Endpoint endpoints[] = {
      {"/health", R"("status":"alive")"},
      {"/ready", R"("status":"ready")"},
      {"/api/v1/health", R"("status":"ok")"},
      {"/metrics", "http_requests_total"},
  };
  for (const Endpoint& endpoint : endpoints) {
    const int64_t start = MonotonicNanos();
    auto response = client.Send("GET", endpoint.path, {}, ProbeHeaders(options.target));
    const double ms = static_cast<double>(MonotonicNanos() - start) / 1e6;
    const bool passed = response && response->status == 200 &&
                        response->body.find(endpoint.expect) != std::string::npos;
    checks.Add("health", endpoint.path, passed,
               passed
                   ? "200 in " + Fixed(ms, 1) + " ms"
                   : "expected 200 with " + std::string(endpoint.expect) + ", " + Answer(response));
    if (passed && std::string_view(endpoint.path) == "/api/v1/health") {
      authentication = response->body.find(R"("authentication":true)") != std::string::npos;
    }
  }
}

void CheckApi(http::Client& client,
              const ValidationOptions& options,
              const std::string& run,
              bool authentication,
              Checks& checks) {
  const auto headers = ProbeHeaders(options.target);
  {
    const std::string id = run + "-api-single";
    auto response = client.Send(
        "POST", "/api/v1/fraud/analyze",
        R"({"transaction_id":")" + id + R"(","amount":42.5,"currency":"EUR","card_id":")" + run +
            R"(-api-card","merchant_id":"validate-merchant","country":"FR","channel":"online"})",
        headers);
    std::string problem;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (!response || response->status != 200) {
      problem = "expected 200, " + Answer(response);
    } else if (parser.parse(response->body).get(root) != simdjson::SUCCESS) {
      problem = "the body is not JSON";
    } else {
      problem = DecisionProblem(root, id);
    }
    checks.Add("api", "analyze answers a decision", problem.empty(),
               problem.empty() ? "200 with every contract field" : problem);
  }
  {
    const std::string body = R"({"transactions":[{"transaction_id":")" + run +
                             R"(-api-batch-0","amount":12},{"transaction_id":")" + run +
                             R"(-api-batch-1","amount":950}]})";
    auto response = client.Send("POST", "/api/v1/fraud/analyze/batch", body, headers);
    std::string problem;
    simdjson::dom::parser parser;
    simdjson::dom::array results;
    if (!response || response->status != 200) {
      problem = "expected 200, " + Answer(response);
    } else if (parser.parse(response->body)["results"].get(results) != simdjson::SUCCESS ||
               results.size() != 2) {
      problem = "expected {\"results\":[2 decisions]}";
    } else {
      problem = DecisionProblem(results.at(0), run + "-api-batch-0");
      if (problem.empty()) {
        problem = DecisionProblem(results.at(1), run + "-api-batch-1");
      }
    }
    checks.Add("api", "batch answers in order", problem.empty(),
               problem.empty() ? "200 with 2 decisions in order" : problem);
  }
  struct Refusal {
    const char* name;
    const char* method;
    const char* path;
    const char* body;
    int status;
    const char* code;
    const char* field;
  };
  const Refusal refusals[] = {
      {"malformed JSON is refused", "POST", "/api/v1/fraud/analyze", R"({"amount":12x})", 400,
       "malformed_json", ""},
      {"a negative amount is refused", "POST", "/api/v1/fraud/analyze", R"({"amount":-5})", 400,
       "invalid_field", "amount"},
      {"a missing amount is refused", "POST", "/api/v1/fraud/analyze", R"({"currency":"EUR"})", 400,
       "missing_field", "amount"},
      {"a wrong method is refused", "GET", "/api/v1/fraud/analyze", "", 405, "method_not_allowed",
       ""},
      {"an unknown route is refused", "GET", "/api/v1/no-such-route", "", 404, "not_found", ""},
  };
  for (const Refusal& refusal : refusals) {
    auto response = client.Send(refusal.method, refusal.path, refusal.body, headers);
    const std::string problem = ErrorProblem(response, refusal.status, refusal.code, refusal.field);
    checks.Add("api", refusal.name, problem.empty(),
               problem.empty() ? std::to_string(refusal.status) + " " + refusal.code : problem);
  }
  if (authentication) {
    auto response = client.Send("POST", "/api/v1/fraud/analyze", R"({"amount":5})",
                                {{"Content-Type", "application/json"}});
    const std::string problem = ErrorProblem(response, 401, "unauthenticated", "");
    checks.Add("api", "a request without a key is refused", problem.empty(),
               problem.empty() ? "401 unauthenticated" : problem);
  }
}

void CheckPerformance(const ValidationOptions& options,
                      const std::string& run,
                      ValidationReport& report,
                      Checks& checks) {
  const int connections = std::max(1, options.connections);
  const int total = std::max(1, options.performance_requests);
  std::vector<std::vector<ProbeResult>> results(static_cast<size_t>(connections));
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      http::Client client(options.target.host, options.target.port, options.request_timeout_ms);
      for (int n = c; n < total; n += connections) {
        results[static_cast<size_t>(c)].push_back(
            SendProbe(client, options.target, run + "-perf", static_cast<uint64_t>(n)));
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  std::vector<double> latencies;
  for (const auto& per_connection : results) {
    for (const ProbeResult& result : per_connection) {
      ++report.performance_requests;
      if (!result.ok) {
        ++report.performance_errors;
      }
      latencies.push_back(result.latency_ms);
    }
  }
  report.p50_ms = Percentile(latencies, 0.50);
  report.p95_ms = Percentile(latencies, 0.95);
  report.p99_ms = Percentile(latencies, 0.99);
  const double error_rate = static_cast<double>(report.performance_errors) /
                            static_cast<double>(std::max<uint64_t>(1, report.performance_requests));
  checks.Add("performance", "p95 latency", report.p95_ms < options.max_p95_ms,
             Fixed(report.p95_ms, 2) + " ms over " + std::to_string(report.performance_requests) +
                 " requests (limit " + Fixed(options.max_p95_ms, 0) + " ms; p50 " +
                 Fixed(report.p50_ms, 2) + ", p99 " + Fixed(report.p99_ms, 2) + ")");
  checks.Add("performance", "error rate", error_rate < options.max_error_rate,
             Fixed(error_rate * 100, 2) + " % (" + std::to_string(report.performance_errors) +
                 " of " + std::to_string(report.performance_requests) + "; limit " +
                 Fixed(options.max_error_rate * 100, 2) + " %)");
}

void CheckKnownCases(http::Client& client,
                     const ValidationOptions& options,
                     const std::string& run,
                     Checks& checks) {
  struct Case {
    const char* name;
    double amount;
    int user_age_days;
    const char* level;
  };
  // The specification's deployment validation cases.
  const Case cases[] = {
      {"known case: 10000 from a 1-day-old account is high", 10000, 1, "high"},
      {"known case: 50 from a 1-year-old account is low", 50, 365, "low"},
      {"known case: 500 from a 30-day-old account is medium", 500, 30, "medium"},
  };
  int index = 0;
  for (const Case& c : cases) {
    const std::string id = run + "-known-" + std::to_string(index++);
    std::string body;
    JsonWriter json(body);
    json.BeginObject()
        .Field("transaction_id", id)
        .Field("amount", c.amount)
        .Field("user_age_days", c.user_age_days)
        .EndObject();
    auto response =
        client.Send("POST", "/api/v1/fraud/analyze", body, ProbeHeaders(options.target));
    std::string_view level;
    simdjson::dom::parser parser;
    const bool answered =
        response && response->status == 200 &&
        parser.parse(response->body)["risk_level"].get(level) == simdjson::SUCCESS;
    const bool passed = answered && level == c.level;
    checks.Add("detection", c.name, passed,
               answered ? "risk_level " + std::string(level) : Answer(response));
  }
}

void AppendTransactionJson(const Transaction& txn, const std::string& id, JsonWriter& json) {
  json.BeginObject().Field("transaction_id", id).Field("timestamp", txn.timestamp_ms);
  json.Field("amount", txn.amount);
  const std::pair<const char*, const std::string*> texts[] = {
      {"currency", &txn.currency},
      {"card_id", &txn.card_id},
      {"customer_id", &txn.customer_id},
      {"merchant_id", &txn.merchant_id},
      {"merchant_category", &txn.merchant_category},
      {"country", &txn.country},
      {"device_id", &txn.device_id},
      {"ip", &txn.ip},
      {"channel", &txn.channel},
  };
  for (const auto& [key, value] : texts) {
    if (!value->empty()) {
      json.Field(key, *value);
    }
  }
  if (!std::isnan(txn.user_age_days)) {
    json.Field("user_age_days", txn.user_age_days);
  }
  json.EndObject();
}

Status CheckSample(http::Client& client,
                   const ValidationOptions& options,
                   const std::string& run,
                   ValidationReport& report,
                   Checks& checks) {
  auto reader = TransactionCsvReader::Open(options.sample_path);
  if (!reader) {
    return Error{"--sample: " + reader.error()};
  }
  uint64_t frauds_flagged = 0;
  uint64_t genuine = 0;
  uint64_t genuine_flagged = 0;
  uint64_t failed_batches = 0;
  std::string failure;
  std::vector<bool> labels;
  std::string body;
  const auto send = [&]() {
    body += "]}";
    auto response =
        client.Send("POST", "/api/v1/fraud/analyze/batch", body, ProbeHeaders(options.target));
    simdjson::dom::parser parser;
    simdjson::dom::array results;
    if (!response || response->status != 200 ||
        parser.parse(response->body)["results"].get(results) != simdjson::SUCCESS ||
        results.size() != labels.size()) {
      ++failed_batches;
      failure = Answer(response);
    } else {
      size_t i = 0;
      for (simdjson::dom::element result : results) {
        std::string_view action;
        const bool flagged =
            result["action"].get(action) == simdjson::SUCCESS && action != "approve";
        if (labels[i]) {
          frauds_flagged += flagged ? 1 : 0;
        } else {
          ++genuine;
          genuine_flagged += flagged ? 1 : 0;
        }
        ++i;
      }
    }
    labels.clear();
    body.clear();
  };
  LabelledTransaction row;
  while (static_cast<int64_t>(report.sample_rows) < options.sample_limit) {
    auto more = (*reader)->Next(row);
    if (!more) {
      return Error{"--sample: " + more.error()};
    }
    if (!*more) {
      break;
    }
    if (!(row.txn.amount > 0)) {
      // The API refuses such amounts (simulated ones can round to 0); one would fail a batch.
      ++report.sample_skipped;
      continue;
    }
    if (body.empty()) {
      body = R"({"transactions":[)";
    } else {
      body.push_back(',');
    }
    JsonWriter json(body);
    AppendTransactionJson(row.txn, run + "-sample-" + row.txn.transaction_id.substr(0, 128), json);
    labels.push_back(row.fraud);
    ++report.sample_rows;
    report.sample_frauds += row.fraud ? 1 : 0;
    if (labels.size() == kSampleBatchSize) {
      send();
    }
  }
  if (!labels.empty()) {
    send();
  }
  report.sample_recall = report.sample_frauds == 0 ? 0
                                                   : static_cast<double>(frauds_flagged) /
                                                         static_cast<double>(report.sample_frauds);
  report.sample_false_positive_rate =
      genuine == 0 ? 0 : static_cast<double>(genuine_flagged) / static_cast<double>(genuine);
  checks.Add("detection", "labelled sample answered", failed_batches == 0 && report.sample_rows > 0,
             failed_batches == 0
                 ? std::to_string(report.sample_rows) + " transactions, " +
                       std::to_string(report.sample_frauds) + " frauds" +
                       (report.sample_skipped == 0 ? std::string()
                                                   : ", " + std::to_string(report.sample_skipped) +
                                                         " rows without a positive amount skipped")
                 : std::to_string(failed_batches) + " batches failed; " + failure);
  checks.Add("detection", "labelled sample recall",
             report.sample_frauds > 0 && report.sample_recall >= options.min_recall,
             report.sample_frauds == 0
                 ? "the sample holds no fraud, so recall cannot be measured"
                 : Fixed(report.sample_recall * 100, 1) + " % of frauds flagged (at least " +
                       Fixed(options.min_recall * 100, 1) + " %)");
  checks.Add("detection", "labelled sample false positive rate",
             genuine > 0 && report.sample_false_positive_rate <= options.max_false_positive_rate,
             Fixed(report.sample_false_positive_rate * 100, 2) +
                 " % of genuine transactions flagged (at most " +
                 Fixed(options.max_false_positive_rate * 100, 2) + " %)");
  return OkStatus();
}

}  // namespace

bool ValidationReport::passed() const {
  if (checks.empty()) {
    return false;
  }
  for (const ValidationCheck& check : checks) {
    if (!check.passed) {
      return false;
    }
  }
  return true;
}

Result<ValidationReport> RunValidation(const ValidationOptions& options) {
  if (!options.sample_path.empty()) {
    // An unreadable sample is the caller's mistake; find out before touching the server.
    auto reader = TransactionCsvReader::Open(options.sample_path);
    if (!reader) {
      return Error{"--sample: " + reader.error()};
    }
  }
  const int64_t start_ms = SystemClock::Instance().NowMillis();
  ValidationReport report;
  report.url = options.target.url;
  Checks checks(report);
  const std::string run = NewRunId("validate");
  http::Client client(options.target.host, options.target.port, options.request_timeout_ms);
  bool authentication = false;
  CheckHealth(client, options, checks, authentication);
  CheckApi(client, options, run, authentication, checks);
  CheckPerformance(options, run, report, checks);
  CheckKnownCases(client, options, run, checks);
  if (!options.sample_path.empty()) {
    if (auto status = CheckSample(client, options, run, report, checks); !status) {
      return Error{status.error()};
    }
  }
  report.duration_ms = SystemClock::Instance().NowMillis() - start_ms;
  return report;
}

std::string FormatValidationReport(const ValidationReport& report) {
  std::string out = "Validation of " + report.url + "\n\n";
  size_t width = 0;
  for (const ValidationCheck& check : report.checks) {
    width = std::max(width, check.name.size());
  }
  std::string group;
  size_t failed = 0;
  for (const ValidationCheck& check : report.checks) {
    if (check.group != group) {
      group = check.group;
      out += group + "\n";
    }
    failed += check.passed ? 0 : 1;
    out += std::string("  ") + (check.passed ? "PASS  " : "FAIL  ") + check.name +
           std::string(width - check.name.size() + 2, ' ') + check.detail + "\n";
  }
  out += "\n" + std::string(report.passed() ? "PASSED" : "FAILED") + ": " +
         std::to_string(report.checks.size() - failed) + " of " +
         std::to_string(report.checks.size()) + " checks passed in " +
         Fixed(static_cast<double>(report.duration_ms) / 1000.0, 1) + " s\n";
  return out;
}

void AppendValidationJson(const ValidationReport& report, std::string& out) {
  JsonWriter json(out);
  json.BeginObject()
      .Field("url", report.url)
      .Field("status", report.passed() ? "passed" : "failed")
      .Field("duration_ms", report.duration_ms)
      .Key("performance")
      .BeginObject()
      .Field("requests", report.performance_requests)
      .Field("errors", report.performance_errors)
      .Field("p50_ms", report.p50_ms)
      .Field("p95_ms", report.p95_ms)
      .Field("p99_ms", report.p99_ms)
      .EndObject();
  if (report.sample_rows > 0) {
    json.Key("sample")
        .BeginObject()
        .Field("transactions", report.sample_rows)
        .Field("frauds", report.sample_frauds)
        .Field("skipped", report.sample_skipped)
        .Field("recall", report.sample_recall)
        .Field("false_positive_rate", report.sample_false_positive_rate)
        .EndObject();
  }
  json.Key("checks").BeginArray();
  for (const ValidationCheck& check : report.checks) {
    json.BeginObject()
        .Field("group", check.group)
        .Field("name", check.name)
        .Field("passed", check.passed)
        .Field("detail", check.detail)
        .EndObject();
  }
  json.EndArray().EndObject();
}

}  // namespace fraudguard::rollout
