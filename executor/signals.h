// Signals: SIGTERM, SIGINT and SIGCHLD arrive through a signalfd, so tm-step's
// one poll loop (a pod role's, or local mode's) handles them like any other
// event. Construct once, before any thread or child exists; the mask is undone
// in each child before exec.
#ifndef TASKMASTER_EXECUTOR_SIGNALS_H_
#define TASKMASTER_EXECUTOR_SIGNALS_H_

#include <cstdint>

#include "taskmaster/signal_fd.h"

namespace taskmaster::step {

class Signals {
 public:
  Signals();
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  int fd() const { return signal_fd_.fd(); }
  // Reads what arrived. Returns true if a SIGCHLD was among it.
  bool Drain();
  // A SIGTERM/SIGINT arrived (or Stop() was called, e.g. at the deadline).
  bool stopping() const { return stopping_; }
  int stop_signal() const { return stop_signal_; }
  // Monotonic time of the first stop request.
  int64_t stop_at_ns() const { return stop_at_ns_; }
  // Stop requests so far, repeats included (a second Ctrl-C): every SIGTERM
  // or SIGINT read, and every Stop() call.
  int stop_requests() const { return stop_requests_; }
  void Stop(int sig);

 private:
  SignalFd signal_fd_;
  bool stopping_ = false;
  int stop_signal_ = 0;
  int64_t stop_at_ns_ = 0;
  int stop_requests_ = 0;
};

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_SIGNALS_H_
