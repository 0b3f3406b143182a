#include "api/http_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "api/http_parser.h"
#include "core/clock.h"

namespace fraudguard::http {
namespace {

constexpr size_t kMaxResponseHeadBytes = 64 * 1024;
constexpr size_t kMaxResponseBodyBytes = 64 * 1024 * 1024;
// How long to wait for "100 Continue" before sending the body anyway.
constexpr int64_t kContinueWaitMillis = 1000;

int64_t NowMillis() {
  return MonotonicNanos() / 1'000'000;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Parses a whole non-negative decimal or hexadecimal number.
bool ParseNumber(std::string_view text, int base, uint64_t& value) {
  if (text.empty()) {
    return false;
  }
  const auto result = std::from_chars(text.data(), text.data() + text.size(), value, base);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

}  // namespace

std::string ClientResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) {
      return value;
    }
  }
  return {};
}

Client::Client(std::string host, uint16_t port, int64_t timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

Client::~Client() {
  Close();
}

void Client::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  buffer_.clear();
}

Status Client::Connect(int64_t deadline_ms) {
  Close();
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addresses = nullptr;
  const std::string port_text = std::to_string(port_);
  const int resolved = ::getaddrinfo(host_.c_str(), port_text.c_str(), &hints, &addresses);
  if (resolved != 0 || addresses == nullptr) {
    return Error{"cannot resolve '" + host_ + "': " + gai_strerror(resolved)};
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(addresses);
    return Error{std::string("socket: ") + std::strerror(errno)};
  }
  int result = ::connect(fd, addresses->ai_addr, addresses->ai_addrlen);
  ::freeaddrinfo(addresses);
  if (result != 0 && errno == EINPROGRESS) {
    pollfd waiting{fd, POLLOUT, 0};
    const int64_t remaining = std::max<int64_t>(0, deadline_ms - NowMillis());
    result = ::poll(&waiting, 1, static_cast<int>(remaining));
    if (result == 1) {
      int error = 0;
      socklen_t length = sizeof(error);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
      errno = error;
      result = error == 0 ? 0 : -1;
    } else {
      errno = result == 0 ? ETIMEDOUT : errno;
      result = -1;
    }
  }
  if (result != 0) {
    const std::string reason = std::strerror(errno);
    ::close(fd);
    return Error{"connect to " + host_ + ":" + port_text + ": " + reason};
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fd_ = fd;
  return OkStatus();
}

Status Client::WriteAll(std::string_view data, int64_t deadline_ms) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      data.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd waiting{fd_, POLLOUT, 0};
      const int64_t remaining = deadline_ms - NowMillis();
      if (remaining <= 0 || ::poll(&waiting, 1, static_cast<int>(remaining)) <= 0) {
        return Error{"timed out sending the request"};
      }
      continue;
    }
    return Error{std::string("send: ") + std::strerror(errno)};
  }
  return OkStatus();
}

Result<size_t> Client::ReadMore(int64_t deadline_ms) {
  char chunk[16384];
  while (true) {
    const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got >= 0) {
      buffer_.append(chunk, static_cast<size_t>(got));
      return static_cast<size_t>(got);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return Error{std::string("recv: ") + std::strerror(errno)};
    }
    pollfd waiting{fd_, POLLIN, 0};
    const int64_t remaining = deadline_ms - NowMillis();
    if (remaining <= 0 || ::poll(&waiting, 1, static_cast<int>(remaining)) <= 0) {
      return Error{"timed out waiting for the response"};
    }
  }
}

