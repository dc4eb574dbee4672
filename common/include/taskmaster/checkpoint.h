// The checkpoint document (DESIGN.md §5, §9): one line of compact JSON,
//
//   {"format":1,"workflow_id":"..","task_id":"..","fence":F,"seq":S,"generation":G,
//    "created_at":"2026-11-29T00:28:02.123Z","payload":<compact JSON>,
//    "checksum":"xxh3:<16 lower-case hex>"}
//
// The checksum is XXH3-64 of the exact bytes of the line with its 16 hex digits
// set to '0'. The stored form has no trailing newline; a file gets one; verify
// ignores whitespace after the object. The same bytes live in Redis and Postgres.
// `task_id` is "*" for the workflow's summary checkpoint.
#ifndef TASKMASTER_CHECKPOINT_H_
#define TASKMASTER_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "taskmaster/status.h"

namespace taskmaster {

inline constexpr int kCheckpointFormat = 1;
inline constexpr const char* kWorkflowCheckpointTaskId = "*";

struct CheckpointFields {
  std::string workflow_id;
  std::string task_id;
  int64_t fence = 0;
  int64_t seq = 0;
  int64_t generation = 0;  // 1-based count of checkpoints committed for the task
  int64_t created_at_ms = 0;
};

struct Checkpoint {
  CheckpointFields fields;
  std::string payload;   // compact JSON, exactly as in the document
  std::string checksum;  // "xxh3:<hex>"
};

// Builds the document (no trailing newline). payload_json is any JSON value; it
// is re-serialized compactly. InvalidArgument when it does not parse, TooLarge
// when the compact payload exceeds protocol::kMaxPayloadBytes.
Result<std::string> EncodeCheckpoint(const CheckpointFields& fields, std::string_view payload_json);

// Verifies a document: Corruption naming the field or the mismatch
// ("checksum mismatch: stored xxh3:.., computed xxh3:..", "truncated: ...",
// "field 'seq': expected an integer", ...). Never throws.
Result<Checkpoint> VerifyCheckpoint(std::string_view document);

}  // namespace taskmaster

#endif  // TASKMASTER_CHECKPOINT_H_
