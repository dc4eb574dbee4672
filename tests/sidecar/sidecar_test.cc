// The sidecar's flush loop, driven in-process through Begin and Turn (as local
// mode's sidecar for every pod drives it), on SQLite, with an Env that drops
// what was never synced the way a power loss would.
#include "sidecar.h"

#include <poll.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>

#include "common/fault_env.h"
#include "sidecar/store/store_conformance.h"
#include "store/sqlite_store.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {
namespace {

namespace pr = protocol;
using conformance::InitWorkflow;
using conformance::Must;
using conformance::TaskIds;
using testing::FaultInjectionEnv;
using testing::ScopedTempDir;

// One shard sidecar over a recorded 2-task workflow, and a step's journal
// writer, all through a FaultInjectionEnv.
struct ShardPod {
  explicit ShardPod(bool local) : env(Env::Default()) {
    store = Must(OpenSqliteStore(dir.Join("state.db"), Env::Default()), "OpenSqliteStore");
    BOOST_REQUIRE(store->Migrate().ok());
    InitWorkflow(*store, "wf", TaskIds(2), 2);
    SidecarOptions options;
    options.state_key = "wf";
    options.role = pr::Role::kShard;
    options.shard = 0;
    options.work_dir = dir.Join("work");
    options.sync = local;
    options.store_name = "sqlite";
    options.flush_max_millis = 0;  // every turn flushes what it read
    sidecar = std::make_unique<Sidecar>(&env, options, store.get(), nullptr, &metrics, &health);
  }

  std::string Path(const char* name) const { return JoinPath(dir.Join("work"), name); }

  // Restores the shard and opens the journal as its step would, under the
  // fence `ready` hands out.
  void Begin() {
    BOOST_REQUIRE(!sidecar->Begin().has_value());
    fence = Must(pr::DecodeReady(Must(env.ReadFile(Path(pr::kReadyFile)), "ready")), "DecodeReady")
                .fence;
    journal = Must(JournalWriter::Open(&env, Path(pr::kJournalFile), {}), "JournalWriter::Open");
  }

  // What the step appends for one task, without syncing (local mode's steps
  // leave that to the sidecar).
  void RunTask(int64_t ordinal) {
    const std::string id = "task/" + std::to_string(ordinal);
    BOOST_REQUIRE(journal
                      ->Append(static_cast<uint16_t>(pr::RecordType::kTaskStart), 0,
                               pr::Encode(pr::TaskStartRecord{
                                   fence, static_cast<int64_t>(journal->last_seq()) + 1, ordinal,
                                   id, 0, 1767225600000}))
                      .ok());
    pr::TaskEndRecord end;
    end.fence = fence;
    end.seq = static_cast<int64_t>(journal->last_seq()) + 1;
    end.ordinal = ordinal;
    end.task_id = id;
    end.status = TaskStatus::kSucceeded;
    end.exit_code = 0;
    end.finished_at_ms = 1767225600001;
    BOOST_REQUIRE(
        journal->Append(static_cast<uint16_t>(pr::RecordType::kTaskEnd), 0, pr::Encode(end)).ok());
  }

