// Where the stores are: the --store / TM_STORE spec with its PostgreSQL DSN
// (sidecar/store/store_factory.h, parsed by libpq's PQconninfoParse) and the
// --redis / TM_REDIS_URL URL (sidecar/cache/redis_url.h). Both are tried on
// every input, as it is and behind each scheme, so that mutations reach the
// parts after the scheme. What logs show of a Redis URL never depends on its password.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cache/redis_url.h"
#include "store/store_factory.h"

namespace {

namespace sc = taskmaster::sidecar;

void ParseRedis(const std::string& url) {
  const auto config = sc::ParseRedisUrl(url);
  if (!config.ok()) return;
  if (config->port < 0 || config->port > 65535 || config->db < 0) std::abort();
  if (config->host.empty() == config->unix_path.empty()) std::abort();
  // Describe() is what logs show: it must not depend on the password.
  sc::RedisConfig without = *config;
  without.password = config->password.empty() ? "x" : "";
  if (without.Describe() != config->Describe()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* scheme : {"", "postgresql://", "postgres://", "sqlite:"}) {
    static_cast<void>(sc::ParseStoreConfig(scheme + text));
  }
  for (const char* scheme : {"", "redis://", "unix://"}) ParseRedis(scheme + text);
  return 0;
}
