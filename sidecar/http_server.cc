#include "http_server.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/Net/TCPServerParams.h>
#include <Poco/String.h>
#include <Poco/ThreadPool.h>
#include <Poco/Timestamp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

namespace taskmaster::sidecar {

// The server's parts every connection reads, and the connections in flight.
struct HttpServer::Shared {
  Metrics* metrics = nullptr;
  Health* health = nullptr;
  Api* api = nullptr;
  const ApiAuth* auth = nullptr;
  HttpLimits limits;
  std::mutex mu;
  // Under mu. Each accepted connection is admitted or not (then answered 503)
  // in the order they were accepted, by the acceptor, so that the order worker
  // threads happen to start in does not decide.
  std::map<int, bool> admission;  // socket -> admitted, until its connection ends
  int admitted = 0;               // connections admitted and not yet answered
  std::set<int> open_fds;         // sockets of the connections being served
  bool stopping = false;
};

namespace {

using Clock = std::chrono::steady_clock;
using Poco::Net::HTTPRequest;
using Poco::Net::HTTPResponse;

// Workers beyond max_connections, to answer the connections over it with a 503
// instead of leaving them queued.
constexpr int kSpareWorkers = 4;
// Connections accepted while every worker is busy wait in a queue this long;
// the acceptor closes those beyond at once.
constexpr int kMaxQueued = 64;
// After an answer, how long unread request bytes are drained so that closing
// does not reset the connection before the client reads the answer.
constexpr auto kLinger = std::chrono::milliseconds(1000);
constexpr size_t kMaxLingerBytes = size_t{1} << 20;

struct Reply {
  int status = 200;
  std::string type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

Reply FromApi(const ApiResponse& answer) {
  return Reply{answer.status, "application/json", answer.body + "\n", answer.headers};
}

// /healthz, /readyz, /metrics and 404 for anything else outside /api/.
Reply Route(const HttpServer::Shared& shared, const std::string& method, const std::string& path) {
  if (method != "GET" && method != "HEAD") {
    return Reply{405,
                 "application/json",
                 "{\"error\":\"method not allowed\",\"status\":405}\n",
                 {{"Allow", "GET, HEAD"}}};
  }
  if (path == "/healthz") return Reply{200, "application/json", "{\"status\":\"ok\"}\n", {}};
  if (path == "/readyz") {
    const Health& h = *shared.health;
    const bool ready = h.restored && h.store_up;
    return Reply{ready ? 200 : 503,
                 "application/json",
                 std::string(R"({"ready":)") + (ready ? "true" : "false") + R"(,"restored":)" +
                     (h.restored ? "true" : "false") + R"(,"store_up":)" +
                     (h.store_up ? "true" : "false") + "}\n",
                 {}};
  }
  if (path == "/metrics") {
    return Reply{200, "text/plain; version=0.0.4; charset=utf-8", shared.metrics->Render(), {}};
  }
  return Reply{404, "application/json", "{\"error\":\"not found\",\"status\":404}\n", {}};
}

// One connection: one request read within the deadline, answered, closed.
class Connection : public Poco::Net::TCPServerConnection {
 public:
  Connection(const Poco::Net::StreamSocket& socket, HttpServer::Shared* shared)
      : TCPServerConnection(socket), shared_(shared), fd_(this->socket().impl()->sockfd()) {}

  void run() override {
    bool admitted = false;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      const auto it = shared_->admission.find(fd_);
      if (shared_->stopping || it == shared_->admission.end()) return;
      admitted = it->second;
      shared_->open_fds.insert(fd_);
    }
    const auto timeout = std::chrono::milliseconds(shared_->limits.request_timeout_ms);
    deadline_ = Clock::now() + timeout;
    struct timeval tv = {static_cast<time_t>(timeout.count() / 1000),
                         static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (admitted) {
      // Whatever a handler throws, the slot below is still given back.
      try {
        Serve();
      } catch (const std::exception& e) {
        spdlog::error("HTTP request: {}", e.what());
        Send(nullptr, FromApi(ApiError(500, "internal error")));
      }
    } else {
      Reply busy = FromApi(
          ApiError(503, "too many connections: " + std::to_string(shared_->limits.max_connections) +
                            " are being served; try again"));
      busy.headers.emplace_back("Retry-After", "1");
      Send(nullptr, busy);
    }
    {
      // Answered: the slot is free before the client sees the connection end,
      // so a client that read the answer to its end finds it free.
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (admitted) --shared_->admitted;
    }
    Linger();
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->open_fds.erase(fd_);
    shared_->admission.erase(fd_);
  }

