// `tm-step run` against the fake sidecar: records, the task environment, the
// fd-3 protocol (checkpoints, sync acks, progress, notes, malformed lines),
// resume from restore/, failure rules, the command forms, and the ready and
// barrier timeouts (DESIGN.md §5, §6, §9).
#include <sys/stat.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fake_sidecar.h"
#include "shard_fixture.h"
#include "step_harness.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step_test {
namespace {

namespace pr = protocol;
using std::chrono::milliseconds;
using RT = pr::RecordType;

// KEY=VALUE lines, as `env` prints them.
std::map<std::string, std::string> ReadEnvFile(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::istringstream in(ReadFile(path));
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq != std::string::npos) vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return vars;
}

std::vector<int64_t> Ordinals(const std::vector<pr::TaskStartRecord>& starts) {
  std::vector<int64_t> out;
  for (const auto& s : starts) out.push_back(s.ordinal);
  return out;
}

BOOST_AUTO_TEST_SUITE(run)

BOOST_AUTO_TEST_CASE(three_tasks_succeed_with_their_environment) {
  ShardFixture f;
  // Shard 1 of a list of 6 in shards of 3: ordinals 3..5, so TM_TASK_INDEX is
  // the position in the whole list, not in the shard. IDs may hold '/' and spaces.
  const std::vector<std::string> ids = {"alpha", "tenants/acme/2026-11-28", "gamma delta"};
  pr::ShardRestore restore = ShardFixture::Shard(ids, 3, 6);
  restore.shard = 1;
  pr::Ready ready = f.Ready();
  ready.shard = 1;
  f.env[pr::kEnvShard] = "1";
  f.env[pr::kEnvAttempt] = "2";
  FakeSidecar sidecar(f.work);
  sidecar.WriteShardRestore(restore);
  auto step = f.StartSh(R"(
    set -e
    env | grep '^TM_' > "$OUT/env.$TM_TASK_INDEX.tmp"
    if [ -S /proc/self/fd/3 ]; then echo FD3=socket >> "$OUT/env.$TM_TASK_INDEX.tmp"; fi
    mv "$OUT/env.$TM_TASK_INDEX.tmp" "$OUT/env.$TM_TASK_INDEX"
    echo "stdout of $TM_TASK_ID"
    echo "stderr of $TM_TASK_ID" >&2
  )");
  // The sidecar comes up after the step, which waits for ready.
  sidecar.Start(ready);
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);

  const std::vector<RT> expected = {RT::kBudget,  RT::kTaskStart, RT::kTaskEnd, RT::kTaskStart,
                                    RT::kTaskEnd, RT::kTaskStart, RT::kTaskEnd, RT::kCommit};
  const std::vector<RT> types = sidecar.Types();
  BOOST_CHECK(types == expected);
  const auto starts = sidecar.TaskStarts();
  const auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(starts.size(), 3u);
  BOOST_REQUIRE_EQUAL(ends.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    BOOST_TEST_CONTEXT("task " << ids[i]) {
      BOOST_CHECK_EQUAL(starts[i].ordinal, static_cast<int64_t>(3 + i));
      BOOST_CHECK_EQUAL(starts[i].task_id, ids[i]);
      BOOST_CHECK_EQUAL(starts[i].attempt, 2);
      BOOST_CHECK_EQUAL(ends[i].ordinal, static_cast<int64_t>(3 + i));
      BOOST_CHECK(ends[i].status == TaskStatus::kSucceeded);
      BOOST_CHECK(ends[i].exit_code == std::optional<int>(0));
      BOOST_CHECK(!ends[i].final);
      BOOST_CHECK(ends[i].error.empty());

      auto vars = ReadEnvFile(f.Out("env." + std::to_string(3 + i)));
      BOOST_CHECK_EQUAL(vars["TM_TASK_ID"], ids[i]);
      BOOST_CHECK_EQUAL(vars["TM_TASK_INDEX"], std::to_string(3 + i));
      BOOST_CHECK_EQUAL(vars["TM_TASK_COUNT"], "6");
      BOOST_CHECK_EQUAL(vars["TM_WORKFLOW_ID"], kStateKey);
      BOOST_CHECK_EQUAL(vars["TM_ATTEMPT"], "2");
      BOOST_CHECK_EQUAL(vars["TM_CONTROL_FD"], "3");
      BOOST_CHECK_EQUAL(vars["FD3"], "socket");
      BOOST_CHECK_MESSAGE(vars.count("TM_CHECKPOINT") == 0, "TM_CHECKPOINT set with no checkpoint");

      // The command's output passes through untouched.
      BOOST_CHECK(Contains(step->out(), "stdout of " + ids[i] + "\n"));
      BOOST_CHECK(Contains(step->err(), "stderr of " + ids[i] + "\n"));
    }
  }
  const std::string err = step->err();
  BOOST_CHECK_MESSAGE(Contains(err, "Starting multi-task workflow with 3 tasks"), err);
  BOOST_CHECK_MESSAGE(Contains(err, "Processing task alpha (1/3)"), err);
  BOOST_CHECK_MESSAGE(Contains(err, "Task alpha succeeded in "), err);
  BOOST_CHECK_MESSAGE(Contains(err, "Completed multi-task workflow"), err);
  // stderr is not a terminal, as in a pod: tm-step's own lines are JSON.
  std::istringstream lines(err);
  std::string line;
  int json_lines = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("{\"time\":", 0) != 0) continue;
    rapidjson::Document log = ParseObject(line);
    BOOST_CHECK(log.HasMember("level") && log.HasMember("msg"));
    ++json_lines;
  }
  BOOST_CHECK_GE(json_lines, 8);  // start, 3 x (processing, outcome), completed

  auto commit = sidecar.Commit();
  BOOST_REQUIRE(commit.has_value());
  BOOST_CHECK(commit->role == pr::Role::kShard);
  BOOST_CHECK_EQUAL(sidecar.acked_seq(), commit->seq);
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK(summary["durable"].GetBool());
  BOOST_CHECK_EQUAL(summary["succeeded"].GetInt64(), 3);
  BOOST_CHECK_EQUAL(summary["failed"].GetInt64(), 0);
  BOOST_CHECK(!FileExists(f.work + "/outputs/" + pr::kBarrierTimeoutFile));
}

