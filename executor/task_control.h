// TaskControl serves one running task's fd-3 control socket (DESIGN.md §6): it
// reads the lines the task writes (control_channel.h parses them), journals each
// checkpoint, progress and note as a fenced record, answers a sync checkpoint
// with {"ack": <seq>} once the ack file covers it (or with an error once
// StepLimits::ack_wait_seconds passed), and tells the caller when the journal is
// over the back-pressure bound, so fd 3 is left unread until the sidecar catches up.
//
// Borrows the work dir, the process and the run, which must outlive it. Not thread-safe;
// the task runner's poll loop drives it.
#ifndef TASKMASTER_EXECUTOR_TASK_CONTROL_H_
#define TASKMASTER_EXECUTOR_TASK_CONTROL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "control_channel.h"
#include "step_work_dir.h"
#include "task_process.h"
#include "task_runner.h"

namespace taskmaster::step {

class TaskControl {
 public:
  // A time that never comes: no sync checkpoint has a give-up time.
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // `run.generation` is the count of checkpoints already committed for the task;
  // ack_wait_seconds 0 waits for an ack without bound.
  TaskControl(StepWorkDir* work_dir, TaskProcess* process, const TaskRun& run,
              double ack_wait_seconds);
  TaskControl(const TaskControl&) = delete;
  TaskControl& operator=(const TaskControl&) = delete;

  // Reads what the task wrote without blocking and handles each whole line; at
  // end of stream handles a last partial line and closes the process's fd 3.
  void Read();
  // Handles a last line without '\n' once the task is done.
  void Finish();

  // Non-OK once a record could not be journaled; later lines are then ignored,
  // and the step has to stop.
  const Status& fatal() const { return fatal_; }

  // Whether the ack file matters now: a sync checkpoint waits for its ack, or the
  // journal was over the back-pressure bound at the last look.
  bool waiting_for_acks() const { return !pending_acks_.empty() || backpressured_; }
  // Over the bound, fd 3 is not read (except after the task exited).
  bool backpressured() const { return backpressured_; }
  // Reads the ack file when something waits on it (or the journal just grew over
  // the bound by the last ack seen), answers the acknowledged sync checkpoints
  // and those overdue at `now_ns`, and updates the back-pressure.
  void ServeAcks(int64_t now_ns);
  // When the oldest sync checkpoint is given up on; kNever when none waits for a
  // bounded time.
  int64_t next_give_up_ns() const;

 private:
  struct PendingAck {
    int64_t seq;
    int64_t give_up_ns;  // kNever when waiting without bound
  };

  void HandleLine(std::string_view line);
  void SaveCheckpoint(const std::string& value, bool sync);
  void RecordProgress(int64_t done, int64_t total);
  void RecordNote(const std::string& note);
  // Appends a record; a failure becomes fatal(). The record's seq, or nullopt.
  std::optional<int64_t> Append(protocol::RecordType type, uint16_t flags,
                                const std::function<std::string(int64_t seq)>& encode);
  // Writes a reply line to the task; a task that stopped reading loses it.
  void Reply(const std::string& line) const;

  StepWorkDir* work_dir_;
  TaskProcess* process_;
  const TaskRun& run_;
  double ack_wait_seconds_;
  LineSplitter splitter_;
  Status fatal_;
  int64_t generation_;
  std::deque<PendingAck> pending_acks_;
  bool backpressured_ = false;
  uint64_t acked_offset_ = 0;  // as of the last read of the ack file
};

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_TASK_CONTROL_H_
