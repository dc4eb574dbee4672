#include "taskmaster/protocol.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "taskmaster/checksum.h"
#include "taskmaster/env.h"
#include "taskmaster/json.h"

namespace taskmaster {
namespace protocol {
namespace {

constexpr const char* kWorkflowInitWhat = "workflow_init record";
constexpr const char* kTaskListWhat = "task_list record";
constexpr const char* kTaskStartWhat = "task_start record";
constexpr const char* kProgressWhat = "progress record";
constexpr const char* kNoteWhat = "note record";
constexpr const char* kTaskEndWhat = "task_end record";
constexpr const char* kCommitWhat = "commit record";
constexpr const char* kBudgetWhat = "budget record";
constexpr const char* kReadyWhat = "ready";
constexpr const char* kAckWhat = "ack";
constexpr const char* kInitRestoreWhat = "restore/init.json";
constexpr const char* kShardRestoreWhat = "restore/shard.json";
constexpr const char* kSummaryWhat = "workflow summary";
constexpr const char* kInitSummaryWhat = "init summary";
constexpr const char* kShardSummaryWhat = "shard summary";
constexpr const char* kFinalizeSummaryWhat = "finalize summary";
constexpr const char* kShardListWhat = "shards output";

// Every record but a checkpoint starts with its (fence, seq): the sidecar reads
// them to decide whether the record applies.
JsonWriter& StartRecord(JsonWriter& w, int64_t fence, int64_t seq) {
  return w.StartObject().Key("fence").Int64(fence).Key("seq").Int64(seq);
}

// Reads the (fence, seq) that StartRecord wrote.
template <typename Record>
void ReadRecordStart(FieldReader& in, Record* r) {
  r->fence = in.Int64("fence");
  r->seq = in.Int64("seq");
}

// Bytes an ID takes inside a task_list record: quotes, a comma and JSON escapes.
// Counting these rather than raw bytes keeps a record of 1 MiB of one-byte IDs
// under kMaxRecordBytes too.
size_t EncodedIdBytes(std::string_view id) {
  size_t n = 3;
  for (unsigned char c : id) {
    if (c == '"' || c == '\\') {
      n += 2;
    } else if (c < 0x20) {
      n += 6;  // \u00XX at worst
    } else {
      n += 1;
    }
  }
  return n;
}

// Argo parameter names (DESIGN.md §9), which also keeps a name inside outputs/.
bool IsOutputName(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

// The summary output with its "durable" member set (replaced where present).
Result<std::string> MarkDurable(std::string_view summary, bool durable) {
  rapidjson::Document doc;
  TM_RETURN_IF_ERROR(ParseJson(summary, "summary output", &doc));
  if (!doc.IsObject()) return Status::Corruption("summary output: expected a JSON object");
  auto member = doc.FindMember("durable");
  if (member != doc.MemberEnd()) {
    member->value.SetBool(durable);
  } else {
    doc.AddMember("durable", durable, doc.GetAllocator());
  }
  return JsonWriter().Value(doc).Take();
}

std::vector<std::string> ReadStringArray(FieldReader& in, const char* name) {
  std::vector<std::string> out;
  const rapidjson::Value* array = in.Array(name);
  if (array == nullptr) return out;
  out.reserve(array->Size());
  for (rapidjson::SizeType i = 0; i < array->Size() && in.ok(); ++i) {
    const rapidjson::Value& v = (*array)[i];
    if (!v.IsString()) {
      in.Fail(std::string(name) + "[" + std::to_string(i) + "]", "expected a string");
      break;
    }
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

JsonWriter& WriteStringArray(const std::vector<std::string>& values, JsonWriter* w) {
  w->StartArray();
  for (const std::string& value : values) w->String(value);
  return w->EndArray();
}

// "tasks[3]." for the members of the fourth element of `tasks`.
std::string ElementPrefix(const FieldReader& in, const char* name, rapidjson::SizeType i) {
  return in.prefix() + name + "[" + std::to_string(i) + "].";
}

}  // namespace

const char* ToString(Role role) {
  switch (role) {
    case Role::kInit:
      return "init";
    case Role::kShard:
      return "shard";
    case Role::kFinalize:
      return "finalize";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view text) {
  for (Role role : {Role::kInit, Role::kShard, Role::kFinalize}) {
    if (text == ToString(role)) return role;
  }
  return Status::InvalidArgument("unknown role '" + std::string(text) +
                                 "' (expected init, shard or finalize)");
}

const char* ToString(RecordType type) {
  switch (type) {
    case RecordType::kWorkflowInit:
      return "workflow_init";
    case RecordType::kTaskList:
      return "task_list";
    case RecordType::kTaskStart:
      return "task_start";
    case RecordType::kCheckpoint:
      return "checkpoint";
    case RecordType::kProgress:
      return "progress";
    case RecordType::kNote:
      return "note";
    case RecordType::kTaskEnd:
      return "task_end";
    case RecordType::kCommit:
      return "commit";
    case RecordType::kBudget:
      return "budget";
  }
  return "unknown";
}

// ---- Shard math ---------------------------------------------------------------

int64_t EffectiveBatchSize(int64_t task_count, int64_t requested_batch, int64_t max_shards) {
  assert(max_shards >= 1);
  const int64_t for_cap = (task_count + max_shards - 1) / max_shards;
  // Never below 1, so the shard math downstream never divides by zero.
  return std::max({requested_batch, for_cap, int64_t{1}});
}

int64_t ShardCount(int64_t task_count, int64_t batch) {
  assert(batch >= 1);
  if (task_count <= 0) return 0;
  return (task_count + batch - 1) / batch;
}

OrdinalRange ShardRange(int64_t shard, int64_t task_count, int64_t batch) {
  assert(batch >= 1 && shard >= 0);
  return {std::min(shard * batch, task_count), std::min((shard + 1) * batch, task_count)};
}

void ListHasher::Add(std::string_view id) {
  // The length prefix makes the ID boundaries part of the hash: ["ab","c"] and
  // ["a","bc"] are different lists.
  const auto n = static_cast<uint32_t>(id.size());
  const char prefix[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                          static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 24) & 0xff)};
  hash_.Update(std::string_view(prefix, sizeof(prefix)));
  hash_.Update(id);
}

std::string ListHasher::Digest() const {
  return "xxh3:" + Hex64(hash_.Digest());
}

std::string ListHash(const std::vector<std::string>& ids) {
  ListHasher hash;
  for (const std::string& id : ids) hash.Add(id);
  return hash.Digest();
}

int64_t ToleratedFailures(int64_t max_failures, double max_failure_percent, int64_t total) {
  // The epsilon keeps 10% of 30 at 3 although 10 * 30 / 100 is 3.0000000000000004
  // and 33.3% of 1000 at 333 although it is 332.99999999999994.
  const auto share = static_cast<int64_t>(
      std::floor(max_failure_percent * static_cast<double>(total) / 100 + 1e-9));
  return std::max(max_failures, share);
}

Status CheckFailurePercent(double percent) {
  if (percent >= 0 && percent <= 100) return Status::OK();
  return Status::InvalidArgument("--max-failure-percent must be a number from 0 to 100, got " +
                                 fmt::format("{}", percent));
}

std::string IdempotencyKey(const std::string& workflow_id, const std::string& task_id,
                           int64_t fence) {
  return ListHash({workflow_id, task_id, std::to_string(fence)});
}

std::vector<int64_t> PendingShards(const std::vector<TaskStatus>& statuses, int64_t batch) {
  assert(batch >= 1);
  std::vector<int64_t> shards;
  for (size_t ordinal = 0; ordinal < statuses.size(); ++ordinal) {
    // A quarantined task stays so through a resubmission (requeue reopens it).
    if (statuses[ordinal] == TaskStatus::kSucceeded ||
        statuses[ordinal] == TaskStatus::kQuarantined) {
      continue;
    }
    const int64_t shard = static_cast<int64_t>(ordinal) / batch;
    if (shards.empty() || shards.back() != shard) shards.push_back(shard);
  }
  return shards;
}

std::vector<std::vector<int64_t>> Lanes(const std::vector<int64_t>& pending, int64_t parallelism) {
  assert(parallelism >= 1);
  const size_t lanes = std::min(pending.size(), static_cast<size_t>(parallelism));
  std::vector<std::vector<int64_t>> out(lanes);
  // Round-robin rather than contiguous blocks: the lanes' lengths differ by one
  // at most, and so do their shards' positions in the list.
  for (size_t i = 0; i < pending.size(); ++i) out[i % lanes].push_back(pending[i]);
  return out;
}

// ---- Journal records --------------------------------------------------------------
//
// Each encoder and decoder in this file lists its message's fields one by one,
// in wire order (docs/protocol.md, tests/golden/), so messages with like fields
// have encoders and decoders that look alike. They stay apart on purpose: their
// shape is the wire format. What they share is in StartRecord,
// ReadRecordStart and ReadJsonObject.

std::string Encode(const WorkflowInitRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  w.Key("workflow_id").String(r.workflow_id);
  w.Key("task_count").Int64(r.task_count);
  w.Key("batch_size").Int64(r.batch_size);
  w.Key("effective_batch_size").Int64(r.effective_batch_size);
  w.Key("list_hash").String(r.list_hash);
  w.Key("list_records").Int64(r.list_records);
  return w.EndObject().Take();
}

std::string Encode(const TaskListRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  w.Key("first_ordinal").Int64(r.first_ordinal);
  w.Key("ids").StartArray();
  for (const std::string& id : r.ids) w.String(id);
  w.EndArray();
  return w.EndObject().Take();
}

std::string Encode(const TaskStartRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  w.Key("ordinal").Int64(r.ordinal);
  w.Key("task_id").String(r.task_id);
  w.Key("attempt").Int64(r.attempt);
  w.Key("started_at").Time(r.started_at_ms);
  return w.EndObject().Take();
}

std::string Encode(const ProgressRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  w.Key("ordinal").Int64(r.ordinal);
  w.Key("done").Int64(r.done);
  w.Key("total").Int64(r.total);
  return w.EndObject().Take();
}

std::string Encode(const BudgetRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  WriteFailureBudget(r.budget, &w);
  return w.EndObject().Take();
}

std::string Encode(const NoteRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  w.Key("ordinal").Int64(r.ordinal);
  w.Key("text").String(r.text);
  return w.EndObject().Take();
}

std::string Encode(const TaskEndRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  w.Key("ordinal").Int64(r.ordinal);
  w.Key("task_id").String(r.task_id);
  w.Key("status").String(ToString(r.status));
  w.Key("final").Bool(r.final);
  w.Key("exit_code").OptionalInt(r.exit_code);
  w.Key("error").String(r.error);
  w.Key("attempt").Int64(r.attempt);
  w.Key("duration_ms").Int64(r.duration_ms);
  w.Key("finished_at").Time(r.finished_at_ms);
  w.Key("fingerprint").String(r.fingerprint);
  w.Key("fingerprint_streak").Int64(r.fingerprint_streak);
  return w.EndObject().Take();
}

std::string Encode(const CommitRecord& r) {
  JsonWriter w;
  StartRecord(w, r.fence, r.seq);
  w.Key("role").String(ToString(r.role));
  w.Key("outputs").StartObject();
  for (const auto& [name, value] : r.outputs) w.Key(name).String(value);
  w.EndObject();
  return w.EndObject().Take();
}

Result<WorkflowInitRecord> DecodeWorkflowInit(std::string_view json) {
  return ReadJsonObject<WorkflowInitRecord>(json, kWorkflowInitWhat, [](FieldReader& in) {
    WorkflowInitRecord r;
    ReadRecordStart(in, &r);
    r.workflow_id = in.String("workflow_id");
    r.task_count = in.Int64("task_count");
    r.batch_size = in.Int64("batch_size");
    r.effective_batch_size = in.Int64("effective_batch_size");
    r.list_hash = in.String("list_hash");
    r.list_records = in.Int64("list_records");
    return r;
  });
}

Result<TaskListRecord> DecodeTaskList(std::string_view json) {
  return ReadJsonObject<TaskListRecord>(json, kTaskListWhat, [](FieldReader& in) {
    TaskListRecord r;
    ReadRecordStart(in, &r);
    r.first_ordinal = in.Int64("first_ordinal");
    r.ids = ReadStringArray(in, "ids");
    return r;
  });
}

Result<TaskStartRecord> DecodeTaskStart(std::string_view json) {
  return ReadJsonObject<TaskStartRecord>(json, kTaskStartWhat, [](FieldReader& in) {
    TaskStartRecord r;
    ReadRecordStart(in, &r);
    r.ordinal = in.Int64("ordinal");
    r.task_id = in.String("task_id");
    r.attempt = in.Int64("attempt");
    r.started_at_ms = in.Time("started_at");
    return r;
  });
}

Result<ProgressRecord> DecodeProgress(std::string_view json) {
  return ReadJsonObject<ProgressRecord>(json, kProgressWhat, [](FieldReader& in) {
    ProgressRecord r;
    ReadRecordStart(in, &r);
    r.ordinal = in.Int64("ordinal");
    r.done = in.Int64("done");
    r.total = in.Int64("total");
    return r;
  });
}

Result<BudgetRecord> DecodeBudget(std::string_view json) {
  return ReadJsonObject<BudgetRecord>(json, kBudgetWhat, [](FieldReader& in) {
    BudgetRecord r;
    ReadRecordStart(in, &r);
    r.budget = ReadFailureBudget(&in);
    return r;
  });
}

Result<NoteRecord> DecodeNote(std::string_view json) {
  return ReadJsonObject<NoteRecord>(json, kNoteWhat, [](FieldReader& in) {
    NoteRecord r;
    ReadRecordStart(in, &r);
    r.ordinal = in.Int64("ordinal");
    r.text = in.String("text");
    return r;
  });
}

Result<TaskEndRecord> DecodeTaskEnd(std::string_view json) {
  return ReadJsonObject<TaskEndRecord>(json, kTaskEndWhat, [](FieldReader& in) {
    TaskEndRecord r;
    ReadRecordStart(in, &r);
    r.ordinal = in.Int64("ordinal");
    r.task_id = in.String("task_id");
    r.status = in.Enum<TaskStatus>("status", ParseTaskStatus);
    if (in.ok() && (r.status == TaskStatus::kPending || r.status == TaskStatus::kRunning)) {
      in.Fail("status", std::string("a task that ended cannot be ") + ToString(r.status));
    }
    r.final = in.Bool("final");
    // A quarantined task is done for good: a row that said otherwise would be
    // neither run again nor found by what reopens final failures.
    if (in.ok() && r.status == TaskStatus::kQuarantined && !r.final) {
      in.Fail("final", "a quarantined task is final");
    }
    r.exit_code = in.OptionalInt("exit_code");
    r.error = in.String("error");
    r.attempt = in.Int64("attempt");
    r.duration_ms = in.Int64("duration_ms");
    r.finished_at_ms = in.Time("finished_at");
    r.fingerprint = in.String("fingerprint");
    r.fingerprint_streak = in.Int64("fingerprint_streak");
    if (in.ok() && r.fingerprint_streak < 0) {
      in.Fail("fingerprint_streak", "must not be negative");
    }
    return r;
  });
}

Result<CommitRecord> DecodeCommit(std::string_view json) {
  return ReadJsonObject<CommitRecord>(json, kCommitWhat, [](FieldReader& in) {
    CommitRecord r;
    ReadRecordStart(in, &r);
    r.role = in.Enum<Role>("role", ParseRole);
    if (const rapidjson::Value* outputs = in.Object("outputs")) {
      FieldReader out(*outputs, kCommitWhat, "outputs.");
      for (const auto& member : outputs->GetObject()) {
        const std::string name(member.name.GetString(), member.name.GetStringLength());
        r.outputs[name] = out.String(name.c_str());
      }
      in.Merge(out.status());
    }
    return r;
  });
}

std::optional<TaskListRecord> TaskListChunker::Add(std::string_view id) {
  std::optional<TaskListRecord> complete;
  const size_t bytes = EncodedIdBytes(id);
  // A new record when this ID would overflow the current one; an empty record
  // takes any ID, so every record holds at least one.
  if (!filling_.ids.empty() && filling_bytes_ + bytes > kTaskListChunkBytes) {
    complete = std::move(filling_);
    filling_ = TaskListRecord{};
    filling_.first_ordinal = next_ordinal_;
    filling_bytes_ = 0;
  }
  filling_.ids.emplace_back(id);
  filling_bytes_ += bytes;
  ++next_ordinal_;
  return complete;
}

std::optional<TaskListRecord> TaskListChunker::Finish() {
  if (filling_.ids.empty()) return std::nullopt;
  std::optional<TaskListRecord> last = std::move(filling_);
  filling_ = TaskListRecord{};
  filling_.first_ordinal = next_ordinal_;
  filling_bytes_ = 0;
  return last;
}

std::vector<TaskListRecord> ChunkTaskList(const std::vector<std::string>& ids) {
  std::vector<TaskListRecord> chunks;
  TaskListChunker chunker;
  for (const std::string& id : ids) {
    if (auto complete = chunker.Add(id)) chunks.push_back(std::move(*complete));
  }
  if (auto last = chunker.Finish()) chunks.push_back(std::move(*last));
  return chunks;
}

// ---- ready and ack ----------------------------------------------------------------

std::string Encode(const Ready& r) {
  JsonWriter w;
  w.StartObject();
  w.Key("version").Int(r.version);
  w.Key("fence").Int64(r.fence);
  w.Key("workflow_id").String(r.workflow_id);
  w.Key("role").String(ToString(r.role));
  w.Key("shard").Int64(r.shard);
  return w.EndObject().Take();
}

std::string Encode(const Ack& a) {
  JsonWriter w;
  w.StartObject();
  w.Key("seq").Int64(a.seq);
  w.Key("offset").Uint64(a.offset);
  return w.EndObject().Take();
}

Result<Ready> DecodeReady(std::string_view json) {
  rapidjson::Document doc;
  TM_RETURN_IF_ERROR(ParseJson(json, kReadyWhat, &doc));
  FieldReader in(doc, kReadyWhat);
  Ready r;
  r.version = in.Int("version");
  // Checked before the other fields: another version may name them differently.
  if (in.ok() && r.version != kVersion) {
    return Status::InvalidArgument("ready: protocol version " + std::to_string(r.version) +
                                   ", but this program speaks version " + std::to_string(kVersion) +
                                   "; tm-step and tm-sidecar must come from the same release");
  }
  r.fence = in.Int64("fence");
  r.workflow_id = in.String("workflow_id");
  r.role = in.Enum<Role>("role", ParseRole);
  r.shard = in.Int64("shard");
  TM_RETURN_IF_ERROR(in.status());
  return r;
}

Result<Ack> DecodeAck(std::string_view json) {
  return ReadJsonObject<Ack>(json, kAckWhat, [](FieldReader& in) {
    Ack a;
    a.seq = in.Int64("seq");
    a.offset = in.Uint64("offset");
    return a;
  });
}

// ---- restore/ -------------------------------------------------------------------------

std::string Encode(const InitRestore& r) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(r.workflow_id);
  w.Key("exists").Bool(r.exists);
  w.Key("list_hash").String(r.list_hash);
  w.Key("task_count").Int64(r.task_count);
  w.Key("batch_size").Int64(r.batch_size);
  w.Key("effective_batch_size").Int64(r.effective_batch_size);
  w.Key("statuses").StartArray();
  for (TaskStatus status : r.statuses) w.String(ToString(status));
  w.EndArray();
  return w.EndObject().Take();
}

std::string Encode(const ShardRestore& r) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(r.workflow_id);
  w.Key("shard").Int64(r.shard);
  w.Key("task_count").Int64(r.task_count);
  w.Key("batch_size").Int64(r.batch_size);
  w.Key("final_failures").Int64(r.final_failures);
  w.Key("tasks").StartArray();
  for (const RestoredTask& t : r.tasks) {
    w.StartObject();
    w.Key("ordinal").Int64(t.ordinal);
    w.Key("task_id").String(t.task_id);
    w.Key("status").String(ToString(t.status));
    w.Key("final").Bool(t.final);
    w.Key("attempts").Int64(t.attempts);
    w.Key("failures").Int64(t.failures);
    w.Key("interruptions").Int64(t.interruptions);
    w.Key("generation").Int64(t.generation);
    w.Key("exit_code").OptionalInt(t.exit_code);
    w.Key("error").String(t.error);
    w.Key("fingerprint").String(t.fingerprint);
    w.Key("fingerprint_streak").Int64(t.fingerprint_streak);
    w.EndObject();
  }
  w.EndArray();
  return w.EndObject().Take();
}

std::string Encode(const WorkflowSummary& s) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(s.workflow_id);
  w.Key("counts").StartObject();
  WriteTaskCounts(s.counts, &w);
  w.EndObject();
  w.Key("failed_total").Int64(s.failed_total);
  w.Key("failed").StartArray();
  for (const FailedTask& f : s.failed) {
    w.StartObject();
    w.Key("task_id").String(f.task_id);
    w.Key("exit_code").OptionalInt(f.exit_code);
    w.Key("error").String(f.error);
    w.EndObject();
  }
  w.EndArray();
  return w.EndObject().Take();
}

Result<InitRestore> DecodeInitRestore(std::string_view json) {
  return ReadJsonObject<InitRestore>(json, kInitRestoreWhat, [](FieldReader& in) {
    InitRestore r;
    r.workflow_id = in.String("workflow_id");
    r.exists = in.Bool("exists");
    r.list_hash = in.String("list_hash");
    r.task_count = in.Int64("task_count");
    r.batch_size = in.Int64("batch_size");
    r.effective_batch_size = in.Int64("effective_batch_size");
    for (const std::string& name : ReadStringArray(in, "statuses")) {
      Result<TaskStatus> status = ParseTaskStatus(name);
      if (!status.ok()) {
        in.Fail("statuses[" + std::to_string(r.statuses.size()) + "]", status.status().message());
        break;
      }
      r.statuses.push_back(*status);
    }
    return r;
  });
}

Result<ShardRestore> DecodeShardRestore(std::string_view json) {
  return ReadJsonObject<ShardRestore>(json, kShardRestoreWhat, [](FieldReader& in) {
    ShardRestore r;
    r.workflow_id = in.String("workflow_id");
    r.shard = in.Int64("shard");
    r.task_count = in.Int64("task_count");
    r.batch_size = in.Int64("batch_size");
    r.final_failures = in.Int64("final_failures");
    if (const rapidjson::Value* tasks = in.Array("tasks")) {
      for (rapidjson::SizeType i = 0; i < tasks->Size() && in.ok(); ++i) {
        FieldReader task(tasks->GetArray()[i], kShardRestoreWhat, ElementPrefix(in, "tasks", i));
        RestoredTask t;
        t.ordinal = task.Int64("ordinal");
        t.task_id = task.String("task_id");
        t.status = task.Enum<TaskStatus>("status", ParseTaskStatus);
        t.final = task.Bool("final");
        if (task.ok() && t.status == TaskStatus::kQuarantined && !t.final) {
          task.Fail("final", "a quarantined task is final");
        }
        t.attempts = task.Int64("attempts");
        t.failures = task.Int64("failures");
        t.interruptions = task.Int64("interruptions");
        t.generation = task.Int64("generation");
        t.exit_code = task.OptionalInt("exit_code");
        t.error = task.String("error");
        t.fingerprint = task.String("fingerprint");
        t.fingerprint_streak = task.Int64("fingerprint_streak");
        in.Merge(task.status());
        r.tasks.push_back(std::move(t));
      }
    }
    return r;
  });
}

Result<WorkflowSummary> DecodeWorkflowSummary(std::string_view json) {
  return ReadJsonObject<WorkflowSummary>(json, kSummaryWhat, [](FieldReader& in) {
    WorkflowSummary s;
    s.workflow_id = in.String("workflow_id");
    if (const rapidjson::Value* counts = in.Object("counts")) {
      FieldReader c(*counts, kSummaryWhat, "counts.");
      s.counts = ReadTaskCounts(&c);
      in.Merge(c.status());
    }
    s.failed_total = in.Int64("failed_total");
    if (const rapidjson::Value* failed = in.Array("failed")) {
      for (rapidjson::SizeType i = 0; i < failed->Size() && in.ok(); ++i) {
        FieldReader task(failed->GetArray()[i], kSummaryWhat, ElementPrefix(in, "failed", i));
        FailedTask f;
        f.task_id = task.String("task_id");
        f.exit_code = task.OptionalInt("exit_code");
        f.error = task.String("error");
        in.Merge(task.status());
        s.failed.push_back(std::move(f));
      }
    }
    return s;
  });
}

std::string RestoreCheckpointName(int64_t ordinal) {
  return std::string(kRestoreCheckpointDir) + "/" + std::to_string(ordinal) + ".json";
}

std::string RestorePayloadName(int64_t ordinal) {
  return std::string(kRestorePayloadDir) + "/" + std::to_string(ordinal) + ".json";
}

// ---- Resuming a workflow -------------------------------------------------------------

ResumeVerdict CheckResume(const InitRestore& recorded, std::string_view list_hash,
                          int64_t task_count, int64_t batch_size) {
  if (!recorded.exists) return ResumeVerdict::kNew;
  if (recorded.list_hash != list_hash || recorded.task_count != task_count) {
    return ResumeVerdict::kOtherList;
  }
  // The requested size, not the effective one: the same request resumes.
  if (recorded.batch_size != batch_size) return ResumeVerdict::kOtherBatchSize;
  // A crash between the workflow_init record and the last task_list record
  // leaves the list recorded only in part: recording it again (the store's
  // inserts are idempotent) beats resuming a workflow with tasks missing.
  if (static_cast<int64_t>(recorded.statuses.size()) != task_count) {
    return ResumeVerdict::kRecordAgain;
  }
  return ResumeVerdict::kResume;
}

std::string OtherListMessage(const std::string& state_key, const InitRestore& recorded,
                             std::string_view list_hash, int64_t task_count) {
  return "state key " + state_key + " already holds a different task list (" +
         std::to_string(recorded.task_count) + " tasks, " + recorded.list_hash + "; given " +
         std::to_string(task_count) + " tasks, " + std::string(list_hash) + ")";
}

// ---- outputs/ ---------------------------------------------------------------------------

std::string Encode(const InitSummary& s) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(s.workflow_id);
  w.Key("task_count").Int64(s.task_count);
  w.Key("batch_size").Int64(s.batch_size);
  w.Key("shards").Int64(s.shards);
  w.Key("pending_shards").Int64(s.pending_shards);
  w.Key("resumed").Bool(s.resumed);
  w.Key("list_hash").String(s.list_hash);
  return w.EndObject().Take();
}

