// LiveCache's writers against the real Redis of scripts/test-services.sh: no
// key ever moves backwards however a stale fenced writer, the current one and
// whole publishes (refills, rebuild-cache) race; a batch is refused when Redis
// lost the workflow, and a whole publish brings back the same documents; a
// Redis restarted mid-publish leaves no state without its checkpoints.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cache/live_cache.h"
#include "redis_fixtures.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/state.h"

namespace taskmaster::sidecar {
namespace {

constexpr int kTasks = 20;

std::string Task(int i) {
  return "t" + std::to_string(i);
}

// Every task's document at one generation.
std::map<std::string, std::string> Docs(const std::string& id, int64_t generation) {
  std::map<std::string, std::string> docs;
  for (int i = 0; i < kTasks; ++i) docs[Task(i)] = TaskDoc(id, Task(i), generation);
  return docs;
}

// A shard's batch through PublishChanges: documents and a state at `generation`.
Status Changes(LiveCache* cache, const std::string& id, int64_t fence, int64_t generation) {
  const WorkflowState state = MakeState(id, generation);
  return cache->PublishChanges(ShardWriter{0, fence, generation}, state, Docs(id, generation),
                               WorkflowDoc(state));
}

void MustChange(LiveCache* cache, const std::string& id, int64_t fence, int64_t generation) {
  const Status status = Changes(cache, id, fence, generation);
  BOOST_REQUIRE_MESSAGE(status.ok(), status.ToString());
}

// The generation a stored checkpoint holds, or -1 for a missing key.
int64_t StoredGeneration(const std::optional<std::string>& value) {
  if (!value) return -1;
  Result<Checkpoint> checkpoint = VerifyCheckpoint(*value);
  BOOST_REQUIRE_MESSAGE(checkpoint.ok(), checkpoint.status().ToString() << ": " << *value);
  return checkpoint->fields.generation;
}

// Every task key holds `generation`.
void ExpectAll(RawRedis* raw, const std::string& id, int64_t generation) {
  for (int i = 0; i < kTasks; ++i) {
    BOOST_TEST(StoredGeneration(raw->Get(TaskCheckpointKey(id, Task(i)))) == generation, Task(i));
  }
  BOOST_TEST(Shown(raw->Get(WorkflowStateKey(id))) ==
             WorkflowStateToJson(MakeState(id, generation)));
}

// A Redis database of the test's own, emptied before and after, so that
// wiping it touches no other test.
class OwnDatabase {
 public:
  OwnDatabase() : config_(TestRedisConfig()) {
    config_.db = 9;
    raw_.emplace(config_);
    raw_->Command({"FLUSHDB"});
  }
  ~OwnDatabase() { raw_->Command({"FLUSHDB"}); }
  const RedisConfig& config() const { return config_; }
  RawRedis& raw() { return *raw_; }

