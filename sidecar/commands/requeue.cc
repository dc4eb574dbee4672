// `tm-sidecar requeue KEY [--status failed|quarantined] [--from FILE] [--dry-run]
// [--force]`: makes tasks that failed for good (or, with --status quarantined,
// quarantined ones) pending again, with a full task-retries budget and no
// failure streak, so the next run under KEY (a resubmission, `tm-step local`
// again) runs them. A resubmission alone reopens tasks that failed for good but
// never quarantined ones: requeue is how those run again. With --from and no
// --status the file's tasks may be either (export-failed prints both). One
// store transaction (StateStore::Requeue); then, with --redis, the workflow's
// Redis keys are refilled as rebuild-cache does.
//
// Everything is checked before anything is written: the status name, the
// file (each non-blank line a JSON object with a "task" string, as
// export-failed prints), that each task exists and is in --status, and that
// the workflow has nothing left to run (--force: requeue a stopped one anyway).
// --dry-run checks the same and prints what would change, changing nothing.
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cache_refill.h"
#include "commands/commands.h"
#include "store/derived_state.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

struct RequeueFlags {
  std::string key;
  std::string status;  // empty: failed, or with --from either (export-failed prints both)
  std::string from;
  bool dry_run = false;
  bool force = false;
};

// Task IDs named in a message; the rest are counted.
constexpr size_t kTasksNamed = 10;

// The task IDs of `path`'s lines, first mention first.
Result<std::vector<std::string>> ReadTaskFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("--from " + path + ": cannot be read");
  std::vector<std::string> tasks;
  std::set<std::string> seen;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = "--from " + path + " line " + std::to_string(number);
    auto task = ReadJsonObject<std::string>(line, "requeue line",
                                            [](FieldReader& f) { return f.String("task"); });
    if (!task.ok()) {
      return Status::InvalidArgument(where + ": " + task.status().message() +
                                     " (each line is a JSON object with a \"task\" member, as "
                                     "export-failed prints)");
    }
    TM_RETURN_IF_ERROR(ValidateId(*task, "task ID").WithContext(where));
    if (seen.insert(*task).second) tasks.push_back(std::move(task).value());
  }
  if (in.bad()) return Status::InvalidArgument("--from " + path + ": cannot be read");
  if (tasks.empty()) return Status::InvalidArgument("--from " + path + " names no task");
  return tasks;
}

// What requeue would take: the listed tasks, each checked, or every task in
// `status`; `named` gets the first kTasksNamed of them.
Status Select(StateStore* store, const std::string& key, const std::optional<TaskStatus>& status,
              const std::optional<std::vector<std::string>>& listed, int64_t* count,
              std::vector<std::string>* named) {
  auto name = [&](const std::string& id) {
    if (named->size() < kTasksNamed) named->push_back(id);
    ++*count;
  };
  if (listed) {
    for (const std::string& id : *listed) {
      auto history = store->LoadTaskHistory(key, id);
      if (!history.ok()) return history.status();
      const TaskRow& t = history->task;
      const bool wanted =
          status ? t.status == *status && t.final : TaskFailedForGood(t.status, t.final);
      if (!wanted) {
        std::string hint;
        if (t.status == TaskStatus::kFailed && !t.final) hint = " (to be retried)";
        if (TaskFailedForGood(t.status, t.final)) {
          hint = t.status == TaskStatus::kQuarantined ? " (--status quarantined requeues it)"
                                                      : " (--status failed requeues it)";
        }
        return Status::InvalidArgument("task '" + id + "' is " + ToString(t.status) + hint +
                                       ", not " + RequeueableTasks(status) +
                                       ": nothing was requeued");
      }
      name(id);
    }
    return Status::OK();
  }
  TaskQuery query;
  query.status = status.value_or(TaskStatus::kFailed);
  query.limit = kMaxTaskPageSize;
  for (;;) {
    auto page = store->ListTasks(key, query);
    if (!page.ok()) return page.status();
    for (const TaskRow& t : page->tasks) {
      if (t.final) name(t.task_id);
    }
    if (!page->next_after) return Status::OK();
    query.after = page->next_after;
  }
}

std::string Named(const std::vector<std::string>& named, int64_t count) {
  std::string text;
  for (const std::string& id : named) text += (text.empty() ? "" : ", ") + id;
  if (count > static_cast<int64_t>(named.size())) {
    text += " and " + std::to_string(count - static_cast<int64_t>(named.size())) + " more";
  }
  return text;
}

