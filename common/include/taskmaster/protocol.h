// The work-dir protocol between tm-step and tm-sidecar (DESIGN.md §5, §9),
// defined once. docs/protocol.md describes the same thing for people, and the
// golden files under tests/golden/ pin the bytes: both programs' tests read them,
// so the two cannot drift apart.
//
//   <work dir>/journal            records the step appends (journal.h format)
//   <work dir>/ready              sidecar → step: fence token, protocol version
//   <work dir>/ack                sidecar → step: highest durable seq (replaced atomically)
//   <work dir>/restore/...        sidecar → step: what the store holds, written before ready
//   <work dir>/outputs/<name>     one file per Argo output parameter
//   <work dir>/outputs/barrier-timeout   step wrote the outputs itself ("durable": false)
#ifndef TASKMASTER_PROTOCOL_H_
#define TASKMASTER_PROTOCOL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/checksum.h"
#include "taskmaster/state.h"
#include "taskmaster/status.h"

namespace taskmaster {
class Env;
namespace protocol {

// 2: task_end records and restore/shard.json carry the failure streak, and a
// task can be quarantined (docs/protocol.md, "Quarantine").
inline constexpr int kVersion = 2;

// ---- Files in the work dir -------------------------------------------------
inline constexpr const char* kJournalFile = "journal";
inline constexpr const char* kReadyFile = "ready";
inline constexpr const char* kAckFile = "ack";
inline constexpr const char* kRestoreDir = "restore";
inline constexpr const char* kOutputsDir = "outputs";
inline constexpr const char* kBarrierTimeoutFile = "barrier-timeout";  // under outputs/
// restore/ by role. Per-task files are named by ordinal, never by task ID.
inline constexpr const char* kRestoreInitFile = "init.json";         // role init
inline constexpr const char* kRestoreShardFile = "shard.json";       // role shard
inline constexpr const char* kRestoreCheckpointDir = "checkpoints";  // role shard: <ordinal>.json
inline constexpr const char* kRestorePayloadDir = "payloads";        // role shard: <ordinal>.json
inline constexpr const char* kRestoreSummaryFile = "summary.json";   // role finalize

// ---- Output parameter files (outputs/<name>) ------------------------------
inline constexpr const char* kOutShards = "shards";         // init: JSON array of pending shards
inline constexpr const char* kOutBatchSize = "batch-size";  // init: effective batch size
inline constexpr const char* kOutTaskCount = "task-count";  // init: tasks in the list
inline constexpr const char* kOutLanes = "lanes";           // init: JSON array of lane indexes
inline constexpr const char* kOutLanePlan = "lane-plan";  // init: each lane's shards (InitOutputs)
inline constexpr const char* kOutLaneWidth = "lane-width";      // init: bytes per lane in lane-plan
inline constexpr const char* kOutSummary = "summary";           // every role: summary JSON
inline constexpr const char* kOutTotal = "total";               // finalize
inline constexpr const char* kOutSucceeded = "succeeded";       // finalize
inline constexpr const char* kOutFailed = "failed";             // finalize: final failures
inline constexpr const char* kOutCancelled = "cancelled";       // finalize
inline constexpr const char* kOutFailedTasks = "failed-tasks";  // finalize: first 100 IDs

// ---- Environment (each also a flag; a flag beats the environment) ----------
inline constexpr const char* kEnvStateKey = "TM_STATE_KEY";
inline constexpr const char* kEnvRole = "TM_ROLE";
inline constexpr const char* kEnvShard = "TM_SHARD";
inline constexpr const char* kEnvAttempt = "TM_ATTEMPT";
inline constexpr const char* kEnvLastAttempt = "TM_LAST_ATTEMPT";
inline constexpr const char* kEnvWorkDir = "TM_WORK_DIR";
inline constexpr const char* kEnvGraceSeconds = "TM_GRACE_SECONDS";
inline constexpr const char* kEnvReadyTimeout = "TM_READY_TIMEOUT";
inline constexpr const char* kEnvBarrierTimeout = "TM_BARRIER_TIMEOUT";
inline constexpr const char* kEnvArgoProgressFile = "ARGO_PROGRESS_FILE";
inline constexpr const char* kEnvArgoDeadline = "ARGO_DEADLINE";
// What the user's command sees (DESIGN.md §6).
inline constexpr const char* kEnvTaskId = "TM_TASK_ID";
inline constexpr const char* kEnvTaskIndex = "TM_TASK_INDEX";
inline constexpr const char* kEnvTaskCount = "TM_TASK_COUNT";
inline constexpr const char* kEnvWorkflowId = "TM_WORKFLOW_ID";
inline constexpr const char* kEnvCheckpoint = "TM_CHECKPOINT";
inline constexpr const char* kEnvControlFd = "TM_CONTROL_FD";
// The fence of the shard's writer (the `fence` of `ready`): it grows with every
// pod attempt, so user code can refuse a write older than one it already took.
inline constexpr const char* kEnvFence = "TM_FENCE";
// IdempotencyKey(): the same for one run of the task's command, new for the next.
inline constexpr const char* kEnvIdempotencyKey = "TM_IDEMPOTENCY_KEY";
// Whole seconds a task gets from the SIGTERM tm-step forwards until SIGKILL.
inline constexpr const char* kEnvGracePeriod = "TM_GRACE_PERIOD";
inline constexpr int kControlFd = 3;

// ---- Defaults and timings (seconds unless named otherwise) ------------------
inline constexpr int kDefaultGraceSeconds = 30;
inline constexpr int kReadyTimeoutSeconds = 300;
inline constexpr int kReadyPollMillis = 100;
inline constexpr int kBarrierMaxSeconds = 60;  // barrier waits min(60, grace - 5)
inline constexpr int kFlushMaxRecords = 500;
inline constexpr int kFlushMaxMillis = 50;
inline constexpr int kDrainControlMillis = 100;
inline constexpr const char* kDefaultProgressFile = "/var/run/argo/progress";

// ---- Limits -----------------------------------------------------------------
inline constexpr size_t kMaxIdBytes = 256;
inline constexpr size_t kMaxPayloadBytes = 1 << 20;                    // checkpoint payload
inline constexpr size_t kMaxControlLineBytes = (1 << 20) + (4 << 10);  // one fd-3 line
inline constexpr size_t kMaxRecordBytes = 4 << 20;                     // one journal record
inline constexpr uint64_t kBackpressureBytes = uint64_t{64} << 20;     // unacknowledged journal
inline constexpr size_t kTaskListChunkBytes = 1 << 20;  // IDs per task_list record, by bytes
// A task list given to `tm-step init` travels in the Workflow object (inline, or as
// the @file Argo makes of a large argument): over this many bytes of JSON, init
// refuses it and points to `tm-sidecar submit`, which records the list in the store
// so that the workflow needs only its state key. `tm-step local` lifts the limit
// (--no-inline-limit): no Argo object carries its list.
inline constexpr size_t kMaxInlineTaskListBytes = 256 << 10;
// --max-shards accepts 1..kMaxShards; tm-step init and the WorkflowTemplate
// default to kDefaultMaxShards, which keeps the fan-out's node status in Argo
// well under 1 MiB (docs/argo.md, "Size budget"). Local mode keeps kMaxShards.
inline constexpr int64_t kMaxShards = 5000;
inline constexpr int64_t kDefaultMaxShards = 128;
// --parallelism of tm-step init (the template's `parallelism`): shards at once.
inline constexpr int64_t kMaxParallelism = 5000;
inline constexpr int64_t kDefaultParallelism = 20;
inline constexpr size_t kFailedTasksInSummary = 100;
// --task-retries: failed attempts a task may have before one is final.
inline constexpr int64_t kDefaultTaskRetries = 3;
inline constexpr int64_t kMaxTaskRetries = 1000;
// --quarantine-after: failures in a row with one error fingerprint that
// quarantine a task (docs/protocol.md, "Quarantine"); 0 turns it off. Off by
// default: a quarantined task is left out of resubmissions, which changes what
// a resubmission retries, so a workflow opts in.
inline constexpr int64_t kDefaultQuarantineAfter = 0;
inline constexpr int64_t kMaxQuarantineAfter = 1000;
// Attempts of a shard's pod after its first (the template's pod-retries, tm-step
// local --pod-retries): enough for preemptions, which spend no task's budget.
inline constexpr int64_t kDefaultPodRetries = 100;
inline constexpr int64_t kMaxPodRetries = 10000;
// --batch-size (tm-step init and local, tm-sidecar submit): 1..kMaxBatchSize. A
// batch larger than the list is one shard; --max-shards raises a small one.
inline constexpr int64_t kMaxBatchSize = 1000000;
// --max-failures: 0..kMaxFailuresAllowed (more than any list holds: "no limit").
inline constexpr int64_t kMaxFailuresAllowed = 1000000000;
// --grace-seconds of both programs: 1..kMaxGraceSeconds (a day).
inline constexpr int kMaxGraceSeconds = 86400;

// Final failures a workflow of `total` tasks tolerates: --max-failures, or
// --max-failure-percent of the whole list (rounded down) when that is more.
int64_t ToleratedFailures(int64_t max_failures, double max_failure_percent, int64_t total);
// InvalidArgument unless 0 <= percent <= 100 (and a number), naming the flag.
Status CheckFailurePercent(double percent);

// ---- Exit codes -------------------------------------------------------------
inline constexpr int kExitOk = 0;
// A task failed within its budget, was interrupted or was not run (a retry of
// the pod has work); finalize: the workflow failed.
inline constexpr int kExitFailed = 1;
// tm-step run: every task of the shard is done and some failed for good; a
// retry of the pod would change nothing, so the template does not retry it.
inline constexpr int kExitFailedForGood = 4;
inline constexpr int kExitUsage = 2;        // bad input or usage; never retried
inline constexpr int kExitCorrupt = 3;      // checkpoint verify: corrupt or truncated
inline constexpr int kExitNotDurable = 75;  // EX_TEMPFAIL: not durable in time / store unreachable
inline constexpr int kExitInterrupted = 130;

// ---- Roles ------------------------------------------------------------------
enum class Role { kInit, kShard, kFinalize };
const char* ToString(Role role);
Result<Role> ParseRole(std::string_view text);

// ---- Shard math (DESIGN.md §9) ----------------------------------------------
// B = max(batch, ceil(N / max_shards)); shard k holds ordinals [kB, min((k+1)B, N)).
// A resumed workflow keeps the B it was recorded with (InitRestore).
int64_t EffectiveBatchSize(int64_t task_count, int64_t requested_batch,
                           int64_t max_shards = kDefaultMaxShards);
int64_t ShardCount(int64_t task_count, int64_t batch);
struct OrdinalRange {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
};
OrdinalRange ShardRange(int64_t shard, int64_t task_count, int64_t batch);
// "xxh3:<16 hex>" of the IDs, each prefixed by its length as u32 little endian.
std::string ListHash(const std::vector<std::string>& ids);
// ListHash of IDs that arrive one at a time, for a list read as a stream.
class ListHasher {
 public:
  void Add(std::string_view id);
  std::string Digest() const;  // "xxh3:<16 hex>"