 private:
  RedisConfig config_;
  std::optional<RawRedis> raw_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(live_cache_writers)

BOOST_AUTO_TEST_CASE(a_stale_writer_never_takes_keys_back_from_the_current_one) {
  const RedisConfig config = TestRedisConfig();
  LiveCache stale(config);
  LiveCache current(config);
  RawRedis raw(config);
  const std::string id = UniqueId("stale");
  Publish(&stale, MakeState(id, 1), Docs(id, 1));
  // The stale writer (fence 1) publishes twice: compared, then guarded.
  MustChange(&stale, id, 1, 2);
  MustChange(&stale, id, 1, 3);
  ExpectAll(&raw, id, 3);

  // The current writer (fence 2) takes the shard's guard with newer documents.
  MustChange(&current, id, 2, 5);
  MustChange(&current, id, 2, 6);
  // The stale writer's next batch is older: its guard moved, so it is
  // compared, and nothing goes back.
  MustChange(&stale, id, 1, 4);
  ExpectAll(&raw, id, 6);
  BOOST_TEST(Shown(raw.Get(CheckpointGuardKey(id, 0))) == "2 6");
  MustChange(&current, id, 2, 7);
  ExpectAll(&raw, id, 7);
}

BOOST_AUTO_TEST_CASE(a_refill_locks_out_a_stale_writer_the_current_one_never_published_past) {
  // A refill writes documents the current writer (fence 2) committed before it
  // published any: the stale writer (fence 1), whose guard nobody else took,
  // must not write its older batch over them, guarded or not.
  const RedisConfig config = TestRedisConfig();
  LiveCache stale(config);
  LiveCache current(config);
  LiveCache refill(config);
  RawRedis raw(config);
  const std::string id = UniqueId("refill");
  Publish(&refill, MakeState(id, 1), Docs(id, 1));
  MustChange(&stale, id, 1, 2);
  MustChange(&stale, id, 1, 3);
  BOOST_TEST(Shown(raw.Get(CheckpointGuardKey(id, 0))) == "1 3");

  // The store says shard 0's writer holds fence 2.
  const WorkflowState v5 = MakeState(id, 5);
  const Status refilled = refill.Publish(v5, Docs(id, 5), {{0, 2}}, WorkflowDoc(v5));
  BOOST_REQUIRE_MESSAGE(refilled.ok(), refilled.ToString());
  BOOST_TEST(Shown(raw.Get(CheckpointGuardKey(id, 0))) == "2 0");
  MustChange(&stale, id, 1, 4);
  ExpectAll(&raw, id, 5);
  BOOST_TEST(Shown(raw.Get(CheckpointGuardKey(id, 0))) == "2 0");

  // The current writer claims the guard and goes on; the stale one never again.
  MustChange(&current, id, 2, 6);
  MustChange(&current, id, 2, 7);
  BOOST_TEST(Shown(raw.Get(CheckpointGuardKey(id, 0))) == "2 7");
  MustChange(&stale, id, 1, 4);
  ExpectAll(&raw, id, 7);

  // A refill whose store knows no newer fence leaves the guard alone, and
  // the current writer publishes guarded again after one compared batch.
  const WorkflowState v7 = MakeState(id, 7);
  BOOST_REQUIRE(refill.Publish(v7, Docs(id, 7), {{0, 2}}, WorkflowDoc(v7)).ok());
  BOOST_TEST(Shown(raw.Get(CheckpointGuardKey(id, 0))) == "2 7");
  MustChange(&current, id, 2, 8);
  MustChange(&current, id, 2, 9);
  ExpectAll(&raw, id, 9);
}

BOOST_AUTO_TEST_CASE(a_writer_that_holds_the_guard_writes_its_documents_uncompared) {
  // The guarded path trusts that only the shard's writer writes its tasks'
  // keys: a document written behind its back, guard and writers hash
  // untouched, is overwritten. (The other paths never do that.)
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string id = UniqueId("uncompared");
  Publish(&cache, MakeState(id, 1), Docs(id, 1));
  MustChange(&cache, id, 1, 2);
  raw.Set(TaskCheckpointKey(id, Task(0)), TaskDoc(id, Task(0), 100));
  MustChange(&cache, id, 1, 3);
  ExpectAll(&raw, id, 3);

  // Compared, the same write keeps the newer document.
  raw.Command({"DEL", CheckpointGuardKey(id, 0)});
  raw.Set(TaskCheckpointKey(id, Task(0)), TaskDoc(id, Task(0), 100));
  MustChange(&cache, id, 1, 4);
  BOOST_TEST(StoredGeneration(raw.Get(TaskCheckpointKey(id, Task(0)))) == 100);
  BOOST_TEST(StoredGeneration(raw.Get(TaskCheckpointKey(id, Task(1)))) == 4);
}

BOOST_AUTO_TEST_CASE(racing_writers_never_move_a_key_backwards) {
  // The current writer (fence 2) publishes generations 1001.., a stale one
  // (fence 1) generations 1.. at the same time, and refills publish whole what
  // the current writer committed; a reader checks that no key it watches ever
  // goes back.
  const RedisConfig config = TestRedisConfig();
  const std::string id = UniqueId("race");
  {
    LiveCache setup(config);
    Publish(&setup, MakeState(id, 1), Docs(id, 1));
  }
  constexpr int kRounds = 150;
  std::atomic<int64_t> committed{0};
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::vector<std::string> failures;
  const auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (failures.size() < 20) failures.push_back(what);
  };
  std::thread current([&] {
    LiveCache cache(config);
    for (int k = 1; k <= kRounds; ++k) {
      committed = 1000 + k;  // committed to the store before it is published
      const Status s = Changes(&cache, id, 2, 1000 + k);
      if (!s.ok()) fail("current writer: " + s.ToString());
    }
  });
  std::thread stale([&] {
    LiveCache cache(config);
    for (int k = 2; k <= kRounds; ++k) {
      const Status s = Changes(&cache, id, 1, k);
      if (!s.ok()) fail("stale writer: " + s.ToString());
    }
  });
  std::thread refills([&] {
    LiveCache cache(config);
    while (!done) {
      const int64_t generation = committed;
      if (generation == 0) continue;
      const WorkflowState state = MakeState(id, generation);
      // The store knows the current writer's fence.
      const Status s = cache.Publish(state, Docs(id, generation), {{0, 2}}, WorkflowDoc(state));
      if (!s.ok()) fail("refill: " + s.ToString());
    }
  });
  std::thread reader([&] {
    RawRedis raw(config);
    std::vector<int64_t> seen(kTasks + 1, 0);
    while (!done) {
      std::vector<std::string> mget = {"MGET", WorkflowCheckpointKey(id)};
      for (int i = 0; i < kTasks; ++i) mget.push_back(TaskCheckpointKey(id, Task(i)));
      RawRedis::Reply reply = raw.Command(mget);
      for (size_t i = 0; i < reply->elements; ++i) {
        const redisReply& value = *reply->element[i];
        if (value.type != REDIS_REPLY_STRING) continue;
        Result<Checkpoint> checkpoint = VerifyCheckpoint(std::string(value.str, value.len));
        const int64_t generation = checkpoint.ok() ? checkpoint->fields.generation : -1;
        if (generation < seen[i]) {
          fail(mget[i + 1] + " went back from " + std::to_string(seen[i]) + " to " +
               std::to_string(generation));
        }
        seen[i] = std::max(seen[i], generation);
      }
    }
  });
  current.join();
  stale.join();
  done = true;
  refills.join();
  reader.join();
  BOOST_TEST(failures.empty(),
             failures.size() << " failures, first: " << (failures.empty() ? "" : failures.front()));
  RawRedis raw(config);
  ExpectAll(&raw, id, 1000 + kRounds);
}

BOOST_AUTO_TEST_CASE(
    a_batch_is_refused_when_redis_lost_the_workflow_and_a_whole_publish_restores_it) {
  OwnDatabase db;
  LiveCache cache(db.config());
  RawRedis& raw = db.raw();
  const std::string id = UniqueId("wiped");
  Publish(&cache, MakeState(id, 1), Docs(id, 1));
  MustChange(&cache, id, 1, 2);
  MustChange(&cache, id, 1, 3);
  const std::vector<std::string> keys = {WorkflowStateKey(id), WorkflowCheckpointKey(id),
                                         TaskCheckpointKey(id, Task(0)),
                                         TaskCheckpointKey(id, Task(kTasks - 1))};
  std::map<std::string, std::string> before;
  for (const std::string& key : keys) before[key] = Shown(raw.Get(key));

  // Wiped (a FLUSHDB, a Redis restarted empty): a batch alone is refused and
  // nothing is written, the guarded path included.
  raw.Command({"FLUSHDB"});
  Status refused = Changes(&cache, id, 1, 4);
  BOOST_TEST(refused.IsNotFound(), refused.ToString());
  BOOST_TEST(cache.healthy());
  BOOST_TEST(raw.Command({"DBSIZE"})->integer == 0);

  // A refill (or rebuild-cache) from the store: the same JSON documents as
  // before, byte for byte, and batches are written again.
  const WorkflowState v3 = MakeState(id, 3);
  const Status refilled =
      cache.Publish(v3, Docs(id, 3), {}, WorkflowDoc(v3), PublishCheck::kFromStore);
  BOOST_REQUIRE_MESSAGE(refilled.ok(), refilled.ToString());
  for (const std::string& key : keys) BOOST_TEST(Shown(raw.Get(key)) == before[key], key);
  MustChange(&cache, id, 1, 4);
  ExpectAll(&raw, id, 4);

  // Only the writers hash lost (evicted, deleted by hand): refused as well.
  raw.Command({"DEL", CheckpointWritersKey(id)});
  refused = Changes(&cache, id, 1, 5);
  BOOST_TEST(refused.IsNotFound(), refused.ToString());
  ExpectAll(&raw, id, 4);

  // A guard or a document deleted by hand: the batch is compared, and a whole
  // publish writes a missing document again.
  Publish(&cache, MakeState(id, 4), Docs(id, 4));
  raw.Command({"DEL", CheckpointGuardKey(id, 0), TaskCheckpointKey(id, Task(3))});
  MustChange(&cache, id, 1, 5);
  ExpectAll(&raw, id, 5);
  raw.Command({"DEL", TaskCheckpointKey(id, Task(3))});
  Publish(&cache, MakeState(id, 5), Docs(id, 5));
  ExpectAll(&raw, id, 5);
}

BOOST_AUTO_TEST_CASE(a_redis_restarted_mid_publish_leaves_no_state_without_its_checkpoints) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  const std::string id = UniqueId("restart-mid");
  Publish(&cache, MakeState(id, 1), Docs(id, 1));
  MustChange(&cache, id, 1, 2);
  // The next batch would go straight to MULTI on the kept connection.
  MustChange(&cache, id, 1, 3);

