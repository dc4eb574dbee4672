// Recording a task list ahead of its workflow, so that the list lives in the
// store and never in the Workflow object: `tm-sidecar submit` and
// POST /api/workflows/multi-task both record it here, the way `tm-step init`
// records it — one workflow_init record and the list's task_list records under
// a new fence of the init writer, applied by StateStore::Apply as one batch in
// one transaction. The Argo workflow submitted with only that state key then
// resumes the recorded list (init without a task list).
//
// What the key already holds decides, with protocol::CheckResume, exactly as
// init decides: the same list again changes nothing, another list or another
// batch size is refused before anything is written. Once the store committed,
// Redis (when configured) gets the workflow's live state, as the sidecar writes
// it after a commit; a Redis failure costs freshness only (the sidecars refill
// it from the store).
//
// Plain functions; the store and the cache are used by the calling thread only.
#ifndef TASKMASTER_SIDECAR_SUBMISSION_H_
#define TASKMASTER_SIDECAR_SUBMISSION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cache/live_cache.h"
#include "metrics.h"
#include "store/state_store.h"
#include "taskmaster/env.h"
#include "taskmaster/protocol.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// A list to record: IDs that passed ParseTaskList, a state key that passed
// ValidateId, a batch size of at least 1.
struct Submission {
  std::string state_key;
  std::vector<std::string> ids;
  int64_t batch_size = 1;  // as requested, before the --max-shards cap
  // The batch size is raised so that the list fits in this many shards, and
  // recorded: the workflow keeps it whatever the template's max-shards says.
  int64_t max_shards = protocol::kDefaultMaxShards;
};

// What became of a submission. The store was written only when `verdict` is
// kNew or kRecordAgain and `fenced` is false.
struct SubmissionOutcome {
  protocol::ResumeVerdict verdict = protocol::ResumeVerdict::kNew;
  protocol::InitRestore recorded;  // what the key held before
  std::string list_hash;           // of the submitted list
  int64_t effective_batch_size = 0;
  // Another writer of the key (a submission, an init step) took the init fence
  // between this one's check and its write: nothing was written.
  bool fenced = false;
  // The workflow as stored now (kNew, kRecordAgain, kResume).
  WorkflowState state;
};

// Records `submission` in `store` unless the key refuses it (see the file
// comment), then publishes to `cache` (may be null). A store failure is the
// error; a Redis failure is logged and counted in `metrics` only.
Result<SubmissionOutcome> RecordSubmission(Env* env, StateStore* store, LiveCache* cache,
                                           Metrics* metrics, const Submission& submission);

// The command that starts the recorded workflow on Argo, the key shell-quoted:
// argo submit workflows/multi-task-processing.yaml -p state-key=K
std::string ArgoSubmitCommand(const std::string& state_key);

// The JSON answer to a submission, for the API and `tm-sidecar submit -o json`:
// {"workflow_id","status","total","batch_size" (as requested),"submit"} where
// "submit" is ArgoSubmitCommand.
std::string SubmissionJson(const std::string& state_key, WorkflowStatus status, int64_t total,
                           int64_t batch_size);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_SUBMISSION_H_
