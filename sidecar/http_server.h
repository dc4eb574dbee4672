// The sidecar's HTTP endpoints (Poco): /healthz, /readyz and /metrics (DESIGN.md
// §7), and, when given an Api (`tm-sidecar api`), everything under /api/ (api.h).
// Request bodies are bounded (kMaxApiBodyBytes, Content-Length required); errors
// are JSON with a status. Binds loopback unless told otherwise. Owns its
// threads; the destructor joins them.
#ifndef TASKMASTER_SIDECAR_HTTP_SERVER_H_
#define TASKMASTER_SIDECAR_HTTP_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "api.h"
#include "metrics.h"
#include "sidecar.h"
#include "taskmaster/status.h"

namespace Poco::Net {
class HTTPServer;
}

namespace taskmaster::sidecar {

class HttpServer {
 public:
  // listen is "host:port" (port 0 picks a free one). InvalidArgument for a bad
  // address, IOError when it cannot bind. api may be null (no /api/ routes);
  // it must outlive the server.
  static Result<std::unique_ptr<HttpServer>> Start(const std::string& listen, Metrics* metrics,
                                                   Health* health, Api* api = nullptr);
  ~HttpServer();
  uint16_t port() const { return port_; }

 private:
  HttpServer() = default;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  int listen_fd_ = -1;  // owned by server_; shut down to wake its acceptor at Stop
  uint16_t port_ = 0;
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_HTTP_SERVER_H_
