// The run itself: validates everything before writing anything, takes the state
// dir, drains what an earlier run left, then plays the WorkflowTemplate's steps
// — init, the shards, finalize — and prints the summary or how to resume.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>

#include "local.h"
#include "local/clock.h"
#include "local/console.h"
#include "local/disk_space.h"
#include "local/leftovers.h"
#include "local/pods.h"
#include "local/report.h"
#include "local/role_outputs.h"
#include "local/shards.h"
#include "local/state_dir.h"
#include "local/text.h"
#include "task_process.h"
#include "taskmaster/checksum.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::step {

namespace pr = protocol;

namespace local {
namespace {

// Init and finalize are retried like the template's init (retryStrategy limit 2).
constexpr int kRoleTries = 3;

Result<std::string> SelfExecutable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n < 0) return Status::FromErrno("readlink /proc/self/exe", errno);
  return std::string(buf, static_cast<size_t>(n));
}

Result<std::string> AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[4096];
  if (::getcwd(buf, sizeof(buf)) == nullptr) return Status::FromErrno("getcwd", errno);
  std::string rel = path;
  while (rel.size() > 2 && rel.compare(0, 2, "./") == 0) rel.erase(0, 2);
  if (rel == ".") return std::string(buf);
  return JoinPath(buf, rel);
}

// --sidecar, else tm-sidecar beside this executable, else on PATH.
Result<std::string> FindSidecar(const std::string& flag, const std::string& self) {
  if (!flag.empty()) {
    auto found = ResolveExecutable(flag);
    if (!found.ok()) return Status::InvalidArgument("--sidecar: " + found.status().message());
    return AbsolutePath(*found);
  }
  const std::string beside = JoinPath(DirName(self), "tm-sidecar");
  if (ResolveExecutable(beside).ok()) return beside;
  auto on_path = ResolveExecutable("tm-sidecar");
  if (on_path.ok()) return AbsolutePath(*on_path);
  return Status::InvalidArgument("cannot find tm-sidecar beside " + self +
                                 " or on PATH: give --sidecar PATH");
}

// What the run needs of its list: how many tasks, and the list hash.
struct ListDigest {
  int64_t count = 0;
  std::string hash;
};

// Checks a --task-list argument as a stream. The messages are the scan's,
// with "--task-list: " before those about reading the file.
Result<ListDigest> DigestList(Env* env, const std::string& arg) {
  ListDigest digest;
  pr::ListHasher hash;
  const auto count = [&](std::string_view id) {
    ++digest.count;
    hash.Add(id);
    return Status::OK();
  };
  Status s;
  if (arg.empty() || arg.front() != '@') {
    s = ScanTaskList(arg, count);
  } else if (arg.size() == 1) {
    s = Status::InvalidArgument("--task-list: '@' must be followed by a file path");
  } else if (auto file = env->NewRandomAccessFile(arg.substr(1)); !file.ok()) {
    s = file.status().WithContext("--task-list");
  } else {
    s = ScanTaskList(**file, count);
    if (!s.ok() && !s.IsInvalidArgument()) s = s.WithContext("--task-list");
  }
  if (!s.ok()) return s;
  digest.hash = hash.Digest();
  return digest;
}

// Writes the list of a --task-list argument to `path` (atomically), byte for
// byte, a chunk at a time.
Status CopyList(Env* env, const std::string& arg, const std::string& path) {
  if (arg.empty() || arg.front() != '@') return WriteFileAtomic(env, path, arg, false);
  auto in = env->NewRandomAccessFile(arg.substr(1));
  if (!in.ok()) return in.status();
  const std::string tmp = path + ".tmp";
  auto out = env->NewWritableFile(tmp);
  if (!out.ok()) return out.status();
  constexpr size_t kChunk = 1 << 20;
  std::string chunk;
  Status s;
  for (uint64_t offset = 0; s.ok(); offset += chunk.size()) {
    s = (*in)->Read(offset, kChunk, &chunk);
    if (s.ok()) s = (*out)->Append(chunk);
    if (chunk.size() < kChunk) break;
  }
  if (Status closed = (*out)->Close(); s.ok()) s = closed;
  if (s.ok()) s = env->Rename(tmp, path);
  if (!s.ok()) env->RemoveFile(tmp);
  return s;
}

// One `tm-step local`, from its options to its exit code.
class LocalRun {
 public:
  LocalRun(Env* env, const LocalOptions& options)
      : env_(env), options_(options), console_(::isatty(STDERR_FILENO) == 1) {}

  int Run();

