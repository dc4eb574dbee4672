// The one tm-sidecar of a local run (`tm-sidecar --local --serve-pods 3`,
// sidecar/pod_server.h), which serves the sidecar of every pod: a pod pays no
// process start, store connection or schema check of its own. This is the
// run's end of it: it starts the process with the first pod, sends it
// PodMessage lines (pod_args.h) to start and stop pods over the socket on its
// fd 3, and sets each pod's sidecar_exit from the answers. When the process
// dies, every pod it served gets the exit status of the process as its own,
// and the next pod starts a new one.
//
// Like a pod's own sidecar, the process stays in our process group, holds the
// state dir's lock until it is done, ignores SIGINT and gets SIGTERM when we
// die; its own log is logs/tm-sidecar.log, each pod's goes to the pod's log.
// Single-threaded; the Env and the StateDir must outlive it, and a Pod it
// serves must stay where it is until its sidecar_exit is set.
#ifndef TASKMASTER_EXECUTOR_LOCAL_SIDECAR_SERVER_H_
#define TASKMASTER_EXECUTOR_LOCAL_SIDECAR_SERVER_H_

#include <map>
#include <memory>
#include <string>

#include "local/pod.h"
#include "local/state_dir.h"
#include "task_process.h"
#include "taskmaster/env.h"
#include "taskmaster/pod_args.h"
#include "taskmaster/status.h"

namespace taskmaster::step::local {

class SidecarServer {
 public:
  // The program, with the store in its environment (TM_STORE, or
  // TM_POSTGRES_DSN and TM_REDIS_URL).
  SidecarServer(Env* env, StateDir* state_dir, std::string program,
                std::map<std::string, std::string> store_env);
  // Close().
  ~SidecarServer();
  SidecarServer(const SidecarServer&) = delete;
  SidecarServer& operator=(const SidecarServer&) = delete;

  // Serves the sidecar `args` describe (args.program is not used) for the
  // pod, logging to its tm-sidecar.log; starts the process first if none runs.
  Status Start(Pod* pod, const protocol::SidecarArgs& args);
  // The pod's sidecar finishes: its step exited, or it only drains a journal.
  void Stop(Pod* pod);

  // Readable when answers came; -1 while no process runs.
  int fd() const;
  // Reads the answers that came, then reaps the process if it exited.
  void Poll();
  // Ends the input of the process and waits until it exited.
  void Close();

 private:
  Status Spawn();
  Status Send(const protocol::PodMessage& message);
  void Answered(const std::string& line);
  // The process exited with this exit code (128 + signal): every pod still
  // served gets it as its own.
  void Died(int code);

  Env* const env_;
  StateDir* const state_dir_;
  const std::string program_;
  const std::map<std::string, std::string> store_env_;
  std::unique_ptr<TaskProcess> process_;
  std::string input_;                 // an incomplete answer so far
  std::map<std::string, Pod*> pods_;  // served, by work dir
};

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_SIDECAR_SERVER_H_
