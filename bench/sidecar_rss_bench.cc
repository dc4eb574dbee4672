// tm-sidecar's memory while it flushes 1,000,000 records (issue 4): the real
// tm-sidecar binary, SQLite store in a temp dir on a real disk, role shard after
// an init that recorded the workflow. This program plays the step: it writes
// the shard's journal with JournalWriter (task_start, progress, note and
// task_end records under the fence from `ready`, seqs from 1, back-pressure at
// the protocol's 64 MiB of unacknowledged journal, as tm-step does), then a
// commit record, and samples the sidecar's VmRSS from /proc/<pid>/status every
// 50 ms.
//
// Reports RSS after warm-up (the first sample once 100,000 records are
// acknowledged) and at the end, the growth after warm-up (target < 2 MiB), the
// peak (VmHWM, target < 32 MiB), and records/s. The run fails when a sidecar
// exits non-zero or logs a warning or an error (a skipped record, a failed flush).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "taskmaster/env.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

extern char** environ;

namespace {

namespace pr = taskmaster::protocol;
using taskmaster::Env;
using taskmaster::JoinPath;
using taskmaster::JournalWriter;

constexpr int64_t kWorkflowTasks = 20000;
constexpr int64_t kBatchSize = 10000;     // shard 0: ordinals [0, 10000)
constexpr int64_t kRecordsPerTask = 100;  // start, 96 progress, 2 notes, end
constexpr int64_t kRecords = 1000000;     // = 10,000 tasks x 100
constexpr int64_t kWarmupRecords = 100000;
constexpr int kSampleMillis = 50;
constexpr int64_t kNowMs = 1767225600000;
constexpr double kTimeoutSeconds = 600;

const char* const kSidecar = TM_SIDECAR_BINARY;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "sidecar_rss_bench: %s\n", what.c_str());
  std::exit(1);
}

std::string TaskId(int64_t ordinal) {
  char id[32];
  std::snprintf(id, sizeof(id), "task-%06lld", static_cast<long long>(ordinal));
  return id;
}

pid_t SpawnSidecar(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(kSidecar));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid;
  if (posix_spawn(&pid, kSidecar, &actions, nullptr, argv.data(), environ) != 0) {
    Die(std::string("cannot start ") + kSidecar);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

// Fails when the sidecar exited early (its log says why).
void CheckAlive(pid_t pid, const std::string& log) {
  int status;
  if (waitpid(pid, &status, WNOHANG) == pid) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    Die("tm-sidecar exited early (status " + std::to_string(status) + "); its log:\n" + text.str());
  }
}

