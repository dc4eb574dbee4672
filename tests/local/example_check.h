// The example task (examples/process-records.py) as a test subject: its
// parameters, the outputs of an uninterrupted run to compare against, and a
// check of its audit log, which says which records really ran and which
// checkpoints were acknowledged.
#ifndef TASKMASTER_TESTS_LOCAL_EXAMPLE_CHECK_H_
#define TASKMASTER_TESTS_LOCAL_EXAMPLE_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "local_harness.h"

namespace taskmaster::local_test {

struct Example {
  int tasks = 4;
  int records = 50;  // per task
  int checkpoint_every = 7;
  double delay_seconds = 0.008;  // per record

  std::vector<std::string> Ids() const;
  EnvVars Env(const std::string& data_dir) const;
  std::vector<std::string> Command() const;
  std::string Key() const;  // identifies the parameters
};

// Each task's output file, by ordinal ("" when missing).
std::vector<std::string> ReadOutputs(const std::string& data_dir, int tasks);
// The outputs of one uninterrupted run of the example, made once per parameters.
const std::vector<std::string>& ReferenceOutputs(const Example& example);
// "rec" lines in all audit logs: records processed so far, repeats included.
int64_t RecordsProcessed(const std::string& data_dir, int tasks);

struct AuditReport {
  int64_t runs = 0;                   // starts of a task's command, over all tasks
  int64_t repeated = 0;               // records processed more than once
  std::vector<std::string> problems;  // empty when every rule holds
};
// The rules, per task: each run after the first resumes at or after the last
// checkpoint any earlier run saw acknowledged (so only records after the last
// committed checkpoint run twice) and not past what was processed; a run
// processes consecutive records from where it resumed; together the runs cover
// every record, and the last one finished.
AuditReport CheckAudit(const std::string& data_dir, const Example& example);

}  // namespace taskmaster::local_test

#endif  // TASKMASTER_TESTS_LOCAL_EXAMPLE_CHECK_H_
