// The StateStore contract, as test cases any store must pass. A store's test
// file derives a harness from StoreHarness and registers the cases with
//
//   TM_STORE_CONFORMANCE_TESTS(sqlite_conformance, SqliteHarness)
//
// Each case gets a new harness, so a new, migrated, empty database.
#ifndef TASKMASTER_TESTS_SIDECAR_STORE_STORE_CONFORMANCE_H_
#define TASKMASTER_TESTS_SIDECAR_STORE_STORE_CONFORMANCE_H_

#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/state_store.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/protocol.h"
#include "taskmaster/state.h"

namespace taskmaster::sidecar::conformance {

namespace pr = ::taskmaster::protocol;

class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  // The store under test, migrated, on this case's own database.
  virtual StateStore& store() = 0;
  // A store on another new, empty database (not migrated).
  virtual std::unique_ptr<StateStore> OpenFresh() = 0;
  // Runs SQL (the same text works on both stores) on store()'s database.
  virtual void Exec(const std::string& sql) = 0;
  // The first column of the first row as text; nullopt for NULL or no row.
  virtual std::optional<std::string> QueryOne(const std::string& sql) = 0;
  // Whether the store is PostgreSQL (else SQLite), for SQL of its own dialect.
  virtual bool postgres() const = 0;
};

inline int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline std::vector<std::string> TaskIds(int n, const std::string& prefix = "task/") {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

template <typename T>
T Must(Result<T> result, const char* what) {
  BOOST_REQUIRE_MESSAGE(result.ok(), what << ": " << result.status().ToString());
  return std::move(result).value();
}

inline ApplyResult MustApply(StateStore& store, const Batch& batch) {
  return Must(store.Apply(batch), "Apply");
}

// Builds one writer's batches: it takes a fence from the store and numbers its
// records as a journal would.
class TestWriter {
 public:
  TestWriter(StateStore& store, std::string workflow_id, pr::Role role, int64_t shard)
      : writer_{std::move(workflow_id), role, shard},
        fence_(Must(store.AcquireFence(writer_), "AcquireFence")) {}

  int64_t fence() const { return fence_; }
  int64_t seq() const { return seq_; }
  const std::string& workflow_id() const { return writer_.workflow_id; }

  Batch NewBatch() const {
    Batch b;
    b.writer = writer_;
    b.fence = fence_;
    return b;
  }

  void Init(Batch* b, const std::vector<std::string>& ids, int64_t batch_size) {
    pr::WorkflowInitRecord r;
    Number(&r, b);
    r.workflow_id = writer_.workflow_id;
    r.task_count = static_cast<int64_t>(ids.size());
    r.batch_size = batch_size;
    r.effective_batch_size = pr::EffectiveBatchSize(r.task_count, batch_size);
    r.list_hash = pr::ListHash(ids);
    std::vector<pr::TaskListRecord> lists = pr::ChunkTaskList(ids);
    r.list_records = static_cast<int64_t>(lists.size());
    b->init = r;
    for (pr::TaskListRecord& list : lists) {
      Number(&list, b);
      b->task_lists.push_back(std::move(list));
    }
  }
  void Start(Batch* b, int64_t ordinal, const std::string& task_id, int64_t attempt = 0) {
    pr::TaskStartRecord r;
    Number(&r, b);
    r.ordinal = ordinal;
    r.task_id = task_id;
    r.attempt = attempt;
    r.started_at_ms = 1767225600000 + seq_;
    b->starts.push_back(r);
  }
  // A task that started and succeeded within the batch.
  void Succeed(Batch* b, int64_t ordinal, const std::string& task_id, int64_t attempt = 0) {
    Start(b, ordinal, task_id, attempt);
    End(b, ordinal, task_id, TaskStatus::kSucceeded);
  }
  // Returns the document it wrote.
  std::string Checkpoint(Batch* b, int64_t ordinal, const std::string& task_id, int64_t generation,
                         const std::string& payload = "{\"n\":1}") {
    CheckpointWrite c;
    c.seq = ++seq_;
    b->max_seq = seq_;
    c.ordinal = ordinal;
    c.task_id = task_id;
    c.generation = generation;
    CheckpointFields f{writer_.workflow_id, task_id, fence_, c.seq, generation, 1767225600000};
    c.document = Must(EncodeCheckpoint(f, payload), "EncodeCheckpoint");
    b->checkpoints.push_back(c);
    return c.document;
  }
  void Progress(Batch* b, int64_t ordinal, int64_t done, int64_t total) {
    pr::ProgressRecord r;
    Number(&r, b);
    r.ordinal = ordinal;
    r.done = done;
    r.total = total;
    b->progress.push_back(r);
  }
  void Note(Batch* b, int64_t ordinal, const std::string& text) {
    pr::NoteRecord r;
    Number(&r, b);
    r.ordinal = ordinal;
    r.text = text;
    b->notes.push_back(r);
  }
  void End(Batch* b, int64_t ordinal, const std::string& task_id, TaskStatus status,
           bool final = false, std::optional<int> exit_code = 0, const std::string& error = "") {
    pr::TaskEndRecord r;
    Number(&r, b);
    r.ordinal = ordinal;
    r.task_id = task_id;
    r.status = status;
    r.final = final;
    r.exit_code = exit_code;
    r.error = error;
    r.duration_ms = 5;
    r.finished_at_ms = 1767225600000 + seq_;
    b->ends.push_back(r);
  }
  void Budget(Batch* b, int64_t max_failures, double max_failure_percent,
              std::optional<int> task_retries, std::optional<int> quarantine_after) {
    pr::BudgetRecord r;
    Number(&r, b);
    r.budget.max_failures = max_failures;
    r.budget.max_failure_percent = max_failure_percent;
    r.budget.task_retries = task_retries;
    r.budget.quarantine_after = quarantine_after;
    b->budget = r;
  }
  void Commit(Batch* b, std::optional<WorkflowStatus> final_status = std::nullopt) {
    pr::CommitRecord r;
    Number(&r, b);
    r.role = writer_.role;
    b->commit = r;
    b->final_status = final_status;
  }

 private:
  template <typename Record>
  void Number(Record* r, Batch* b) {
    r->fence = fence_;
    r->seq = ++seq_;
    b->max_seq = seq_;
  }

  Writer writer_;
  int64_t fence_;
  int64_t seq_ = 0;
};

// Records the workflow and its list as the init role does.
inline ApplyResult InitWorkflow(StateStore& store, const std::string& workflow_id,
                                const std::vector<std::string>& ids, int64_t batch_size) {
  TestWriter init(store, workflow_id, pr::Role::kInit, 0);
  Batch b = init.NewBatch();
  init.Init(&b, ids, batch_size);
  init.Commit(&b);
  return MustApply(store, b);
}

// Where most cases start: the harness's store with a workflow recorded as the
// init role does it. A case binds it as `const auto& [s, wf, ids] = ...`.
struct RecordedWorkflow {
  StateStore& store;
  std::string workflow_id;
  std::vector<std::string> ids;
};

inline RecordedWorkflow RecordWorkflow(StoreHarness& h, std::string workflow_id,
                                       std::vector<std::string> ids, int64_t batch_size) {
  InitWorkflow(h.store(), workflow_id, ids, batch_size);
  return {h.store(), std::move(workflow_id), std::move(ids)};
}

inline void CheckSameState(const WorkflowState& a, const WorkflowState& b, bool with_version) {
  WorkflowState x = a, y = b;
  x.updated_at_ms = y.updated_at_ms = 0;
  if (!with_version) x.version = y.version = 0;
  BOOST_CHECK_MESSAGE(x == y, WorkflowStateToJson(x) << " != " << WorkflowStateToJson(y));
}

inline void CheckSameShard(const ShardData& a, const ShardData& b) {
  BOOST_CHECK_EQUAL(pr::Encode(a.restore), pr::Encode(b.restore));
  BOOST_CHECK(a.documents == b.documents);
}

inline TaskCounts Counts(int64_t succeeded, int64_t failed, int64_t running, int64_t pending,
                         int64_t cancelled) {
  const int64_t total = succeeded + failed + running + pending + cancelled;
  return TaskCounts{total, succeeded, failed, running, pending, cancelled};
}

inline void CheckCounts(const TaskCounts& got, const TaskCounts& want) {
  BOOST_CHECK_EQUAL(got.total, want.total);
  BOOST_CHECK_EQUAL(got.succeeded, want.succeeded);
  BOOST_CHECK_EQUAL(got.failed, want.failed);
  BOOST_CHECK_EQUAL(got.running, want.running);
  BOOST_CHECK_EQUAL(got.pending, want.pending);
  BOOST_CHECK_EQUAL(got.cancelled, want.cancelled);
}

inline bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Forks `n` children that wait on a pipe and then run `body(i)` at once;
// returns how many exited 0. A child's body returns its exit code; it must not
// use the test framework (it reports on stderr) nor a connection it inherited
// (for SQLite the parent must have none open: SQLite's locks are per process).
template <typename Body>
int RunAtOnce(int n, Body body) {
  int start[2];
  BOOST_REQUIRE(::pipe(start) == 0);
  std::vector<pid_t> children;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(start[1]);
      char go;
      // read() returns 0 once every write end is closed: the parent's is the last.
      if (::read(start[0], &go, 1) != 0) _exit(3);
      _exit(body(i));
    }
    children.push_back(pid);
  }
  ::close(start[0]);
  ::close(start[1]);
  int ok = 0;
  for (pid_t pid : children) {
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) ++ok;
  }
  return ok;
}

