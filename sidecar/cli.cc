#include "cli.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "api.h"
#include "cache/live_cache.h"
#include "http_server.h"
#include "retry.h"
#include "sidecar.h"
#include "store/store_factory.h"
#include "taskmaster/log.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

constexpr int64_t kDefaultTtlSeconds = 7 * 24 * 3600;

struct StoreFlags {
  std::string store;     // sqlite:PATH
  std::string postgres;  // DSN
  std::string redis;     // URL
};

void AddStoreFlags(CLI::App* cmd, StoreFlags* f) {
  cmd->add_option("--store", f->store, "sqlite:PATH (the embedded default store)")
      ->envname("TM_STORE");
  cmd->add_option("--postgres", f->postgres, "PostgreSQL DSN (the source of truth)")
      ->envname("TM_POSTGRES_DSN");
  cmd->add_option("--redis", f->redis, "Redis URL redis://host:port/db (the live view)")
      ->envname("TM_REDIS_URL");
}

int Usage(const Status& s) {
  std::cerr << "tm-sidecar: " << s.message() << "\n";
  return pr::kExitUsage;
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

Result<std::unique_ptr<StateStore>> OpenConfiguredStore(const StoreFlags& f, std::string* name) {
  auto config = ConfiguredStore(f, name);
  if (!config.ok()) return config.status();
  return OpenStore(*config);
}

Result<std::unique_ptr<LiveCache>> OpenConfiguredCache(const StoreFlags& f) {
  if (f.redis.empty()) return std::unique_ptr<LiveCache>();
  auto config = ParseRedisUrl(f.redis);
  if (!config.ok()) return config.status().WithContext("--redis");
  return std::make_unique<LiveCache>(*config);
}

// SIGTERM and SIGINT arrive through a signalfd; blocked before any thread starts
// so the HTTP server's threads never take them.
int BlockStopSignals(bool ignore_sigint) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  if (ignore_sigint) {
    signal(SIGINT, SIG_IGN);
  } else {
    sigaddset(&set, SIGINT);
  }
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

// A PostgreSQL that cannot be reached yet (a pod's network coming up, a database
// restarting) is tried again with backoff for options.store_wait_seconds, then
// the sidecar gives up with 75 (DESIGN.md §9). A stop request gives up at once.
Result<std::unique_ptr<StateStore>> OpenStoreWaiting(Env* env, const StoreConfig& config,
                                                    const SidecarOptions& options, int signal_fd,
                                                    Metrics* metrics) {
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
  hooks.stop = [&] {
    struct signalfd_siginfo info;
    return signal_fd >= 0 &&
           ::read(signal_fd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info));
  };
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

int RunSidecar(Env* env, const StoreFlags& flags, SidecarOptions options, const std::string& listen,
               const std::string& port_file, bool local) {
  if (Status s = ValidateId(options.state_key, "state key"); !s.ok()) return Usage(s);
  // Every flag is checked before anything starts: bad config is exit 2, never 75.
  auto config = ConfiguredStore(flags, &options.store_name);
  if (!config.ok()) return Usage(config.status());
  auto cache = OpenConfiguredCache(flags);
  if (!cache.ok()) return Usage(cache.status());
  const int signal_fd = BlockStopSignals(local);
  // Local mode: die with the tm-step local that started us.
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
    if (!port_file.empty()) {
      Status s = WriteFileAtomic(env, port_file, std::to_string(http->port()) + "\n", false);
      if (!s.ok()) spdlog::warn("cannot write {}: {}", port_file, s.message());
    }
  }
  auto store = OpenStoreWaiting(env, *config, options, signal_fd, &metrics);
  if (!store.ok()) {
    spdlog::error("{}: {}",
                  IsTransient(store.status()) ? "store unreachable at start" : "cannot open the store",
                  store.status().message());
    return store.status().IsInvalidArgument() ? pr::kExitUsage : pr::kExitNotDurable;
  }
  Sidecar sidecar(env, std::move(options), store->get(), cache->get(), &metrics, &health);
  return sidecar.Run(signal_fd);
}

