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
  // Watches dir instead, with the same inotify instance: closing one waits for
  // the kernel's RCU grace period (milliseconds), so a process that watches
  // one dir after another (local mode's sidecar for every pod) reuses it. A
  // dir that cannot be watched leaves the descriptor quiet: the caller's poll
  // interval still finds what changed there.
  void Watch(const std::string& dir);
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
  int wd_ = -1;
  uint32_t mask_;
};

}  // namespace taskmaster

#endif  // TASKMASTER_DIR_WATCHER_H_