// ---- The cases ------------------------------------------------------------------

inline void MigrateIsIdempotentAndSchemaIsChecked(StoreHarness& h) {
  std::unique_ptr<StateStore> fresh = h.OpenFresh();
  const Status unmigrated = fresh->CheckSchema();
  BOOST_TEST(unmigrated.IsInvalidArgument(), unmigrated.ToString());
  BOOST_TEST(Contains(unmigrated.message(), "version 0"), unmigrated.message());
  BOOST_TEST(Contains(unmigrated.message(), "version 6"), unmigrated.message());
  BOOST_TEST(Contains(unmigrated.message(), "tm-sidecar migrate"), unmigrated.message());
  BOOST_REQUIRE_MESSAGE(fresh->Migrate().ok(), "first Migrate");
  const Status again = fresh->Migrate();
  BOOST_REQUIRE_MESSAGE(again.ok(), again.ToString());
  BOOST_TEST(fresh->CheckSchema().ok());

  // A schema from a later tm-sidecar: both refuse it, naming both versions.
  h.Exec(
      "INSERT INTO schema_migrations (version, name, applied_at) "
      "SELECT 99, 'from the future', applied_at FROM schema_migrations WHERE version = 1");
  const Status newer = h.store().CheckSchema();
  BOOST_TEST(newer.IsInvalidArgument(), newer.ToString());
  BOOST_TEST(Contains(newer.message(), "version 99"), newer.message());
  BOOST_TEST(Contains(newer.message(), "version 6 "), newer.message());
  const Status migrate_newer = h.store().Migrate();
  BOOST_TEST(migrate_newer.IsInvalidArgument(), migrate_newer.ToString());
  BOOST_TEST(Contains(migrate_newer.message(), "version 99"), migrate_newer.message());
}

inline void UnknownWorkflows(StoreHarness& h) {
  StateStore& s = h.store();
  pr::InitRestore init = Must(s.LoadInit("nope"), "LoadInit");
  BOOST_TEST(!init.exists);
  BOOST_TEST(init.workflow_id == "nope");
  BOOST_TEST(s.LoadShard("nope", 0).status().IsNotFound());
  BOOST_TEST(s.LoadSummary("nope").status().IsNotFound());
  BOOST_TEST(s.LoadWorkflowState("nope").status().IsNotFound());
  BOOST_TEST(s.LoadCheckpoints("nope").status().IsNotFound());
}

