// Starts the real `fraudguard serve` binary on a loopback port chosen by the kernel, for
// integration tests that speak HTTP to it, signal it and kill it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/http_client.h"

namespace fraudguard::testing {

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

private:
  std::string path_;
};

class ServerProcess {
public:
  // `extra_args` are appended to: serve --port 0 --data-dir <data_dir> --model <repo default>
  // --rules <repo default> --port-file <...>.
  ServerProcess(std::string data_dir, std::vector<std::string> extra_args = {});
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the process and waits (bounded) until it reports its port; false if it exited.
  bool Start();
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends `signal_number` and waits (bounded) for the exit; returns the exit status, or -1 when
  // the process did not exit in time or died of a signal.
  int StopWith(int signal_number);
  void Kill();  // SIGKILL and reap
  // Exit status of a process that exited on its own (waits, bounded); -1 otherwise.
  int WaitForExit(int timeout_ms);
  std::unique_ptr<http::Client> NewClient(int64_t timeout_ms = 10000) const;
  // Everything the process wrote to stderr (its JSON log lines).
  std::string Logs() const;

private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  std::string port_file_;
  std::string log_file_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

std::string RepoPath(const std::string& relative);
// Runs the fraudguard binary with `args` to completion; returns the exit status and stdout.
int RunFraudguard(const std::vector<std::string>& args, std::string* output = nullptr);

}  // namespace fraudguard::testing
