// The fd-3 control channel (executor/control_channel.h): the bytes a task
// writes, cut into lines by LineSplitter and parsed by ParseControlLine. The
// first byte of the input picks the line limit (small ones reach the overlong
// path) and the size of the reads the bytes arrive in; the rest is the stream.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control_channel.h"
#include "taskmaster/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t shape = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t max_line =
      (shape & 0x80) != 0 ? taskmaster::protocol::kMaxControlLineBytes : 1 + (shape & 0x3f);
  const size_t read_bytes = 1 + (shape & 0x0f) * 7;

  taskmaster::step::LineSplitter splitter(
      max_line,
      [max_line](std::string_view line) {
        if (line.size() > max_line || line.find('\n') != std::string_view::npos) std::abort();
        const auto message = taskmaster::step::ParseControlLine(line);
        if (message.ok() && message->sync && !message->checkpoint) std::abort();
        if (message.ok() && message->progress &&
            (message->progress->first < 0 ||
             message->progress->first > message->progress->second)) {
          std::abort();
        }
      },
      [max_line](size_t bytes_so_far) {
        if (bytes_so_far <= max_line) std::abort();
      });
  while (!stream.empty()) {
    const size_t n = std::min(read_bytes, stream.size());
    splitter.Feed(stream.substr(0, n));
    stream.remove_prefix(n);
  }
  splitter.Finish();
  return 0;
}
