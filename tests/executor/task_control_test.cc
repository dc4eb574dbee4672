// TaskControl in this process, against a real `sh` on fd 3 and a real journal:
// lines become fenced records, a bad line is skipped, a sync checkpoint is
// answered once the ack file covers it, and one overdue with an error.
#include "task_control.h"

#include <poll.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "shard_fixture.h"
#include "step_harness.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step_test {
namespace {

namespace pr = protocol;
using RT = pr::RecordType;
using step::StepWorkDir;
using step::TaskControl;
using step::TaskProcess;
using step::TaskRun;

constexpr int kWaitMillis = 10000;

// A task that asks for a sync checkpoint and writes the answer to $OUT/reply.
constexpr const char* kSyncCheckpointThenReply = R"(
  echo '{"checkpoint":1,"sync":true}' >&3
  read line <&3
  echo "$line" > "$OUT/reply"
)";

struct ControlFixture {
  ControlFixture() : work_dir(Env::Default(), tmp / "work") {
    BOOST_REQUIRE(work_dir.OpenJournal(kFence, /*sync=*/false).ok());
    run.workflow_id = kStateKey;
    run.task_id = "t";
    run.ordinal = 2;
    run.generation = 1;
  }

  // Starts `sh -c SCRIPT` with the control socket on fd 3; $OUT is the temp dir.
  std::unique_ptr<TaskProcess> Start(const std::string& script) {
    step::TaskSpec spec;
    spec.argv = {"sh", "-c", script};
    spec.set_env["OUT"] = tmp.path();
    auto process = TaskProcess::Spawn(spec);
    BOOST_REQUIRE_MESSAGE(process.ok(), process.status().ToString());
    return std::move(process).value();
  }

  std::vector<JournalRecord> Records() {
    auto reader = JournalReader::Open(Env::Default(), tmp / "work/" + pr::kJournalFile);
    BOOST_REQUIRE(reader.ok());
    std::vector<JournalRecord> records;
    JournalRecord record;
    while ((*reader)->Next(&record) == JournalReader::Outcome::kRecord) records.push_back(record);
    return records;
  }

  void WriteAck(int64_t seq) {
    WriteFile(tmp / "work/" + pr::kAckFile, pr::Encode(pr::Ack{seq, work_dir.journal_size()}));
  }

  TempDir tmp;
  StepWorkDir work_dir;
  TaskRun run;
};

// Reads fd 3 until the task closes it, then handles a last partial line.
void ReadToEnd(TaskProcess* process, TaskControl* control) {
  while (process->control_fd() >= 0) {
    struct pollfd fd = {process->control_fd(), POLLIN, 0};
    BOOST_REQUIRE_MESSAGE(::poll(&fd, 1, kWaitMillis) == 1, "fd 3 was silent for 10 s");
    control->Read();
  }
  control->Finish();
}

// Reads fd 3 until the journal holds a record.
void ReadFirstRecord(StepWorkDir* work_dir, TaskControl* control) {
  BOOST_REQUIRE_MESSAGE(WaitUntil(
                            [&] {
                              control->Read();
                              return work_dir->journal_size() > 0;
                            },
                            milliseconds(kWaitMillis)),
                        "no record from fd 3");
}

BOOST_AUTO_TEST_SUITE(task_control)

