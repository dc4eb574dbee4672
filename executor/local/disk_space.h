// Free space in the state dir's file system. Local mode keeps its journals,
// work dirs, logs (and the SQLite store) there; a write that fails for want of
// space fails a pod, whose retry would fail the same way. So the run checks
// the space it has while it runs and, below kMinFreeBytes, stops as on SIGTERM
// (running steps commit what they can) and exits 75 with a message that says
// so: freeing space and running the same command again resumes it.
#ifndef TASKMASTER_EXECUTOR_LOCAL_DISK_SPACE_H_
#define TASKMASTER_EXECUTOR_LOCAL_DISK_SPACE_H_

#include <cstdint>
#include <optional>
#include <string>

namespace taskmaster::step::local {

inline constexpr uint64_t kMinFreeBytes = 16ull << 20;

// Why the file system holding `dir` has too little space left for a run (less
// than min_free bytes available to us), or nullopt when it has enough or
// cannot be asked (statvfs failed: the writes will say why).
std::optional<std::string> OutOfSpace(const std::string& dir, uint64_t min_free = kMinFreeBytes);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_DISK_SPACE_H_