std::string Encode(const ShardSummary& s) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(s.workflow_id);
  w.Key("shard").Int64(s.shard);
  w.Key("attempt").Int64(s.attempt);
  w.Key("total").Int64(s.total);
  w.Key("succeeded").Int64(s.succeeded);
  w.Key("failed").Int64(s.failed);
  w.Key("interrupted").Int64(s.interrupted);
  w.Key("cancelled").Int64(s.cancelled);
  w.Key("skipped").Int64(s.skipped);
  w.Key("not_run").Int64(s.not_run);
  w.Key("final_failures").Int64(s.final_failures);
  w.Key("stopped").Bool(s.stopped);
  w.Key("duration_ms").Int64(s.duration_ms);
  return w.EndObject().Take();
}

std::string Encode(const FinalizeSummary& s) {
  JsonWriter w;
  w.StartObject();
  w.Key("workflow_id").String(s.workflow_id);
  w.Key("status").String(ToString(s.status));
  w.Key("total").Int64(s.total);
  w.Key("succeeded").Int64(s.succeeded);
  w.Key("failed").Int64(s.failed);
  w.Key("cancelled").Int64(s.cancelled);
  w.Key("unfinished").Int64(s.unfinished);
  w.Key("max_failures").Int64(s.max_failures);
  w.Key("max_failure_percent").Double(s.max_failure_percent);
  w.Key("tolerated").Int64(s.tolerated);
  w.Key("failed_tasks");
  WriteStringArray(s.failed_tasks, &w);
  w.Key("failed_total").Int64(s.failed_total);
  return w.EndObject().Take();
}

