#include "api/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <thread>

#include "core/clock.h"
#include "core/log.h"

namespace fraudguard::http {
namespace {

constexpr int kMaxEvents = 256;
constexpr int kListenBacklog = 1024;
constexpr size_t kReadChunk = 16384;
// Past this much unsent output a connection's further requests wait (a client pipelining
// without reading must not grow our memory without bound).
constexpr size_t kMaxPendingOutput = 1 << 20;
// After a server-initiated close, unread request bytes are drained for at most this long so that
// the kernel does not answer them with a reset that could destroy our response in flight.
constexpr int64_t kLingerMillis = 1000;
// Rejected (over the connection limit) sockets lingering at once, per worker; beyond, closed
// at once.
constexpr size_t kMaxLingeringRejected = 256;
// A connection idle this long gives its buffers back; a busy one keeps them.
constexpr int64_t kReleaseIdleBuffersMillis = 1000;
constexpr char kContinueResponse[] = "HTTP/1.1 100 Continue\r\n\r\n";

int64_t NowMillis() {
  return MonotonicNanos() / 1'000'000;
}

void AppendNumber(std::string& out, uint64_t value) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), value);
  out.append(digits, result.ptr);
}

bool IsSafeHeaderText(std::string_view text) {
  return text.find_first_of("\r\n") == std::string_view::npos;
}

// A byte buffer with a consumed prefix: bytes are appended at the end and dropped from the
// front, and the live bytes only move when more room is needed.
class ByteBuffer {
public:
  std::string_view View() const { return {data_.get() + begin_, end_ - begin_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }

  void Consume(size_t count) {
    begin_ += count;
    if (begin_ == end_) {
      begin_ = end_ = 0;
    }
  }

  // Room for at least `min_room` more bytes at the end; returns where to write.
  char* Reserve(size_t min_room, size_t& room) {
    if (capacity_ - end_ < min_room) {
      const size_t live = end_ - begin_;
      if (capacity_ - live >= min_room && begin_ > 0) {
        std::memmove(data_.get(), data_.get() + begin_, live);
      } else {
        const size_t capacity = std::max(capacity_ * 2, live + min_room);
        auto bigger = std::make_unique<char[]>(capacity);
        if (live > 0) {
          std::memcpy(bigger.get(), data_.get() + begin_, live);
        }
        data_ = std::move(bigger);
        capacity_ = capacity;
      }
      begin_ = 0;
      end_ = live;
    }
    room = capacity_ - end_;
    return data_.get() + end_;
  }
  void Commit(size_t count) { end_ += count; }
  // Frees the storage of an empty buffer.
  void Release() {
    if (empty()) {
      data_.reset();
      capacity_ = 0;
    }
  }
  size_t capacity() const { return capacity_; }

private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
};

struct Connection {
  explicit Connection(int socket, ParserLimits limits) : fd(socket), parser(limits) {}

  int fd;
  ByteBuffer in;
  std::string out;
  size_t out_sent = 0;
  RequestParser parser;
  uint32_t interest = 0;           // events registered with epoll
  int64_t last_activity_ms = 0;    // last request completed, byte read or byte written
  int64_t request_started_ms = 0;  // when the first byte of the pending request arrived
  bool request_pending = false;    // part of a request is buffered
  bool continue_sent = false;      // "100 Continue" already sent for the pending request
  bool close_after_write = false;  // read no more; close once `out` is flushed
  bool peer_closed = false;        // the client shut down its side
  bool lingering = false;          // our side is shut down; draining input until EOF
  bool rejected = false;           // over the connection limit; not counted as open
  bool closed = false;             // closed in this iteration; the fd is released at its end
  bool needs_processing = false;   // buffered requests wait for output room
  int64_t linger_deadline_ms = 0;
};

}  // namespace

