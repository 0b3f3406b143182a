#include "cli/commands.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "api/fraud_service.h"
#include "capacity/capacity_command.h"
#include "cli/eval.h"
#include "cli/serve.h"
#include "cli/train.h"
#include "core/log.h"
#include "incidents/incident_cli.h"
#include "rollout/rollout_cli.h"
#include "security/api_keys.h"
#include "sim/csv.h"
#include "sim/progress_bar.h"
#include "sim/simulator.h"
#include "slo/slo_cli.h"

namespace fraudguard {
namespace {

// Flags of `serve` that override the configuration file; unset ones leave the file's value.
struct ServeFlags {
  std::string config_path;
  std::string port_file;
  std::optional<std::string> bind;
  std::optional<int> port;
  std::optional<int> threads;
  std::optional<std::string> data_dir;
  std::optional<std::string> model;
  std::optional<std::string> rules;
  std::optional<std::string> keys;
  std::optional<std::string> log_level;
  std::optional<std::string> slo_config;
  std::optional<std::string> canary_config;
  std::optional<std::string> alert_rules;
  std::optional<std::string> playbooks;
  std::optional<std::string> notifications;
  std::optional<int64_t> max_body_bytes;
  std::optional<int64_t> max_batch_items;
  std::optional<int64_t> request_timeout_ms;
  std::optional<int64_t> feature_max_keys;
  std::optional<int64_t> feature_max_pending_log_bytes;
  std::optional<int64_t> snapshot_interval_seconds;
  std::optional<int64_t> testing_added_latency_ms;
  std::optional<double> testing_error_ratio;
};

void AddServe(CLI::App& app, ServeFlags& flags) {
  CLI::App* serve = app.add_subcommand("serve", "Run the scoring API and the operations plane");
  serve->add_option("-c,--config", flags.config_path, "YAML configuration file");
  serve->add_option("--bind", flags.bind, "Address to listen on (default 127.0.0.1)");
  serve->add_option("--port", flags.port, "TCP port; 0 picks a free one (default 8080)");
  serve->add_option("--threads", flags.threads, "Worker threads");
  serve->add_option("--data-dir", flags.data_dir, "Directory for feature state and decisions");
  serve->add_option("--model", flags.model, "Model file");
  serve->add_option("--rules", flags.rules, "Rules file (allow/deny lists and overrides)");
  serve->add_option("--keys", flags.keys, "API keys file; required off loopback");
  serve->add_option("--log-level", flags.log_level, "debug, info, warn or error");
  serve->add_option("--slo-config", flags.slo_config, "SLO definitions (default: built-in)");
  serve->add_option("--canary-config", flags.canary_config,
                    "Model rollout phases and judge settings (default: built-in)");
  serve->add_option("--alert-rules", flags.alert_rules, "Alert rules (default: built-in)");
  serve->add_option("--playbooks", flags.playbooks, "Incident playbooks (default: built-in)");
  serve->add_option("--notifications", flags.notifications,
                    "Incident webhooks to notify (default: none)");
  serve->add_option("--max-body-bytes", flags.max_body_bytes, "Largest request body accepted");
  serve->add_option("--max-batch-items", flags.max_batch_items, "Most transactions per batch");
  serve->add_option("--request-timeout-ms", flags.request_timeout_ms,
                    "Time a client has to send a whole request");
  serve->add_option("--feature-max-keys", flags.feature_max_keys,
                    "Most entities held in the feature state");
  serve->add_option("--feature-max-pending-log-bytes", flags.feature_max_pending_log_bytes,
                    "Feature log bytes a worker buffers while writes fail");
  serve->add_option("--snapshot-interval-seconds", flags.snapshot_interval_seconds,
                    "How often the feature state is snapshotted");
  serve->add_option("--port-file", flags.port_file, "Write the bound port here once ready");
  serve->add_option("--testing-added-latency-ms", flags.testing_added_latency_ms,
                    "TESTS ONLY: delay every scoring request by this much (default 0)");
  serve->add_option("--testing-error-ratio", flags.testing_error_ratio,
                    "TESTS ONLY: answer this share of scoring requests 500 (default 0)");
}

int RunServeCommand(const ServeFlags& flags) {
  ServeConfig config;
  if (!flags.config_path.empty()) {
    if (auto status = LoadServeConfigFile(flags.config_path, config); !status) {
      LogError("config_invalid").Field("error", status.error());
      return 2;
    }
  }
  const auto apply = [](const auto& flag, auto& field) {
    if (flag) {
      field = *flag;
    }
  };
  apply(flags.bind, config.bind_address);
  apply(flags.port, config.port);
  apply(flags.threads, config.threads);
  apply(flags.data_dir, config.data_dir);
  apply(flags.model, config.model_path);
  apply(flags.rules, config.rules_path);
  apply(flags.keys, config.keys_path);
  apply(flags.log_level, config.log_level);
  apply(flags.slo_config, config.slo_config_path);
  apply(flags.canary_config, config.canary_config_path);
  apply(flags.alert_rules, config.alert_rules_path);
  apply(flags.playbooks, config.playbooks_path);
  apply(flags.notifications, config.notifications_path);
  apply(flags.max_body_bytes, config.max_body_bytes);
  apply(flags.max_batch_items, config.max_batch_items);
  apply(flags.request_timeout_ms, config.request_timeout_ms);
  apply(flags.feature_max_keys, config.feature_max_keys);
  apply(flags.feature_max_pending_log_bytes, config.feature_max_pending_log_bytes);
  apply(flags.snapshot_interval_seconds, config.snapshot_interval_seconds);
  apply(flags.testing_added_latency_ms, config.testing_added_latency_ms);
  apply(flags.testing_error_ratio, config.testing_error_ratio);
  return RunServe(config, flags.port_file);
}

struct KeysFlags {
  std::string file;
  std::string name;
  std::string roles = "score";
};

int RunKeysAdd(const KeysFlags& flags) {
  auto roles = ParseRoles(flags.roles);
  if (!roles) {
    std::fprintf(stderr, "error: --roles: %s\n", roles.error().c_str());
    return 2;
  }
  auto generated = ApiKeyStore::GenerateKey(flags.name, *roles);
  if (!generated) {
    std::fprintf(stderr, "error: %s\n", generated.error().c_str());
    return 1;
  }
  const bool exists = std::filesystem::exists(flags.file);
  {
    std::ofstream out(flags.file, std::ios::app);
    if (!exists) {
      out << "# FraudGuard API keys: salted SHA-256 hashes only, never the keys themselves.\n"
             "keys:\n";
    }
    out << generated->second;
    if (!generated->second.empty() && generated->second.back() != '\n') {
      out << '\n';
    }
    if (!out) {
      std::fprintf(stderr, "error: cannot write %s\n", flags.file.c_str());
      return 1;
    }
  }
  std::filesystem::permissions(
      flags.file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  // Check the file still loads with the new entry before handing out the key.
  if (auto check = ApiKeyStore::LoadFile(flags.file); !check) {
    std::fprintf(stderr, "error: %s no longer loads: %s\n", flags.file.c_str(),
                 check.error().c_str());
    return 1;
  }
  std::printf("%s\n", generated->first.c_str());
  std::fprintf(stderr, "key '%s' (%s) added to %s; it is shown once, store it now\n",
               flags.name.c_str(), flags.roles.c_str(), flags.file.c_str());
  return 0;
}

struct SimulateFlags {
  std::string profile = "fraudguard";
  std::string output = "-";
  SimulationOptions options;
  int64_t limit = 0;
};

int RunSimulate(SimulateFlags flags) {
  if (flags.profile == "handbook") {
    flags.options.profile = SimulationProfile::kHandbook;
  } else if (flags.profile == "fraudguard") {
    flags.options.profile = SimulationProfile::kFraudGuard;
  } else {
    std::fprintf(stderr, "error: --profile must be fraudguard or handbook\n");
    return 2;
  }
  FILE* out = flags.output == "-" ? stdout : std::fopen(flags.output.c_str(), "wb");
  if (out == nullptr) {
    std::fprintf(stderr, "error: cannot write %s\n", flags.output.c_str());
    return 1;
  }
  Simulator simulator(flags.options);
  ProgressBar progress("simulate");
  std::string buffer;
  buffer.reserve(1 << 22);
  WriteCsvHeader(buffer);
  LabelledTransaction row;
  uint64_t count = 0;
  while ((flags.limit == 0 || count < static_cast<uint64_t>(flags.limit)) && simulator.Next(row)) {
    AppendCsvRow(buffer, row);
    ++count;
    if (buffer.size() >= (1 << 22)) {
      std::fwrite(buffer.data(), 1, buffer.size(), out);
      buffer.clear();
    }
    progress.Update(count, simulator.progress());
  }
  std::fwrite(buffer.data(), 1, buffer.size(), out);
  progress.Finish();
  const bool failed = std::ferror(out) != 0;
  if (out != stdout) {
    std::fclose(out);
  } else {
    std::fflush(out);
  }
  if (failed) {
    std::fprintf(stderr, "error: writing %s failed\n", flags.output.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"FraudGuard: real-time fraud scoring with SRE tooling built in"};
  app.require_subcommand(1);
  app.set_version_flag("--version", FRAUDGUARD_VERSION);

  ServeFlags serve_flags;
  AddServe(app, serve_flags);

  KeysFlags keys_flags;
  CLI::App* keys = app.add_subcommand("keys", "Manage API keys");
  keys->require_subcommand(1);
  CLI::App* keys_add = keys->add_subcommand("add", "Create a key; prints it once");
  keys_add->add_option("--file", keys_flags.file, "Keys file (created when missing)")->required();
  keys_add->add_option("--name", keys_flags.name, "Who the key is for")->required();
  keys_add->add_option("--roles", keys_flags.roles, "Comma-separated: score, read, admin");

  SimulateFlags simulate_flags;
  CLI::App* simulate = app.add_subcommand("simulate", "Write labelled simulated transactions");
  simulate->add_option("--profile", simulate_flags.profile, "fraudguard or handbook");
  simulate->add_option("-o,--output", simulate_flags.output, "CSV file, - for stdout");
  simulate->add_option("--seed", simulate_flags.options.seed, "Random seed");
  simulate->add_option("--customers", simulate_flags.options.customers, "Number of customers");
  simulate->add_option("--terminals", simulate_flags.options.terminals, "Number of terminals");
  simulate->add_option("--days", simulate_flags.options.days, "Days to simulate");
  simulate->add_option("--start-ms", simulate_flags.options.start_ms,
                       "First day, Unix epoch milliseconds");
  simulate->add_option("--limit", simulate_flags.limit, "Stop after this many transactions");

  TrainCommandOptions train_options;
  std::string train_schema = "auto";
  CLI::App* train = app.add_subcommand("train", "Train a model from a labelled CSV");
  train->add_option("-i,--input", train_options.input, "Labelled CSV")->required();
  train->add_option("--schema", train_schema, "auto, fraudguard or handbook");
  train->add_option("-o,--output", train_options.output, "Model file to write")->required();
  train->add_option("--from", train_options.from,
                    "First day trained on, YYYY-MM-DD (earlier rows only warm the features)");
  train->add_option("--to", train_options.to, "Last day trained on, YYYY-MM-DD");
  train->add_option("--rounds", train_options.training.rounds, "Boosting rounds");
  train->add_option("--max-depth", train_options.training.max_depth, "Tree depth");
  train->add_option("--learning-rate", train_options.training.learning_rate, "Shrinkage");
  train->add_option("--threads", train_options.training.threads, "Training threads");
  train->add_option("--seed", train_options.training.seed, "Random seed");
  train->add_option("--validation-share", train_options.validation_share,
                    "Most recent share of the period used to pick thresholds");
  train->add_option("--review-fpr", train_options.review_fpr,
                    "False positive budget of medium risk and above");
  train->add_option("--decline-fpr", train_options.decline_fpr,
                    "False positive budget of high risk");

  EvalCommandOptions eval_options;
  std::string eval_schema = "auto";
  CLI::App* eval = app.add_subcommand("eval",
                                      "Replay a labelled CSV through the scorer and report "
                                      "detection quality");
  eval->add_option("-i,--input", eval_options.input, "Labelled CSV (.gz read through gzip)")
      ->required();
  eval->add_option("--schema", eval_schema, "auto, fraudguard or handbook");
  eval->add_option("--model", eval_options.model_path, "Model file (default models/default.json)");
  eval->add_option("--rules", eval_options.rules_path, "Rules file (default: none)");
  eval->add_option("--from", eval_options.from, "First evaluated day, YYYY-MM-DD (UTC)");
  eval->add_option("--to", eval_options.to, "Last evaluated day, YYYY-MM-DD, inclusive");
  eval->add_option("--label-delay-days", eval_options.label_delay_days,
                   "Days until a transaction's label is known (default 7)");
  eval->add_option("--known-label-days", eval_options.known_label_days,
                   "Days of frauds before the delay that mark a card known compromised (7)");
  eval->add_flag("--json", eval_options.json, "JSON on stdout instead of a table");
  eval->add_option("--plot", eval_options.plot_path, "Write the precision-recall curve (SVG)");
  eval->add_option("--scores", eval_options.scores_path,
                   "Write every transaction of the period with its score and label (CSV)");

  capacity::CapacityCommand capacity_command(app);

  SloCommands slo(app, RouteLabels());
  IncidentCommands incident_commands(app);

  rollout::RolloutCommands rollout_commands(app);

  CLI11_PARSE(app, argc, argv);

  if (capacity_command.Parsed()) {
    return capacity_command.Run();
  }

  if (app.got_subcommand("serve")) {
    return RunServeCommand(serve_flags);
  }
  if (keys_add->parsed()) {
    return RunKeysAdd(keys_flags);
  }
  if (slo.parsed()) {
    return slo.Run();
  }
  if (rollout_commands.parsed()) {
    return rollout_commands.Run();
  }
  if (incident_commands.parsed()) {
    return incident_commands.Run();
  }
  if (app.got_subcommand("simulate")) {
    return RunSimulate(simulate_flags);
  }
  if (app.got_subcommand("eval")) {
    if (eval_schema == "fraudguard") {
      eval_options.schema = CsvSchema::kFraudGuard;
    } else if (eval_schema == "handbook") {
      eval_options.schema = CsvSchema::kHandbook;
    } else if (eval_schema != "auto") {
      std::fprintf(stderr, "error: --schema must be auto, fraudguard or handbook\n");
      return 2;
    }
    if (auto status = RunEval(eval_options); !status) {
      std::fprintf(stderr, "error: %s\n", status.error().c_str());
      return 1;
    }
    return 0;
  }
  if (app.got_subcommand("train")) {
    if (train_schema == "fraudguard") {
      train_options.schema = CsvSchema::kFraudGuard;
    } else if (train_schema == "handbook") {
      train_options.schema = CsvSchema::kHandbook;
    } else if (train_schema != "auto") {
      std::fprintf(stderr, "error: --schema must be auto, fraudguard or handbook\n");
      return 2;
    }
    if (auto status = RunTrain(train_options); !status) {
      std::fprintf(stderr, "error: %s\n", status.error().c_str());
      return 1;
    }
    return 0;
  }
  return 0;
}

}  // namespace fraudguard
