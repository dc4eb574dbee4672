#include "store_workload.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "taskmaster/checkpoint.h"
#include "taskmaster/protocol.h"

namespace taskmaster::bench {
namespace {

namespace pr = protocol;
using sidecar::ApplyResult;
using sidecar::Batch;
using sidecar::CheckpointWrite;
using sidecar::Writer;

constexpr int64_t kBatchSize = pr::kFlushMaxRecords;  // a shard is one flush
constexpr int64_t kNowMs = 1767225600000;
constexpr const char* kPayload =
    R"({"file":"s3://bucket/input/part-00042.csv","row":123456,"bytes":987654321,"state":"ok"})";

std::string TaskId(int64_t ordinal) {
  char id[32];
  std::snprintf(id, sizeof(id), "task-%06lld", static_cast<long long>(ordinal));
  return id;
}

// Checkpoint generations grow across runs on one server too, so that every
// document is written (a lower generation than the stored one is not).
int64_t GenerationBase() {
  static const int64_t base = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  return base;
}

}  // namespace

Status StoreWorkload::Record(const std::string& id, int64_t tasks) {
  flows_[id].tasks = tasks;
  if (store_->LoadWorkflowState(id).ok()) return Status::OK();
  std::vector<std::string> ids;
  for (int64_t i = 0; i < tasks; ++i) ids.push_back(TaskId(i));
  const Writer writer{id, pr::Role::kInit, 0};
  Result<int64_t> fence = store_->AcquireFence(writer);
  if (!fence.ok()) return fence.status();
  Batch b;
  b.writer = writer;
  b.fence = *fence;
  int64_t seq = 0;
  pr::WorkflowInitRecord init;
  init.fence = *fence;
  init.seq = ++seq;
  init.workflow_id = id;
  init.task_count = tasks;
  init.batch_size = kBatchSize;
  init.effective_batch_size = pr::EffectiveBatchSize(tasks, kBatchSize, pr::kMaxShards);
  init.list_hash = pr::ListHash(ids);
  std::vector<pr::TaskListRecord> lists = pr::ChunkTaskList(ids);
  init.list_records = static_cast<int64_t>(lists.size());
  b.init = init;
  for (pr::TaskListRecord& list : lists) {
    list.fence = *fence;
    list.seq = ++seq;
    b.task_lists.push_back(std::move(list));
  }
  pr::CommitRecord commit;
  commit.fence = *fence;
  commit.seq = ++seq;
  commit.role = pr::Role::kInit;
  b.commit = commit;
  b.max_seq = seq;
  Result<ApplyResult> applied = store_->Apply(b);
  if (!applied.ok()) return applied.status();
  if (applied->fenced || applied->applied != seq) {
    return Status::Corruption("the init batch of " + id + " did not apply");
  }
  return Status::OK();
}

Status StoreWorkload::CheckpointAll(const std::string& id) {
  Result<sidecar::ShardData> first = store_->LoadShard(id, 0);
  if (!first.ok()) return first.status();
  if (!first->documents.empty()) return Status::OK();
  const int64_t shards = pr::ShardCount(flows_[id].tasks, kBatchSize);
  for (int64_t k = 0; k < shards; ++k) {
    Prepare(id, Kind::kCheckpoints);
    Result<int64_t> applied = Apply();
    if (!applied.ok()) return applied.status();
  }
  return Status::OK();
}

Result<StoreWorkload::Shard*> StoreWorkload::ShardOf(const std::string& id, int64_t shard) {
  Flow& flow = flows_[id];
  auto it = flow.shards.find(shard);
  if (it != flow.shards.end()) return &it->second;
  Result<int64_t> fence = store_->AcquireFence(Writer{id, pr::Role::kShard, shard});
  if (!fence.ok()) return fence.status();
  return &flow.shards.emplace(shard, Shard{*fence, 0, 0}).first->second;
}

void StoreWorkload::Prepare(const std::string& id, Kind kind) {
  Flow& flow = flows_[id];
  const int64_t k = flow.next++ % pr::ShardCount(flow.tasks, kBatchSize);
  Result<Shard*> found = ShardOf(id, k);
  if (!found.ok()) {
    std::fprintf(stderr, "state_operations: %s\n", found.status().ToString().c_str());
    std::exit(1);
  }
  Shard& shard = **found;
  const int64_t round = shard.flushes++;
  batch_ = Batch();
  batch_.writer = Writer{id, pr::Role::kShard, k};
  batch_.fence = shard.fence;
  const pr::OrdinalRange range = pr::ShardRange(k, flow.tasks, kBatchSize);
  for (int64_t ordinal = range.begin; ordinal < range.end; ++ordinal) {
    const int64_t seq = ++shard.seq;
    if (kind == Kind::kTaskEnds) {
      // Every end changes its row, as a real one does (running -> succeeded):
      // a shard's flushes alternate between succeeded and failed.
      pr::TaskEndRecord r;
      r.fence = shard.fence;
      r.seq = seq;
      r.ordinal = ordinal;
      r.task_id = TaskId(ordinal);
      r.status = round % 2 == 0 ? TaskStatus::kSucceeded : TaskStatus::kFailed;
      r.exit_code = round % 2 == 0 ? 0 : 1;
      r.attempt = round;
      r.duration_ms = 1000 + seq % 1000;
      r.finished_at_ms = kNowMs + seq;
      batch_.ends.push_back(std::move(r));
    } else {
      CheckpointWrite c;
      c.seq = seq;
      c.ordinal = ordinal;
      c.task_id = TaskId(ordinal);
      c.generation = GenerationBase() + round;
      const CheckpointFields f{id, c.task_id, shard.fence, seq, c.generation, kNowMs + seq};
      Result<std::string> doc = EncodeCheckpoint(f, kPayload);
      if (!doc.ok()) std::abort();
      c.document = std::move(*doc);
      batch_.checkpoints.push_back(std::move(c));
    }
  }
  batch_.max_seq = shard.seq;
  records_ = static_cast<int64_t>(batch_.size());
}

Result<int64_t> StoreWorkload::Apply() {
  Result<ApplyResult> applied = store_->Apply(batch_);
  if (!applied.ok()) return applied.status();
  if (applied->fenced || applied->applied != records_) {
    return Status::Corruption("a batch of " + batch_.writer.workflow_id + " did not apply whole");
  }
  return records_;
}

Result<int64_t> StoreWorkload::LoadNextShard(const std::string& id) {
  Flow& flow = flows_[id];
  const int64_t k = flow.next_restore++ % pr::ShardCount(flow.tasks, kBatchSize);
  Result<sidecar::ShardData> shard = store_->LoadShard(id, k);
  if (!shard.ok()) return shard.status();
  return static_cast<int64_t>(shard->restore.tasks.size());
}

}  // namespace taskmaster::bench
