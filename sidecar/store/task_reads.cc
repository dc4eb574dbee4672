#include "store/task_reads.h"

#include <string>

#include "store/apply_plan.h"
#include "taskmaster/fingerprint.h"

namespace taskmaster::sidecar {
namespace {

constexpr const char* kOutcomeNames[] = {"running",   "succeeded",   "failed",
                                         "timed_out", "interrupted", "cancelled"};

// How tm-step words a failure at --task-timeout (executor/task_runner.cc): the
// task_end record has no field of its own for it.
constexpr std::string_view kTimedOutPrefix = "timed out after ";

}  // namespace

const char* ToString(AttemptOutcome outcome) {
  return kOutcomeNames[static_cast<int>(outcome)];
}

Result<AttemptOutcome> ParseAttemptOutcome(std::string_view text) {
  for (int i = 0; i < static_cast<int>(std::size(kOutcomeNames)); ++i) {
    if (text == kOutcomeNames[i]) return static_cast<AttemptOutcome>(i);
  }
  return Status::InvalidArgument("unknown attempt outcome '" + std::string(text) + "'");
}

AttemptOutcome OutcomeOf(const protocol::TaskEndRecord& end) {
  switch (end.status) {
    case TaskStatus::kSucceeded:
      return AttemptOutcome::kSucceeded;
    case TaskStatus::kInterrupted:
      return AttemptOutcome::kInterrupted;
    case TaskStatus::kCancelled:
      return AttemptOutcome::kCancelled;
    // A quarantined end is a failure that quarantined its task (final).
    case TaskStatus::kFailed:
    case TaskStatus::kQuarantined:
      return end.error.rfind(kTimedOutPrefix, 0) == 0 ? AttemptOutcome::kTimedOut
                                                      : AttemptOutcome::kFailed;
    case TaskStatus::kPending:
    case TaskStatus::kRunning:
      break;
  }
  return AttemptOutcome::kFailed;  // no task_end carries these (protocol.cc refuses them)
}

std::optional<std::string> NormalizedErrorOf(const protocol::TaskEndRecord& end) {
  if (end.status != TaskStatus::kFailed && end.status != TaskStatus::kQuarantined) {
    return std::nullopt;
  }
  return NormalizeErrorLine(StorableText(end.error));
}

}  // namespace taskmaster::sidecar
