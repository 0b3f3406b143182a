// A small blocking HTTP/1.1 client with one keep-alive connection, for tests and the CLI
// (validate, canary, slo status). Not for the request path.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace fraudguard::http {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Case-insensitive; "" if absent.
  std::string Header(std::string_view name) const;
};

class Client {
public:
  // `timeout_ms` bounds each Send (connect, write and read together).
  Client(std::string host, uint16_t port, int64_t timeout_ms = 10000);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one request and reads its response. Adds Host and Content-Length; with an
  // "Expect: 100-continue" header the body is sent only after the server's "100 Continue"
  // (or after a second without an answer, as curl does).
  // Reconnects transparently when the server closed an idle keep-alive connection.
  Result<ClientResponse> Send(std::string_view method,
                              std::string_view target,
                              std::string_view body = {},
                              const std::vector<std::pair<std::string, std::string>>& headers = {});
  void Close();

private:
  Status Connect(int64_t deadline_ms);
  Status WriteAll(std::string_view data, int64_t deadline_ms);
  // Appends received bytes to buffer_; 0 bytes means the server closed the connection.
  Result<size_t> ReadMore(int64_t deadline_ms);
  Result<ClientResponse> ReadResponse(int64_t deadline_ms, bool head_request);

  std::string host_;
  uint16_t port_;
  int64_t timeout_ms_;
  int fd_ = -1;
  std::string buffer_;  // received bytes not yet consumed
};

// Parses "http://host:port[/path]" (the port defaults to 80); only http.
Result<std::pair<std::string, uint16_t>> ParseHttpUrl(std::string_view url);

}  // namespace fraudguard::http
