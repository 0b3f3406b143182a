#include "slo/slo_cli.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <CLI/CLI.hpp>

#include "api/http_client.h"
#include "core/clock.h"
#include "core/file_write.h"
#include "slo/error_budget.h"
#include "slo/prometheus_rules.h"
#include "slo/slo_tracker.h"

namespace fraudguard {
namespace {

Result<SloConfig> LoadConfig(const SloCommandFlags& flags,
                             const std::vector<std::string>& known_routes) {
  if (flags.config_path.empty()) {
    return DefaultSloConfig();
  }
  return LoadSloConfigFile(flags.config_path, known_routes);
}

// The reports and, from a server, its JSON as received.
struct Fetched {
  std::vector<SloReport> reports;
  std::string json;
};

Result<Fetched> FetchFromServer(const SloCommandFlags& flags) {
  auto address = http::ParseHttpUrl(flags.url);
  if (!address) {
    return Error{"--url: " + address.error()};
  }
  std::string key = flags.key;
  if (key.empty()) {
    const char* env = std::getenv("FRAUDGUARD_API_KEY");
    key = env != nullptr ? env : "";
  }
  std::vector<std::pair<std::string, std::string>> headers;
  if (!key.empty()) {
    headers.emplace_back("X-API-Key", key);
  }
  http::Client client(address->first, address->second, 10000);
  auto response = client.Send("GET", "/api/v1/slo", {}, headers);
  if (!response) {
    return Error{"GET " + flags.url + "/api/v1/slo: " + response.error()};
  }
  if (response->status != 200) {
    return Error{"GET " + flags.url + "/api/v1/slo answered " + std::to_string(response->status) +
                 ": " + response->body};
  }
  auto reports = ParseSloReportsJson(response->body);
  if (!reports) {
    return Error{reports.error()};
  }
  return Fetched{std::move(reports).value(), std::move(response->body)};
}

Result<Fetched> ReadFromDataDir(const SloCommandFlags& flags,
                                const std::vector<std::string>& known_routes) {
  auto config = LoadConfig(flags, known_routes);
  if (!config) {
    return Error{config.error()};
  }
  SliRecorderOptions options;
  options.path = flags.data_dir + "/sli.db";
  options.routes = known_routes;
  options.read_only = true;
  options.minute_retention_days = config->storage.minute_retention_days;
  options.hourly_retention_days = config->storage.hourly_retention_days;
  const Clock& clock = SystemClock::Instance();
  auto recorder = SliRecorder::Open(options, clock);
  if (!recorder) {
    return Error{recorder.error()};
  }
  SloTracker tracker(std::move(config).value(), **recorder, clock);
  auto reports = tracker.Reports();
  if (!reports) {
    return Error{reports.error()};
  }
  Fetched fetched;
  fetched.reports = std::move(reports).value();
  AppendSloReportsJson(fetched.reports, clock.NowMillis(), fetched.json);
  return fetched;
}

}  // namespace

SloCommands::SloCommands(CLI::App& app, std::vector<std::string> known_routes)
    : known_routes_(std::move(known_routes)) {
  CLI::App* slo = app.add_subcommand("slo", "Service level objectives and error budgets");
  slo->require_subcommand(1);
  const auto add_source = [this](CLI::App* command) {
    command->add_option("--url", flags_.url,
                        "A running server, e.g. http://127.0.0.1:8080 (default: read --data-dir)");
    command->add_option("--data-dir", flags_.data_dir, "The server's data directory");
    command->add_option("-c,--config", flags_.config_path,
                        "SLO definitions, with --data-dir (default: built-in)");
    command->add_option("--key", flags_.key,
                        "API key with the read role, with --url (or FRAUDGUARD_API_KEY)");
  };
  status_ = slo->add_subcommand("status", "Each SLO's error budget, status and burn rates");
  add_source(status_);
  status_->add_flag("--json", flags_.json, "JSON for scripts instead of a table");
  gate_ = slo->add_subcommand(
      "gate", "Exit 0 when deployments may go ahead; 1 with the reason when the policy halts them");
  add_source(gate_);
  rules_ = slo->add_subcommand("rules", "Write a Prometheus rule file from the SLO definitions");
  rules_->add_option("-c,--config", flags_.config_path, "SLO definitions (default: built-in)");
  rules_->add_option("-o,--output", flags_.output, "Rule file, - for stdout");
}

bool SloCommands::parsed() const {
  return status_->parsed() || gate_->parsed() || rules_->parsed();
}

int SloCommands::Run() const {
  if (status_->parsed()) {
    return RunStatus();
  }
  if (gate_->parsed()) {
    return RunGate();
  }
  return RunRules();
}

int SloCommands::RunStatus() const {
  auto fetched =
      flags_.url.empty() ? ReadFromDataDir(flags_, known_routes_) : FetchFromServer(flags_);
  if (!fetched) {
    std::fprintf(stderr, "error: %s\n", fetched.error().c_str());
    return 1;
  }
  if (flags_.json) {
    std::printf("%s\n", fetched->json.c_str());
  } else {
    std::printf("%s", FormatSloTable(fetched->reports).c_str());
  }
  return 0;
}

int SloCommands::RunGate() const {
  // A wrong command line or SLO file is the caller's mistake (2), not an unreadable budget (3).
  if (!flags_.url.empty()) {
    if (auto address = http::ParseHttpUrl(flags_.url); !address) {
      std::fprintf(stderr, "error: --url: %s\n", address.error().c_str());
      return kGateUsageError;
    }
  } else if (auto config = LoadConfig(flags_, known_routes_); !config) {
    std::fprintf(stderr, "error: %s\n", config.error().c_str());
    return kGateUsageError;
  }
  auto fetched =
      flags_.url.empty() ? ReadFromDataDir(flags_, known_routes_) : FetchFromServer(flags_);
  if (!fetched) {
    // Without a budget there is no evidence that deploying is safe.
    std::fprintf(stderr, "deployments halted: the error budget cannot be read: %s\n",
                 fetched.error().c_str());
    return kGateUnknown;
  }
  const GateDecision decision = EvaluateGate(fetched->reports);
  if (decision.allowed) {
    std::printf("deployments may go ahead: %zu SLOs within the error budget policy\n",
                fetched->reports.size());
  } else {
    for (const std::string& reason : decision.reasons) {
      std::fprintf(stderr, "deployments halted: %s\n", reason.c_str());
    }
  }
  return GateExitCode(decision);
}

int SloCommands::RunRules() const {
  auto config = LoadConfig(flags_, known_routes_);
  if (!config) {
    std::fprintf(stderr, "error: %s\n", config.error().c_str());
    return 2;
  }
  const std::string rules = GeneratePrometheusRules(*config);
  if (flags_.output == "-") {
    std::fwrite(rules.data(), 1, rules.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  // Replaced whole, so that a Prometheus reloading meanwhile never reads half a file.
  if (Status written = WriteFileReplacing(flags_.output, rules); !written) {
    std::fprintf(stderr, "error: %s\n", written.error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace fraudguard