 private:
  // Each returns nullopt to go on, else the run's exit code.
  std::optional<int> Prepare();
  std::optional<int> Validate();
  std::optional<int> TakeStateDir();
  std::optional<int> RunInit();
  // The shards init listed, ready to run.
  void PlanShards(const InitPlan& init);
  int RunFinalize();
  // Runs a pod role (init or finalize) to completion with retries; the exit
  // code of its step, or nullopt after an interrupt or when it cannot run.
  std::optional<int> RunRolePod(pr::Role role, std::unique_ptr<Pod>* out);
  // What the pods are started with: the programs, the store, the roles' flags.
  PodLaunch Launch() const;
  // The run's copy of the list, which init reads.
  std::string TaskListFile() const { return JoinPath(state_dir_->run(), "task-list.json"); }
  // Waits `seconds` (the loop still runs), or until a stop signal comes.
  void BackOff(double seconds);
  void PrintSummary(int exit_code);

  Env* env_;
  LocalOptions options_;
  Console console_;
  std::unique_ptr<StateDir> state_dir_;
  std::unique_ptr<Pods> pods_;
  std::unique_ptr<ShardRunner> shards_;

  std::string self_;
  std::string sidecar_path_;
  std::string state_key_;
  int64_t task_count_ = 0;
  std::string list_hash_;
  std::string store_identity_;  // which store the journals under work/ belong to
  int64_t parallelism_ = 1;
  int64_t started_ns_ = 0;
  int64_t batch_ = 1;  // what init settled on
  std::unique_ptr<Pod> finalize_;
};

std::optional<int> LocalRun::Validate() {
  if (options_.command.empty()) {
    std::cerr << "tm-step local: no task command: give it after --, e.g. -- ./task.sh\n";
    return pr::kExitUsage;
  }
  if (Status s = pr::CheckFailurePercent(options_.max_failure_percent); !s.ok()) {
    std::cerr << "tm-step local: " << s.message() << "\n";
    return pr::kExitUsage;
  }
  if (auto found = ResolveExecutable(options_.command[0]); !found.ok()) {
    std::cerr << "tm-step local: " << found.status().message() << "\n";
    return pr::kExitUsage;
  }
  // Read as a stream: the IDs are counted and hashed, not kept.
  auto digest = DigestList(env_, options_.task_list);
  if (!digest.ok()) {
    std::cerr << "tm-step local: " << digest.status().message() << "\n";
    return pr::kExitUsage;
  }
  task_count_ = digest->count;
  list_hash_ = digest->hash;
  state_key_ = options_.state_key.empty() ? "local-" + list_hash_.substr(5) : options_.state_key;
  if (Status s = ValidateId(state_key_, "state key"); !s.ok()) {
    std::cerr << "tm-step local: " << s.message() << "\n";
    return pr::kExitUsage;
  }
  if (options_.postgres.empty() && !options_.redis.empty()) {
    std::cerr << "tm-step local: --redis needs --postgres (with SQLite there is no live view)\n";
    return pr::kExitUsage;
  }
  auto sidecar = FindSidecar(options_.sidecar, self_);
  if (!sidecar.ok()) {
    std::cerr << "tm-step local: " << sidecar.status().message() << "\n";
    return pr::kExitUsage;
  }
  sidecar_path_ = *sidecar;
  return std::nullopt;
}

std::optional<int> LocalRun::TakeStateDir() {
  auto dir = AbsolutePath(options_.state_dir);
  if (!dir.ok()) {
    std::cerr << "tm-step local: " << dir.status().message() << "\n";
    return pr::kExitFailed;
  }
  // A full disk is refused before the state dir is touched: opening it writes
  // the lock's pid and clears run/ (the dir itself, or the nearest existing
  // dir above one still to be made, holds the file system it will be on).
  std::string existing = *dir;
  while (!env_->FileExists(existing) && existing != DirName(existing)) {
    existing = DirName(existing);
  }
  if (auto full = OutOfSpace(existing)) {
    console_.Error(*full + ".");
    return pr::kExitNotDurable;
  }
  state_dir_ = std::make_unique<StateDir>(env_, *dir);
  if (Status s = state_dir_->Open(); !s.ok()) {
    std::cerr << "tm-step local: " << s.message() << "\n";
    return s.IsBusy() || s.IsInvalidArgument() ? pr::kExitUsage : pr::kExitFailed;
  }
  return std::nullopt;
}

