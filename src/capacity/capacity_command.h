// The `fraudguard capacity` subcommands: forecast, manifests and simulate.
#pragma once

#include <memory>

namespace CLI {
class App;
}

namespace fraudguard::capacity {

struct CapacityFlags;

class CapacityCommand {
public:
  // Registers `capacity` and its subcommands on `app`.
  explicit CapacityCommand(CLI::App& app);
  ~CapacityCommand();
  CapacityCommand(const CapacityCommand&) = delete;
  CapacityCommand& operator=(const CapacityCommand&) = delete;

  // True when the command line chose one of the capacity subcommands.
  bool Parsed() const;
  // Runs the chosen subcommand; returns the process exit status (2 for bad input).
  int Run() const;

private:
  std::unique_ptr<CapacityFlags> flags_;
};

}  // namespace fraudguard::capacity