Result<InitSummary> DecodeInitSummary(std::string_view json) {
  return ReadJsonObject<InitSummary>(json, kInitSummaryWhat, [](FieldReader& in) {
    InitSummary s;
    s.workflow_id = in.String("workflow_id");
    s.task_count = in.Int64("task_count");
    s.batch_size = in.Int64("batch_size");
    s.shards = in.Int64("shards");
    s.pending_shards = in.Int64("pending_shards");
    s.resumed = in.Bool("resumed");
    s.list_hash = in.String("list_hash");
    return s;
  });
}

Result<ShardSummary> DecodeShardSummary(std::string_view json) {
  return ReadJsonObject<ShardSummary>(json, kShardSummaryWhat, [](FieldReader& in) {
    ShardSummary s;
    s.workflow_id = in.String("workflow_id");
    s.shard = in.Int64("shard");
    s.attempt = in.Int64("attempt");
    s.total = in.Int64("total");
    s.succeeded = in.Int64("succeeded");
    s.failed = in.Int64("failed");
    s.interrupted = in.Int64("interrupted");
    s.cancelled = in.Int64("cancelled");
    s.skipped = in.Int64("skipped");
    s.not_run = in.Int64("not_run");
    s.final_failures = in.Int64("final_failures");
    s.stopped = in.Bool("stopped");
    s.duration_ms = in.Int64("duration_ms");
    return s;
  });
}

