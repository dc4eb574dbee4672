// Redis refilled whole from the store: what a sidecar does when it finds Redis
// behind, and what rebuild-cache and requeue do after their writes.
#ifndef TASKMASTER_SIDECAR_CACHE_REFILL_H_
#define TASKMASTER_SIDECAR_CACHE_REFILL_H_

#include <cstddef>
#include <cstdint>

#include "cache/live_cache.h"
#include "store/state_store.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// Writes the workflow's Redis keys again from the store: its task checkpoints,
// its shard fences (read after the documents: fences only grow, live_cache.h
// Publish) and `state`, with the workflow's summary checkpoint as written by
// `fence` and `seq` at now_ms (0 and 0: no writer, as the commands write it).
// The number of task checkpoints written. On failure, *store_failed (when
// given) says whether the store failed (Redis was not reached) or Redis did.
Result<size_t> RefillCacheFromStore(StateStore* store, LiveCache* cache, const WorkflowState& state,
                                    int64_t fence, int64_t seq, int64_t now_ms,
                                    bool* store_failed = nullptr);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CACHE_REFILL_H_
