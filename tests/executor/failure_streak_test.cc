// ApplyFailureStreak (task_runner.h): the failure streak a task's attempts
// carry and when it quarantines the task (docs/protocol.md, "Quarantine").
#include <boost/test/unit_test.hpp>
#include <string>

#include "task_runner.h"
#include "taskmaster/fingerprint.h"

namespace taskmaster::step {
namespace {

TaskOutcome Failed(int exit_code, const std::string& error, bool final = false) {
  TaskOutcome o;
  o.status = TaskStatus::kFailed;
  o.exit_code = exit_code;
  o.error = error;
  o.final = final;
  return o;
}

BOOST_AUTO_TEST_SUITE(failure_streak)

BOOST_AUTO_TEST_CASE(the_same_failure_lengthens_the_streak_until_quarantine) {
  TaskRun run;
  run.quarantine_after = 3;
  // What changes between attempts (numbers, paths, times) does not break it.
  TaskOutcome first = Failed(3, "exited with code 3: row 17 of /data/a.csv");
  ApplyFailureStreak(run, &first);
  BOOST_TEST(first.fingerprint == ErrorFingerprint(3, "exited with code 3: row 17 of /data/a.csv"));
  BOOST_TEST(first.fingerprint_streak == 1);
  BOOST_TEST((first.status == TaskStatus::kFailed));
  BOOST_TEST(!first.final);

  run.fingerprint = first.fingerprint;
  run.fingerprint_streak = 1;
  TaskOutcome second = Failed(3, "exited with code 3: row 18 of /data/b.csv");
  ApplyFailureStreak(run, &second);
  BOOST_TEST(second.fingerprint_streak == 2);
  BOOST_TEST((second.status == TaskStatus::kFailed));

  run.fingerprint_streak = 2;
  TaskOutcome third = Failed(3, "exited with code 3: row 19 of /data/c.csv");
  ApplyFailureStreak(run, &third);
  BOOST_TEST(third.fingerprint_streak == 3);
  BOOST_TEST((third.status == TaskStatus::kQuarantined));
  BOOST_TEST(third.final);
}

BOOST_AUTO_TEST_CASE(another_failure_starts_over_and_zero_never_quarantines) {
  TaskRun run;
  run.quarantine_after = 2;
  run.fingerprint = ErrorFingerprint(3, "exited with code 3: disk full");
  run.fingerprint_streak = 5;
  TaskOutcome other_code = Failed(4, "exited with code 4: disk full");
  ApplyFailureStreak(run, &other_code);
  BOOST_TEST(other_code.fingerprint_streak == 1);
  BOOST_TEST((other_code.status == TaskStatus::kFailed));

  run.quarantine_after = 0;
  TaskOutcome same = Failed(3, "exited with code 3: disk full");
  ApplyFailureStreak(run, &same);
  BOOST_TEST(same.fingerprint_streak == 6);
  BOOST_TEST((same.status == TaskStatus::kFailed));
  BOOST_TEST(!same.final);
}

BOOST_AUTO_TEST_CASE(interruptions_keep_the_streak_and_success_clears_it) {
  TaskRun run;
  run.quarantine_after = 2;
  run.fingerprint = "3:boom";
  run.fingerprint_streak = 1;
  TaskOutcome interrupted;
  interrupted.status = TaskStatus::kInterrupted;
  interrupted.exit_code = 143;
  interrupted.error = "interrupted by SIGTERM";
  ApplyFailureStreak(run, &interrupted);
  BOOST_TEST(interrupted.fingerprint == "3:boom");
  BOOST_TEST(interrupted.fingerprint_streak == 1);
  BOOST_TEST((interrupted.status == TaskStatus::kInterrupted));

  TaskOutcome succeeded;
  succeeded.status = TaskStatus::kSucceeded;
  succeeded.exit_code = 0;
  ApplyFailureStreak(run, &succeeded);
  BOOST_TEST(succeeded.fingerprint.empty());
  BOOST_TEST(succeeded.fingerprint_streak == 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step
