#include "cache/redis_url.h"

#include <climits>
#include <optional>
#include <string>

namespace taskmaster::sidecar {
namespace {

constexpr std::string_view kUrlForms =
    "expected redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket";

Status BadUrl(const std::string& problem) {
  return Status::InvalidArgument("redis URL: " + problem + " (" + std::string(kUrlForms) + ")");
}

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Credentials in a URL escape their reserved characters ('@', ':', '/') as %XX.
Result<std::string> PercentDecode(std::string_view text, const char* what) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
    const int lo = hi >= 0 ? HexValue(text[i + 2]) : -1;
    if (lo < 0) {
      return BadUrl(std::string("the ") + what + " holds a '%' not followed by two hex digits");
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// Digits only, no sign, at most `max`.
std::optional<int64_t> ParseBoundedInt(std::string_view text, int64_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

Status ParseHostPort(std::string_view hostport, RedisConfig* config) {
  std::string_view port_text;
  bool has_port = false;
  if (StartsWith(hostport, "[")) {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) {
      return BadUrl("'[' opens an IPv6 address that ']' never closes");
    }
    config->host = std::string(hostport.substr(1, close - 1));
    const std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return BadUrl("expected ':port' after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = hostport.find(':');
    if (colon != std::string_view::npos &&
        hostport.find(':', colon + 1) != std::string_view::npos) {
      return BadUrl("an IPv6 address goes in brackets, as in redis://[::1]:6379");
    }
    config->host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = hostport.substr(colon + 1);
    }
  }
  if (config->host.empty()) return BadUrl("missing host");
  if (has_port) {
    const std::optional<int64_t> port = ParseBoundedInt(port_text, 65535);
    if (!port || *port == 0) {
      return BadUrl("port '" + std::string(port_text) + "' is not a number from 1 to 65535");
    }
    config->port = static_cast<int>(*port);
  }
  return Status::OK();
}

}  // namespace

std::string RedisConfig::Describe() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

Result<RedisConfig> ParseRedisUrl(std::string_view url) {
  if (StartsWith(url, "rediss://")) {
    return Status::InvalidArgument(
        "redis URL: rediss:// (TLS) is not supported: Debian's hiredis 0.14 has no TLS. Use "
        "redis:// on a trusted network, or reach Redis through a TLS tunnel (stunnel, a service "
        "mesh)");
  }
  RedisConfig config;
  if (StartsWith(url, "unix://")) {
    const std::string_view path = url.substr(std::string_view("unix://").size());
    if (!StartsWith(path, "/")) return BadUrl("the unix socket path must be absolute");
    config.unix_path = std::string(path);
    return config;
  }
  if (!StartsWith(url, "redis://")) {
    const size_t scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return BadUrl("missing scheme");
    return BadUrl("unsupported scheme '" + std::string(url.substr(0, scheme_end)) + "'");
  }
  const std::string_view rest = url.substr(std::string_view("redis://").size());
  const size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  const std::string_view tail =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  // The last '@' ends the credentials: a password may hold an unescaped '@'.
  const size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return BadUrl("credentials go as ':password@' or 'user:password@'");
    }
    Result<std::string> user = PercentDecode(userinfo.substr(0, colon), "user name");
    if (!user.ok()) return user.status();
    Result<std::string> password = PercentDecode(userinfo.substr(colon + 1), "password");
    if (!password.ok()) return password.status();
    if (password->empty()) return BadUrl("empty password");
    config.username = std::move(*user);
    config.password = std::move(*password);
    authority = authority.substr(at + 1);
  }
  TM_RETURN_IF_ERROR(ParseHostPort(authority, &config));

  if (tail.find_first_of("?#") != std::string_view::npos) {
    return BadUrl("query strings and fragments are not supported");
  }
  if (!tail.empty()) {
    const std::string_view db_text = tail.substr(1);  // after the '/'
    if (!db_text.empty()) {
      const std::optional<int64_t> db = ParseBoundedInt(db_text, INT_MAX);
      if (!db) {
        return BadUrl("database '" + std::string(db_text) + "' is not a non-negative integer");
      }
      config.db = static_cast<int>(*db);
    }
  }
  return config;
}

}  // namespace taskmaster::sidecar
