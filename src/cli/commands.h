#pragma once

namespace fraudguard {

// Parses the command line and runs one subcommand; returns the process exit status.
int RunCli(int argc, char** argv);

}  // namespace fraudguard
