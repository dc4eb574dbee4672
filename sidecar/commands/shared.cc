#include <spdlog/spdlog.h>

#include <chrono>
#include <iostream>
#include <utility>

#include "commands/commands.h"
#include "retry.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

void AddStoreFlags(CLI::App* cmd, StoreFlags* f) {
  cmd->add_option("--store", f->store, "sqlite:PATH (the embedded default store)")
      ->envname("TM_STORE")
      ->check(checks::NonEmpty("sqlite:PATH"));
  cmd->add_option("--postgres", f->postgres, "PostgreSQL DSN (the source of truth)")
      ->envname("TM_POSTGRES_DSN")
      ->check(checks::NonEmpty("a PostgreSQL DSN"));
  cmd->add_option("--redis", f->redis, "Redis URL redis://host:port/db (the live view)")
      ->envname("TM_REDIS_URL")
      ->check(checks::NonEmpty("a Redis URL"));
}

int Usage(const Status& s) {
  std::cerr << "tm-sidecar: " << s.message() << "\n";
  return protocol::kExitUsage;
}

Result<StoreConfig> ConfiguredStore(const StoreFlags& f, std::string* name) {
  if (!f.store.empty() && !f.postgres.empty()) {
    return Status::InvalidArgument("give either --store sqlite:PATH or --postgres DSN, not both");
  }
  if (f.store.empty() && f.postgres.empty()) {
    return Status::InvalidArgument("no store: give --store sqlite:PATH or --postgres DSN");
  }
  if (name != nullptr) *name = f.postgres.empty() ? "sqlite" : "postgres";
  return ParseStoreConfig(f.postgres.empty() ? f.store : f.postgres);
}

Result<std::unique_ptr<StateStore>> OpenConfiguredStore(const StoreFlags& f) {
  auto config = ConfiguredStore(f, nullptr);
  if (!config.ok()) return config.status();
  return OpenStore(*config);
}

Result<std::unique_ptr<LiveCache>> OpenConfiguredCache(const StoreFlags& f) {
  if (f.redis.empty()) return std::unique_ptr<LiveCache>();
  auto config = ParseRedisUrl(f.redis);
  if (!config.ok()) return config.status().WithContext("--redis");
  return std::make_unique<LiveCache>(*config);
}

Result<std::unique_ptr<StateStore>> OpenStoreWaiting(Env* env, const StoreConfig& config,
                                                     const SidecarOptions& options,
                                                     SignalFd* signals, Metrics* metrics) {
  // Only a server is worth waiting for; a local SQLite file fails the same way again.
  if (config.kind != StoreConfig::Kind::kPostgres) return OpenStore(config);
  RetrySchedule schedule(env, Backoff(std::chrono::milliseconds(100),
                                      std::chrono::milliseconds(2000), DefaultRandomSource()));
  const int64_t give_up =
      env->MonotonicNanos() + static_cast<int64_t>(options.store_wait_seconds * 1e9);
  std::unique_ptr<StateStore> store;
  RetryHooks hooks;
  hooks.on_failure = [&](const Status& s) {
    if (!IsTransient(s)) return;
    metrics->store_errors_total(options.store_name, "unavailable").Inc();
    metrics->store_up(options.store_name).Set(0);
  };
  hooks.on_retry = [](const Status& s) {
    spdlog::warn("store not reachable yet ({}); retrying", s.message());
  };
  hooks.stop = [&] { return !signals->Drain().empty(); };
  Status s = RetryTransient(
      &schedule, give_up,
      [&] {
        auto opened = OpenStore(config);
        if (!opened.ok()) return opened.status();
        store = std::move(opened).value();
        return Status::OK();
      },
      hooks);
  if (!s.ok()) return s;
  return store;
}

void WritePortFile(Env* env, const std::string& path, uint16_t port) {
  if (path.empty()) return;
  Status s = WriteFileAtomic(env, path, std::to_string(port) + "\n", false);
  if (!s.ok()) spdlog::warn("cannot write {}: {}", path, s.message());
}

std::optional<StoredWorkflow> LoadStoredWorkflow(const StoreFlags& stores, const std::string& key,
                                                 int* exit_code) {
  if (Status s = ValidateId(key, "state key"); !s.ok()) {
    *exit_code = Usage(s);
    return std::nullopt;
  }
  auto store = OpenConfiguredStore(stores);
  if (!store.ok()) {
    *exit_code = Usage(store.status());
    return std::nullopt;
  }
  auto state = (*store)->LoadWorkflowState(key);
  if (!state.ok()) {
    std::cerr << "tm-sidecar: " << key << ": " << state.status().message() << "\n";
    *exit_code = state.status().IsNotFound() ? protocol::kExitUsage : protocol::kExitFailed;
    return std::nullopt;
  }
  return StoredWorkflow{std::move(store).value(), std::move(state).value()};
}

}  // namespace taskmaster::sidecar
