// The batch planner every store applies (apply_plan.h), without a store.
#include "store/apply_plan.h"

#include <boost/test/unit_test.hpp>
#include <limits>
#include <string>
#include <vector>

namespace taskmaster::sidecar {
namespace {

namespace pr = protocol;

// A record at `seq` about task `ordinal`, whose ID is "t<ordinal>".
template <typename Record>
Record About(int64_t seq, int64_t ordinal) {
  Record r;
  r.seq = seq;
  r.ordinal = ordinal;
  r.task_id = "t" + std::to_string(ordinal);
  return r;
}

pr::TaskStartRecord Start(int64_t seq, int64_t ordinal, int64_t attempt) {
  auto r = About<pr::TaskStartRecord>(seq, ordinal);
  r.attempt = attempt;
  return r;
}

pr::TaskEndRecord End(int64_t seq, int64_t ordinal, TaskStatus status) {
  auto r = About<pr::TaskEndRecord>(seq, ordinal);
  r.status = status;
  return r;
}

CheckpointWrite Checkpoint(int64_t seq, const std::string& task_id, int64_t generation) {
  CheckpointWrite c;
  c.seq = seq;
  c.task_id = task_id;
  c.generation = generation;
  c.document = task_id + "@" + std::to_string(generation) + "#" + std::to_string(seq);
  return c;
}

BOOST_AUTO_TEST_SUITE(apply_plan)

BOOST_AUTO_TEST_CASE(the_fence_decides_refusal_and_the_replay_watermark) {
  const FenceSeq stored{3, 40};
  BOOST_CHECK(CheckFence(2, stored).fenced);
  const FenceCheck same = CheckFence(3, stored);
  BOOST_CHECK(!same.fenced);
  BOOST_CHECK_EQUAL(same.watermark, 40);
  const FenceCheck newer = CheckFence(4, stored);
  BOOST_CHECK(!newer.fenced);
  BOOST_CHECK_EQUAL(newer.watermark, std::numeric_limits<int64_t>::min());
  // No fence row reads as (0, 0).
  const FenceCheck none = CheckFence(0, std::nullopt);
  BOOST_CHECK(!none.fenced);
  BOOST_CHECK_EQUAL(none.watermark, 0);
}

BOOST_AUTO_TEST_CASE(the_last_record_per_task_wins_in_ordinal_order) {
  Batch batch;
  batch.starts = {Start(1, 5, 0), Start(2, 2, 0), Start(3, 5, 1)};
  batch.ends = {End(4, 5, TaskStatus::kFailed), End(5, 5, TaskStatus::kSucceeded)};
  batch.max_seq = 5;
  const ApplyPlan plan = PlanBatch(batch, 0);
  BOOST_REQUIRE_EQUAL(plan.starts.size(), 2u);
  BOOST_CHECK_EQUAL(plan.starts[0]->ordinal, 2);
  BOOST_CHECK_EQUAL(plan.starts[1]->ordinal, 5);
  BOOST_CHECK_EQUAL(plan.starts[1]->attempt, 1);
  BOOST_REQUIRE_EQUAL(plan.ends.size(), 1u);
  BOOST_CHECK(plan.ends[0]->status == TaskStatus::kSucceeded);
  BOOST_CHECK_EQUAL(plan.applied, 5);
  BOOST_CHECK_EQUAL(plan.skipped, 0);
  BOOST_CHECK_EQUAL(plan.max_seq, 5);
  BOOST_CHECK(!plan.empty());
}

BOOST_AUTO_TEST_CASE(records_at_or_below_the_watermark_are_replays) {
  Batch batch;
  batch.init = pr::WorkflowInitRecord{};
  batch.init->seq = 1;
  pr::TaskListRecord list;
  list.seq = 2;
  list.first_ordinal = 10;
  list.ids = {"a", "b"};
  batch.task_lists = {list};
  batch.starts = {Start(3, 10, 0), Start(4, 11, 0)};
  pr::CommitRecord commit;
  commit.seq = 5;
  batch.commit = commit;
  batch.final_status = WorkflowStatus::kSucceeded;
  batch.max_seq = 5;

  const ApplyPlan replayed = PlanBatch(batch, 5);
  BOOST_CHECK(replayed.empty());
  BOOST_CHECK_EQUAL(replayed.skipped, 5);
  BOOST_CHECK(replayed.init == nullptr);
  BOOST_CHECK(!replayed.commit);
  BOOST_CHECK(!replayed.final_status);
  BOOST_CHECK_EQUAL(replayed.max_seq, 0);

  const ApplyPlan partly = PlanBatch(batch, 3);
  BOOST_CHECK_EQUAL(partly.skipped, 3);
  BOOST_CHECK_EQUAL(partly.applied, 2);
  BOOST_CHECK(partly.task_list.empty());
  BOOST_REQUIRE_EQUAL(partly.starts.size(), 1u);
  BOOST_CHECK_EQUAL(partly.starts[0]->ordinal, 11);
  BOOST_CHECK(partly.commit);
  BOOST_CHECK(partly.final_status == WorkflowStatus::kSucceeded);
  BOOST_CHECK_EQUAL(partly.max_seq, 5);

  const ApplyPlan whole = PlanBatch(batch, 0);
  BOOST_CHECK(whole.init == &*batch.init);
  BOOST_REQUIRE_EQUAL(whole.task_list.size(), 2u);
  BOOST_CHECK_EQUAL(whole.task_list[1].ordinal, 11);
  BOOST_CHECK_EQUAL(whole.task_list[1].task_id, "b");
  BOOST_CHECK(CountedOrdinals(whole) == (std::vector<int64_t>{10, 11, 10, 11}));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_keeps_the_one_before_it_as_its_backup) {
  Batch batch;
  batch.checkpoints = {Checkpoint(1, "b", 4), Checkpoint(2, "a", 1), Checkpoint(3, "b", 5),
                       Checkpoint(4, "b", 5), Checkpoint(5, "a", 0), Checkpoint(6, "c", 2)};
  batch.max_seq = 6;
  const ApplyPlan plan = PlanBatch(batch, 0);
  BOOST_REQUIRE_EQUAL(plan.checkpoints.size(), 3u);
  // By task ID. "a": a lower generation does not replace a higher one.
  BOOST_CHECK_EQUAL(plan.checkpoints[0].current->document, "a@1#2");
  BOOST_CHECK(plan.checkpoints[0].previous == nullptr);
  // "b": the same generation again replaces the document, not the backup.
  BOOST_CHECK_EQUAL(plan.checkpoints[1].current->document, "b@5#4");
  BOOST_REQUIRE(plan.checkpoints[1].previous != nullptr);
  BOOST_CHECK_EQUAL(plan.checkpoints[1].previous->document, "b@4#1");
  BOOST_CHECK_EQUAL(plan.checkpoints[2].current->document, "c@2#6");
  BOOST_CHECK_EQUAL(plan.applied, 6);
  // Checkpoints change no counts.
  BOOST_CHECK(CountedOrdinals(plan).empty());
}

BOOST_AUTO_TEST_CASE(shards_are_grouped_into_runs) {
  BOOST_CHECK(ShardRuns({}, 10).empty());
  const std::vector<ShardRun> runs = ShardRuns({95, 3, 12, 7, 21, 64, 55}, 10);
  BOOST_REQUIRE_EQUAL(runs.size(), 3u);
  BOOST_CHECK_EQUAL(runs[0].first, 0);
  BOOST_CHECK_EQUAL(runs[0].last, 2);
  BOOST_CHECK_EQUAL(runs[1].first, 5);
  BOOST_CHECK_EQUAL(runs[1].last, 6);
  BOOST_CHECK_EQUAL(runs[2].first, 9);
  BOOST_CHECK_EQUAL(runs[2].last, 9);
}

BOOST_AUTO_TEST_CASE(text_is_stored_as_valid_utf8_without_nul) {
  BOOST_CHECK_EQUAL(StorableText("plain \xC3\xA9t\xC3\xA9 \xF0\x9F\x99\x82"),
                    "plain \xC3\xA9t\xC3\xA9 \xF0\x9F\x99\x82");
  const std::string nul("a\0b", 3);
  BOOST_CHECK_EQUAL(StorableText(nul),
                    "a\xEF\xBF\xBD"
                    "b");
  // A lone continuation byte, a truncated sequence, an overlong form, a surrogate.
  BOOST_CHECK_EQUAL(StorableText("\x80"), "\xEF\xBF\xBD");
  BOOST_CHECK_EQUAL(StorableText("\xC3"), "\xEF\xBF\xBD");
  BOOST_CHECK_EQUAL(StorableText("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  BOOST_CHECK_EQUAL(StorableText("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