  RestartRedis();

  // The guarded batch is not sent again on a fresh connection (its WATCH was on
  // the old one), and a batch alone is refused by the empty Redis: either way,
  // nothing partial is written.
  RawRedis raw(config);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const Status status = Changes(&cache, id, 1, 4);
    BOOST_TEST((status.IsUnavailable() || status.IsNotFound()), status.ToString());
    BOOST_TEST(!raw.Get(WorkflowStateKey(id)).has_value());
    BOOST_TEST(!raw.Get(TaskCheckpointKey(id, Task(0))).has_value());
  }
  Publish(&cache, MakeState(id, 4), Docs(id, 4));
  MustChange(&cache, id, 1, 5);
  ExpectAll(&raw, id, 5);
}

BOOST_AUTO_TEST_CASE(expire_and_delete_reach_the_writers_hash_and_guards) {
  const RedisConfig config = TestRedisConfig();
  LiveCache cache(config);
  RawRedis raw(config);
  const std::string id = UniqueId("writers-ttl");
  Publish(&cache, MakeState(id, 1), Docs(id, 1));
  MustChange(&cache, id, 1, 2);
  const WorkflowState v3 = MakeState(id, 3);
  const Status other_shard =
      cache.PublishChanges(ShardWriter{7, 1, 3}, v3, {{"u", TaskDoc(id, "u", 1)}}, WorkflowDoc(v3));
  BOOST_REQUIRE_MESSAGE(other_shard.ok(), other_shard.ToString());
  const std::vector<std::string> keys = {CheckpointWritersKey(id), CheckpointGuardKey(id, 0),
                                         CheckpointGuardKey(id, 7)};
  const Status expired = cache.Expire(id, 600);
  BOOST_REQUIRE_MESSAGE(expired.ok(), expired.ToString());
  for (const std::string& key : keys) {
    const long long ttl = raw.Ttl(key);
    BOOST_TEST((ttl > 0 && ttl <= 600), key << ": TTL " << ttl);
  }
  // Written again, the workflow is live again.
  MustChange(&cache, id, 1, 4);
  BOOST_TEST(raw.Ttl(CheckpointWritersKey(id)) == -1);
  BOOST_TEST(raw.Ttl(CheckpointGuardKey(id, 0)) == -1);

  const Status deleted = cache.Delete(id);
  BOOST_REQUIRE_MESSAGE(deleted.ok(), deleted.ToString());
  for (const std::string& key : keys) BOOST_TEST(!raw.Get(key).has_value(), key);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace taskmaster::sidecar
