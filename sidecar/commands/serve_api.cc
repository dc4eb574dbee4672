// `tm-sidecar api`: migrates the store, then serves the HTTP API (api.h) and
// /healthz, /readyz, /metrics until SIGTERM or SIGINT.
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <memory>

#include "api.h"
#include "cache/backoff.h"
#include "commands/commands.h"
#include "http_server.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

int RunApi(Env* env, const StoreFlags& stores, SidecarOptions options, const std::string& listen,
           const std::string& port_file) {
  auto config = ConfiguredStore(stores, &options.store_name);
  if (!config.ok()) return Usage(config.status());
  auto cache = OpenConfiguredCache(stores);
  if (!cache.ok()) return Usage(cache.status());
  SignalFd signals({SIGTERM, SIGINT});
  Metrics metrics;
  Health health;
  auto store = OpenStoreWaiting(env, *config, options, &signals, &metrics);
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
  WritePortFile(env, port_file, (*http)->port());
  struct pollfd stop = {signals.fd(), POLLIN, 0};
  while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
  }
  spdlog::info("stopping the API");
  return pr::kExitOk;
}

}  // namespace

Subcommand AddApiCommand(CLI::App* app, Env* env, StoreFlags* stores, SidecarFlags* sidecar) {
  auto listen = std::make_shared<std::string>("127.0.0.1:8080");
  CLI::App* api = app->add_subcommand("api", "Serve the HTTP API (/api/workflows/...)");
  AddStoreFlags(api, stores);
  api->add_option("--listen", *listen, "Address for the API, /healthz, /readyz, /metrics")
      ->envname("TM_LISTEN")
      ->check(checks::NonEmpty("an address (127.0.0.1:8080)"))
      ->capture_default_str();
  // The sidecar's --port-file and --store-wait, given before `api`, count too.
  api->add_option("--port-file", sidecar->port_file, "Write the bound HTTP port here")
      ->check(checks::NonEmpty("a file"));
  return {api, [env, stores, sidecar, listen] {
            return RunApi(env, *stores, sidecar->options, *listen, sidecar->port_file);
          }};
}

}  // namespace taskmaster::sidecar
