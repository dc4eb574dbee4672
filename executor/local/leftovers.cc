#include "local/leftovers.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>

#include "local/clock.h"
#include "local/journal_state.h"
#include "taskmaster/pod_args.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step::local {

namespace pr = protocol;

namespace {

// How long a rerun waits for processes of a killed run that still use a work
// dir (a step stopping after its parent died: grace - 5 s, 25 s by default).
constexpr int64_t kLeftoverWaitNanos = 60 * kSecond;

// Processes other than us whose argv holds "--work-dir DIR": a step or a
// sidecar of an earlier run that still stops or drains after its parent died.
std::vector<pid_t> ProcessesUsing(Env* env, const std::string& dir) {
  std::vector<pid_t> pids;
  auto entries = env->ListDir("/proc");
  if (!entries.ok()) return pids;
  const std::string needle = std::string(pr::kWorkDirFlag) + '\0' + dir + '\0';
  for (const std::string& name : *entries) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
    if (pid == ::getpid()) continue;
    auto cmdline = env->ReadFile("/proc/" + name + "/cmdline");
    if (cmdline.ok() && cmdline->find(needle) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

}  // namespace

std::optional<int> LeftoverDrain::Run(const std::string& store_identity) {
  auto names = env_->ListDir(state_dir_->work());
  if (!names.ok()) {
    console_->Error(names.status().message());
    return pr::kExitFailed;
  }
  if (auto code = WaitForProcesses(*names)) return code;
  std::vector<std::unique_ptr<Pod>> drains;
  if (auto code = AdoptDirs(*names, store_identity, &drains)) return code;
  // From here on the journals under work/ belong to this store.
  if (Status s = state_dir_->RecordStore(store_identity); !s.ok()) {
    console_->Error(s.message());
    return pr::kExitFailed;
  }
  if (drains.empty()) return std::nullopt;
  return RunDrains(drains);
}

std::optional<int> LeftoverDrain::WaitForProcesses(const std::vector<std::string>& names) {
  // The lock keeps a second run out, but a step of a killed run may still be
  // stopping (it got SIGTERM when its parent died) and appending to its journal:
  // its dir is drained once it is gone.
  const int64_t give_up = env_->MonotonicNanos() + kLeftoverWaitNanos;
  for (const std::string& name : names) {
    const std::string dir = JoinPath(state_dir_->work(), name);
    bool told = false;
    for (auto pids = ProcessesUsing(env_, dir); !pids.empty(); pids = ProcessesUsing(env_, dir)) {
      std::string list;
      for (pid_t pid : pids) list += (list.empty() ? "" : " ") + std::to_string(pid);
      if (env_->MonotonicNanos() >= give_up) {
        console_->Error(
            fmt::format("processes of an earlier run still use {} (pid {}): wait for "
                        "them to exit, or stop them, then run again",
                        dir, list));
        return pr::kExitUsage;
      }
      if (!told) {
        console_->Info(
            fmt::format("waiting for processes of an earlier run to finish with {} "
                        "(pid {})",
                        dir, list));
        told = true;
      }
      pods_->Pump(env_->MonotonicNanos() + 100 * kMilli);
      if (pods_->stops() > 0) return pr::kExitInterrupted;
    }
  }
  return std::nullopt;
}

std::optional<int> LeftoverDrain::AdoptDirs(const std::vector<std::string>& names,
                                            const std::string& store_identity,
                                            std::vector<std::unique_ptr<Pod>>* drains) {
  for (const std::string& name : names) {
    const std::string dir = JoinPath(state_dir_->work(), name);
    if (!env_->IsDirectory(dir)) continue;
    auto ready_text = env_->ReadFile(JoinPath(dir, pr::kReadyFile));
    if (!ready_text.ok() || JournalFullyAcked(env_, dir)) {
      pods_->TrashDir(dir);  // never restored, or the store has all of it
      continue;
    }
    auto ready = pr::DecodeReady(*ready_text);
    if (!ready.ok()) {
      console_->Error(fmt::format("{}: {}; move the directory away to go on without it", dir,
                                  ready.status().message()));
      return pr::kExitFailed;
    }
    if (ready->role == pr::Role::kInit && InitJournalIncomplete(env_, dir)) {
      console_->Detail(
          fmt::format("{} holds a task list cut short by a crash: init records the "
                      "whole list again instead",
                      dir));
      pods_->TrashDir(dir);
      continue;
    }
    auto recorded = state_dir_->RecordedStore();
    if (recorded.ok() && *recorded != store_identity) {
      console_->Error(fmt::format(
          "{} holds a journal of a run against another store ({}): rerun with that run's store "
          "flags so it is drained first",
          dir, *recorded));
      return pr::kExitUsage;
    }
    drains->push_back(pods_->Adopt(name, *ready));
  }
  return std::nullopt;
}

std::optional<int> LeftoverDrain::RunDrains(const std::vector<std::unique_ptr<Pod>>& drains) {
  console_->Info(fmt::format("Draining {} journal{} left by an earlier run", drains.size(),
                             drains.size() == 1 ? "" : "s"));
  for (const auto& pod : drains) {
    if (Status s = pods_->StartDrain(pod.get()); !s.ok()) {
      console_->Error(fmt::format("cannot start tm-sidecar: {}", s.message()));
      pods_->Keep(pod.get());
    }
  }
  pods_->WaitAll();
  if (pods_->corrupt_dirs() > 0) {
    console_->Error(
        "a journal of an earlier run is corrupt (above): nothing new starts until its "
        "directory is moved away");
    return pr::kExitFailed;
  }
  if (pods_->kept_dirs() > 0) {
    console_->Error(
        "journals of an earlier run could not be committed: nothing new starts until "
        "they are (is the store reachable?); rerun the same command to retry");
    return pr::kExitFailed;
  }
  if (pods_->stops() > 0) return pr::kExitInterrupted;
  return std::nullopt;
}

}  // namespace taskmaster::step::local