std::optional<int> LocalRun::Prepare() {
  auto self = SelfExecutable();
  if (!self.ok()) {
    std::cerr << "tm-step local: " << self.status().message() << "\n";
    return pr::kExitFailed;
  }
  self_ = *self;
  // Everything is validated before anything is written.
  if (auto code = Validate()) return code;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  parallelism_ = options_.parallelism > 0 ? options_.parallelism : std::max<long>(cpus, 1);
  if (auto code = TakeStateDir()) return code;

  store_identity_ =
      options_.postgres.empty() ? "sqlite" : "postgres " + Xxh3Tagged(options_.postgres);
  PodLaunch launch = Launch();
  Status s = CopyList(env_, options_.task_list, launch.task_list_file);
  if (s.ok()) {
    // Init reads the copy: it must hold the list validated above.
    auto copied = DigestList(env_, "@" + launch.task_list_file);
    if (!copied.ok()) {
      s = copied.status();
    } else if (copied->count != task_count_ || copied->hash != list_hash_) {
      s = Status::IOError("--task-list: the list changed while it was read; run again");
    }
  }
  if (!s.ok()) {
    std::cerr << "tm-step local: " << s.message() << "\n";
    return pr::kExitFailed;
  }
  pods_ = std::make_unique<Pods>(env_, &console_, state_dir_.get(), std::move(launch));
  pods_->set_after_turn([this] {
    if (shards_) shards_->ShowProgress(false);
  });
  return std::nullopt;
}

PodLaunch LocalRun::Launch() const {
  PodLaunch launch;
  launch.step_program = self_;
  launch.sidecar_program = sidecar_path_;
  if (options_.postgres.empty()) {
    launch.store_env["TM_STORE"] = "sqlite:" + state_dir_->database();
  } else {
    launch.store_env["TM_POSTGRES_DSN"] = options_.postgres;  // not in argv: ps shows argv
    if (!options_.redis.empty()) launch.store_env["TM_REDIS_URL"] = options_.redis;
  }
  launch.task_list_file = TaskListFile();
  launch.batch_size = options_.batch_size;
  launch.last_attempt = options_.pod_retries;
  launch.task_retries = options_.retries;
  launch.quarantine_after = options_.quarantine_after;
  launch.continue_on_error = options_.continue_on_error;
  launch.max_failures = options_.max_failures;
  launch.max_failure_percent = options_.max_failure_percent;
  launch.task_timeout_seconds = options_.task_timeout_seconds;
  launch.command = options_.command;
  return launch;
}

void LocalRun::BackOff(double seconds) {
  const int64_t until = env_->MonotonicNanos() + static_cast<int64_t>(seconds * kSecond);
  while (env_->MonotonicNanos() < until && pods_->stops() == 0) pods_->Pump(until);
}

std::optional<int> LocalRun::RunRolePod(pr::Role role, std::unique_ptr<Pod>* out) {
  for (int attempt = 0; attempt < kRoleTries; ++attempt) {
    auto pod = pods_->New(role, 0, attempt, state_key_);
    if (Status s = pods_->Start(pod.get()); !s.ok()) {
      console_.Error(fmt::format("cannot start {}: {}", pod->name, s.message()));
      pods_->WaitAll();
      return std::nullopt;
    }
    while (!pod->finished) pods_->Pump(kNever);
    const int step = pod->step_exit.value_or(pr::kExitFailed);
    const int sidecar = pod->sidecar_exit.value_or(0);
    *out = std::move(pod);
    Pod& p = **out;
    if (p.kept) return std::nullopt;
    if (pods_->stops() > 0) return std::nullopt;
    if (step == pr::kExitOk || step == pr::kExitFailed || step == pr::kExitUsage ||
        sidecar == pr::kExitUsage) {
      return sidecar == pr::kExitUsage ? pr::kExitUsage : step;
    }
    const double delay = options_.backoff_seconds * std::pow(2.0, attempt);
    console_.Warn(fmt::format("{} exited with code {} (sidecar {}); {}", p.name, step, sidecar,
                              attempt + 1 < kRoleTries
                                  ? fmt::format("retrying in {}", FormatSeconds(delay))
                                  : std::string("giving up")));
    for (const auto& line : pods_->Problems(p)) console_.Warn("  " + line);
    if (attempt + 1 < kRoleTries) {
      BackOff(delay);
      if (pods_->stops() > 0) return std::nullopt;
    }
  }
  return pr::kExitFailed;
}

std::optional<int> LocalRun::RunInit() {
  std::unique_ptr<Pod> pod;
  auto code = RunRolePod(pr::Role::kInit, &pod);
  if (pods_->stops() > 0) return pr::kExitInterrupted;
  if (!code || *code != pr::kExitOk) {
    const int exit_code = code.value_or(pr::kExitFailed);
    const std::vector<std::string> problems =
        pod ? pods_->Problems(*pod) : std::vector<std::string>();
    console_.Error(fmt::format("init failed (exit code {}){}", exit_code,
                               pod ? " — see " + pod->log_dir : ""));
    for (const auto& line : problems) console_.Error("  " + line);
    return exit_code == pr::kExitUsage ? pr::kExitUsage : pr::kExitFailed;
  }
  auto init = InitPlanOf(pod->outputs);
  if (!init) {
    console_.Error("init wrote no usable outputs (shards, batch-size) in " + pod->dir);
    return pr::kExitFailed;
  }
  PlanShards(*init);
  return std::nullopt;
}

