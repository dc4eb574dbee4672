// tm-step local end to end on SQLite: retries, failure tolerance, parallel
// shards, the state dir lock, bad input, Ctrl-C and resume.
#include <signal.h>
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <map>

#include "example_check.h"
#include "local_harness.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::local_test {
namespace {

constexpr milliseconds kRunTimeout(60000);

// A task that logs each run to $RUNS, fails on its first attempt when listed in
// $FLAKY and on every attempt when listed in $BROKEN.
const std::vector<std::string> kFlakyTask = {
    "/bin/sh", "-c",
    "echo \"$TM_TASK_ID $TM_ATTEMPT\" >> \"$RUNS\"; "
    "case \" $FLAKY \" in *\" $TM_TASK_ID \"*) [ \"$TM_ATTEMPT\" -ge 1 ] || exit 3;; esac; "
    "case \" $BROKEN \" in *\" $TM_TASK_ID \"*) echo \"cannot parse $TM_TASK_ID\" >&2; exit 4;; "
    "esac"};

std::vector<std::string> Args(const std::string& state_dir, const std::vector<std::string>& ids,
                              std::vector<std::string> flags,
                              const std::vector<std::string>& command) {
  std::vector<std::string> args = {"--task-list", JsonList(ids), "--state-dir",
                                   state_dir,     "--sidecar",   kSidecarBinary};
  args.insert(args.end(), flags.begin(), flags.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

// `tm-sidecar status` of a workflow in a SQLite state dir, as JSON text.
std::string Status(const std::string& state_dir, const std::string& key) {
  Outcome status = Shell(std::string(kSidecarBinary) + " status --store sqlite:" + state_dir +
                         "/state.db " + key + " 2>&1");
  BOOST_REQUIRE_MESSAGE(status.code == 0, "tm-sidecar status: " << status.out);
  return status.out;
}

std::map<std::string, int> CountRuns(const std::string& runs_file) {
  std::map<std::string, int> runs;
  for (const auto& line : Lines(ReadFile(runs_file))) ++runs[line.substr(0, line.find(' '))];
  return runs;
}

BOOST_AUTO_TEST_SUITE(local)

BOOST_AUTO_TEST_CASE(flaky_tasks_succeed_on_retry) {
  TempDir dir;
  const auto ids = TaskIds(20);
  const EnvVars env = {{"RUNS", dir / "runs"}, {"FLAKY", "t003 t008 t015"}, {"BROKEN", ""}};
  const Outcome run = RunToEnd(
      Args(dir / "state", ids,
           {"--state-key", "flaky", "--batch-size", "5", "--parallelism", "2", "--backoff", "0.05"},
           kFlakyTask),
      env, dir.path(), kRunTimeout);
  BOOST_TEST_MESSAGE(run.out);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.err);
  const auto runs = CountRuns(dir / "runs");
  for (const auto& id : ids) {
    const bool flaky = id == "t003" || id == "t008" || id == "t015";
    BOOST_CHECK_MESSAGE(runs.count(id) && runs.at(id) == (flaky ? 2 : 1),
                        id << " ran " << (runs.count(id) ? runs.at(id) : 0) << " times");
  }
  BOOST_CHECK(Contains(run.out, "Workflow flaky succeeded"));
  BOOST_CHECK(Contains(run.out, "retried          3"));
  BOOST_CHECK(Contains(Status(dir / "state", "flaky"), "\"succeeded\":20"));
  // Every task's output went to logs/<shard>/<ordinal>.log; no work dir is left.
  BOOST_CHECK_EQUAL(ListDir(dir / "state/logs/0").size(), 5u + 2u);  // + tm-step/tm-sidecar.log
  BOOST_CHECK(FileExists(dir / "state/logs/3/19.log"));
  BOOST_CHECK(ListDir(dir / "state/work").empty());
}

BOOST_AUTO_TEST_CASE(a_broken_task_within_max_failures_is_tolerated_and_named) {
  TempDir dir;
  const auto ids = TaskIds(20);
  const EnvVars env = {{"RUNS", dir / "runs"}, {"FLAKY", "t003"}, {"BROKEN", "t011"}};
  const Outcome run = RunToEnd(Args(dir / "state", ids,
                                    {"--state-key", "tolerant", "--batch-size", "5", "--backoff",
                                     "0.02", "--continue-on-error", "--max-failures", "1"},
                                    kFlakyTask),
                               env, dir.path(), kRunTimeout);
  BOOST_TEST_MESSAGE(run.out);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.err);
  BOOST_CHECK(Contains(run.out, "failed           1"));
  BOOST_CHECK(Contains(run.out, "t011: exited with code 4"));
  BOOST_CHECK(Contains(run.out, "/logs/2/11.log"));
  BOOST_CHECK_EQUAL(CountRuns(dir / "runs")["t011"], 4);  // --retries 3: four attempts
  BOOST_CHECK(Contains(ReadFile(dir / "state/logs/2/11.log"), "cannot parse t011"));
}

BOOST_AUTO_TEST_CASE(a_broken_task_fails_the_workflow_by_default) {
  TempDir dir;
  const auto ids = TaskIds(20);
  const EnvVars env = {{"RUNS", dir / "runs"}, {"FLAKY", ""}, {"BROKEN", "t011"}};
  const Outcome run = RunToEnd(
      Args(dir / "state", ids, {"--state-key", "strict", "--batch-size", "5", "--backoff", "0.02"},
           kFlakyTask),
      env, dir.path(), kRunTimeout);
  BOOST_TEST_MESSAGE(run.out);
  BOOST_CHECK_EQUAL(run.code, 1);
  BOOST_CHECK(Contains(run.out, "Workflow strict FAILED"));
  BOOST_CHECK(Contains(run.out, "t011: exited with code 4"));
  BOOST_CHECK(Contains(Status(dir / "state", "strict"), "\"status\":\"failed\""));
}

BOOST_AUTO_TEST_CASE(two_hundred_tasks_eight_shards_at_once) {
  TempDir dir;
  const auto ids = TaskIds(200);
  // Each task notes how many tasks run beside it, through a directory of markers.
  const std::vector<std::string> task = {
      "/bin/sh", "-c",
      "touch \"$MARKS/$TM_TASK_ID\"; ls \"$MARKS\" | wc -l >> \"$RUNS\"; "
      "rm -f \"$MARKS/$TM_TASK_ID\""};
  ::mkdir((dir / "marks").c_str(), 0755);
  const Outcome run =
      RunToEnd(Args(dir / "state", ids, {"--batch-size", "10", "--parallelism", "8"}, task),
               {{"MARKS", dir / "marks"}, {"RUNS", dir / "runs"}}, dir.path(), kRunTimeout);
  BOOST_TEST_MESSAGE(run.out);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.err);
  BOOST_CHECK_EQUAL(Lines(ReadFile(dir / "runs")).size(), 200u);
  int most = 0;
  for (const auto& line : Lines(ReadFile(dir / "runs"))) most = std::max(most, std::stoi(line));
  BOOST_TEST_MESSAGE("at most " << most << " tasks ran at once");
  BOOST_CHECK_LE(most, 8);
  BOOST_CHECK(Contains(run.out, "succeeded      200"));
  // The shards, init, finalize, and the log of the run's one tm-sidecar.
  BOOST_CHECK_EQUAL(ListDir(dir / "state/logs").size(), 20u + 2u + 1u);
}

