// What a local run tells the person who started it, on stderr: on a terminal,
// messages above one live progress line; otherwise JSON log lines (spdlog),
// with the progress every 10 s. Not thread-safe.
#ifndef TASKMASTER_EXECUTOR_LOCAL_CONSOLE_H_
#define TASKMASTER_EXECUTOR_LOCAL_CONSOLE_H_

#include <spdlog/spdlog.h>

#include <cstdint>
#include <limits>
#include <string>

#include "local/clock.h"

namespace taskmaster::step::local {

// The progress of the shards' tasks, as the live line shows it.
struct ProgressView {
  int64_t done = 0;
  int64_t total = 0;
  int64_t failed = 0;
  int64_t retrying = 0;
  int64_t running_shards = 0;
  double rate = 0;  // tasks per second in this run
};

class Console {
 public:
  // How often the live line is redrawn at most.
  static constexpr int64_t kTtyRefreshNanos = 200 * kMilli;

  explicit Console(bool tty) : tty_(tty) {}

  bool tty() const { return tty_; }
  // What a person wants to see: on a terminal, a line above the progress line.
  void Info(const std::string& text) { Say(spdlog::level::info, text, true); }
  void Warn(const std::string& text) { Say(spdlog::level::warn, text, true); }
  void Error(const std::string& text) { Say(spdlog::level::err, text, true); }
  // Events a log keeps but a terminal does not show (a shard started, ...).
  void Detail(const std::string& text) { Say(spdlog::level::info, text, false); }

  // Shows view, unless it was shown less than a refresh period before now_ns.
  void Progress(const ProgressView& view, int64_t now_ns);
  // Removes the progress line (before the summary).
  void Finish();

  // "7/10 tasks done, 1 failed, ..." as the line and the log show it.
  static std::string Describe(const ProgressView& view);

 private:
  static constexpr int64_t kLogProgressNanos = 10 * kSecond;

  void Say(spdlog::level::level_enum level, const std::string& text, bool on_tty);
  void Draw();
  static void Write(const std::string& text);

  const bool tty_;
  bool drawn_ = false;
  std::string drawn_line_;
  bool have_view_ = false;
  ProgressView view_;
  int64_t last_draw_ns_ = std::numeric_limits<int64_t>::min() / 2;
};

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_CONSOLE_H_