BOOST_AUTO_TEST_CASE(lines_become_fenced_records) {
  ControlFixture f;
  auto task = f.Start(R"(
    echo '{"checkpoint":{"next":3}}' >&3
    echo 'not json' >&3
    echo '{"progress":{"done":1,"total":4},"note":"a quarter"}' >&3
    printf '{"note":"last, without a newline"}' >&3
  )");
  TaskControl control(&f.work_dir, task.get(), f.run, 0);
  ReadToEnd(task.get(), &control);
  BOOST_CHECK(control.fatal().ok());
  BOOST_CHECK(!control.waiting_for_acks());

  const std::vector<JournalRecord> records = f.Records();
  BOOST_REQUIRE_EQUAL(records.size(), 4u);
  BOOST_CHECK_EQUAL(records[0].type, static_cast<uint16_t>(RT::kCheckpoint));
  BOOST_CHECK_EQUAL(records[0].flags, 0);
  auto checkpoint = VerifyCheckpoint(records[0].payload);
  BOOST_REQUIRE_MESSAGE(checkpoint.ok(), checkpoint.status().ToString());
  BOOST_CHECK_EQUAL(checkpoint->payload, R"({"next":3})");
  BOOST_CHECK_EQUAL(checkpoint->fields.task_id, "t");
  BOOST_CHECK_EQUAL(checkpoint->fields.fence, kFence);
  BOOST_CHECK_EQUAL(checkpoint->fields.seq, 1);
  BOOST_CHECK_EQUAL(checkpoint->fields.generation, 2);

  auto progress = pr::DecodeProgress(records[1].payload);
  BOOST_REQUIRE(progress.ok());
  BOOST_CHECK_EQUAL(progress->fence, kFence);
  BOOST_CHECK_EQUAL(progress->seq, 2);
  BOOST_CHECK_EQUAL(progress->ordinal, 2);
  BOOST_CHECK_EQUAL(progress->done, 1);
  BOOST_CHECK_EQUAL(progress->total, 4);
  auto note = pr::DecodeNote(records[2].payload);
  BOOST_REQUIRE(note.ok());
  BOOST_CHECK_EQUAL(note->text, "a quarter");
  auto last = pr::DecodeNote(records[3].payload);
  BOOST_REQUIRE(last.ok());
  BOOST_CHECK_EQUAL(last->text, "last, without a newline");
  BOOST_CHECK_EQUAL(last->seq, 4);
}

BOOST_AUTO_TEST_CASE(a_sync_checkpoint_is_answered_once_acknowledged) {
  ControlFixture f;
  auto task = f.Start(kSyncCheckpointThenReply);
  TaskControl control(&f.work_dir, task.get(), f.run, 0);
  ReadFirstRecord(&f.work_dir, &control);
  BOOST_CHECK_EQUAL(f.Records().at(0).flags, pr::kFlagSync);
  Env* env = Env::Default();
  control.ServeAcks(env->MonotonicNanos());
  BOOST_CHECK(control.waiting_for_acks());
  BOOST_CHECK_EQUAL(control.next_give_up_ns(), TaskControl::kNever);

  f.WriteAck(1);
  control.ServeAcks(env->MonotonicNanos());
  BOOST_CHECK(!control.waiting_for_acks());
  ReadToEnd(task.get(), &control);
  BOOST_CHECK_EQUAL(ReadFile(f.tmp / "reply"), "{\"ack\":1}\n");
}

BOOST_AUTO_TEST_CASE(an_overdue_sync_checkpoint_is_answered_with_an_error) {
  ControlFixture f;
  auto task = f.Start(kSyncCheckpointThenReply);
  Env* env = Env::Default();
  const int64_t before = env->MonotonicNanos();
  TaskControl control(&f.work_dir, task.get(), f.run, /*ack_wait_seconds=*/2);
  ReadFirstRecord(&f.work_dir, &control);
  const int64_t give_up = control.next_give_up_ns();
  BOOST_CHECK_GE(give_up, before + 2000000000);
  BOOST_CHECK_LE(give_up, env->MonotonicNanos() + 2000000000);

  control.ServeAcks(give_up - 1);
  BOOST_CHECK(control.waiting_for_acks());
  control.ServeAcks(give_up);
  BOOST_CHECK(!control.waiting_for_acks());
  ReadToEnd(task.get(), &control);
  BOOST_CHECK_EQUAL(ReadFile(f.tmp / "reply"), "{\"error\":\"not durable in time\",\"seq\":1}\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
