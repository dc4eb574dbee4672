// The limits an HTTP request to the sidecar must keep, and the pure parsing the
// server (http_server.cc) does on the bytes a client sent, before any of them
// reach a handler: where the head ends and whether it breaks a limit (414, 431),
// the head parsed (Poco's HTTPRequest), and a chunked body decoded within a
// bound (413). No sockets here: each function takes the bytes received so far,
// so each can be driven byte by byte (tests, fuzzing).
#ifndef TASKMASTER_SIDECAR_HTTP_SERVER_REQUEST_H_
#define TASKMASTER_SIDECAR_HTTP_SERVER_REQUEST_H_

#include <Poco/Net/HTTPRequest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api.h"

namespace taskmaster::sidecar {

// What one connection may send; README.md "HTTP API" documents the defaults
// and `tm-sidecar api` takes each as a flag.
struct HttpLimits {
  size_t max_url_bytes = 8192;                 // the request target; longer: 414
  size_t max_header_bytes = 16384;             // the header lines after the request line; more: 431
  size_t max_headers = 64;                     // header lines; more: 431
  uint64_t max_body_bytes = kMaxApiBodyBytes;  // declared or decoded; more: 413
  int max_connections = 32;                    // served at once; one more is answered 503
  int64_t request_timeout_ms = 30000;          // head and body must arrive within it; else 408
};

// Poco's own (private) bounds, which it enforces with an exception: a header's
// name (256) plus its value (8192), and the request target. The scan refuses a
// longer header line first, with a 431; --max-url-bytes cannot exceed the target's.
inline constexpr size_t kMaxHeaderLineBytes = 256 + 8192;
inline constexpr size_t kPocoMaxUrlBytes = 16384;

// The result of scanning the bytes received so far for the end of the head.
struct HeadScan {
  size_t end = 0;                      // bytes of the head with its blank line; 0: need more
  std::optional<ApiResponse> refusal;  // a limit already broken: answer it and close
};

// Scans `head_so_far` (every byte received so far) from its start. A limit is refused as soon as
// the bytes seen break it, without waiting for the rest of the head.
HeadScan ScanRequestHead(std::string_view head_so_far, const HttpLimits& limits);

// Parses a whole head (as ScanRequestHead delimited it) into *request; a 400
// naming the problem when Poco cannot read it or it is not HTTP/1.x.
std::optional<ApiResponse> ParseRequestHead(std::string_view head, Poco::Net::HTTPRequest* request);

// A `Transfer-Encoding: chunked` body, decoded as its bytes arrive.
class ChunkedBody {
 public:
  explicit ChunkedBody(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  // Consumes `bytes` (the next bytes after those fed before). True once the
  // last chunk and its trailers are in; bytes after them are ignored.
  bool Feed(std::string_view bytes);
  // Set when the body is malformed (400) or over max_bytes (413); Feed then
  // consumes nothing more.
  const std::optional<ApiResponse>& refusal() const { return refusal_; }
  std::string& body() { return body_; }

 private:
  enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
  // One complete line (without its line end) in kSize, kDataEnd or kTrailer.
  void Line(std::string_view line);

  uint64_t max_bytes_;
  State state_ = State::kSize;
  uint64_t left_ = 0;  // kData: bytes of the current chunk still to come
  std::string line_;   // the line being received
  std::string body_;
  std::optional<ApiResponse> refusal_;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_HTTP_SERVER_REQUEST_H_
