#include "taskmaster/signal_fd.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdlib>

namespace taskmaster {

SignalFd::SignalFd(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) std::abort();
  fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd_ < 0) std::abort();
  signal(SIGPIPE, SIG_IGN);
}

SignalFd::~SignalFd() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<int> SignalFd::Drain() {
  std::vector<int> arrived;
  struct signalfd_siginfo info;
  while (::read(fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    arrived.push_back(static_cast<int>(info.ssi_signo));
  }
  return arrived;
}

}  // namespace taskmaster