BOOST_AUTO_TEST_CASE(a_second_run_on_the_same_state_dir_exits_2) {
  TempDir dir;
  const auto ids = TaskIds(2);
  // The first run's task waits (bounded) until the test lets it go.
  const std::vector<std::string> task = {
      "/bin/sh", "-c",
      "touch \"$STARTED\"; i=0; while [ ! -e \"$GO\" ] && [ $i -lt 3000 ]; do sleep 0.01; "
      "i=$((i+1)); done"};
  const EnvVars env = {{"STARTED", dir / "started"}, {"GO", dir / "go"}};
  const auto args = Args(dir / "state", ids, {}, task);
  LocalRun first(args, env, dir.path());
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return FileExists(dir / "started"); }, milliseconds(20000)),
                        "the first run's task never started:\n"
                            << first.err());
  const Outcome second = RunToEnd(args, env, dir.path(), milliseconds(20000));
  BOOST_CHECK_EQUAL(second.code, 2);
  BOOST_CHECK_MESSAGE(Contains(second.err, "is in use by another tm-step local"), second.err);
  WriteFile(dir / "go", "");
  const auto code = first.Wait(kRunTimeout);
  BOOST_REQUIRE(code.has_value());
  BOOST_CHECK_EQUAL(*code, 0);
}

