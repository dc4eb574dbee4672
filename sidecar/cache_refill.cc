#include "cache_refill.h"

namespace taskmaster::sidecar {

Result<size_t> RefillCacheFromStore(StateStore* store, LiveCache* cache, const WorkflowState& state,
                                    int64_t fence, int64_t seq, int64_t now_ms,
                                    bool* store_failed) {
  if (store_failed != nullptr) *store_failed = true;
  auto checkpoints = store->LoadCheckpoints(state.workflow_id);
  if (!checkpoints.ok()) return checkpoints.status();
  auto fences = store->LoadShardFences(state.workflow_id);
  if (!fences.ok()) return fences.status();
  if (store_failed != nullptr) *store_failed = false;
  auto doc = WorkflowCheckpointDocument(state, fence, seq, now_ms);
  if (!doc.ok()) return doc.status();
  TM_RETURN_IF_ERROR(cache->Publish(state, *checkpoints, *fences, *doc));
  return checkpoints->size();
}

}  // namespace taskmaster::sidecar
