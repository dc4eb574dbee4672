// A signalfd over a few signals, so a program's one poll loop handles them like
// any other event (tm-step's task loop, local mode's run loop, the sidecar's
// flush loop, the API's wait). Open it once, in main's thread, before any thread
// or child exists: the signals are blocked for the process from then on, and a
// child must unblock them before exec (TaskProcess does). SIGPIPE is ignored
// too, so a write to a socket or pipe whose reader died fails instead of
// killing the program. Not thread-safe.
#ifndef TASKMASTER_SIGNAL_FD_H_
#define TASKMASTER_SIGNAL_FD_H_

#include <initializer_list>
#include <vector>

namespace taskmaster {

class SignalFd {
 public:
  // Blocks `signals` and opens a non-blocking, close-on-exec signalfd for them.
  // Aborts if the kernel refuses: no program here can run without it.
  explicit SignalFd(std::initializer_list<int> signals);
  ~SignalFd();
  SignalFd(const SignalFd&) = delete;
  SignalFd& operator=(const SignalFd&) = delete;

  int fd() const { return fd_; }
  // Every signal that arrived since the last call, in arrival order; empty when
  // none did. Never blocks.
  std::vector<int> Drain();

 private:
  int fd_ = -1;
};

}  // namespace taskmaster

#endif  // TASKMASTER_SIGNAL_FD_H_
