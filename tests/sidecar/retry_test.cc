#include "retry.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <vector>

#include "fake_clock_env.h"

namespace taskmaster::sidecar {
namespace {

using std::chrono::milliseconds;

// Every draw is the middle of its range: delays of 50, 100, 200, ... ms.
Backoff HalfBackoff() {
  return Backoff(milliseconds(100), milliseconds(1000), [] { return 0.5; });
}

// An attempt that fails with `failures` in turn, then succeeds.
class Attempts {
 public:
  explicit Attempts(std::vector<Status> failures) : failures_(std::move(failures)) {}
  Status operator()() {
    ++calls_;
    return calls_ <= static_cast<int>(failures_.size()) ? failures_[calls_ - 1] : Status::OK();
  }
  int calls() const { return calls_; }

 private:
  std::vector<Status> failures_;
  int calls_ = 0;
};

constexpr int64_t kSecond = 1000000000;

BOOST_AUTO_TEST_SUITE(retry)

BOOST_AUTO_TEST_CASE(transient_failures_are_retried_after_the_backoff_delays) {
  FakeClockEnv env;
  RetrySchedule schedule(&env, HalfBackoff());
  Attempts attempts({Status::Unavailable("down"), Status::Timeout("slow")});
  std::vector<std::string> failures, retries;
  RetryHooks hooks;
  hooks.on_failure = [&](const Status& s) { failures.push_back(s.message()); };
  hooks.on_retry = [&](const Status& s) { retries.push_back(s.message()); };
  Status s = RetryTransient(
      &schedule, env.MonotonicNanos() + 60 * kSecond, [&] { return attempts(); }, hooks);
  BOOST_CHECK(s.ok());
  BOOST_CHECK_EQUAL(attempts.calls(), 3);
  BOOST_CHECK_EQUAL(failures.size(), 2u);
  BOOST_CHECK(retries == failures);
  BOOST_CHECK(env.sleeps() == (std::vector<int64_t>{50000, 100000}));
  // A success starts the delays over.
  BOOST_CHECK_EQUAL(schedule.due_ns(), 0);
  BOOST_CHECK_EQUAL(schedule.Failed().count(), 50);
}

BOOST_AUTO_TEST_CASE(a_failure_that_would_repeat_is_returned_at_once) {
  FakeClockEnv env;
  RetrySchedule schedule(&env, HalfBackoff());
  Attempts attempts({Status::InvalidArgument("bad schema")});
  int failures = 0, retries = 0;
  RetryHooks hooks;
  hooks.on_failure = [&](const Status&) { ++failures; };
  hooks.on_retry = [&](const Status&) { ++retries; };
  Status s = RetryTransient(
      &schedule, env.MonotonicNanos() + 60 * kSecond, [&] { return attempts(); }, hooks);
  BOOST_CHECK(s.IsInvalidArgument());
  BOOST_CHECK_EQUAL(attempts.calls(), 1);
  BOOST_CHECK_EQUAL(failures, 1);
  BOOST_CHECK_EQUAL(retries, 0);
  BOOST_CHECK(env.sleeps().empty());
}

BOOST_AUTO_TEST_CASE(no_wait_goes_past_the_deadline) {
  FakeClockEnv env;
  RetrySchedule schedule(&env, HalfBackoff());
  const int64_t deadline = env.MonotonicNanos() + 120 * 1000000;  // 120 ms
  int calls = 0;
  Status s = RetryTransient(&schedule, deadline, [&] {
    ++calls;
    return Status::Unavailable("down");
  });
  BOOST_CHECK(s.IsUnavailable());
  // 50 ms, then the 70 ms left instead of 100, then the deadline has passed.
  BOOST_CHECK(env.sleeps() == (std::vector<int64_t>{50000, 70000}));
  BOOST_CHECK_EQUAL(calls, 3);
  BOOST_CHECK_EQUAL(env.MonotonicNanos(), deadline);
}

BOOST_AUTO_TEST_CASE(a_stop_ends_the_retries) {
  FakeClockEnv env;
  RetrySchedule schedule(&env, HalfBackoff());
  int calls = 0;
  RetryHooks hooks;
  hooks.stop = [&] { return calls == 2; };
  Status s = RetryTransient(
      &schedule, env.MonotonicNanos() + 60 * kSecond,
      [&] {
        ++calls;
        return Status::IOError("disk");
      },
      hooks);
  BOOST_CHECK(s.IsIOError());
  BOOST_CHECK_EQUAL(calls, 2);
  BOOST_CHECK_EQUAL(env.sleeps().size(), 1u);
}

BOOST_AUTO_TEST_CASE(a_schedule_is_due_after_each_delay_and_at_once_after_a_success) {
  FakeClockEnv env;
  RetrySchedule schedule(&env, HalfBackoff());
  BOOST_CHECK(schedule.Due());
  const int64_t failed_at = env.MonotonicNanos();
  BOOST_CHECK_EQUAL(schedule.Failed().count(), 50);
  BOOST_CHECK_EQUAL(schedule.due_ns(), failed_at + 50 * 1000000);
  env.Advance(50 * 1000000 - 1);
  BOOST_CHECK(!schedule.Due());
  env.Advance(1);
  BOOST_CHECK(schedule.Due());
  BOOST_CHECK_EQUAL(schedule.Failed().count(), 100);  // the delays grow
  BOOST_CHECK(!schedule.Due());
  schedule.Succeeded();
  BOOST_CHECK(schedule.Due());
  BOOST_CHECK_EQUAL(schedule.Failed().count(), 50);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