Result<ClientResponse> Client::ReadResponse(int64_t deadline_ms, bool head_request) {
  size_t head_end = 0;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > kMaxResponseHeadBytes) {
      return Error{"response head exceeds " + std::to_string(kMaxResponseHeadBytes) + " bytes"};
    }
    Result<size_t> got = ReadMore(deadline_ms);
    if (!got.ok()) {
      return Error{got.error()};
    }
    if (*got == 0) {
      return Error{buffer_.empty() ? "connection closed before the response"
                                   : "connection closed in the middle of the response head"};
    }
  }
  ClientResponse response;
  const std::string_view head(buffer_.data(), head_end);
  size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  uint64_t status = 0;
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      !ParseNumber(status_line.substr(9, 3), 10, status)) {
    return Error{"malformed status line '" + std::string(status_line.substr(0, 80)) + "'"};
  }
  response.status = static_cast<int>(status);
  bool chunked = false;
  bool close = status_line.substr(0, 8) == "HTTP/1.0";
  bool has_length = false;
  uint64_t content_length = 0;
  while (line_end != std::string_view::npos && line_end < head.size()) {
    const size_t next = head.find("\r\n", line_end + 2);
    const std::string_view line = head.substr(line_end + 2, next - (line_end + 2));
    line_end = next;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Error{"malformed response header line '" + std::string(line.substr(0, 80)) + "'"};
    }
    std::string name(line.substr(0, colon));
    std::string value(Trim(line.substr(colon + 1)));
    if (EqualsIgnoreCase(name, "content-length")) {
      if (!ParseNumber(value, 10, content_length) || content_length > kMaxResponseBodyBytes) {
        return Error{"invalid response Content-Length '" + value + "'"};
      }
      has_length = true;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      chunked = value.find("chunked") != std::string::npos;
    } else if (EqualsIgnoreCase(name, "connection")) {
      close = close || value.find("close") != std::string::npos;
      if (value.find("keep-alive") != std::string::npos) {
        close = false;
      }
    }
    response.headers.emplace_back(std::move(name), std::move(value));
  }
  buffer_.erase(0, head_end + 4);

  const bool bodiless = head_request || response.status == 204 || response.status == 304 ||
                        (response.status >= 100 && response.status < 200);
  if (bodiless) {
    // No body.
  } else if (chunked) {
    std::string body;
    while (true) {
      size_t size_end;
      while ((size_end = buffer_.find("\r\n")) == std::string::npos) {
        Result<size_t> got = ReadMore(deadline_ms);
        if (!got.ok() || *got == 0) {
          return Error{"connection closed in a chunked response body"};
        }
      }
      uint64_t size = 0;
      const std::string_view size_text = std::string_view(buffer_).substr(0, size_end);
      if (!ParseNumber(size_text.substr(0, size_text.find(';')), 16, size) ||
          body.size() + size > kMaxResponseBodyBytes) {
        return Error{"invalid chunk size in the response"};
      }
      while (buffer_.size() < size_end + 2 + size + 2) {
        Result<size_t> got = ReadMore(deadline_ms);
        if (!got.ok() || *got == 0) {
          return Error{"connection closed in a chunked response body"};
        }
      }
      if (size == 0) {
        // Trailers are not expected from FraudGuard; a bare final CRLF ends the body.
        buffer_.erase(0, size_end + 4);
        break;
      }
      body.append(buffer_, size_end + 2, size);
      buffer_.erase(0, size_end + 2 + size + 2);
    }
    response.body = std::move(body);
  } else if (has_length) {
    while (buffer_.size() < content_length) {
      Result<size_t> got = ReadMore(deadline_ms);
      if (!got.ok()) {
        return Error{got.error()};
      }
      if (*got == 0) {
        return Error{"connection closed in the middle of the response body"};
      }
    }
    response.body = buffer_.substr(0, content_length);
    buffer_.erase(0, content_length);
  } else {
    // No framing: the body runs until the server closes the connection.
    while (true) {
      Result<size_t> got = ReadMore(deadline_ms);
      if (!got.ok()) {
        return Error{got.error()};
      }
      if (*got == 0) {
        break;
      }
      if (buffer_.size() > kMaxResponseBodyBytes) {
        return Error{"response body exceeds " + std::to_string(kMaxResponseBodyBytes) + " bytes"};
      }
    }
    response.body = std::move(buffer_);
    buffer_.clear();
    close = true;
  }
  if (close && response.status >= 200) {
    Close();
  }
  return response;
}