BOOST_AUTO_TEST_CASE(a_task_gets_only_stdio_and_fd3) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"a", "b"}));
  // ls opens the directory it lists on the lowest free descriptor: 4 when the
  // task got 0-3 only. Nothing of tm-step's (journal, signalfd, inotify, the
  // previous task's socket) may leak into a task or its background children.
  auto step = f.Start({"--", "ls", "/proc/self/fd"});
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  BOOST_CHECK_EQUAL(step->out(), "0\n1\n2\n3\n4\n0\n1\n2\n3\n4\n");
}

BOOST_AUTO_TEST_CASE(checkpoint_on_fd3_becomes_a_verified_record) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"only"}));
  auto step = f.StartSh(R"(echo '{"checkpoint":{"next":42}}' >&3)");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);

  auto checkpoints = sidecar.Checkpoints();
  BOOST_REQUIRE_EQUAL(checkpoints.size(), 1u);
  const auto& [record, checkpoint] = checkpoints[0];
  BOOST_CHECK_EQUAL(record.flags & pr::kFlagSync, 0);
  BOOST_CHECK_EQUAL(checkpoint.payload, R"({"next":42})");
  BOOST_CHECK_EQUAL(checkpoint.fields.workflow_id, kStateKey);
  BOOST_CHECK_EQUAL(checkpoint.fields.task_id, "only");
  BOOST_CHECK_EQUAL(checkpoint.fields.fence, kFence);
  BOOST_CHECK_EQUAL(checkpoint.fields.seq, static_cast<int64_t>(record.seq));
  BOOST_CHECK_EQUAL(checkpoint.fields.generation, 1);
  // Between the task's start and its end.
  const std::vector<RT> expected = {RT::kBudget, RT::kTaskStart, RT::kCheckpoint, RT::kTaskEnd,
                                    RT::kCommit};
  BOOST_CHECK(sidecar.Types() == expected);
}

BOOST_AUTO_TEST_CASE(sync_checkpoint_is_answered_only_after_the_ack) {
  ShardFixture f;
  FakeSidecar sidecar(f.work, FakeSidecar::HoldingAcks());
  f.Serve(&sidecar, ShardFixture::Shard({"careful"}));
  // The task copies the ack file the moment its answer arrives: the answer
  // must never come before the sidecar acknowledged the record.
  auto step = f.StartSh(R"(
    echo '{"checkpoint":{"charged":true},"sync":true}' >&3
    read line <&3
    cp "$WORK/ack" "$OUT/ack-at-reply"
    echo "$line" > "$OUT/reply.tmp" && mv "$OUT/reply.tmp" "$OUT/reply"
  )");
  auto sync = sidecar.WaitForRecord(
      [](const JournalRecord& r) { return (r.flags & pr::kFlagSync) != 0; }, kStepTimeout);
  BOOST_REQUIRE_MESSAGE(sync.has_value(), "no sync checkpoint record; stderr:\n" << step->err());
  BOOST_CHECK_EQUAL(sync->type, static_cast<uint16_t>(RT::kCheckpoint));
  // While the sidecar holds its acks the task stays blocked on its read.
  BOOST_CHECK_MESSAGE(!WaitForFile(f.Out("reply"), milliseconds(300)),
                      "the task got an answer before the ack: " << ReadFile(f.Out("reply")));
  BOOST_CHECK(step->Running());
  sidecar.ReleaseAcks();
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);

  rapidjson::Document reply = ParseObject(ReadFile(f.Out("reply")));
  BOOST_REQUIRE(reply.HasMember("ack") && reply["ack"].IsInt64());
  BOOST_CHECK_EQUAL(reply["ack"].GetInt64(), static_cast<int64_t>(sync->seq));
  auto ack_at_reply = pr::DecodeAck(ReadFile(f.Out("ack-at-reply")));
  BOOST_REQUIRE_MESSAGE(ack_at_reply.ok(), ack_at_reply.status().ToString());
  BOOST_CHECK_GE(ack_at_reply->seq, static_cast<int64_t>(sync->seq));
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 1u);
  BOOST_CHECK(ends[0].status == TaskStatus::kSucceeded);
}