BOOST_AUTO_TEST_CASE(bad_input_exits_2_and_writes_nothing) {
  TempDir dir;
  for (const std::string list : {"[\"a\",\"a\"]", "[", "[]", "[\"a\",7]"}) {
    const Outcome run = RunToEnd({"--task-list", list, "--state-dir", dir / "state", "--sidecar",
                                  kSidecarBinary, "--", "/bin/true"},
                                 {}, dir.path(), kRunTimeout);
    BOOST_CHECK_MESSAGE(run.code == 2, list << ": exit " << run.code);
    BOOST_CHECK_MESSAGE(!run.err.empty(), list << ": no message");
    BOOST_CHECK_MESSAGE(!FileExists(dir / "state"), list << ": the state dir was created");
  }
  const Outcome no_command = RunToEnd(
      {"--task-list", "[\"a\"]", "--state-dir", dir / "state", "--sidecar", kSidecarBinary}, {},
      dir.path(), kRunTimeout);
  BOOST_CHECK_EQUAL(no_command.code, 2);
  const Outcome missing = RunToEnd({"--task-list", "[\"a\"]", "--state-dir", dir / "state",
                                    "--sidecar", kSidecarBinary, "--", "/no/such/command"},
                                   {}, dir.path(), kRunTimeout);
  BOOST_CHECK_EQUAL(missing.code, 2);
  BOOST_CHECK(!FileExists(dir / "state"));
}