int Stop(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pr::Ready WaitForReady(Env* env, const std::string& dir, pid_t pid, const std::string& log) {
  const double deadline = Now() + 60;
  while (Now() < deadline) {
    auto text = env->ReadFile(JoinPath(dir, pr::kReadyFile));
    if (text.ok()) {
      auto ready = pr::DecodeReady(*text);
      if (!ready.ok()) Die("bad ready file: " + ready.status().ToString());
      return *ready;
    }
    CheckAlive(pid, log);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Die("no ready file in " + dir + " within 60 s");
}

pr::Ack ReadAck(Env* env, const std::string& dir) {
  auto text = env->ReadFile(JoinPath(dir, pr::kAckFile));
  if (!text.ok()) return pr::Ack{};
  auto ack = pr::DecodeAck(*text);
  return ack.ok() ? *ack : pr::Ack{};
}

void WaitForAck(Env* env, const std::string& dir, int64_t seq, pid_t pid, const std::string& log) {
  const double deadline = Now() + kTimeoutSeconds;
  while (ReadAck(env, dir).seq < seq) {
    if (Now() > deadline) Die("record " + std::to_string(seq) + " not acknowledged in time");
    CheckAlive(pid, log);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::unique_ptr<JournalWriter> OpenJournal(Env* env, const std::string& dir) {
  auto writer = JournalWriter::Open(env, JoinPath(dir, pr::kJournalFile), {/*sync=*/false});
  if (!writer.ok()) Die("journal: " + writer.status().ToString());
  return std::move(writer).value();
}

uint64_t Append(JournalWriter* journal, pr::RecordType type, const std::string& payload) {
  auto seq = journal->Append(static_cast<uint16_t>(type), 0, payload);
  if (!seq.ok()) Die("append: " + seq.status().ToString());
  return *seq;
}

// VmRSS and VmHWM of pid in KiB (0 when gone).
std::pair<int64_t, int64_t> ReadRss(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  int64_t rss = 0, hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::atoll(line.c_str() + 6);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::atoll(line.c_str() + 6);
  }
  return {rss, hwm};
}

struct Sample {
  double t;
  int64_t acked;
  int64_t rss_kib;
};

double MiB(int64_t kib) {
  return static_cast<double>(kib) / 1024;
}

// Samples the sidecar's acknowledged seq and VmRSS every kSampleMillis on a
// thread of its own, from construction until Stop.
class RssSampler {
 public:
  RssSampler(Env* env, std::string dir, pid_t pid)
      : env_(env), dir_(std::move(dir)), pid_(pid), t0_(Now()), thread_([this] { Run(); }) {}
  ~RssSampler() {
    if (thread_.joinable()) Stop();
  }

  // Seconds since the sampler started.
  double Elapsed() const { return Now() - t0_; }

  // Ends the sampling and hands over the samples.
  std::vector<Sample> Stop() {
    sampling_ = false;
    thread_.join();
    return std::move(samples_);
  }

 private:
  void Run() {
    while (sampling_) {
      const Sample s{Elapsed(), ReadAck(env_, dir_).seq, ReadRss(pid_).first};
      {
        std::lock_guard<std::mutex> lock(mu_);
        samples_.push_back(s);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(kSampleMillis));
    }
  }

  Env* const env_;
  const std::string dir_;
  const pid_t pid_;
  const double t0_;
  std::atomic<bool> sampling_{true};
  std::mutex mu_;
  std::vector<Sample> samples_;
  std::thread thread_;  // last: it runs Run, which reads the members above
};

// The shard's journal as tm-step writes it: records under the fence from
// `ready`, seqs from 1, and back-pressure at the protocol's 64 MiB of
// unacknowledged journal.
class ShardJournal {
 public:
  ShardJournal(Env* env, std::string dir, pid_t pid, std::string log, int64_t fence)
      : env_(env),
        dir_(std::move(dir)),
        pid_(pid),
        log_(std::move(log)),
        fence_(fence),
        journal_(OpenJournal(env, dir_)) {}

  // One task's kRecordsPerTask records: start, progress with two notes, end.
  void WriteTask(int64_t ordinal) {
    const std::string id = TaskId(ordinal);
    const int64_t started = kNowMs + ordinal * 1000;
    pr::TaskStartRecord start{fence_, NextSeq(), ordinal, id, 0, started};
    Append(journal_.get(), pr::RecordType::kTaskStart, pr::Encode(start));
    for (int64_t p = 1; p <= kRecordsPerTask - 4; ++p) {
      pr::ProgressRecord progress{fence_, NextSeq(), ordinal, p, kRecordsPerTask - 4};
      Append(journal_.get(), pr::RecordType::kProgress, pr::Encode(progress));
      if (p == (kRecordsPerTask - 4) / 2 || p == kRecordsPerTask - 4) {
        pr::NoteRecord note{fence_, NextSeq(), ordinal,
                            "processed " + std::to_string(p * 1000) + " rows of part-" +
                                std::to_string(ordinal) + ".csv"};
        Append(journal_.get(), pr::RecordType::kNote, pr::Encode(note));
      }
    }
    pr::TaskEndRecord end;
    end.fence = fence_;
    end.seq = NextSeq();
    end.ordinal = ordinal;
    end.task_id = id;
    end.status = taskmaster::TaskStatus::kSucceeded;
    end.exit_code = 0;
    end.duration_ms = 950;
    end.finished_at_ms = started + 950;
    Append(journal_.get(), pr::RecordType::kTaskEnd, pr::Encode(end));
  }

  // The shard's commit record, right after the last task record.
  void Commit() {
    pr::CommitRecord commit;
    commit.fence = fence_;
    commit.seq = ++seq_;
    commit.role = pr::Role::kShard;
    commit.outputs[pr::kOutSummary] = "{\"workflow_id\":\"rss-bench\",\"shard\":0}";
    Append(journal_.get(), pr::RecordType::kCommit, pr::Encode(commit));
  }

  int64_t seq() const { return seq_; }
  uint64_t size() const { return journal_->size(); }
  double backpressure_s() const { return backpressure_s_; }

 private:
  // Back-pressure as tm-step applies it: every 1,000 records, wait while more
  // than 64 MiB of journal is past the acknowledged offset.
  int64_t NextSeq() {
    if (seq_ % 1000 == 0) {
      const double start = Now();
      while (
          taskmaster::NeedsBackpressure(journal_->size(), acked_offset_, pr::kBackpressureBytes)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        acked_offset_ = ReadAck(env_, dir_).offset;
        CheckAlive(pid_, log_);
      }
      backpressure_s_ += Now() - start;
    }
    return ++seq_;
  }

  Env* const env_;
  const std::string dir_;
  const pid_t pid_;
  const std::string log_;
  const int64_t fence_;
  std::unique_ptr<JournalWriter> journal_;
  int64_t seq_ = 0;
  uint64_t acked_offset_ = 0;
  double backpressure_s_ = 0;
};

// What the shard's run measured, for the report. Sizes in KiB, times in
// seconds after the sampler started.
struct ShardRun {
  int64_t shard_tasks = 0;
  uint64_t journal_bytes = 0;
  int64_t rss_at_ready = 0;
  int64_t rss_end = 0;  // once every task record is acknowledged
  int64_t peak = 0;     // VmHWM
  double written_at = 0;
  double flushed_at = 0;
  double backpressure_s = 0;
  std::vector<Sample> samples;
};

// Records the workflow through the init role's sidecar, as tm-step init does.
void RecordWorkflow(Env* env, const std::string& tmp, const std::string& log) {
  std::vector<std::string> ids;
  for (int64_t i = 0; i < kWorkflowTasks; ++i) ids.push_back(TaskId(i));
  const std::string dir = tmp + "/init";
  pid_t pid = SpawnSidecar({"--role", "init", "--work-dir", dir}, log);
  const pr::Ready ready = WaitForReady(env, dir, pid, log);
  auto journal = OpenJournal(env, dir);
  std::vector<pr::TaskListRecord> lists = pr::ChunkTaskList(ids);
  pr::WorkflowInitRecord init;
  init.fence = ready.fence;
  init.seq = static_cast<int64_t>(journal->last_seq()) + 1;
  init.workflow_id = ready.workflow_id;
  init.task_count = kWorkflowTasks;
  init.batch_size = kBatchSize;
  init.effective_batch_size = pr::EffectiveBatchSize(kWorkflowTasks, kBatchSize);
  init.list_hash = pr::ListHash(ids);
  init.list_records = static_cast<int64_t>(lists.size());
  Append(journal.get(), pr::RecordType::kWorkflowInit, pr::Encode(init));
  for (pr::TaskListRecord& list : lists) {
    list.fence = ready.fence;
    list.seq = static_cast<int64_t>(journal->last_seq()) + 1;
    Append(journal.get(), pr::RecordType::kTaskList, pr::Encode(list));
  }
  pr::CommitRecord commit;
  commit.fence = ready.fence;
  commit.seq = static_cast<int64_t>(journal->last_seq()) + 1;
  commit.role = pr::Role::kInit;
  commit.outputs[pr::kOutSummary] = "{\"workflow_id\":\"rss-bench\"}";
  const uint64_t last = Append(journal.get(), pr::RecordType::kCommit, pr::Encode(commit));
  WaitForAck(env, dir, static_cast<int64_t>(last), pid, log);
  if (int code = Stop(pid); code != 0) Die("init sidecar exited " + std::to_string(code));
}

// Shard 0: kRecords records through the shard role's sidecar while sampling
// its RSS.
ShardRun WriteShard(Env* env, const std::string& tmp, const std::string& log) {
  const std::string dir = tmp + "/s0";
  pid_t pid = SpawnSidecar({"--role", "shard", "--shard", "0", "--work-dir", dir}, log);
  const pr::Ready ready = WaitForReady(env, dir, pid, log);
  ShardRun run;
  run.rss_at_ready = ReadRss(pid).first;

  RssSampler sampler(env, dir, pid);
  ShardJournal journal(env, dir, pid, log, ready.fence);
  const pr::OrdinalRange range = pr::ShardRange(0, kWorkflowTasks, kBatchSize);
  if (range.end - range.begin != kRecords / kRecordsPerTask) Die("shard size does not match");
  run.shard_tasks = range.end - range.begin;
  for (int64_t ordinal = range.begin; ordinal < range.end; ++ordinal) journal.WriteTask(ordinal);
  if (journal.seq() != kRecords) Die("wrote " + std::to_string(journal.seq()) + " records");
  run.written_at = sampler.Elapsed();
  run.journal_bytes = journal.size();
  run.backpressure_s = journal.backpressure_s();
  WaitForAck(env, dir, kRecords, pid, log);
  run.flushed_at = sampler.Elapsed();
  const auto [rss_end, hwm] = ReadRss(pid);
  run.rss_end = rss_end;

  journal.Commit();
  WaitForAck(env, dir, kRecords + 1, pid, log);
  run.samples = sampler.Stop();
  run.peak = std::max(hwm, ReadRss(pid).second);
  const int code = Stop(pid);
  if (code != 0) Die("shard sidecar exited " + std::to_string(code));
  return run;
}

// Fails when the sidecar's log holds a warning or an error. The log is JSON
// lines when stderr is not a terminal ("level":"error"), text otherwise
// (" ERROR ").
void CheckLog(const std::string& log) {
  std::ifstream in(log);
  std::string line;
  int64_t problems = 0;
  while (std::getline(in, line)) {
    const bool bad = line.find("\"level\":\"error\"") != std::string::npos ||
                     line.find("\"level\":\"critical\"") != std::string::npos ||
                     line.find("\"level\":\"warn\"") != std::string::npos ||
                     line.find(" ERROR ") != std::string::npos ||
                     line.find(" CRITICAL ") != std::string::npos ||
                     line.find(" WARN ") != std::string::npos;
    if (bad && problems++ < 5) std::fprintf(stderr, "sidecar log: %s\n", line.c_str());
  }
  if (problems > 0) Die(std::to_string(problems) + " warnings or errors in the sidecar's log");
}

void Report(ShardRun run) {
  std::vector<Sample>& samples = run.samples;
  samples.push_back(Sample{run.flushed_at, kRecords, run.rss_end});
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.t < b.t; });
  const Sample* warm = nullptr;
  int64_t max_after_warm = 0;
  for (const Sample& s : samples) {
    if (s.rss_kib == 0) continue;
    if (warm == nullptr && s.acked >= kWarmupRecords) warm = &s;
    if (warm != nullptr && s.acked <= kRecords)
      max_after_warm = std::max(max_after_warm, s.rss_kib);
  }
  if (warm == nullptr) Die("no sample after warm-up");
  const double growth = MiB(max_after_warm - warm->rss_kib);
  const double rate = static_cast<double>(kRecords) / run.flushed_at;
  const double steady = static_cast<double>(kRecords - warm->acked) / (run.flushed_at - warm->t);

  std::printf("tm-sidecar (SQLite, role shard, %lld tasks in the shard, %lld in the workflow)\n",
              static_cast<long long>(run.shard_tasks), static_cast<long long>(kWorkflowTasks));
  std::printf("records: %lld (task_start, progress, note, task_end; %.1f MiB of journal)\n",
              static_cast<long long>(kRecords), static_cast<double>(run.journal_bytes) / (1 << 20));
  std::printf("samples: %zu every %d ms\n", samples.size(), kSampleMillis);
  std::printf("RSS at ready:                       %7.2f MiB\n", MiB(run.rss_at_ready));
  std::printf("RSS after warm-up (%lld acked):   %7.2f MiB (t=%.1f s)\n",
              static_cast<long long>(warm->acked), MiB(warm->rss_kib), warm->t);
  std::printf("RSS at the end (all acked):         %7.2f MiB (t=%.1f s)\n", MiB(run.rss_end),
              run.flushed_at);
  std::printf("max RSS after warm-up:              %7.2f MiB\n", MiB(max_after_warm));
  std::printf("growth after warm-up (max - warm):  %7.2f MiB (target < 2 MiB: %s)\n", growth,
              growth < 2.0 ? "met" : "missed");
  std::printf("growth warm-up -> end:              %7.2f MiB\n", MiB(run.rss_end - warm->rss_kib));
  std::printf("peak RSS (VmHWM):                   %7.2f MiB (target < 32 MiB: %s)\n",
              MiB(run.peak), MiB(run.peak) < 32.0 ? "met" : "missed");
  std::printf("journal written in %.2f s (%.2f s waiting on back-pressure)\n", run.written_at,
              run.backpressure_s);
  std::printf("flush throughput: %.0f records/s overall, %.0f records/s after warm-up\n", rate,
              steady);
}

}  // namespace

int main() {
  Env* env = Env::Default();
  std::string tmp = "/var/tmp/taskmaster-rss-XXXXXX";
  if (mkdtemp(tmp.data()) == nullptr) Die("mkdtemp failed");
  setenv("TM_STORE", ("sqlite:" + tmp + "/state.db").c_str(), 1);
  setenv("TM_LISTEN", "127.0.0.1:0", 1);
  setenv("TM_STATE_KEY", "rss-bench", 1);
  const std::string log = tmp + "/sidecar.log";

  RecordWorkflow(env, tmp, log);
  ShardRun run = WriteShard(env, tmp, log);
  CheckLog(log);
  Report(std::move(run));
  std::filesystem::remove_all(tmp);
  return 0;
}
