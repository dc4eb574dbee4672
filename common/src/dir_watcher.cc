#include "taskmaster/dir_watcher.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace taskmaster {

DirWatcher::DirWatcher(const std::string& dir, uint32_t mask) : mask_(mask) {
  static_assert(kReplaced == (IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE));
  static_assert(kReplacedOrGrown == (kReplaced | IN_MODIFY));
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return;
  wd_ = inotify_add_watch(fd_, dir.c_str(), mask);
  if (wd_ < 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void DirWatcher::Watch(const std::string& dir) {
  if (fd_ < 0) return;
  // Gone already when its dir was removed; the events of the old dir that are
  // still queued only cost the caller a look.
  if (wd_ >= 0) inotify_rm_watch(fd_, wd_);
  wd_ = inotify_add_watch(fd_, dir.c_str(), mask_);
}

DirWatcher::~DirWatcher() {
  if (fd_ >= 0) ::close(fd_);
}

void DirWatcher::Drain() {
  if (fd_ < 0) return;
  char buf[4096];
  while (::read(fd_, buf, sizeof(buf)) > 0) {
  }
}

void DirWatcher::Wait(int timeout_ms) {
  if (fd_ < 0) {
    ::poll(nullptr, 0, timeout_ms);
    return;
  }
  struct pollfd p = {fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) > 0) Drain();
}

}  // namespace taskmaster