// A sidecar that never acknowledges (dead, or fenced out by a newer attempt)
// must not hang the task: after the ack wait (the barrier's timeout) the task
// gets {"error": ...} and decides for itself.
BOOST_AUTO_TEST_CASE(an_unacknowledged_sync_checkpoint_is_answered_with_an_error_in_time) {
  ShardFixture f;
  f.env[pr::kEnvBarrierTimeout] = "0.5";
  FakeSidecar sidecar(f.work, FakeSidecar::HoldingAcks());
  f.Serve(&sidecar, ShardFixture::Shard({"careful"}));
  auto step = f.StartSh(R"(
    echo '{"checkpoint":{"charged":true},"sync":true}' >&3
    read line <&3
    echo "$line" > "$OUT/reply.tmp" && mv "$OUT/reply.tmp" "$OUT/reply"
  )");
  BOOST_REQUIRE_MESSAGE(WaitForFile(f.Out("reply"), milliseconds(5000)),
                        "no answer to the sync checkpoint; stderr:\n"
                            << step->err());
  rapidjson::Document reply = ParseObject(ReadFile(f.Out("reply")));
  BOOST_CHECK(!reply.HasMember("ack"));
  BOOST_REQUIRE(reply.HasMember("error") && reply["error"].IsString());
  BOOST_CHECK_EQUAL(reply["error"].GetString(), std::string("not durable in time"));
  sidecar.ReleaseAcks();
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
}

BOOST_AUTO_TEST_CASE(malformed_fd3_lines_are_ignored) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"noisy"}));
  // Each bad line is one way a task gets the protocol wrong; the last two are
  // good and must still arrive. The over-long line is over 1 MiB + 4 KiB; the
  // big checkpoint fits in a line but its payload is over 1 MiB, and as it asks
  // for sync, the task waits for an answer: it must get one.
  auto step = f.StartSh(R"(
    echo 'not json' >&3
    echo '[1,2]' >&3
    echo '{"sync":true}' >&3
    echo '{"checkpoint":{"a":1},"sync":"yes"}' >&3
    echo '{"progress":{"done":3,"total":2}}' >&3
    echo '{"progress":"half"}' >&3
    echo '{"note":7}' >&3
    echo '{"checkpoint":{"a":1' >&3
    printf '{"note":"\377"}\n' >&3
    echo '{}' >&3
    { head -c 1100000 /dev/zero | tr '\0' x; echo; } >&3
    { printf '{"sync":true,"checkpoint":"'; head -c 1049000 /dev/zero | tr '\0' y; printf '"}\n'; } >&3
    read line <&3
    echo "$line" > "$OUT/refused"
    echo '{"unknown":1,"note":"still talking"}' >&3
    printf '{"note":"last line without a newline"}' >&3
  )");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 1u);
  BOOST_CHECK(ends[0].status == TaskStatus::kSucceeded);
  BOOST_CHECK(sidecar.Checkpoints().empty());
  BOOST_CHECK(sidecar.Progress().empty());
  auto notes = sidecar.Notes();
  BOOST_REQUIRE_EQUAL(notes.size(), 2u);
  BOOST_CHECK_EQUAL(notes[0].text, "still talking");
  BOOST_CHECK_EQUAL(notes[1].text, "last line without a newline");
  const std::string err = step->err();
  BOOST_CHECK_MESSAGE(Contains(err, "ignoring a control line"), err);
  BOOST_CHECK_MESSAGE(Contains(err, "over 1052672 bytes"), err);
  BOOST_CHECK_MESSAGE(Contains(err, "refusing a checkpoint"), err);
  BOOST_CHECK_EQUAL(ReadFile(f.Out("refused")), "{\"error\":\"checkpoint refused\"}\n");
}

BOOST_AUTO_TEST_CASE(a_deeply_nested_checkpoint_cannot_crash_the_step) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"deep"}));
  // Valid JSON 200,000 levels deep, well within the line limit: a recursive
  // re-serialization would overflow tm-step's stack.
  auto step = f.StartSh(R"(
    { printf '{"checkpoint":'; head -c 200000 /dev/zero | tr '\0' '[';
      head -c 200000 /dev/zero | tr '\0' ']'; printf '}\n'; } >&3
    echo '{"note":"still here"}' >&3
  )");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  auto checkpoints = sidecar.Checkpoints();
  BOOST_REQUIRE_EQUAL(checkpoints.size(), 1u);
  BOOST_CHECK(checkpoints[0].second.payload == std::string(200000, '[') + std::string(200000, ']'));
  auto notes = sidecar.Notes();
  BOOST_REQUIRE_EQUAL(notes.size(), 1u);
  BOOST_CHECK_EQUAL(notes[0].text, "still here");
}

