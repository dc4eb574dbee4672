#include "store/apply_plan.h"

#include <algorithm>
#include <limits>
#include <map>

#include "taskmaster/utf8.h"

namespace taskmaster::sidecar {
namespace {

// Keeps the last record per ordinal, in ordinal order, and counts what it saw.
template <typename Record>
std::vector<const Record*> LastPerOrdinal(const std::vector<Record>& records, int64_t watermark,
                                          ApplyPlan* plan) {
  std::map<int64_t, const Record*> last;
  for (const Record& r : records) {
    if (r.seq <= watermark) {
      ++plan->skipped;
      continue;
    }
    ++plan->applied;
    plan->max_seq = std::max(plan->max_seq, r.seq);
    last[r.ordinal] = &r;
  }
  std::vector<const Record*> out;
  out.reserve(last.size());
  for (const auto& [ordinal, record] : last) out.push_back(record);
  return out;
}

// Counts one record that is not per task; true when it takes effect.
bool Admit(int64_t seq, int64_t watermark, ApplyPlan* plan) {
  if (seq <= watermark) {
    ++plan->skipped;
    return false;
  }
  ++plan->applied;
  plan->max_seq = std::max(plan->max_seq, seq);
  return true;
}

}  // namespace

FenceCheck CheckFence(int64_t batch_fence, const std::optional<FenceSeq>& stored) {
  const FenceSeq pair = stored.value_or(FenceSeq{});
  FenceCheck check;
  if (batch_fence < pair.fence) {
    check.fenced = true;
  } else if (batch_fence == pair.fence) {
    check.watermark = pair.seq;
  } else {
    // A newer fence than the stored one: every (fence, seq) of the batch is
    // greater than the stored pair.
    check.watermark = std::numeric_limits<int64_t>::min();
  }
  return check;
}

ApplyPlan PlanBatch(const Batch& batch, int64_t watermark) {
  ApplyPlan plan;
  if (batch.init && Admit(batch.init->seq, watermark, &plan)) plan.init = &*batch.init;
  for (const protocol::TaskListRecord& list : batch.task_lists) {
    if (!Admit(list.seq, watermark, &plan)) continue;
    for (size_t i = 0; i < list.ids.size(); ++i) {
      plan.task_list.push_back({list.first_ordinal + static_cast<int64_t>(i), list.ids[i]});
    }
  }
  plan.starts = LastPerOrdinal(batch.starts, watermark, &plan);

  std::map<std::string, CheckpointUpsert> checkpoints;
  for (const CheckpointWrite& c : batch.checkpoints) {
    if (!Admit(c.seq, watermark, &plan)) continue;
    CheckpointUpsert& u = checkpoints[c.task_id];
    if (u.current == nullptr || c.generation > u.current->generation) {
      u.previous = u.current;
      u.current = &c;
    } else if (c.generation == u.current->generation) {
      // The same generation again replaces the document but is no new
      // generation: the backup stays what it was.
      u.current = &c;
    }
    // A lower generation never replaces a higher one (the stores refuse it too).
  }
  for (const auto& [task_id, upsert] : checkpoints) plan.checkpoints.push_back(upsert);

  plan.progress = LastPerOrdinal(batch.progress, watermark, &plan);
  plan.notes = LastPerOrdinal(batch.notes, watermark, &plan);
  plan.ends = LastPerOrdinal(batch.ends, watermark, &plan);
  if (batch.budget && Admit(batch.budget->seq, watermark, &plan)) plan.budget = &*batch.budget;
  if (batch.commit && Admit(batch.commit->seq, watermark, &plan)) {
    plan.commit = true;
    plan.final_status = batch.final_status;
  }
  if (plan.applied > 0) plan.max_seq = std::max(plan.max_seq, batch.max_seq);
  return plan;
}

std::string StorableText(std::string_view text) {
  std::string out = ReplaceInvalidUtf8(text);
  // NUL is valid UTF-8 (U+0000), but PostgreSQL text cannot hold it.
  for (size_t at = out.find('\0'); at != std::string::npos; at = out.find('\0', at)) {
    out.replace(at, 1, kUtf8Replacement);
  }
  return out;
}

std::vector<int64_t> CountedOrdinals(const ApplyPlan& plan) {
  std::vector<int64_t> ordinals;
  ordinals.reserve(plan.task_list.size() + plan.starts.size() + plan.ends.size());
  for (const TaskListEntry& t : plan.task_list) ordinals.push_back(t.ordinal);
  for (const protocol::TaskStartRecord* r : plan.starts) ordinals.push_back(r->ordinal);
  for (const protocol::TaskEndRecord* r : plan.ends) ordinals.push_back(r->ordinal);
  return ordinals;
}

std::vector<ShardRun> ShardRuns(const std::vector<int64_t>& ordinals, int64_t shard_size) {
  std::vector<int64_t> shards;
  shards.reserve(ordinals.size());
  for (int64_t ordinal : ordinals) shards.push_back(ordinal / shard_size);
  std::sort(shards.begin(), shards.end());
  shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
  std::vector<ShardRun> runs;
  for (int64_t shard : shards) {
    if (!runs.empty() && runs.back().last + 1 == shard) {
      runs.back().last = shard;
    } else {
      runs.push_back(ShardRun{shard, shard});
    }
  }
  return runs;
}

}  // namespace taskmaster::sidecar
