// The StateStore side of bench/state_operations: workflows recorded as the
// init role records them, and the operations a shard's sidecar does on them —
// flushes of task_end or checkpoint batches under the shard's fence, and the
// restore read of a shard — on either store.
#ifndef TASKMASTER_BENCH_STATE_OPERATIONS_STORE_WORKLOAD_H_
#define TASKMASTER_BENCH_STATE_OPERATIONS_STORE_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "store/state_store.h"
#include "taskmaster/status.h"

namespace taskmaster::bench {

class StoreWorkload {
 public:
  enum class Kind { kTaskEnds, kCheckpoints };

  // Does not own `store`, which outlives the workload.
  explicit StoreWorkload(sidecar::StateStore* store) : store_(store) {}

  // Records workflow `id` of `tasks` tasks (batch size 500) unless the store
  // has it: the rounds of a run, and runs on one server, reuse it.
  Status Record(const std::string& id, int64_t tasks);
  // Gives every task of workflow `id` a checkpoint (if task 0 has none), so
  // that a restore reads documents.
  Status CheckpointAll(const std::string& id);

  // The next flush of workflow `id`: up to 500 records of `kind` for the next
  // shard in turn, under its fence. Prepare builds it; Apply commits it and
  // returns how many records applied.
  void Prepare(const std::string& id, Kind kind);
  Result<int64_t> Apply();

  // Restores the next shard of workflow `id` in turn; returns its tasks.
  Result<int64_t> LoadNextShard(const std::string& id);

 private:
  struct Shard {
    int64_t fence = 0;
    int64_t seq = 0;
    int64_t flushes = 0;
  };
  struct Flow {
    int64_t tasks = 0;
    int64_t next = 0;  // the next batch, counted over the whole run
    int64_t next_restore = 0;
    std::map<int64_t, Shard> shards;
  };
  Result<Shard*> ShardOf(const std::string& id, int64_t shard);

  sidecar::StateStore* store_;
  std::map<std::string, Flow> flows_;
  sidecar::Batch batch_;
  int64_t records_ = 0;
};

}  // namespace taskmaster::bench

#endif  // TASKMASTER_BENCH_STATE_OPERATIONS_STORE_WORKLOAD_H_
