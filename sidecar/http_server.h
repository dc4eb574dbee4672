// The sidecar's HTTP endpoints: /healthz, /readyz and /metrics (DESIGN.md §7),
// and, when given an Api (`tm-sidecar api`), everything under /api/ (api.h).
//
// Each connection carries one request (Connection: close) and is served on a
// worker thread of its own, reading with a deadline: the head and body must
// arrive within HttpLimits::request_timeout_ms, so a client that sends a byte a
// second holds its worker only that long (408) while others are answered. The
// limits of http_server_request.h are checked as bytes arrive (414, 431, 413,
// before a body is read); an ApiAuth, when given, before any routing (401/403).
// Connections are admitted in the order they were accepted; those beyond
// max_connections are answered 503 at once. Errors are JSON with a status.
// Binds loopback unless told otherwise.
//
// Owns its threads; the destructor stops accepting, ends the requests in flight
// by shutting their sockets down, and joins them.
#ifndef TASKMASTER_SIDECAR_HTTP_SERVER_H_
#define TASKMASTER_SIDECAR_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "api.h"
#include "api_auth.h"
#include "http_server_request.h"
#include "metrics.h"
#include "sidecar.h"
#include "taskmaster/status.h"

namespace Poco {
class ThreadPool;
namespace Net {
class TCPServer;
}
}  // namespace Poco

namespace taskmaster::sidecar {

class HttpServer {
 public:
  // listen is "host:port" (port 0 picks a free one). InvalidArgument for a bad
  // address, IOError when it cannot bind. api and auth may be null (no /api/
  // routes; nobody is asked for a token); both must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& listen, Metrics* metrics,
                                                   Health* health, Api* api = nullptr,
                                                   const ApiAuth* auth = nullptr,
                                                   const HttpLimits& limits = HttpLimits());
  ~HttpServer();
  uint16_t port() const { return port_; }

  struct Shared;  // what the connections share (http_server.cc)

 private:
  HttpServer() = default;
  // Destroyed in reverse: the server (its acceptor) first, the pool it runs
  // connections on next, what they share last.
  std::unique_ptr<Shared> shared_;
  std::unique_ptr<Poco::ThreadPool> pool_;
  std::unique_ptr<Poco::Net::TCPServer> server_;
  int listen_fd_ = -1;  // owned by server_; shut down to wake its acceptor at Stop
  uint16_t port_ = 0;
};

// True when `listen` ("host:port") names a loopback address only (127.0.0.0/8,
// ::1, or a name resolving to one); false for any other or unparsable address.
bool IsLoopbackListen(const std::string& listen);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_HTTP_SERVER_H_