 private:
  Xxh3Stream hash_;
};
// TM_IDEMPOTENCY_KEY of one run of a task's command: ListHash of the workflow
// ID, the task ID and the writer's fence in decimal. A fence is taken once per
// pod attempt and the task runs once under it, so the key is the same wherever
// that run looks it up and differs for every other run of the task.
std::string IdempotencyKey(const std::string& workflow_id, const std::string& task_id,
                           int64_t fence);
// Shards holding a task that has neither succeeded nor been quarantined, ascending.
std::vector<int64_t> PendingShards(const std::vector<TaskStatus>& statuses, int64_t batch);
// The pending shards dealt round-robin over min(parallelism, pending) lanes: lane
// l runs pending[l], pending[l + L], ... one after another, so at most L shards
// run at once (docs/argo.md, "Parallelism"). Empty when nothing is pending.
std::vector<std::vector<int64_t>> Lanes(const std::vector<int64_t>& pending, int64_t parallelism);

// ---- Journal records ------------------------------------------------------
// The journal header's type field. Every record but kCheckpoint has a compact
// JSON payload holding "fence" and "seq" first; a kCheckpoint record's payload is
// the checkpoint document itself (checkpoint.h), which carries both.
enum class RecordType : uint16_t {
  kWorkflowInit = 1,
  kTaskList = 2,
  kTaskStart = 3,
  kCheckpoint = 4,
  kProgress = 5,
  kNote = 6,
  kTaskEnd = 7,
  kCommit = 8,
  kBudget = 9,
};
const char* ToString(RecordType type);
// Header flag of a kCheckpoint record whose task waits for its ack.
inline constexpr uint16_t kFlagSync = 1;

struct WorkflowInitRecord {
  int64_t fence = 0, seq = 0;
  std::string workflow_id;
  int64_t task_count = 0;
  int64_t batch_size = 0;            // as requested
  int64_t effective_batch_size = 0;  // after the --max-shards cap
  std::string list_hash;
  int64_t list_records = 0;  // kTaskList records that follow
};
struct TaskListRecord {
  int64_t fence = 0, seq = 0;
  int64_t first_ordinal = 0;
  std::vector<std::string> ids;
};
struct TaskStartRecord {
  int64_t fence = 0, seq = 0;
  int64_t ordinal = 0;
  std::string task_id;
  int64_t attempt = 0;
  int64_t started_at_ms = 0;
};
struct ProgressRecord {
  int64_t fence = 0, seq = 0;
  int64_t ordinal = 0;
  int64_t done = 0, total = 0;
};
struct NoteRecord {
  int64_t fence = 0, seq = 0;
  int64_t ordinal = 0;
  std::string text;
};
struct TaskEndRecord {
  int64_t fence = 0, seq = 0;
  int64_t ordinal = 0;
  std::string task_id;
  TaskStatus status = TaskStatus::kSucceeded;  // succeeded|failed|interrupted|cancelled
  bool final = false;
  std::optional<int> exit_code;
  std::string error;
  int64_t attempt = 0;
  int64_t duration_ms = 0;
  int64_t finished_at_ms = 0;
  // The task's failure streak after this attempt (docs/protocol.md,
  // "Quarantine"): the fingerprint of its last failure and how many failures
  // in a row had it ("" and 0: none). An interruption or a cancel leaves what
  // was restored; a success clears them.
  std::string fingerprint;
  int64_t fingerprint_streak = 0;
};
// The failure budget the step was given (FailureBudget, state.h), written by a
// shard and by finalize right after ready so that the store holds what the
// workflow tolerates. Finalize has no task-retries or quarantine-after and
// leaves them out (null): the store keeps what a shard recorded.
struct BudgetRecord {
  int64_t fence = 0, seq = 0;
  FailureBudget budget;  // its members are the record's (WriteFailureBudget)
};
// The last record of a step. Its outputs are what the sidecar writes under
// outputs/ (with "durable": true in the summary) before it acknowledges it.
struct CommitRecord {
  int64_t fence = 0, seq = 0;
  Role role = Role::kShard;
  std::map<std::string, std::string> outputs;
};

// Encoders produce compact JSON with keys in declaration order; decoders accept
// exactly what the encoders produce (other key orders too) and name the field
// that is missing or of the wrong type.
std::string Encode(const WorkflowInitRecord& r);
std::string Encode(const TaskListRecord& r);
std::string Encode(const TaskStartRecord& r);
std::string Encode(const ProgressRecord& r);
std::string Encode(const NoteRecord& r);
std::string Encode(const TaskEndRecord& r);
std::string Encode(const CommitRecord& r);
std::string Encode(const BudgetRecord& r);
Result<WorkflowInitRecord> DecodeWorkflowInit(std::string_view json);
Result<TaskListRecord> DecodeTaskList(std::string_view json);
Result<TaskStartRecord> DecodeTaskStart(std::string_view json);
Result<ProgressRecord> DecodeProgress(std::string_view json);
Result<NoteRecord> DecodeNote(std::string_view json);
Result<TaskEndRecord> DecodeTaskEnd(std::string_view json);
Result<CommitRecord> DecodeCommit(std::string_view json);
Result<BudgetRecord> DecodeBudget(std::string_view json);
// Splits a list into kTaskList records of at most kTaskListChunkBytes of IDs each.
std::vector<TaskListRecord> ChunkTaskList(const std::vector<std::string>& ids);
// ChunkTaskList for IDs that arrive one at a time: the same records, with one
// record's IDs in memory at a time. Not thread-safe.
class TaskListChunker {
 public:
  // Adds the next ID. When it does not fit in the record being filled, that
  // record is complete: it is returned, and the next one begins with this ID.
  std::optional<TaskListRecord> Add(std::string_view id);
  // The last record, at the end of the list; nullopt when it holds no ID.
  std::optional<TaskListRecord> Finish();

