#include "retry.h"

#include <algorithm>
#include <utility>

namespace taskmaster::sidecar {

RetrySchedule::RetrySchedule(Env* env, Backoff backoff) : env_(env), backoff_(std::move(backoff)) {}

std::chrono::milliseconds RetrySchedule::Failed() {
  const std::chrono::milliseconds delay = backoff_.NextDelay();
  due_ns_ = env_->MonotonicNanos() + delay.count() * 1000000;
  return delay;
}

void RetrySchedule::Succeeded() {
  backoff_.Reset();
  due_ns_ = 0;
}

Status RetryTransient(RetrySchedule* schedule, int64_t deadline_ns,
                      const std::function<Status()>& attempt, const RetryHooks& hooks) {
  Env* env = schedule->env();
  while (true) {
    Status s = attempt();
    if (s.ok()) {
      schedule->Succeeded();
      return s;
    }
    if (hooks.on_failure) hooks.on_failure(s);
    if (!IsTransient(s) || env->MonotonicNanos() >= deadline_ns || (hooks.stop && hooks.stop())) {
      return s;
    }
    if (hooks.on_retry) hooks.on_retry(s);
    const int64_t left_us = (deadline_ns - env->MonotonicNanos()) / 1000;
    env->SleepForMicros(std::clamp<int64_t>(schedule->Failed().count() * 1000, 0, left_us));
  }
}

}  // namespace taskmaster::sidecar
