// 32 writers on one workflow at once, on each store (issue 12): 16 shards, each
// with a current writer and a stale one. The stale writer took the shard's
// fence first and committed a batch; then the current writer's AcquireFence
// fenced it out. After a start gate, all 32 write every task of their shard at
// once — starts, checkpoints, progress, ends — through the store API the
// sidecar flushes with (StateStore::Apply), each on its own connection, and
// publish to Redis as the sidecar does after a commit. The stale writers also
// resend their one committed batch to Redis, as a publish still in flight.
//
// Then: every record of every current writer applied (statuses, attempts,
// checkpoint generations and documents: no lost update); the counts equal the
// task rows' statuses (no double count, though both writers end every task);
// every stale batch refused (ApplyResult::fenced); and Redis holds what the
// store holds.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../cache/redis_fixtures.h"
#include "cache_refill.h"
#include "store/store_factory.h"
#include "store_conformance.h"
#include "support/services.h"
#include "support/temp_dir.h"

namespace taskmaster::sidecar::conformance {
namespace {

constexpr int kShards = 16;
constexpr int64_t kTasksPerShard = 4;
constexpr int kBatchesPerTask = 3;
// The current writer's generations start above anything the stale one wrote,
// as a new attempt's would after restoring the shard.
constexpr int64_t kGenerationBase = 1000;
// A batch that meets a held lock (Busy) is flushed again, as the sidecar does.
constexpr int kMaxTries = 100;

// Holds each thread until all have arrived, so the writers start together.
class StartGate {
 public:
  explicit StartGate(int count) : count_(count) {}
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (++arrived_ == count_) {
      open_.notify_all();
      return;
    }
    open_.wait(lock, [&] { return arrived_ == count_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable open_;
  const int count_;
  int arrived_ = 0;
};

// What the sidecar does after a commit (Sidecar::PublishToCache): the batch's
// changes, or — when Redis does not hold the workflow — the whole workflow
// from the store (Sidecar::RefillCache).
Status PublishAsSidecar(LiveCache* cache, StateStore* store, const std::string& workflow_id,
                        const ShardWriter& writer, const ApplyResult& result) {
  auto doc = WorkflowCheckpointDocument(result.state, writer.fence, writer.seq, NowMillis());
  if (!doc.ok()) return doc.status();
  Status s = cache->PublishChanges(writer, result.state, result.checkpoints, *doc);
  if (!s.IsNotFound()) return s;
  // Refilled whole, as the sidecar refills it.
  auto state = store->LoadWorkflowState(workflow_id);
  if (!state.ok()) return state.status();
  return RefillCacheFromStore(store, cache, *state, writer.fence, writer.seq, NowMillis()).status();
}

Result<ApplyResult> ApplyRetryingBusy(StateStore* store, const Batch& batch) {
  Result<ApplyResult> r = store->Apply(batch);
  for (int tries = 1; tries < kMaxTries && !r.ok() && r.status().IsBusy(); ++tries) {
    r = store->Apply(batch);
  }
  return r;
}

using OpenStoreFn = std::function<std::unique_ptr<StateStore>()>;

// One writer of one shard: its own connection to the store (and to Redis).
struct ShardWriterUnderTest {
  std::unique_ptr<StateStore> store;
  std::unique_ptr<LiveCache> cache;
  std::unique_ptr<TestWriter> writer;
  std::vector<std::string> problems;  // written by its thread only
  int refused = 0;                    // batches answered fenced
};

class ThirtyTwoWriters {
 public:
  ThirtyTwoWriters(OpenStoreFn open, bool with_redis)
      : open_(std::move(open)),
        with_redis_(with_redis),
        workflow_id_(test_support::UniqueKey("wf-32")),
        ids_(TaskIds(kShards * kTasksPerShard)) {
    for (int64_t i = 0; i < static_cast<int64_t>(ids_.size()); ++i) {
      expected_[i] = TaskStatus::kPending;
      expected_documents_[ids_[i]];
    }
  }

  void Run() {
    std::unique_ptr<StateStore> init_store = open_();
    const ApplyResult init = InitWorkflow(*init_store, workflow_id_, ids_, kTasksPerShard);
    if (with_redis_) {
      LiveCache cache(TestRedisConfig());
      const Status s =
          PublishAsSidecar(&cache, init_store.get(), workflow_id_, ShardWriter{0, 1, 0}, init);
      BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
    }
    for (int shard = 0; shard < kShards; ++shard) FenceOut(shard);

    StartGate gate(2 * kShards);
    std::vector<std::thread> threads;
    for (int shard = 0; shard < kShards; ++shard) {
      threads.emplace_back([this, shard, &gate] {
        gate.ArriveAndWait();
        WriteShard(&stale_[shard], shard, /*current=*/false);
      });
      threads.emplace_back([this, shard, &gate] {
        gate.ArriveAndWait();
        WriteShard(&current_[shard], shard, /*current=*/true);
      });
    }
    for (auto& t : threads) t.join();
  }

  void Check() {
    for (int shard = 0; shard < kShards; ++shard) {
      for (const auto& p : current_[shard].problems) BOOST_ERROR("current " << shard << ": " << p);
      for (const auto& p : stale_[shard].problems) BOOST_ERROR("stale " << shard << ": " << p);
      BOOST_CHECK_EQUAL(current_[shard].refused, 0);
      // Every stale batch refused, none applied.
      BOOST_CHECK_EQUAL(stale_[shard].refused, kTasksPerShard * kBatchesPerTask);
    }
    StateStore& store = *current_[0].store;
    const WorkflowState state = Must(store.LoadWorkflowState(workflow_id_), "state");
    CheckTasks(store, state);
    const auto documents = Must(store.LoadCheckpoints(workflow_id_), "checkpoints");
    BOOST_CHECK_EQUAL(documents.size(), ids_.size());
    for (const auto& [id, document] : expected_documents_) {
      BOOST_CHECK_MESSAGE(documents.count(id) && documents.at(id) == document,
                          id << ": not the current writer's last checkpoint");
    }
    const auto fences = Must(store.LoadShardFences(workflow_id_), "fences");
    for (int shard = 0; shard < kShards; ++shard) {
      BOOST_CHECK_EQUAL(fences.at(shard), current_[shard].writer->fence());
    }
    if (with_redis_) CheckRedis(state, documents);
  }

 private:
  // The stale writer takes the fence and commits its first task's start and a
  // checkpoint; then the current writer's AcquireFence fences it out.
  void FenceOut(int shard) {
    ShardWriterUnderTest& stale = stale_[shard];
    ShardWriterUnderTest& current = current_[shard];
    const int64_t first = shard * kTasksPerShard;
    stale.store = open_();
    stale.writer =
        std::make_unique<TestWriter>(*stale.store, workflow_id_, pr::Role::kShard, shard);
    Batch b = stale.writer->NewBatch();
    stale.writer->Start(&b, first, ids_[first]);
    stale.writer->Checkpoint(&b, first, ids_[first], 1);
    stale_committed_[shard] = MustApply(*stale.store, b);
    BOOST_REQUIRE(!stale_committed_[shard].fenced);
    current.store = open_();
    current.writer =
        std::make_unique<TestWriter>(*current.store, workflow_id_, pr::Role::kShard, shard);
    BOOST_REQUIRE_GT(current.writer->fence(), stale.writer->fence());
    if (!with_redis_) return;
    stale.cache = std::make_unique<LiveCache>(TestRedisConfig());
    current.cache = std::make_unique<LiveCache>(TestRedisConfig());
    const Status s = PublishAsSidecar(
        stale.cache.get(), stale.store.get(), workflow_id_,
        ShardWriter{shard, stale.writer->fence(), stale.writer->seq()}, stale_committed_[shard]);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
  }

  // Each task of the shard: started, three checkpoints with progress, ended
  // (the shard's last task failed for good, the others succeeded).
  void WriteShard(ShardWriterUnderTest* w, int shard, bool current) {
    TestWriter& tw = *w->writer;
    const int64_t committed_seq = tw.seq();
    for (int64_t k = 0; k < kTasksPerShard; ++k) {
      const int64_t ordinal = shard * kTasksPerShard + k;
      const std::string& id = ids_[ordinal];
      const int64_t base = current ? kGenerationBase : 1;
      for (int n = 1; n <= kBatchesPerTask; ++n) {
        Batch b = tw.NewBatch();
        if (n == 1) tw.Start(&b, ordinal, id, /*attempt=*/current ? 1 : 0);
        const std::string document = tw.Checkpoint(&b, ordinal, id, base + n);
        tw.Progress(&b, ordinal, n, kBatchesPerTask);
        if (n == kBatchesPerTask) {
          const bool fail = k == kTasksPerShard - 1;
          tw.End(&b, ordinal, id, fail ? TaskStatus::kFailed : TaskStatus::kSucceeded, fail,
                 fail ? 1 : 0, fail ? "exit 1" : "");
          if (current) expected_.at(ordinal) = fail ? TaskStatus::kFailed : TaskStatus::kSucceeded;
        }
        if (current && n == kBatchesPerTask) expected_documents_.at(id) = document;
        const Result<ApplyResult> r = ApplyRetryingBusy(w->store.get(), b);
        if (!r.ok()) {
          w->problems.push_back(id + ": " + r.status().ToString());
          continue;
        }
        if (r->fenced) {
          ++w->refused;
          if (r->applied != 0) w->problems.push_back(id + ": a fenced batch applied records");
          // A publish of the batch it committed before, still in flight.
          if (w->cache) {
            const Status s = PublishAsSidecar(w->cache.get(), w->store.get(), workflow_id_,
                                              ShardWriter{shard, tw.fence(), committed_seq},
                                              stale_committed_[shard]);
            if (!s.ok()) w->problems.push_back("late publish: " + s.ToString());
          }
          continue;
        }
        if (r->applied != static_cast<int64_t>(b.size()) || r->skipped != 0) {
          w->problems.push_back(id + ": applied " + std::to_string(r->applied) + " of " +
                                std::to_string(b.size()) + " records");
        }
        if (w->cache) {
          const Status s = PublishAsSidecar(w->cache.get(), w->store.get(), workflow_id_,
                                            ShardWriter{shard, tw.fence(), tw.seq()}, *r);
          if (!s.ok()) w->problems.push_back("publish: " + s.ToString());
        }
      }
    }
  }

  // Every task row is the current writer's last word, and the counts are the
  // rows' statuses, each task once.
  void CheckTasks(StateStore& store, const WorkflowState& state) {
    std::map<TaskStatus, int64_t> rows;
    TaskQuery query;
    query.limit = 1000;
    const TaskPage page = Must(store.ListTasks(workflow_id_, query), "ListTasks");
    BOOST_REQUIRE_EQUAL(page.tasks.size(), ids_.size());
    for (const TaskRow& row : page.tasks) {
      ++rows[row.status];
      BOOST_CHECK_MESSAGE(row.status == expected_.at(row.ordinal),
                          row.task_id << " is " << ToString(row.status));
      BOOST_CHECK_MESSAGE(row.generation == kGenerationBase + kBatchesPerTask,
                          row.task_id << " at generation " << row.generation);
      // Attempt 1 of the current writer: attempts = 1 + the highest TM_ATTEMPT.
      BOOST_CHECK_EQUAL(row.attempts, 2);
    }
    constexpr int64_t kFailed = kShards;
    constexpr int64_t kSucceeded = kShards * kTasksPerShard - kFailed;
    BOOST_CHECK_EQUAL(rows[TaskStatus::kSucceeded], kSucceeded);
    BOOST_CHECK_EQUAL(rows[TaskStatus::kFailed], kFailed);
    BOOST_CHECK_EQUAL(state.counts.total, kShards * kTasksPerShard);
    BOOST_CHECK_EQUAL(state.counts.succeeded, kSucceeded);
    BOOST_CHECK_EQUAL(state.counts.failed, kFailed);
    BOOST_CHECK_EQUAL(state.counts.running, 0);
    BOOST_CHECK_EQUAL(state.counts.pending, 0);
  }

  void CheckRedis(const WorkflowState& state, const std::map<std::string, std::string>& documents) {
    LiveCache cache(TestRedisConfig());
    const auto cached = Must(cache.Get(WorkflowStateKey(workflow_id_)), "GET state");
    BOOST_CHECK_EQUAL(cached.value_or("(none)"), WorkflowStateToJson(state));
    for (const auto& [id, document] : documents) {
      const auto value = Must(cache.Get(TaskCheckpointKey(workflow_id_, id)), "GET checkpoint");
      BOOST_CHECK_MESSAGE(value == document, id << ": Redis holds " << value.value_or("(none)"));
    }
    BOOST_CHECK(cache.Delete(workflow_id_).ok());
  }

  const OpenStoreFn open_;
  const bool with_redis_;
  const std::string workflow_id_;
  const std::vector<std::string> ids_;
  ShardWriterUnderTest stale_[kShards], current_[kShards];
  ApplyResult stale_committed_[kShards];
  // Each current writer's thread sets its own shard's entries, made by the
  // constructor: no thread inserts.
  std::map<int64_t, TaskStatus> expected_;
  std::map<std::string, std::string> expected_documents_;
};

std::unique_ptr<StateStore> MustOpenStore(const std::string& spec) {
  auto config = ParseStoreConfig(spec);
  BOOST_REQUIRE_MESSAGE(config.ok(), config.status().ToString());
  auto store = Must(OpenStore(*config), "OpenStore");
  const Status migrated = store->Migrate();
  BOOST_REQUIRE_MESSAGE(migrated.ok(), migrated.ToString());
  return store;
}

BOOST_AUTO_TEST_SUITE(concurrent_writers)

BOOST_AUTO_TEST_CASE(thirty_two_writers_on_one_sqlite_workflow) {
  test_support::TempDir dir("tm-writers");
  const std::string spec = "sqlite:" + dir / "state.db";
  ThirtyTwoWriters run([&] { return MustOpenStore(spec); }, /*with_redis=*/false);
  run.Run();
  run.Check();
}

BOOST_AUTO_TEST_CASE(thirty_two_writers_on_one_postgres_workflow_mirrored_in_redis) {
  const std::string spec = test_support::RequireServiceEnv("TM_TEST_POSTGRES_DSN");
  ThirtyTwoWriters run([&] { return MustOpenStore(spec); }, /*with_redis=*/true);
  run.Run();
  run.Check();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar::conformance