BOOST_AUTO_TEST_CASE(progress_and_notes_become_records) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"a", "b"}));
  auto step = f.StartSh(R"(
    [ "$TM_TASK_INDEX" = 1 ] || exit 0
    echo '{"progress":{"done":1,"total":4}}' >&3
    echo '{"note":"halfway there"}' >&3
    echo '{"progress":{"done":4,"total":4},"note":"all done"}' >&3
  )");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  auto progress = sidecar.Progress();
  BOOST_REQUIRE_EQUAL(progress.size(), 2u);
  BOOST_CHECK_EQUAL(progress[0].ordinal, 1);
  BOOST_CHECK_EQUAL(progress[0].done, 1);
  BOOST_CHECK_EQUAL(progress[0].total, 4);
  BOOST_CHECK_EQUAL(progress[1].done, 4);
  auto notes = sidecar.Notes();
  BOOST_REQUIRE_EQUAL(notes.size(), 2u);
  BOOST_CHECK_EQUAL(notes[0].ordinal, 1);
  BOOST_CHECK_EQUAL(notes[0].text, "halfway there");
  BOOST_CHECK_EQUAL(notes[1].text, "all done");
  const std::vector<RT> expected = {RT::kBudget,   RT::kTaskStart, RT::kTaskEnd,  RT::kTaskStart,
                                    RT::kProgress, RT::kNote,      RT::kProgress, RT::kNote,
                                    RT::kTaskEnd,  RT::kCommit};
  BOOST_CHECK(sidecar.Types() == expected);
}

BOOST_AUTO_TEST_CASE(resume_skips_done_tasks_and_hands_over_the_checkpoint) {
  ShardFixture f;
  pr::ShardRestore restore = ShardFixture::Shard({"t0", "t1", "t2"});
  restore.tasks[0].status = TaskStatus::kSucceeded;
  restore.tasks[0].attempts = 1;
  restore.tasks[1].generation = 2;
  restore.tasks[2].status = TaskStatus::kInterrupted;  // runs again
  CheckpointFields fields{kStateKey, "t1", 3, 9, 2, 1764376082123};
  auto doc = EncodeCheckpoint(fields, R"({"next":17})");
  BOOST_REQUIRE(doc.ok());
  const std::string payload = R"({"next":17})";
  FakeSidecar sidecar(f.work);
  sidecar.WriteShardRestore(restore);
  sidecar.WriteRestoredCheckpoint(1, *doc, payload);
  sidecar.Start(f.Ready());
  auto step = f.StartSh(R"(
    echo "${TM_CHECKPOINT-unset}" > "$OUT/path.$TM_TASK_INDEX"
    if [ -n "${TM_CHECKPOINT-}" ]; then cp "$TM_CHECKPOINT" "$OUT/checkpoint.$TM_TASK_INDEX"; fi
    echo '{"checkpoint":{"resumed":'"$TM_TASK_INDEX"'}}' >&3
  )");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);

  BOOST_CHECK(Ordinals(sidecar.TaskStarts()) == std::vector<int64_t>({1, 2}));
  BOOST_CHECK(!FileExists(f.Out("path.0")));
  BOOST_CHECK_EQUAL(ReadFile(f.Out("path.1")),
                    f.work + "/" + pr::kRestoreDir + "/" + pr::RestorePayloadName(1) + "\n");
  BOOST_CHECK_EQUAL(ReadFile(f.Out("checkpoint.1")), payload);
  BOOST_CHECK_EQUAL(ReadFile(f.Out("path.2")), "unset\n");

  auto checkpoints = sidecar.Checkpoints();
  BOOST_REQUIRE_EQUAL(checkpoints.size(), 2u);
  BOOST_CHECK_EQUAL(checkpoints[0].second.fields.task_id, "t1");
  BOOST_CHECK_EQUAL(checkpoints[0].second.fields.generation, 3);  // restored 2, + 1
  BOOST_CHECK_EQUAL(checkpoints[0].second.payload, R"({"resumed":1})");
  BOOST_CHECK_EQUAL(checkpoints[1].second.fields.task_id, "t2");
  BOOST_CHECK_EQUAL(checkpoints[1].second.fields.generation, 1);

  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK_EQUAL(summary["skipped"].GetInt64(), 1);
  BOOST_CHECK_EQUAL(summary["succeeded"].GetInt64(), 2);
}