inline void RoundTrip(StoreHarness& h) {
  StateStore& s = h.store();
  const std::string wf = "wf-round-trip";
  const std::vector<std::string> ids = TaskIds(5);
  ApplyResult inited = InitWorkflow(s, wf, ids, 2);
  BOOST_TEST(!inited.fenced);
  BOOST_TEST(inited.applied == 3);  // init, one task list, commit
  BOOST_TEST(inited.state.workflow_id == wf);
  CheckCounts(inited.state.counts, Counts(0, 0, 0, 5, 0));
  BOOST_TEST(ToString(inited.state.status) == std::string("pending"));

  pr::InitRestore init = Must(s.LoadInit(wf), "LoadInit");
  BOOST_TEST(init.exists);
  BOOST_TEST(init.list_hash == pr::ListHash(ids));
  BOOST_TEST(init.task_count == 5);
  BOOST_TEST(init.batch_size == 2);
  BOOST_TEST(init.effective_batch_size == 2);
  BOOST_TEST(init.statuses.size() == 5u);

  ShardData restored = Must(s.LoadShard(wf, 1), "LoadShard");
  BOOST_TEST(restored.restore.workflow_id == wf);
  BOOST_TEST(restored.restore.shard == 1);
  BOOST_TEST(restored.restore.task_count == 5);
  BOOST_TEST(restored.restore.batch_size == 2);
  BOOST_REQUIRE(restored.restore.tasks.size() == 2u);
  BOOST_TEST(restored.restore.tasks[0].ordinal == 2);
  BOOST_TEST(restored.restore.tasks[1].task_id == ids[3]);
  BOOST_TEST(restored.documents.empty());
  BOOST_TEST(Must(s.LoadShard(wf, 2), "LoadShard 2").restore.tasks.size() == 1u);
  BOOST_TEST(s.LoadShard(wf, 3).status().IsInvalidArgument());

  TestWriter shard(s, wf, pr::Role::kShard, 1);
  Batch b = shard.NewBatch();
  shard.Start(&b, 2, ids[2]);
  const std::string doc = shard.Checkpoint(&b, 2, ids[2], 1, "{\"next\":42}");
  shard.Progress(&b, 2, 3, 10);
  shard.Note(&b, 2, "halfway");
  shard.End(&b, 2, ids[2], TaskStatus::kSucceeded);
  shard.Start(&b, 3, ids[3]);
  shard.End(&b, 3, ids[3], TaskStatus::kFailed, /*final=*/true, 3, "exit status 3");
  ApplyResult r = MustApply(s, b);
  BOOST_TEST(!r.fenced);
  BOOST_TEST(r.applied == 7);
  BOOST_TEST(r.skipped == 0);
  BOOST_REQUIRE(r.checkpoints.size() == 1u);
  BOOST_TEST(r.checkpoints.at(ids[2]) == doc);
  CheckCounts(r.state.counts, Counts(1, 1, 0, 3, 0));
  BOOST_TEST(ToString(r.state.status) == std::string("running"));
  BOOST_TEST(r.state.version > inited.state.version);
  BOOST_TEST(r.state.created_at_ms == inited.state.created_at_ms);
  BOOST_TEST(r.state.updated_at_ms >= r.state.created_at_ms);
  CheckSameState(Must(s.LoadWorkflowState(wf), "LoadWorkflowState"), r.state, true);

  ShardData after = Must(s.LoadShard(wf, 1), "LoadShard after");
  BOOST_REQUIRE(after.restore.tasks.size() == 2u);
  const pr::RestoredTask& done = after.restore.tasks[0];
  BOOST_TEST(ToString(done.status) == std::string("succeeded"));
  BOOST_TEST(done.attempts == 1);
  BOOST_TEST(done.generation == 1);
  BOOST_TEST((done.exit_code == std::optional<int>(0)));
  const pr::RestoredTask& failed = after.restore.tasks[1];
  BOOST_TEST(ToString(failed.status) == std::string("failed"));
  BOOST_TEST(failed.final);
  BOOST_TEST((failed.exit_code == std::optional<int>(3)));
  BOOST_TEST(failed.error == "exit status 3");
  BOOST_TEST(failed.generation == 0);
  BOOST_TEST(after.restore.final_failures == 1);
  BOOST_REQUIRE(after.documents.size() == 1u);
  BOOST_TEST(after.documents.at(2) == doc);
  BOOST_TEST(VerifyCheckpoint(after.documents.at(2)).ok());

  std::map<std::string, std::string> docs = Must(s.LoadCheckpoints(wf), "LoadCheckpoints");
  BOOST_TEST(docs.size() == 1u);
  BOOST_TEST(docs[ids[2]] == doc);
  BOOST_TEST(h.QueryOne("SELECT progress_done FROM task_states WHERE ordinal = 2").value_or("") ==
             "3");
  BOOST_TEST(h.QueryOne("SELECT note FROM task_states WHERE ordinal = 2").value_or("") ==
             "halfway");
  // Shard 0 saw none of it.
  for (const pr::RestoredTask& t : Must(s.LoadShard(wf, 0), "LoadShard 0").restore.tasks) {
    BOOST_TEST(ToString(t.status) == std::string("pending"));
  }
}

inline void ReplayIsANoop(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-replay", TaskIds(3), 3);
  TestWriter shard(s, wf, pr::Role::kShard, 0);
  Batch b = shard.NewBatch();
  shard.Start(&b, 0, ids[0]);
  shard.Checkpoint(&b, 0, ids[0], 1);
  shard.End(&b, 0, ids[0], TaskStatus::kSucceeded);
  shard.Start(&b, 1, ids[1]);
  const ApplyResult first = MustApply(s, b);
  BOOST_TEST(first.applied == 4);
  const WorkflowState state = Must(s.LoadWorkflowState(wf), "state");
  const ShardData shard_data = Must(s.LoadShard(wf, 0), "shard");
  const auto docs = Must(s.LoadCheckpoints(wf), "checkpoints");

  const ApplyResult again = MustApply(s, b);
  BOOST_TEST(!again.fenced);
  BOOST_TEST(again.applied == 0);
  BOOST_TEST(again.skipped == static_cast<int64_t>(b.size()));
  BOOST_TEST(again.checkpoints.empty());
  CheckSameState(Must(s.LoadWorkflowState(wf), "state again"), state, /*with_version=*/true);
  CheckSameShard(Must(s.LoadShard(wf, 0), "shard again"), shard_data);
  BOOST_CHECK(Must(s.LoadCheckpoints(wf), "checkpoints again") == docs);

  // A batch that overlaps the last one (a journal re-read from an older ack):
  // only its new records apply.
  Batch overlap = b;
  overlap.starts.erase(overlap.starts.begin());  // seq 1 no longer in it
  shard.End(&overlap, 1, ids[1], TaskStatus::kSucceeded);
  const ApplyResult partial = MustApply(s, overlap);
  BOOST_TEST(partial.applied == 1);
  BOOST_TEST(partial.skipped == 3);
  CheckCounts(partial.state.counts, Counts(2, 0, 0, 1, 0));
}

inline void LowerFenceIsRefused(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-zombie", TaskIds(2), 2);
  TestWriter zombie(s, wf, pr::Role::kShard, 0);
  Batch early = zombie.NewBatch();
  zombie.Start(&early, 0, ids[0]);
  MustApply(s, early);

  TestWriter live(s, wf, pr::Role::kShard, 0);  // the next attempt of the same shard
  BOOST_TEST(live.fence() == zombie.fence() + 1);
  Batch b = live.NewBatch();
  live.Succeed(&b, 0, ids[0], 1);
  MustApply(s, b);
  const WorkflowState state = Must(s.LoadWorkflowState(wf), "state");
  const ShardData shard_data = Must(s.LoadShard(wf, 0), "shard");

  // The zombie goes on, with higher seqs than the live writer ever used.
  Batch lost = zombie.NewBatch();
  for (int i = 0; i < 10; ++i) zombie.Progress(&lost, 0, i, 10);
  Batch late = zombie.NewBatch();
  zombie.Checkpoint(&late, 0, ids[0], 7);
  zombie.End(&late, 0, ids[0], TaskStatus::kFailed, true, 1, "zombie");
  zombie.End(&late, 1, ids[1], TaskStatus::kCancelled);
  const ApplyResult refused = MustApply(s, late);
  BOOST_TEST(refused.fenced);
  BOOST_TEST(refused.applied == 0);
  BOOST_TEST(refused.checkpoints.empty());
  BOOST_TEST(refused.state.workflow_id == wf);
  CheckSameState(refused.state, state, true);
  CheckSameState(Must(s.LoadWorkflowState(wf), "state after"), state, true);
  CheckSameShard(Must(s.LoadShard(wf, 0), "shard after"), shard_data);
  BOOST_TEST(Must(s.LoadCheckpoints(wf), "checkpoints").empty());
}

