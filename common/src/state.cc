#include "taskmaster/state.h"

#include <cstdio>
#include <tuple>

#include "taskmaster/json.h"

namespace taskmaster {
namespace {

constexpr int64_t kMillisPerDay = int64_t{86400} * 1000;

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's
// algorithms): plain integer arithmetic, so no timegm, no TZ and no locale.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct CivilDate {
  int64_t year;
  int64_t month;
  int64_t day;
};

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int64_t DaysInMonth(int64_t year, int64_t month) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// The value of `count` decimal digits at text[pos], already known to be digits.
int64_t Digits(std::string_view text, size_t pos, size_t count) {
  int64_t value = 0;
  for (size_t i = pos; i < pos + count; ++i) value = value * 10 + (text[i] - '0');
  return value;
}

Status BadTime(std::string_view text, const std::string& why) {
  // Quote a bounded prefix: the text may be anything a peer sent.
  constexpr size_t kQuoteMax = 64;
  std::string quoted(text.substr(0, kQuoteMax));
  if (text.size() > kQuoteMax) quoted += "...";
  return Status::InvalidArgument("'" + quoted +
                                 "' is not an RFC 3339 UTC time with milliseconds (" + why +
                                 "; like 2026-11-29T00:28:02.123Z)");
}

}  // namespace

