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
// `fraudguard keys add` into `keys_file`: a new key with `name` and `roles` (comma-separated);
// returns the key as printed once (a failed run is a test failure and gives "").
std::string AddApiKey(const std::string& keys_file,
                      const std::string& name,
                      const std::string& roles);

// A free TCP port on 127.0.0.1 (the kernel's choice; free when this returns).
uint16_t FreeLoopbackPort();

// A helper program for a test (Debian's prometheus, prometheus-alertmanager) listening on
// 127.0.0.1:port, with its stderr in `log_path`. Ready once GET /-/ready answers 200; stopped
// with SIGTERM, then SIGKILL, when destroyed.
class LoopbackDaemon {
public:
  LoopbackDaemon(std::vector<std::string> argv, std::string log_path, uint16_t port);
  ~LoopbackDaemon();
  LoopbackDaemon(const LoopbackDaemon&) = delete;
  LoopbackDaemon& operator=(const LoopbackDaemon&) = delete;

  // Starts it and waits (at most 30 s) until it is ready; false if it exited or never was.
  bool Start();
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Logs() const;

private:
  std::vector<std::string> argv_;
  std::string log_path_;
  uint16_t port_;
  pid_t pid_ = -1;
};

}  // namespace fraudguard::testing
