#include "task_runner.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

#include <spdlog/spdlog.h>

#include "control_channel.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {

namespace pr = protocol;

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int64_t kMilli = 1000000;
constexpr int64_t kSecond = 1000000000;

std::string DescribeExit(int wait_status, std::optional<int>* exit_code) {
  if (WIFEXITED(wait_status)) {
    *exit_code = WEXITSTATUS(wait_status);
    return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  }
  int sig = WTERMSIG(wait_status);
  *exit_code = 128 + sig;
  const char* name = sigabbrev_np(sig);
  return std::string("killed by signal ") + std::to_string(sig) +
         (name ? std::string(" (SIG") + name + ")" : "");
}

// Writes a reply line to the task; a task that stopped reading loses it.
void Reply(int fd, const std::string& line) {
  if (fd < 0) return;
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    spdlog::warn("could not answer the task on fd 3: {}", std::strerror(errno));
  }
}

}  // namespace

int64_t StopBudgetNanos(int grace_seconds) {
  return std::max<int64_t>(grace_seconds - 5, 1) * kSecond;
}

int64_t ChildStopBudgetNanos(int grace_seconds) { return StopBudgetNanos(grace_seconds) * 6 / 10; }

Result<TaskOutcome> TaskRunner::Run(const TaskSpec& command, const TaskRun& run) {
  Env* env = work_dir_->env();
  const int64_t start_ns = env->MonotonicNanos();
  TaskOutcome outcome;
  auto finish = [&](TaskOutcome o) {
    o.duration_ms = (env->MonotonicNanos() - start_ns) / kMilli;
    o.final = o.status == TaskStatus::kFailed && run.attempt >= run.last_attempt;
    return o;
  };

  TaskSpec spec = command;
  spec.set_env[pr::kEnvTaskId] = run.task_id;
  spec.set_env[pr::kEnvTaskIndex] = std::to_string(run.ordinal);
  spec.set_env[pr::kEnvTaskCount] = std::to_string(run.task_count);
  spec.set_env[pr::kEnvWorkflowId] = run.workflow_id;
  spec.set_env[pr::kEnvAttempt] = std::to_string(run.attempt);
  spec.set_env[pr::kEnvControlFd] = std::to_string(pr::kControlFd);
  if (run.checkpoint_path.empty()) {
    spec.unset_env.push_back(pr::kEnvCheckpoint);
  } else {
    spec.set_env[pr::kEnvCheckpoint] = run.checkpoint_path;
  }

  auto spawned = TaskProcess::Spawn(spec);
  if (!spawned.ok()) {
    outcome.status = TaskStatus::kFailed;
    outcome.exit_code = 127;
    outcome.error = spawned.status().message();
    return finish(outcome);
  }
  TaskProcess& proc = **spawned;

  Status fatal;
  int64_t generation = run.generation;
  struct PendingAck {
    int64_t seq;
    int64_t give_up_ns;  // kNever when waiting without bound
  };
  std::deque<PendingAck> pending_acks;
  bool backpressured = false;
  uint64_t acked_offset = 0;  // as of the last read of the ack file

  auto handle_line = [&](std::string_view line) {
    if (!fatal.ok()) return;
    auto parsed = ParseControlLine(line);
    if (!parsed.ok()) {
      spdlog::warn("task {}: ignoring a control line on fd 3: {}", run.task_id,
                   parsed.status().message());
      return;
    }
    const ControlMessage& msg = *parsed;
    for (const auto& key : msg.unknown_keys) {
      spdlog::warn("task {}: ignoring unknown key \"{}\" on fd 3", run.task_id, key);
    }
    if (msg.checkpoint) {
      const int64_t seq = work_dir_->next_seq();
      CheckpointFields fields{run.workflow_id, run.task_id, work_dir_->fence(),
                              seq,             generation + 1, env->NowUnixMillis()};
      auto doc = EncodeCheckpoint(fields, *msg.checkpoint);
      if (!doc.ok()) {
        spdlog::warn("task {}: refusing a checkpoint: {}", run.task_id, doc.status().message());
        if (msg.sync) Reply(proc.control_fd(), "{\"error\":\"checkpoint refused\"}\n");
      } else {
        auto appended = work_dir_->Append(pr::RecordType::kCheckpoint, msg.sync ? pr::kFlagSync : 0,
                                          [&](int64_t) { return *doc; });
        if (!appended.ok()) {
          fatal = appended.status();
          return;
        }
        ++generation;
        if (msg.sync) {
          const int64_t give_up =
              limits_.ack_wait_seconds > 0
                  ? env->MonotonicNanos() + static_cast<int64_t>(limits_.ack_wait_seconds * kSecond)
                  : kNever;
          pending_acks.push_back(PendingAck{*appended, give_up});
        }
      }
    }
    if (msg.progress) {
      auto appended = work_dir_->Append(pr::RecordType::kProgress, 0, [&](int64_t seq) {
        return pr::Encode(pr::ProgressRecord{work_dir_->fence(), seq, run.ordinal,
                                             msg.progress->first, msg.progress->second});
      });
      if (!appended.ok()) fatal = appended.status();
    }
    if (msg.note) {
      spdlog::info("task {}: {}", run.task_id, *msg.note);
      auto appended = work_dir_->Append(pr::RecordType::kNote, 0, [&](int64_t seq) {
        return pr::Encode(pr::NoteRecord{work_dir_->fence(), seq, run.ordinal, *msg.note});
      });
      if (!appended.ok()) fatal = appended.status();
    }
  };
  LineSplitter splitter(pr::kMaxControlLineBytes, handle_line, [&](size_t bytes) {
    spdlog::warn("task {}: ignoring a control line over {} bytes on fd 3 ({} so far)", run.task_id,
                 pr::kMaxControlLineBytes, bytes);
  });

  const int64_t timeout_at =
      limits_.task_timeout_seconds > 0
          ? start_ns + static_cast<int64_t>(limits_.task_timeout_seconds * kSecond)
          : kNever;
  int64_t kill_at = kNever;
  int64_t drain_until = kNever;
  bool term_sent = false, kill_sent = false, timed_out = false, interrupted = false;
  int wait_status = 0;

  while (true) {
    const int64_t now = env->MonotonicNanos();
    if (now >= limits_.deadline_ns && !signals_->stopping()) {
      spdlog::warn("stopping before the pod's deadline (ARGO_DEADLINE)");
      signals_->Stop(SIGTERM);
    }
    // A task that already exited keeps its own outcome: a stop during the fd-3
    // drain only ends the drain.
    if (!term_sent && !proc.reaped() && (signals_->stopping() || !fatal.ok())) {
      proc.SignalGroup(SIGTERM);
      term_sent = true;
      interrupted = true;
      kill_at = now + ChildStopBudgetNanos(limits_.grace_seconds);
    }
    if (proc.reaped() && (signals_->stopping() || !fatal.ok())) drain_until = now;
    if (!term_sent && !proc.reaped() && now >= timeout_at) {
      proc.SignalGroup(SIGTERM);
      term_sent = true;
      timed_out = true;
      kill_at = now + std::min<int64_t>(5 * kSecond, ChildStopBudgetNanos(limits_.grace_seconds));
    }
    if (!kill_sent && now >= kill_at) {
      proc.SignalGroup(SIGKILL);
      kill_sent = true;
    }
    if (!proc.reaped() && proc.TryReap(&wait_status)) drain_until = now + pr::kDrainControlMillis * kMilli;
    if (proc.reaped() && (proc.control_fd() < 0 || now >= drain_until)) break;

    // The ack file is read only when something waits on it: a sync checkpoint,
    // or a journal that is over the back-pressure bound by the last ack seen.
    if (!pending_acks.empty() || backpressured ||
        NeedsBackpressure(work_dir_->journal_size(), acked_offset, pr::kBackpressureBytes)) {
      const pr::Ack ack = work_dir_->ReadAck();
      acked_offset = ack.offset;
      while (!pending_acks.empty() && pending_acks.front().seq <= ack.seq) {
        Reply(proc.control_fd(), "{\"ack\":" + std::to_string(pending_acks.front().seq) + "}\n");
        pending_acks.pop_front();
      }
      // Acks come in order: only the oldest can be overdue first.
      while (!pending_acks.empty() && now >= pending_acks.front().give_up_ns) {
        spdlog::warn("task {}: sync checkpoint {} not acknowledged in time; telling the task",
                     run.task_id, pending_acks.front().seq);
        Reply(proc.control_fd(), "{\"error\":\"not durable in time\",\"seq\":" +
                                     std::to_string(pending_acks.front().seq) + "}\n");
        pending_acks.pop_front();
      }
      backpressured = NeedsBackpressure(work_dir_->journal_size(), ack.offset, pr::kBackpressureBytes);
    }

    struct pollfd fds[3];
    int nfds = 0;
    fds[nfds++] = {signals_->fd(), POLLIN, 0};
    // Once the task exited, what it left on fd 3 is read even over the bound.
    const int control_index =
        (proc.control_fd() >= 0 && (!backpressured || proc.reaped())) ? nfds : -1;
    if (control_index >= 0) fds[nfds++] = {proc.control_fd(), POLLIN, 0};
    const bool watch_acks = !pending_acks.empty() || backpressured;
    if (watch_acks && work_dir_->watcher().fd() >= 0) {
      fds[nfds++] = {work_dir_->watcher().fd(), POLLIN, 0};
    }
    // Only deadlines still ahead: one already acted on must not wake us in a loop.
    int64_t wake = std::min({term_sent ? kNever : timeout_at, kill_sent ? kNever : kill_at,
                             drain_until, signals_->stopping() ? kNever : limits_.deadline_ns});
    if (watch_acks) wake = std::min(wake, now + pr::kReadyPollMillis * kMilli);
    if (!pending_acks.empty()) wake = std::min(wake, pending_acks.front().give_up_ns);
    int timeout_ms =
        wake == kNever ? -1 : static_cast<int>(std::clamp<int64_t>((wake - now + kMilli - 1) / kMilli, 0, 60000));
    if (::poll(fds, nfds, timeout_ms) < 0 && errno != EINTR) {
      return Status::FromErrno("poll", errno);
    }
    if (fds[0].revents & POLLIN) signals_->Drain();
    if (watch_acks) work_dir_->watcher().Drain();
    if (control_index >= 0 && fds[control_index].revents) {
      char buf[65536];
      while (proc.control_fd() >= 0) {
        ssize_t n = ::read(proc.control_fd(), buf, sizeof(buf));
        if (n > 0) {
          splitter.Feed(std::string_view(buf, static_cast<size_t>(n)));
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        splitter.Finish();
        proc.CloseControl();
      }
    }
  }
  splitter.Finish();
  proc.SignalGroup(SIGKILL);
  proc.CloseControl();
  if (!fatal.ok()) return fatal;

  if (interrupted) {
    outcome.status = TaskStatus::kInterrupted;
    DescribeExit(wait_status, &outcome.exit_code);
    const char* name = sigabbrev_np(signals_->stop_signal());
    outcome.error = std::string("interrupted by SIG") + (name ? name : "TERM");
  } else if (timed_out) {
    outcome.status = TaskStatus::kFailed;
    DescribeExit(wait_status, &outcome.exit_code);
    outcome.error = fmt::format("timed out after {:g} s", limits_.task_timeout_seconds);
  } else {
    std::string how = DescribeExit(wait_status, &outcome.exit_code);
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
      outcome.status = TaskStatus::kSucceeded;
    } else {
      outcome.status = TaskStatus::kFailed;
      outcome.error = how;
    }
  }
  return finish(outcome);
}

}  // namespace taskmaster::step
