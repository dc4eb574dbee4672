#include "taskmaster/protocol.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fault_env.h"
#include "golden.h"
#include "taskmaster/env.h"
#include "taskmaster/time.h"

namespace tp = taskmaster::protocol;
using taskmaster::Result;
using taskmaster::Status;
using taskmaster::TaskStatus;
using taskmaster::testing::ReadFileOrFail;
using taskmaster::testing::ReadGolden;
using taskmaster::testing::ScopedTempDir;

namespace {

// Decodes text and encodes the result again; the error when decoding fails.
using RoundTrip = std::function<Result<std::string>(std::string_view)>;

template <typename T, typename Encoder>
RoundTrip Via(Result<T> (*decode)(std::string_view), Encoder encode) {
  return [decode, encode](std::string_view json) -> Result<std::string> {
    Result<T> decoded = decode(json);
    if (!decoded.ok()) return decoded.status();
    return encode(*decoded);
  };
}

template <typename T>
RoundTrip Via(Result<T> (*decode)(std::string_view)) {
  return Via(decode, [](const T& value) { return tp::Encode(value); });
}

// The values of the golden files: the workflow of three tasks whose task-2
// failed for good on its third attempt. Each is built field by field, one
// builder per golden file, so builders of messages with like fields look alike
// on purpose.
const std::vector<std::string> kGoldenIds = {"task-1", "task-2", "task-3"};

// A journal record about task `ordinal`, numbered `seq` under `fence`.
template <typename Record>
Record Numbered(int64_t fence, int64_t seq, int64_t ordinal) {
  Record r;
  r.fence = fence;
  r.seq = seq;
  r.ordinal = ordinal;
  return r;
}

tp::WorkflowInitRecord GoldenWorkflowInit() {
  tp::WorkflowInitRecord init;
  init.fence = 1;
  init.seq = 1;
  init.workflow_id = "uuid-123";
  init.task_count = 3;
  init.batch_size = 1;
  init.effective_batch_size = tp::EffectiveBatchSize(3, 1);
  init.list_hash = tp::ListHash(kGoldenIds);
  init.list_records = static_cast<int64_t>(tp::ChunkTaskList(kGoldenIds).size());
  return init;
}

tp::TaskListRecord GoldenTaskList() {
  std::vector<tp::TaskListRecord> chunks = tp::ChunkTaskList(kGoldenIds);
  BOOST_REQUIRE(chunks.size() == 1u);
  chunks[0].fence = 1;
  chunks[0].seq = 2;
  return chunks[0];
}

tp::TaskStartRecord GoldenTaskStart() {
  auto start = Numbered<tp::TaskStartRecord>(4, 1, 1);
  start.task_id = "task-2";
  start.attempt = 3;
  start.started_at_ms = 1795912082123;
  return start;
}

tp::ProgressRecord GoldenProgress() {
  auto progress = Numbered<tp::ProgressRecord>(4, 2, 1);
  progress.done = 40;
  progress.total = 100;
  return progress;
}

tp::NoteRecord GoldenNote() {
  auto note = Numbered<tp::NoteRecord>(4, 3, 1);
  note.text = "resumed at row 42 of \"rows.csv\" \u2014 caf\u00e9";
  return note;
}

tp::BudgetRecord GoldenBudget() {
  tp::BudgetRecord budget;
  budget.fence = 4;
  budget.seq = 1;
  budget.budget.max_failures = 2;
  budget.budget.max_failure_percent = 12.5;
  budget.budget.task_retries = 3;
  return budget;
}

tp::TaskEndRecord GoldenTaskEnd() {
  auto end = Numbered<tp::TaskEndRecord>(4, 5, 1);
  end.task_id = "task-2";
  end.status = TaskStatus::kFailed;
  end.final = true;
  end.exit_code = 3;
  end.error = "exit status 3";
  end.attempt = 3;
  end.duration_ms = 1520;
  end.finished_at_ms = 1795912082123 + 1520;
  end.fingerprint = "3:exit status <n>";
  end.fingerprint_streak = 3;
  return end;
}

// The end of the attempt before: interrupted, so no exit code.
tp::TaskEndRecord GoldenInterruptedTaskEnd() {
  auto end = Numbered<tp::TaskEndRecord>(3, 4, 1);
  end.task_id = "task-2";
  end.status = TaskStatus::kInterrupted;
  end.error = "killed by signal 15 (SIGTERM)";
  end.attempt = 2;
  end.duration_ms = 30001;
  end.finished_at_ms = *taskmaster::ParseRfc3339Millis("2026-11-29T00:27:31.020Z");
  // An interruption keeps the streak it was restored with.
  end.fingerprint = "3:exit status <n>";
  end.fingerprint_streak = 1;
  return end;
}

// A failure that quarantines its task: its third in a row with one fingerprint.
tp::TaskEndRecord GoldenQuarantinedTaskEnd() {
  auto end = Numbered<tp::TaskEndRecord>(7, 3, 17);
  end.task_id = "row-17";
  end.status = TaskStatus::kQuarantined;
  end.final = true;
  end.exit_code = 3;
  end.error = "exited with code 3: cannot parse row 17 of /data/in.csv";
  end.attempt = 2;
  end.duration_ms = 40;
  end.finished_at_ms = *taskmaster::ParseRfc3339Millis("2026-12-07T01:52:18.839Z");
  end.fingerprint = "3:exited with code <n>: cannot parse row <n> of <path>";
  end.fingerprint_streak = 3;
  return end;
}

tp::ShardSummary GoldenShardSummary() {
  tp::ShardSummary s;
  s.workflow_id = "uuid-123";
  s.shard = 1;
  s.attempt = 3;
  s.total = 1;
  s.failed = 1;
  s.final_failures = 1;
  s.duration_ms = 1534;
  return s;
}

tp::CommitRecord GoldenCommit() {
  tp::CommitRecord commit;
  commit.fence = 4;
  commit.seq = 6;
  commit.role = tp::Role::kShard;
  commit.outputs = tp::ShardOutputs(GoldenShardSummary());
  return commit;
}

tp::Ready GoldenReady() {
  tp::Ready ready;
  ready.fence = 4;
  ready.workflow_id = "uuid-123";
  ready.role = tp::Role::kShard;
  ready.shard = 1;
  return ready;
}

tp::Ack GoldenAck() {
  tp::Ack ack;
  ack.seq = 6;
  ack.offset = 1187;
  return ack;
}

tp::InitRestore GoldenInitRestore() {
  tp::InitRestore restore;
  restore.workflow_id = "uuid-123";
  restore.exists = true;
  restore.list_hash = tp::ListHash(kGoldenIds);
  restore.task_count = 3;
  restore.batch_size = 1;
  restore.effective_batch_size = 1;
  restore.statuses = {TaskStatus::kSucceeded, TaskStatus::kFailed, TaskStatus::kPending};
  return restore;
}

tp::ShardRestore GoldenShardRestore() {
  tp::ShardRestore shard;
  shard.workflow_id = "uuid-123";
  shard.shard = 1;
  shard.task_count = 3;
  shard.batch_size = 1;
  tp::RestoredTask task;
  task.ordinal = 1;
  task.task_id = "task-2";
  task.status = TaskStatus::kInterrupted;
  task.attempts = 3;
  task.failures = 1;
  task.interruptions = 2;
  task.generation = 2;
  task.error = "killed by signal 15 (SIGTERM)";
  task.fingerprint = "3:exit status <n>";
  task.fingerprint_streak = 1;
  shard.tasks.push_back(task);
  return shard;
}

tp::WorkflowSummary GoldenWorkflowSummary() {
  tp::WorkflowSummary summary;
  summary.workflow_id = "uuid-123";
  summary.counts.Add(TaskStatus::kSucceeded, false);
  summary.counts.Add(TaskStatus::kFailed, true);
  summary.counts.Add(TaskStatus::kSucceeded, false);
  summary.failed_total = 1;
  summary.failed.push_back({"task-2", 3, "exit status 3"});
  return summary;
}

tp::InitSummary GoldenInitSummary() {
  tp::InitSummary s;
  s.workflow_id = "uuid-123";
  s.task_count = 3;
  s.batch_size = 1;
  s.shards = 3;
  s.pending_shards = 2;
  s.resumed = true;
  s.list_hash = tp::ListHash(kGoldenIds);
  return s;
}

tp::FinalizeSummary GoldenFinalizeSummary() {
  tp::FinalizeSummary s;
  s.workflow_id = "uuid-123";
  s.status = taskmaster::WorkflowStatus::kFailed;
  s.total = 3;
  s.succeeded = 2;
  s.failed = 1;
  s.failed_tasks = {"task-2"};
  s.failed_total = 1;
  return s;
}

// The encoding of a value built above.
using Built = std::function<std::string()>;

template <typename T>
Built Encoded(T (*build)()) {
  return [build] { return tp::Encode(build()); };
}

struct Golden {
  const char* file;
  RoundTrip round_trip;
  Built built;  // empty for workflow-state.json, whose values state_test builds
};

const std::vector<Golden>& Goldens() {
  static const std::vector<Golden> goldens = {
      {"record-workflow-init.json", Via(tp::DecodeWorkflowInit), Encoded(GoldenWorkflowInit)},
      {"record-task-list.json", Via(tp::DecodeTaskList), Encoded(GoldenTaskList)},
      {"record-task-start.json", Via(tp::DecodeTaskStart), Encoded(GoldenTaskStart)},
      {"record-progress.json", Via(tp::DecodeProgress), Encoded(GoldenProgress)},
      {"record-note.json", Via(tp::DecodeNote), Encoded(GoldenNote)},
      {"record-task-end.json", Via(tp::DecodeTaskEnd), Encoded(GoldenTaskEnd)},
      {"record-task-end-null-exit.json", Via(tp::DecodeTaskEnd), Encoded(GoldenInterruptedTaskEnd)},
      {"record-task-end-quarantined.json", Via(tp::DecodeTaskEnd),
       Encoded(GoldenQuarantinedTaskEnd)},
      {"record-commit.json", Via(tp::DecodeCommit), Encoded(GoldenCommit)},
      {"record-budget.json", Via(tp::DecodeBudget), Encoded(GoldenBudget)},
      {"ready.json", Via(tp::DecodeReady), Encoded(GoldenReady)},
      {"ack.json", Via(tp::DecodeAck), Encoded(GoldenAck)},
      {"restore-init.json", Via(tp::DecodeInitRestore), Encoded(GoldenInitRestore)},
      {"restore-shard.json", Via(tp::DecodeShardRestore), Encoded(GoldenShardRestore)},
      {"restore-summary.json", Via(tp::DecodeWorkflowSummary), Encoded(GoldenWorkflowSummary)},
      {"summary-init.json", Via(tp::DecodeInitSummary), Encoded(GoldenInitSummary)},
      {"summary-shard.json", Via(tp::DecodeShardSummary), Encoded(GoldenShardSummary)},
      {"summary-finalize.json", Via(tp::DecodeFinalizeSummary), Encoded(GoldenFinalizeSummary)},
      {"workflow-state.json",
       Via(taskmaster::WorkflowStateFromJson, taskmaster::WorkflowStateToJson), Built()},
  };
  return goldens;
}

std::string Serialize(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return buffer.GetString();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(protocol)

BOOST_AUTO_TEST_CASE(golden_files_round_trip_byte_for_byte) {
  for (const Golden& g : Goldens()) {
    BOOST_TEST_CONTEXT(g.file) {
      const std::string golden = ReadGolden(g.file);
      BOOST_REQUIRE(!golden.empty());
      BOOST_TEST(golden.back() == '\n');
      BOOST_TEST(golden.find('\n') == golden.size() - 1);  // one line
      Result<std::string> again = g.round_trip(golden);
      BOOST_REQUIRE_MESSAGE(again.ok(), again.status().ToString());
      BOOST_TEST(*again + "\n" == golden);
    }
  }
}

// The encoders, given values built here, produce the golden bytes: this pins
// the field names, their order and the value formats, not only stability.
BOOST_AUTO_TEST_CASE(encoders_produce_the_golden_bytes) {
  for (const Golden& g : Goldens()) {
    if (!g.built) continue;
    BOOST_TEST_CONTEXT(g.file) {
      BOOST_TEST(g.built() + "\n" == ReadGolden(g.file));
    }
  }
}

BOOST_AUTO_TEST_CASE(decoders_read_the_golden_values) {
  auto end = tp::DecodeTaskEnd(ReadGolden("record-task-end-null-exit.json"));
  BOOST_REQUIRE(end.ok());
  BOOST_TEST(!end->exit_code.has_value());
  BOOST_TEST(static_cast<int>(end->status) == static_cast<int>(TaskStatus::kInterrupted));
  BOOST_TEST(!end->final);

  auto note = tp::DecodeNote(ReadGolden("record-note.json"));
  BOOST_REQUIRE(note.ok());
  BOOST_TEST(note->text == "resumed at row 42 of \"rows.csv\" \u2014 caf\u00e9");

  auto commit = tp::DecodeCommit(ReadGolden("record-commit.json"));
  BOOST_REQUIRE(commit.ok());
  BOOST_TEST(commit->outputs.size() == 1u);
  BOOST_TEST(commit->outputs.at("summary").find(R"("shard":1)") != std::string::npos);

  // Other key orders are accepted too.
  auto ready =
      tp::DecodeReady(R"({"shard":2,"role":"init","workflow_id":"w","fence":9,"version":2})");
  BOOST_REQUIRE(ready.ok());
  BOOST_TEST(ready->fence == 9);
  BOOST_TEST(ready->shard == 2);
  BOOST_TEST(static_cast<int>(ready->role) == static_cast<int>(tp::Role::kInit));
}

// The decoders read outputs/summary too, where WriteOutputs added "durable".
BOOST_AUTO_TEST_CASE(summary_decoders_read_the_golden_values) {
  taskmaster::Env* env = taskmaster::Env::Default();
  ScopedTempDir dir;
  tp::CommitRecord commit;
  commit.outputs = tp::ShardOutputs(GoldenShardSummary());
  BOOST_REQUIRE(tp::WriteOutputs(env, dir.path(), commit, true).ok());
  const std::string output = ReadFileOrFail(dir.Join("outputs/summary"));
  BOOST_TEST(output.find(R"("durable":true)") != std::string::npos);
  auto shard = tp::DecodeShardSummary(output);
  BOOST_REQUIRE_MESSAGE(shard.ok(), shard.status().ToString());
  BOOST_TEST(tp::Encode(*shard) + "\n" == ReadGolden("summary-shard.json"));
  BOOST_TEST(shard->failed == 1);
  BOOST_TEST(shard->final_failures == 1);
  BOOST_TEST(!shard->stopped);

  auto init = tp::DecodeInitSummary(ReadGolden("summary-init.json"));
  BOOST_REQUIRE(init.ok());
  BOOST_TEST(init->pending_shards == 2);
  BOOST_TEST(init->resumed);
  BOOST_TEST(init->list_hash == "xxh3:0376c65992f250f6");

  auto finalize = tp::DecodeFinalizeSummary(ReadGolden("summary-finalize.json"));
  BOOST_REQUIRE(finalize.ok());
  BOOST_TEST(static_cast<int>(finalize->status) ==
             static_cast<int>(taskmaster::WorkflowStatus::kFailed));
  BOOST_TEST(finalize->failed_tasks == std::vector<std::string>{"task-2"});
  BOOST_TEST(finalize->failed_total == 1);
}

BOOST_AUTO_TEST_CASE(summary_decoders_name_the_bad_field) {
  std::string status = ReadGolden("summary-finalize.json");
  status.replace(status.find(R"("status":"failed")"), 17, R"("status":"done")");
  BOOST_TEST(tp::DecodeFinalizeSummary(status).status().message() ==
             "finalize summary: field 'status': unknown workflow status 'done' (expected "
             "pending, running, succeeded or failed)");

  std::string ids = ReadGolden("summary-finalize.json");
  ids.replace(ids.find(R"(["task-2"])"), 10, R"(["task-2",7])");
  BOOST_TEST(tp::DecodeFinalizeSummary(ids).status().message() ==
             "finalize summary: field 'failed_tasks[1]': expected a string");

  std::string stopped = ReadGolden("summary-shard.json");
  stopped.replace(stopped.find(R"("stopped":false)"), 15, R"("stopped":0)");
  BOOST_TEST(tp::DecodeShardSummary(stopped).status().message() ==
             "shard summary: field 'stopped': expected a boolean, got a number");

  BOOST_TEST(tp::DecodeInitSummary(R"({"workflow_id":"w"})").status().message() ==
             "init summary: field 'task_count': missing");
  BOOST_TEST(tp::DecodeInitSummary("[]").status().message() ==
             "init summary: expected a JSON object, got an array");
  BOOST_TEST(tp::DecodeShardSummary("{").status().IsCorruption());
}

// Each role's outputs are made from its summary; the names are the documented ones.
BOOST_AUTO_TEST_CASE(role_outputs_come_from_the_summary) {
  using Outputs = std::map<std::string, std::string>;
  const Outputs init = tp::InitOutputs(GoldenInitSummary(), {1, 2}, 20);
  BOOST_TEST((init == Outputs{{"shards", "[1,2]"},
                              {"batch-size", "1"},
                              {"task-count", "3"},
                              {"lanes", "[0,1]"},
                              {"lane-plan", "[1][2]"},
                              {"lane-width", "3"},
                              {"summary", tp::Encode(GoldenInitSummary())}}));
  const Outputs one_lane = tp::InitOutputs(GoldenInitSummary(), {1, 2}, 1);
  BOOST_TEST(one_lane.at("lanes") == "[0]");
  BOOST_TEST(one_lane.at("lane-plan") == "[1,2]");
  BOOST_TEST(one_lane.at("lane-width") == "5");
  tp::InitSummary done = GoldenInitSummary();
  done.pending_shards = 0;
  const Outputs nothing = tp::InitOutputs(done, {}, 20);
  BOOST_TEST(nothing.at("shards") == "[]");
  BOOST_TEST(nothing.at("lanes") == "[]");
  BOOST_TEST(nothing.at("lane-plan") == "");
  BOOST_TEST(nothing.at("lane-width") == "0");

  BOOST_TEST((tp::ShardOutputs(GoldenShardSummary()) ==
              Outputs{{"summary", tp::Encode(GoldenShardSummary())}}));

  tp::FinalizeSummary finalize = GoldenFinalizeSummary();
  finalize.failed_tasks = {"task-2", "tenants/a \"b\""};
  BOOST_TEST((tp::FinalizeOutputs(finalize) ==
              Outputs{{"summary", tp::Encode(finalize)},
                      {"total", "3"},
                      {"succeeded", "2"},
                      {"failed", "1"},
                      {"cancelled", "0"},
                      {"failed-tasks", R"(["task-2","tenants/a \"b\""])"}}));
  finalize.failed_tasks.clear();
  BOOST_TEST(tp::FinalizeOutputs(finalize).at("failed-tasks") == "[]");
}

BOOST_AUTO_TEST_CASE(shard_list_output) {
  BOOST_TEST((*tp::DecodeShardList("[0,2,7]\n") == std::vector<int64_t>{0, 2, 7}));
  BOOST_TEST(tp::DecodeShardList("[]")->empty());
  BOOST_TEST(tp::DecodeShardList(R"({"shards":[1]})").status().message() ==
             "shards output: expected a JSON array");
  BOOST_TEST(tp::DecodeShardList(R"([0,"1"])").status().message() ==
             "shards output: element 1: expected an integer");
  BOOST_TEST(tp::DecodeShardList("[0,").status().IsCorruption());
}

BOOST_AUTO_TEST_CASE(an_idempotency_key_is_one_run_of_one_task) {
  const std::string key = tp::IdempotencyKey("wf", "task-1", 4);
  BOOST_TEST(key == tp::ListHash({"wf", "task-1", "4"}));
  BOOST_TEST(key == tp::IdempotencyKey("wf", "task-1", 4));
  BOOST_TEST(key != tp::IdempotencyKey("wf", "task-1", 5));
  BOOST_TEST(key != tp::IdempotencyKey("wf", "task-2", 4));
  BOOST_TEST(key != tp::IdempotencyKey("wf2", "task-1", 4));
  // The length prefixes keep the parts apart.
  BOOST_TEST(tp::IdempotencyKey("a", "b1", 2) != tp::IdempotencyKey("ab", "1", 2));
}

BOOST_AUTO_TEST_CASE(resume_verdicts) {
  const std::vector<std::string> ids = {"task-1", "task-2", "task-3"};
  const std::string hash = tp::ListHash(ids);
  tp::InitRestore recorded;
  recorded.workflow_id = "uuid-123";
  BOOST_TEST(static_cast<int>(tp::CheckResume(recorded, hash, 3, 1)) ==
             static_cast<int>(tp::ResumeVerdict::kNew));

  recorded.exists = true;
  recorded.list_hash = hash;
  recorded.task_count = 3;
  recorded.batch_size = 2;
  recorded.effective_batch_size = 2;
  struct Case {
    const char* name;
    std::string hash;
    int64_t task_count, batch_size;
    size_t statuses;  // recorded so far
    tp::ResumeVerdict want;
  };
  const std::vector<Case> cases = {
      {"same list, whole", hash, 3, 2, 3, tp::ResumeVerdict::kResume},
      {"same list, in part", hash, 3, 2, 1, tp::ResumeVerdict::kRecordAgain},
      {"same list, none yet", hash, 3, 2, 0, tp::ResumeVerdict::kRecordAgain},
      {"another hash", tp::ListHash({"task-3", "task-2", "task-1"}), 3, 2, 3,
       tp::ResumeVerdict::kOtherList},
      {"another length", hash, 4, 2, 3, tp::ResumeVerdict::kOtherList},
      {"another list before another batch size", hash, 4, 1, 3, tp::ResumeVerdict::kOtherList},
      {"another batch size", hash, 3, 1, 3, tp::ResumeVerdict::kOtherBatchSize},
      {"another batch size, in part", hash, 3, 3, 1, tp::ResumeVerdict::kOtherBatchSize},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      recorded.statuses.assign(c.statuses, TaskStatus::kPending);
      BOOST_TEST(static_cast<int>(tp::CheckResume(recorded, c.hash, c.task_count, c.batch_size)) ==
                 static_cast<int>(c.want));
    }
  }
  BOOST_TEST(tp::OtherListMessage("nightly", recorded, "xxh3:0000000000000001", 4) ==
             "state key nightly already holds a different task list (3 tasks, " + hash +
                 "; given 4 tasks, xxh3:0000000000000001)");
}

BOOST_AUTO_TEST_CASE(every_field_is_required_and_typed) {
  for (const Golden& g : Goldens()) {
    const std::string golden = ReadGolden(g.file);
    rapidjson::Document doc;
    doc.Parse(golden.c_str());
    BOOST_REQUIRE(doc.IsObject());
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      const std::string key = it->name.GetString();
      BOOST_TEST_CONTEXT(g.file << " field " << key) {
        rapidjson::Document missing;
        missing.CopyFrom(doc, missing.GetAllocator());
        missing.RemoveMember(key.c_str());
        Result<std::string> without = g.round_trip(Serialize(missing));
        BOOST_TEST(without.status().IsCorruption());
        BOOST_TEST(
            without.status().message().find("field '" + key + "': missing") != std::string::npos,
            without.status().message());

        // An object where anything else belongs, an array where an object does.
        rapidjson::Document wrong;
        wrong.CopyFrom(doc, wrong.GetAllocator());
        rapidjson::Value& v = wrong[key.c_str()];
        if (v.IsObject()) {
          v.SetArray();
        } else {
          v.SetObject();
        }
        Result<std::string> mistyped = g.round_trip(Serialize(wrong));
        BOOST_TEST(!mistyped.ok());
        BOOST_TEST(mistyped.status().message().find("field '" + key + "'") != std::string::npos,
                   mistyped.status().message());
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(nested_fields_are_named) {
  auto ids = tp::DecodeTaskList(R"({"fence":1,"seq":2,"first_ordinal":0,"ids":["a",7]})");
  BOOST_TEST(ids.status().message() == "task_list record: field 'ids[1]': expected a string");

  std::string shard = ReadGolden("restore-shard.json");
  shard.replace(shard.find(R"("interrupted")"), 13, R"("done")");
  auto bad_status = tp::DecodeShardRestore(shard);
  BOOST_TEST(bad_status.status().IsCorruption());
  BOOST_TEST(bad_status.status().message().find("field 'tasks[0].status': unknown task status "
                                                "'done'") != std::string::npos,
             bad_status.status().message());
  auto not_object = tp::DecodeShardRestore(
      R"({"workflow_id":"w","shard":0,"task_count":1,"batch_size":1,"final_failures":0,"tasks":[3]})");
  BOOST_TEST(not_object.status().message().find("field 'tasks[0]': expected an object") !=
                 std::string::npos,
             not_object.status().message());

  auto outputs = tp::DecodeCommit(R"({"fence":1,"seq":9,"role":"init","outputs":{"shards":[0]}})");
  BOOST_TEST(outputs.status().message().find("field 'outputs.shards': expected a string") !=
                 std::string::npos,
             outputs.status().message());

  std::string summary = ReadGolden("restore-summary.json");
  summary.replace(summary.find(R"("exit_code":3)"), 13, R"("exit_code":"3")");
  auto bad_exit = tp::DecodeWorkflowSummary(summary);
  BOOST_TEST(bad_exit.status().message().find("field 'failed[0].exit_code'") != std::string::npos,
             bad_exit.status().message());

  std::string counts = ReadGolden("restore-summary.json");
  counts.replace(counts.find(R"("running":0,)"), 12, "");
  BOOST_TEST(tp::DecodeWorkflowSummary(counts).status().message().find(
                 "field 'counts.running': missing") != std::string::npos);

  std::string statuses = ReadGolden("restore-init.json");
  statuses.replace(statuses.find(R"("failed")"), 8, R"("lost")");
  BOOST_TEST(tp::DecodeInitRestore(statuses).status().message().find("field 'statuses[1]'") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(decoders_reject_bad_text) {
  BOOST_TEST(tp::DecodeAck("").status().IsCorruption());
  BOOST_TEST(tp::DecodeAck(R"({"seq":1,"offset":2} x)").status().IsCorruption());
  BOOST_TEST(tp::DecodeAck(R"([{"seq":1,"offset":2}])").status().message() ==
             "ack: expected a JSON object, got an array");
  BOOST_TEST(tp::DecodeAck(R"({"seq":1,"offset":-2})").status().message() ==
             "ack: field 'offset': out of range for an unsigned integer");
  BOOST_TEST(tp::DecodeAck(R"({"seq":1.5,"offset":2})").status().message() ==
             "ack: field 'seq': expected an integer, got a number");
  // Invalid UTF-8 inside a string.
  BOOST_TEST(tp::DecodeNote("{\"fence\":1,\"seq\":1,\"ordinal\":0,\"text\":\"\xff\"}")
                 .status()
                 .IsCorruption());
  // Deep nesting is an error, not a stack overflow.
  const std::string deep = R"({"fence":1,"seq":1,"ordinal":0,"text":)" + std::string(100000, '[') +
                           std::string(100000, ']') + "}";
  BOOST_TEST(tp::DecodeNote(deep).status().message().find("field 'text'") != std::string::npos);
  BOOST_TEST(tp::DecodeAck("{\"seq\":1,\"offset\":2}\n").ok());

  std::string running = ReadGolden("record-task-end.json");
  running.replace(running.find(R"("failed")"), 8, R"("running")");
  auto ended_running = tp::DecodeTaskEnd(running);
  BOOST_TEST(ended_running.status().message().find("field 'status'") != std::string::npos);
  // A quarantined task is final.
  std::string quarantined = ReadGolden("record-task-end-quarantined.json");
  quarantined.replace(quarantined.find(R"("final":true)"), 12, R"("final":false)");
  BOOST_TEST(tp::DecodeTaskEnd(quarantined).status().message().find(
                 "field 'final': a quarantined task is final") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ready_with_another_version_is_refused) {
  // A step of the release before quarantine (version 1) and one after this one.
  auto older = tp::DecodeReady(R"({"version":1,"fence":4,"epoch":"x"})");
  BOOST_TEST(older.status().IsInvalidArgument());
  BOOST_TEST(older.status().message().find("protocol version 1") != std::string::npos);
  BOOST_TEST(older.status().message().find("version 2") != std::string::npos);
  auto other = tp::DecodeReady(R"({"version":3,"fence":4,"epoch":"x"})");
  BOOST_TEST(other.status().IsInvalidArgument());
  BOOST_TEST(other.status().message().find("protocol version 3") != std::string::npos);
  BOOST_TEST(tp::DecodeReady(R"({"fence":4})").status().message() ==
             "ready: field 'version': missing");
}

BOOST_AUTO_TEST_CASE(role_and_record_names) {
  BOOST_TEST(std::string(tp::ToString(tp::Role::kFinalize)) == "finalize");
  BOOST_TEST(static_cast<int>(*tp::ParseRole("init")) == static_cast<int>(tp::Role::kInit));
  BOOST_TEST(static_cast<int>(*tp::ParseRole("shard")) == static_cast<int>(tp::Role::kShard));
  BOOST_TEST(tp::ParseRole("Shard").status().IsInvalidArgument());
  BOOST_TEST(std::string(tp::ToString(tp::RecordType::kWorkflowInit)) == "workflow_init");
  BOOST_TEST(std::string(tp::ToString(tp::RecordType::kTaskEnd)) == "task_end");
  BOOST_TEST(std::string(tp::ToString(tp::RecordType::kCheckpoint)) == "checkpoint");
  BOOST_TEST(tp::RestoreCheckpointName(7) == "checkpoints/7.json");
  BOOST_TEST(tp::RestorePayloadName(12) == "payloads/12.json");
}

BOOST_AUTO_TEST_CASE(shard_math_table) {
  struct Case {
    int64_t n, requested, max_shards, want_batch, want_shards, last_begin, last_end;
  };
  const Case cases[] = {
      {1, 1, tp::kMaxShards, 1, 1, 0, 1},
      {10, 3, tp::kMaxShards, 3, 4, 9, 10},
      {10, 10, tp::kMaxShards, 10, 1, 0, 10},
      {10, 50, tp::kMaxShards, 50, 1, 0, 10},
      {5000, 1, tp::kMaxShards, 1, 5000, 4999, 5000},
      {5001, 1, tp::kMaxShards, 2, 2501, 5000, 5001},
      {100000, 1, tp::kMaxShards, 20, 5000, 99980, 100000},
      {100001, 1, tp::kMaxShards, 21, 4762, 99981, 100001},
      {100000, 64, tp::kMaxShards, 64, 1563, 99968, 100000},
      // The default cap, tm-step init's and the WorkflowTemplate's.
      {128, 1, tp::kDefaultMaxShards, 1, 128, 127, 128},
      {129, 1, tp::kDefaultMaxShards, 2, 65, 128, 129},
      {1000000, 1, tp::kDefaultMaxShards, 7813, 128, 992251, 1000000},
      {1000000, 10000, tp::kDefaultMaxShards, 10000, 100, 990000, 1000000},
      {10, 1, 1, 10, 1, 0, 10},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("N=" << c.n << " B=" << c.requested << " max=" << c.max_shards) {
      const int64_t batch = tp::EffectiveBatchSize(c.n, c.requested, c.max_shards);
      BOOST_TEST(batch == c.want_batch);
      const int64_t shards = tp::ShardCount(c.n, batch);
      BOOST_TEST(shards == c.want_shards);
      BOOST_TEST(shards <= c.max_shards);
      tp::OrdinalRange last = tp::ShardRange(shards - 1, c.n, batch);
      BOOST_TEST(last.begin == c.last_begin);
      BOOST_TEST(last.end == c.last_end);
      // The shards tile [0, N) without gaps.
      int64_t next = 0;
      for (int64_t k = 0; k < shards; ++k) {
        tp::OrdinalRange r = tp::ShardRange(k, c.n, batch);
        BOOST_TEST_REQUIRE(r.begin == next);
        BOOST_TEST_REQUIRE(r.end > r.begin);
        next = r.end;
      }
      BOOST_TEST(next == c.n);
    }
  }
  tp::OrdinalRange first = tp::ShardRange(0, 10, 3);
  BOOST_TEST(first.begin == 0);
  BOOST_TEST(first.end == 3);
  BOOST_TEST(tp::ShardCount(0, 1) == 0);
  // Without a cap given, the default one applies.
  BOOST_TEST(tp::kDefaultMaxShards == 128);
  BOOST_TEST(tp::EffectiveBatchSize(1000000, 1) == 7813);
}

// lane-plan: lane l's shards are the bytes [l * W, (l + 1) * W) (W = lane-width),
// a JSON array padded with spaces, which is what the WorkflowTemplate's lane
// template cuts out and hands to withParam.
BOOST_AUTO_TEST_CASE(lane_plan_slices_are_the_lanes_as_json) {
  const std::vector<int64_t> pending = {0, 4, 5, 9, 12, 100, 101, 1000};
  const auto outputs = tp::InitOutputs(GoldenInitSummary(), pending, 3);
  const std::string& plan = outputs.at("lane-plan");
  BOOST_TEST(plan == "[0,9,101]  [4,12,1000][5,100]    ");
  const size_t width = std::stoul(outputs.at("lane-width"));
  const auto lanes = tp::Lanes(pending, 3);
  BOOST_TEST_REQUIRE(plan.size() == width * lanes.size());
  for (size_t l = 0; l < lanes.size(); ++l) {
    rapidjson::Document doc;
    doc.Parse(plan.substr(l * width, width).c_str());
    BOOST_TEST_REQUIRE(doc.IsArray());
    std::vector<int64_t> got;
    for (const auto& v : doc.GetArray()) got.push_back(v.GetInt64());
    BOOST_TEST(got == lanes[l]);
  }
}

// Lanes: every pending shard exactly once, dealt round-robin, at most
// `parallelism` lanes whose lengths differ by one at most.
BOOST_AUTO_TEST_CASE(lanes_deal_the_pending_shards_round_robin) {
  using Lanes = std::vector<std::vector<int64_t>>;
  BOOST_TEST((tp::Lanes({0, 1, 2, 3, 4}, 2) == Lanes{{0, 2, 4}, {1, 3}}));
  BOOST_TEST((tp::Lanes({3, 7, 9}, 20) == Lanes{{3}, {7}, {9}}));
  BOOST_TEST((tp::Lanes({3, 7, 9}, 1) == Lanes{{3, 7, 9}}));
  BOOST_TEST(tp::Lanes({}, 4).empty());
  std::vector<int64_t> pending;
  for (int64_t k = 0; k < 200; k += 3) pending.push_back(k);
  const Lanes lanes = tp::Lanes(pending, 20);
  BOOST_TEST(lanes.size() == 20u);
  std::vector<int64_t> seen;
  for (const auto& lane : lanes) {
    BOOST_TEST((lane.size() == 3u || lane.size() == 4u));
    seen.insert(seen.end(), lane.begin(), lane.end());
  }
  std::sort(seen.begin(), seen.end());
  BOOST_TEST(seen == pending);
}

BOOST_AUTO_TEST_CASE(list_hash_covers_order_and_boundaries) {
  // Pinned values, computed independently with XXH3_64bits over the
  // length-prefixed bytes.
  BOOST_TEST(tp::ListHash({"task-1", "task-2", "task-3"}) == "xxh3:0376c65992f250f6");
  BOOST_TEST(tp::ListHash({"ab", "c"}) == "xxh3:6d5f7d8c204561ef");
  BOOST_TEST(tp::ListHash({"a", "bc"}) == "xxh3:5892a711d107e652");
  BOOST_TEST(tp::ListHash({}) == "xxh3:2d06800538d394c2");
  BOOST_TEST(tp::ListHash({"task-2", "task-1", "task-3"}) !=
             tp::ListHash({"task-1", "task-2", "task-3"}));
  BOOST_TEST(tp::ListHash({"a", ""}) != tp::ListHash({"a"}));
}

BOOST_AUTO_TEST_CASE(pending_shards) {
  using S = TaskStatus;
  BOOST_TEST(tp::PendingShards({S::kSucceeded, S::kSucceeded, S::kFailed, S::kPending,
                                S::kSucceeded, S::kSucceeded, S::kSucceeded},
                               2) == std::vector<int64_t>({1}));
  BOOST_TEST(
      tp::PendingShards({S::kInterrupted, S::kSucceeded, S::kSucceeded, S::kSucceeded,
                         S::kSucceeded, S::kSucceeded, S::kSucceeded, S::kSucceeded, S::kCancelled},
                        3) == std::vector<int64_t>({0, 2}));
  BOOST_TEST(tp::PendingShards({S::kSucceeded, S::kSucceeded}, 1).empty());
  BOOST_TEST(tp::PendingShards({S::kRunning, S::kPending, S::kFailed}, 1) ==
             std::vector<int64_t>({0, 1, 2}));
  BOOST_TEST(tp::PendingShards({}, 1).empty());
}

BOOST_AUTO_TEST_CASE(chunk_task_list_covers_all_ids_within_the_bound) {
  BOOST_TEST(tp::ChunkTaskList({}).empty());

  auto check = [](const std::vector<std::string>& ids, size_t min_chunks) {
    std::vector<tp::TaskListRecord> chunks = tp::ChunkTaskList(ids);
    BOOST_TEST(chunks.size() >= min_chunks);
    std::vector<std::string> joined;
    for (tp::TaskListRecord& chunk : chunks) {
      BOOST_TEST_REQUIRE(!chunk.ids.empty());
      BOOST_TEST_REQUIRE(chunk.first_ordinal == static_cast<int64_t>(joined.size()));
      size_t raw = 0;
      for (const std::string& id : chunk.ids) raw += id.size();
      BOOST_TEST_REQUIRE(raw <= tp::kTaskListChunkBytes);
      chunk.fence = 1;
      chunk.seq = 1 << 30;
      // The encoded record stays near the chunk bound, far under the record limit.
      BOOST_TEST_REQUIRE(tp::Encode(chunk).size() <= tp::kTaskListChunkBytes + 100);
      joined.insert(joined.end(), chunk.ids.begin(), chunk.ids.end());
    }
    BOOST_TEST((joined == ids));
  };

  std::vector<std::string> long_ids;
  for (int i = 0; i < 12000; ++i) long_ids.push_back(std::string(240, 'x') + std::to_string(i));
  check(long_ids, 3);  // ~2.9 MB of IDs

  // One-byte IDs that JSON escapes: five encoded bytes each. Counting raw bytes
  // would put 1 Mi of them, 5 MiB encoded, in one record.
  check(std::vector<std::string>((1 << 20) + 10, "\""), 5);

  check({"task-1"}, 1);
}

BOOST_AUTO_TEST_CASE(write_outputs_marks_durability) {
  ScopedTempDir dir;
  taskmaster::Env* env = taskmaster::Env::Default();
  tp::CommitRecord commit;
  commit.role = tp::Role::kInit;
  commit.outputs[tp::kOutShards] = "[0,1,2]";
  commit.outputs[tp::kOutBatchSize] = "20";
  commit.outputs[tp::kOutSummary] = R"({"workflow_id":"uuid-123","shards":3})";
  BOOST_REQUIRE(tp::WriteOutputs(env, dir.path(), commit, true).ok());
  BOOST_TEST(ReadFileOrFail(dir.Join("outputs/shards")) == "[0,1,2]\n");
  BOOST_TEST(ReadFileOrFail(dir.Join("outputs/batch-size")) == "20\n");
  BOOST_TEST(ReadFileOrFail(dir.Join("outputs/summary")) ==
             "{\"workflow_id\":\"uuid-123\",\"shards\":3,\"durable\":true}\n");
  BOOST_TEST(!std::filesystem::exists(dir.Join("outputs/summary.tmp")));

  // A durable flag already there is overwritten in place.
  commit.outputs[tp::kOutSummary] = R"({"durable":true,"total":3.25})";
  BOOST_REQUIRE(tp::WriteOutputs(env, dir.path(), commit, false).ok());
  BOOST_TEST(ReadFileOrFail(dir.Join("outputs/summary")) == "{\"durable\":false,\"total\":3.25}\n");
}

BOOST_AUTO_TEST_CASE(write_outputs_honours_barrier_timeout) {
  ScopedTempDir dir;
  taskmaster::Env* env = taskmaster::Env::Default();
  std::filesystem::create_directories(dir.Join("outputs"));
  std::ofstream(dir.Join("outputs/barrier-timeout")) << "";
  tp::CommitRecord commit;
  commit.outputs[tp::kOutSummary] = R"({"shard":1})";
  // The sidecar, late: the step already wrote the outputs.
  BOOST_REQUIRE(tp::WriteOutputs(env, dir.path(), commit, true).ok());
  BOOST_TEST(!std::filesystem::exists(dir.Join("outputs/summary")));
  // The step itself, after writing barrier-timeout.
  BOOST_REQUIRE(tp::WriteOutputs(env, dir.path(), commit, false).ok());
  BOOST_TEST(ReadFileOrFail(dir.Join("outputs/summary")) == "{\"shard\":1,\"durable\":false}\n");
}

BOOST_AUTO_TEST_CASE(write_outputs_refuses_bad_records_and_writes_nothing) {
  ScopedTempDir dir;
  taskmaster::Env* env = taskmaster::Env::Default();
  tp::CommitRecord escape;
  escape.outputs["a"] = "1";
  escape.outputs["../x"] = "1";
  Status s = tp::WriteOutputs(env, dir.path(), escape, true);
  BOOST_TEST(s.IsInvalidArgument());
  BOOST_TEST(s.message().find("'../x'") != std::string::npos);
  BOOST_TEST(!std::filesystem::exists(dir.Join("outputs/a")));

  tp::CommitRecord barrier;
  barrier.outputs[tp::kBarrierTimeoutFile] = "";
  BOOST_TEST(tp::WriteOutputs(env, dir.path(), barrier, true).IsInvalidArgument());

  tp::CommitRecord bad_summary;
  bad_summary.outputs[tp::kOutTotal] = "3";
  bad_summary.outputs[tp::kOutSummary] = "[1,2]";
  BOOST_TEST(tp::WriteOutputs(env, dir.path(), bad_summary, true).IsCorruption());
  BOOST_TEST(!std::filesystem::exists(dir.Join("outputs/total")));
}

BOOST_AUTO_TEST_SUITE_END()