inline void AcquireFenceRefusesTheOldFence(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-fence", TaskIds(2), 1);
  TestWriter first(s, wf, pr::Role::kShard, 1);
  BOOST_TEST(first.fence() == 1);
  Batch b = first.NewBatch();
  for (int i = 0; i < 5; ++i) first.Progress(&b, 1, i, 5);
  MustApply(s, b);

  // Other writers' fences are their own.
  TestWriter other(s, wf, pr::Role::kShard, 0);
  BOOST_TEST(other.fence() == 1);

  const Writer w{wf, pr::Role::kShard, 1};
  const int64_t bumped = Must(s.AcquireFence(w), "AcquireFence");
  BOOST_TEST(bumped == first.fence() + 1);
  Batch stale = first.NewBatch();
  first.Start(&stale, 1, ids[1]);
  BOOST_TEST(MustApply(s, stale).fenced);

  // The new pair is (fence + 1, 0): its writer's seq 1 applies although the
  // old fence had reached seq 5.
  Batch fresh;
  fresh.writer = w;
  fresh.fence = bumped;
  pr::TaskStartRecord start;
  start.fence = bumped;
  start.seq = 1;
  start.ordinal = 1;
  start.task_id = ids[1];
  fresh.starts.push_back(start);
  fresh.max_seq = 1;
  const ApplyResult r = MustApply(s, fresh);
  BOOST_TEST(!r.fenced);
  BOOST_TEST(r.applied == 1);
  CheckCounts(r.state.counts, Counts(0, 0, 1, 1, 0));

  // The fence each shard holds; the init and finalize roles' are not shards'.
  Must(s.AcquireFence(Writer{wf, pr::Role::kFinalize, 7}), "AcquireFence finalize");
  const std::map<int64_t, int64_t> fences = Must(s.LoadShardFences(wf), "LoadShardFences");
  BOOST_TEST((fences == std::map<int64_t, int64_t>{{0, 1}, {1, bumped}}));
  BOOST_TEST(Must(s.LoadShardFences("nope"), "LoadShardFences of nothing").empty());
}

inline std::string BackupOf(StoreHarness& h, const std::string& task_id) {
  return h.QueryOne("SELECT backup_generation FROM checkpoints WHERE task_id = '" + task_id + "'")
      .value_or("none");
}

inline void BackupRotatesOnlyWhenGenerationGrows(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-backup", TaskIds(1, "t"), 1);
  const std::string doc_query = "SELECT backup_document FROM checkpoints WHERE task_id = 't0'";
  TestWriter w1(s, wf, pr::Role::kShard, 0);

  Batch b1 = w1.NewBatch();
  const std::string g1 = w1.Checkpoint(&b1, 0, "t0", 1, "{\"g\":1}");
  BOOST_TEST(MustApply(s, b1).checkpoints.at("t0") == g1);
  BOOST_TEST(BackupOf(h, "t0") == "0");
  BOOST_TEST(!h.QueryOne(doc_query).has_value());

  Batch b2 = w1.NewBatch();
  const std::string g2 = w1.Checkpoint(&b2, 0, "t0", 2, "{\"g\":2}");
  MustApply(s, b2);
  BOOST_TEST(BackupOf(h, "t0") == "1");
  BOOST_TEST(h.QueryOne(doc_query).value_or("") == g1);

  // The same generation again (a new attempt that re-made it): the document
  // is replaced, the backup is not rotated away.
  TestWriter w2(s, wf, pr::Role::kShard, 0);
  Batch b3 = w2.NewBatch();
  const std::string g2b = w2.Checkpoint(&b3, 0, "t0", 2, "{\"g\":\"2b\"}");
  BOOST_TEST(MustApply(s, b3).checkpoints.at("t0") == g2b);
  BOOST_TEST(BackupOf(h, "t0") == "1");
  BOOST_TEST(h.QueryOne(doc_query).value_or("") == g1);

  // Two generations in one batch: the backup is the batch's previous one.
  Batch b4 = w2.NewBatch();
  const std::string g3 = w2.Checkpoint(&b4, 0, "t0", 3, "{\"g\":3}");
  const std::string g4 = w2.Checkpoint(&b4, 0, "t0", 4, "{\"g\":4}");
  const ApplyResult r4 = MustApply(s, b4);
  BOOST_TEST(r4.applied == 2);
  BOOST_TEST(r4.checkpoints.at("t0") == g4);
  BOOST_TEST(BackupOf(h, "t0") == "3");
  BOOST_TEST(h.QueryOne(doc_query).value_or("") == g3);

  // A lower generation never replaces a higher one.
  Batch b5 = w2.NewBatch();
  w2.Checkpoint(&b5, 0, "t0", 2, "{\"g\":\"old\"}");
  const ApplyResult r5 = MustApply(s, b5);
  BOOST_TEST(r5.checkpoints.empty());
  BOOST_TEST(Must(s.LoadCheckpoints(wf), "checkpoints").at("t0") == g4);
  BOOST_TEST(BackupOf(h, "t0") == "3");

  ShardData shard = Must(s.LoadShard(wf, 0), "LoadShard");
  BOOST_TEST(shard.restore.tasks.at(0).generation == 4);
  BOOST_TEST(shard.documents.at(0) == g4);

  // A current document that fails verification is restored from its backup.
  h.Exec("UPDATE checkpoints SET document = substr(document, 1, 40) WHERE task_id = 't0'");
  shard = Must(s.LoadShard(wf, 0), "LoadShard with a torn document");
  BOOST_TEST(shard.restore.tasks.at(0).generation == 3);
  BOOST_TEST(shard.documents.at(0) == g3);
}

inline void CountsAreDerived(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-counts", TaskIds(4), 4);
  TestWriter w1(s, wf, pr::Role::kShard, 0);
  Batch b = w1.NewBatch();
  w1.Succeed(&b, 0, ids[0]);
  w1.End(&b, 0, ids[0], TaskStatus::kSucceeded);  // twice in one batch
  w1.Start(&b, 1, ids[1]);
  w1.End(&b, 1, ids[1], TaskStatus::kFailed, /*final=*/false, 1, "try again");
  w1.Start(&b, 2, ids[2]);
  w1.End(&b, 2, ids[2], TaskStatus::kInterrupted, false, std::nullopt, "SIGTERM");
  ApplyResult r = MustApply(s, b);
  // A failure that will be retried and an interrupted task are still to do.
  CheckCounts(r.state.counts, Counts(1, 0, 0, 3, 0));
  BOOST_TEST(ToString(r.state.status) == std::string("running"));
  const int64_t version = r.state.version;

  // The next attempt reports task 0 again, and ends the rest.
  TestWriter w2(s, wf, pr::Role::kShard, 0);
  b = w2.NewBatch();
  w2.End(&b, 0, ids[0], TaskStatus::kSucceeded);
  w2.Start(&b, 1, ids[1], 1);
  w2.End(&b, 1, ids[1], TaskStatus::kFailed, /*final=*/true, 1, "gave up");
  w2.Succeed(&b, 2, ids[2], 1);
  w2.End(&b, 3, ids[3], TaskStatus::kCancelled, false, std::nullopt, "max failures reached");
  r = MustApply(s, b);
  CheckCounts(r.state.counts, Counts(2, 1, 0, 0, 1));
  BOOST_TEST(ToString(r.state.status) == std::string("failed"));
  BOOST_TEST(r.state.version == version + 1);
  CheckSameState(Must(s.LoadWorkflowState(wf), "state"), r.state, true);

  ShardData shard = Must(s.LoadShard(wf, 0), "LoadShard");
  BOOST_TEST(shard.restore.tasks.at(0).attempts == 1);
  BOOST_TEST(shard.restore.tasks.at(1).attempts == 2);
  BOOST_TEST(shard.restore.tasks.at(3).attempts == 0);
  BOOST_TEST(shard.restore.final_failures == 1);

  // What the summary counts matches the row.
  pr::WorkflowSummary summary = Must(s.LoadSummary(wf), "LoadSummary");
  CheckCounts(summary.counts, r.state.counts);
  BOOST_TEST(summary.failed_total == 1);
}

