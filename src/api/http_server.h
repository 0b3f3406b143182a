// An HTTP/1.1 server on epoll: one listener (SO_REUSEPORT) and one event loop per worker thread,
// non-blocking sockets, keep-alive, pipelining, chunked request bodies and 100-continue.
//
// Each loop iteration reads what every ready connection sent, handles the complete requests,
// calls RequestHandler::BeforeSend once (group commit), and only then writes the responses.
// Slow or broken clients are answered by the server itself (408, 413, 431, ...) and closed;
// they never block other connections. Linux only.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/http_parser.h"
#include "core/result.h"

namespace fraudguard::http {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;                   // 0: the kernel picks; read it back with Server::port()
  int threads = 2;                     // worker threads, each with its own epoll loop
  size_t max_body_bytes = 1 << 20;     // larger Content-Length (or chunked total): 413
  size_t max_header_bytes = 16384;     // request line + headers; larger: 431
  int64_t request_timeout_ms = 10000;  // a started request must be complete by then: 408, close
  int64_t idle_timeout_ms = 60000;     // keep-alive connection with no request: closed silently
  size_t max_connections = 10000;      // beyond: accept and answer 503, close
  int64_t drain_timeout_ms = 5000;     // Stop(): how long to wait for in-flight work
};

class RequestHandler {
public:
  virtual ~RequestHandler() = default;
  // Runs on the worker thread that owns the connection.
  virtual void Handle(const Request& request, Response& response, int worker) = 0;
  // Called once per event-loop iteration on `worker` in which at least one request was handled,
  // after those requests were handled and BEFORE any of their responses is written to a socket:
  // the place to make their effects durable in one write (group commit).
  virtual void BeforeSend(int worker) { (void)worker; }
  // Called for every error the server answers by itself (400, 408, 413, 431, 501, 505, 503...),
  // so the owner can count them in its metrics.
  virtual void OnProtocolError(int status, int worker) {
    (void)status;
    (void)worker;
  }
};

class ServerWorker;

class Server {
public:
  Server(ServerOptions options, RequestHandler& handler);
  ~Server();  // stops if running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status Start();  // binds (SO_REUSEPORT listener per worker), spawns workers
  uint16_t port() const { return port_; }
  void StopAccepting();  // closes listeners; existing connections keep being served
  void Stop();           // StopAccepting, answer requests already received, close, join

  struct Stats {
    uint64_t accepted, open, rejected_over_limit, timeouts, protocol_errors;
    uint64_t accept_errors;  // accept() failures such as running out of descriptors
  };
  Stats stats() const;

  // Shared by the workers; read them through stats().
  struct Counters {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> open{0};
    std::atomic<uint64_t> rejected_over_limit{0};
    std::atomic<uint64_t> timeouts{0};
    std::atomic<uint64_t> protocol_errors{0};
    std::atomic<uint64_t> accept_errors{0};
  };

private:
  ServerOptions options_;
  RequestHandler& handler_;
  uint16_t port_ = 0;
  bool started_ = false;
  bool stopped_ = false;
  Counters counters_;
  std::vector<std::unique_ptr<ServerWorker>> workers_;
};

}  // namespace fraudguard::http
