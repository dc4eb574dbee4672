// tm-sidecar without a subcommand: the sidecar of one pod (sidecar.h), with its
// /healthz, /readyz and /metrics.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>

#include <memory>
#include <utility>

#include "cache/backoff.h"
#include "commands/commands.h"
#include "http_server.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

int RunSidecar(Env* env, const StoreFlags& stores, SidecarOptions options,
               const std::string& listen, const std::string& port_file, bool local) {
  if (Status s = ValidateId(options.state_key, "state key"); !s.ok()) return Usage(s);
  // Every flag is checked before anything starts: bad config is exit 2, never 75.
  auto config = ConfiguredStore(stores, &options.store_name);
  if (!config.ok()) return Usage(config.status());
  auto cache = OpenConfiguredCache(stores);
  if (!cache.ok()) return Usage(cache.status());
  // Local mode: Ctrl-C is for tm-step local, which stops us with SIGTERM, and
  // we die with it.
  if (local) signal(SIGINT, SIG_IGN);
  SignalFd signals = local ? SignalFd({SIGTERM}) : SignalFd({SIGTERM, SIGINT});
  if (local) prctl(PR_SET_PDEATHSIG, SIGTERM);
  Metrics metrics;
  Health health;
  std::unique_ptr<HttpServer> http;
  if (!listen.empty()) {
    auto started = HttpServer::Start(listen, &metrics, &health);
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return started.status().IsInvalidArgument() ? pr::kExitUsage : pr::kExitFailed;
    }
    http = std::move(started).value();
    spdlog::info("serving /healthz, /readyz and /metrics on port {}", http->port());
    WritePortFile(env, port_file, http->port());
  }
  auto store = OpenStoreWaiting(env, *config, options, &signals, &metrics);
  if (!store.ok()) {
    spdlog::error(
        "{}: {}",
        IsTransient(store.status()) ? "store unreachable at start" : "cannot open the store",
        store.status().message());
    return store.status().IsInvalidArgument() ? pr::kExitUsage : pr::kExitNotDurable;
  }
  Sidecar sidecar(env, std::move(options), store->get(), cache->get(), &metrics, &health);
  return sidecar.Run(&signals);
}

}  // namespace

void AddSidecarFlags(CLI::App* app, SidecarFlags* f) {
  SidecarOptions& o = f->options;
  app->add_option("--work-dir", o.work_dir, "Work dir shared with tm-step")
      ->envname(pr::kEnvWorkDir)
      ->capture_default_str();
  app->add_option("--listen", f->listen, "Address for /healthz, /readyz, /metrics")
      ->envname("TM_LISTEN")
      ->capture_default_str();
  app->add_option("--port-file", f->port_file, "Write the bound HTTP port here");
  app->add_option("--state-key", o.state_key, "Workflow state key")->envname(pr::kEnvStateKey);
  app->add_option("--role", f->role, "init, shard or finalize")
      ->envname(pr::kEnvRole)
      ->check(CLI::IsMember({"init", "shard", "finalize"}))
      ->capture_default_str();
  app->add_option("--shard", o.shard, "0-based shard index")
      ->envname(pr::kEnvShard)
      ->check(CLI::NonNegativeNumber);
  app->add_option("--grace-seconds", o.grace_seconds, "Pod termination grace period")
      ->envname(pr::kEnvGraceSeconds)
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app->add_option("--progress-file", o.progress_file, "Argo progress file (N/M)")
      ->envname(pr::kEnvArgoProgressFile);
  app->add_option("--store-wait", o.store_wait_seconds, "Seconds to wait for the store at start")
      ->envname("TM_STORE_WAIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app->add_flag("--local", f->local,
                "Local mode: fsync acks and restore files, ignore SIGINT, die with the parent");
}

int RunSidecarCommand(Env* env, const StoreFlags& stores, SidecarFlags flags) {
  auto role = pr::ParseRole(flags.role);
  if (!role.ok()) return Usage(role.status());
  flags.options.role = *role;
  flags.options.sync = flags.local;
  if (flags.options.state_key.empty()) {
    return Usage(Status::InvalidArgument("--state-key is required"));
  }
  return RunSidecar(env, stores, std::move(flags.options), flags.listen, flags.port_file,
                    flags.local);
}

}  // namespace taskmaster::sidecar
