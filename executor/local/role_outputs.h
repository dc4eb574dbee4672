// What the pod roles' outputs (outputs/<name>, read by Pods) say, through the
// protocol's decoders (protocol.h): init's pending shards and batch size, a
// shard attempt's summary, finalize's verdict.
#ifndef TASKMASTER_EXECUTOR_LOCAL_ROLE_OUTPUTS_H_
#define TASKMASTER_EXECUTOR_LOCAL_ROLE_OUTPUTS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "taskmaster/protocol.h"

namespace taskmaster::step::local {

// Output parameter name -> value, as a pod left them.
using Outputs = std::map<std::string, std::string>;

// What init says: the shards still to run, and the batch size it settled on.
struct InitPlan {
  std::vector<int64_t> shards;
  int64_t batch_size = 1;
};
// nullopt when init's shards or summary output is missing or does not decode.
std::optional<InitPlan> InitPlanOf(const Outputs& outputs);

// A shard attempt's summary; nullopt when the attempt left none (it was killed
// before its commit, or wrote something that does not decode).
std::optional<protocol::ShardSummary> ShardSummaryOf(const Outputs& outputs);

// finalize's summary; all counts 0 when it left none that decodes.
protocol::FinalizeSummary FinalizeSummaryOf(const Outputs& outputs);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_ROLE_OUTPUTS_H_