// Finality comes from the task's stored failures against --task-retries, and
// from the pod's last attempt (nothing would run the task again); a shard
// whose only failures are final exits 4, which the template does not retry.
BOOST_AUTO_TEST_CASE(a_failure_is_final_past_the_task_budget_or_on_the_last_pod_attempt) {
  struct Case {
    const char* attempt;
    const char* last_attempt;
    int64_t failures_before;
    const char* task_retries;
    bool final;
  };
  for (const Case& c :
       {Case{"1", "3", 0, "3", false}, Case{"3", "3", 0, "3", true}, Case{"7", "100", 2, "2", true},
        Case{"7", "100", 1, "2", false}, Case{"0", "100", 0, "0", true}}) {
    BOOST_TEST_CONTEXT("TM_ATTEMPT=" << c.attempt << " TM_LAST_ATTEMPT=" << c.last_attempt
                                     << " failures " << c.failures_before << " --task-retries "
                                     << c.task_retries) {
      ShardFixture f;
      f.env[pr::kEnvAttempt] = c.attempt;
      f.env[pr::kEnvLastAttempt] = c.last_attempt;
      FakeSidecar sidecar(f.work);
      pr::ShardRestore restore = ShardFixture::Shard({"broken"});
      restore.tasks[0].failures = c.failures_before;
      restore.tasks[0].interruptions = 9;  // never counted
      f.Serve(&sidecar, restore);
      auto step = f.Start({"--task-retries", c.task_retries, "--", "sh", "-c", "exit 3"});
      BOOST_CHECK_EQUAL(Finish(*step, sidecar), c.final ? pr::kExitFailedForGood : pr::kExitFailed);
      auto ends = sidecar.TaskEnds();
      BOOST_REQUIRE_EQUAL(ends.size(), 1u);
      BOOST_CHECK(ends[0].status == TaskStatus::kFailed);
      BOOST_CHECK(ends[0].exit_code == std::optional<int>(3));
      BOOST_CHECK_MESSAGE(Contains(ends[0].error, "exited with code 3"), ends[0].error);
      BOOST_CHECK_EQUAL(ends[0].final, c.final);
      BOOST_CHECK_EQUAL(ends[0].attempt, std::stoll(c.attempt));
      rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
      BOOST_CHECK_EQUAL(summary["failed"].GetInt64(), 1);
      BOOST_CHECK(summary["durable"].GetBool());
    }
  }
}

BOOST_AUTO_TEST_CASE(final_failures_over_the_limit_cancel_pending_tasks) {
  ShardFixture f;
  pr::ShardRestore restore = ShardFixture::Shard({"a", "b"});
  restore.final_failures = 1;  // elsewhere in the workflow; --max-failures is 0
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, restore);
  auto step = f.StartSh(R"(touch "$OUT/ran.$TM_TASK_INDEX")");
  // Nothing failed here: a retry of this shard would only cancel again, and
  // finalize is what fails the workflow.
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  BOOST_CHECK(sidecar.TaskStarts().empty());
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 2u);
  for (const auto& end : ends) {
    BOOST_CHECK(end.status == TaskStatus::kCancelled);
    BOOST_CHECK_MESSAGE(Contains(end.error, "cancelled"), end.error);
    BOOST_CHECK(!end.exit_code.has_value());
  }
  BOOST_CHECK(!FileExists(f.Out("ran.0")));
  BOOST_CHECK(!FileExists(f.Out("ran.1")));
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK_EQUAL(summary["cancelled"].GetInt64(), 2);
}

