// `tm-sidecar export-failed KEY`: one JSON line per task of KEY that failed for
// good, in list order, then one per quarantined task, in list order, read a
// page at a time (never the whole table at once):
//
//   {"task":"t-7","ordinal":7,"status":"failed","attempts":3,"failures":3,
//    "fingerprint":"1:connection refused to <path>","exit_code":1,
//    "last_error":"...","generation":2}
//
// `fingerprint` is ErrorFingerprint (fingerprint.h) of the task's last failed
// attempt that is kept, else of the task's own exit code and error. The
// output is what `requeue --from FILE` reads back (its "task" members).
#include <iostream>
#include <memory>
#include <string>

#include "commands/commands.h"
#include "taskmaster/fingerprint.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

// Pages this large keep a million failed tasks at a thousand reads of the list.
constexpr int64_t kExportPageSize = 1000;

bool FailedAttempt(const AttemptRow& a) {
  return a.outcome == AttemptOutcome::kFailed || a.outcome == AttemptOutcome::kTimedOut;
}

std::string FailedTaskLine(const TaskHistory& h) {
  const TaskRow& t = h.task;
  std::string fingerprint = ErrorFingerprint(t.exit_code, t.error);
  for (auto a = h.attempts.rbegin(); a != h.attempts.rend(); ++a) {
    if (!FailedAttempt(*a)) continue;
    fingerprint = ErrorFingerprint(a->exit_code, a->error);
    break;
  }
  JsonWriter w;
  w.StartObject();
  w.Key("task").String(t.task_id);
  w.Key("ordinal").Int64(t.ordinal);
  w.Key("status").String(ToString(t.status));
  w.Key("attempts").Int64(t.attempts);
  w.Key("failures").Int64(t.failures);
  w.Key("fingerprint").String(fingerprint);
  w.Key("exit_code").OptionalInt(t.exit_code);
  w.Key("last_error").String(t.error);
  w.Key("generation").Int64(t.generation);
  w.EndObject();
  return w.Take();
}

int StoreFailure(const Status& s) {
  std::cerr << "tm-sidecar: export-failed: " << s.ToString() << "\n";
  return pr::kExitFailed;
}

int RunExportFailed(const StoreFlags& stores, const std::string& key) {
  int exit_code = pr::kExitOk;
  auto workflow = LoadStoredWorkflow(stores, key, &exit_code);
  if (!workflow) return exit_code;
  for (TaskStatus status : {TaskStatus::kFailed, TaskStatus::kQuarantined}) {
    TaskQuery query;
    query.status = status;
    query.limit = kExportPageSize;
    for (;;) {
      auto page = workflow->store->ListTasks(key, query);
      if (!page.ok()) return StoreFailure(page.status());
      for (const TaskRow& t : page->tasks) {
        if (!t.final) continue;  // it runs again: not failed yet
        auto history = workflow->store->LoadTaskHistory(key, t.task_id);
        if (!history.ok()) return StoreFailure(history.status());
        std::cout << FailedTaskLine(*history) << "\n";
      }
      if (!page->next_after) break;
      query.after = page->next_after;
    }
  }
  std::cout.flush();
  return std::cout ? pr::kExitOk : pr::kExitFailed;
}

}  // namespace

Subcommand AddExportFailedCommand(CLI::App* app, StoreFlags* stores) {
  auto key = std::make_shared<std::string>();
  CLI::App* cmd = app->add_subcommand(
      "export-failed",
      "Print KEY's tasks that failed for good or were quarantined, one JSON line each (for "
      "requeue)");
  AddStoreFlags(cmd, stores);
  cmd->add_option("key", *key, "State key")->required();
  return {cmd, [stores, key] { return RunExportFailed(*stores, *key); }};
}

}  // namespace taskmaster::sidecar
