#include "api_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>
#include <string>

namespace taskmaster::sidecar {

namespace {

constexpr const char* kBearer = "Bearer ";

ApiResponse Unauthorized(const std::string& message, const std::string& challenge) {
  ApiResponse r = ApiError(401, message);
  r.headers.emplace_back("WWW-Authenticate", challenge);
  return r;
}

// The token of "Bearer <token>" (the scheme case-insensitive, RFC 7235);
// nullopt for another scheme or an empty token.
std::optional<std::string> BearerToken(const std::string& header) {
  const size_t n = std::char_traits<char>::length(kBearer);
  if (header.size() <= n) return std::nullopt;
  for (size_t i = 0; i < n; ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kBearer[i]))) {
      return std::nullopt;
    }
  }
  const size_t start = header.find_first_not_of(' ', n);
  if (start == std::string::npos) return std::nullopt;
  return header.substr(start);
}

}  // namespace

ApiAuth::Digest ApiAuth::Sha256(const std::string& text) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

Result<ApiAuth> ApiAuth::Load(Env* env, const ApiAuthOptions& options) {
  ApiAuth auth;
  auth.options_ = options;
  if (options.token_file.empty()) {
    if (options.auth_reads || options.auth_metrics) {
      return Status::InvalidArgument(
          std::string(options.auth_reads ? "--auth-reads" : "--auth-metrics") +
          " needs a token: give --token-file PATH");
    }
    return auth;
  }
  const std::string flag = "--token-file " + options.token_file;
  auto text = env->ReadFile(options.token_file);
  if (!text.ok())
    return Status::InvalidArgument(flag + ": cannot read it: " + text.status().message());
  std::string token = std::move(text).value();
  if (!token.empty() && token.back() == '\n') token.pop_back();
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) return Status::InvalidArgument(flag + ": the file is empty");
  for (const char c : token) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Status::InvalidArgument(flag +
                                     ": the token holds a space, a line break or a control "
                                     "character (one line of visible characters is expected)");
    }
  }
  auth.has_token_ = true;
  auth.token_digest_ = Sha256(token);
  return auth;
}

std::optional<ApiResponse> ApiAuth::Check(const std::string& method, const std::string& path,
                                          const std::string* authorization) const {
  if (path == "/healthz" || path == "/readyz") return std::nullopt;
  const bool read = method == "GET" || method == "HEAD";
  const bool needs_token = !read                ? true
                           : path == "/metrics" ? options_.auth_metrics
                                                : options_.auth_reads;
  if (!needs_token) return std::nullopt;
  if (!has_token_) {
    if (options_.loopback) return std::nullopt;
    return ApiError(403,
                    "writes are disabled: the server listens beyond loopback without a token "
                    "(give tm-sidecar api --token-file)");
  }
  if (authorization == nullptr) {
    return Unauthorized("missing Authorization header: send 'Authorization: Bearer <token>'",
                        "Bearer");
  }
  const std::optional<std::string> token = BearerToken(*authorization);
  if (!token) {
    return Unauthorized("malformed Authorization header: expected 'Bearer <token>'",
                        "Bearer error=\"invalid_request\"");
  }
  const Digest digest = Sha256(*token);
  if (CRYPTO_memcmp(digest.data(), token_digest_.data(), digest.size()) != 0) {
    ApiResponse r = ApiError(403, "wrong token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return r;
  }
  return std::nullopt;
}

}  // namespace taskmaster::sidecar
