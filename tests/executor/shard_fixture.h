// What every `tm-step run` test starts from: a temp dir holding the work dir,
// a dir the tasks write their evidence to ($OUT in their environment), and the
// identity a pod of shard 0 would get, with waits shortened for tests.
#ifndef TASKMASTER_TESTS_EXECUTOR_SHARD_FIXTURE_H_
#define TASKMASTER_TESTS_EXECUTOR_SHARD_FIXTURE_H_

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fake_sidecar.h"
#include "step_harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step_test {

inline constexpr const char* kStateKey = "wf-test";
inline constexpr int64_t kFence = 7;

struct ShardFixture {
  ShardFixture();

  // The restore of a shard holding `ids` at ordinals first, first + 1, ... of a
  // list of task_count tasks (default: just these).
  static protocol::ShardRestore Shard(const std::vector<std::string>& ids,
                                      int64_t first_ordinal = 0, int64_t task_count = -1);
  protocol::Ready Ready() const;
  // Writes the shard's restore/ for `sidecar` and starts it with Ready().
  void Serve(FakeSidecar* sidecar, const protocol::ShardRestore& restore) const;
  // Starts `tm-step run ARGS` with env.
  std::unique_ptr<StepProcess> Start(const std::vector<std::string>& args) const;
  // Starts `tm-step run -- sh -c SCRIPT`.
  std::unique_ptr<StepProcess> StartSh(const std::string& script) const;
  std::string Out(const std::string& name) const { return out + "/" + name; }
  std::string Output(const std::string& name) const;  // outputs/<name>

  TempDir tmp;
  const std::string work;  // the work dir shared with the (fake) sidecar
  const std::string out;   // $OUT of the tasks
  EnvVars env;
};

// Waits for the step to exit, then stops the sidecar so that it has read the
// whole journal, and fails the test case for every problem it found there.
// Returns the step's exit code.
int Finish(StepProcess& step, FakeSidecar& sidecar);

// Parses a JSON object (an output, a line a task wrote); fails the test case
// when the text is not one.
rapidjson::Document ParseObject(const std::string& text);

}  // namespace taskmaster::step_test

#endif  // TASKMASTER_TESTS_EXECUTOR_SHARD_FIXTURE_H_