// `tm-sidecar api`: migrates the store, then serves the API (and /healthz,
// /readyz, /metrics) until SIGTERM or SIGINT.
int RunApi(Env* env, const StoreFlags& flags, SidecarOptions options, const std::string& listen,
           const std::string& port_file) {
  auto config = ConfiguredStore(flags, &options.store_name);
  if (!config.ok()) return Usage(config.status());
  auto cache = OpenConfiguredCache(flags);
  if (!cache.ok()) return Usage(cache.status());
  const int signal_fd = BlockStopSignals(false);
  if (signal_fd < 0) {
    spdlog::error("signalfd: {}", std::strerror(errno));
    return pr::kExitFailed;
  }
  Metrics metrics;
  Health health;
  auto store = OpenStoreWaiting(env, *config, options, signal_fd, &metrics);
  if (!store.ok()) {
    spdlog::error("{}: {}", IsTransient(store.status()) ? "store unreachable at start" : "store",
                  store.status().message());
    return store.status().IsInvalidArgument() ? pr::kExitUsage : pr::kExitNotDurable;
  }
  if (Status s = (*store)->Migrate(); !s.ok()) {
    spdlog::error("migrate: {}", s.ToString());
    if (s.IsInvalidArgument()) return pr::kExitUsage;
    return IsTransient(s) ? pr::kExitNotDurable : pr::kExitFailed;
  }
  metrics.store_up(options.store_name).Set(1);
  health.store_up = true;
  health.restored = true;
  Api api(env, store->get(), cache->get(), &metrics, options.store_name);
  auto http = HttpServer::Start(listen, &metrics, &health, &api);
  if (!http.ok()) {
    spdlog::error("{}", http.status().message());
    return http.status().IsInvalidArgument() ? pr::kExitUsage : pr::kExitFailed;
  }
  spdlog::info("serving /api/workflows/... on port {} ({}{})", (*http)->port(), options.store_name,
               *cache ? " + redis" : "");
  if (!port_file.empty()) {
    Status s = WriteFileAtomic(env, port_file, std::to_string((*http)->port()) + "\n", false);
    if (!s.ok()) spdlog::warn("cannot write {}: {}", port_file, s.message());
  }
  struct pollfd stop = {signal_fd, POLLIN, 0};
  while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
  }
  spdlog::info("stopping the API");
  return pr::kExitOk;
}

}  // namespace

Result<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12 || text.size() - digits > 1) {
    return Status::InvalidArgument("duration '" + text + "': use a number with s, m, h or d (7d)");
  }
  int64_t n = std::stoll(text.substr(0, digits));
  char unit = digits < text.size() ? text[digits] : 's';
  switch (unit) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
  }
  return Status::InvalidArgument("duration '" + text + "': unknown unit '" + std::string(1, unit) +
                                 "' (s, m, h or d)");
}