BOOST_AUTO_TEST_CASE(a_final_failure_here_decides_whether_the_rest_runs) {
  struct Case {
    std::vector<std::string> flags;
    bool second_runs;
  };
  const std::vector<Case> cases = {
      {{}, false},
      {{"--continue-on-error", "true"}, true},
      {{"--max-failures", "1"}, true},
      // 50% of 2 tasks tolerates 1; 49% tolerates none.
      {{"--max-failure-percent", "50"}, true},
      {{"--max-failure-percent", "49"}, false},
  };
  for (const Case& c : cases) {
    std::string joined;
    for (const auto& flag : c.flags) joined += flag + " ";
    BOOST_TEST_CONTEXT("flags: " << joined) {
      ShardFixture f;
      f.env[pr::kEnvAttempt] = "3";
      f.env[pr::kEnvLastAttempt] = "3";
      FakeSidecar sidecar(f.work);
      f.Serve(&sidecar, ShardFixture::Shard({"first", "second"}));
      std::vector<std::string> args = c.flags;
      for (const char* a :
           {"--", "sh", "-c", R"(touch "$OUT/ran.$TM_TASK_INDEX"; [ "$TM_TASK_INDEX" = 1 ])"}) {
        args.push_back(a);
      }
      auto step = f.Start(args);
      BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailedForGood);
      auto ends = sidecar.TaskEnds();
      BOOST_REQUIRE_EQUAL(ends.size(), 2u);
      BOOST_CHECK(ends[0].status == TaskStatus::kFailed && ends[0].final);
      BOOST_CHECK(ends[1].status ==
                  (c.second_runs ? TaskStatus::kSucceeded : TaskStatus::kCancelled));
      BOOST_CHECK_EQUAL(FileExists(f.Out("ran.1")), c.second_runs);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_command_that_cannot_run_fails_with_127) {
  ShardFixture f;
  WriteFile(f.Out("not-executable"), "#!/bin/sh\n");
  for (const std::string& command : {std::string("tm-no-such-command"), f.Out("not-executable")}) {
    BOOST_TEST_CONTEXT(command) {
      TempDir work;
      f.env[pr::kEnvWorkDir] = work.path();
      FakeSidecar sidecar(work.path());
      f.Serve(&sidecar, ShardFixture::Shard({"x", "y"}));
      auto step = f.Start({"--", command, "arg"});
      BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
      auto ends = sidecar.TaskEnds();
      BOOST_REQUIRE_EQUAL(ends.size(), 2u);  // the shard goes on to the next task
      for (const auto& end : ends) {
        BOOST_CHECK(end.status == TaskStatus::kFailed);
        BOOST_CHECK(end.exit_code == std::optional<int>(127));
        BOOST_CHECK_MESSAGE(Contains(end.error, "cannot run") && Contains(end.error, command),
                            end.error);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(command_json_gives_the_argv) {
  ShardFixture f;
  const std::string json =
      R"(["sh","-c","printf '%s|%s' \"$1\" \"$2\" > \"$OUT/argv.$TM_TASK_INDEX\"","sh",)"
      R"("two words","$HOME"])";
  WriteFile(f.tmp / "command.json", json);
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"inline"}));
  // Inline, then through @file: the same argv, no shell in between.
  auto step = f.Start({"--command-json", json});
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  BOOST_CHECK_EQUAL(ReadFile(f.Out("argv.0")), "two words|$HOME");

  ShardFixture g;
  FakeSidecar file_sidecar(g.work);
  file_sidecar.WriteShardRestore(ShardFixture::Shard({"only"}));
  file_sidecar.Start(g.Ready());
  auto from_file = g.Start({"--command-json", "@" + (f.tmp / "command.json")});
  BOOST_CHECK_EQUAL(Finish(*from_file, file_sidecar), pr::kExitOk);
  BOOST_CHECK_EQUAL(ReadFile(g.Out("argv.0")), "two words|$HOME");
}

BOOST_AUTO_TEST_CASE(bad_command_forms_exit_2_and_write_nothing) {
  const std::vector<std::vector<std::string>> cases = {
      {"--command-json", R"(["true"])", "--", "true"},
      {"--command-json", R"({"argv":["true"]})"},
      {"--command-json", "[]"},
      {"--command-json", R"(["true",1])"},
      {"--command-json", "@/nonexistent/command.json"},
      {},  // no command at all
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args) joined += " " + a;
    BOOST_TEST_CONTEXT("run" << joined) {
      ShardFixture f;
      auto step = f.Start(args);
      std::optional<int> code = step->Wait(kStepTimeout);
      BOOST_REQUIRE(code.has_value());
      BOOST_CHECK_EQUAL(*code, pr::kExitUsage);
      BOOST_CHECK_MESSAGE(Contains(step->err(), "command"), step->err());
      BOOST_CHECK(!FileExists(f.work));
    }
  }
}

BOOST_AUTO_TEST_CASE(log_dir_takes_the_task_output) {
  ShardFixture f;
  const std::string logs = f.tmp / "logs";
  BOOST_REQUIRE(::mkdir(logs.c_str(), 0755) == 0);
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"a", "b"}, 4, 6));
  auto step = f.Start({"--log-dir", logs, "--", "sh", "-c",
                       R"(echo "out of $TM_TASK_ID"; echo "err of $TM_TASK_ID" >&2)"});
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  // Named by ordinal, never by task ID.
  BOOST_CHECK_EQUAL(ReadFile(logs + "/4.log"), "out of a\nerr of a\n");
  BOOST_CHECK_EQUAL(ReadFile(logs + "/5.log"), "out of b\nerr of b\n");
  BOOST_CHECK(!Contains(step->out(), "out of"));
}

