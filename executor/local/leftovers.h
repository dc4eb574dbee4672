// What a killed or failed run left under work/, dealt with before a run
// starts anything new: it waits for that run's processes still using a work
// dir, removes the dirs whose journal the store already has, and starts a
// sidecar on each of the others to commit what its journal still holds.
// Nothing acknowledged or written to a local journal is lost (DESIGN.md §1).
#ifndef TASKMASTER_EXECUTOR_LOCAL_LEFTOVERS_H_
#define TASKMASTER_EXECUTOR_LOCAL_LEFTOVERS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "local/console.h"
#include "local/pod.h"
#include "local/pods.h"
#include "local/state_dir.h"
#include "taskmaster/env.h"

namespace taskmaster::step::local {

class LeftoverDrain {
 public:
  // Every pointer must outlive this object.
  LeftoverDrain(Env* env, Console* console, StateDir* state_dir, Pods* pods)
      : env_(env), console_(console), state_dir_(state_dir), pods_(pods) {}

  // Drains every leftover journal, then records store_identity as the store the
  // journals under work/ belong to. nullopt when the run can go on; else its
  // exit code: 2 when another store's journals or a killed run's processes are
  // in the way, 1 when a journal cannot be committed, 130 after a stop signal.
  std::optional<int> Run(const std::string& store_identity);

 private:
  // Waits (a bounded time) until no other process uses a work dir under work/.
  std::optional<int> WaitForProcesses(const std::vector<std::string>& names);
  // A pod to drain each dir holds; the others are trashed.
  std::optional<int> AdoptDirs(const std::vector<std::string>& names,
                               const std::string& store_identity,
                               std::vector<std::unique_ptr<Pod>>* drains);
  std::optional<int> RunDrains(const std::vector<std::unique_ptr<Pod>>& drains);

  Env* const env_;
  Console* const console_;
  StateDir* const state_dir_;
  Pods* const pods_;
};

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_LEFTOVERS_H_
