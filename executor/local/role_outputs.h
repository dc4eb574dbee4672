// What the pod roles' outputs (outputs/<name>, read by Pods) say, read by hand
// from their JSON: init's pending shards and batch size, a shard's summary,
// finalize's counts. A value that is missing or not an integer reads as 0.
#ifndef TASKMASTER_EXECUTOR_LOCAL_ROLE_OUTPUTS_H_
#define TASKMASTER_EXECUTOR_LOCAL_ROLE_OUTPUTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace taskmaster::step::local {

// Output parameter name -> value, as a pod left them.
using Outputs = std::map<std::string, std::string>;

// What init says: the shards still to run, and the batch size it settled on.
struct InitOutputs {
  std::vector<int64_t> shards;
  int64_t batch_size = 1;
};
// nullopt when init wrote no usable shards or batch-size output.
std::optional<InitOutputs> ParseInitOutputs(const Outputs& outputs);

// What one shard attempt's summary output says.
struct ShardSummary {
  bool present = false;
  int64_t succeeded = 0, failed = 0, interrupted = 0, cancelled = 0, skipped = 0;
};
ShardSummary ParseShardSummary(const Outputs& outputs);

// What finalize's summary output says; all 0 without one.
struct FinalizeCounts {
  int64_t total = 0, succeeded = 0, failed = 0, cancelled = 0, unfinished = 0;
};
FinalizeCounts ParseFinalizeSummary(const Outputs& outputs);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_ROLE_OUTPUTS_H_