class ServerWorker {
public:
  ServerWorker(int index,
               const ServerOptions& options,
               RequestHandler& handler,
               Server::Counters& counters)
      : index_(index),
        options_(options),
        handler_(handler),
        counters_(counters),
        limits_{options.max_header_bytes, options.max_body_bytes, 100} {
    const int64_t shortest = std::min(options.request_timeout_ms, options.idle_timeout_ms);
    tick_ms_ = std::clamp<int64_t>(shortest / 4, 5, 250);
    input_cap_ = options.max_header_bytes + 2 * options.max_body_bytes + 128 * 1024;
  }

  ~ServerWorker() {
    if (thread_.joinable()) {
      thread_.join();
    }
    for (auto& connection : connections_) {
      if (connection) {
        ::close(connection->fd);
      }
    }
    CloseFd(listen_fd_);
    CloseFd(wake_fd_);
    CloseFd(epoll_fd_);
  }

  // Creates the listener (port 0: the kernel picks) and the event loop's descriptors.
  Status Open(const sockaddr_in& address) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
      return Error{std::string("socket: ") + std::strerror(errno)};
    }
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return Error{std::string("SO_REUSEPORT: ") + std::strerror(errno)};
    }
    if (::bind(listen_fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      return Error{"bind to port " + std::to_string(ntohs(address.sin_port)) + ": " +
                   std::strerror(errno)};
    }
    if (::listen(listen_fd_, kListenBacklog) != 0) {
      return Error{std::string("listen: ") + std::strerror(errno)};
    }
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return Error{std::string("epoll/eventfd: ") + std::strerror(errno)};
    }
    if (!AddToEpoll(listen_fd_, EPOLLIN) || !AddToEpoll(wake_fd_, EPOLLIN)) {
      return Error{std::string("epoll_ctl: ") + std::strerror(errno)};
    }
    return OkStatus();
  }

  uint16_t BoundPort() const {
    sockaddr_in address{};
    socklen_t length = sizeof(address);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    return ntohs(address.sin_port);
  }

  void Run() {
    thread_ = std::thread([this] {
      const std::string name = "http-w" + std::to_string(index_);
      pthread_setname_np(pthread_self(), name.c_str());
      Loop();
    });
  }

  // Asks the loop to close its listener (and, with `drain`, to finish and end); WaitForListener
  // returns once the listener is closed.
  void RequestStop(bool drain) {
    if (drain) {
      drain_requested_.store(true);
    }
    stop_accepting_requested_.store(true);
    Wake();
  }
  void WaitForListenerClosed() { listener_closed_.wait(false); }
  void Join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }

private:
  static void CloseFd(int& fd) {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }

  bool AddToEpoll(int fd, uint32_t events) {
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    return ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) == 0;
  }

  void Wake() {
    const uint64_t one = 1;
    const ssize_t written = ::write(wake_fd_, &one, sizeof(one));
    (void)written;
  }

  void Loop() {
    epoll_event events[kMaxEvents];
    int64_t next_sweep_ms = NowMillis() + tick_ms_;
    while (true) {
      int timeout = static_cast<int>(std::max<int64_t>(0, next_sweep_ms - NowMillis()));
      if (!resume_.empty()) {
        timeout = 0;
      }
      const int count = ::epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
      now_ms_ = NowMillis();
      handled_in_iteration_ = 0;
      // Commands first, so that a stop seen in this batch applies to the requests in it.
      for (int i = 0; i < count; ++i) {
        if (events[i].data.fd == wake_fd_) {
          OnWake();
        }
      }
      for (int i = 0; i < count; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_fd_) {
          continue;
        } else if (fd == listen_fd_) {
          AcceptAll();
        } else {
          OnConnectionEvent(fd, events[i].events);
        }
      }
      ResumeWaitingConnections();
      if (handled_in_iteration_ > 0) {
        handler_.BeforeSend(index_);
      }
      FlushPending();
      if (now_ms_ >= next_sweep_ms) {
        Sweep();
        next_sweep_ms = now_ms_ + tick_ms_;
      }
      if (draining_ && DrainStep()) {
        break;
      }
      ReleaseClosed();
    }
    ReleaseClosed();
  }

  void OnWake() {
    uint64_t value = 0;
    const ssize_t got = ::read(wake_fd_, &value, sizeof(value));
    (void)got;
    if (stop_accepting_requested_.load() && listen_fd_ >= 0) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      CloseFd(listen_fd_);
      listener_closed_.store(true);
      listener_closed_.notify_all();
    }
    if (drain_requested_.load() && !draining_) {
      draining_ = true;
      drain_deadline_ms_ = now_ms_ + options_.drain_timeout_ms;
    }
  }

  void AcceptAll() {
    // Bounded per wake-up so that a connection storm cannot starve the other connections.
    for (int accepted = 0; accepted < 64; ++accepted) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: stop polling the listener until the next sweep, or the
          // level-triggered event would spin.
          counters_.accept_errors.fetch_add(1, std::memory_order_relaxed);
          if (now_ms_ - last_accept_warning_ms_ >= 1000) {
            last_accept_warning_ms_ = now_ms_;
            LogWarn("http_accept_failed")
                .Field("error", std::strerror(errno))
                .Field("worker", index_)
                .Field("accept_errors_total", counters_.accept_errors.load());
          }
          ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
          listener_paused_ = true;
        }
        return;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      counters_.accepted.fetch_add(1, std::memory_order_relaxed);
      if (counters_.open.load(std::memory_order_relaxed) >= options_.max_connections) {
        RejectOverLimit(fd);
        continue;
      }
      counters_.open.fetch_add(1, std::memory_order_relaxed);
      Connection& connection = Register(fd);
      connection.last_activity_ms = now_ms_;
    }
  }

  Connection& Register(int fd) {
    if (static_cast<size_t>(fd) >= connections_.size()) {
      connections_.resize(static_cast<size_t>(fd) + 1);
    }
    connections_[fd] = std::make_unique<Connection>(fd, limits_);
    Connection& connection = *connections_[fd];
    connection.interest = EPOLLIN;
    AddToEpoll(fd, EPOLLIN);
    ++connection_count_;
    return connection;
  }

  void RejectOverLimit(int fd) {
    counters_.rejected_over_limit.fetch_add(1, std::memory_order_relaxed);
    counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    handler_.OnProtocolError(503, index_);
    if (now_ms_ - last_limit_warning_ms_ >= 1000) {
      last_limit_warning_ms_ = now_ms_;
      LogWarn("http_connection_limit_reached")
          .Field("max_connections", static_cast<uint64_t>(options_.max_connections))
          .Field("rejected_total", counters_.rejected_over_limit.load());
    }
    std::string text;
    Response response;
    SetJsonError(response, 503, ErrorCodeForStatus(503), "too many connections; retry later");
    Serialize(response, /*head_only=*/false, /*keep_alive=*/false, /*minor_version=*/1, text);
    // A fresh socket's send buffer takes this small response whole.
    const ssize_t sent = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    (void)sent;
    if (lingering_rejected_ >= kMaxLingeringRejected) {
      ::close(fd);
      return;
    }
    Connection& connection = Register(fd);
    connection.rejected = true;
    ++lingering_rejected_;
    StartLinger(connection);
  }

  void OnConnectionEvent(int fd, uint32_t events) {
    if (static_cast<size_t>(fd) >= connections_.size() || !connections_[fd] ||
        connections_[fd]->closed) {
      return;
    }
    Connection& connection = *connections_[fd];
    if ((events & (EPOLLERR | EPOLLHUP)) != 0 && (events & EPOLLIN) == 0) {
      Close(connection);
      return;
    }
    if ((events & EPOLLIN) != 0) {
      OnReadable(connection);
    }
    if (!connection.closed && (events & EPOLLOUT) != 0) {
      MarkForFlush(connection);
    }
  }

  void OnReadable(Connection& connection) {
    while (true) {
      if (!connection.lingering && connection.in.size() >= input_cap_) {
        break;  // UpdateInterest stops reading until the buffered requests are handled
      }
      size_t room = 0;
      char* target =
          connection.lingering ? discard_buffer_ : connection.in.Reserve(kReadChunk, room);
      if (connection.lingering) {
        room = sizeof(discard_buffer_);
      }
      const ssize_t got = ::recv(connection.fd, target, room, 0);
      if (got > 0) {
        connection.last_activity_ms = now_ms_;
        if (!connection.lingering) {
          connection.in.Commit(static_cast<size_t>(got));
        }
        if (static_cast<size_t>(got) < room) {
          break;
        }
        continue;
      }
      if (got == 0) {
        connection.peer_closed = true;
        break;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        LogDebug("http_read_failed").Field("error", std::strerror(errno));
        Close(connection);
        return;
      }
      break;
    }
    if (connection.lingering) {
      if (connection.peer_closed) {
        Close(connection);
      }
      return;
    }
    ProcessInput(connection);
    if (connection.closed) {
      return;
    }
    if (connection.peer_closed) {
      // The client sent all it will. Complete requests were answered above; a partial one can
      // never complete, so close once the answers are out.
      connection.close_after_write = true;
    }
    MarkForFlush(connection);
  }

  // Parses and handles every complete request buffered on `connection`, appending the responses
  // to its output in order.
  void ProcessInput(Connection& connection) {
    connection.needs_processing = false;
    while (!connection.close_after_write && !connection.lingering) {
      if (connection.out.size() - connection.out_sent >= kMaxPendingOutput) {
        connection.needs_processing = true;  // resumed once the client has read some output
        break;
      }
      const std::string_view data = connection.in.View();
      const ParseStatus status = connection.parser.Parse(data, request_);
      if (status == ParseStatus::kNeedMore) {
        if (connection.parser.in_progress() && !connection.request_pending) {
          connection.request_pending = true;
          connection.request_started_ms = now_ms_;
        }
        if (connection.parser.awaiting_body() && connection.parser.expects_continue() &&
            !connection.continue_sent) {
          connection.continue_sent = true;
          connection.out.append(kContinueResponse, sizeof(kContinueResponse) - 1);
        }
        break;
      }
      if (status == ParseStatus::kError) {
        SendError(connection, connection.parser.error_status(), connection.parser.error_message());
        break;
      }
      HandleRequest(connection, data);
    }
  }

  void HandleRequest(Connection& connection, std::string_view data) {
    response_.Reset();
    try {
      handler_.Handle(request_, response_, index_);
    } catch (const std::exception& error) {
      LogWarn("http_handler_threw").Field("error", error.what()).Field("path", request_.path);
      response_.Reset();
      SetJsonError(response_, 500, ErrorCodeForStatus(500), "internal error");
    } catch (...) {
      LogWarn("http_handler_threw").Field("path", request_.path);
      response_.Reset();
      SetJsonError(response_, 500, ErrorCodeForStatus(500), "internal error");
    }
    ++handled_in_iteration_;
    const size_t consumed = connection.parser.consumed();
    // While draining, a connection is closed after the last request it has already sent.
    const bool more_buffered = consumed < data.size();
    const bool keep_alive =
        request_.keep_alive && !response_.close_connection && !(draining_ && !more_buffered);
    Serialize(response_, request_.method == "HEAD", keep_alive, request_.minor_version,
              connection.out);
    connection.parser.Reset();
    connection.in.Consume(consumed);
    connection.request_pending = false;
    connection.continue_sent = false;
    connection.last_activity_ms = now_ms_;
    if (!keep_alive) {
      connection.close_after_write = true;
    }
  }

  void SendError(Connection& connection, int status, std::string_view message) {
    counters_.protocol_errors.fetch_add(1, std::memory_order_relaxed);
    if (status == 408) {
      counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
    }
    handler_.OnProtocolError(status, index_);
    LogDebug("http_protocol_error").Field("status", status).Field("message", message);
    error_response_.Reset();
    SetJsonError(error_response_, status, ErrorCodeForStatus(status), message);
    Serialize(error_response_, false, /*keep_alive=*/false, /*minor_version=*/1, connection.out);
    connection.close_after_write = true;
    MarkForFlush(connection);
  }

  // Appends `response` in HTTP/1.1 wire form to `out`.
  void Serialize(const Response& response,
                 bool head_only,
                 bool keep_alive,
                 int minor_version,
                 std::string& out) {
    const bool bodiless = response.status == 204 || response.status == 304 ||
                          (response.status >= 100 && response.status < 200);
    out.append("HTTP/1.1 ");
    AppendNumber(out, static_cast<uint64_t>(response.status));
    out.push_back(' ');
    out.append(StatusReason(response.status));
    out.append("\r\nDate: ");
    out.append(DateHeader());
    if (!bodiless) {
      if (!response.content_type.empty() && IsSafeHeaderText(response.content_type)) {
        out.append("\r\nContent-Type: ");
        out.append(response.content_type);
      }
      out.append("\r\nContent-Length: ");
      AppendNumber(out, response.body.size());
    }
    if (!keep_alive) {
      out.append("\r\nConnection: close");
    } else if (minor_version == 0) {
      out.append("\r\nConnection: keep-alive");
    }
    for (const auto& [name, value] : response.headers) {
      if (name.empty() || !IsSafeHeaderText(name) || !IsSafeHeaderText(value) ||
          name.find(':') != std::string::npos) {
        LogDebug("http_header_dropped").Field("name", name);
        continue;
      }
      out.append("\r\n");
      out.append(name);
      out.append(": ");
      out.append(value);
    }
    out.append("\r\n\r\n");
    if (!bodiless && !head_only) {
      out.append(response.body);
    }
  }

  // The Date header value, formatted at most once per second.
  std::string_view DateHeader() {
    const std::time_t now = std::time(nullptr);
    if (now != date_second_) {
      date_second_ = now;
      std::tm parts{};
      gmtime_r(&now, &parts);
      date_length_ =
          std::strftime(date_text_, sizeof(date_text_), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    }
    return {date_text_, date_length_};
  }

  void MarkForFlush(Connection& connection) {
    if (!connection.closed) {
      flush_.push_back(connection.fd);
    }
  }

  void ResumeWaitingConnections() {
    std::vector<int> waiting;
    waiting.swap(resume_);
    for (int fd : waiting) {
      Connection* connection = Find(fd);
      if (connection != nullptr && connection->needs_processing) {
        ProcessInput(*connection);
        MarkForFlush(*connection);
      }
    }
  }

  Connection* Find(int fd) {
    if (static_cast<size_t>(fd) >= connections_.size() || !connections_[fd] ||
        connections_[fd]->closed) {
      return nullptr;
    }
    return connections_[fd].get();
  }

  void FlushPending() {
    std::vector<int> pending;
    pending.swap(flush_);
    for (int fd : pending) {
      Connection* connection = Find(fd);
      if (connection != nullptr) {
        Flush(*connection);
      }
    }
  }

  void Flush(Connection& connection) {
    while (connection.out_sent < connection.out.size()) {
      const ssize_t sent = ::send(connection.fd, connection.out.data() + connection.out_sent,
                                  connection.out.size() - connection.out_sent, MSG_NOSIGNAL);
      if (sent > 0) {
        connection.out_sent += static_cast<size_t>(sent);
        connection.last_activity_ms = now_ms_;
        continue;
      }
      if (sent < 0 && errno == EINTR) {
        continue;
      }
      if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      }
      LogDebug("http_write_failed").Field("error", std::strerror(errno));
      Close(connection);
      return;
    }
    if (connection.out_sent == connection.out.size()) {
      connection.out.clear();
      connection.out_sent = 0;
      if (connection.close_after_write && !connection.lingering) {
        if (connection.peer_closed) {
          Close(connection);
          return;
        }
        StartLinger(connection);
      }
      if (connection.needs_processing) {
        resume_.push_back(connection.fd);
      }
    } else if (connection.out_sent > (1 << 16) && connection.out_sent * 2 > connection.out.size()) {
      connection.out.erase(0, connection.out_sent);
      connection.out_sent = 0;
    }
    UpdateInterest(connection);
  }

  void StartLinger(Connection& connection) {
    ::shutdown(connection.fd, SHUT_WR);
    connection.lingering = true;
    connection.close_after_write = true;
    connection.linger_deadline_ms =
        now_ms_ +
        std::min<int64_t>(kLingerMillis, std::max<int64_t>(options_.request_timeout_ms, 1));
    UpdateInterest(connection);
  }

  void UpdateInterest(Connection& connection) {
    uint32_t wanted = 0;
    const bool output_pending = connection.out_sent < connection.out.size();
    if (connection.lingering) {
      wanted = EPOLLIN;
    } else if (!connection.close_after_write && !connection.needs_processing &&
               connection.in.size() < input_cap_) {
      wanted = EPOLLIN;
    }
    if (output_pending) {
      wanted |= EPOLLOUT;
    }
    if (wanted != connection.interest) {
      epoll_event event{};
      event.events = wanted;
      event.data.fd = connection.fd;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, connection.fd, &event);
      connection.interest = wanted;
    }
  }

  // Enforces timeouts; runs every tick.
  void Sweep() {
    if (listener_paused_ && listen_fd_ >= 0) {
      listener_paused_ = !AddToEpoll(listen_fd_, EPOLLIN);
    }
    for (auto& slot : connections_) {
      if (!slot || slot->closed) {
        continue;
      }
      Connection& connection = *slot;
      const bool output_pending = connection.out_sent < connection.out.size();
      if (connection.lingering) {
        if (now_ms_ >= connection.linger_deadline_ms) {
          Close(connection);
        }
      } else if (output_pending) {
        // A client that stopped reading its responses.
        if (now_ms_ - connection.last_activity_ms >= options_.request_timeout_ms) {
          counters_.timeouts.fetch_add(1, std::memory_order_relaxed);
          LogDebug("http_write_timeout").Field("fd", connection.fd);
          Close(connection);
        }
      } else if (connection.request_pending) {
        if (now_ms_ - connection.request_started_ms >= options_.request_timeout_ms) {
          SendError(
              connection, 408,
              "request not complete within " + std::to_string(options_.request_timeout_ms) + " ms");
          Flush(connection);
        }
      } else if (!connection.close_after_write &&
                 now_ms_ - connection.last_activity_ms >= options_.idle_timeout_ms) {
        Close(connection);
      } else if (now_ms_ - connection.last_activity_ms >= kReleaseIdleBuffersMillis &&
                 connection.in.capacity() > 0) {
        // Idle keep-alive connections can be many; they should not each hold a read buffer.
        connection.in.Release();
        std::string().swap(connection.out);
        connection.out_sent = 0;
      }
    }
  }

  // One step of a graceful stop; true when the loop may end.
  bool DrainStep() {
    if (now_ms_ >= drain_deadline_ms_) {
      size_t forced = 0;
      for (auto& slot : connections_) {
        if (slot && !slot->closed) {
          forced += slot->lingering ? 0 : 1;
          Close(*slot);
        }
      }
      if (forced > 0) {
        LogWarn("http_drain_timeout")
            .Field("worker", index_)
            .Field("connections_closed", static_cast<uint64_t>(forced));
      }
      return true;
    }
    size_t busy = 0;
    for (auto& slot : connections_) {
      if (!slot || slot->closed) {
        continue;
      }
      Connection& connection = *slot;
      const bool idle = !connection.request_pending && connection.in.empty() &&
                        connection.out_sent == connection.out.size() &&
                        !connection.needs_processing;
      if (connection.lingering || idle) {
        Close(connection);
      } else {
        ++busy;
      }
    }
    return busy == 0;
  }

  void Close(Connection& connection) {
    if (connection.closed) {
      return;
    }
    connection.closed = true;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, connection.fd, nullptr);
    closed_.push_back(connection.fd);
  }

  // Releases the descriptors closed in this iteration; deferred so that an event later in the
  // same batch can never reach a new connection that reused the number.
  void ReleaseClosed() {
    for (int fd : closed_) {
      std::unique_ptr<Connection>& slot = connections_[fd];
      if (slot->rejected) {
        --lingering_rejected_;
      } else {
        counters_.open.fetch_sub(1, std::memory_order_relaxed);
      }
      ::close(fd);
      slot.reset();
      --connection_count_;
    }
    closed_.clear();
  }

  const int index_;
  const ServerOptions& options_;
  RequestHandler& handler_;
  Server::Counters& counters_;
  const ParserLimits limits_;
  int64_t tick_ms_ = 50;
  size_t input_cap_ = 0;

  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_accepting_requested_{false};
  std::atomic<bool> drain_requested_{false};
  std::atomic<bool> listener_closed_{false};

  // Owned by the loop thread.
  std::vector<std::unique_ptr<Connection>> connections_;  // indexed by descriptor
  size_t connection_count_ = 0;
  size_t lingering_rejected_ = 0;
  std::vector<int> flush_;
  std::vector<int> resume_;
  std::vector<int> closed_;
  Request request_;
  Response response_;
  Response error_response_;
  int64_t now_ms_ = 0;
  size_t handled_in_iteration_ = 0;
  bool listener_paused_ = false;
  bool draining_ = false;
  int64_t drain_deadline_ms_ = 0;
  int64_t last_limit_warning_ms_ = -1000000;
  int64_t last_accept_warning_ms_ = -1000000;
  std::time_t date_second_ = 0;
  char date_text_[40] = {};
  size_t date_length_ = 0;
  char discard_buffer_[4096];
};