// A failed attempt's error ends with the last line the task wrote to stderr
// that is not blank, so that its fingerprint tells failures apart; the bytes
// still reach the task's log, in order. A task silent on stderr keeps the
// account of how it ended alone, and a long last line is cut.
BOOST_AUTO_TEST_CASE(a_failed_task_reports_its_last_stderr_line) {
  ShardFixture f;
  const std::string logs = f.tmp / "logs";
  BOOST_REQUIRE(::mkdir(logs.c_str(), 0755) == 0);
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"refused", "quiet", "crashed", "long"}));
  auto step = f.Start({"--task-retries", "3", "--log-dir", logs, "--", "sh", "-c", R"(
    case "$TM_TASK_ID" in
      refused)
        echo "connecting to db:5432" >&2
        echo "retrying" >&2
        printf 'connection refused to db:5432 \r\n\n  \n' >&2
        exit 3;;
      quiet) echo "only on stdout"; exit 5;;
      crashed) echo "about to crash" >&2; kill -KILL $$;;
      long) printf 'E%0600d\n' 0 >&2; exit 1;;
    esac)"});
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitFailed);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 4u);
  for (const auto& end : ends) BOOST_CHECK(end.status == TaskStatus::kFailed);
  BOOST_CHECK_EQUAL(ends[0].error, "exited with code 3: connection refused to db:5432");
  BOOST_CHECK(ends[0].exit_code == std::optional<int>(3));
  BOOST_CHECK_EQUAL(ends[1].error, "exited with code 5");
  BOOST_CHECK_EQUAL(ends[2].error, "killed by signal 9 (SIGKILL): about to crash");
  BOOST_CHECK_EQUAL(ends[3].error, "exited with code 1: E" + std::string(511, '0'));
  // Forwarded unchanged: blank lines, the CR and the trailing space included.
  BOOST_CHECK_EQUAL(ReadFile(logs + "/0.log"),
                    "connecting to db:5432\nretrying\nconnection refused to db:5432 \r\n\n  \n");
  BOOST_CHECK_EQUAL(ReadFile(logs + "/1.log"), "only on stdout\n");
  BOOST_CHECK_EQUAL(ReadFile(logs + "/3.log"), "E" + std::string(600, '0') + "\n");
  // tm-step's own log names the failure; the task's stderr went to its log only.
  const std::string err = step->err();
  BOOST_CHECK_MESSAGE(Contains(err, ": exited with code 3: connection refused to db:5432"), err);
  BOOST_CHECK_MESSAGE(!Contains(err, "retrying"), err);
}

// Forwarding is a courtesy: when tm-step's own stderr takes no bytes (here
// /dev/full, where every write fails with ENOSPC), what the task writes there is
// lost, but neither the task nor the shard fails for it, and the task's last
// line still ends its error.
BOOST_AUTO_TEST_CASE(a_stderr_that_takes_no_bytes_fails_nothing) {
  ShardFixture f;
  FakeSidecar sidecar(f.work);
  f.Serve(&sidecar, ShardFixture::Shard({"loud", "fine"}));
  const std::string task =
      R"([ "$TM_TASK_ID" = fine ] && exit 0; echo "no space left on /scratch" >&2; exit 3)";
  test_support::ChildProcess step(
      "/bin/sh",
      {"-c", R"(exec "$0" "$@" 2>/dev/full)", kStepBinary, "run", "--", "sh", "-c", task}, f.env,
      f.tmp / "tm-step");
  const std::optional<int> code = step.Wait(kStepTimeout);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-step still runs");
  sidecar.Stop();
  for (const std::string& problem : sidecar.problems()) BOOST_ERROR("journal: " << problem);
  BOOST_CHECK_EQUAL(*code, pr::kExitFailed);
  auto ends = sidecar.TaskEnds();
  BOOST_REQUIRE_EQUAL(ends.size(), 2u);
  BOOST_CHECK(ends[0].status == TaskStatus::kFailed);
  BOOST_CHECK_EQUAL(ends[0].error, "exited with code 3: no space left on /scratch");
  BOOST_CHECK(ends[1].status == TaskStatus::kSucceeded);
}

BOOST_AUTO_TEST_CASE(a_ready_for_another_step_is_refused) {
  struct Case {
    const char* name;
    std::string ready;
  };
  pr::Ready other_workflow;
  other_workflow.fence = kFence;
  other_workflow.workflow_id = "someone-else";
  pr::Ready other_role = other_workflow;
  other_role.workflow_id = kStateKey;
  other_role.role = pr::Role::kFinalize;
  pr::Ready other_shard = other_role;
  other_shard.role = pr::Role::kShard;
  other_shard.shard = 3;
  std::string other_version = pr::Encode(other_shard);
  const std::string version_key = "\"version\":" + std::to_string(pr::kVersion);
  BOOST_REQUIRE(Contains(other_version, version_key));
  other_version.replace(other_version.find(version_key), version_key.size(),
                        "\"version\":" + std::to_string(pr::kVersion + 1));
  other_version.replace(other_version.find("\"shard\":3"), 9, "\"shard\":0");
  const std::vector<Case> cases = {
      {"another workflow", pr::Encode(other_workflow)},
      {"another role", pr::Encode(other_role)},
      {"another shard", pr::Encode(other_shard)},
      {"another protocol version", other_version},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      ShardFixture f;
      // A step that wrongly accepted the ready would wait for an ack no one writes.
      f.env[pr::kEnvBarrierTimeout] = "0.3";
      FakeSidecar::Options options;
      options.write_ready = false;
      FakeSidecar sidecar(f.work, options);
      sidecar.WriteShardRestore(ShardFixture::Shard({"mine"}));
      WriteFile(f.work + "/" + pr::kReadyFile, c.ready);
      auto step = f.StartSh(R"(touch "$OUT/ran")");
      std::optional<int> code = step->Wait(kStepTimeout);
      BOOST_REQUIRE(code.has_value());
      BOOST_CHECK_EQUAL(*code, pr::kExitUsage);
      BOOST_CHECK(!FileExists(f.Out("ran")));
      BOOST_CHECK(!FileExists(f.work + "/" + pr::kJournalFile));
    }
  }
}

