#include "api/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api/http_client.h"

namespace fraudguard::http {
namespace {

// Answers "<path>|<body>" and records what the server called, in order.
class RecordingHandler : public RequestHandler {
public:
  void Handle(const Request& request, Response& response, int worker) override {
    (void)worker;
    Record("handle " + std::string(request.path));
    if (request.path == "/block") {
      entered_block.store(true);
      // Held until the test releases it; bounded so a failing test cannot hang.
      for (int i = 0; i < 1000 && !release_block.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    response.content_type = "text/plain";
    response.body = std::string(request.path) + "|" + std::string(request.body);
    if (request.path == "/close") {
      response.close_connection = true;
    }
    response.headers.emplace_back("X-Method", std::string(request.method));
  }
  void BeforeSend(int worker) override {
    (void)worker;
    if (slow_before_send.load()) {
      // Gives a wrongly ordered server the time to put the response on the wire first.
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    Record("before_send");
  }
  void OnProtocolError(int status, int worker) override {
    (void)worker;
    std::lock_guard<std::mutex> lock(mutex_);
    ++protocol_errors_[status];
  }

  std::vector<std::string> events() {
    std::lock_guard<std::mutex> lock(mutex_);
    return events_;
  }
  int protocol_errors(int status) {
    std::lock_guard<std::mutex> lock(mutex_);
    return protocol_errors_[status];
  }

  std::atomic<bool> entered_block{false};
  std::atomic<bool> release_block{false};
  std::atomic<bool> slow_before_send{false};

private:
  void Record(std::string event) {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(std::move(event));
  }

  std::mutex mutex_;
  std::vector<std::string> events_;
  std::map<int, int> protocol_errors_;
};

// A plain blocking socket for sending exactly the bytes a test wants.
class RawConnection {
public:
  explicit RawConnection(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval timeout{5, 0};  // bounds every read so a broken server fails the test, not hangs it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() { ::close(fd_); }

  bool connected() const { return connected_; }
  void Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) {
        return;
      }
      data.remove_prefix(static_cast<size_t>(sent));
    }
  }
  // Everything the server sends until it closes the connection (or 5 s pass).
  std::string ReadUntilClosed() {
    while (ReadSome()) {
    }
    return std::exchange(buffer_, {});
  }
  // One response (head and Content-Length body); "" if the connection ended first.
  std::string ReadResponse() {
    size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!ReadSome()) {
        return {};
      }
    }
    size_t length = 0;
    const size_t header = buffer_.find("Content-Length: ");
    if (header != std::string::npos && header < head_end) {
      length = std::stoul(buffer_.substr(header + 16));
    }
    while (buffer_.size() < head_end + 4 + length) {
      if (!ReadSome()) {
        return {};
      }
    }
    std::string response = buffer_.substr(0, head_end + 4 + length);
    buffer_.erase(0, response.size());
    return response;
  }

private:
  bool ReadSome() {
    char chunk[4096];
    const ssize_t got = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (got <= 0) {
      return false;
    }
    buffer_.append(chunk, static_cast<size_t>(got));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

std::string BodyOf(const std::string& response) {
  return response.substr(response.find("\r\n\r\n") + 4);
}

bool WaitFor(const std::function<bool()>& condition) {
  for (int i = 0; i < 1000; ++i) {  // at most about 5 seconds
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

class HttpServerTest : public ::testing::Test {
protected:
  void StartServer(ServerOptions options = {}) {
    options.bind_address = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(options, handler_);
    Status started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.error();
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    handler_.release_block.store(true);
    if (server_) {
      server_->Stop();
    }
  }

  RecordingHandler handler_;
  std::unique_ptr<Server> server_;
};

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  Client client("127.0.0.1", server_->port());
  for (int i = 0; i < 5; ++i) {
    auto response = client.Send("POST", "/echo?i=" + std::to_string(i), "body" + std::to_string(i),
                                {{"Content-Type", "application/json"}});
    ASSERT_TRUE(response.ok()) << response.error();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "/echo|body" + std::to_string(i));
    EXPECT_EQ(response->Header("x-method"), "POST");
    EXPECT_EQ(response->Header("Content-Type"), "text/plain");
    EXPECT_FALSE(response->Header("Date").empty());
  }
  EXPECT_EQ(server_->stats().accepted, 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  RawConnection connection(server_->port());
  ASSERT_TRUE(connection.connected());
  connection.Send(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "/1|");
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "/2|abc");
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "/3|");
}

TEST_F(HttpServerTest, ChunkedBodyIsDechunked) {
  StartServer();
  RawConnection connection(server_->port());
  connection.Send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  connection.Send("3\r\nabc\r\n");
  connection.Send("A;name=value\r\n0123456789\r\n0\r\nX-Trailer: ignored\r\n\r\n");
  const std::string response = connection.ReadResponse();
  EXPECT_EQ(response.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(BodyOf(response), "/c|abc0123456789");
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponseBeforeTheBody) {
  StartServer();
  RawConnection connection(server_->port());
  connection.Send(
      "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(connection.ReadResponse(), "HTTP/1.1 100 Continue\r\n\r\n");
  connection.Send("hello");
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "/e|hello");

  // The client waits for the interim response too.
  Client client("127.0.0.1", server_->port());
  auto response = client.Send("POST", "/e", "world", {{"Expect", "100-continue"}});
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "/e|world");
}

TEST_F(HttpServerTest, OversizedBodyIs413EvenBeforeItIsSent) {
  ServerOptions options;
  options.max_body_bytes = 100;
  StartServer(options);
  Client client("127.0.0.1", server_->port());
  auto response = client.Send("POST", "/big", std::string(101, 'x'));
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->Header("Content-Type"), "application/json");
  EXPECT_NE(response->body.find(R"("error":"payload_too_large")"), std::string::npos);

