// Where Redis is: the redis:// or unix:// URL of --redis / TM_REDIS_URL, and
// the timeouts a LiveCache uses with it.
#ifndef TASKMASTER_SIDECAR_CACHE_REDIS_URL_H_
#define TASKMASTER_SIDECAR_CACHE_REDIS_URL_H_

#include <chrono>
#include <string>
#include <string_view>

#include "taskmaster/status.h"

namespace taskmaster::sidecar {

// Where Redis is and how long to wait for it. Plain config: ParseRedisUrl fills
// the address; the timeouts are the caller's.
struct RedisConfig {
  // TCP when unix_path is empty.
  std::string host;
  int port = 6379;
  std::string unix_path;
  std::string username;  // empty: AUTH with the password alone
  std::string password;  // empty: no AUTH
  int db = 0;
  // Short: the cache is written on the flush path, and a Redis that does not
  // answer must not hold up acknowledging the step's records for long.
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds command_timeout{1000};

  // "host:port/db" or "unix:/path", for messages and logs; never the password.
  std::string Describe() const;
};

// Parses `redis://[[user]:password@]host[:port][/db]` (port 6379 and db 0 by
// default; an IPv6 host in brackets; user and password percent-decoded) or
// `unix:///absolute/path`. InvalidArgument naming the problem, never echoing
// the password; `rediss://` is refused because Debian's hiredis 0.14 has no TLS.
Result<RedisConfig> ParseRedisUrl(std::string_view url);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_CACHE_REDIS_URL_H_
