#include "stderr_tail.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "taskmaster/utf8.h"

namespace taskmaster::step {

namespace {

// What a line is not made of when it is blank, and what is trimmed at its ends.
constexpr std::string_view kBlank = " \t\r\v\f";

}  // namespace

void LastStderrLine::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    // '\r' ends a line too: a progress bar redrawn with it leaves its last
    // state, not its first, and "\r\n" leaves an empty line, which is skipped.
    const size_t end = bytes.find_first_of("\r\n");
    std::string_view piece = bytes.substr(0, end);
    // Leading blanks are never kept, so a line that is not empty is not blank,
    // and the bytes kept are the line's text rather than its indentation.
    if (line_.empty()) piece.remove_prefix(std::min(piece.find_first_not_of(kBlank), piece.size()));
    line_.append(piece.substr(0, kKeptBytes - line_.size()));  // never over kKeptBytes
    if (end == std::string_view::npos) return;
    if (!line_.empty()) last_.swap(line_);
    line_.clear();
    bytes.remove_prefix(end + 1);
  }
}

std::string LastStderrLine::Get() const {
  // A last line without '\n' (the task died mid-line, or never ends its lines) counts.
  std::string line = ReplaceInvalidUtf8(line_.empty() ? last_ : line_);
  // Valid UTF-8 now, so a continuation byte marks the middle of a character. A
  // character cut off at kKeptBytes became U+FFFD past the bound, and goes here.
  line.resize(Utf8Prefix(line, kMaxStderrLineBytes).size());
  // Control characters (NUL among them) become spaces: the line is stored as
  // text, and a fingerprint made of it must read back the same.
  for (char& c : line) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) c = ' ';
  }
  const size_t last = line.find_last_not_of(kBlank);
  line.resize(last == std::string::npos ? 0 : last + 1);
  return line;
}

void StderrTail::Read() {
  char buf[16 << 10];
  size_t taken = 0;
  while (process_->stderr_fd() >= 0 && taken < kMaxReadBytes) {
    const ssize_t n = ::read(process_->stderr_fd(), buf, sizeof(buf));
    if (n > 0) {
      const std::string_view bytes(buf, static_cast<size_t>(n));
      Forward(bytes);
      last_line_.Feed(bytes);
      taken += bytes.size();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    // End of stream: the task and every child of it closed their stderr.
    process_->CloseStderr();
  }
}

void StderrTail::Forward(std::string_view bytes) {
  const int fd = process_->stderr_destination_fd();
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // tm-step ignores SIGPIPE, so a stderr nobody reads any more is EPIPE here.
    // Forwarding is a courtesy to the task's reader: it never fails the task.
    if (!warned_) {
      spdlog::warn("cannot forward the task's stderr: {}; what it writes there is lost",
                   std::strerror(n < 0 ? errno : EIO));
      warned_ = true;
    }
    return;
  }
}

}  // namespace taskmaster::step