  ScopedTempDir dir{"/var/tmp"};
  FaultInjectionEnv env;
  std::unique_ptr<StateStore> store;
  Metrics metrics;
  Health health;
  std::unique_ptr<Sidecar> sidecar;
  int64_t fence = 0;
  std::unique_ptr<JournalWriter> journal;
};

// Records the journal still holds from its start (0 when it is gone); its end
// offset in *end.
int64_t JournalRecords(const std::string& path, uint64_t* end) {
  if (!Env::Default()->FileExists(path)) return 0;
  auto reader = Must(JournalReader::Open(Env::Default(), path, 0), "JournalReader::Open");
  JournalRecord record;
  int64_t n = 0;
  while (reader->Next(&record) == JournalReader::Outcome::kRecord) ++n;
  *end = reader->offset();
  return n;
}

BOOST_AUTO_TEST_SUITE(sidecar_flush)

BOOST_AUTO_TEST_CASE(local_mode_makes_the_journal_durable_before_it_acks) {
  ShardPod pod(/*local=*/true);
  pod.Begin();
  pod.RunTask(0);
  BOOST_REQUIRE(!pod.sidecar->Turn().has_value());
  const pr::Ack ack =
      Must(pr::DecodeAck(Must(pod.env.ReadFile(pod.Path(pr::kAckFile)), "ack")), "DecodeAck");
  BOOST_REQUIRE_EQUAL(ack.seq, 2);

  // A power loss now: the step never synced its records, yet the journal holds
  // all the ack covers. The ack's own name may be taken back (an older ack, or
  // none, only makes a rerun apply again what the store has), but an ack that
  // is there is whole and never points past the journal.
  BOOST_REQUIRE(pod.env.DropUnsyncedData().ok());
  uint64_t end = 0;
  BOOST_TEST(JournalRecords(pod.Path(pr::kJournalFile), &end) == 2);
  BOOST_TEST(end >= ack.offset);
  if (auto kept = pod.env.ReadFile(pod.Path(pr::kAckFile)); kept.ok()) {
    BOOST_TEST(Must(pr::DecodeAck(*kept), "DecodeAck").offset <= end);
  }
}

BOOST_AUTO_TEST_CASE(a_pod_sidecar_leaves_the_journal_unsynced) {
  // The contrast that makes the case above mean something: in a pod the work
  // dir dies with the pod, so nothing syncs the journal (or its name), and a
  // power loss takes the records back.
  ShardPod pod(/*local=*/false);
  pod.Begin();
  pod.RunTask(0);
  BOOST_REQUIRE(!pod.sidecar->Turn().has_value());
  BOOST_REQUIRE(pod.env.DropUnsyncedData().ok());
  uint64_t end = 0;
  BOOST_TEST(JournalRecords(pod.Path(pr::kJournalFile), &end) == 0);
}

BOOST_AUTO_TEST_CASE(turns_end_once_the_commit_is_durable_and_a_stop_came) {
  ShardPod pod(/*local=*/true);
  pod.Begin();
  BOOST_TEST(pod.sidecar->watch_fd() >= 0);
  pod.RunTask(0);
  pod.RunTask(1);
  pr::CommitRecord commit;
  commit.fence = pod.fence;
  commit.seq = static_cast<int64_t>(pod.journal->last_seq()) + 1;
  commit.role = pr::Role::kShard;
  BOOST_REQUIRE(
      pod.journal->Append(static_cast<uint16_t>(pr::RecordType::kCommit), 0, pr::Encode(commit))
          .ok());
  BOOST_REQUIRE(!pod.sidecar->Turn().has_value());  // commits, acks, but no stop yet
  BOOST_TEST(pod.health.done.load());
  pod.sidecar->RequestStop();
  const auto code = pod.sidecar->Turn();
  BOOST_REQUIRE(code.has_value());
  BOOST_TEST(*code == pr::kExitOk);
  // The watcher outlives the sidecar for the next one to reuse.
  BOOST_TEST(static_cast<bool>(pod.sidecar->TakeWatcher()));
}

BOOST_AUTO_TEST_CASE(appends_do_not_wake_the_sidecar_a_poke_does) {
  // Group commit: the journal is read once a tick, not once per append, and at
  // once when the step pokes (closes a descriptor it wrote to the journal with).
  ShardPod pod(/*local=*/true);
  pod.Begin();
  BOOST_REQUIRE(!pod.sidecar->Turn().has_value());
  pod.RunTask(0);
  struct pollfd watch = {pod.sidecar->watch_fd(), POLLIN, 0};
  BOOST_TEST(::poll(&watch, 1, 0) == 0);
  Must(pod.env.NewAppendableFile(pod.Path(pr::kJournalFile)), "poke")->Close();
  BOOST_TEST(::poll(&watch, 1, 0) == 1);
  // ... and the turn it wakes flushes what the journal holds.
  BOOST_REQUIRE(!pod.sidecar->Turn().has_value());
  BOOST_TEST(
      Must(pr::DecodeAck(Must(pod.env.ReadFile(pod.Path(pr::kAckFile)), "ack")), "ack").seq == 2);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
