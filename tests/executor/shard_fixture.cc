#include "shard_fixture.h"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

namespace taskmaster::step_test {

namespace pr = protocol;

ShardFixture::ShardFixture() : work(tmp / "work"), out(tmp / "out") {
  BOOST_REQUIRE(::mkdir(out.c_str(), 0755) == 0);
  env = {
      {pr::kEnvStateKey, kStateKey},
      {pr::kEnvWorkDir, work},
      {pr::kEnvShard, "0"},
      {pr::kEnvAttempt, "0"},
      // Not the last attempt unless a test says so: a failure is not final.
      {pr::kEnvLastAttempt, "3"},
      {pr::kEnvGraceSeconds, "8"},
      {pr::kEnvReadyTimeout, "10"},
      {pr::kEnvBarrierTimeout, "10"},
      {"OUT", out},
      {"WORK", work},
  };
}

pr::ShardRestore ShardFixture::Shard(const std::vector<std::string>& ids, int64_t first_ordinal,
                                     int64_t task_count) {
  pr::ShardRestore restore;
  restore.workflow_id = kStateKey;
  restore.shard = 0;
  restore.task_count = task_count >= 0 ? task_count : static_cast<int64_t>(ids.size());
  restore.batch_size = static_cast<int64_t>(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    pr::RestoredTask task;
    task.ordinal = first_ordinal + static_cast<int64_t>(i);
    task.task_id = ids[i];
    restore.tasks.push_back(task);
  }
  return restore;
}

pr::Ready ShardFixture::Ready() const {
  pr::Ready ready;
  ready.fence = kFence;
  ready.workflow_id = kStateKey;
  ready.role = pr::Role::kShard;
  ready.shard = 0;
  return ready;
}

void ShardFixture::Serve(FakeSidecar* sidecar, const pr::ShardRestore& restore) const {
  sidecar->WriteShardRestore(restore);
  sidecar->Start(Ready());
}

std::unique_ptr<StepProcess> ShardFixture::Start(const std::vector<std::string>& args) const {
  std::vector<std::string> full = {"run"};
  full.insert(full.end(), args.begin(), args.end());
  return std::make_unique<StepProcess>(full, env, tmp.path());
}

std::unique_ptr<StepProcess> ShardFixture::StartSh(const std::string& script) const {
  return Start({"--", "sh", "-c", script});
}

std::string ShardFixture::Output(const std::string& name) const {
  return ReadFile(work + "/" + pr::kOutputsDir + "/" + name);
}

int Finish(StepProcess& step, FakeSidecar& sidecar) {
  std::optional<int> code = step.Wait(kStepTimeout);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-step still runs; stderr:\n" << step.err());
  sidecar.Stop();
  for (const std::string& problem : sidecar.problems()) BOOST_ERROR("journal: " << problem);
  return *code;
}

rapidjson::Document ParseObject(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  BOOST_REQUIRE_MESSAGE(!doc.HasParseError() && doc.IsObject(), "not a JSON object: " << text);
  return doc;
}

}  // namespace taskmaster::step_test
