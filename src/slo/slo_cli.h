// `fraudguard slo status|gate|rules`: the budget for people and for CI/CD pipelines, read from a
// running server (--url) or straight from a data directory, and the Prometheus rule file.
#pragma once

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace fraudguard {

struct SloCommandFlags {
  std::string url;  // http://127.0.0.1:8080; empty: read --data-dir
  std::string data_dir = "data";
  std::string config_path;  // empty: the built-in SLOs
  std::string key;          // API key with the read role (or FRAUDGUARD_API_KEY)
  bool json = false;
  std::string output = "-";  // rules: file to write
};

class SloCommands {
public:
  // Adds `slo` and its subcommands to `app`; `known_routes` checks the routes in --config.
  SloCommands(CLI::App& app, std::vector<std::string> known_routes);
  // True when one of the subcommands was given on the command line.
  bool parsed() const;
  // Runs the parsed subcommand; returns the exit status.
  int Run() const;

private:
  int RunStatus() const;
  int RunGate() const;
  int RunRules() const;

  SloCommandFlags flags_;
  std::vector<std::string> known_routes_;
  CLI::App* status_ = nullptr;
  CLI::App* gate_ = nullptr;
  CLI::App* rules_ = nullptr;
};

}  // namespace fraudguard
