// One workflow for the chaos suite: the example task (local/example_check.h)
// over a list of tasks in `tm-step local` on the PostgreSQL and Redis of
// scripts/test-services.sh, under a state key of its own, and every invariant
// that must hold once it has finished (invariants.h, the audit logs, the
// outputs against an uninterrupted run's).
#ifndef TASKMASTER_TESTS_CHAOS_CHAOS_WORKFLOW_H_
#define TASKMASTER_TESTS_CHAOS_CHAOS_WORKFLOW_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "invariants.h"
#include "local/example_check.h"
#include "local/local_harness.h"

namespace taskmaster::chaos_test {

// Records processed so far, counted again at most every 100 ms (the audit
// logs of hundreds of tasks are too many files to read every 5 ms).
class Progress {
 public:
  Progress(std::string data_dir, int tasks) : data_dir_(std::move(data_dir)), tasks_(tasks) {}
  int64_t Now();

 private:
  std::string data_dir_;
  int tasks_;
  int64_t records_ = 0;
  std::chrono::steady_clock::time_point counted_at_{};
};

class ChaosWorkflow {
 public:
  // `name` goes into the state key. The state dir is state_dir(), made by the
  // run (or by the test before it: a file system of its own).
  ChaosWorkflow(const std::string& name, int tasks);

  const local_test::TempDir& dir() const { return dir_; }
  const local_test::Example& example() const { return example_; }
  std::string data() const { return dir_ / "data"; }
  std::string state_dir() const { return state_dir_; }
  int64_t total_records() const { return static_cast<int64_t>(example_.tasks) * example_.records; }

  // A `tm-step local` run of it, started now.
  std::unique_ptr<local_test::LocalRun> Start() const;
  // Every broken invariant, one line each; the audit's count of records run
  // more than once in *repeated.
  std::vector<std::string> Problems(int64_t* repeated) const;
  // TM_CHAOS_KEEP=DIR: the run's logs and the audit logs copied there.
  void KeepLogs() const;

 private:
  local_test::TempDir dir_;
  local_test::Example example_;
  Stores stores_;
  std::string state_dir_;
  std::vector<std::string> args_;
  local_test::EnvVars env_;
};

}  // namespace taskmaster::chaos_test

#endif  // TASKMASTER_TESTS_CHAOS_CHAOS_WORKFLOW_H_