  // With 100-continue the verdict comes instead of "100 Continue".
  RawConnection connection(server_->port());
  connection.Send(
      "POST /big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 101\r\n\r\n");
  const std::string answer = connection.ReadUntilClosed();
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 413");
  EXPECT_EQ(handler_.protocol_errors(413), 2);
}

TEST_F(HttpServerTest, OversizedHeadIs431) {
  ServerOptions options;
  options.max_header_bytes = 1024;
  StartServer(options);
  Client client("127.0.0.1", server_->port());
  auto response = client.Send("GET", "/", {}, {{"X-Big", std::string(2000, 'a')}});
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 431);
  EXPECT_EQ(response->Header("Connection"), "close");
}

TEST_F(HttpServerTest, SlowClientsGet408AndOthersAreServedMeanwhile) {
  ServerOptions options;
  options.threads = 1;
  options.request_timeout_ms = 200;
  StartServer(options);
  RawConnection slowloris(server_->port());
  slowloris.Send("GET / HTTP/1.1\r\nHo");
  RawConnection missing_body(server_->port());
  missing_body.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");

  // The single worker still serves a well-behaved client.
  Client client("127.0.0.1", server_->port());
  auto response = client.Send("GET", "/fast");
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 200);

  for (RawConnection* connection : {&slowloris, &missing_body}) {
    const std::string answer = connection->ReadUntilClosed();
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 408");
    EXPECT_NE(answer.find(R"("error":"request_timeout")"), std::string::npos);
  }
  EXPECT_EQ(server_->stats().timeouts, 2u);
  EXPECT_EQ(handler_.protocol_errors(408), 2);
}