int Main(Env* env, int argc, char** argv) {
  CLI::App app{"tm-sidecar: persists a Taskmaster step's journal to the stores", "tm-sidecar"};
  app.set_version_flag("--version", std::string("tm-sidecar ") + TM_VERSION);

  StoreFlags flags;
  SidecarOptions options;
  std::string role = "shard";
  std::string listen = "127.0.0.1:9464";
  std::string port_file;
  bool local = false;
  AddStoreFlags(&app, &flags);
  app.add_option("--work-dir", options.work_dir, "Work dir shared with tm-step")
      ->envname(pr::kEnvWorkDir)
      ->capture_default_str();
  app.add_option("--listen", listen, "Address for /healthz, /readyz, /metrics")
      ->envname("TM_LISTEN")
      ->capture_default_str();
  app.add_option("--port-file", port_file, "Write the bound HTTP port here");
  app.add_option("--state-key", options.state_key, "Workflow state key")->envname(pr::kEnvStateKey);
  app.add_option("--role", role, "init, shard or finalize")
      ->envname(pr::kEnvRole)
      ->check(CLI::IsMember({"init", "shard", "finalize"}))
      ->capture_default_str();
  app.add_option("--shard", options.shard, "0-based shard index")
      ->envname(pr::kEnvShard)
      ->check(CLI::NonNegativeNumber);
  app.add_option("--grace-seconds", options.grace_seconds, "Pod termination grace period")
      ->envname(pr::kEnvGraceSeconds)
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--progress-file", options.progress_file, "Argo progress file (N/M)")
      ->envname(pr::kEnvArgoProgressFile);
  app.add_option("--store-wait", options.store_wait_seconds, "Seconds to wait for the store at start")
      ->envname("TM_STORE_WAIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag("--local", local,
               "Local mode: fsync acks and restore files, ignore SIGINT, die with the parent");

  auto* migrate = app.add_subcommand("migrate", "Create or upgrade the store's schema");
  AddStoreFlags(migrate, &flags);

  std::string key;
  auto* rebuild = app.add_subcommand("rebuild-cache", "Refill Redis for KEY from the store");
  AddStoreFlags(rebuild, &flags);
  rebuild->add_option("key", key, "State key")->required();

  std::string older_than;
  auto* gc = app.add_subcommand("gc", "Delete finished workflows older than DURATION");
  AddStoreFlags(gc, &flags);
  gc->add_option("--older-than", older_than, "e.g. 30d")->required();

  int64_t ttl = kDefaultTtlSeconds;
  auto* expire = app.add_subcommand("expire", "Set the TTL of KEY's Redis keys (onExit)");
  AddStoreFlags(expire, &flags);
  expire->add_option("key", key, "State key")->required();
  expire->add_option("--ttl", ttl, "Seconds")->envname("TM_TTL")->check(CLI::PositiveNumber)
      ->capture_default_str();

  std::string api_listen = "127.0.0.1:8080";
  auto* api = app.add_subcommand("api", "Serve the HTTP API (/api/workflows/...)");
  AddStoreFlags(api, &flags);
  api->add_option("--listen", api_listen, "Address for the API, /healthz, /readyz, /metrics")
      ->envname("TM_LISTEN")
      ->capture_default_str();
  api->add_option("--port-file", port_file, "Write the bound HTTP port here");

  auto* status = app.add_subcommand("status", "Print KEY's progress as JSON");
  AddStoreFlags(status, &flags);
  status->add_option("key", key, "State key")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code == 0) return pr::kExitOk;
    std::cerr << "usage: tm-sidecar [store flags] [--work-dir DIR] [--listen ADDR] | migrate | "
                 "rebuild-cache KEY | gc --older-than D | expire KEY | status KEY | "
                 "api [--listen ADDR]\n";
    return pr::kExitUsage;
  }
  SetUpLogging("tm-sidecar");

  if (api->parsed()) return RunApi(env, flags, options, api_listen, port_file);
  if (migrate->parsed()) {
    auto store = OpenConfiguredStore(flags, nullptr);
    if (!store.ok()) return Usage(store.status());
    Status s = (*store)->Migrate();
    if (!s.ok()) {
      std::cerr << "tm-sidecar: migrate: " << s.ToString() << "\n";
      return s.IsInvalidArgument() ? pr::kExitUsage : pr::kExitFailed;
    }
    std::cout << "schema is current\n";
    return pr::kExitOk;
  }
  if (rebuild->parsed() || status->parsed()) {
    if (Status s = ValidateId(key, "state key"); !s.ok()) return Usage(s);
    auto store = OpenConfiguredStore(flags, nullptr);
    if (!store.ok()) return Usage(store.status());
    auto state = (*store)->LoadWorkflowState(key);
    if (!state.ok()) {
      std::cerr << "tm-sidecar: " << key << ": " << state.status().message() << "\n";
      return state.status().IsNotFound() ? pr::kExitUsage : pr::kExitFailed;
    }
    if (status->parsed()) {
      const TaskCounts& c = state->counts;
      const double percent =
          c.total > 0 ? 100.0 * static_cast<double>(c.succeeded + c.failed + c.cancelled) /
                            static_cast<double>(c.total)
                      : 0;
      std::string json = WorkflowStateToJson(*state);
      json.pop_back();  // '}': the progress joins the state document
      std::cout << json << ",\"percent\":" << fmt::format("{:.1f}", percent) << "}\n";
      return pr::kExitOk;
    }
    auto cache = OpenConfiguredCache(flags);
    if (!cache.ok()) return Usage(cache.status());
    if (!*cache) return Usage(Status::InvalidArgument("rebuild-cache needs --redis URL"));
    auto checkpoints = (*store)->LoadCheckpoints(key);
    if (!checkpoints.ok()) {
      std::cerr << "tm-sidecar: " << checkpoints.status().ToString() << "\n";
      return pr::kExitFailed;
    }
    auto doc = WorkflowCheckpointDocument(*state, 0, 0, env->NowUnixMillis());
    Status s = doc.ok() ? (*cache)->Publish(*state, *checkpoints, *doc) : doc.status();
    if (!s.ok()) {
      std::cerr << "tm-sidecar: rebuild-cache: " << s.ToString() << "\n";
      return pr::kExitFailed;
    }
    std::cout << "rebuilt the Redis keys of " << key << " (" << checkpoints->size()
              << " task checkpoints)\n";
    return pr::kExitOk;
  }
  if (expire->parsed()) {
    if (Status s = ValidateId(key, "state key"); !s.ok()) return Usage(s);
    auto cache = OpenConfiguredCache(flags);
    if (!cache.ok()) return Usage(cache.status());
    if (!*cache) {
      // The template's onExit runs expire whatever the stores: nothing to do is success.
      std::cout << "no Redis configured: nothing to expire\n";
      return pr::kExitOk;
    }
    Status s = (*cache)->Expire(key, ttl);
    if (!s.ok()) {
      std::cerr << "tm-sidecar: expire: " << s.ToString() << "\n";
      return pr::kExitFailed;
    }
    std::cout << "Redis keys of " << key << " expire in " << ttl << " s\n";
    return pr::kExitOk;
  }
  if (gc->parsed()) {
    auto seconds = ParseDurationSeconds(older_than);
    if (!seconds.ok()) return Usage(seconds.status().WithContext("--older-than"));
    auto store = OpenConfiguredStore(flags, nullptr);
    if (!store.ok()) return Usage(store.status());
    auto cache = OpenConfiguredCache(flags);
    if (!cache.ok()) return Usage(cache.status());
    auto deleted = (*store)->DeleteFinishedBefore(env->NowUnixMillis() - *seconds * 1000);
    if (!deleted.ok()) {
      std::cerr << "tm-sidecar: gc: " << deleted.status().ToString() << "\n";
      return pr::kExitFailed;
    }
    for (const std::string& id : *deleted) {
      if (*cache) {
        Status s = (*cache)->Delete(id);
        if (!s.ok()) spdlog::warn("gc: Redis keys of {} not deleted: {}", id, s.message());
      }
    }
    std::cout << "deleted " << deleted->size() << " finished workflows\n";
    return pr::kExitOk;
  }

  auto parsed_role = pr::ParseRole(role);
  if (!parsed_role.ok()) return Usage(parsed_role.status());
  options.role = *parsed_role;
  options.sync = local;
  if (options.state_key.empty()) return Usage(Status::InvalidArgument("--state-key is required"));
  return RunSidecar(env, flags, std::move(options), listen, port_file, local);
}

}  // namespace taskmaster::sidecar
