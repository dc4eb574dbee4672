// The state dir of a local run (its layout: executor/local.h) and the lock
// that keeps a second run out of it while this one, or a sidecar of a killed
// one, still uses it. Every file operation goes through the Env. Not
// thread-safe; the Env must outlive it.
#ifndef TASKMASTER_EXECUTOR_LOCAL_STATE_DIR_H_
#define TASKMASTER_EXECUTOR_LOCAL_STATE_DIR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster::step::local {

class StateDir {
 public:
  // root is absolute.
  StateDir(Env* env, std::string root);

  // Creates the dir (InvalidArgument, naming --state-dir, when it cannot) and
  // takes its lock (Busy, saying who holds it, when another run has it); then
  // creates work/, trash/, logs/ and run/, and clears trash/ and run/ of what
  // earlier runs left there.
  Status Open();

  const std::string& root() const { return root_; }
  const std::string& work() const { return work_; }
  const std::string& logs() const { return logs_; }
  const std::string& run() const { return run_; }
  // The SQLite store, unless the run uses PostgreSQL.
  std::string database() const { return JoinPath(root_, "state.db"); }
  // The descriptor holding the lock, for the sidecars to inherit: they keep
  // holding it until they have drained. -1 before Open.
  int lock_fd() const { return lock_ ? lock_->fd() : -1; }

  // Which store the journals under work/ belong to, as RecordStore wrote it;
  // NotFound when none was recorded yet.
  Result<std::string> RecordedStore();
  Status RecordStore(const std::string& identity);

  // Renames dir into trash/ (so a crash leaves it whole in work/ or wholly in
  // trash/), then removes it. The Status is the rename's: a removal that fails
  // is left for the next run's Open.
  Status Trash(const std::string& dir);

 private:
  Status Lock();

  Env* const env_;
  const std::string root_;
  const std::string work_, trash_, logs_, run_;
  std::unique_ptr<FileLock> lock_;
  int64_t trashed_ = 0;
};

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_STATE_DIR_H_
