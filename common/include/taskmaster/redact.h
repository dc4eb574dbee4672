// Hiding the passwords of store DSNs and URLs in text people see. A DSN may
// be given on tm-step local's command line, which it prints back ("resume with
// the same command"): what it prints goes through here first.
#ifndef TASKMASTER_COMMON_REDACT_H_
#define TASKMASTER_COMMON_REDACT_H_

#include <string>

namespace taskmaster {

// `text` with the password of every URL in it ("scheme://user:PASSWORD@host",
// and a "password=" query parameter) replaced by "***". Text without one is
// returned as it is.
std::string RedactPasswords(std::string text);

}  // namespace taskmaster

#endif  // TASKMASTER_COMMON_REDACT_H_
