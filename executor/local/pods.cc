#include "local/pods.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "local/children.h"
#include "local/disk_space.h"
#include "local/journal_state.h"
#include "local/log_problems.h"
#include "local/text.h"
#include "taskmaster/pod_args.h"

namespace taskmaster::step::local {

namespace pr = protocol;

namespace {

// A sidecar stops grace - 2 s after SIGTERM when no commit record comes. Its
// step has exited by then (in the normal path with its commit already durable),
// so what is left is a flush: 2 s for a step that died without committing, 1 s
// for a journal of an earlier run. A sidecar that runs out leaves the journal
// unacknowledged, and it is drained again rather than lost.
constexpr int kStepSidecarGraceSeconds = 4;
constexpr int kDrainGraceSeconds = 3;

uint64_t SizeOrZero(Env* env, const std::string& path) {
  auto size = env->FileSize(path);
  return size.ok() ? *size : 0;
}

std::string LogDirName(pr::Role role, int64_t shard) {
  return role == pr::Role::kShard ? std::to_string(shard) : std::string(pr::ToString(role));
}

}  // namespace

Pods::Pods(Env* env, Console* console, StateDir* state_dir, PodLaunch launch)
    : env_(env),
      console_(console),
      state_dir_(state_dir),
      launch_(std::move(launch)),
      sidecars_(env, state_dir, launch_.sidecar_program, launch_.store_env),
      run_watcher_(state_dir->run(), DirWatcher::kReplaced) {}

Pods::~Pods() {
  sidecars_.Close();
}

std::unique_ptr<Pod> Pods::New(pr::Role role, int64_t shard, int64_t attempt,
                               const std::string& state_key) const {
  auto pod = std::make_unique<Pod>();
  pod->role = role;
  pod->shard = shard;
  pod->attempt = attempt;
  pod->state_key = state_key;
  pod->name = role == pr::Role::kShard ? "shard-" + std::to_string(shard) : pr::ToString(role);
  pod->dir = JoinPath(state_dir_->work(), pod->name);
  pod->log_dir = JoinPath(state_dir_->logs(), LogDirName(role, shard));
  if (role == pr::Role::kShard) {
    pod->progress_file = JoinPath(state_dir_->run(), pod->name + ".progress");
  }
  return pod;
}

std::unique_ptr<Pod> Pods::Adopt(const std::string& name, const pr::Ready& ready) const {
  auto pod = std::make_unique<Pod>();
  pod->name = name;
  pod->dir = JoinPath(state_dir_->work(), name);
  pod->state_key = ready.workflow_id;
  pod->role = ready.role;
  pod->shard = ready.shard;
  pod->drain = true;
  pod->log_dir = JoinPath(state_dir_->logs(), LogDirName(ready.role, ready.shard));
  return pod;
}

Status Pods::Start(Pod* pod) {
  if (env_->IsDirectory(pod->dir)) TrashDir(pod->dir);
  if (!pod->progress_file.empty() && env_->FileExists(pod->progress_file)) {
    TM_RETURN_IF_ERROR(env_->RemoveFile(pod->progress_file));
  }
  TM_RETURN_IF_ERROR(StartSidecar(pod));
  active_.push_back(pod);
  Status s = StartStep(pod);
  if (!s.ok()) {
    sidecars_.Stop(pod);
    pod->sidecar_stopped = true;
    return s;
  }
  return Status::OK();
}

Status Pods::StartDrain(Pod* pod) {
  TM_RETURN_IF_ERROR(StartSidecar(pod));
  active_.push_back(pod);
  return Status::OK();
}

void Pods::Keep(Pod* pod) {
  pod->kept = true;
  pod->finished = true;
  ++kept_dirs_;
}

Status Pods::StartSidecar(Pod* pod) {
  TM_RETURN_IF_ERROR(env_->CreateDirs(pod->log_dir));
  pr::SidecarArgs args;
  args.program = launch_.sidecar_program;
  args.role = pod->role;
  args.shard = pod->shard;
  args.state_key = pod->state_key;
  args.work_dir = pod->dir;
  args.grace_seconds = pod->drain ? kDrainGraceSeconds : kStepSidecarGraceSeconds;
  args.progress_file = pod->progress_file;
  pod->sidecar_log_offset = SizeOrZero(env_, pod->LogPath("tm-sidecar"));
  pod->sidecar_exit.reset();
  pod->sidecar_stopped = false;
  TM_RETURN_IF_ERROR(sidecars_.Start(pod, args));
  pod->sidecar_started = true;
  return Status::OK();
}

std::vector<std::string> Pods::StepArgv(const Pod& pod) const {
  pr::StepCommonArgs common;
  common.program = launch_.step_program;
  // The work dir outlives the step, yet the step does not fsync each record:
  // its `tm-sidecar --local` makes the journal durable once per flush, before
  // the store commits and the ack covers it (group commit). A kill -9 loses
  // nothing either way (the page cache outlives the processes); a power loss
  // can take back only records not acknowledged yet, whose tasks then run again.
  common.sync_journal = false;
  common.state_key = pod.state_key;
  common.work_dir = pod.dir;
  switch (pod.role) {
    case pr::Role::kInit: {
      pr::StepInitArgs args;
      args.common = common;
      args.task_list = "@" + launch_.task_list_file;
      args.batch_size = launch_.batch_size;
      args.no_inline_limit = true;  // the list is a file on this machine, in no Argo object
      return args.ToArgv();
    }
    case pr::Role::kShard: {
      pr::StepRunArgs args;
      args.common = common;
      args.shard = pod.shard;
      args.attempt = pod.attempt;
      args.last_attempt = launch_.last_attempt;
      args.log_dir = pod.log_dir;
      args.continue_on_error = launch_.continue_on_error;
      args.max_failures = launch_.max_failures;
      args.max_failure_percent = launch_.max_failure_percent;
      args.task_retries = launch_.task_retries;
      args.quarantine_after = launch_.quarantine_after;
      args.task_timeout_seconds = launch_.task_timeout_seconds;
      args.command = launch_.command;
      return args.ToArgv();
    }
    case pr::Role::kFinalize:
      break;
  }
  pr::StepFinalizeArgs args;
  args.common = common;
  args.max_failures = launch_.max_failures;
  args.max_failure_percent = launch_.max_failure_percent;
  return args.ToArgv();
}

Status Pods::StartStep(Pod* pod) {
  TaskSpec spec = ChildSpec(StepArgv(*pod), pod->LogPath("tm-step"));
  pod->step_log_offset = SizeOrZero(env_, spec.log_path);
  auto process = TaskProcess::Spawn(spec);
  if (!process.ok()) return process.status();
  pod->step = std::move(process).value();
  return Status::OK();
}

void Pods::Pump(int64_t wake_ns) {
  const int64_t now = env_->MonotonicNanos();
  int64_t wake = std::min(wake_ns, now + (console_->tty() ? Console::kTtyRefreshNanos : kSecond));
  struct pollfd fds[3] = {
      {signals_.fd(), POLLIN, 0}, {sidecars_.fd(), POLLIN, 0}, {run_watcher_.fd(), POLLIN, 0}};
  const int timeout_ms =
      static_cast<int>(std::clamp<int64_t>((wake - now + kMilli - 1) / kMilli, 0, 1000));
  if (::poll(fds, 3, timeout_ms) < 0 && errno != EINTR) std::abort();
  run_watcher_.Drain();
  signals_.Drain();
  sidecars_.Poll();
  while (stops_seen_ < signals_.stop_requests()) OnStop(++stops_seen_);
  CheckSpace(now);
  for (Pod* pod : active_) Reap(pod);
  for (Pod* pod : active_) Advance(pod);
  active_.erase(std::remove_if(active_.begin(), active_.end(), [](Pod* p) { return p->finished; }),
                active_.end());
  if (after_turn_) after_turn_();
}

void Pods::Reap(Pod* pod) {
  int status;
  if (pod->step_running() && pod->step->TryReap(&status)) pod->step_exit = DecodeWaitStatus(status);
}

void Pods::OnStop(int request) {
  if (request == 1) {
    console_->Warn(fmt::format(
        "{}: stopping. Running tasks get SIGTERM and their steps commit what they did; the "
        "same command resumes.",
        signals_.stop_signal() == SIGINT ? "interrupted (Ctrl-C)" : "SIGTERM"));
    StopSteps();
    return;
  }
  int64_t steps = 0;
  for (Pod* pod : active_) steps += pod->step_running() ? 1 : 0;
  console_->Warn(fmt::format(
      "still stopping: {} steps are committing their journals. kill -9 is safe too: the next "
      "run drains what the journals hold.",
      steps));
}

void Pods::StopSteps() {
  for (Pod* pod : active_) {
    if (pod->step_running()) pod->step->Signal(SIGTERM);
  }
}

void Pods::CheckSpace(int64_t now_ns) {
  if (out_of_space_ || now_ns < next_space_check_ns_) return;
  // statvfs costs a microsecond; ten times a second bounds what a run writes
  // into a full disk before it stops.
  next_space_check_ns_ = now_ns + 100 * kMilli;
  out_of_space_ = OutOfSpace(state_dir_->root());
  if (!out_of_space_) return;
  console_->Error("stopping: " + *out_of_space_ + ".");
  StopSteps();
}

void Pods::Advance(Pod* pod) {
  if (pod->finished) return;
  if (pod->sidecar_running() && !pod->sidecar_stopped) {
    // A step's sidecar stops once the step exited (its commit record is durable
    // by then); a drain sidecar at once: it drains what the journal holds.
    if (pod->drain || pod->step_exit.has_value()) {
      sidecars_.Stop(pod);
      pod->sidecar_stopped = true;
    }
  }
  if (pod->step_running() && pod->sidecar_exit && !pod->step_killed) {
    // Nothing more can become durable; what the journal holds is drained later.
    console_->Error(
        fmt::format("the sidecar of {} exited with code {} before its step; stopping "
                    "the step (see {})",
                    pod->name, *pod->sidecar_exit, pod->LogPath("tm-sidecar")));
    pod->step->Signal(SIGKILL);
    pod->step_killed = true;
  }
  if (pod->step_running() || pod->sidecar_running()) return;
  Settle(pod);
}

void Pods::Settle(Pod* pod) {
  if (!pod->drain && pod->outputs.empty()) CollectOutputs(pod);
  // No ready: no fence was taken, the step never wrote a record.
  const bool restored = env_->FileExists(JoinPath(pod->dir, pr::kReadyFile));
  if (!restored || (pod->sidecar_exit == 0 && JournalFullyAcked(env_, pod->dir))) {
    if (env_->IsDirectory(pod->dir)) TrashDir(pod->dir);
    pod->finished = true;
    return;
  }
  if (!pod->redrained) {
    // Another sidecar adopts the dir and commits what is left, then stops.
    pod->redrained = true;
    pod->drain = true;
    console_->Detail(fmt::format("draining the journal of {} (sidecar exit code {})", pod->name,
                                 pod->sidecar_exit.value_or(-1)));
    Status s = StartSidecar(pod);
    if (s.ok()) return;
    console_->Error(fmt::format("cannot start a sidecar to drain {}: {}", pod->dir, s.message()));
  }
  KeepAndSayWhy(pod);
}

void Pods::CollectOutputs(Pod* pod) {
  const std::string outputs = JoinPath(pod->dir, pr::kOutputsDir);
  auto names = env_->ListDir(outputs);
  if (names.ok()) {
    for (const std::string& name : *names) {
      if (name.find('.') != std::string::npos || name == pr::kBarrierTimeoutFile) continue;
      auto text = env_->ReadFile(JoinPath(outputs, name));
      if (text.ok()) pod->outputs[name] = TrimEnd(*text);
    }
  }
  if (pod->role == pr::Role::kFinalize) {
    auto text =
        env_->ReadFile(JoinPath(JoinPath(pod->dir, pr::kRestoreDir), pr::kRestoreSummaryFile));
    if (text.ok()) pod->restore_summary = *text;
  }
}

void Pods::KeepAndSayWhy(Pod* pod) {
  Keep(pod);
  if (auto damage = JournalCorruption(env_, pod->dir)) {
    ++corrupt_dirs_;
    console_->Error(fmt::format(
        "the journal in {} is corrupt ({}): the records after the damage can never be "
        "committed. Move the directory away to go on (mv {} {}.corrupt); the tasks it covered "
        "then run again from their last committed checkpoint",
        pod->dir, *damage, pod->dir, pod->dir));
    return;
  }
  console_->Error(fmt::format(
      "the journal in {} still holds records the store has not acknowledged (sidecar exit code "
      "{}); it is kept, and the next run drains it first. See {}",
      pod->dir, pod->sidecar_exit.value_or(-1), pod->LogPath("tm-sidecar")));
}

void Pods::TrashDir(const std::string& dir) {
  if (Status s = state_dir_->Trash(dir); !s.ok()) console_->Warn(s.message());
}

std::vector<std::string> Pods::Problems(const Pod& pod) const {
  std::vector<std::string> problems =
      LogProblems(env_, pod.LogPath("tm-step"), pod.step_log_offset, 3);
  if (pod.sidecar_exit.value_or(0) != 0) {
    for (auto& line : LogProblems(env_, pod.LogPath("tm-sidecar"), pod.sidecar_log_offset, 3)) {
      problems.push_back("tm-sidecar: " + line);
    }
  }
  return problems;
}

}  // namespace taskmaster::step::local
