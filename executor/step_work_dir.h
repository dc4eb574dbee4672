// The step's side of the work-dir protocol (protocol.h): waits for `ready`,
// reads `restore/`, appends fenced records to the journal, and watches `ack`.
// Not thread-safe; one per step process.
#ifndef TASKMASTER_EXECUTOR_STEP_WORK_DIR_H_
#define TASKMASTER_EXECUTOR_STEP_WORK_DIR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "taskmaster/dir_watcher.h"
#include "taskmaster/env.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {

class StepWorkDir {
 public:
  StepWorkDir(Env* env, std::string dir);

  const std::string& dir() const { return dir_; }
  Env* env() const { return env_; }
  DirWatcher& watcher() { return *watcher_; }

  // Waits for a valid `ready` file until deadline_ns (Env::MonotonicNanos), waking
  // on inotify and polling every 100 ms. Timeout when it never comes; stop() is
  // checked between waits (a SIGTERM) and yields Timeout too.
  Result<protocol::Ready> WaitForReady(int64_t deadline_ns, const std::function<bool()>& stop);

  Result<protocol::InitRestore> ReadInitRestore();
  Result<protocol::ShardRestore> ReadShardRestore();
  Result<protocol::WorkflowSummary> ReadSummaryRestore();
  std::string RestorePath(const std::string& name) const;

  // Opens the journal (truncating a torn tail) and takes the fence for records.
  Status OpenJournal(int64_t fence, bool sync);
  int64_t fence() const { return fence_; }
  // The seq the next Append will carry.
  int64_t next_seq() const;
  // Appends one record; `encode` builds the payload for the given seq. After a
  // record the step waits on (a commit, a sync checkpoint) it pokes the
  // sidecar, which otherwise reads the journal once per flush window.
  Result<int64_t> Append(protocol::RecordType type, uint16_t flags,
                         const std::function<std::string(int64_t seq)>& encode);
  uint64_t journal_size() const;

  // The current ack ({0, 0} before the sidecar wrote one).
  protocol::Ack ReadAck();
  // Waits until the ack covers seq or deadline_ns passes (Timeout).
  Status WaitForAck(int64_t seq, int64_t deadline_ns);

  // On barrier timeout: marks outputs/barrier-timeout, then writes the outputs
  // itself with "durable": false.
  Status WriteOutputsNotDurable(const protocol::CommitRecord& commit);

 private:
  void PokeSidecar();

  Env* env_;
  std::string dir_;
  std::unique_ptr<DirWatcher> watcher_;
  std::unique_ptr<JournalWriter> journal_;
  int64_t fence_ = 0;
};

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_STEP_WORK_DIR_H_
