#include "server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace fraudguard::testing {
namespace {

constexpr int kStartTimeoutMs = 60000;
constexpr int kStopTimeoutMs = 60000;

std::vector<char*> ArgvOf(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  return argv;
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/fraudguard-it-XXXXXX";
  path_ = mkdtemp(pattern.data());
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string RepoPath(const std::string& relative) {
  return std::string(FRAUDGUARD_SOURCE_DIR) + "/" + relative;
}

ServerProcess::ServerProcess(std::string data_dir, std::vector<std::string> extra_args)
    : data_dir_(std::move(data_dir)), extra_args_(std::move(extra_args)) {
  port_file_ = data_dir_ + "/port";
  log_file_ = data_dir_ + "/server.log";
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    Kill();
  }
}

bool ServerProcess::Start() {
  std::filesystem::create_directories(data_dir_);
  std::filesystem::remove(port_file_);
  std::vector<std::string> args = {FRAUDGUARD_BINARY, "serve",   "--port",      "0",
                                   "--data-dir",      data_dir_, "--port-file", port_file_};
  // The repository's model and rules unless the test names its own.
  const auto add_default = [&](const std::string& flag, const std::string& value) {
    if (std::find(extra_args_.begin(), extra_args_.end(), flag) == extra_args_.end()) {
      args.push_back(flag);
      args.push_back(value);
    }
  };
  add_default("--model", RepoPath("models/default.json"));
  add_default("--rules", RepoPath("config/rules.yaml"));
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  pid_ = fork();
  if (pid_ == 0) {
    const int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log_fd >= 0) {
      dup2(log_fd, STDERR_FILENO);
      dup2(log_fd, STDOUT_FILENO);
    }
    auto argv = ArgvOf(args);
    execv(argv[0], argv.data());
    _exit(127);
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::ifstream port_file(port_file_);
    int port = 0;
    if (port_file >> port && port > 0) {
      port_ = static_cast<uint16_t>(port);
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int ServerProcess::WaitForExit(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

int ServerProcess::StopWith(int signal_number) {
  if (pid_ <= 0) {
    return -1;
  }
  ::kill(pid_, signal_number);
  const int status = WaitForExit(kStopTimeoutMs);
  if (pid_ > 0) {
    Kill();
  }
  return status;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::unique_ptr<http::Client> ServerProcess::NewClient(int64_t timeout_ms) const {
  return std::make_unique<http::Client>("127.0.0.1", port_, timeout_ms);
}

std::string ServerProcess::Logs() const {
  std::ifstream file(log_file_);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

int RunFraudguard(const std::vector<std::string>& args, std::string* output) {
  std::vector<std::string> full = {FRAUDGUARD_BINARY};
  full.insert(full.end(), args.begin(), args.end());
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) {
    return -1;
  }
  const pid_t pid = fork();
  if (pid == 0) {
    close(pipe_fds[0]);
    dup2(pipe_fds[1], STDOUT_FILENO);
    auto argv = ArgvOf(full);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[4096];
  ssize_t n = 0;
  while ((n = read(pipe_fds[0], buffer, sizeof(buffer))) > 0) {
    text.append(buffer, static_cast<size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (output != nullptr) {
    *output = text;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string AddApiKey(const std::string& keys_file,
                      const std::string& name,
                      const std::string& roles) {
  std::string output;
  EXPECT_EQ(RunFraudguard({"keys", "add", "--file", keys_file, "--name", name, "--roles", roles},
                          &output),
            0);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) {
    output.pop_back();
  }
  return output;
}

uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

LoopbackDaemon::LoopbackDaemon(std::vector<std::string> argv, std::string log_path, uint16_t port)
    : argv_(std::move(argv)), log_path_(std::move(log_path)), port_(port) {}

LoopbackDaemon::~LoopbackDaemon() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool LoopbackDaemon::Start() {
  std::vector<char*> argv;
  for (std::string& arg : argv_) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    FILE* out = std::freopen(log_path_.c_str(), "w", stderr);
    (void)out;
    execvp(argv[0], argv.data());
    _exit(127);
  }
  for (int i = 0; i < 300; ++i) {  // bounded: 30 s
    http::Client client("127.0.0.1", port_, 1000);
    auto response = client.Send("GET", "/-/ready");
    if (response && response->status == 200) {
      return true;
    }
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string LoopbackDaemon::Logs() const {
  std::ifstream in(log_path_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace fraudguard::testing