const char* ToString(WorkflowStatus status) {
  switch (status) {
    case WorkflowStatus::kPending:
      return "pending";
    case WorkflowStatus::kRunning:
      return "running";
    case WorkflowStatus::kSucceeded:
      return "succeeded";
    case WorkflowStatus::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* ToString(TaskStatus status) {
  switch (status) {
    case TaskStatus::kPending:
      return "pending";
    case TaskStatus::kRunning:
      return "running";
    case TaskStatus::kSucceeded:
      return "succeeded";
    case TaskStatus::kFailed:
      return "failed";
    case TaskStatus::kInterrupted:
      return "interrupted";
    case TaskStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

Result<WorkflowStatus> ParseWorkflowStatus(std::string_view text) {
  for (WorkflowStatus s : {WorkflowStatus::kPending, WorkflowStatus::kRunning,
                           WorkflowStatus::kSucceeded, WorkflowStatus::kFailed}) {
    if (text == ToString(s)) return s;
  }
  return Status::InvalidArgument("unknown workflow status '" + std::string(text) +
                                 "' (expected pending, running, succeeded or failed)");
}

Result<TaskStatus> ParseTaskStatus(std::string_view text) {
  for (TaskStatus s : {TaskStatus::kPending, TaskStatus::kRunning, TaskStatus::kSucceeded,
                       TaskStatus::kFailed, TaskStatus::kInterrupted, TaskStatus::kCancelled}) {
    if (text == ToString(s)) return s;
  }
  return Status::InvalidArgument(
      "unknown task status '" + std::string(text) +
      "' (expected pending, running, succeeded, failed, interrupted or cancelled)");
}

bool operator==(const TaskState& a, const TaskState& b) {
  return std::tie(a.workflow_id, a.task_id, a.ordinal, a.status, a.final, a.exit_code, a.error,
                  a.attempts, a.started_at_ms, a.finished_at_ms, a.generation, a.applied) ==
         std::tie(b.workflow_id, b.task_id, b.ordinal, b.status, b.final, b.exit_code, b.error,
                  b.attempts, b.started_at_ms, b.finished_at_ms, b.generation, b.applied);
}

bool operator==(const TaskCounts& a, const TaskCounts& b) {
  return std::tie(a.total, a.succeeded, a.failed, a.running, a.pending, a.cancelled) ==
         std::tie(b.total, b.succeeded, b.failed, b.running, b.pending, b.cancelled);
}

bool operator==(const WorkflowState& a, const WorkflowState& b) {
  return std::tie(a.workflow_id, a.status, a.counts, a.created_at_ms, a.updated_at_ms, a.version) ==
         std::tie(b.workflow_id, b.status, b.counts, b.created_at_ms, b.updated_at_ms, b.version);
}

void TaskCounts::Add(TaskStatus status, bool final) {
  ++total;
  switch (status) {
    case TaskStatus::kSucceeded:
      ++succeeded;
      break;
    case TaskStatus::kRunning:
      ++running;
      break;
    case TaskStatus::kCancelled:
      ++cancelled;
      break;
    // A failure that is not final runs again on the next attempt, and so does an
    // interrupted task: both are still to do.
    case TaskStatus::kFailed:
      if (final) {
        ++failed;
      } else {
        ++pending;
      }
      break;
    case TaskStatus::kInterrupted:
    case TaskStatus::kPending:
      ++pending;
      break;
  }
}

WorkflowStatus DeriveWorkflowStatus(const TaskCounts& counts, bool any_started) {
  // No task rows yet: the list is not recorded, nothing can have happened.
  if (counts.total == 0) return WorkflowStatus::kPending;
  const bool nothing_left = counts.running == 0 && counts.pending == 0;
  if (nothing_left && (counts.failed > 0 || counts.cancelled > 0)) return WorkflowStatus::kFailed;
  if (counts.succeeded == counts.total) return WorkflowStatus::kSucceeded;
  // A task that reached any state but pending ran (cancelled ones count: the run
  // got far enough to cancel them); any_started covers tasks that ran and are
  // pending again (interrupted, or a failure that will be retried).
  const bool ran = any_started || counts.running > 0 || counts.succeeded > 0 || counts.failed > 0 ||
                   counts.cancelled > 0;
  return ran ? WorkflowStatus::kRunning : WorkflowStatus::kPending;
}

std::string WorkflowStateToJson(const WorkflowState& state) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(state.workflow_id);
  w.Key("status").String(ToString(state.status));
  WriteTaskCounts(state.counts, &w);
  w.Key("created_at").Time(state.created_at_ms);
  w.Key("updated_at").Time(state.updated_at_ms);
  w.Key("version").Int64(state.version);
  w.EndObject();
  return w.Take();
}

Result<WorkflowState> WorkflowStateFromJson(std::string_view json) {
  constexpr const char* kWhat = "workflow state";
  rapidjson::Document doc;
  TM_RETURN_IF_ERROR(ParseJson(json, kWhat, &doc));
  FieldReader in(doc, kWhat);
  WorkflowState s;
  s.workflow_id = in.String("workflow_id");
  s.status = in.Enum<WorkflowStatus>("status", ParseWorkflowStatus);
  s.counts = ReadTaskCounts(&in);
  s.created_at_ms = in.Time("created_at");
  s.updated_at_ms = in.Time("updated_at");
  s.version = in.Int64("version");
  TM_RETURN_IF_ERROR(in.status());
  return s;
}

std::string TaskStateToJson(const TaskState& state) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(state.workflow_id);
  w.Key("task_id").String(state.task_id);
  w.Key("ordinal").Int64(state.ordinal);
  w.Key("status").String(ToString(state.status));
  w.Key("final").Bool(state.final);
  w.Key("exit_code").OptionalInt(state.exit_code);
  w.Key("error").String(state.error);
  w.Key("attempts").Int64(state.attempts);
  w.Key("started_at").OptionalTime(state.started_at_ms);
  w.Key("finished_at").OptionalTime(state.finished_at_ms);
  w.Key("generation").Int64(state.generation);
  w.Key("fence").Int64(state.applied.fence);
  w.Key("seq").Int64(state.applied.seq);
  w.EndObject();
  return w.Take();
}

Result<TaskState> TaskStateFromJson(std::string_view json) {
  constexpr const char* kWhat = "task state";
  rapidjson::Document doc;
  TM_RETURN_IF_ERROR(ParseJson(json, kWhat, &doc));
  FieldReader in(doc, kWhat);
  TaskState s;
  s.workflow_id = in.String("workflow_id");
  s.task_id = in.String("task_id");
  s.ordinal = in.Int64("ordinal");
  s.status = in.Enum<TaskStatus>("status", ParseTaskStatus);
  s.final = in.Bool("final");
  s.exit_code = in.OptionalInt("exit_code");
  s.error = in.String("error");
  s.attempts = in.Int64("attempts");
  s.started_at_ms = in.OptionalTime("started_at");
  s.finished_at_ms = in.OptionalTime("finished_at");
  s.generation = in.Int64("generation");
  s.applied.fence = in.Int64("fence");
  s.applied.seq = in.Int64("seq");
  TM_RETURN_IF_ERROR(in.status());
  return s;
}

std::string FormatRfc3339Millis(int64_t unix_ms) {
  // Floor division, so times before 1970 land on the right day.
  int64_t days = unix_ms / kMillisPerDay;
  int64_t ms_of_day = unix_ms % kMillisPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMillisPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(date.year), static_cast<long long>(date.month),
                static_cast<long long>(date.day), static_cast<long long>(ms_of_day / 3600000),
                static_cast<long long>(ms_of_day / 60000 % 60),
                static_cast<long long>(ms_of_day / 1000 % 60),
                static_cast<long long>(ms_of_day % 1000));
  return buf;
}

Result<int64_t> ParseRfc3339Millis(std::string_view text) {
  // Exactly the form FormatRfc3339Millis writes: YYYY-MM-DDTHH:MM:SS.mmmZ.
  static constexpr std::string_view kShape = "0000-00-00T00:00:00.000Z";
  if (text.size() != kShape.size()) return BadTime(text, "wrong length");
  for (size_t i = 0; i < kShape.size(); ++i) {
    const bool want_digit = kShape[i] == '0';
    const bool is_digit = text[i] >= '0' && text[i] <= '9';
    if (want_digit ? !is_digit : text[i] != kShape[i]) {
      return BadTime(text, "unexpected character at " + std::to_string(i));
    }
  }
  const int64_t year = Digits(text, 0, 4);
  const int64_t month = Digits(text, 5, 2);
  const int64_t day = Digits(text, 8, 2);
  const int64_t hour = Digits(text, 11, 2);
  const int64_t minute = Digits(text, 14, 2);
  const int64_t second = Digits(text, 17, 2);
  const int64_t millis = Digits(text, 20, 3);
  if (month < 1 || month > 12) return BadTime(text, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return BadTime(text, "day out of range");
  if (hour > 23) return BadTime(text, "hour out of range");
  if (minute > 59) return BadTime(text, "minute out of range");
  // A leap second (:60) has no Unix time of its own.
  if (second > 59) return BadTime(text, "second out of range");
  return DaysFromCivil(year, month, day) * kMillisPerDay + hour * 3600000 + minute * 60000 +
         second * 1000 + millis;
}

}  // namespace taskmaster