Server::Server(ServerOptions options, RequestHandler& handler)
    : options_(std::move(options)), handler_(handler) {}

Server::~Server() {
  Stop();
}

Status Server::Start() {
  if (started_) {
    return Error{"server already started"};
  }
  if (options_.threads < 1) {
    return Error{"threads must be at least 1"};
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options_.port);
  if (::inet_pton(AF_INET, options_.bind_address.c_str(), &address.sin_addr) != 1) {
    return Error{"bind_address '" + options_.bind_address + "' is not an IPv4 address"};
  }
  std::vector<std::unique_ptr<ServerWorker>> workers;
  for (int i = 0; i < options_.threads; ++i) {
    workers.push_back(std::make_unique<ServerWorker>(i, options_, handler_, counters_));
    Status opened = workers.back()->Open(address);
    if (!opened.ok()) {
      return Error{"http server on " + options_.bind_address + ": " + opened.error()};
    }
    if (i == 0) {
      // Every worker listens on the port the first one got.
      address.sin_port = htons(workers.back()->BoundPort());
    }
  }
  port_ = ntohs(address.sin_port);
  workers_ = std::move(workers);
  for (auto& worker : workers_) {
    worker->Run();
  }
  started_ = true;
  LogInfo("http_server_started")
      .Field("address", options_.bind_address)
      .Field("port", static_cast<int>(port_))
      .Field("threads", options_.threads);
  return OkStatus();
}

void Server::StopAccepting() {
  if (!started_ || stopped_) {
    return;
  }
  for (auto& worker : workers_) {
    worker->RequestStop(/*drain=*/false);
  }
  for (auto& worker : workers_) {
    worker->WaitForListenerClosed();
  }
}

void Server::Stop() {
  if (!started_ || stopped_) {
    return;
  }
  // Listeners close first; then each worker answers what it has received and ends.
  for (auto& worker : workers_) {
    worker->RequestStop(/*drain=*/true);
  }
  for (auto& worker : workers_) {
    worker->WaitForListenerClosed();
  }
  for (auto& worker : workers_) {
    worker->Join();
  }
  stopped_ = true;
  workers_.clear();
  const Stats totals = stats();
  LogInfo("http_server_stopped")
      .Field("port", static_cast<int>(port_))
      .Field("accepted", totals.accepted)
      .Field("timeouts", totals.timeouts)
      .Field("protocol_errors", totals.protocol_errors);
}

Server::Stats Server::stats() const {
  return {counters_.accepted.load(),
          counters_.open.load(),
          counters_.rejected_over_limit.load(),
          counters_.timeouts.load(),
          counters_.protocol_errors.load(),
          counters_.accept_errors.load()};
}

}  // namespace fraudguard::http
