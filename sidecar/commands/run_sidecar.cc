// tm-sidecar without a subcommand: the sidecar of one pod (sidecar.h), with its
// /healthz, /readyz and /metrics.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <climits>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "cache/backoff.h"
#include "commands/commands.h"
#include "http_server.h"
#include "pod_server.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

// --store-wait at most: a day.
constexpr double kMaxStoreWaitSeconds = 86400;

// What a pod's sidecar and local mode's sidecar for every pod share: the
// signals, the HTTP listener, the store and the cache; `serve` runs on them.
using Serve = std::function<int(StateStore*, LiveCache*, Metrics*, Health*, SignalFd*)>;

int ServeWithStore(Env* env, const StoreFlags& stores, SidecarOptions options,
                   const std::string& listen, const std::string& port_file, bool local,
                   const Serve& serve) {
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
  return serve(store->get(), cache->get(), &metrics, &health, &signals);
}

// The options of one pod's sidecar from its flags.
Result<SidecarOptions> PodOptions(SidecarFlags flags, const StoreFlags& stores) {
  auto role = pr::ParseRole(flags.role);
  if (!role.ok()) return role.status();
  flags.options.role = *role;
  flags.options.sync = flags.local;
  if (flags.options.state_key.empty()) {
    return Status::InvalidArgument("--state-key is required");
  }
  TM_RETURN_IF_ERROR(ValidateId(flags.options.state_key, "state key"));
  if (flags.options.pod_name.empty()) {
    // In a pod the hostname is the pod's name.
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) == 0) flags.options.pod_name = host;
  }
  auto config = ConfiguredStore(stores, &flags.options.store_name);
  if (!config.ok()) return config.status();
  return flags.options;
}

// Local mode's sidecar for every pod of a run (pod_server.h): a pod's flags
// come in its start message and are read as this command line reads its own.
int ServePods(Env* env, const StoreFlags& stores, const SidecarFlags& flags) {
  auto parse = [&stores](const std::vector<std::string>& args) -> Result<SidecarOptions> {
    CLI::App app("the sidecar of one pod");
    SidecarFlags pod;
    AddSidecarFlags(&app, &pod);
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 reads from the back
    try {
      app.parse(reversed);
    } catch (const CLI::ParseError& e) {
      return Status::InvalidArgument(e.what());
    }
    if (pod.serve_pods >= 0) return Status::InvalidArgument("a pod cannot serve pods");
    return PodOptions(std::move(pod), stores);
  };
  return ServeWithStore(env, stores, flags.options, flags.listen, flags.port_file, flags.local,
                        [&](StateStore* store, LiveCache* cache, Metrics* metrics, Health* health,
                            SignalFd* signals) {
                          health->store_up = true;
                          health->restored = true;
                          PodServer server(env, store, cache, metrics, parse, flags.serve_pods);
                          return server.Run(signals);
                        });
}

}  // namespace

void AddSidecarFlags(CLI::App* app, SidecarFlags* f) {
  SidecarOptions& o = f->options;
  app->add_option("--work-dir", o.work_dir, "Work dir shared with tm-step")
      ->envname(pr::kEnvWorkDir)
      ->check(checks::NonEmpty("a directory"))
      ->capture_default_str();
  app->add_option("--listen", f->listen, "Address for /healthz, /readyz, /metrics")
      ->envname("TM_LISTEN")
      ->check(checks::NonEmpty("an address (127.0.0.1:9464)"))
      ->capture_default_str();
  app->add_option("--port-file", f->port_file, "Write the bound HTTP port here")
      ->check(checks::NonEmpty("a file"));
  app->add_option("--state-key", o.state_key, "Workflow state key")
      ->envname(pr::kEnvStateKey)
      ->check(checks::StateKey());
  app->add_option("--role", f->role, "init, shard or finalize")
      ->envname(pr::kEnvRole)
      ->check(checks::OneOf({"init", "shard", "finalize"}))
      ->capture_default_str();
  app->add_option("--shard", o.shard, "0-based shard index")
      ->envname(pr::kEnvShard)
      ->check(checks::WholeNumber(0, pr::kMaxShards - 1));
  app->add_option("--pod-name", o.pod_name,
                  "The pod's name, recorded with each task attempt (default: the hostname)")
      ->envname("TM_POD_NAME")
      ->check(checks::NonEmpty("a name"));
  app->add_option("--grace-seconds", o.grace_seconds, "Pod termination grace period")
      ->envname(pr::kEnvGraceSeconds)
      ->check(checks::WholeNumber(1, pr::kMaxGraceSeconds))
      ->capture_default_str();
  app->add_option("--progress-file", o.progress_file, "Argo progress file (N/M)")
      ->envname(pr::kEnvArgoProgressFile)
      ->check(checks::NonEmpty("a file"));
  app->add_option("--store-wait", o.store_wait_seconds, "Seconds to wait for the store at start")
      ->envname("TM_STORE_WAIT")
      ->transform(checks::Duration(0, kMaxStoreWaitSeconds))
      ->capture_default_str();
  app->add_flag("--local", f->local,
                "Local mode: fsync acks and restore files, ignore SIGINT, die with the parent");
  app->add_option("--serve-pods", f->serve_pods,
                  "Local mode: serve the sidecar of every pod of a tm-step local run, started "
                  "and stopped by JSON lines on this socket descriptor")
      ->check(checks::WholeNumber(0, INT_MAX));
}

int RunSidecarCommand(Env* env, const StoreFlags& stores, SidecarFlags flags) {
  if (flags.serve_pods >= 0) return ServePods(env, stores, flags);
  auto options = PodOptions(flags, stores);
  if (!options.ok()) return Usage(options.status());
  return ServeWithStore(env, stores, *options, flags.listen, flags.port_file, flags.local,
                        [&](StateStore* store, LiveCache* cache, Metrics* metrics, Health* health,
                            SignalFd* signals) {
                          Sidecar sidecar(env, *options, store, cache, metrics, health);
                          return sidecar.Run(signals);
                        });
}

}  // namespace taskmaster::sidecar
