#include "http_server.h"

#include <sys/socket.h>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <optional>

namespace taskmaster::sidecar {

namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

void Send(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& type,
          const std::string& body) {
  response.setStatusAndReason(status);
  response.setContentType(type);
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

void SendJson(HTTPServerResponse& response, HTTPResponse::HTTPStatus status,
              const std::string& body) {
  Send(response, status, "application/json", body + "\n");
}

void SendApi(HTTPServerResponse& response, const ApiResponse& answer) {
  for (const auto& [name, value] : answer.headers) response.set(name, value);
  SendJson(response, static_cast<HTTPResponse::HTTPStatus>(answer.status), answer.body);
}

// The body of an /api/ request: only a POST has one, read only when its
// declared length is within the bound; nullopt when an error was sent instead.
std::optional<std::string> ReadBody(HTTPServerRequest& request, HTTPServerResponse& response) {
  if (request.getMethod() != "POST") return std::string();
  if (!request.hasContentLength()) {
    SendApi(response, ApiError(411, "a request body needs a Content-Length"));
    return std::nullopt;
  }
  const auto length = request.getContentLength64();
  if (length < 0 || static_cast<uint64_t>(length) > kMaxApiBodyBytes) {
    SendApi(response, ApiError(413, "request body of " + std::to_string(length) +
                                        " bytes is over the limit of " +
                                        std::to_string(kMaxApiBodyBytes) + " bytes"));
    return std::nullopt;
  }
  std::string body(static_cast<size_t>(length), '\0');
  request.stream().read(body.data(), static_cast<std::streamsize>(body.size()));
  if (request.stream().gcount() != static_cast<std::streamsize>(body.size())) {
    SendApi(response, ApiError(400, "request body shorter than its Content-Length"));
    return std::nullopt;
  }
  return body;
}

class Handler : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(Metrics* metrics, Health* health, Api* api)
      : metrics_(metrics), health_(health), api_(api) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const std::string& path = request.getURI();
    if (api_ != nullptr && path.rfind("/api/", 0) == 0) {
      try {
        std::optional<std::string> body = ReadBody(request, response);
        if (body) SendApi(response, api_->Handle(request.getMethod(), path, *body));
      } catch (const Poco::Exception& e) {
        // A client that stalled or went away while sending its body.
        if (!response.sent()) SendApi(response, ApiError(400, "request: " + e.displayText()));
      }
      return;
    }
    if (request.getMethod() != "GET" && request.getMethod() != "HEAD") {
      response.set("Allow", "GET, HEAD");
      SendJson(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED,
               R"({"error":"method not allowed","status":405})");
      return;
    }
    const std::string route = path.substr(0, path.find('?'));
    if (route == "/healthz") {
      SendJson(response, HTTPResponse::HTTP_OK, R"({"status":"ok"})");
    } else if (route == "/readyz") {
      const bool ready = health_->restored && health_->store_up;
      SendJson(response, ready ? HTTPResponse::HTTP_OK : HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
               std::string(R"({"ready":)") + (ready ? "true" : "false") +
                   R"(,"restored":)" + (health_->restored ? "true" : "false") +
                   R"(,"store_up":)" + (health_->store_up ? "true" : "false") + "}");
    } else if (route == "/metrics") {
      Send(response, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
           metrics_->Render());
    } else {
      SendJson(response, HTTPResponse::HTTP_NOT_FOUND, R"({"error":"not found","status":404})");
    }
  }

 private:
  Metrics* metrics_;
  Health* health_;
  Api* api_;
};

class Factory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(Metrics* metrics, Health* health, Api* api)
      : metrics_(metrics), health_(health), api_(api) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(metrics_, health_, api_);
  }

 private:
  Metrics* metrics_;
  Health* health_;
  Api* api_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& listen, Metrics* metrics,
                                                      Health* health, Api* api) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  try {
    Poco::Net::SocketAddress address(listen);
    Poco::Net::ServerSocket socket(address);
    server->port_ = socket.address().port();
    server->listen_fd_ = socket.impl()->sockfd();
    auto* params = new Poco::Net::HTTPServerParams();
    params->setMaxThreads(4);
    params->setMaxQueued(32);
    params->setKeepAlive(false);
    server->server_ = std::make_unique<Poco::Net::HTTPServer>(
        new Factory(metrics, health, api), socket, params);
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
  server_->stopAll(true);
}

}  // namespace taskmaster::sidecar
