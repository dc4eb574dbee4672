// Who may call the sidecar's HTTP server (README.md "HTTP API"): a bearer token
// read from a file at start, checked on every write (any method but GET and
// HEAD) and, when asked, on reads under /api/ and on /metrics. /healthz and
// /readyz stay open, for the kubelet's probes. Without a token, writes are
// allowed only to a server that listens on loopback: a Deployment behind a
// Service is not writable by anyone by default.
//
// The token is kept as its SHA-256 digest; a presented token is hashed the same
// way and the two digests compared with OpenSSL's CRYPTO_memcmp, so neither the
// time taken nor the length compared depends on where the tokens differ.
//
// Immutable after Load: Check may be called from any thread.
#ifndef TASKMASTER_SIDECAR_API_AUTH_H_
#define TASKMASTER_SIDECAR_API_AUTH_H_

#include <array>
#include <optional>
#include <string>

#include "api.h"
#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster::sidecar {

struct ApiAuthOptions {
  std::string token_file;     // empty: no token
  bool auth_reads = false;    // GET/HEAD under /api/ need the token too
  bool auth_metrics = false;  // GET /metrics needs the token too
  bool loopback = true;       // the server listens on a loopback address only
};

class ApiAuth {
 public:
  // Reads the token file (one trailing "\n" or "\r\n" stripped). InvalidArgument
  // naming the flag for an unreadable or empty file, a token with a space or a
  // control character, or --auth-reads / --auth-metrics without a token.
  static Result<ApiAuth> Load(Env* env, const ApiAuthOptions& options);

  // nullopt when the request may go on; else the answer: 401 (with
  // WWW-Authenticate: Bearer) without a well-formed Authorization header, 403
  // for a wrong token or a write no token can allow. `path` is without its
  // query; `authorization` the header's value, nullptr when absent.
  std::optional<ApiResponse> Check(const std::string& method, const std::string& path,
                                   const std::string* authorization) const;

  bool has_token() const { return has_token_; }

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest Sha256(const std::string& text);

  ApiAuthOptions options_;
  bool has_token_ = false;
  Digest token_digest_{};
};

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_API_AUTH_H_
