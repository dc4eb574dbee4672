// Task lists and IDs (DESIGN.md §8): a task list is a JSON array of task IDs,
// given inline or as @path. A task ID and a state key are 1–256 bytes of valid
// UTF-8 without control characters. Every rejection names the problem and where
// it is (item index and byte offset).
#ifndef TASKMASTER_TASK_LIST_H_
#define TASKMASTER_TASK_LIST_H_

#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster {

class Env;

// Checks one ID. `what` names it in the message ("task ID", "state key").
Status ValidateId(std::string_view id, std::string_view what);

// Parses and validates a task list given as JSON text. InvalidArgument on:
// invalid JSON (with byte offset), not an array, a non-string item, an empty
// list, an empty or over-long ID, control characters, invalid UTF-8, duplicates
// (naming both positions), and nesting of any depth (parsed without recursion).
Result<std::vector<std::string>> ParseTaskList(std::string_view json);

// Resolves an argument that may be large: "@path" reads the file, anything else
// is the value itself. NotFound/IOError name the path.
Result<std::string> ReadArgument(Env* env, std::string_view arg);

// ReadArgument + ParseTaskList.
Result<std::vector<std::string>> LoadTaskList(Env* env, std::string_view arg);

}  // namespace taskmaster

#endif  // TASKMASTER_TASK_LIST_H_
