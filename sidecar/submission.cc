#include "submission.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "taskmaster/json.h"
#include "taskmaster/shell.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

// The batch init would write for this list: a workflow_init record and the
// list's chunks, numbered from seq 1 under `fence`.
Batch InitBatch(const Submission& s, const std::string& hash, int64_t effective_batch,
                int64_t fence) {
  Batch batch;
  batch.writer = Writer{s.state_key, pr::Role::kInit, 0};
  batch.fence = fence;
  std::vector<pr::TaskListRecord> chunks = pr::ChunkTaskList(s.ids);
  int64_t seq = 1;
  batch.init = pr::WorkflowInitRecord{fence,        seq,
                                      s.state_key,  static_cast<int64_t>(s.ids.size()),
                                      s.batch_size, effective_batch,
                                      hash,         static_cast<int64_t>(chunks.size())};
  for (pr::TaskListRecord& chunk : chunks) {
    chunk.fence = fence;
    chunk.seq = ++seq;
  }
  batch.task_lists = std::move(chunks);
  batch.max_seq = seq;
  return batch;
}

void Publish(Env* env, LiveCache* cache, Metrics* metrics, const ApplyResult& applied,
             int64_t fence, int64_t seq) {
  if (cache == nullptr) return;
  // A new workflow has no task checkpoints yet: its state and its summary
  // checkpoint are all there is to publish.
  auto doc = WorkflowCheckpointDocument(applied.state, fence, seq, env->NowUnixMillis());
  Status s = doc.ok() ? cache->Publish(applied.state, {}, {}, *doc, PublishCheck::kFromStore)
                      : doc.status();
  if (s.ok()) {
    metrics->store_up("redis").Set(1);
    return;
  }
  spdlog::warn("redis: workflow {} not published: {}", applied.state.workflow_id, s.message());
  metrics->store_errors_total("redis", StatusKind(s)).Inc();
}

}  // namespace

Result<SubmissionOutcome> RecordSubmission(Env* env, StateStore* store, LiveCache* cache,
                                           Metrics* metrics, const Submission& submission) {
  const std::string& key = submission.state_key;
  const int64_t n = static_cast<int64_t>(submission.ids.size());
  SubmissionOutcome outcome;
  outcome.list_hash = pr::ListHash(submission.ids);
  outcome.effective_batch_size =
      pr::EffectiveBatchSize(n, submission.batch_size, submission.max_shards);

  auto recorded = store->LoadInit(key);
  if (!recorded.ok()) return recorded.status();
  outcome.recorded = std::move(recorded).value();
  outcome.verdict = pr::CheckResume(outcome.recorded, outcome.list_hash, n, submission.batch_size);
  switch (outcome.verdict) {
    case pr::ResumeVerdict::kOtherList:
    case pr::ResumeVerdict::kOtherBatchSize:
      return outcome;
    case pr::ResumeVerdict::kResume: {
      auto state = store->LoadWorkflowState(key);
      if (!state.ok()) return state.status();
      outcome.state = std::move(state).value();
      return outcome;
    }
    case pr::ResumeVerdict::kRecordAgain:
      spdlog::warn("the task list of {} was recorded only in part; recording it again", key);
      break;
    case pr::ResumeVerdict::kNew:
      break;
  }

  auto fence = store->AcquireFence(Writer{key, pr::Role::kInit, 0});
  if (!fence.ok()) return fence.status();
  const Batch batch =
      InitBatch(submission, outcome.list_hash, outcome.effective_batch_size, *fence);
  auto applied = store->Apply(batch);
  if (!applied.ok()) return applied.status();
  if (applied->fenced) {
    outcome.fenced = true;
    return outcome;
  }
  outcome.state = applied->state;
  Publish(env, cache, metrics, *applied, *fence, batch.max_seq);
  return outcome;
}

std::string ArgoSubmitCommand(const std::string& state_key) {
  return "argo submit workflows/multi-task-processing.yaml -p state-key=" + ShellQuote(state_key);
}

std::string SubmissionJson(const std::string& state_key, WorkflowStatus status, int64_t total,
                           int64_t batch_size) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(state_key);
  w.Key("status").String(ToString(status));
  w.Key("total").Int64(total);
  w.Key("batch_size").Int64(batch_size);
  w.Key("submit").String(ArgoSubmitCommand(state_key));
  w.EndObject();
  return w.Take();
}

}  // namespace taskmaster::sidecar
