// Flush throughput to PostgreSQL (issue 4): StateStore::Apply of batches of 500
// records, as the sidecar commits one flush, on a workflow recorded through
// Apply like the init role does (a workflow_init and its task_list records).
// Each batch comes from the shard that owns its 500 tasks (batch size 500, so
// a flush is one shard's whole work), under that shard's fence, with seqs
// growing as in its journal.
//
//   BM_PostgresApplyTaskEnds/<tasks>     500 task_end records per batch
//   BM_PostgresApplyCheckpoints/<tasks>  500 checkpoint records per batch
//
// at 1,000 and 100,000 tasks in the workflow: every batch recounts the whole
// workflow's tasks (GROUP BY), so its cost grows with the workflow.
// scripts/run-benchmarks.sh runs it beside pgbench inserting one row per
// transaction on the same server and prints ours / pgbench (target >= 1.0).
// The server is TM_TEST_POSTGRES_DSN (scripts/test-services.sh); without it the
// benchmarks are skipped.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "store/state_store.h"
#include "store/store_factory.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {
namespace {

namespace pr = protocol;

constexpr int64_t kBatch = 500;  // records per sidecar flush (protocol::kFlushMaxRecords)
constexpr int64_t kNowMs = 1767225600000;
constexpr const char* kPayload =
    R"({"file":"s3://bucket/input/part-00042.csv","row":123456,"bytes":987654321,"state":"ok"})";

std::string TaskId(int64_t ordinal) {
  char id[32];
  std::snprintf(id, sizeof(id), "task-%06lld", static_cast<long long>(ordinal));
  return id;
}

// One store connection for the process, migrated once.
StateStore* Store(benchmark::State& state) {
  static std::unique_ptr<StateStore> store;
  static std::string error;
  if (store == nullptr && error.empty()) {
    const char* dsn = std::getenv("TM_TEST_POSTGRES_DSN");
    if (dsn == nullptr || *dsn == '\0') {
      error = "TM_TEST_POSTGRES_DSN is not set (scripts/test-services.sh start)";
    } else if (Result<StoreConfig> config = ParseStoreConfig(dsn); !config.ok()) {
      error = config.status().ToString();
    } else if (Result<std::unique_ptr<StateStore>> opened = OpenStore(*config); !opened.ok()) {
      error = opened.status().ToString();
    } else if (Status s = (*opened)->Migrate(); !s.ok()) {
      error = s.ToString();
    } else {
      store = std::move(*opened);
    }
  }
  if (store == nullptr) state.SkipWithError(error.c_str());
  return store.get();
}

// A workflow of `tasks` tasks recorded as the init role does, once per server
// and size: workflow_init + task_list records (and the init's commit) through Apply.
const std::string* Workflow(StateStore* store, int64_t tasks, benchmark::State& state) {
  static std::map<int64_t, std::string> made;
  auto it = made.find(tasks);
  if (it != made.end()) return &it->second;
  // The same workflow in every run on a server, so that rounds of `make bench`
  // measure the same table: recorded by the first, reused by the others.
  const std::string id = "bench-pg-" + std::to_string(tasks);
  if (store->LoadWorkflowState(id).ok()) return &made.emplace(tasks, id).first->second;
  std::vector<std::string> ids;
  for (int64_t i = 0; i < tasks; ++i) ids.push_back(TaskId(i));

  Writer writer{id, pr::Role::kInit, 0};
  Result<int64_t> fence = store->AcquireFence(writer);
  if (!fence.ok()) {
    state.SkipWithError(fence.status().ToString().c_str());
    return nullptr;
  }
  Batch b;
  b.writer = writer;
  b.fence = *fence;
  int64_t seq = 0;
  pr::WorkflowInitRecord init;
  init.fence = *fence;
  init.seq = ++seq;
  init.workflow_id = id;
  init.task_count = tasks;
  init.batch_size = kBatch;
  init.effective_batch_size = pr::EffectiveBatchSize(tasks, kBatch, pr::kMaxShards);
  init.list_hash = pr::ListHash(ids);
  std::vector<pr::TaskListRecord> lists = pr::ChunkTaskList(ids);
  init.list_records = static_cast<int64_t>(lists.size());
  b.init = init;
  for (pr::TaskListRecord& list : lists) {
    list.fence = *fence;
    list.seq = ++seq;
    b.task_lists.push_back(std::move(list));
  }
  pr::CommitRecord commit;
  commit.fence = *fence;
  commit.seq = ++seq;
  commit.role = pr::Role::kInit;
  b.commit = commit;
  b.max_seq = seq;
  const auto start = std::chrono::steady_clock::now();
  Result<ApplyResult> applied = store->Apply(b);
  if (!applied.ok() || applied->fenced || applied->applied != seq) {
    state.SkipWithError(applied.ok() ? "init batch did not apply"
                                     : applied.status().ToString().c_str());
    return nullptr;
  }
  std::fprintf(stderr, "recorded workflow %s: %lld tasks in %.2f s\n", id.c_str(),
               static_cast<long long>(tasks),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return &made.emplace(tasks, id).first->second;
}

// The shards of a workflow, each with the fence its sidecar would take at
// restore and the seq its journal is at. Fences are taken on first use.
class Shards {
 public:
  Shards(StateStore* store, std::string workflow_id, int64_t tasks)
      : store_(store), workflow_id_(std::move(workflow_id)), tasks_(tasks) {}

  struct Shard {
    Writer writer;
    int64_t fence = 0;
    int64_t seq = 0;
  };
  int64_t count() const {
    return pr::ShardCount(tasks_, pr::EffectiveBatchSize(tasks_, kBatch, pr::kMaxShards));
  }
  // nullptr after SkipWithError.
  Shard* Get(int64_t k, benchmark::State& state) {
    auto it = shards_.find(k);
    if (it != shards_.end()) return &it->second;
    Shard shard{Writer{workflow_id_, pr::Role::kShard, k}, 0, 0};
    Result<int64_t> fence = store_->AcquireFence(shard.writer);
    if (!fence.ok()) {
      state.SkipWithError(fence.status().ToString().c_str());
      return nullptr;
    }
    shard.fence = *fence;
    return &shards_.emplace(k, shard).first->second;
  }

 private:
  StateStore* store_;
  std::string workflow_id_;
  int64_t tasks_;
  std::map<int64_t, Shard> shards_;
};

enum class Kind { kTaskEnds, kCheckpoints };

void RunApply(benchmark::State& state, Kind kind) {
  const int64_t tasks = state.range(0);
  StateStore* store = Store(state);
  if (store == nullptr) return;
  const std::string* workflow_id = Workflow(store, tasks, state);
  if (workflow_id == nullptr) return;
  // Kept across the calls Google Benchmark makes, so shards keep their fence
  // and seqs grow as in one journal.
  struct Flow {
    Shards shards;
    int64_t n = 0;  // batches so far; batch n is shard n % count's tasks
  };
  static std::map<std::pair<Kind, int64_t>, std::unique_ptr<Flow>> flows;
  std::unique_ptr<Flow>& flow = flows[{kind, tasks}];
  if (flow == nullptr) flow.reset(new Flow{Shards(store, *workflow_id, tasks)});
  Shards& shards = flow->shards;
  int64_t& n = flow->n;
  const int64_t batch = pr::EffectiveBatchSize(tasks, kBatch, pr::kMaxShards);
  // Checkpoint generations grow across runs on the same server too, so that
  // every document is written (a lower generation than the stored one is not).
  static const int64_t generation_base = std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count();

  for (auto _ : state) {
    state.PauseTiming();
    const int64_t k = n % shards.count();
    const int64_t round = n / shards.count();  // how often this shard flushed before
    ++n;
    Shards::Shard* shard = shards.Get(k, state);
    if (shard == nullptr) return;
    Batch b;
    b.writer = shard->writer;
    b.fence = shard->fence;
    const pr::OrdinalRange range = pr::ShardRange(k, tasks, batch);
    for (int64_t ordinal = range.begin; ordinal < range.end; ++ordinal) {
      const int64_t seq = ++shard->seq;
      if (kind == Kind::kTaskEnds) {
        pr::TaskEndRecord r;
        r.fence = shard->fence;
        r.seq = seq;
        r.ordinal = ordinal;
        r.task_id = TaskId(ordinal);
        // Every end changes the row's status, as a real one does (running ->
        // succeeded): rounds alternate, so a task ended before is not left as it was.
        r.status = round % 2 == 0 ? TaskStatus::kSucceeded : TaskStatus::kFailed;
        r.exit_code = round % 2 == 0 ? 0 : 1;
        r.attempt = round;
        r.duration_ms = 1000 + seq % 1000;
        r.finished_at_ms = kNowMs + seq;
        b.ends.push_back(std::move(r));
      } else {
        CheckpointWrite c;
        c.seq = seq;
        c.ordinal = ordinal;
        c.task_id = TaskId(ordinal);
        c.generation = generation_base + round;
        CheckpointFields f{*workflow_id, c.task_id, shard->fence, seq, c.generation, kNowMs + seq};
        Result<std::string> doc = EncodeCheckpoint(f, kPayload);
        if (!doc.ok()) ::abort();
        c.document = std::move(*doc);
        b.checkpoints.push_back(std::move(c));
      }
    }
    b.max_seq = shard->seq;
    const int64_t records = static_cast<int64_t>(b.size());
    state.ResumeTiming();

    Result<ApplyResult> applied = store->Apply(b);
    if (!applied.ok() || applied->fenced || applied->applied != records) {
      state.SkipWithError(applied.ok() ? "batch did not apply"
                                       : applied.status().ToString().c_str());
      return;
    }
    if (kind == Kind::kCheckpoints &&
        static_cast<int64_t>(applied->checkpoints.size()) != records) {
      state.SkipWithError("not every checkpoint was written");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["workflow_tasks"] = static_cast<double>(tasks);
}

void BM_PostgresApplyTaskEnds(benchmark::State& state) {
  RunApply(state, Kind::kTaskEnds);
}
void BM_PostgresApplyCheckpoints(benchmark::State& state) {
  RunApply(state, Kind::kCheckpoints);
}

BENCHMARK(BM_PostgresApplyTaskEnds)
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_PostgresApplyCheckpoints)
    ->Arg(1000)
    ->Arg(100000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace taskmaster::sidecar

BENCHMARK_MAIN();
