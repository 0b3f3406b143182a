#include "api/http_parser.h"

#include <array>
#include <cstring>

#include "core/json_writer.h"

namespace fraudguard::http {
namespace {

// Longest method we accept; the ones we serve are at most 7 characters.
constexpr size_t kMaxMethodLength = 32;
// A chunk-size line (size plus extensions) longer than this is rejected rather than buffered.
constexpr size_t kMaxChunkLineLength = 1024;
// Chunk-size lines, chunk CRLFs and trailers together may not exceed this many bytes (plus
// max_header_bytes for the trailers), so many tiny chunks cannot inflate the wire size.
constexpr size_t kMaxChunkFramingBytes = 64 * 1024;

constexpr std::array<bool, 256> MakeTokenTable() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) {
    table[c] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    table[c] = true;
    table[c - 'a' + 'A'] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}

// Field values: visible ASCII, space, tab and obs-text (bytes >= 0x80). CR and LF are not.
constexpr std::array<bool, 256> MakeFieldValueTable() {
  std::array<bool, 256> table{};
  table['\t'] = true;
  for (int c = 0x20; c < 0x7f; ++c) {
    table[c] = true;
  }
  for (int c = 0x80; c < 0x100; ++c) {
    table[c] = true;
  }
  return table;
}

constexpr std::array<bool, 256> kTokenChar = MakeTokenTable();
constexpr std::array<bool, 256> kFieldValueChar = MakeFieldValueTable();

bool IsTokenChar(char c) {
  return kTokenChar[static_cast<unsigned char>(c)];
}
bool IsFieldValueChar(char c) {
  return kFieldValueChar[static_cast<unsigned char>(c)];
}
// Request targets: visible ASCII except '#', which never goes on the wire.
bool IsTargetChar(char c) {
  return c > 0x20 && c < 0x7f && c != '#';
}

char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string_view TrimWhitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Calls `visit` with every trimmed, non-empty element of a comma-separated header value.
template <typename Visit>
void ForEachListElement(std::string_view value, Visit&& visit) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view element = TrimWhitespace(value.substr(0, comma));
    if (!element.empty()) {
      visit(element);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = ToLower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

std::string Column(size_t column) {
  return std::to_string(column + 1);
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) {
      return false;
    }
  }
  return true;
}

std::string_view Request::GetHeader(std::string_view name) const {
  for (const Header& header : headers) {
    if (EqualsIgnoreCase(header.name, name)) {
      return header.value;
    }
  }
  return {};
}

void Response::Reset() {
  status = 200;
  content_type = "application/json";
  body.clear();
  headers.clear();
  close_connection = false;
}

void SetJsonError(Response& response,
                  int status,
                  std::string_view code,
                  std::string_view message,
                  std::string_view field) {
  response.status = status;
  response.content_type = "application/json";
  response.body.clear();
  JsonWriter writer(response.body);
  writer.BeginObject().Field("error", code).Field("message", message);
  if (!field.empty()) {
    writer.Field("field", field);
  }
  writer.EndObject();
}

const char* StatusReason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

const char* ErrorCodeForStatus(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 408:
      return "request_timeout";
    case 413:
      return "payload_too_large";
    case 417:
      return "expectation_failed";
    case 431:
      return "headers_too_large";
    case 500:
      return "internal_error";
    case 501:
      return "not_implemented";
    case 503:
      return "unavailable";
    case 505:
      return "http_version_not_supported";
    default:
      return "error";
  }
}

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {}

void RequestParser::Reset() {
  phase_ = Phase::kHead;
  in_progress_ = false;
  start_ = line_scan_ = head_scan_ = body_start_ = pos_ = consumed_ = 0;
  request_line_done_ = false;
  request_line_end_ = 0;
  content_length_ = 0;
  chunked_ = false;
  keep_alive_ = true;
  expect_continue_ = false;
  minor_version_ = 1;
  method_ = target_ = {};
  header_spans_.clear();
  chunk_remaining_ = 0;
  framing_bytes_ = 0;
  chunked_body_.clear();
  error_status_ = 0;
  error_message_.clear();
}

bool RequestParser::awaiting_body() const {
  return phase_ == Phase::kFixedBody || phase_ == Phase::kChunkSize ||
         phase_ == Phase::kChunkData || phase_ == Phase::kChunkDataEnd;
}

