// HTTP/1.1 request and response types and an incremental request parser.
//
// The parser never copies the request head: the Request it fills holds views into the bytes the
// caller passed in, so those bytes must stay put until the request has been handled. Only a
// chunked body is copied, into storage the parser owns, to make it contiguous.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fraudguard::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

struct Request {
  std::string_view method, target, path, query;  // path = target without "?query"
  std::vector<Header> headers;                   // views into the connection buffer
  std::string_view body;                         // de-chunked if it came chunked
  bool keep_alive = true;
  // HTTP/1.minor_version; only 0 and 1 are accepted.
  int minor_version = 1;

  // Case-insensitive; "" if absent. With repeated headers, the first one.
  std::string_view GetHeader(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close_connection = false;

  // Back to the defaults, keeping the allocated capacity so a connection can reuse it.
  void Reset();
};

// JSON error body used for every error FraudGuard returns:
// {"error":"<code>","message":"<sentence>"} plus "field":"<name>" when given.
void SetJsonError(Response& response,
                  int status,
                  std::string_view code,
                  std::string_view message,
                  std::string_view field = {});
// "OK", "Not Found", ...; "Unknown" for codes this server never sends.
const char* StatusReason(int status);
// The machine-readable error code the server uses in the JSON body for `status`
// ("bad_request", "payload_too_large", ...).
const char* ErrorCodeForStatus(int status);

// Case-insensitive ASCII comparison, as header names need.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct ParserLimits {
  size_t max_header_bytes = 16384;  // request line + headers (and, separately, trailers)
  size_t max_body_bytes = 1 << 20;  // Content-Length or de-chunked total
  size_t max_headers = 100;         // header lines
};

enum class ParseStatus { kNeedMore, kComplete, kError };

// Parses one request at a time from a growing byte buffer. Usage:
//   status = parser.Parse(bytes_so_far, request);  // repeat as bytes arrive
//   kComplete: handle `request`, drop parser.consumed() bytes, call Reset() for the next one.
//   kError: answer error_status() with error_message() and close the connection.
// Between calls the bytes already passed must be passed again unchanged (they may have moved).
class RequestParser {
public:
  explicit RequestParser(ParserLimits limits = {});

  ParseStatus Parse(std::string_view data, Request& request);
  void Reset();

  // Bytes of `data` the completed request occupied (valid after kComplete).
  size_t consumed() const { return consumed_; }
  // True once a byte of the current request (other than leading empty lines) was seen.
  bool in_progress() const { return in_progress_; }
  // True when the head is complete and the body is still expected: the moment to send
  // "100 Continue" if expects_continue().
  bool awaiting_body() const;
  bool expects_continue() const { return expect_continue_; }
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

private:
  enum class Phase { kHead, kFixedBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kDone };
  struct Span {
    uint32_t offset = 0;
    uint32_t length = 0;
  };
  struct HeaderSpan {
    Span name;
    Span value;
  };

  ParseStatus ParseHead(std::string_view data);
  ParseStatus ParseRequestLine(std::string_view data, size_t line_end);
  ParseStatus ParseHeaderLines(std::string_view data, size_t begin, size_t end);
  ParseStatus ParseChunked(std::string_view data);
  ParseStatus Complete(std::string_view data, Request& request);
  ParseStatus Fail(int status, std::string message);

  ParserLimits limits_;
  Phase phase_ = Phase::kHead;
  bool in_progress_ = false;
  size_t start_ = 0;      // first byte of the request line (after leading empty lines)
  size_t line_scan_ = 0;  // where the search for the end of the request line resumes
  bool request_line_done_ = false;
  size_t request_line_end_ = 0;  // offset of the request line's CRLF
  size_t head_scan_ = 0;         // where the search for the end of the head resumes
  size_t body_start_ = 0;        // first byte after the head
  size_t pos_ = 0;               // chunked: next unparsed byte
  size_t consumed_ = 0;
  uint64_t content_length_ = 0;
  bool chunked_ = false;
  bool keep_alive_ = true;
  bool expect_continue_ = false;
  int minor_version_ = 1;
  Span method_, target_;
  std::vector<HeaderSpan> header_spans_;
  uint64_t chunk_remaining_ = 0;
  size_t framing_bytes_ = 0;  // chunk-size lines and trailers, bounded separately from data
  std::string chunked_body_;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace fraudguard::http