Result<FinalizeSummary> DecodeFinalizeSummary(std::string_view json) {
  return ReadJsonObject<FinalizeSummary>(json, kFinalizeSummaryWhat, [](FieldReader& in) {
    FinalizeSummary s;
    s.workflow_id = in.String("workflow_id");
    s.status = in.Enum<WorkflowStatus>("status", ParseWorkflowStatus);
    s.total = in.Int64("total");
    s.succeeded = in.Int64("succeeded");
    s.failed = in.Int64("failed");
    s.cancelled = in.Int64("cancelled");
    s.unfinished = in.Int64("unfinished");
    s.max_failures = in.Int64("max_failures");
    s.max_failure_percent = in.Double("max_failure_percent");
    s.tolerated = in.Int64("tolerated");
    s.failed_tasks = ReadStringArray(in, "failed_tasks");
    s.failed_total = in.Int64("failed_total");
    return s;
  });
}

std::map<std::string, std::string> InitOutputs(const InitSummary& summary,
                                               const std::vector<int64_t>& pending_shards,
                                               int64_t parallelism) {
  JsonWriter shards;
  shards.StartArray();
  for (int64_t shard : pending_shards) shards.Int64(shard);
  shards.EndArray();
  JsonWriter lane_indexes;
  lane_indexes.StartArray();
  std::vector<std::string> entries;
  size_t width = 0;
  for (const std::vector<int64_t>& lane : Lanes(pending_shards, parallelism)) {
    lane_indexes.Int64(static_cast<int64_t>(entries.size()));
    JsonWriter entry;
    entry.StartArray();
    for (int64_t shard : lane) entry.Int64(shard);
    entry.EndArray();
    entries.push_back(entry.Take());
    width = std::max(width, entries.back().size());
  }
  lane_indexes.EndArray();
  std::string plan;
  for (std::string& entry : entries) plan += entry.append(width - entry.size(), ' ');
  return {{kOutShards, shards.Take()},
          {kOutBatchSize, std::to_string(summary.batch_size)},
          {kOutTaskCount, std::to_string(summary.task_count)},
          {kOutLanes, lane_indexes.Take()},
          {kOutLanePlan, std::move(plan)},
          {kOutLaneWidth, std::to_string(width)},
          {kOutSummary, Encode(summary)}};
}