ParseStatus RequestParser::Fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  return ParseStatus::kError;
}

ParseStatus RequestParser::Parse(std::string_view data, Request& request) {
  if (error_status_ != 0) {
    return ParseStatus::kError;
  }
  if (phase_ == Phase::kHead) {
    const ParseStatus status = ParseHead(data);
    if (status != ParseStatus::kComplete) {
      return status;
    }
  }
  if (phase_ == Phase::kFixedBody) {
    if (data.size() - body_start_ < content_length_) {
      return ParseStatus::kNeedMore;
    }
    phase_ = Phase::kDone;
  } else if (phase_ != Phase::kDone) {
    const ParseStatus status = ParseChunked(data);
    if (status != ParseStatus::kComplete) {
      return status;
    }
  }
  return Complete(data, request);
}

ParseStatus RequestParser::ParseHead(std::string_view data) {
  // Empty lines before a request line are ignored (a client may send CRLF after a body).
  while (!in_progress_ && start_ < data.size()) {
    if (data[start_] == '\r') {
      if (start_ + 1 >= data.size()) {
        return ParseStatus::kNeedMore;
      }
      if (data[start_ + 1] != '\n') {
        return Fail(400, "request line: bare CR before the request line");
      }
      start_ += 2;
      if (start_ > limits_.max_header_bytes) {
        return Fail(431,
                    "request head exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
      }
    } else {
      in_progress_ = true;
    }
  }
  if (!in_progress_) {
    return ParseStatus::kNeedMore;
  }

  if (!request_line_done_) {
    const size_t scan_from = std::max(line_scan_, start_);
    const size_t line_end = data.find("\r\n", scan_from);
    if (line_end == std::string_view::npos) {
      if (data.size() > limits_.max_header_bytes) {
        return Fail(431,
                    "request head exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
      }
      // Reject garbage (a TLS handshake, a binary protocol) as soon as it shows, instead of
      // waiting for the request timeout. Only new bytes are checked, so a client sending one
      // byte at a time costs linear work.
      for (size_t i = scan_from; i < data.size(); ++i) {
        const char c = data[i];
        if (c != ' ' && c != '\r' && !IsTargetChar(c) && c != '#') {
          return Fail(400, "request line, column " + Column(i - start_) + ": invalid character");
        }
      }
      line_scan_ = data.size() > start_ ? data.size() - 1 : start_;
      return ParseStatus::kNeedMore;
    }
    if (ParseRequestLine(data, line_end) == ParseStatus::kError) {
      return ParseStatus::kError;
    }
    request_line_done_ = true;
    request_line_end_ = line_end;
  }

  // The request line's CRLF may be the first half of the blank line that ends the head.
  const size_t scan_from = std::max(head_scan_, request_line_end_);
  const void* found = memmem(data.data() + scan_from, data.size() - scan_from, "\r\n\r\n", 4);
  if (found == nullptr) {
    if (data.size() > limits_.max_header_bytes) {
      return Fail(431,
                  "request head exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
    }
    head_scan_ = std::max(request_line_end_, data.size() >= 3 ? data.size() - 3 : 0);
    return ParseStatus::kNeedMore;
  }
  const size_t head_end = static_cast<size_t>(static_cast<const char*>(found) - data.data());
  body_start_ = head_end + 4;
  if (body_start_ > limits_.max_header_bytes) {
    return Fail(431, "request head exceeds " + std::to_string(limits_.max_header_bytes) + " bytes");
  }
  if (ParseHeaderLines(data, request_line_end_ + 2, head_end + 2) == ParseStatus::kError) {
    return ParseStatus::kError;
  }
  if (chunked_) {
    phase_ = Phase::kChunkSize;
    pos_ = body_start_;
  } else if (content_length_ > 0) {
    phase_ = Phase::kFixedBody;
  } else {
    phase_ = Phase::kDone;
  }
  return ParseStatus::kComplete;
}

ParseStatus RequestParser::ParseRequestLine(std::string_view data, size_t line_end) {
  const std::string_view line = data.substr(start_, line_end - start_);
  const auto fail_at = [&](size_t column, std::string_view problem) {
    return Fail(400, "request line, column " + Column(column) + ": " + std::string(problem));
  };
  size_t i = 0;
  while (i < line.size() && IsTokenChar(line[i])) {
    ++i;
  }
  if (i == 0) {
    return fail_at(0, "expected a method");
  }
  if (i > kMaxMethodLength) {
    return fail_at(kMaxMethodLength, "method is too long");
  }
  if (i == line.size() || line[i] != ' ') {
    return fail_at(i, "expected a single space after the method");
  }
  method_ = {static_cast<uint32_t>(start_), static_cast<uint32_t>(i)};
  const size_t target_begin = ++i;
  while (i < line.size() && IsTargetChar(line[i])) {
    ++i;
  }
  if (i == target_begin) {
    return fail_at(i, "expected a request target");
  }
  if (i == line.size()) {
    return fail_at(i, "expected a space and the HTTP version after the target");
  }
  if (line[i] != ' ') {
    return fail_at(i, "invalid character in the request target");
  }
  target_ = {static_cast<uint32_t>(start_ + target_begin), static_cast<uint32_t>(i - target_begin)};
  const std::string_view target = line.substr(target_begin, i - target_begin);
  const std::string_view method = line.substr(0, method_.length);
  const bool origin_form = target.front() == '/';
  const bool asterisk_form = target == "*" && method == "OPTIONS";
  const bool absolute_form = target.size() > 7 && EqualsIgnoreCase(target.substr(0, 7), "http://");
  if (!origin_form && !asterisk_form && !absolute_form) {
    return fail_at(target_begin, "request target must start with '/' or 'http://'");
  }
  const std::string_view version = line.substr(i + 1);
  const bool version_shape = version.size() == 8 && version.substr(0, 5) == "HTTP/" &&
                             version[5] >= '0' && version[5] <= '9' && version[6] == '.' &&
                             version[7] >= '0' && version[7] <= '9';
  if (!version_shape) {
    return fail_at(i + 1, "expected HTTP/1.1 or HTTP/1.0");
  }
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) {
    return Fail(505, "HTTP version " + std::string(version.substr(5)) + " is not supported");
  }
  minor_version_ = version[7] - '0';
  return ParseStatus::kComplete;
}

ParseStatus RequestParser::ParseHeaderLines(std::string_view data, size_t begin, size_t end) {
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool content_length_seen = false;
  bool transfer_encoding_seen = false;
  bool chunked_last = false;
  int chunked_count = 0;
  bool unknown_coding = false;
  std::string_view unknown_coding_name;
  int host_count = 0;
  std::string_view expect;
  size_t line_number = 1;  // the request line is line 1

  for (size_t line_begin = begin; line_begin < end;) {
    ++line_number;
    const auto fail_line = [&](int status, size_t column, std::string_view problem) {
      return Fail(status, "header line " + std::to_string(line_number) + ", column " +
                              Column(column) + ": " + std::string(problem));
    };
    const char* newline =
        static_cast<const char*>(memchr(data.data() + line_begin, '\n', end - line_begin));
    // `end` is just past a CRLF, so a newline is always found; a LF without CR is an error.
    const size_t line_end = static_cast<size_t>(newline - data.data());
    if (line_end == line_begin || data[line_end - 1] != '\r') {
      return fail_line(400, line_end - line_begin, "line ends in LF without CR");
    }
    const std::string_view line = data.substr(line_begin, line_end - 1 - line_begin);
    if (line.front() == ' ' || line.front() == '\t') {
      return fail_line(400, 0, "folded header lines (obs-fold) are not accepted");
    }
    if (header_spans_.size() >= limits_.max_headers) {
      return fail_line(431, 0, "more than " + std::to_string(limits_.max_headers) + " headers");
    }
    size_t i = 0;
    while (i < line.size() && IsTokenChar(line[i])) {
      ++i;
    }
    if (i == 0) {
      return fail_line(400, 0, "expected a header name");
    }
    if (i == line.size() || line[i] != ':') {
      return fail_line(400, i, "expected ':' right after the header name");
    }
    const std::string_view name = line.substr(0, i);
    for (size_t j = i + 1; j < line.size(); ++j) {
      if (!IsFieldValueChar(line[j])) {
        return fail_line(400, j, "invalid character in the header value");
      }
    }
    const std::string_view value = TrimWhitespace(line.substr(i + 1));
    const size_t value_offset =
        value.empty() ? line_begin + i + 1 : static_cast<size_t>(value.data() - data.data());
    header_spans_.push_back(
        {{static_cast<uint32_t>(line_begin), static_cast<uint32_t>(name.size())},
         {static_cast<uint32_t>(value_offset), static_cast<uint32_t>(value.size())}});
    line_begin = line_end + 1;

    if (EqualsIgnoreCase(name, "content-length")) {
      // A list of identical values ("5, 5") is what a proxy may produce; anything else is a
      // framing conflict a request smuggler could exploit.
      bool any = false;
      bool bad = false;
      bool too_large = false;
      uint64_t parsed_value = 0;
      ForEachListElement(value, [&](std::string_view element) {
        uint64_t number = 0;
        for (char c : element) {
          if (c < '0' || c > '9') {
            bad = true;
            return;
          }
          if (number > (UINT64_MAX - 9) / 10) {
            too_large = true;
            return;
          }
          number = number * 10 + static_cast<uint64_t>(c - '0');
        }
        if ((any || content_length_seen) && number != content_length_) {
          bad = true;
        }
        any = true;
        parsed_value = number;
        content_length_ = number;
      });
      if (too_large) {
        return Fail(413, "body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
      }
      if (bad || !any) {
        return fail_line(400, i + 1, "invalid or conflicting Content-Length");
      }
      if (parsed_value > limits_.max_body_bytes) {
        return Fail(413, "body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
      }
      content_length_seen = true;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      transfer_encoding_seen = true;
      ForEachListElement(value, [&](std::string_view coding) {
        if (EqualsIgnoreCase(coding, "chunked")) {
          ++chunked_count;
          chunked_last = true;
        } else {
          if (!unknown_coding) {
            unknown_coding_name = coding;
          }
          unknown_coding = true;
          chunked_last = false;
        }
      });
    } else if (EqualsIgnoreCase(name, "connection")) {
      ForEachListElement(value, [&](std::string_view option) {
        connection_close |= EqualsIgnoreCase(option, "close");
        connection_keep_alive |= EqualsIgnoreCase(option, "keep-alive");
      });
    } else if (EqualsIgnoreCase(name, "host")) {
      ++host_count;
    } else if (EqualsIgnoreCase(name, "expect")) {
      expect = value;
    }
  }

  if (minor_version_ == 1 && host_count == 0) {
    return Fail(400, "missing Host header");
  }
  if (host_count > 1) {
    return Fail(400, "more than one Host header");
  }
  if (transfer_encoding_seen) {
    if (content_length_seen) {
      return Fail(400, "both Transfer-Encoding and Content-Length");
    }
    if (minor_version_ == 0) {
      return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (unknown_coding) {
      return Fail(501, "transfer coding '" + std::string(unknown_coding_name) +
                           "' is not supported; only chunked");
    }
    if (chunked_count != 1 || !chunked_last) {
      return Fail(400, "Transfer-Encoding must end with a single 'chunked'");
    }
    chunked_ = true;
  }
  if (!expect.empty()) {
    if (!EqualsIgnoreCase(expect, "100-continue")) {
      return Fail(417, "only 'Expect: 100-continue' is supported");
    }
    expect_continue_ = minor_version_ == 1;
  }
  keep_alive_ =
      minor_version_ == 1 ? !connection_close : connection_keep_alive && !connection_close;
  return ParseStatus::kComplete;
}

ParseStatus RequestParser::ParseChunked(std::string_view data) {
  const auto framing_limit = kMaxChunkFramingBytes + limits_.max_header_bytes;
  while (true) {
    switch (phase_) {
      case Phase::kChunkSize: {
        const size_t line_end = data.find("\r\n", pos_);
        if (line_end == std::string_view::npos) {
          if (data.size() - pos_ > kMaxChunkLineLength) {
            return Fail(400, "chunk size line is too long");
          }
          return ParseStatus::kNeedMore;
        }
        const std::string_view line = data.substr(pos_, line_end - pos_);
        if (line.size() > kMaxChunkLineLength) {
          return Fail(400, "chunk size line is too long");
        }
        uint64_t size = 0;
        size_t i = 0;
        for (; i < line.size(); ++i) {
          const int digit = HexDigitValue(line[i]);
          if (digit < 0) {
            break;
          }
          if (size > (limits_.max_body_bytes >> 4) + 1) {
            return Fail(413, "body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
          }
          size = size * 16 + static_cast<uint64_t>(digit);
        }
        if (i == 0) {
          return Fail(400, "chunk size is not a hexadecimal number");
        }
        // Chunk extensions (";name=value") carry nothing we use; check they are text.
        const std::string_view rest = TrimWhitespace(line.substr(i));
        if (!rest.empty() && rest.front() != ';') {
          return Fail(400, "invalid character after the chunk size");
        }
        for (char c : rest) {
          if (!IsFieldValueChar(c)) {
            return Fail(400, "invalid character in a chunk extension");
          }
        }
        framing_bytes_ += line.size() + 2;
        if (framing_bytes_ > framing_limit) {
          return Fail(413, "chunked framing exceeds " + std::to_string(framing_limit) + " bytes");
        }
        pos_ = line_end + 2;
        if (size == 0) {
          phase_ = Phase::kTrailers;
          break;
        }
        if (chunked_body_.size() + size > limits_.max_body_bytes) {
          return Fail(413, "body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
        }
        chunk_remaining_ = size;
        phase_ = Phase::kChunkData;
        break;
      }
      case Phase::kChunkData: {
        const size_t take = std::min<uint64_t>(data.size() - pos_, chunk_remaining_);
        chunked_body_.append(data.data() + pos_, take);
        pos_ += take;
        chunk_remaining_ -= take;
        if (chunk_remaining_ > 0) {
          return ParseStatus::kNeedMore;
        }
        phase_ = Phase::kChunkDataEnd;
        break;
      }
      case Phase::kChunkDataEnd: {
        if (data.size() - pos_ < 2) {
          return ParseStatus::kNeedMore;
        }
        if (data[pos_] != '\r' || data[pos_ + 1] != '\n') {
          return Fail(400, "chunk data is not followed by CRLF");
        }
        pos_ += 2;
        framing_bytes_ += 2;
        phase_ = Phase::kChunkSize;
        break;
      }
      case Phase::kTrailers: {
        // Trailer fields are read and dropped: nothing here needs them.
        const size_t line_end = data.find("\r\n", pos_);
        if (line_end == std::string_view::npos) {
          if (framing_bytes_ + (data.size() - pos_) > framing_limit) {
            return Fail(431, "trailers exceed " + std::to_string(framing_limit) + " bytes");
          }
          return ParseStatus::kNeedMore;
        }
        const std::string_view line = data.substr(pos_, line_end - pos_);
        pos_ = line_end + 2;
        framing_bytes_ += line.size() + 2;
        if (line.empty()) {
          phase_ = Phase::kDone;
          return ParseStatus::kComplete;
        }
        if (framing_bytes_ > framing_limit) {
          return Fail(431, "trailers exceed " + std::to_string(framing_limit) + " bytes");
        }
        for (char c : line) {
          if (!IsFieldValueChar(c)) {
            return Fail(400, "invalid character in a trailer line");
          }
        }
        break;
      }
      case Phase::kHead:
      case Phase::kFixedBody:
      case Phase::kDone:
        return ParseStatus::kComplete;
    }
  }
}

ParseStatus RequestParser::Complete(std::string_view data, Request& request) {
  const auto view = [&](Span span) { return data.substr(span.offset, span.length); };
  request.method = view(method_);
  request.target = view(target_);
  std::string_view path = request.target;
  if (path.front() != '/' && path != "*") {
    // Absolute form "http://host/path": the path starts at the first '/' after the authority.
    const size_t slash = path.find('/', 7);
    const size_t question = path.find('?', 7);
    if (slash == std::string_view::npos ||
        (question != std::string_view::npos && question < slash)) {
      path = question == std::string_view::npos ? std::string_view() : path.substr(question);
    } else {
      path = path.substr(slash);
    }
  }
  const size_t question = path.find('?');
  request.query =
      question == std::string_view::npos ? std::string_view() : path.substr(question + 1);
  request.path = path.substr(0, question);
  if (request.path.empty()) {
    request.path = "/";
  }
  request.headers.clear();
  for (const HeaderSpan& span : header_spans_) {
    request.headers.push_back({view(span.name), view(span.value)});
  }
  if (chunked_) {
    request.body = chunked_body_;
    consumed_ = pos_;
  } else {
    request.body = data.substr(body_start_, content_length_);
    consumed_ = body_start_ + content_length_;
  }
  request.keep_alive = keep_alive_;
  request.minor_version = minor_version_;
  return ParseStatus::kComplete;
}

}  // namespace fraudguard::http
