// Task lists (task_list.h): the JSON text of --task-list, read as a stream
// through file_stream.h, and kept by ParseTaskList. Both readings must agree:
// the same IDs in the same order, or the same refusal.
#include "taskmaster/task_list.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Every ID collides, so each duplicate check takes the re-reading path.
uint64_t CollidingHash(std::string_view) {
  return 42;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using taskmaster::Status;
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> streamed;
  const Status scanned = taskmaster::ScanTaskList(json, [&](std::string_view id) {
    if (Status s = taskmaster::ValidateId(id, "task ID"); !s.ok()) std::abort();
    streamed.emplace_back(id);
    return Status::OK();
  });
  const auto parsed = taskmaster::ParseTaskList(json);
  if (parsed.ok() != scanned.ok()) std::abort();
  if (parsed.ok() && *parsed != streamed) std::abort();
  // A list short enough is scanned again with every hash equal: the verdict
  // must not depend on the hash.
  if (size <= 4096) {
    const Status colliding = taskmaster::ScanTaskList(
        json, [](std::string_view) { return Status::OK(); }, CollidingHash);
    if (colliding.ok() != scanned.ok()) std::abort();
  }
  return 0;
}
