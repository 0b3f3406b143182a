#include "cli/commands.h"

#include <CLI/CLI.hpp>

namespace fraudguard {

int RunCli(int argc, char** argv) {
  CLI::App app{"FraudGuard: real-time fraud scoring with SRE tooling built in"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace fraudguard