BOOST_AUTO_TEST_CASE(an_unacknowledged_journal_over_64_mib_stops_reading_fd3) {
  ShardFixture f;
  FakeSidecar sidecar(f.work, FakeSidecar::HoldingAcks());
  f.Serve(&sidecar, ShardFixture::Shard({"chatty"}));
  // 80 checkpoints of 1 MB: 80 MB, over the 64 MiB bound.
  auto step = f.StartSh(R"(
    i=0
    while [ $i -lt 80 ]; do
      { printf '{"checkpoint":"'; head -c 1000000 /dev/zero | tr '\0' x; printf '"}\n'; } >&3
      i=$((i + 1))
    done
    touch "$OUT/done"
  )");
  const std::string journal = f.work + "/" + pr::kJournalFile;
  const auto journal_size = [&] { return FileSize(journal); };
  constexpr uint64_t kBound = uint64_t{64} << 20;
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return journal_size() > kBound; }, kStepTimeout),
                        "the journal never grew past 64 MiB; stderr:\n"
                            << step->err());
  // Without acks the step stops taking records, so the task blocks on fd 3
  // instead of writing its last 13 MB, which takes it a quarter of a second.
  BOOST_CHECK_MESSAGE(!WaitForFile(f.Out("done"), milliseconds(1000)),
                      "the task wrote everything with nothing acknowledged");
  BOOST_CHECK_LT(journal_size(), kBound + (uint64_t{8} << 20));
  sidecar.ReleaseAcks();
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitOk);
  BOOST_CHECK(FileExists(f.Out("done")));
  const std::vector<RT> types = sidecar.Types();
  BOOST_CHECK_EQUAL(std::count(types.begin(), types.end(), RT::kCheckpoint), 80);
}

BOOST_AUTO_TEST_CASE(no_ready_exits_75) {
  ShardFixture f;
  f.env[pr::kEnvReadyTimeout] = "0.3";
  FakeSidecar::Options options;
  options.write_ready = false;
  FakeSidecar sidecar(f.work, options);
  f.Serve(&sidecar, ShardFixture::Shard({"never"}));
  const auto started = std::chrono::steady_clock::now();
  auto step = f.StartSh(R"(touch "$OUT/ran")");
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitNotDurable);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  BOOST_CHECK(elapsed >= milliseconds(300));
  BOOST_CHECK(elapsed < milliseconds(3000));
  BOOST_CHECK(!FileExists(f.Out("ran")));
  BOOST_CHECK(!FileExists(f.work + "/" + pr::kJournalFile));
  BOOST_CHECK_MESSAGE(Contains(step->err(), "ready"), step->err());
}

BOOST_AUTO_TEST_CASE(unacknowledged_commit_exits_75_with_outputs_not_durable) {
  ShardFixture f;
  f.env[pr::kEnvBarrierTimeout] = "0.5";
  FakeSidecar::Options options;
  options.ack_commit = false;
  FakeSidecar sidecar(f.work, options);
  f.Serve(&sidecar, ShardFixture::Shard({"fine"}));
  auto step = f.StartSh("true");
  auto commit = sidecar.WaitForRecord(
      [](const JournalRecord& r) { return r.type == static_cast<uint16_t>(RT::kCommit); },
      kStepTimeout);
  BOOST_REQUIRE(commit.has_value());
  const auto committed = std::chrono::steady_clock::now();
  BOOST_CHECK_EQUAL(Finish(*step, sidecar), pr::kExitNotDurable);
  const auto waited = std::chrono::steady_clock::now() - committed;
  BOOST_CHECK(waited >= milliseconds(400));  // TM_BARRIER_TIMEOUT, less the fake's poll
  BOOST_CHECK(waited < milliseconds(3000));
  // Everything before the commit was acknowledged; the commit never was.
  BOOST_CHECK_EQUAL(sidecar.acked_seq(), static_cast<int64_t>(commit->seq) - 1);
  BOOST_CHECK(FileExists(f.work + "/outputs/" + pr::kBarrierTimeoutFile));
  rapidjson::Document summary = ParseObject(f.Output(pr::kOutSummary));
  BOOST_CHECK(!summary["durable"].GetBool());
  BOOST_CHECK_EQUAL(summary["succeeded"].GetInt64(), 1);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
