// Helpers for the capacity integration tests: run a program to completion with its output
// captured, in a temporary directory removed afterwards.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fraudguard::capacity_testing {

struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class ScratchDir {
public:
  ScratchDir() {
    char pattern[] = "/tmp/fraudguard-capacity-XXXXXX";
    if (mkdtemp(pattern) != nullptr) {
      path_ = pattern;
    }
  }
  ~ScratchDir() {
    if (!path_.empty()) {
      std::filesystem::remove_all(path_);
    }
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  bool ok() const { return !path_.empty(); }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

// Runs `argv` (a path and its arguments) to completion, stdout and stderr sent to files in
// `dir`. KUBECONFIG points nowhere so kubectl can never reach for a cluster from a test.
inline CommandResult Exec(const ScratchDir& dir, const std::vector<std::string>& argv_strings) {
  const std::string out_path = dir.Path("stdout");
  const std::string err_path = dir.Path("stderr");
  const pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(out_path.c_str(), "w", stdout) || !freopen(err_path.c_str(), "w", stderr)) {
      _exit(126);
    }
    std::vector<char*> argv;
    for (const std::string& arg : argv_strings) {
      argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    setenv("KUBECONFIG", "/dev/null", 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult result;
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = ReadFile(out_path);
  result.err = ReadFile(err_path);
  return result;
}

inline CommandResult RunFraudguardCapacity(const ScratchDir& dir,
                                           const std::vector<std::string>& args) {
  std::vector<std::string> full = {FRAUDGUARD_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  return Exec(dir, full);
}

}  // namespace fraudguard::capacity_testing
