#include "local/console.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "local/text.h"

namespace taskmaster::step::local {

void Console::Progress(const ProgressView& view, int64_t now_ns) {
  view_ = view;
  have_view_ = true;
  if (tty_) {
    if (now_ns - last_draw_ns_ < kTtyRefreshNanos) return;
    last_draw_ns_ = now_ns;
    Draw();
  } else if (now_ns - last_draw_ns_ >= kLogProgressNanos) {
    last_draw_ns_ = now_ns;
    spdlog::info("progress: {}", Describe(view));
  }
}

void Console::Finish() {
  if (tty_ && drawn_) Write("\r\033[K");
  drawn_ = false;
  have_view_ = false;
}

std::string Console::Describe(const ProgressView& v) {
  std::string text = fmt::format("{}/{} tasks done", v.done, v.total);
  if (v.failed > 0) text += fmt::format(", {} failed", v.failed);
  if (v.retrying > 0) {
    text += fmt::format(", {} shard{} to retry", v.retrying, v.retrying == 1 ? "" : "s");
  }
  if (v.rate > 0) {
    text += fmt::format(", {:.1f} tasks/s", v.rate);
    if (v.done < v.total) {
      text += ", ETA " + FormatSeconds(static_cast<double>(v.total - v.done) / v.rate);
    }
  }
  if (v.running_shards > 0) {
    text += fmt::format(", {} shard{} running", v.running_shards, v.running_shards == 1 ? "" : "s");
  }
  return text;
}

void Console::Say(spdlog::level::level_enum level, const std::string& text, bool on_tty) {
  if (!tty_) {
    spdlog::log(level, "{}", text);
    return;
  }
  if (!on_tty) return;
  const char* prefix = level == spdlog::level::err    ? "error: "
                       : level == spdlog::level::warn ? "warning: "
                                                      : "";
  Write("\r\033[K" + std::string(prefix) + text + "\n");
  drawn_ = false;
  if (have_view_) Draw();
}

void Console::Draw() {
  const ProgressView& v = view_;
  constexpr int kBar = 24;
  const double fraction =
      v.total > 0 ? static_cast<double>(v.done) / static_cast<double>(v.total) : 0;
  const int filled = static_cast<int>(fraction * kBar);
  std::string line = "[" + std::string(filled, '#') + std::string(kBar - filled, '.') + "] " +
                     fmt::format("{:3.0f}% ", fraction * 100) + Describe(v);
  struct winsize ws;
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col) {
    line.resize(ws.ws_col - 1);
  }
  if (drawn_ && line == drawn_line_) return;
  Write("\r\033[K" + line);
  drawn_ = true;
  drawn_line_ = line;
}

// Straight to the terminal: the line must not pass through the logger's format.
void Console::Write(const std::string& text) {
  const char* data = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace taskmaster::step::local
