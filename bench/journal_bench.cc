// Journal append cost. The 1 MiB benchmarks fsync to a real disk (/var/tmp, not
// tmpfs) and compare the journal with the floor for the same work: one write()
// and one fdatasync() of the same bytes. Target: journal / raw <= 1.3.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "taskmaster/env.h"
#include "taskmaster/journal.h"

namespace taskmaster {
namespace {

constexpr size_t kBigRecordBytes = 1 << 20;
constexpr size_t kSmallRecordBytes = 100;
// Files start over past this size, so a long run does not fill the disk.
constexpr uint64_t kRotateBytes = uint64_t{256} << 20;

class BenchDir {
 public:
  explicit BenchDir(const std::string& parent) {
    std::string pattern = parent + "/taskmaster-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ::abort();
    path_ = pattern;
  }
  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string Join(const std::string& name) const { return JoinPath(path_, name); }

 private:
  std::string path_;
};

// A journal in a fresh file, started over (outside the timed region) when it
// grows past kRotateBytes.
class RotatingJournal {
 public:
  RotatingJournal(const std::string& path, bool sync) : path_(path), sync_(sync) { Restart(); }

  JournalWriter& writer() { return *writer_; }
  bool Full() const { return writer_->size() > kRotateBytes; }
  void Restart() {
    writer_.reset();
    ::unlink(path_.c_str());
    auto writer = JournalWriter::Open(Env::Default(), path_, {sync_});
    if (!writer.ok()) ::abort();
    writer_ = std::move(*writer);
  }

 private:
  std::string path_;
  bool sync_;
  std::unique_ptr<JournalWriter> writer_;
};

// The floor: the same bytes with one write() and one fdatasync().
class RawFile {
 public:
  explicit RawFile(const std::string& path) : path_(path) { Restart(); }
  ~RawFile() { ::close(fd_); }

  void WriteAndSync(const std::string& data) {
    if (::write(fd_, data.data(), data.size()) != static_cast<ssize_t>(data.size())) ::abort();
    if (::fdatasync(fd_) != 0) ::abort();
    size_ += data.size();
  }
  bool Full() const { return size_ > kRotateBytes; }
  void Restart() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) ::abort();
    size_ = 0;
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

void BM_JournalAppendSynced1MiB(benchmark::State& state) {
  BenchDir dir("/var/tmp");
  RotatingJournal journal(dir.Join("journal"), /*sync=*/true);
  const std::string payload(kBigRecordBytes, 'j');
  for (auto _ : state) {
    if (!journal.writer().Append(4, 0, payload).ok()) ::abort();
    if (journal.Full()) {
      state.PauseTiming();
      journal.Restart();
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBigRecordBytes));
}
BENCHMARK(BM_JournalAppendSynced1MiB)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_WriteFdatasync1MiB(benchmark::State& state) {
  BenchDir dir("/var/tmp");
  RawFile raw(dir.Join("raw"));
  const std::string data(kBigRecordBytes + kJournalHeaderBytes, 'r');
  for (auto _ : state) {
    raw.WriteAndSync(data);
    if (raw.Full()) {
      state.PauseTiming();
      raw.Restart();
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBigRecordBytes));
}
BENCHMARK(BM_WriteFdatasync1MiB)->Unit(benchmark::kMillisecond)->UseRealTime();

// Both, interleaved, so the disk's drift over the run affects them alike; the
// counters give each one's rate and the ratio of their total times.
void BM_JournalVsWriteFdatasync1MiB(benchmark::State& state) {
  BenchDir dir("/var/tmp");
  RotatingJournal journal(dir.Join("journal"), /*sync=*/true);
  RawFile raw(dir.Join("raw"));
  const std::string payload(kBigRecordBytes, 'j');
  const std::string data(kBigRecordBytes + kJournalHeaderBytes, 'r');
  using Clock = std::chrono::steady_clock;
  Clock::duration journal_time{};
  Clock::duration raw_time{};
  for (auto _ : state) {
    const auto start = Clock::now();
    if (!journal.writer().Append(4, 0, payload).ok()) ::abort();
    const auto middle = Clock::now();
    raw.WriteAndSync(data);
    const auto end = Clock::now();
    journal_time += middle - start;
    raw_time += end - middle;
    if (journal.Full() || raw.Full()) {
      state.PauseTiming();
      journal.Restart();
      raw.Restart();
      state.ResumeTiming();
    }
  }
  const double bytes = static_cast<double>(state.iterations()) * kBigRecordBytes;
  const double journal_s = std::chrono::duration<double>(journal_time).count();
  const double raw_s = std::chrono::duration<double>(raw_time).count();
  state.counters["journal_MiB/s"] = bytes / journal_s / (1 << 20);
  state.counters["raw_MiB/s"] = bytes / raw_s / (1 << 20);
  state.counters["journal/raw"] = journal_s / raw_s;
}
BENCHMARK(BM_JournalVsWriteFdatasync1MiB)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_JournalAppend100B(benchmark::State& state) {
  BenchDir dir("/var/tmp");
  RotatingJournal journal(dir.Join("journal"), /*sync=*/false);
  const std::string payload(kSmallRecordBytes, 's');
  for (auto _ : state) {
    if (!journal.writer().Append(5, 0, payload).ok()) ::abort();
    if (journal.Full()) {
      state.PauseTiming();
      journal.Restart();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSmallRecordBytes));
}
BENCHMARK(BM_JournalAppend100B);

}  // namespace
}  // namespace taskmaster

BENCHMARK_MAIN();