std::map<std::string, std::string> ShardOutputs(const ShardSummary& summary) {
  return {{kOutSummary, Encode(summary)}};
}

std::map<std::string, std::string> FinalizeOutputs(const FinalizeSummary& summary) {
  JsonWriter failed_tasks;
  WriteStringArray(summary.failed_tasks, &failed_tasks);
  return {{kOutSummary, Encode(summary)},
          {kOutTotal, std::to_string(summary.total)},
          {kOutSucceeded, std::to_string(summary.succeeded)},
          {kOutFailed, std::to_string(summary.failed)},
          {kOutCancelled, std::to_string(summary.cancelled)},
          {kOutFailedTasks, failed_tasks.Take()}};
}

Result<std::vector<int64_t>> DecodeShardList(std::string_view json) {
  rapidjson::Document doc;
  TM_RETURN_IF_ERROR(ParseJson(json, kShardListWhat, &doc));
  if (!doc.IsArray()) {
    return Status::Corruption(std::string(kShardListWhat) + ": expected a JSON array");
  }
  std::vector<int64_t> shards;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    if (!doc[i].IsInt64()) {
      return Status::Corruption(std::string(kShardListWhat) + ": element " + std::to_string(i) +
                                ": expected an integer");
    }
    shards.push_back(doc[i].GetInt64());
  }
  return shards;
}