// The status the workflow would have once `n` of its failed or quarantined
// tasks (both counted as failed) are pending.
WorkflowStatus StatusAfter(const WorkflowState& state, int64_t n) {
  TaskCounts counts = state.counts;
  counts.failed -= n;
  counts.pending += n;
  return DeriveWorkflowStatus(counts, true);
}

int Failed(const Status& s) {
  std::cerr << "tm-sidecar: requeue: " << s.ToString() << "\n";
  return pr::kExitFailed;
}

int RunRequeue(Env* env, const StoreFlags& stores, const RequeueFlags& flags) {
  std::optional<std::vector<std::string>> listed;
  if (!flags.from.empty()) {
    auto tasks = ReadTaskFile(flags.from);
    if (!tasks.ok()) return Usage(tasks.status());
    listed = std::move(tasks).value();
  }
  auto cache = OpenConfiguredCache(stores);
  if (!cache.ok()) return Usage(cache.status());
  int exit_code = pr::kExitOk;
  auto workflow = LoadStoredWorkflow(stores, flags.key, &exit_code);
  if (!workflow) return exit_code;
  const WorkflowState& before = workflow->state;
  if (Status s = RequeueRefusal(before, flags.force); !s.ok()) return Usage(s);
  std::optional<TaskStatus> status;
  if (flags.status == "quarantined") {
    status = TaskStatus::kQuarantined;
  } else if (flags.status == "failed" || !listed) {
    status = TaskStatus::kFailed;
  }
  int64_t count = 0;
  std::vector<std::string> named;
  if (Status s = Select(workflow->store.get(), flags.key, status, listed, &count, &named);
      !s.ok()) {
    return s.IsNotFound() || s.IsInvalidArgument() ? Usage(s) : Failed(s);
  }
  const std::string was = "workflow " + flags.key + " is " + ToString(before.status);
  if (count == 0) {
    std::cout << was << ": no task is " << RequeueableTasks(status) << "; nothing to requeue\n";
    return pr::kExitOk;
  }
  if (flags.dry_run) {
    std::cout << was << ": " << count << " tasks would become pending (" << Named(named, count)
              << "); it would become " << ToString(StatusAfter(before, count))
              << "; nothing changed (--dry-run)\n";
    return pr::kExitOk;
  }
  RequeueRequest request;
  request.status = status;
  request.task_ids = listed;
  request.force = flags.force;
  auto done = workflow->store->Requeue(flags.key, request);
  if (!done.ok()) {
    const Status& s = done.status();
    return s.IsNotFound() || s.IsInvalidArgument() ? Usage(s) : Failed(s);
  }
  std::cout << "workflow " << flags.key << " was " << ToString(done->before.status) << ": "
            << done->requeued << " tasks are pending again (" << Named(named, count) << "); it is "
            << ToString(done->after.status)
            << " now; resubmit under the same state key to run them\n";
  if (*cache) {
    auto refilled = RefillCacheFromStore(workflow->store.get(), cache->get(), done->after, 0, 0,
                                         env->NowUnixMillis());
    if (!refilled.ok()) {
      std::cerr << "tm-sidecar: requeue: the store is requeued, but Redis was not refilled ("
                << refilled.status().ToString() << "); run rebuild-cache " << flags.key << "\n";
      return pr::kExitFailed;
    }
  }
  return pr::kExitOk;
}

}  // namespace

Subcommand AddRequeueCommand(CLI::App* app, Env* env, StoreFlags* stores) {
  auto flags = std::make_shared<RequeueFlags>();
  CLI::App* cmd = app->add_subcommand(
      "requeue",
      "Make KEY's tasks that failed for good (or were quarantined) pending again for its next run");
  AddStoreFlags(cmd, stores);
  cmd->add_option("key", flags->key, "State key")->required();
  cmd->add_option("--status", flags->status,
                  "Which tasks: failed (those that failed for good; the default) or quarantined. "
                  "With --from and no --status, the file's tasks may be either")
      ->check(checks::OneOf({"failed", "quarantined"}));
  cmd->add_option("--from", flags->from,
                  "Only the tasks of this file: JSON lines with a \"task\" member, as "
                  "export-failed prints them")
      ->check(checks::NonEmpty("a file"));
  cmd->add_flag("--dry-run", flags->dry_run, "Print what would change and change nothing");
  cmd->add_flag("--force", flags->force,
                "Requeue even while tasks are pending or running (a run that was stopped)");
  return {cmd, [env, stores, flags] { return RunRequeue(env, *stores, *flags); }};
}

}  // namespace taskmaster::sidecar
