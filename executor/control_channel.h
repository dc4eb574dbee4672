// The fd-3 control protocol of the user's command (DESIGN.md §6): one JSON
// object per line,
//   {"checkpoint": <any JSON>}              save a checkpoint
//   {"checkpoint": <any JSON>, "sync": true} ... and answer {"ack": <seq>} once durable
//   {"progress": {"done": N, "total": M}}
//   {"note": "text"}
// A line may combine keys. A malformed line is reported and ignored, never fatal.
#ifndef TASKMASTER_EXECUTOR_CONTROL_CHANNEL_H_
#define TASKMASTER_EXECUTOR_CONTROL_CHANNEL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster::step {

struct ControlMessage {
  std::optional<std::string> checkpoint;  // the value, compact JSON
  bool sync = false;
  std::optional<std::pair<int64_t, int64_t>> progress;  // done, total
  std::optional<std::string> note;
  std::vector<std::string> unknown_keys;  // reported, otherwise ignored
};

// InvalidArgument naming what is wrong with the line.
Result<ControlMessage> ParseControlLine(std::string_view line);

// Cuts a byte stream into lines of at most max_line bytes (without the '\n').
// A longer line is reported once through on_overlong and skipped up to its
// newline; it is refused, never truncated into something that parses.
class LineSplitter {
 public:
  using LineFn = std::function<void(std::string_view line)>;
  using OverlongFn = std::function<void(size_t bytes_so_far)>;
  LineSplitter(size_t max_line, LineFn on_line, OverlongFn on_overlong);

  void Feed(std::string_view data);
  // End of stream: a last line without '\n' is still delivered.
  void Finish();

 private:
  size_t max_line_;
  LineFn on_line_;
  OverlongFn on_overlong_;
  std::string pending_;
  bool skipping_ = false;
};

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_CONTROL_CHANNEL_H_
