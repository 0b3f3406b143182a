#include "api/http_parser.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "api/http_client.h"

namespace fraudguard::http {
namespace {

using namespace std::string_literals;

// Feeds `wire` to a fresh parser all at once.
ParseStatus ParseAll(std::string_view wire, Request& request, RequestParser& parser) {
  return parser.Parse(wire, request);
}

TEST(HttpParser, ParsesSimpleGet) {
  RequestParser parser;
  Request request;
  const std::string wire = "GET /v1/health?verbose=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
  ASSERT_EQ(ParseAll(wire, request, parser), ParseStatus::kComplete);
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target, "/v1/health?verbose=1");
  EXPECT_EQ(request.path, "/v1/health");
  EXPECT_EQ(request.query, "verbose=1");
  EXPECT_EQ(request.GetHeader("accept"), "*/*");
  EXPECT_EQ(request.GetHeader("HOST"), "x");
  EXPECT_EQ(request.GetHeader("missing"), "");
  EXPECT_TRUE(request.keep_alive);
  EXPECT_TRUE(request.body.empty());
  EXPECT_EQ(parser.consumed(), wire.size());
}

TEST(HttpParser, ParsesPostBodyAndTrimsHeaderValues) {
  RequestParser parser;
  Request request;
  const std::string wire =
      "POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type:  application/json \t\r\n"
      "Content-Length: 7\r\n\r\n{\"a\":1}GET";
  ASSERT_EQ(ParseAll(wire, request, parser), ParseStatus::kComplete);
  EXPECT_EQ(request.body, "{\"a\":1}");
  EXPECT_EQ(request.GetHeader("content-type"), "application/json");
  EXPECT_EQ(parser.consumed(), wire.size() - 3);  // the next request's bytes stay
}

TEST(HttpParser, SameResultWhenBytesArriveOneAtATime) {
  const std::string wire =
      "\r\nPOST /a?b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4;ext=1\r\nabcd\r\n3\r\nefg\r\n0\r\nTrailer: t\r\n\r\n";
  RequestParser parser;
  Request request;
  std::string received;
  ParseStatus status = ParseStatus::kNeedMore;
  for (char c : wire) {
    ASSERT_EQ(status, ParseStatus::kNeedMore);
    received.push_back(c);
    status = parser.Parse(received, request);
  }
  ASSERT_EQ(status, ParseStatus::kComplete);
  EXPECT_EQ(request.body, "abcdefg");
  EXPECT_EQ(request.path, "/a");
  EXPECT_EQ(parser.consumed(), wire.size());
}

TEST(HttpParser, ResetParsesPipelinedRequestsInOrder) {
  const std::string wire =
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  RequestParser parser;
  Request request;
  std::string_view rest = wire;
  ASSERT_EQ(parser.Parse(rest, request), ParseStatus::kComplete);
  EXPECT_EQ(request.path, "/1");
  rest.remove_prefix(parser.consumed());
  parser.Reset();
  ASSERT_EQ(parser.Parse(rest, request), ParseStatus::kComplete);
  EXPECT_EQ(request.path, "/2");
  EXPECT_FALSE(request.keep_alive);
}

TEST(HttpParser, KeepAliveRules) {
  struct Case {
    std::string wire;
    bool keep_alive;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n", true},
  };
  for (const Case& test : cases) {
    RequestParser parser;
    Request request;
    ASSERT_EQ(parser.Parse(test.wire, request), ParseStatus::kComplete) << test.wire;
    EXPECT_EQ(request.keep_alive, test.keep_alive) << test.wire;
  }
}

TEST(HttpParser, AbsoluteFormTargetHasAPath) {
  RequestParser parser;
  Request request;
  ASSERT_EQ(parser.Parse("GET http://h:1/p/q?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", request),
            ParseStatus::kComplete);
  EXPECT_EQ(request.path, "/p/q");
  EXPECT_EQ(request.query, "x=1");
}

TEST(HttpParser, DuplicateIdenticalContentLengthIsAccepted) {
  RequestParser parser;
  Request request;
  ASSERT_EQ(parser.Parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                         "Content-Length: 2, 2\r\n\r\nok",
                         request),
            ParseStatus::kComplete);
  EXPECT_EQ(request.body, "ok");
}

TEST(HttpParser, ExpectContinueIsReportedBeforeTheBody) {
  RequestParser parser;
  Request request;
  const std::string head =
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  ASSERT_EQ(parser.Parse(head, request), ParseStatus::kNeedMore);
  EXPECT_TRUE(parser.awaiting_body());
  EXPECT_TRUE(parser.expects_continue());
  const std::string whole = head + "abc";  // the request's views point into these bytes
  ASSERT_EQ(parser.Parse(whole, request), ParseStatus::kComplete);
  EXPECT_EQ(request.body, "abc");
}