 private:
  void Serve() {
    const HttpLimits& limits = shared_->limits;
    HeadScan scan;
    while (!(scan = ScanRequestHead(in_, limits)).refusal && scan.end == 0) {
      if (!Receive()) return TimedOut(nullptr);
    }
    if (scan.refusal) return Send(nullptr, FromApi(*scan.refusal));
    HTTPRequest request;
    if (auto bad = ParseRequestHead(std::string_view(in_).substr(0, scan.end), &request)) {
      return Send(nullptr, FromApi(*bad));
    }
    in_.erase(0, scan.end);
    const std::string& method = request.getMethod();
    const std::string& target = request.getURI();
    const std::string path = target.substr(0, target.find('?'));
    if (shared_->auth != nullptr) {
      const std::string* authorization =
          request.has("Authorization") ? &request.get("Authorization") : nullptr;
      if (auto denied = shared_->auth->Check(method, path, authorization)) {
        return Send(&request, FromApi(*denied));
      }
    }
    if (shared_->api == nullptr || path.rfind("/api/", 0) != 0) {
      return Send(&request, Route(*shared_, method, path));
    }
    std::string body;
    if (method == "POST") {
      std::optional<std::string> read = ReadBody(request);
      if (!read) return;
      body = std::move(read).value();
    }
    Send(&request, FromApi(shared_->api->Handle(method, target, body)));
  }

  // The body of a POST: by its Content-Length, refused (413) before any of it
  // is read when declared over the bound, or chunked, refused as soon as its
  // chunks pass the bound. nullopt when an answer was sent instead.
  std::optional<std::string> ReadBody(const HTTPRequest& request) {
    const uint64_t max = shared_->limits.max_body_bytes;
    const bool chunked = request.getChunkedTransferEncoding();
    int64_t length = 0;
    if (!chunked) {
      if (!request.hasContentLength()) {
        Send(&request, FromApi(ApiError(411, "a request body needs a Content-Length")));
        return std::nullopt;
      }
      length = request.getContentLength64();
      if (length < 0 || static_cast<uint64_t>(length) > max) {
        Send(&request, FromApi(ApiError(413, "request body of " + std::to_string(length) +
                                                 " bytes is over the limit of " +
                                                 std::to_string(max) + " bytes")));
        return std::nullopt;
      }
    }
    if (Poco::icompare(request.get("Expect", ""), "100-continue") == 0) {
      SendBytes("HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (!chunked) {
      while (in_.size() < static_cast<uint64_t>(length)) {
        if (!Receive()) {
          CutShort(request, "request body shorter than its Content-Length");
          return std::nullopt;
        }
      }
      in_.resize(static_cast<size_t>(length));
      return std::move(in_);
    }
    ChunkedBody decoder(max);
    while (!decoder.Feed(in_)) {
      in_.clear();
      if (decoder.refusal()) {
        Send(&request, FromApi(*decoder.refusal()));
        return std::nullopt;
      }
      if (!Receive()) {
        CutShort(request, "chunked request body cut short");
        return std::nullopt;
      }
    }
    in_.clear();
    return std::move(decoder.body());
  }

  // Appends what arrives next to in_, waiting until the deadline; false at the
  // deadline (timed_out_), the end of the stream or an error.
  bool Receive() {
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      if (left.count() <= 0) {
        timed_out_ = true;
        return false;
      }
      struct pollfd p = {fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
      if (ready < 0 && errno != EINTR) return false;
      if (ready <= 0) continue;
      char buf[65536];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return false;
      in_.append(buf, static_cast<size_t>(n));
      return true;
    }
  }

  // A request that did not arrive in time is answered 408, so that the client
  // learns why; one that was cut short is not answered.
  void TimedOut(const HTTPRequest* request) {
    if (!timed_out_) return;
    Send(request,
         FromApi(ApiError(408, "request not received within " +
                                   std::to_string(shared_->limits.request_timeout_ms / 1000) +
                                   " s (--request-timeout)")));
  }

  // A body that stopped coming: 408 at the deadline, else a 400 saying why
  // (a client that half-closed still reads it).
  void CutShort(const HTTPRequest& request, const std::string& why) {
    if (timed_out_) return TimedOut(&request);
    Send(&request, FromApi(ApiError(400, why)));
  }

  // The answer as Poco writes it: the request's version, Date, Connection:
  // close, the reply's headers, its type and length, and its body unless HEAD.
  void Send(const HTTPRequest* request, const Reply& reply) {
    HTTPResponse response;
    response.setVersion(request != nullptr ? request->getVersion() : HTTPResponse::HTTP_1_1);
    response.setStatusAndReason(static_cast<HTTPResponse::HTTPStatus>(reply.status));
    response.setDate(Poco::Timestamp());
    response.setKeepAlive(false);
    for (const auto& [name, value] : reply.headers) response.set(name, value);
    response.setContentType(reply.type);
    response.setContentLength(static_cast<std::streamsize>(reply.body.size()));
    std::ostringstream head;
    response.write(head);
    std::string bytes = head.str();
    if (request == nullptr || request->getMethod() != HTTPRequest::HTTP_HEAD) bytes += reply.body;
    SendBytes(bytes);
  }

  void SendBytes(const std::string& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // gone, or not reading within the send timeout
      sent += static_cast<size_t>(n);
    }
  }

