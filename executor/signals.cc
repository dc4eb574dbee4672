#include "signals.h"

#include <signal.h>

#include "taskmaster/env.h"

namespace taskmaster::step {

Signals::Signals() : signal_fd_({SIGTERM, SIGINT, SIGCHLD}) {}

bool Signals::Drain() {
  bool child = false;
  for (int sig : signal_fd_.Drain()) {
    if (sig == SIGCHLD) {
      child = true;
    } else {
      Stop(sig);
    }
  }
  return child;
}

void Signals::Stop(int sig) {
  ++stop_requests_;
  if (stopping_) return;
  stopping_ = true;
  stop_signal_ = sig;
  stop_at_ns_ = Env::Default()->MonotonicNanos();
}

}  // namespace taskmaster::step