Result<ClientResponse> Client::Send(
    std::string_view method,
    std::string_view target,
    std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  const int64_t deadline_ms = NowMillis() + timeout_ms_;
  std::string head;
  head.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ");
  head.append(host_).append(":").append(std::to_string(port_)).append("\r\n");
  bool expect_continue = false;
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    head.append(name).append(": ").append(value).append("\r\n");
    expect_continue |= EqualsIgnoreCase(name, "expect") && EqualsIgnoreCase(value, "100-continue");
    has_length |=
        EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding");
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT")) {
    head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  head.append("\r\n");
  expect_continue = expect_continue && !body.empty();
  const bool head_request = method == "HEAD";

  // A reused connection may have been closed by the server while idle; then the request never
  // reached it and one retry on a fresh connection is safe.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = fd_ >= 0;
    if (!reused) {
      Status connected = Connect(deadline_ms);
      if (!connected.ok()) {
        return Error{connected.error()};
      }
    }
    const std::string message = expect_continue ? head : head + std::string(body);
    Status written = WriteAll(message, deadline_ms);
    if (!written.ok()) {
      Close();
      if (reused) {
        continue;
      }
      return Error{written.error()};
    }
    if (expect_continue) {
      const int64_t continue_deadline = std::min(deadline_ms, NowMillis() + kContinueWaitMillis);
      pollfd waiting{fd_, POLLIN, 0};
      const int64_t wait = std::max<int64_t>(0, continue_deadline - NowMillis());
      const bool answered = buffer_.size() > 0 || ::poll(&waiting, 1, static_cast<int>(wait)) > 0;
      if (answered) {
        const bool nothing_received = buffer_.empty();
        Result<ClientResponse> interim = ReadResponse(deadline_ms, head_request);
        if (!interim.ok()) {
          Close();
          const bool timed_out = interim.error().rfind("timed out", 0) == 0;
          if (reused && nothing_received && attempt == 0 && !timed_out) {
            continue;
          }
          return interim;
        }
        if (interim->status != 100) {
          // A final answer before the body (413, ...): the body is never sent.
          Close();
          return interim;
        }
      }
      Status sent_body = WriteAll(body, deadline_ms);
      if (!sent_body.ok()) {
        Close();
        return Error{sent_body.error()};
      }
    }
    while (true) {
      const bool nothing_received = buffer_.empty();
      Result<ClientResponse> response = ReadResponse(deadline_ms, head_request);
      if (!response.ok()) {
        Close();
        const bool timed_out = response.error().rfind("timed out", 0) == 0;
        if (reused && nothing_received && attempt == 0 && !timed_out) {
          break;  // retry on a fresh connection
        }
        return response;
      }
      if (response->status >= 100 && response->status < 200) {
        continue;  // interim response; the final one follows
      }
      return response;
    }
  }
  return Error{"connection closed before the response"};
}

Result<std::pair<std::string, uint16_t>> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() < kScheme.size() || !EqualsIgnoreCase(url.substr(0, kScheme.size()), kScheme)) {
    return Error{"URL '" + std::string(url) + "' must start with http://"};
  }
  std::string_view rest = url.substr(kScheme.size());
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (!authority.empty() && authority.front() == '[') {
    return Error{"URL '" + std::string(url) + "': IPv6 addresses are not supported"};
  }
  const size_t colon = authority.find(':');
  const std::string_view host = authority.substr(0, colon);
  if (host.empty()) {
    return Error{"URL '" + std::string(url) + "' has no host"};
  }
  uint64_t port = 80;
  if (colon != std::string_view::npos) {
    if (!ParseNumber(authority.substr(colon + 1), 10, port) || port == 0 || port > 65535) {
      return Error{"URL '" + std::string(url) + "' has an invalid port"};
    }
  }
  return std::pair<std::string, uint16_t>(std::string(host), static_cast<uint16_t>(port));
}

}  // namespace fraudguard::http
