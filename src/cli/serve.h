#pragma once

#include <string>

#include "config/serve_config.h"

namespace fraudguard {

// Runs `fraudguard serve` until SIGTERM or SIGINT; SIGHUP reloads the model and rules. When
// `port_file` is set, the bound port is written there once the service is ready (tests and
// scripts that ask for port 0 read it back). Returns the process exit status.
int RunServe(const ServeConfig& config, const std::string& port_file);

}  // namespace fraudguard
