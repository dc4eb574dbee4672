// `tm-sidecar api`: migrates the store, then serves the HTTP API (api.h) and
// /healthz, /readyz, /metrics until SIGTERM or SIGINT, behind the token and the
// limits its flags set (api_auth.h, http_server_request.h).
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <memory>

#include "api.h"
#include "api_auth.h"
#include "cache/backoff.h"
#include "commands/commands.h"
#include "http_server.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

// The flags of `api` besides the stores; the defaults are HttpLimits'.
struct ApiFlags {
  std::string listen = "127.0.0.1:8080";
  ApiAuthOptions auth;
  int64_t max_connections = HttpLimits().max_connections;
  int64_t max_body_bytes = static_cast<int64_t>(HttpLimits().max_body_bytes);
  int64_t max_url_bytes = static_cast<int64_t>(HttpLimits().max_url_bytes);
  int64_t max_header_bytes = static_cast<int64_t>(HttpLimits().max_header_bytes);
  int64_t max_headers = static_cast<int64_t>(HttpLimits().max_headers);
  double request_timeout_seconds = 30;  // checks::Duration gives plain seconds
};

// The limits the flags give; their ranges were checked with the flags.
HttpLimits LimitsOf(const ApiFlags& f) {
  HttpLimits limits;
  limits.max_connections = static_cast<int>(f.max_connections);
  limits.max_body_bytes = static_cast<uint64_t>(f.max_body_bytes);
  limits.max_url_bytes = static_cast<size_t>(f.max_url_bytes);
  limits.max_header_bytes = static_cast<size_t>(f.max_header_bytes);
  limits.max_headers = static_cast<size_t>(f.max_headers);
  limits.request_timeout_ms = static_cast<int64_t>(f.request_timeout_seconds * 1000);
  return limits;
}

int RunApi(Env* env, const StoreFlags& stores, SidecarOptions options, ApiFlags flags,
           const std::string& port_file) {
  const HttpLimits limits = LimitsOf(flags);
  flags.auth.loopback = IsLoopbackListen(flags.listen);
  auto auth = ApiAuth::Load(env, flags.auth);
  if (!auth.ok()) return Usage(auth.status());
  if (!auth->has_token() && !flags.auth.loopback) {
    spdlog::warn(
        "--listen {} is beyond loopback and there is no --token-file: reads are open to "
        "anyone who reaches it, writes are refused (403)",
        flags.listen);
  }
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
  auto http = HttpServer::Start(flags.listen, &metrics, &health, &api, &*auth, limits);
  if (!http.ok()) {
    spdlog::error("{}", http.status().message());
    return http.status().IsInvalidArgument() ? pr::kExitUsage : pr::kExitFailed;
  }
  spdlog::info("serving /api/workflows/... on port {} ({}{}; {})", (*http)->port(),
               options.store_name, *cache ? " + redis" : "",
               auth->has_token() ? "writes need the token" : "no token");
  WritePortFile(env, port_file, (*http)->port());
  struct pollfd stop = {signals.fd(), POLLIN, 0};
  while (::poll(&stop, 1, -1) < 0 && errno == EINTR) {
  }
  spdlog::info("stopping the API");
  return pr::kExitOk;
}

}  // namespace

Subcommand AddApiCommand(CLI::App* app, Env* env, StoreFlags* stores, SidecarFlags* sidecar) {
  auto f = std::make_shared<ApiFlags>();
  CLI::App* api = app->add_subcommand("api", "Serve the HTTP API (/api/workflows/...)");
  AddStoreFlags(api, stores);
  api->add_option("--listen", f->listen, "Address for the API, /healthz, /readyz, /metrics")
      ->envname("TM_LISTEN")
      ->check(checks::NonEmpty("an address (127.0.0.1:8080)"))
      ->capture_default_str();
  // The sidecar's --port-file and --store-wait, given before `api`, count too.
  api->add_option("--port-file", sidecar->port_file, "Write the bound HTTP port here")
      ->check(checks::NonEmpty("a file"));
  api->add_option("--token-file", f->auth.token_file,
                  "A file holding the bearer token every write must send")
      ->envname("TM_API_TOKEN_FILE")
      ->check(checks::NonEmpty("a file"));
  api->add_flag("--auth-reads", f->auth.auth_reads, "GETs under /api/ need the token too")
      ->envname("TM_API_AUTH_READS");
  api->add_flag("--auth-metrics", f->auth.auth_metrics, "GET /metrics needs the token too")
      ->envname("TM_API_AUTH_METRICS");
  api->add_option("--max-connections", f->max_connections,
                  "Requests served at once (1..10000); one more is answered 503")
      ->envname("TM_API_MAX_CONNECTIONS")
      ->check(checks::WholeNumber(1, 10000))
      ->capture_default_str();
  api->add_option("--max-body-bytes", f->max_body_bytes, "Largest request body (413 above)")
      ->envname("TM_API_MAX_BODY_BYTES")
      ->check(checks::WholeNumber(1, int64_t{1} << 30))
      ->capture_default_str();
  api->add_option("--max-url-bytes", f->max_url_bytes, "Longest request target (414 above)")
      ->envname("TM_API_MAX_URL_BYTES")
      ->check(checks::WholeNumber(64, kPocoMaxUrlBytes))
      ->capture_default_str();
  api->add_option("--max-header-bytes", f->max_header_bytes,
                  "Most bytes of header lines (431 above)")
      ->envname("TM_API_MAX_HEADER_BYTES")
      ->check(checks::WholeNumber(1024, 1 << 20))
      ->capture_default_str();
  api->add_option("--max-headers", f->max_headers, "Most header lines (431 above)")
      ->envname("TM_API_MAX_HEADERS")
      ->check(checks::WholeNumber(1, 1000))
      ->capture_default_str();
  api->add_option("--request-timeout", f->request_timeout_seconds,
                  "Time for a request's head and body to arrive (408 after), e.g. 30s")
      ->envname("TM_API_REQUEST_TIMEOUT")
      ->transform(checks::Duration(1, 3600))
      ->capture_default_str();
  return {api, [env, stores, sidecar, f] {
            return RunApi(env, *stores, sidecar->options, *f, sidecar->port_file);
          }};
}

}  // namespace taskmaster::sidecar