 private:
  TaskListRecord filling_;
  size_t filling_bytes_ = 0;
  int64_t next_ordinal_ = 0;
};

// ---- ready and ack ------------------------------------------------------------
struct Ready {
  int version = kVersion;
  int64_t fence = 0;
  std::string workflow_id;
  Role role = Role::kShard;
  int64_t shard = 0;
};
struct Ack {
  int64_t seq = 0;      // every record with seq <= this is durable
  uint64_t offset = 0;  // journal offset just past that record
};
std::string Encode(const Ready& r);
std::string Encode(const Ack& a);
// A ready file with another protocol version is refused (InvalidArgument).
Result<Ready> DecodeReady(std::string_view json);
Result<Ack> DecodeAck(std::string_view json);

// ---- restore/ -----------------------------------------------------------------
// restore/init.json: what the store holds for the workflow (exists=false: new).
struct InitRestore {
  std::string workflow_id;
  bool exists = false;
  std::string list_hash;
  int64_t task_count = 0;
  int64_t batch_size = 0;  // as requested when first recorded
  int64_t effective_batch_size = 0;
  std::vector<TaskStatus> statuses;  // by ordinal
};
// One task of restore/shard.json.
struct RestoredTask {
  int64_t ordinal = 0;
  std::string task_id;
  TaskStatus status = TaskStatus::kPending;
  bool final = false;
  int64_t attempts = 0;
  // Attempts that failed (non-zero exit, timeout), counted against
  // --task-retries, and attempts interrupted from outside (SIGTERM), which are not.
  int64_t failures = 0;
  int64_t interruptions = 0;
  int64_t generation = 0;  // 0: no checkpoint; else restore/checkpoints/<ordinal>.json
  std::optional<int> exit_code;
  std::string error;
  std::string fingerprint;         // of the task's last failure (TaskEndRecord); "": none
  int64_t fingerprint_streak = 0;  // failures in a row with it
};
// restore/shard.json.
struct ShardRestore {
  std::string workflow_id;
  int64_t shard = 0;
  int64_t task_count = 0;      // the whole list (TM_TASK_COUNT)
  int64_t batch_size = 0;      // effective
  int64_t final_failures = 0;  // in the whole workflow, for continue-on-error=false
  std::vector<RestoredTask> tasks;
};
struct FailedTask {
  std::string task_id;
  std::optional<int> exit_code;
  std::string error;
};
// restore/summary.json, and the finalize role's summary output.
struct WorkflowSummary {
  std::string workflow_id;
  TaskCounts counts;
  int64_t failed_total = 0;        // final failures
  std::vector<FailedTask> failed;  // the first kFailedTasksInSummary
};
std::string Encode(const InitRestore& r);
std::string Encode(const ShardRestore& r);
std::string Encode(const WorkflowSummary& s);
Result<InitRestore> DecodeInitRestore(std::string_view json);
Result<ShardRestore> DecodeShardRestore(std::string_view json);
Result<WorkflowSummary> DecodeWorkflowSummary(std::string_view json);
// "checkpoints/<ordinal>.json" and "payloads/<ordinal>.json" under restore/.
std::string RestoreCheckpointName(int64_t ordinal);
std::string RestorePayloadName(int64_t ordinal);

// ---- Resuming a workflow (DESIGN.md §9) ------------------------------------------
// What recording a list under a state key does, given what the store holds there
// (restore/init.json). tm-step init and the sidecar's submit API both decide
// with this, so a list one of them refuses the other refuses too.
enum class ResumeVerdict {
  kNew,             // nothing recorded: record the list
  kRecordAgain,     // the same list, recorded only in part (a crash mid-init): record it again
  kResume,          // the same list, recorded whole: resume it
  kOtherList,       // another list (its hash or length differs): refuse
  kOtherBatchSize,  // the same list, first requested with another batch size: refuse
};
// `batch_size` as requested, before the --max-shards cap.
ResumeVerdict CheckResume(const InitRestore& recorded, std::string_view list_hash,
                          int64_t task_count, int64_t batch_size);
// The refusal of kOtherList without its remedy, which each caller words for its
// interface: "state key K already holds a different task list (3 tasks, xxh3:…;
// given 4 tasks, xxh3:…)".
std::string OtherListMessage(const std::string& state_key, const InitRestore& recorded,
                             std::string_view list_hash, int64_t task_count);

// ---- outputs/ -----------------------------------------------------------------
// The "summary" output of each role: a JSON object the step writes into its
// commit record. tm-step local and Argo users read it from outputs/summary, where
// it also holds "durable" (WriteOutputs); the decoders ignore that member like
// any unknown one. tests/golden/summary-*.json pin the bytes.

// init's summary.
struct InitSummary {
  std::string workflow_id;
  int64_t task_count = 0;
  int64_t batch_size = 0;      // effective
  int64_t shards = 0;          // of the whole list
  int64_t pending_shards = 0;  // holding a task that has not succeeded
  bool resumed = false;        // the list was recorded whole before
  std::string list_hash;
};
// A shard's summary of one attempt.
struct ShardSummary {
  std::string workflow_id;
  int64_t shard = 0;
  int64_t attempt = 0;
  int64_t total = 0;  // tasks in the shard
  // What this attempt did with them: ran (succeeded, failed, interrupted),
  // cancelled, skipped (already done) or left pending (not_run, after a stop).
  int64_t succeeded = 0, failed = 0, interrupted = 0, cancelled = 0, skipped = 0, not_run = 0;
  int64_t final_failures = 0;  // in the whole workflow, this attempt's included
  bool stopped = false;        // a SIGTERM or the deadline stopped the attempt
  int64_t duration_ms = 0;
};
// finalize's summary: the workflow's verdict.
struct FinalizeSummary {
  std::string workflow_id;
  WorkflowStatus status = WorkflowStatus::kSucceeded;  // succeeded or failed
  int64_t total = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;  // final failures
  int64_t cancelled = 0;
  int64_t unfinished = 0;  // pending or running: no attempt finished them
  int64_t max_failures = 0;
  double max_failure_percent = 0;
  int64_t tolerated = 0;  // ToleratedFailures(max_failures, max_failure_percent, total)
  std::vector<std::string> failed_tasks;  // the first kFailedTasksInSummary IDs
  int64_t failed_total = 0;               // final failures again (as `failed`)
};
std::string Encode(const InitSummary& s);
std::string Encode(const ShardSummary& s);
std::string Encode(const FinalizeSummary& s);
Result<InitSummary> DecodeInitSummary(std::string_view json);
Result<ShardSummary> DecodeShardSummary(std::string_view json);
Result<FinalizeSummary> DecodeFinalizeSummary(std::string_view json);

// The outputs of each role's commit record, made from its summary (the names
// are the kOut* above). `pending_shards` is init's "shards" output, ascending;
// its size is summary.pending_shards. They are also dealt over `parallelism`
// lanes: "lanes" is [0, ..., L-1]; "lane-plan" holds each lane's shards as a
// JSON array padded with spaces to "lane-width" bytes, lane after lane, so that
// lane l's are the bytes [l * W, (l + 1) * W): "[0,2][1]  " and "5" for shards
// 0 to 2 over 2 lanes. The WorkflowTemplate's lane template cuts its share out
// with nothing but integer arithmetic and a string slice, which every Argo
// release evaluates alike (docs/argo.md, "Parallelism").
std::map<std::string, std::string> InitOutputs(const InitSummary& summary,
                                               const std::vector<int64_t>& pending_shards,
                                               int64_t parallelism);
std::map<std::string, std::string> ShardOutputs(const ShardSummary& summary);
std::map<std::string, std::string> FinalizeOutputs(const FinalizeSummary& summary);
// init's "shards" output: a JSON array of shard indexes.
Result<std::vector<int64_t>> DecodeShardList(std::string_view json);

// Writes every output of a commit record as outputs/<name> (atomically, each
// ending in "\n"). The "summary" output is a JSON object; `durable` is set in it.
// The sidecar calls this with durable=true before acking the commit record; the
// step, on barrier timeout, first writes outputs/barrier-timeout and then calls it
// with durable=false. A sidecar that sees barrier-timeout writes nothing.
Status WriteOutputs(Env* env, const std::string& work_dir, const CommitRecord& commit,
                    bool durable);

}  // namespace protocol
}  // namespace taskmaster

#endif  // TASKMASTER_PROTOCOL_H_
