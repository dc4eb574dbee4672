#include "task_json.h"

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace taskmaster::sidecar {
namespace {

// A decimal integer, nothing else (no sign, space or trailing text); nullopt
// when `text` is not one or overflows.
std::optional<int64_t> ParseDecimal(std::string_view text, bool allow_minus) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  size_t first = allow_minus && text[0] == '-' ? 1 : 0;
  if (first == text.size()) return std::nullopt;
  for (size_t i = first; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  errno = 0;
  const std::string copy(text);
  const long long value = std::strtoll(copy.c_str(), nullptr, 10);
  if (errno == ERANGE) return std::nullopt;
  return static_cast<int64_t>(value);
}

// JsonWriter has no optional 64-bit integer.
void OptionalInt64(const std::optional<int64_t>& value, JsonWriter* w) {
  if (value) {
    w->Int64(*value);
  } else {
    w->OptionalInt(std::nullopt);
  }
}

}  // namespace

Result<TaskQuery> ParseTaskQuery(const std::optional<std::string>& status,
                                 const std::optional<std::string>& limit,
                                 const std::optional<std::string>& after, const char* prefix) {
  TaskQuery query;
  const std::string p(prefix);
  if (status) {
    Result<TaskStatus> parsed = ParseTaskStatus(*status);
    if (!parsed.ok()) {
      return Status::InvalidArgument(
          p + "status: unknown task status '" + *status +
          "' (use pending, running, succeeded, failed, interrupted, cancelled or quarantined)");
    }
    query.status = *parsed;
  }
  if (limit) {
    const std::optional<int64_t> n = ParseDecimal(*limit, /*allow_minus=*/true);
    if (!n || *n < 1 || *n > kMaxTaskPageSize) {
      return Status::InvalidArgument(p + "limit: '" + *limit + "' is not a page size (an integer " +
                                     "from 1 to " + std::to_string(kMaxTaskPageSize) + ")");
    }
    query.limit = *n;
  }
  if (after) {
    const std::optional<int64_t> n = ParseDecimal(*after, /*allow_minus=*/false);
    if (!n) {
      return Status::InvalidArgument(p + "after: '" + *after +
                                     "' is not a task ordinal (a non-negative integer: the " +
                                     "next_after of the previous page)");
    }
    query.after = *n;
  }
  return query;
}

void WriteTaskRow(const TaskRow& t, JsonWriter* w) {
  w->StartObject();
  w->Key("ordinal").Int64(t.ordinal);
  w->Key("task_id").String(t.task_id);
  w->Key("status").String(ToString(t.status));
  w->Key("final").Bool(t.final);
  w->Key("attempts").Int64(t.attempts);
  w->Key("exit_code").OptionalInt(t.exit_code);
  w->Key("error").String(t.error);
  w->Key("started_at").OptionalTime(t.started_at_ms);
  w->Key("finished_at").OptionalTime(t.finished_at_ms);
  w->Key("duration_ms");
  OptionalInt64(t.duration_ms, w);
  w->Key("generation").Int64(t.generation);
  w->EndObject();
}

void WriteAttemptRow(const AttemptRow& a, JsonWriter* w) {
  w->StartObject();
  w->Key("attempt").Int64(a.attempt);
  w->Key("fence").Int64(a.fence);
  w->Key("shard").Int64(a.shard);
  w->Key("step_attempt").Int64(a.step_attempt);
  w->Key("pod");
  if (a.pod.empty()) {
    w->OptionalInt(std::nullopt);
  } else {
    w->String(a.pod);
  }
  w->Key("started_at").Time(a.started_at_ms);
  w->Key("finished_at").OptionalTime(a.finished_at_ms);
  w->Key("duration_ms");
  OptionalInt64(a.duration_ms, w);
  w->Key("outcome").String(ToString(a.outcome));
  w->Key("final").Bool(a.final);
  w->Key("exit_code").OptionalInt(a.exit_code);
  w->Key("error").String(a.error);
  w->Key("generation").Int64(a.generation);
  w->EndObject();
}

std::string TaskPageJson(const std::string& workflow_id, const TaskPage& page) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(workflow_id);
  w.Key("tasks").StartArray();
  for (const TaskRow& t : page.tasks) WriteTaskRow(t, &w);
  w.EndArray();
  w.Key("next_after");
  OptionalInt64(page.next_after, &w);
  w.EndObject();
  return w.Take();
}

std::string TaskHistoryJson(const std::string& workflow_id, const TaskHistory& history) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(workflow_id);
  w.Key("task");
  WriteTaskRow(history.task, &w);
  w.Key("attempts").StartArray();
  for (const AttemptRow& a : history.attempts) WriteAttemptRow(a, &w);
  w.EndArray();
  w.EndObject();
  return w.Take();
}

}  // namespace taskmaster::sidecar