struct MalformedCase {
  const char* name;
  std::string wire;
  int status;
};

// Every class of malformed input, each with the status the server must answer.
std::vector<MalformedCase> MalformedCases() {
  const std::string host = "Host: x\r\n";
  return {
      {"no_spaces", "GET\r\n\r\n", 400},
      {"empty_method", " / HTTP/1.1\r\n\r\n", 400},
      {"bad_method_char", "G(T / HTTP/1.1\r\n\r\n", 400},
      {"double_space", "GET  / HTTP/1.1\r\n\r\n", 400},
      {"relative_target", "GET foo HTTP/1.1\r\n" + host + "\r\n", 400},
      {"control_char_in_target", "GET /a\x01 HTTP/1.1\r\n\r\n", 400},
      {"fragment_in_target", "GET /a#b HTTP/1.1\r\n" + host + "\r\n", 400},
      {"missing_version", "GET /\r\n\r\n", 400},
      {"bad_version_text", "GET / HTTX/1.1\r\n\r\n", 400},
      {"lowercase_version", "GET / http/1.1\r\n\r\n", 400},
      {"http2", "GET / HTTP/2.0\r\n" + host + "\r\n", 505},
      {"http09_style", "GET / HTTP/0.9\r\n\r\n", 505},
      {"http12", "GET / HTTP/1.2\r\n" + host + "\r\n", 505},
      {"binary_garbage", std::string("\x16\x03\x01\x02\x00", 5), 400},
      {"bare_lf_request_line", "GET / HTTP/1.1\n" + host + "\r\n\r\n", 400},
      {"bare_lf_header", "GET / HTTP/1.1\r\nA: b\nHost: x\r\n\r\n", 400},
      {"bare_cr_in_value", "GET / HTTP/1.1\r\nA: b\rc\r\n" + host + "\r\n", 400},
      {"obs_fold", "GET / HTTP/1.1\r\n" + host + "A: b\r\n  c\r\n\r\n", 400},
      {"space_before_colon", "GET / HTTP/1.1\r\n" + host + "A : b\r\n\r\n", 400},
      {"no_colon", "GET / HTTP/1.1\r\n" + host + "Abc\r\n\r\n", 400},
      {"empty_header_name", "GET / HTTP/1.1\r\n" + host + ": b\r\n\r\n", 400},
      {"nul_in_value", "GET / HTTP/1.1\r\nHost: x\r\nA: \0\r\n\r\n"s, 400},
      {"missing_host", "GET / HTTP/1.1\r\nA: b\r\n\r\n", 400},
      {"no_headers_http11", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two_hosts", "GET / HTTP/1.1\r\n" + host + host + "\r\n", 400},
      {"content_length_letters", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1a\r\n\r\n", 400},
      {"content_length_negative", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", 400},
      {"content_length_plus", "POST / HTTP/1.1\r\n" + host + "Content-Length: +1\r\n\r\n", 400},
      {"content_length_empty", "POST / HTTP/1.1\r\n" + host + "Content-Length: \r\n\r\n", 400},
      {"content_length_conflict",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"content_length_list_conflict",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 1, 2\r\n\r\n", 400},
      {"content_length_too_large", "POST / HTTP/1.1\r\n" + host + "Content-Length: 2000000\r\n\r\n",
       413},
      {"content_length_overflow",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", 413},
      {"te_and_content_length",
       "POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"te_gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", 501},
      {"te_gzip_chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n",
       501},
      {"te_chunked_twice",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
      {"te_empty", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: \r\n\r\n", 400},
      {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"chunk_size_not_hex",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nxyz\r\n", 400},
      {"chunk_size_empty", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n\r\n",
       400},
      {"chunk_without_crlf",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n2\r\nabXY", 400},
      {"chunk_junk_after_size",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n2 x\r\nab\r\n", 400},
      {"chunk_too_large",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n200000\r\n", 413},
      {"chunk_size_overflow",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
       413},
      {"chunk_line_too_long",
       "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n1;" +
           std::string(2000, 'a'),
       400},
      {"expect_unknown", "POST / HTTP/1.1\r\n" + host + "Expect: magic\r\n\r\n", 417},
      {"head_too_large", "GET / HTTP/1.1\r\n" + host + "A: " + std::string(20000, 'a'), 431},
      {"request_line_too_long", "GET /" + std::string(20000, 'a'), 431},
      {"too_many_headers",
       [] {
         std::string wire = "GET / HTTP/1.1\r\nHost: x\r\n";
         for (int i = 0; i < 150; ++i) {
           wire += "X-" + std::to_string(i) + ": v\r\n";
         }
         return wire + "\r\n";
       }(),
       431},
  };
}

TEST(HttpParser, RejectsMalformedInputWithTheRightStatus) {
  ParserLimits limits;
  limits.max_body_bytes = 1 << 20;
  for (const MalformedCase& test : MalformedCases()) {
    // All at once.
    {
      RequestParser parser(limits);
      Request request;
      EXPECT_EQ(parser.Parse(test.wire, request), ParseStatus::kError) << test.name;
      EXPECT_EQ(parser.error_status(), test.status) << test.name;
      EXPECT_FALSE(parser.error_message().empty()) << test.name;
    }
    // One byte at a time: the same verdict, never a crash or a completed request.
    {
      RequestParser parser(limits);
      Request request;
      std::string received;
      ParseStatus status = ParseStatus::kNeedMore;
      for (size_t i = 0; i < test.wire.size() && status == ParseStatus::kNeedMore; ++i) {
        received.push_back(test.wire[i]);
        status = parser.Parse(received, request);
      }
      EXPECT_EQ(status, ParseStatus::kError) << test.name << " (byte by byte)";
      EXPECT_EQ(parser.error_status(), test.status) << test.name << " (byte by byte)";
    }
  }
}

TEST(HttpParser, ErrorMessagesNameTheLineAndColumn) {
  RequestParser parser;
  Request request;
  ASSERT_EQ(parser.Parse("GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", request),
            ParseStatus::kError);
  EXPECT_EQ(parser.error_message(),
            "header line 3, column 4: expected ':' right after the header name");
}

TEST(HttpParser, ChunkedBodyBeyondLimitIs413) {
  ParserLimits limits;
  limits.max_body_bytes = 10;
  RequestParser parser(limits);
  Request request;
  ASSERT_EQ(parser.Parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
                         request),
            ParseStatus::kError);
  EXPECT_EQ(parser.error_status(), 413);
}

TEST(HttpParser, SurvivesEveryTruncationAndByteFlipOfAValidRequest) {
  const std::string wire =
      "POST /v1/score?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Expect: 100-continue\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
  // Mutations must yield kNeedMore, kError or a complete request whose views stay in bounds;
  // ASan checks the latter.
  for (size_t position = 0; position < wire.size(); ++position) {
    for (int flip : {0x00, 0x0a, 0x0d, 0x20, 0x3a, 0x7f, 0xff}) {
      std::string mutated = wire;
      mutated[position] = static_cast<char>(flip);
      RequestParser parser;
      Request request;
      const ParseStatus status = parser.Parse(mutated, request);
      if (status == ParseStatus::kComplete) {
        EXPECT_LE(parser.consumed(), mutated.size());
        for (const Header& header : request.headers) {
          EXPECT_FALSE(header.name.empty());
        }
      } else if (status == ParseStatus::kError) {
        EXPECT_GE(parser.error_status(), 400);
      }
    }
    RequestParser parser;
    Request request;
    EXPECT_NE(parser.Parse(std::string_view(wire).substr(0, position), request),
              ParseStatus::kComplete);
  }
}

TEST(HttpResponse, JsonErrorBody) {
  Response response;
  SetJsonError(response, 422, "invalid_field", "amount must be positive", "amount");
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(response.body,
            R"({"error":"invalid_field","message":"amount must be positive","field":"amount"})");
  SetJsonError(response, 404, "not_found", "no \"route\"");
  EXPECT_EQ(response.body, R"({"error":"not_found","message":"no \"route\""})");
  EXPECT_STREQ(StatusReason(413), "Content Too Large");
  EXPECT_STREQ(StatusReason(799), "Unknown");
}

TEST(HttpUrl, ParsesHostAndPort) {
  auto parsed = ParseHttpUrl("http://127.0.0.1:8080/v1/score");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  EXPECT_EQ(parsed->first, "127.0.0.1");
  EXPECT_EQ(parsed->second, 8080);
  parsed = ParseHttpUrl("http://localhost");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->second, 80);
  for (const char* bad : {"https://x:1", "http://:80", "http://x:0", "http://x:65536",
                          "http://x:12a", "ftp://x", "http://[::1]:80", ""}) {
    EXPECT_FALSE(ParseHttpUrl(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace fraudguard::http
