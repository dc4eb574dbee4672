// The operator's reads of tasks (store/task_reads.h) as the CLI and the HTTP
// API take and give them: the page query from its three text parameters, with
// one message per mistake, and the JSON of tasks, pages and attempts. Pure
// functions: thread-safe.
//
// Documents (keys in this order; times RFC 3339 UTC with milliseconds, null
// when unset):
//   task:    {"ordinal","task_id","status","final","attempts","exit_code",
//             "error","started_at","finished_at","duration_ms","generation"}
//   page:    {"workflow_id","tasks":[task...],"next_after": ordinal|null}
//   attempt: {"attempt","fence","shard","step_attempt","pod","started_at",
//             "finished_at","duration_ms","outcome","final","exit_code",
//             "error","generation"}
//   history: {"workflow_id","task":task,"attempts":[attempt...]}
#ifndef TASKMASTER_SIDECAR_TASK_JSON_H_
#define TASKMASTER_SIDECAR_TASK_JSON_H_

#include <optional>
#include <string>

#include "store/task_reads.h"
#include "taskmaster/json.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// A page query from `status` (a task status; empty: any), `limit` (an integer
// in 1..kMaxTaskPageSize; empty: kDefaultTaskPageSize) and `after` (the
// ordinal a previous page named as next_after; empty: from the start). Each is
// nullopt when not given. InvalidArgument names the parameter, its value and
// what is allowed; `prefix` starts each name ("--" for flags, "" for query
// parameters).
Result<TaskQuery> ParseTaskQuery(const std::optional<std::string>& status,
                                 const std::optional<std::string>& limit,
                                 const std::optional<std::string>& after, const char* prefix);

void WriteTaskRow(const TaskRow& task, JsonWriter* out);
void WriteAttemptRow(const AttemptRow& attempt, JsonWriter* out);
std::string TaskPageJson(const std::string& workflow_id, const TaskPage& page);
std::string TaskHistoryJson(const std::string& workflow_id, const TaskHistory& history);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_TASK_JSON_H_
