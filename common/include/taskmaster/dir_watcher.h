// DirWatcher: wakes a waiter when a file appears, grows or is replaced in one
// directory (inotify; the mask says which events). Callers still re-check
// the file after every wake-up and poll at least every protocol::kReadyPollMillis,
// so a missed or unsupported event (some network filesystems) only costs latency.
#ifndef TASKMASTER_DIR_WATCHER_H_
#define TASKMASTER_DIR_WATCHER_H_

#include <cstdint>
#include <string>

namespace taskmaster {

class DirWatcher {
 public:
  // Files created or atomically replaced (renamed into place).
  static constexpr uint32_t kReplaced = 0x100 | 0x80 | 0x8;  // IN_CREATE|IN_MOVED_TO|IN_CLOSE_WRITE
  // ... and files that grew (a journal being appended to).
  static constexpr uint32_t kReplacedOrGrown = kReplaced | 0x2;  // | IN_MODIFY

  // Watches dir; if inotify is unavailable the watcher degrades to polling.
  explicit DirWatcher(const std::string& dir, uint32_t mask = kReplaced);
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // The inotify descriptor to poll for readability, or -1 when polling only.
  int fd() const { return fd_; }
  // Consumes pending events (call when fd() is readable).
  void Drain();
  // Blocks until an event arrives or timeout_ms passes.
  void Wait(int timeout_ms);

 private:
  int fd_ = -1;
};

}  // namespace taskmaster

#endif  // TASKMASTER_DIR_WATCHER_H_
