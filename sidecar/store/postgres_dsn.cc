#include "store/postgres_dsn.h"

#include <libpq-fe.h>

#include <memory>
#include <string_view>

namespace taskmaster::sidecar {
namespace {

struct ConninfoFreer {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};

// libpq's message about a DSN it cannot parse, without the DSN or its
// password, which libpq quotes.
std::string RedactDsn(std::string message, const std::string& dsn) {
  const auto replace_all = [&message](const std::string& secret, const std::string& mask) {
    if (secret.empty()) return;
    for (size_t at = message.find(secret); at != std::string::npos;
         at = message.find(secret, at + mask.size())) {
      message.replace(at, secret.size(), mask);
    }
  };
  replace_all(dsn, "<the DSN>");
  const size_t begin = dsn.find("://") + 3;
  const size_t at = dsn.rfind('@');
  if (at != std::string::npos && at > begin) {
    const size_t colon = dsn.find(':', begin);
    if (colon < at) replace_all(dsn.substr(colon + 1, at - colon - 1), "***");
  }
  return message;
}

}  // namespace

std::string TrimLibpqMessage(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Status ValidatePostgresDsn(const std::string& dsn) {
  const std::string_view text(dsn);
  if (text.rfind("postgresql://", 0) != 0 && text.rfind("postgres://", 0) != 0) {
    return Status::InvalidArgument(
        "a PostgreSQL DSN must be a URI starting with postgresql:// or postgres:// "
        "(like postgresql://user:password@host:5432/dbname)");
  }
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoFreer> parsed(PQconninfoParse(dsn.c_str(), &error));
  if (parsed == nullptr) {
    const std::string why = error != nullptr ? TrimLibpqMessage(error) : "out of memory";
    PQfreemem(error);
    return Status::InvalidArgument("invalid PostgreSQL DSN: " + RedactDsn(why, dsn));
  }
  return Status::OK();
}

}  // namespace taskmaster::sidecar
