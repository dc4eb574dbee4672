#include "taskmaster/redact.h"

#include <algorithm>
#include <string_view>

namespace taskmaster {

namespace {

constexpr std::string_view kMask = "***";

// Masks the password of the URL whose authority starts at `begin` (after
// "://"); returns where the authority ends in the new text.
size_t MaskUserinfo(std::string* text, size_t begin) {
  const size_t end =
      std::min(text->find_first_of("/?#", begin), text->find_first_of(" \t\n'\"", begin));
  const size_t authority_end = end == std::string::npos ? text->size() : end;
  // The last '@' ends the credentials: a password may hold an unescaped '@'.
  const size_t at = text->rfind('@', authority_end - 1);
  if (at == std::string::npos || at < begin) return authority_end;
  const size_t colon = text->find(':', begin);
  if (colon == std::string::npos || colon > at) return authority_end;
  text->replace(colon + 1, at - colon - 1, kMask);
  return authority_end - (at - colon - 1) + kMask.size();
}

// Masks every "password=VALUE" (a libpq URI parameter, a key=value DSN).
void MaskPasswordParameters(std::string* text) {
  constexpr std::string_view kKey = "password=";
  for (size_t at = text->find(kKey); at != std::string::npos; at = text->find(kKey, at + 1)) {
    const size_t value = at + kKey.size();
    size_t end = text->find_first_of("& \t\n'\"#", value);
    if (end == std::string::npos) end = text->size();
    text->replace(value, end - value, kMask);
  }
}

}  // namespace

std::string RedactPasswords(std::string text) {
  for (size_t scheme = text.find("://"); scheme != std::string::npos;
       scheme = text.find("://", scheme + 3)) {
    scheme = MaskUserinfo(&text, scheme + 3) - 3;
  }
  MaskPasswordParameters(&text);
  return text;
}

}  // namespace taskmaster
