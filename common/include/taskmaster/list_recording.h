// A task list read twice as a stream to be recorded in a journal (tm-step
// init), so that memory does not grow with the list. The workflow_init record
// comes first and says how many tasks, which list (its ListHash) and how many
// kTaskList records follow, so a first pass checks the list and digests it
// without keeping an ID; a second pass cuts it into those records, holding one
// record's IDs at a time. Reentrant; nothing is shared between calls.
#ifndef TASKMASTER_LIST_RECORDING_H_
#define TASKMASTER_LIST_RECORDING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/protocol.h"
#include "taskmaster/status.h"

namespace taskmaster {

class Env;

// What the first pass found.
struct TaskListDigest {
  int64_t count = 0;
  std::string list_hash;  // protocol::ListHash of the whole list
  // protocol::ListHash of the IDs of each kTaskList record, in order.
  std::vector<std::string> record_hashes;
};

// The first pass over a --task-list argument (JSON or @path): every check of
// ScanTaskListArgument, with its errors.
Result<TaskListDigest> DigestTaskList(Env* env, std::string_view arg);

// The second pass: hands each kTaskList record (fence and seq unset) to
// `record`, in order. A record is checked against the digest before it is
// handed out, so a list that reads differently now (its file replaced between
// the passes) stops at the first record that differs, with an IOError that
// says so: what was handed out is a prefix of the digested list. A status
// that `record` returns stops the pass and is returned as is.
Status ForEachTaskListRecord(Env* env, std::string_view arg, const TaskListDigest& digest,
                             const std::function<Status(protocol::TaskListRecord&)>& record);

}  // namespace taskmaster

#endif  // TASKMASTER_LIST_RECORDING_H_