TEST_F(HttpServerTest, ProtocolErrorsAreAnsweredCountedAndClosed) {
  StartServer();
  struct Case {
    std::string wire;
    std::string status_line;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505"},
      {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400"},
      {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 501"},
      {"GARBAGE\x01\r\n\r\n", "HTTP/1.1 400"},
  };
  for (const Case& test : cases) {
    RawConnection connection(server_->port());
    connection.Send(test.wire);
    const std::string answer = connection.ReadUntilClosed();
    EXPECT_EQ(answer.substr(0, 12), test.status_line) << test.wire;
    EXPECT_NE(answer.find("Connection: close"), std::string::npos);
    EXPECT_NE(answer.find(R"({"error":")"), std::string::npos);
  }
  EXPECT_EQ(handler_.protocol_errors(505), 1);
  EXPECT_EQ(handler_.protocol_errors(400), 2);
  EXPECT_EQ(handler_.protocol_errors(501), 1);
  EXPECT_EQ(server_->stats().protocol_errors, 4u);
  EXPECT_TRUE(WaitFor([&] { return server_->stats().open == 0; }));
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveIsAsked) {
  StartServer();
  {
    RawConnection connection(server_->port());
    connection.Send("GET /old HTTP/1.0\r\n\r\n");
    const std::string answer = connection.ReadUntilClosed();
    EXPECT_EQ(BodyOf(answer), "/old|");
    EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  }
  RawConnection connection(server_->port());
  connection.Send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  const std::string first = connection.ReadResponse();
  EXPECT_NE(first.find("Connection: keep-alive"), std::string::npos);
  connection.Send("GET /b HTTP/1.0\r\n\r\n");
  EXPECT_EQ(BodyOf(connection.ReadUntilClosed()), "/b|");
}

TEST_F(HttpServerTest, HandlerRequestedCloseIsHonoured) {
  StartServer();
  RawConnection connection(server_->port());
  connection.Send("GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string answer = connection.ReadUntilClosed();
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  EXPECT_EQ(BodyOf(answer), "/close|");
}

TEST_F(HttpServerTest, ManyConcurrentConnections) {
  ServerOptions options;
  options.threads = 2;
  StartServer(options);
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>("127.0.0.1", server_->port()));
  }
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (int i = t; i < kClients; i += 4) {
          auto response = clients[i]->Send("POST", "/n", std::to_string(i));
          if (response.ok() && response->body == "/n|" + std::to_string(i)) {
            successes.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(successes.load(), kClients * 3);
  EXPECT_EQ(server_->stats().accepted, static_cast<uint64_t>(kClients));
  EXPECT_EQ(server_->stats().open, static_cast<uint64_t>(kClients));
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  ServerOptions options;
  options.threads = 1;
  options.max_connections = 2;
  StartServer(options);
  Client first("127.0.0.1", server_->port());
  Client second("127.0.0.1", server_->port());
  ASSERT_TRUE(first.Send("GET", "/1").ok());
  ASSERT_TRUE(second.Send("GET", "/2").ok());
  Client third("127.0.0.1", server_->port());
  auto response = third.Send("GET", "/3");
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(server_->stats().rejected_over_limit, 1u);
  EXPECT_EQ(handler_.protocol_errors(503), 1);
  // The admitted connections are unaffected.
  auto again = first.Send("GET", "/1");
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServerTest, ClientReconnectsAfterIdleClose) {
  ServerOptions options;
  options.idle_timeout_ms = 100;
  StartServer(options);
  Client client("127.0.0.1", server_->port());
  ASSERT_TRUE(client.Send("GET", "/a").ok());
  ASSERT_TRUE(WaitFor([&] { return server_->stats().open == 0; }));
  EXPECT_EQ(server_->stats().timeouts, 0u);  // an idle close is not a timeout error
  auto response = client.Send("GET", "/b");
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->body, "/b|");
  EXPECT_EQ(server_->stats().accepted, 2u);
}

TEST_F(HttpServerTest, ConnectionIdleLongEnoughToFreeItsBuffersStillWorks) {
  StartServer();
  Client client("127.0.0.1", server_->port());
  ASSERT_TRUE(client.Send("POST", "/a", std::string(50000, 'a')).ok());
  // Past the point where the server frees an idle connection's buffers (one second).
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  auto response = client.Send("POST", "/b", "again");
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->body, "/b|again");
  EXPECT_EQ(server_->stats().accepted, 1u);  // the same connection
}

TEST_F(HttpServerTest, BeforeSendRunsAfterHandlingAndBeforeTheResponseIsSent) {
  ServerOptions options;
  options.threads = 1;
  StartServer(options);
  handler_.slow_before_send.store(true);
  RawConnection connection(server_->port());
  connection.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "/x|");
  // The response is out, so the group commit for it must already have happened.
  const std::vector<std::string> at_first_response = handler_.events();
  ASSERT_GE(at_first_response.size(), 2u);
  EXPECT_EQ(at_first_response[0], "handle /x");
  EXPECT_EQ(at_first_response.back(), "before_send");
  EXPECT_EQ(BodyOf(connection.ReadResponse()), "/y|");
  const std::vector<std::string> events = handler_.events();
  // Both requests came in one read, so both were handled before the one BeforeSend.
  const std::vector<std::string> expected = {"handle /x", "handle /y", "before_send"};
  EXPECT_EQ(events, expected);
}

TEST_F(HttpServerTest, StopAnswersRequestsAlreadyReceived) {
  ServerOptions options;
  options.threads = 1;
  StartServer(options);
  Client blocked_client("127.0.0.1", server_->port());
  RawConnection waiting(server_->port());
  waiting.Send("GET /warmup HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(BodyOf(waiting.ReadResponse()), "/warmup|");
  Client idle_client("127.0.0.1", server_->port());
  ASSERT_TRUE(idle_client.Send("GET", "/idle").ok());

  Result<ClientResponse> blocked_response = Error{"not sent"};
  std::thread sender([&] { blocked_response = blocked_client.Send("GET", "/block"); });
  ASSERT_TRUE(WaitFor([&] { return handler_.entered_block.load(); }));
  // Received by the kernel while the worker is busy: must still be answered.
  waiting.Send("GET /queued HTTP/1.1\r\nHost: x\r\n\r\n");
  std::thread stopper([&] { server_->Stop(); });
  handler_.release_block.store(true);
  stopper.join();
  sender.join();
  ASSERT_TRUE(blocked_response.ok()) << blocked_response.error();
  EXPECT_EQ(blocked_response->body, "/block|");
  const std::string queued = waiting.ReadUntilClosed();
  EXPECT_EQ(BodyOf(queued), "/queued|");  // and then the connection was closed
  EXPECT_EQ(server_->stats().open, 0u);
  // The listener is gone.
  Client late("127.0.0.1", server_->port(), 1000);
  EXPECT_FALSE(late.Send("GET", "/late").ok());
}

TEST_F(HttpServerTest, StopAcceptingKeepsExistingConnections) {
  StartServer();
  Client client("127.0.0.1", server_->port());
  ASSERT_TRUE(client.Send("GET", "/a").ok());
  server_->StopAccepting();
  auto response = client.Send("GET", "/b");
  ASSERT_TRUE(response.ok()) << response.error();
  EXPECT_EQ(response->body, "/b|");
  Client late("127.0.0.1", server_->port(), 1000);
  EXPECT_FALSE(late.Send("GET", "/late").ok());
}

TEST_F(HttpServerTest, StartFailsOnBadAddress) {
  ServerOptions options;
  options.bind_address = "not-an-address";
  Server server(options, handler_);
  Status started = server.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_NE(started.error().find("not-an-address"), std::string::npos);
}

}  // namespace
}  // namespace fraudguard::http
