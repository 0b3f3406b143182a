// `fraudguard validate` and `fraudguard canary`: the release engineer's commands, run against
// servers over HTTP. Output for people by default, --json for pipelines, and an exit status a
// pipeline can act on (documented in docs/operations.md).
#pragma once

#include <string>

#include "rollout/canary_command.h"
#include "rollout/validation.h"

namespace CLI {
class App;
}

namespace fraudguard::rollout {

class RolloutCommands {
public:
  explicit RolloutCommands(CLI::App& app);
  bool parsed() const;
  int Run();

private:
  int RunValidate();

  ValidationOptions validation_;
  std::string validate_url_;
  std::string key_;
  bool json_ = false;
  CLI::App* validate_ = nullptr;
  CanaryCommand canary_;
};

// The key given by flag, else FRAUDGUARD_API_KEY, else empty.
std::string KeyOrEnvironment(const std::string& flag);

}  // namespace fraudguard::rollout
