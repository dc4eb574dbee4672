// What the tests of `tm-sidecar api` share: a running API server on a free
// loopback port, curl as the seed's tool, and checks of JSON answers.
#ifndef TASKMASTER_TESTS_E2E_API_CLIENT_H_
#define TASKMASTER_TESTS_E2E_API_CLIENT_H_

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace taskmaster::e2e {

// A running `tm-sidecar api` on 127.0.0.1 (a free port unless `extra` gives
// another --listen), its logs in dir; `extra` flags and `env` added.
class ApiServer {
 public:
  ApiServer(const std::string& dir, const StoreSpec& store,
            const std::vector<std::string>& extra = {}, const EnvVars& env = {});
  uint16_t port() const { return port_; }
  std::string Url(const std::string& path) const {
    return "http://localhost:" + std::to_string(port_) + path;
  }
  // SIGTERM; the exit code (the test fails when it does not exit in time).
  int Stop();
  std::string Logs() const { return process_->err(); }

 private:
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
};

struct CurlResult {
  int status = 0;
  std::string body;
};

// curl (the seed's tool) with `args`, plus -s and the status code written after
// the body.
CurlResult Curl(const std::string& args);

rapidjson::Document Parse(const std::string& text);
std::string Str(const rapidjson::Document& doc, const char* name);
int64_t Int(const rapidjson::Document& doc, const char* name);

// An error answer: the status, and JSON {"error": ..., "status": ...} naming it.
void CheckError(const CurlResult& r, int status, const std::string& message_part);

}  // namespace taskmaster::e2e

#endif  // TASKMASTER_TESTS_E2E_API_CLIENT_H_
