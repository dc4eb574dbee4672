// Task lists and IDs (DESIGN.md §8): a task list is a JSON array of task IDs,
// given inline or as @path. A task ID and a state key are 1–256 bytes of valid
// UTF-8 without control characters. Every rejection names the problem and where
// it is (item index and byte offset).
//
// A list is read as a stream: the checks need a 64 KiB read buffer and one
// 64-bit hash per ID (16 MiB at a million IDs), never the IDs themselves, so a
// caller that does not keep them (tm-step validate, init's first pass) uses
// memory that does not depend on the IDs' lengths. Everything here is
// reentrant; nothing is shared between calls.
#ifndef TASKMASTER_TASK_LIST_H_
#define TASKMASTER_TASK_LIST_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster {

class Env;
class RandomAccessFile;

// Checks one ID. `what` names it in the message ("task ID", "state key").
Status ValidateId(std::string_view id, std::string_view what);

// Receives each ID of a list in order, once it has passed every check (the
// duplicate check against the IDs before it included). The view is valid
// during the call only. A non-OK status stops the scan and is returned as is.
// The list may still be refused after some IDs were handed out: a caller that
// must write nothing for a bad list scans it once to check it, then again to
// use it.
using TaskIdVisitor = std::function<Status(std::string_view id)>;

// The hash the duplicate check keeps per ID. Production uses XXH3-64; tests
// pass a weak one to force collisions.
using IdHash = uint64_t (*)(std::string_view id);
uint64_t DefaultIdHash(std::string_view id);

// Reads the task list in `file` (its JSON text from offset 0 to its end) as a
// stream and hands each ID to `visit`. InvalidArgument, with the prefix "task
// list: ", on: invalid JSON (with byte offset), not an array, a non-string
// item, an empty list, an empty or over-long ID, control characters, invalid
// UTF-8, duplicates (naming both positions), and nesting of any depth (parsed
// without recursion). A read error is returned as the file reports it.
//
// Two IDs with the same hash are told apart by reading the list again from the
// start up to the later one and comparing bytes: a duplicate is reported only
// for two IDs that are equal. That costs one extra pass for the duplicate
// itself and one per collision of distinct IDs, which a list of a million IDs
// has with a probability of about 3 in 10^8 (n^2 / 2^65).
Status ScanTaskList(const RandomAccessFile& file, const TaskIdVisitor& visit,
                    IdHash hash = DefaultIdHash);

// ScanTaskList of JSON text in memory.
Status ScanTaskList(std::string_view json, const TaskIdVisitor& visit, IdHash hash = DefaultIdHash);

// ScanTaskList of an argument that may be large: "@path" streams the file, and
// the path prefixes the message of a refused list; anything else is the list
// itself. NotFound/IOError name the path.
Status ScanTaskListArgument(Env* env, std::string_view arg, const TaskIdVisitor& visit);

// Parses and validates a task list given as JSON text, keeping the IDs; errors
// as ScanTaskList.
Result<std::vector<std::string>> ParseTaskList(std::string_view json);

// Resolves an argument that may be large: "@path" reads the file, anything else
// is the value itself. NotFound/IOError name the path.
Result<std::string> ReadArgument(Env* env, std::string_view arg);

// ScanTaskListArgument, keeping the IDs: for callers that need them all at
// once (recording a list in the store).
Result<std::vector<std::string>> LoadTaskList(Env* env, std::string_view arg);

}  // namespace taskmaster

#endif  // TASKMASTER_TASK_LIST_H_