  // Half-closes, then reads what the client still sends for a moment, so that
  // its unread bytes do not turn the close into a reset that loses the answer.
  void Linger() {
    ::shutdown(fd_, SHUT_WR);
    deadline_ = std::min(deadline_, Clock::now() + kLinger);
    deadline_ = std::max(deadline_, Clock::now() + kLinger / 10);
    in_.clear();
    while (in_.size() < kMaxLingerBytes && Receive()) in_.clear();
  }

  HttpServer::Shared* shared_;
  int fd_;
  Clock::time_point deadline_;
  bool timed_out_ = false;
  std::string in_;  // received and not yet consumed
};

// Runs on the acceptor thread, for each connection in turn: admits it while
// fewer than max_connections are, else marks it for a 503; closes it at once
// when even the queue is full.
class Admission : public Poco::Net::TCPServerConnectionFilter {
 public:
  explicit Admission(HttpServer::Shared* shared) : shared_(shared) {}
  bool accept(const Poco::Net::StreamSocket& socket) override {
    std::lock_guard<std::mutex> lock(shared_->mu);
    const int max = shared_->limits.max_connections;
    if (shared_->stopping ||
        static_cast<int>(shared_->admission.size()) >= max + kSpareWorkers + kMaxQueued) {
      return false;
    }
    const bool admitted = shared_->admitted < max;
    if (admitted) ++shared_->admitted;
    shared_->admission[socket.impl()->sockfd()] = admitted;
    return true;
  }

 private:
  HttpServer::Shared* shared_;
};

class ConnectionFactory : public Poco::Net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactory(HttpServer::Shared* shared) : shared_(shared) {}
  Poco::Net::TCPServerConnection* createConnection(const Poco::Net::StreamSocket& socket) override {
    return new Connection(socket, shared_);
  }

 private:
  HttpServer::Shared* shared_;
};

}  // namespace

bool IsLoopbackListen(const std::string& listen) {
  try {
    return Poco::Net::SocketAddress(listen).host().isLoopback();
  } catch (const Poco::Exception&) {
    return false;
  }
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen, Metrics* metrics,
                                                      Health* health, Api* api, const ApiAuth* auth,
                                                      const HttpLimits& limits) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->shared_ = std::make_unique<Shared>();
  Shared& shared = *server->shared_;
  shared.metrics = metrics;
  shared.health = health;
  shared.api = api;
  shared.auth = auth;
  shared.limits = limits;
  const int workers = limits.max_connections + kSpareWorkers;
  try {
    Poco::Net::SocketAddress address(listen);
    Poco::Net::ServerSocket socket(address);
    server->port_ = socket.address().port();
    server->listen_fd_ = socket.impl()->sockfd();
    server->pool_ = std::make_unique<Poco::ThreadPool>("http", 1, workers);
    auto* params = new Poco::Net::TCPServerParams();
    params->setMaxThreads(workers);
    // Admission bounds the queue first: Poco never drops a connection it admitted.
    params->setMaxQueued(workers + kMaxQueued);
    server->server_ = std::make_unique<Poco::Net::TCPServer>(new ConnectionFactory(&shared),
                                                             *server->pool_, socket, params);
    server->server_->setConnectionFilter(new Admission(&shared));
    server->server_->start();
  } catch (const Poco::Net::InvalidAddressException& e) {
    return Status::InvalidArgument("--listen " + listen + ": " + e.displayText());
  } catch (const Poco::Exception& e) {
    return Status::IOError("--listen " + listen + ": " + e.displayText());
  }
  return server;
}

HttpServer::~HttpServer() {
  if (!server_) return;
  // Poco's acceptor polls its socket every 250 ms and only then sees a stop:
  // shutting the listening socket down wakes it at once, so a sidecar exits
  // promptly after SIGTERM instead of a quarter second later.
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  server_->stop();
  {
    // Requests in flight see their sockets end and return.
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stopping = true;
    for (const int fd : shared_->open_fds) ::shutdown(fd, SHUT_RDWR);
  }
  pool_->joinAll();
}

}  // namespace taskmaster::sidecar
