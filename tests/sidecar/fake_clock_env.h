// An Env whose clocks only move when told to, or by SleepForMicros, which
// returns at once having moved them; files are the real ones. For tests of
// waiting and deadlines that must neither sleep nor depend on timing.
#ifndef TASKMASTER_TESTS_SIDECAR_FAKE_CLOCK_ENV_H_
#define TASKMASTER_TESTS_SIDECAR_FAKE_CLOCK_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "taskmaster/env.h"

namespace taskmaster::sidecar {

class FakeClockEnv final : public Env {
 public:
  // Every sleep, in microseconds, in order.
  const std::vector<int64_t>& sleeps() const { return sleeps_; }
  void Advance(int64_t nanos) { now_ns_ += nanos; }

  int64_t MonotonicNanos() override { return now_ns_; }
  int64_t NowUnixMillis() override { return kEpochMillis + (now_ns_ - kStartNanos) / 1000000; }
  void SleepForMicros(int64_t micros) override {
    sleeps_.push_back(micros);
    now_ns_ += micros * 1000;
  }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return real_->NewAppendableFile(path);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return real_->NewWritableFile(path);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return real_->NewRandomAccessFile(path);
  }
  Result<std::string> ReadFile(const std::string& path) override { return real_->ReadFile(path); }
  bool FileExists(const std::string& path) override { return real_->FileExists(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return real_->FileSize(path); }
  Status Truncate(const std::string& path, uint64_t size) override {
    return real_->Truncate(path, size);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return real_->Rename(from, to);
  }
  Status RemoveFile(const std::string& path) override { return real_->RemoveFile(path); }
  Status CreateDirs(const std::string& path) override { return real_->CreateDirs(path); }
  Status SyncDir(const std::string& path) override { return real_->SyncDir(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return real_->ListDir(path);
  }

  // 2026-01-01T00:00:00Z: what NowUnixMillis reads before the clock moved.
  static constexpr int64_t kEpochMillis = 1767225600000;

 private:
  Env* real_ = Env::Default();
  static constexpr int64_t kStartNanos = 1000000000;
  int64_t now_ns_ = kStartNanos;
  std::vector<int64_t> sleeps_;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_TESTS_SIDECAR_FAKE_CLOCK_ENV_H_
