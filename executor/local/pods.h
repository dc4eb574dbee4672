// The pods of a local run and the one loop that waits on them: Pods starts a
// pod's sidecar (served by the run's one tm-sidecar, sidecar_server.h) and its
// step (TaskProcess, with the argv of pod_args.h), and each Pump() waits for a
// signal (signals.h), a child's exit, an answer of the tm-sidecar or a file
// appearing in run/, then moves every pod on — stops a sidecar once its step
// exited, drains again a journal a sidecar left unacknowledged, collects a
// finished pod's outputs and removes its work dir. Single-threaded; construct it once, before
// any other thread or child exists (it blocks SIGINT, SIGTERM and SIGCHLD).
// The Env, Console and StateDir must outlive it; a Pod must stay where it is
// until it is finished.
#ifndef TASKMASTER_EXECUTOR_LOCAL_PODS_H_
#define TASKMASTER_EXECUTOR_LOCAL_PODS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "local/clock.h"
#include "local/console.h"
#include "local/pod.h"
#include "local/sidecar_server.h"
#include "local/state_dir.h"
#include "signals.h"
#include "taskmaster/dir_watcher.h"
#include "taskmaster/env.h"
#include "taskmaster/protocol.h"
#include "taskmaster/status.h"

namespace taskmaster::step::local {

// What every pod's processes are started with; fixed for a run.
struct PodLaunch {
  std::string step_program;     // this very binary
  std::string sidecar_program;  // tm-sidecar
  // The store, through the environment (a DSN in argv shows in ps): TM_STORE,
  // or TM_POSTGRES_DSN and TM_REDIS_URL.
  std::map<std::string, std::string> store_env;
  // What the roles are told (LocalOptions has them from the command line).
  std::string task_list_file;  // init's task list
  int64_t batch_size = 1;      // init
  int64_t last_attempt = 0;    // shards: --pod-retries
  int64_t task_retries = 0;    // shards: --retries
  int64_t quarantine_after = 0;  // shards: --quarantine-after
  bool continue_on_error = false;
  int64_t max_failures = 0;         // shards and finalize
  double max_failure_percent = 0;   // shards and finalize
  double task_timeout_seconds = 0;  // shards
  std::vector<std::string> command;
};

class Pods {
 public:
  Pods(Env* env, Console* console, StateDir* state_dir, PodLaunch launch);
  // Waits for the tm-sidecar to exit (call WaitAll first: it then serves nothing).
  ~Pods();
  Pods(const Pods&) = delete;
  Pods& operator=(const Pods&) = delete;

  // A new pod of this run (not started): work/<name>, logs/<shard or role>/.
  std::unique_ptr<Pod> New(protocol::Role role, int64_t shard, int64_t attempt,
                           const std::string& state_key) const;
  // A pod that adopts the work dir `name` an earlier run left behind, to drain
  // it; `ready` is what that dir's ready file says.
  std::unique_ptr<Pod> Adopt(const std::string& name, const protocol::Ready& ready) const;

  // Starts a sidecar and a step in a fresh work dir (a dir already there is
  // trashed: its sidecar restores from the store with a new fence). On an error
  // a sidecar already started is stopped, and the pod still finishes.
  Status Start(Pod* pod);
  // Starts a sidecar alone, to drain the journal of an adopted pod.
  Status StartDrain(Pod* pod);
  // Gives up on a pod whose journal cannot be drained: its dir is kept.
  void Keep(Pod* pod);

  // One turn of the loop: waits until wake_ns at most, then handles signals,
  // reaps children, moves every pod on and calls the after-turn callback.
  void Pump(int64_t wake_ns);
  // Pumps until every started pod is finished.
  void WaitAll() {
    while (!active_.empty()) Pump(kNever);
  }
  // Called at the end of every turn (the run redraws its progress there).
  void set_after_turn(std::function<void()> after_turn) { after_turn_ = std::move(after_turn); }

  // SIGINT and SIGTERM so far, and a state dir found out of space
  // (disk_space.h); from the first on, running steps got SIGTERM.
  int stops() const { return signals_.stop_requests() + (out_of_space_ ? 1 : 0); }
  // Why the run stopped for want of space, if it did.
  const std::optional<std::string>& out_of_space() const { return out_of_space_; }
  // Work dirs kept (their journal not fully committed), and of those the ones
  // whose journal is corrupt in the middle.
  int64_t kept_dirs() const { return kept_dirs_; }
  int64_t corrupt_dirs() const { return corrupt_dirs_; }
  // What the pod's step logged as errors, and its sidecar's when it failed.
  std::vector<std::string> Problems(const Pod& pod) const;
  // Removes a work dir through the trash (StateDir::Trash); a failure is a warning.
  void TrashDir(const std::string& dir);

 private:
  Status StartSidecar(Pod* pod);
  Status StartStep(Pod* pod);
  std::vector<std::string> StepArgv(const Pod& pod) const;
  void Reap(Pod* pod);
  void Advance(Pod* pod);
  void Settle(Pod* pod);
  void CollectOutputs(Pod* pod);
  void KeepAndSayWhy(Pod* pod);
  void OnStop(int request);
  // Every so often: stops the run when the state dir's file system is full.
  void CheckSpace(int64_t now_ns);
  void StopSteps();

  Env* const env_;
  Console* const console_;
  StateDir* const state_dir_;
  const PodLaunch launch_;
  Signals signals_;
  SidecarServer sidecars_;
  DirWatcher run_watcher_;
  std::function<void()> after_turn_;
  std::vector<Pod*> active_;  // pods whose processes we wait for
  int stops_seen_ = 0;
  std::optional<std::string> out_of_space_;
  int64_t next_space_check_ns_ = 0;
  int64_t kept_dirs_ = 0;
  int64_t corrupt_dirs_ = 0;
};

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_PODS_H_
