// PodServer: local mode's one tm-sidecar for a whole `tm-step local` run
// (`tm-sidecar --local --serve-pods FD`). It serves the sidecar of every pod of
// the run — init, each shard attempt, finalize, the drains of journals left
// behind — from one loop, each a Sidecar (sidecar.h) driven through Begin and
// Turn. So a pod pays no process start, store connection, schema check or HTTP
// listener of its own, and the store has one writer: the pods' commits never
// wait on each other's locks.
//
// The run starts and stops pods with PodMessage lines on the socket FD
// (pod_args.h) and hears back when each is done, with the exit code its own
// tm-sidecar process would have had. A pod's log lines go to its own log file
// (stderr is pointed there while the pod works). The end of the input or a
// SIGTERM stops every pod as SIGTERM stops a pod's sidecar; Run returns once
// they are all done.
//
// Single-threaded. The store, the cache, the metrics and the signals are
// borrowed and must outlive it.
#ifndef TASKMASTER_SIDECAR_POD_SERVER_H_
#define TASKMASTER_SIDECAR_POD_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/live_cache.h"
#include "metrics.h"
#include "sidecar.h"
#include "store/state_store.h"
#include "taskmaster/env.h"
#include "taskmaster/pod_args.h"
#include "taskmaster/signal_fd.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

class PodServer {
 public:
  // Turns a start message's flags into the pod's options, as tm-sidecar's
  // command line would (InvalidArgument: the pod exits 2).
  using ParseFlags = std::function<Result<SidecarOptions>(const std::vector<std::string>& args)>;
  // Claims the pod's state key for this run before the pod starts
  // (run_owner_lock.h): Fenced when another run holds it (the pod exits 2,
  // having written nothing), another error when that cannot be known yet
  // (the pod exits 75, to be tried again).
  using ClaimKey = std::function<Status(const std::string& state_key)>;

  // cache may be null. channel_fd is the socket to the run; not owned. claim
  // may be null: nothing to claim (a SQLite store lives in its state dir).
  PodServer(Env* env, StateStore* store, LiveCache* cache, Metrics* metrics, ParseFlags parse,
            int channel_fd, ClaimKey claim = nullptr);
  ~PodServer();
  PodServer(const PodServer&) = delete;
  PodServer& operator=(const PodServer&) = delete;

  // Serves until the input ended or SIGTERM came and every pod is done. The
  // exit code: 0, or 1 when the socket failed.
  int Run(SignalFd* signals);

 private:
  struct Pod;

  void ReadChannel();
  void Handle(std::string_view line);
  void Start(const protocol::PodMessage& message);
  void Stop(const std::string& work_dir);
  void StopAll();
  // Runs what the pod does next with its log on stderr; true once it is done.
  bool TurnPod(Pod* pod);
  void Exited(const std::string& work_dir, int code);
  int64_t NextWake() const;

  Env* env_;
  StateStore* store_;
  LiveCache* cache_;
  Metrics* metrics_;
  ParseFlags parse_;
  int channel_fd_;
  ClaimKey claim_;
  int own_stderr_ = -1;  // the server's own log, while no pod works
  std::string input_;    // an incomplete line so far
  bool input_closed_ = false;
  bool stopping_ = false;
  bool channel_failed_ = false;
  bool schema_checked_ = false;  // a pod began: the store's schema is current
  std::vector<std::unique_ptr<Pod>> pods_;
  // Of pods that are done, for the next ones: closing a watcher is slow.
  std::vector<std::unique_ptr<DirWatcher>> spare_watchers_;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_POD_SERVER_H_