BOOST_AUTO_TEST_CASE(ctrl_c_stops_cleanly_and_the_same_command_resumes) {
  TempDir dir;
  Example example;
  example.records = 40;
  example.delay_seconds = 0.01;
  const auto& reference = ReferenceOutputs(example);
  std::vector<std::string> args = {"--task-list", JsonList(example.Ids()), "--state-dir",
                                   dir / "state", "--batch-size",          "2",
                                   "--sidecar",   kSidecarBinary,          "--"};
  for (const auto& arg : example.Command()) args.push_back(arg);
  const EnvVars env = example.Env(dir / "data");
  {
    LocalRun run(args, env, dir.path());
    BOOST_REQUIRE_MESSAGE(
        WaitUntil([&] { return RecordsProcessed(dir / "data", example.tasks) >= 15; },
                  milliseconds(30000)),
        "the example never got going:\n"
            << run.err());
    run.SignalGroup(SIGINT);  // what a terminal's Ctrl-C does
    const auto code = run.Wait(milliseconds(30000));
    BOOST_REQUIRE(code.has_value());
    BOOST_CHECK_EQUAL(*code, 130);
    BOOST_CHECK_MESSAGE(Contains(run.out(), "Resume with the same command"), run.out());
    BOOST_CHECK(ListDir(dir / "state/work").empty());  // every journal was committed
  }
  BOOST_REQUIRE(ReapAllChildren(milliseconds(10000)));
  const Outcome rerun = RunToEnd(args, env, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(rerun.code == 0, "exit " << rerun.code << "\n" << rerun.err);
  BOOST_CHECK(ReadOutputs(dir / "data", example.tasks) == reference);
  const AuditReport audit = CheckAudit(dir / "data", example);
  for (const auto& problem : audit.problems) BOOST_ERROR(problem);
}

BOOST_AUTO_TEST_CASE(an_init_cut_short_by_a_crash_is_recorded_again) {
  // A crash between the workflow_init record and the task list: the journal of
  // init holds a workflow without its tasks. The rerun must run every task, not
  // take an empty workflow for a finished one.
  TempDir dir;
  const std::vector<std::string> ids = {"a", "b", "c"};
  const Outcome validate = Shell(std::string(kStepBinary) + " validate --task-list '" +
                                 JsonList(ids) + "' | sed 's/.*xxh3://'");
  const std::string key = "local-" + validate.out.substr(0, 16);
  const std::string work = dir / "state/work/init";
  const Outcome restored =
      Shell("mkdir -p " + work + " && TM_STORE=sqlite:" + dir.path() + "/state/state.db " +
            kSidecarBinary + " --local --role init --state-key " + key + " --work-dir " + work +
            " --listen 127.0.0.1:0 2>" + dir.path() +
            "/sidecar.err & pid=$!; i=0; "
            "while [ ! -e " +
            work +
            "/ready ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; "
            "kill -9 $pid; wait $pid; test -e " +
            work + "/ready");
  BOOST_REQUIRE_MESSAGE(restored.code == 0, "tm-sidecar wrote no ready file");
  WriteFile(dir / "state/store", "sqlite\n");
  {
    auto ready = protocol::DecodeReady(ReadFile(work + "/ready"));
    BOOST_REQUIRE(ready.ok());
    auto journal = JournalWriter::Open(Env::Default(), work + "/journal", {true});
    BOOST_REQUIRE(journal.ok());
    protocol::WorkflowInitRecord init{ready->fence, 1, key, 3, 1, 1, protocol::ListHash(ids), 1};
    BOOST_REQUIRE((*journal)
                      ->Append(static_cast<uint16_t>(protocol::RecordType::kWorkflowInit), 0,
                               protocol::Encode(init))
                      .ok());
  }
  const Outcome run =
      RunToEnd(Args(dir / "state", ids, {}, kFlakyTask),
               {{"RUNS", dir / "runs"}, {"FLAKY", ""}, {"BROKEN", ""}}, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(run.code == 0, "exit " << run.code << "\n" << run.err);
  BOOST_CHECK_EQUAL(Lines(ReadFile(dir / "runs")).size(), 3u);
  BOOST_CHECK(Contains(Status(dir / "state", key), "\"succeeded\":3"));
}

BOOST_AUTO_TEST_CASE(a_journal_corrupt_in_the_middle_is_named_and_kept) {
  // Damage followed by valid records in a shard's journal: no sidecar can read
  // past it, so the run must say the journal is corrupt (not blame the store),
  // keep the directory untouched, and start nothing new. (An init journal is
  // different: init records the list again, see the case above.)
  TempDir dir;
  const std::vector<std::string> ids = {"a", "b"};
  const EnvVars env = {{"RUNS", dir / "runs"}, {"FLAKY", ""}, {"BROKEN", "a"}};
  const auto args = Args(dir / "state", ids, {"--retries", "0"}, kFlakyTask);
  const Outcome first = RunToEnd(args, env, dir.path(), kRunTimeout);
  BOOST_REQUIRE_MESSAGE(first.code == 1, "exit " << first.code << "\n" << first.err);
  const size_t runs_before = Lines(ReadFile(dir / "runs")).size();

  const Outcome validate = Shell(std::string(kStepBinary) + " validate --task-list '" +
                                 JsonList(ids) + "' | sed 's/.*xxh3://'");
  const std::string key = "local-" + validate.out.substr(0, 16);
  const std::string work = dir / "state/work/shard-0";
  const Outcome restored =
      Shell("mkdir -p " + work + " && TM_STORE=sqlite:" + dir.path() + "/state/state.db " +
            kSidecarBinary + " --local --role shard --shard 0 --state-key " + key +
            " --work-dir " + work + " --listen 127.0.0.1:0 2>" + dir.path() +
            "/sidecar.err & pid=$!; i=0; "
            "while [ ! -e " +
            work +
            "/ready ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; "
            "kill -9 $pid; wait $pid; test -e " +
            work + "/ready");
  BOOST_REQUIRE_MESSAGE(restored.code == 0, "tm-sidecar wrote no ready file");
  auto ready = protocol::DecodeReady(ReadFile(work + "/ready"));
  BOOST_REQUIRE(ready.ok());
  const auto start = [&](int64_t seq) {
    return EncodeJournalRecord(
        static_cast<uint64_t>(seq), static_cast<uint16_t>(protocol::RecordType::kTaskStart), 0,
        protocol::Encode(protocol::TaskStartRecord{ready->fence, seq, 0, "a", 0, 1767225600000}));
  };
  const std::string journal = start(1) + std::string(64, '\xab') + start(2);
  WriteFile(work + "/journal", journal);

  const Outcome rerun = RunToEnd(args, env, dir.path(), kRunTimeout);
  BOOST_CHECK_EQUAL(rerun.code, 1);
  BOOST_CHECK_MESSAGE(Contains(rerun.err + rerun.out, "is corrupt"), rerun.err);
  BOOST_CHECK_MESSAGE(Contains(rerun.err + rerun.out, "shard-0.corrupt"), rerun.err);
  BOOST_CHECK_EQUAL(Lines(ReadFile(dir / "runs")).size(), runs_before);  // nothing new ran
  BOOST_CHECK_EQUAL(ReadFile(work + "/journal"), journal);               // kept as it was
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