Status WriteOutputs(Env* env, const std::string& work_dir, const CommitRecord& commit,
                    bool durable) {
  const std::string dir = JoinPath(work_dir, kOutputsDir);
  // The step gave up waiting and wrote the outputs itself; writing ours now
  // would change what Argo reads after the step already reported them.
  if (durable && env->FileExists(JoinPath(dir, kBarrierTimeoutFile))) return Status::OK();

  // Everything is checked and built first, so a bad commit record leaves
  // outputs/ as it was.
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& [name, value] : commit.outputs) {
    if (!IsOutputName(name) || name == kBarrierTimeoutFile) {
      return Status::InvalidArgument("commit record: output name '" + name +
                                     "' is not an Argo parameter name ([-a-zA-Z0-9_]+, not " +
                                     kBarrierTimeoutFile + ")");
    }
    std::string content = value;
    if (name == kOutSummary) {
      Result<std::string> marked = MarkDurable(value, durable);
      if (!marked.ok()) return marked.status().WithContext("commit record");
      content = std::move(*marked);
    }
    files.emplace_back(JoinPath(dir, name), content + "\n");
  }
  TM_RETURN_IF_ERROR(env->CreateDirs(dir));
  for (const auto& [path, content] : files) {
    // No fsync: Argo (or tm-step local) reads them on the same machine right
    // after the step exits.
    TM_RETURN_IF_ERROR(WriteFileAtomic(env, path, content, /*sync=*/false));
  }
  return Status::OK();
}

}  // namespace protocol
}  // namespace taskmaster