// The counts a batch writes come from per-shard rows that it recounts for the
// shards it touched: they must match a recount of every task row (LoadSummary)
// whichever shards the batches touched, however many shards there are.
inline void ShardCountsMatchTheTaskRows(StoreHarness& h) {
  StateStore& s = h.store();
  const std::string wf = "wf-shard-counts";
  const std::vector<std::string> ids = TaskIds(10);
  ApplyResult r = InitWorkflow(s, wf, ids, 3);  // shards [0,3) [3,6) [6,9) [9,10)
  CheckCounts(r.state.counts, Counts(0, 0, 0, 10, 0));
  TestWriter w1(s, wf, pr::Role::kShard, 1);
  Batch b = w1.NewBatch();
  for (int64_t i = 3; i < 6; ++i) w1.Start(&b, i, ids[i]);
  w1.End(&b, 3, ids[3], TaskStatus::kSucceeded);
  w1.End(&b, 4, ids[4], TaskStatus::kFailed, /*final=*/true, 1, "no");
  r = MustApply(s, b);
  CheckCounts(r.state.counts, Counts(1, 1, 1, 7, 0));
  TestWriter w3(s, wf, pr::Role::kShard, 3);
  b = w3.NewBatch();
  w3.Start(&b, 9, ids[9]);
  w3.End(&b, 9, ids[9], TaskStatus::kCancelled, false, std::nullopt, "max failures reached");
  r = MustApply(s, b);
  CheckCounts(r.state.counts, Counts(1, 1, 1, 6, 1));
  // A batch that changes no count (a checkpoint) keeps them.
  TestWriter w0(s, wf, pr::Role::kShard, 0);
  b = w0.NewBatch();
  w0.Checkpoint(&b, 0, ids[0], 1);
  r = MustApply(s, b);
  CheckCounts(r.state.counts, Counts(1, 1, 1, 6, 1));
  BOOST_TEST(ToString(r.state.status) == std::string("running"));
  CheckCounts(Must(s.LoadSummary(wf), "LoadSummary").counts, r.state.counts);
}

// Takes the schema's workflow_states back to before version 5, and its
// task_states' columns to before version 6.
inline void DropBudgetColumns(StoreHarness& h) {
  for (const char* column :
       {"max_failures", "max_failure_percent", "task_retries", "quarantine_after"}) {
    h.Exec(std::string("ALTER TABLE workflow_states DROP COLUMN ") + column);
  }
  h.Exec("ALTER TABLE task_states DROP COLUMN fingerprint");
  h.Exec("ALTER TABLE task_states DROP COLUMN fingerprint_streak");
}

// A shard records the whole failure budget, finalize only what it tolerates
// (the rest stays); a replayed or fenced budget record changes nothing.
inline void FailureBudgetIsRecorded(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-budget", TaskIds(4), 4);
  BOOST_TEST(!Must(s.LoadWorkflowState(wf), "state").budget.has_value());
  TestWriter shard(s, wf, pr::Role::kShard, 0);
  Batch b = shard.NewBatch();
  shard.Budget(&b, 2, 12.5, 3, 2);
  ApplyResult r = MustApply(s, b);
  const FailureBudget want{2, 12.5, 3, 2};
  BOOST_REQUIRE(r.state.budget.has_value());
  BOOST_TEST((*r.state.budget == want), WorkflowStateToJson(r.state));
  BOOST_TEST((MustApply(s, b).state.budget == std::optional<FailureBudget>(want)));

  TestWriter finalize(s, wf, pr::Role::kFinalize, 0);
  Batch f = finalize.NewBatch();
  finalize.Budget(&f, 1, 50, std::nullopt, std::nullopt);
  r = MustApply(s, f);
  const FailureBudget after{1, 50, 3, 2};
  BOOST_TEST((r.state.budget == std::optional<FailureBudget>(after)), WorkflowStateToJson(r.state));
  const WorkflowState loaded = Must(s.LoadWorkflowState(wf), "state again");
  BOOST_TEST((loaded.budget == std::optional<FailureBudget>(after)));
  BOOST_TEST((Must(WorkflowStateFromJson(WorkflowStateToJson(loaded)), "json") == loaded));

  TestWriter newer(s, wf, pr::Role::kShard, 0);  // fences `shard` out
  b.budget->budget.max_failures = 9;
  BOOST_TEST(Must(s.Apply(b), "fenced").fenced);
  BOOST_TEST(
      (Must(s.LoadWorkflowState(wf), "state").budget == std::optional<FailureBudget>(after)));
}

