#include "signals.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdlib>

#include "taskmaster/env.h"

namespace taskmaster::step {

Signals::Signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) std::abort();
  fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) std::abort();
  // Writes to a control socket whose reader died must fail, not kill the step.
  signal(SIGPIPE, SIG_IGN);
}

Signals::~Signals() {
  if (fd_ >= 0) ::close(fd_);
}

bool Signals::Drain() {
  bool child = false;
  struct signalfd_siginfo info;
  while (::read(fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    if (info.ssi_signo == SIGCHLD) {
      child = true;
    } else {
      Stop(static_cast<int>(info.ssi_signo));
    }
  }
  return child;
}

void Signals::Stop(int sig) {
  if (stopping_) return;
  stopping_ = true;
  stop_signal_ = sig;
  stop_at_ns_ = Env::Default()->MonotonicNanos();
}

}  // namespace taskmaster::step