void LocalRun::PlanShards(const InitPlan& init) {
  batch_ = init.batch_size;
  const int64_t n = task_count_;
  int64_t pending_tasks = 0;
  std::vector<std::unique_ptr<Shard>> shards;
  for (int64_t index : init.shards) {
    auto shard = std::make_unique<Shard>();
    shard->index = index;
    const pr::OrdinalRange range = pr::ShardRange(shard->index, n, batch_);
    shard->tasks = range.end - range.begin;
    pending_tasks += shard->tasks;
    shards.push_back(std::move(shard));
  }
  const int64_t shard_count = pr::ShardCount(n, batch_);
  if (shards.empty()) {
    console_.Info(fmt::format("All {} tasks already finished in an earlier run", n));
  } else {
    const auto pending = static_cast<int64_t>(shards.size());
    console_.Info(fmt::format(
        "Running {} tasks in {} shard{} of up to {} tasks, {} at a time{}", pending_tasks, pending,
        pending == 1 ? "" : "s", batch_, std::min(parallelism_, pending),
        pending < shard_count
            ? fmt::format(" ({} of {} shards already done)", shard_count - pending, shard_count)
            : ""));
  }
  shards_ = std::make_unique<ShardRunner>(env_, &console_, pods_.get(), options_, state_key_,
                                          parallelism_, std::move(shards), n, n - pending_tasks);
}

int LocalRun::RunFinalize() {
  auto code = RunRolePod(pr::Role::kFinalize, &finalize_);
  if (pods_->stops() > 0) return pr::kExitInterrupted;
  if (!code) return pr::kExitFailed;
  if (*code != pr::kExitOk && *code != pr::kExitFailed) {
    console_.Error(fmt::format("finalize failed (exit code {}); see {}", *code,
                               finalize_ ? finalize_->log_dir : state_dir_->logs()));
    if (finalize_) {
      for (const auto& line : pods_->Problems(*finalize_)) console_.Error("  " + line);
    }
    return *code == pr::kExitUsage ? pr::kExitUsage : pr::kExitFailed;
  }
  return *code;
}

void LocalRun::PrintSummary(int exit_code) {
  RunReport report;
  report.state_key = state_key_;
  report.succeeded = exit_code == pr::kExitOk;
  report.wall_seconds = static_cast<double>(env_->MonotonicNanos() - started_ns_) / kSecond;
  report.finalize = finalize_.get();
  report.skipped = shards_->skipped();
  report.retried_runs = shards_->retried_runs();
  report.shard_retries = shards_->shard_retries();
  report.batch_size = batch_;
  report.env = env_;
  report.task_list_file = TaskListFile();
  report.state_dir = state_dir_->root();
  report.logs_dir = state_dir_->logs();
  report.sidecar_program = sidecar_path_;
  report.options = &options_;
  local::PrintSummary(&console_, report);
}

int LocalRun::Run() {
  started_ns_ = env_->MonotonicNanos();
  if (auto code = Prepare()) return *code;
  console_.Info(fmt::format("Workflow {}: {} tasks; state in {} (the same command resumes)",
                            state_key_, task_count_, state_dir_->root()));
  std::optional<int> stop =
      LeftoverDrain(env_, &console_, state_dir_.get(), pods_.get()).Run(store_identity_);
  if (!stop) stop = RunInit();
  if (!stop) stop = shards_->Run();
  const int code = stop ? *stop : RunFinalize();
  // Whatever happened, nothing of ours may outlive the run.
  pods_->WaitAll();
  if (pods_->out_of_space()) {
    console_.Error("stopped: " + *pods_->out_of_space() + ".");
    PrintResume(&console_, state_dir_->root(), state_key_, options_.invocation);
    return pr::kExitNotDurable;
  }
  if (code == pr::kExitInterrupted || pods_->stops() > 0) {
    PrintResume(&console_, state_dir_->root(), state_key_, options_.invocation);
    return pr::kExitInterrupted;
  }
  if (finalize_ && (code == pr::kExitOk || code == pr::kExitFailed)) {
    PrintSummary(code);
  } else {
    console_.Finish();
  }
  return code;
}

}  // namespace
}  // namespace local

int RunLocal(Env* env, const LocalOptions& options) {
  local::LocalRun run(env, options);
  return run.Run();
}

}  // namespace taskmaster::step
