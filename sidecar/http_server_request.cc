#include "http_server_request.h"

#include <Poco/Exception.h>

#include <algorithm>
#include <cctype>
#include <sstream>

namespace taskmaster::sidecar {

namespace {

// A request line is its target plus at most a method (Poco reads 32 bytes of
// it), a version (8) and the spaces and line end between them.
constexpr size_t kRequestLineSlack = 64;
// A chunk-size line: hex digits and extensions.
constexpr size_t kMaxChunkLineBytes = 1024;

std::string Bytes(uint64_t n) {
  return std::to_string(n) + " bytes";
}

ApiResponse UriTooLong(size_t at_least, const HttpLimits& limits) {
  return ApiError(414, "request target of at least " + Bytes(at_least) + " is over the limit of " +
                           Bytes(limits.max_url_bytes));
}

ApiResponse HeadersTooLarge(const std::string& what) {
  return ApiError(431, "request header fields too large: " + what);
}

// The request target of a complete request line: between its first and last space.
std::string_view TargetOf(std::string_view line) {
  const size_t first = line.find(' ');
  const size_t last = line.rfind(' ');
  if (first == std::string_view::npos || last <= first) return {};
  return line.substr(first + 1, last - first - 1);
}

std::string_view WithoutCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

HeadScan ScanRequestHead(std::string_view head, const HttpLimits& limits) {
  HeadScan scan;
  const size_t line_end = head.find('\n');
  if (line_end == std::string_view::npos) {
    if (head.size() > limits.max_url_bytes + kRequestLineSlack) {
      scan.refusal = UriTooLong(head.size() - kRequestLineSlack, limits);
    }
    return scan;
  }
  if (const size_t target = TargetOf(WithoutCr(head.substr(0, line_end))).size();
      target > limits.max_url_bytes) {
    scan.refusal = UriTooLong(target, limits);
    return scan;
  }
  size_t pos = line_end + 1;
  size_t lines = 0;
  while (true) {
    const size_t nl = head.find('\n', pos);
    const size_t line_bytes = nl == std::string_view::npos ? head.size() - pos : nl - pos;
    // Counted as received, so that a line that never ends is refused too.
    const size_t header_bytes = pos + line_bytes - (line_end + 1);
    if (header_bytes > limits.max_header_bytes) {
      scan.refusal = HeadersTooLarge("more than " + Bytes(limits.max_header_bytes));
      return scan;
    }
    if (line_bytes > kMaxHeaderLineBytes + 1) {
      scan.refusal = HeadersTooLarge("a line over " + Bytes(kMaxHeaderLineBytes));
      return scan;
    }
    if (nl == std::string_view::npos) return scan;
    if (WithoutCr(head.substr(pos, line_bytes)).empty()) {
      scan.end = nl + 1;
      return scan;
    }
    if (++lines > limits.max_headers) {
      scan.refusal = HeadersTooLarge("more than " + std::to_string(limits.max_headers) + " lines");
      return scan;
    }
    pos = nl + 1;
  }
}

std::optional<ApiResponse> ParseRequestHead(std::string_view head,
                                            Poco::Net::HTTPRequest* request) {
  std::istringstream in{std::string(head)};
  // The scan bounded the lines already (--max-headers may allow more than
  // Poco's default of 100).
  request->setFieldLimit(0);
  try {
    request->read(in);
  } catch (const Poco::Exception& e) {
    return ApiError(400, "malformed request: " + e.displayText());
  }
  if (request->getVersion().rfind("HTTP/1.", 0) != 0) {
    return ApiError(400,
                    "malformed request: version '" + request->getVersion() + "' is not HTTP/1.x");
  }
  return std::nullopt;
}

bool ChunkedBody::Feed(std::string_view bytes) {
  while (!bytes.empty() && !refusal_ && state_ != State::kDone) {
    if (state_ == State::kData) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left_, bytes.size()));
      body_.append(bytes.substr(0, n));
      bytes.remove_prefix(n);
      left_ -= n;
      if (left_ == 0) state_ = State::kDataEnd;
      continue;
    }
    const size_t nl = bytes.find('\n');
    line_.append(bytes.substr(0, nl));
    bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
    if (line_.size() > kMaxChunkLineBytes) {
      refusal_ = ApiError(400, "malformed chunked body: a line over " + Bytes(kMaxChunkLineBytes));
    } else if (nl != std::string_view::npos) {
      std::string line = std::move(line_);
      line_.clear();
      Line(WithoutCr(line));
    }
  }
  return state_ == State::kDone;
}

void ChunkedBody::Line(std::string_view line) {
  switch (state_) {
    case State::kSize: {
      const std::string_view digits = line.substr(0, line.find(';'));
      uint64_t size = 0;
      bool over = false;
      for (const char c : digits) {
        const auto u = static_cast<unsigned char>(c);
        if (!std::isxdigit(u)) {
          refusal_ =
              ApiError(400, "malformed chunked body: bad chunk size '" + std::string(digits) + "'");
          return;
        }
        // Once over the bound the size stops growing, so it cannot overflow.
        over = over || size > max_bytes_;
        if (!over) size = size * 16 + (std::isdigit(u) ? u - '0' : (u | 0x20) - 'a' + 10);
      }
      if (digits.empty()) {
        refusal_ = ApiError(400, "malformed chunked body: empty chunk size");
      } else if (over || body_.size() + size > max_bytes_) {
        refusal_ = ApiError(413, "request body over the limit of " + Bytes(max_bytes_));
      } else if (size == 0) {
        state_ = State::kTrailer;
      } else {
        left_ = size;
        state_ = State::kData;
      }
      return;
    }
    case State::kDataEnd:
      if (!line.empty()) {
        refusal_ = ApiError(400, "malformed chunked body: chunk longer than its size");
      }
      state_ = State::kSize;
      return;
    case State::kTrailer:
      if (line.empty()) state_ = State::kDone;
      return;
    case State::kData:
    case State::kDone:
      return;
  }
}

}  // namespace taskmaster::sidecar
