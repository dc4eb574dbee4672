#include "chaos_workflow.h"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>

namespace taskmaster::chaos_test {

int64_t Progress::Now() {
  const auto now = std::chrono::steady_clock::now();
  if (now - counted_at_ >= std::chrono::milliseconds(100)) {
    records_ = local_test::RecordsProcessed(data_dir_, tasks_);
    counted_at_ = now;
  }
  return records_;
}

ChaosWorkflow::ChaosWorkflow(const std::string& name, int tasks) : state_dir_(dir_ / "state") {
  example_.tasks = tasks;
  example_.records = 8;
  example_.checkpoint_every = 3;
  example_.delay_seconds = 0.002;
  stores_.postgres_dsn = local_test::RequireServiceEnv("TM_TEST_POSTGRES_DSN");
  stores_.redis_url = local_test::RequireServiceEnv("TM_TEST_REDIS_URL");
  // The services outlive one test run: a key of our own, so nothing is resumed by accident.
  stores_.key = local_test::UniqueKey("chaos-" + name);
  stores_.tasks = tasks;
  local_test::WriteFile(dir_ / "list.json", local_test::JsonList(example_.Ids()));
  args_ = {"--task-list",
           "@" + dir_ / "list.json",
           "--state-dir",
           state_dir_,
           "--state-key",
           stores_.key,
           "--batch-size",
           "5",
           "--parallelism",
           "2",
           "--backoff",
           "0.05",
           "--task-retries",
           "20",
           "--postgres",
           stores_.postgres_dsn,
           "--redis",
           stores_.redis_url,
           "--sidecar",
           local_test::kSidecarBinary,
           "--"};
  for (const auto& arg : example_.Command()) args_.push_back(arg);
  env_ = example_.Env(data());
}

std::unique_ptr<local_test::LocalRun> ChaosWorkflow::Start() const {
  return std::make_unique<local_test::LocalRun>(args_, env_, dir_.path());
}

std::vector<std::string> ChaosWorkflow::Problems(int64_t* repeated) const {
  std::vector<std::string> problems = CheckSucceededOnce(stores_);
  for (auto& problem : CheckLastCheckpoints(stores_, data(), example_.records)) {
    problems.push_back(problem);
  }
  for (auto& problem : CheckRedisEqualsPostgres(stores_, local_test::kSidecarBinary)) {
    problems.push_back(problem);
  }
  const local_test::AuditReport audit = local_test::CheckAudit(data(), example_);
  for (const auto& problem : audit.problems) problems.push_back(problem);
  *repeated = audit.repeated;
  const auto& reference = local_test::ReferenceOutputs(example_);
  const auto outputs = local_test::ReadOutputs(data(), example_.tasks);
  for (int i = 0; i < example_.tasks; ++i) {
    if (outputs[i] != reference[i]) {
      problems.push_back("task " + std::to_string(i) +
                         "'s output differs from an uninterrupted run's");
    }
  }
  return problems;
}

void ChaosWorkflow::KeepLogs() const {
  const char* keep = std::getenv("TM_CHAOS_KEEP");
  if (keep == nullptr || *keep == '\0') return;
  local_test::Shell("mkdir -p '" + std::string(keep) + "' && cp -a '" + state_dir_ + "/logs' '" +
                    data() + "/audit' '" + keep + "/'");
}

}  // namespace taskmaster::chaos_test