// Each failed attempt keeps its normalised last error line (fingerprint.h),
// the same in both stores; other outcomes keep none.
inline void FailedAttemptsKeepTheirNormalizedError(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-normalized", TaskIds(3), 3);
  TestWriter w(s, wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  w.Start(&b, 0, ids[0]);
  w.End(&b, 0, ids[0], TaskStatus::kFailed, false, 1,
        "Traceback:\nValueError: row 17 of /data/part-0003.csv at 2026-12-06T10:00:00Z\n");
  w.Start(&b, 1, ids[1]);
  w.End(&b, 1, ids[1], TaskStatus::kFailed, false, 1, "timed out after 5 s");
  w.Succeed(&b, 2, ids[2]);
  MustApply(s, b);
  const auto normalized = [&](int ordinal) {
    return h
        .QueryOne("SELECT coalesce(normalized_error, 'NULL') FROM task_attempts WHERE ordinal = " +
                  std::to_string(ordinal))
        .value_or("");
  };
  BOOST_TEST(normalized(0) == "ValueError: row <n> of <path> at <time>");
  BOOST_TEST(normalized(1) == "timed out after <n> s");
  BOOST_TEST(normalized(2) == "NULL");
}

// A database at schema version 4 (workflows without a budget) is upgraded by
// Migrate: its workflows read as before, with no budget, until a step records one.
inline void MigrateUpgradesVersion4(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-v4", TaskIds(3), 3);
  TestWriter w(s, wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  w.Succeed(&b, 0, ids[0]);
  w.Checkpoint(&b, 1, ids[1], 1);
  w.Start(&b, 1, ids[1]);
  w.End(&b, 1, ids[1], TaskStatus::kFailed, true, 1, "no");
  const WorkflowState before = MustApply(s, b).state;
  // The child rows of task_states, which version 6 makes again on SQLite.
  const auto children = [&] {
    return h.QueryOne("SELECT count(*) FROM task_attempts").value_or("") + " " +
           h.QueryOne("SELECT count(*) FROM checkpoints").value_or("");
  };
  BOOST_TEST(children() == "2 1");
  DropBudgetColumns(h);
  h.Exec("DELETE FROM schema_migrations WHERE version >= 5");
  const Status old = s.CheckSchema();
  BOOST_TEST(Contains(old.message(), "version 4"), old.message());
  BOOST_REQUIRE_MESSAGE(s.Migrate().ok(), "Migrate from version 4");
  BOOST_TEST(s.CheckSchema().ok());
  CheckSameState(Must(s.LoadWorkflowState(wf), "state after the upgrade"), before, true);
  BOOST_TEST(children() == "2 1");
  BOOST_TEST(Must(s.LoadTaskHistory(wf, ids[1]), "history after the upgrade").attempts.size() ==
             1u);
  BOOST_TEST(Must(s.LoadShard(wf, 0), "shard after the upgrade").restore.tasks.at(1).generation ==
             1);
  b = w.NewBatch();
  w.Budget(&b, 0, 40, 3, std::nullopt);
  const WorkflowState after = MustApply(s, b).state;
  BOOST_TEST((after.budget == std::optional<FailureBudget>(FailureBudget{0, 40, 3, std::nullopt})));
  CheckCounts(after.counts, before.counts);
}

// A database at schema version 1 (no shard_counts, no failure counts) is
// refused by CheckSchema and upgraded by Migrate, which fills the shard counts
// from the task rows and counts a failed or interrupted row's last attempt.
inline void MigrateUpgradesVersion1(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-upgrade", TaskIds(5), 2);
  TestWriter w(s, wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  w.Succeed(&b, 0, ids[0]);
  w.Start(&b, 1, ids[1]);
  w.End(&b, 2, ids[2], TaskStatus::kInterrupted, false, 143);
  w.End(&b, 3, ids[3], TaskStatus::kFailed, true, 1);
  MustApply(s, b);

  h.Exec("DROP TABLE shard_counts");
  h.Exec("DROP TABLE task_attempts");
  h.Exec("DROP INDEX task_states_status");
  h.Exec("ALTER TABLE task_states DROP COLUMN failures");
  h.Exec("ALTER TABLE task_states DROP COLUMN interruptions");
  DropBudgetColumns(h);
  h.Exec("DELETE FROM schema_migrations WHERE version >= 2");
  const Status old = s.CheckSchema();
  BOOST_TEST(old.IsInvalidArgument(), old.ToString());
  BOOST_TEST(Contains(old.message(), "version 1"), old.message());
  BOOST_TEST(Contains(old.message(), "version 6"), old.message());
  BOOST_TEST(Contains(old.message(), "tm-sidecar migrate"), old.message());
  BOOST_REQUIRE_MESSAGE(s.Migrate().ok(), "Migrate from version 1");
  BOOST_TEST(s.CheckSchema().ok());
  BOOST_TEST(h.QueryOne("SELECT sum(tasks) FROM shard_counts").value_or("") == "5");
  const ShardData upgraded = Must(s.LoadShard(wf, 1), "shard 1 after the upgrade");
  BOOST_REQUIRE_EQUAL(upgraded.restore.tasks.size(), 2u);
  BOOST_TEST(upgraded.restore.tasks[0].interruptions == 1);
  BOOST_TEST(upgraded.restore.tasks[0].failures == 0);
  BOOST_TEST(upgraded.restore.tasks[1].failures == 1);

  // A batch on shard 2 sums the other shards' rows the migration filled.
  TestWriter w2(s, wf, pr::Role::kShard, 2);
  b = w2.NewBatch();
  w2.Succeed(&b, 4, ids[4]);
  ApplyResult r = MustApply(s, b);
  CheckCounts(r.state.counts, Counts(2, 1, 1, 1, 0));
  CheckCounts(Must(s.LoadSummary(wf), "LoadSummary").counts, r.state.counts);
}

inline void SummaryListsTheFirstHundredFinalFailures(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-summary", TaskIds(150), 150);
  TestWriter w(s, wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  // Ends in reverse ordinal order: the summary's order is the list's.
  for (int i = 149; i >= 0; --i) {
    if (i >= 140) {
      w.End(&b, i, ids[i], TaskStatus::kSucceeded);
    } else if (i >= 130) {
      w.End(&b, i, ids[i], TaskStatus::kFailed, /*final=*/false, 1, "retry");
    } else {
      w.End(&b, i, ids[i], TaskStatus::kFailed, /*final=*/true, i % 7, "boom " + std::to_string(i));
    }
  }
  MustApply(s, b);
  pr::WorkflowSummary summary = Must(s.LoadSummary(wf), "LoadSummary");
  BOOST_TEST(summary.workflow_id == wf);
  BOOST_TEST(summary.failed_total == 130);
  CheckCounts(summary.counts, Counts(10, 130, 0, 10, 0));
  BOOST_REQUIRE(summary.failed.size() == pr::kFailedTasksInSummary);
  for (size_t i = 0; i < summary.failed.size(); ++i) {
    BOOST_TEST(summary.failed[i].task_id == ids[i]);
  }
  BOOST_TEST((summary.failed[99].exit_code == std::optional<int>(99 % 7)));
  BOOST_TEST(summary.failed[99].error == "boom 99");
  BOOST_TEST(Must(s.LoadShard(wf, 0), "LoadShard").restore.final_failures == 130);
}

inline void FinalizeSetsTheStatusAndGcDeletesFinished(StoreHarness& h) {
  StateStore& s = h.store();
  const std::vector<std::string> ids = TaskIds(2);
  InitWorkflow(s, "done", ids, 2);
  InitWorkflow(s, "running", ids, 2);
  TestWriter shard(s, "done", pr::Role::kShard, 0);
  Batch b = shard.NewBatch();
  shard.Checkpoint(&b, 0, ids[0], 1);
  shard.End(&b, 0, ids[0], TaskStatus::kSucceeded);
  shard.End(&b, 1, ids[1], TaskStatus::kSucceeded);
  BOOST_TEST(ToString(MustApply(s, b).state.status) == std::string("succeeded"));

  // Finalize's verdict stands over the derived one (max-failures decides it).
  TestWriter finalize(s, "done", pr::Role::kFinalize, 0);
  b = finalize.NewBatch();
  finalize.Commit(&b, WorkflowStatus::kFailed);
  BOOST_TEST(ToString(MustApply(s, b).state.status) == std::string("failed"));
  BOOST_TEST(
      h.QueryOne("SELECT finished_at FROM workflow_states WHERE workflow_id = 'done'").has_value());
  BOOST_TEST(!h.QueryOne("SELECT finished_at FROM workflow_states WHERE workflow_id = 'running'")
                  .has_value());

  const int64_t now = NowMillis();
  BOOST_TEST(Must(s.DeleteFinishedBefore(now - 3600 * 1000), "gc, nothing old").empty());
  const std::vector<std::string> deleted = Must(s.DeleteFinishedBefore(now + 3600 * 1000), "gc");
  BOOST_TEST(deleted == std::vector<std::string>{"done"});
  BOOST_TEST(s.LoadWorkflowState("done").status().IsNotFound());
  BOOST_TEST(s.LoadCheckpoints("done").status().IsNotFound());
  BOOST_TEST(!Must(s.LoadInit("done"), "LoadInit").exists);
  for (const char* table : {"task_states", "checkpoints", "fences"}) {
    BOOST_TEST(
        h.QueryOne(std::string("SELECT count(*) FROM ") + table + " WHERE workflow_id = 'done'")
                .value_or("?") == "0",
        table);
  }
  BOOST_TEST(Must(s.LoadWorkflowState("running"), "the other workflow").counts.total == 2);
  BOOST_TEST(Must(s.AcquireFence({"running", pr::Role::kInit, 0}), "its fence") == 2);
}

inline void ReinitReopensAFinishedWorkflow(StoreHarness& h) {
  StateStore& s = h.store();
  const std::vector<std::string> ids = TaskIds(2);
  InitWorkflow(s, "again", ids, 1);
  TestWriter finalize(s, "again", pr::Role::kFinalize, 0);
  Batch b = finalize.NewBatch();
  finalize.Commit(&b, WorkflowStatus::kFailed);
  MustApply(s, b);
  // A resubmission under the same state key: the list is recorded again (a
  // no-op) and the status is derived again.
  const ApplyResult r = InitWorkflow(s, "again", ids, 1);
  BOOST_TEST(ToString(r.state.status) == std::string("pending"));
  CheckCounts(r.state.counts, Counts(0, 0, 0, 2, 0));
  BOOST_TEST(Must(s.DeleteFinishedBefore(NowMillis() + 3600 * 1000), "gc").empty());
}

// A resubmitted run starts afresh for what did not succeed: the failed,
// cancelled and interrupted tasks of the earlier run are pending again (so the
// new run's failure count and cancellation start from zero), succeeded tasks and
// checkpoints stay, the workflow is no longer finished, and gc leaves it alone.
inline void ReinitMakesUnsucceededTasksPendingAgain(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "rerun", TaskIds(4), 4);
  TestWriter shard(s, wf, pr::Role::kShard, 0);
  Batch b = shard.NewBatch();
  shard.End(&b, 0, ids[0], TaskStatus::kSucceeded);
  shard.End(&b, 1, ids[1], TaskStatus::kFailed, /*final=*/true);
  shard.End(&b, 2, ids[2], TaskStatus::kCancelled);
  shard.End(&b, 3, ids[3], TaskStatus::kInterrupted);
  MustApply(s, b);
  TestWriter finalize(s, wf, pr::Role::kFinalize, 0);
  Batch f = finalize.NewBatch();
  finalize.Commit(&f, WorkflowStatus::kFailed);
  BOOST_TEST(ToString(MustApply(s, f).state.status) == std::string("failed"));

  const ApplyResult r = InitWorkflow(s, wf, ids, 4);
  // Not finished any more: the status is derived from the tasks again.
  BOOST_TEST(ToString(r.state.status) != std::string("failed"));
  CheckCounts(r.state.counts, Counts(1, 0, 0, 3, 0));
  const ShardData data = Must(s.LoadShard(wf, 0), "shard");
  BOOST_TEST(data.restore.final_failures == 0);
  BOOST_TEST(ToString(data.restore.tasks[0].status) == std::string("succeeded"));
  for (size_t i = 1; i < 4; ++i) {
    BOOST_TEST(ToString(data.restore.tasks[i].status) == std::string("pending"));
    BOOST_TEST(!data.restore.tasks[i].final);
  }
  BOOST_TEST(Must(s.DeleteFinishedBefore(NowMillis() + 3600 * 1000), "gc").empty());
}

// Each applied end adds one to the task's failures (status failed) or its
// interruptions (interrupted), over pod attempts: the step decides finality
// from them. A replayed batch adds nothing; a re-init resets the failures of a
// task that failed for good (its budget starts afresh), and keeps the rest.
inline void FailuresAndInterruptionsAreCountedPerTask(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "budget", TaskIds(3), 3);
  auto attempt = [&](int64_t n, TaskStatus first, TaskStatus second, bool final) {
    TestWriter shard(s, wf, pr::Role::kShard, 0);
    Batch b = shard.NewBatch();
    shard.Start(&b, 0, ids[0], n);
    shard.End(&b, 0, ids[0], first, false, first == TaskStatus::kFailed ? 1 : 143);
    shard.Start(&b, 1, ids[1], n);
    shard.End(&b, 1, ids[1], second, final, 1);
    MustApply(s, b);
    BOOST_TEST(MustApply(s, b).applied == 0);  // the replay counts nothing
  };
  attempt(0, TaskStatus::kInterrupted, TaskStatus::kFailed, false);
  attempt(1, TaskStatus::kInterrupted, TaskStatus::kFailed, false);
  attempt(2, TaskStatus::kFailed, TaskStatus::kFailed, true);
  const ShardData data = Must(s.LoadShard(wf, 0), "shard");
  BOOST_REQUIRE_EQUAL(data.restore.tasks.size(), 3u);
  BOOST_TEST(data.restore.tasks[0].failures == 1);
  BOOST_TEST(data.restore.tasks[0].interruptions == 2);
  BOOST_TEST(data.restore.tasks[1].failures == 3);
  BOOST_TEST(data.restore.tasks[1].interruptions == 0);
  BOOST_TEST(data.restore.tasks[1].final);
  BOOST_TEST(data.restore.tasks[2].failures == 0);
  BOOST_TEST(data.restore.tasks[2].interruptions == 0);

  InitWorkflow(s, wf, ids, 3);
  const ShardData again = Must(s.LoadShard(wf, 0), "shard after re-init");
  BOOST_TEST(again.restore.tasks[0].failures == 1);  // within its budget: kept
  BOOST_TEST(again.restore.tasks[0].interruptions == 2);
  BOOST_TEST(again.restore.tasks[1].failures == 0);  // failed for good: afresh
  BOOST_TEST(ToString(again.restore.tasks[1].status) == std::string("pending"));
}

inline void RecordsForUnknownTasksAreRefused(StoreHarness& h) {
  const auto& [s, wf, ids] = RecordWorkflow(h, "wf-unknown", TaskIds(2), 2);
  const WorkflowState before = Must(s.LoadWorkflowState(wf), "state");
  TestWriter w(s, wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  w.End(&b, 0, ids[0], TaskStatus::kSucceeded);
  w.Start(&b, 1, "not-" + ids[1]);  // the wrong ID at ordinal 1
  Result<ApplyResult> refused = s.Apply(b);
  BOOST_TEST(refused.status().IsInvalidArgument(), refused.status().ToString());
  BOOST_TEST(Contains(refused.status().message(), "ordinal 1"), refused.status().message());
  // Nothing of the batch was written, not even its valid record or its seq.
  CheckSameState(Must(s.LoadWorkflowState(wf), "state"), before, true);

  Batch fixed = w.NewBatch();
  fixed.ends = b.ends;
  fixed.max_seq = b.ends.back().seq;
  BOOST_TEST(MustApply(s, fixed).applied == 1);

  Batch progress = w.NewBatch();
  w.Progress(&progress, 7, 1, 2);
  BOOST_TEST(s.Apply(progress).status().IsInvalidArgument());
  Batch checkpoint = w.NewBatch();
  w.Checkpoint(&checkpoint, 5, "ghost", 1);
  BOOST_TEST(s.Apply(checkpoint).status().IsInvalidArgument());
}

inline void FreeTextIsStoredSafely(StoreHarness& h) {
  const auto& [s, wf, ids] =
      RecordWorkflow(h, "wf-text", {"ünïcødé", "t'1\"; DROP TABLE task_states; --"}, 2);
  TestWriter w(s, wf, pr::Role::kShard, 0);
  Batch b = w.NewBatch();
  static constexpr char kRaw[] = "nul\0here \xff end";  // a NUL and a byte UTF-8 never uses
  w.End(&b, 0, ids[0], TaskStatus::kFailed, true, 1, std::string(kRaw, sizeof(kRaw) - 1));
  w.Note(&b, 1, "quote ' and backslash \\ and \"");
  w.End(&b, 1, ids[1], TaskStatus::kFailed, true, std::nullopt, "ok ✓");
  MustApply(s, b);
  pr::WorkflowSummary summary = Must(s.LoadSummary(wf), "LoadSummary");
  BOOST_REQUIRE(summary.failed.size() == 2u);
  BOOST_TEST(summary.failed[0].task_id == ids[0]);
  BOOST_TEST(summary.failed[0].error == "nul\xEF\xBF\xBDhere \xEF\xBF\xBD end");
  BOOST_TEST(summary.failed[1].task_id == ids[1]);
  BOOST_TEST(!summary.failed[1].exit_code.has_value());
  BOOST_TEST(summary.failed[1].error == "ok ✓");
  BOOST_TEST(h.QueryOne("SELECT note FROM task_states WHERE ordinal = 1").value_or("") ==
             "quote ' and backslash \\ and \"");
}

}  // namespace taskmaster::sidecar::conformance

#include "requeue_conformance.h"
#include "task_reads_conformance.h"

// Registers every case in a suite whose fixture is `Harness` (a StoreHarness
// with a default constructor).
#define TM_STORE_CONFORMANCE_CASE(name, function)        \
  BOOST_AUTO_TEST_CASE(name) {                           \
    ::taskmaster::sidecar::conformance::function(*this); \
  }

#define TM_STORE_CONFORMANCE_TESTS(suite, Harness)                                               \
  BOOST_FIXTURE_TEST_SUITE(suite, Harness)                                                       \
  TM_STORE_CONFORMANCE_CASE(migrate_is_idempotent_and_schema_is_checked,                         \
                            MigrateIsIdempotentAndSchemaIsChecked)                               \
  TM_STORE_CONFORMANCE_CASE(unknown_workflows, UnknownWorkflows)                                 \
  TM_STORE_CONFORMANCE_CASE(failures_and_interruptions_are_counted_per_task,                     \
                            FailuresAndInterruptionsAreCountedPerTask)                           \
  TM_STORE_CONFORMANCE_CASE(round_trip, RoundTrip)                                               \
  TM_STORE_CONFORMANCE_CASE(replay_is_a_noop, ReplayIsANoop)                                     \
  TM_STORE_CONFORMANCE_CASE(lower_fence_is_refused, LowerFenceIsRefused)                         \
  TM_STORE_CONFORMANCE_CASE(acquire_fence_refuses_the_old_fence, AcquireFenceRefusesTheOldFence) \
  TM_STORE_CONFORMANCE_CASE(backup_rotates_only_when_generation_grows,                           \
                            BackupRotatesOnlyWhenGenerationGrows)                                \
  TM_STORE_CONFORMANCE_CASE(counts_are_derived, CountsAreDerived)                                \
  TM_STORE_CONFORMANCE_CASE(shard_counts_match_the_task_rows, ShardCountsMatchTheTaskRows)       \
  TM_STORE_CONFORMANCE_CASE(migrate_upgrades_version_1, MigrateUpgradesVersion1)                 \
  TM_STORE_CONFORMANCE_CASE(summary_lists_the_first_100_final_failures,                          \
                            SummaryListsTheFirstHundredFinalFailures)                            \
  TM_STORE_CONFORMANCE_CASE(finalize_sets_the_status_and_gc_deletes_finished,                    \
                            FinalizeSetsTheStatusAndGcDeletesFinished)                           \
  TM_STORE_CONFORMANCE_CASE(reinit_reopens_a_finished_workflow, ReinitReopensAFinishedWorkflow)  \
  TM_STORE_CONFORMANCE_CASE(reinit_makes_unsucceeded_tasks_pending_again,                        \
                            ReinitMakesUnsucceededTasksPendingAgain)                             \
  TM_STORE_CONFORMANCE_CASE(records_for_unknown_tasks_are_refused,                               \
                            RecordsForUnknownTasksAreRefused)                                    \
  TM_STORE_CONFORMANCE_CASE(free_text_is_stored_safely, FreeTextIsStoredSafely)                  \
  TM_STORE_CONFORMANCE_CASE(attempts_are_recorded_and_bounded, AttemptsAreRecordedAndBounded)    \
  TM_STORE_CONFORMANCE_CASE(tasks_are_paged_by_keyset, TasksArePagedByKeyset)                    \
  TM_STORE_CONFORMANCE_CASE(migrate_upgrades_version_2, MigrateUpgradesVersion2)                 \
  TM_STORE_CONFORMANCE_CASE(failure_budget_is_recorded, FailureBudgetIsRecorded)                 \
  TM_STORE_CONFORMANCE_CASE(migrate_upgrades_version_4, MigrateUpgradesVersion4)                 \
  TM_STORE_CONFORMANCE_CASE(failed_attempts_keep_their_normalized_error,                         \
                            FailedAttemptsKeepTheirNormalizedError)                              \
  TM_STORE_CONFORMANCE_CASE(requeue_makes_failed_tasks_pending, RequeueMakesFailedTasksPending)  \
  TM_STORE_CONFORMANCE_CASE(requeue_of_listed_tasks_is_all_or_nothing,                           \
                            RequeueOfListedTasksIsAllOrNothing)                                  \
  TM_STORE_CONFORMANCE_CASE(requeue_refuses_a_running_workflow_unless_forced,                    \
                            RequeueRefusesARunningWorkflowUnlessForced)                          \
  TM_STORE_CONFORMANCE_CASE(quarantine_is_kept_until_requeued, QuarantineIsKeptUntilRequeued)    \
  BOOST_AUTO_TEST_SUITE_END()

#endif  // TASKMASTER_TESTS_SIDECAR_STORE_STORE_CONFORMANCE_H_
