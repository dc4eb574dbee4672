// An Env whose clocks only move when told to, or by SleepForMicros, which
// returns at once having moved them; everything else is the real Env. For tests of
// waiting and deadlines that must neither sleep nor depend on timing.
#ifndef TASKMASTER_TESTS_SIDECAR_FAKE_CLOCK_ENV_H_
#define TASKMASTER_TESTS_SIDECAR_FAKE_CLOCK_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "taskmaster/env.h"

namespace taskmaster::sidecar {

class FakeClockEnv final : public EnvWrapper {
 public:
  FakeClockEnv() : EnvWrapper(Env::Default()) {}

  // Every sleep, in microseconds, in order.
  const std::vector<int64_t>& sleeps() const { return sleeps_; }
  void Advance(int64_t nanos) { now_ns_ += nanos; }

  int64_t MonotonicNanos() override { return now_ns_; }
  int64_t NowUnixMillis() override { return kEpochMillis + (now_ns_ - kStartNanos) / 1000000; }
  void SleepForMicros(int64_t micros) override {
    sleeps_.push_back(micros);
    now_ns_ += micros * 1000;
  }

  // 2026-01-01T00:00:00Z: what NowUnixMillis reads before the clock moved.
  static constexpr int64_t kEpochMillis = 1767225600000;

 private:
  static constexpr int64_t kStartNanos = 1000000000;
  int64_t now_ns_ = kStartNanos;
  std::vector<int64_t> sleeps_;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_TESTS_SIDECAR_FAKE_CLOCK_ENV_H_
