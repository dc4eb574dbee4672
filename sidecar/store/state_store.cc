#include "store/state_store.h"

namespace taskmaster::sidecar {

size_t Batch::size() const {
  return (init ? 1 : 0) + task_lists.size() + starts.size() + checkpoints.size() + progress.size() +
         notes.size() + ends.size() + (commit ? 1 : 0) + (budget ? 1 : 0);
}

}  // namespace taskmaster::sidecar
