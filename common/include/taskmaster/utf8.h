// UTF-8 as Unicode defines it (Table 3-7, "Well-Formed UTF-8 Byte Sequences"):
// the one decoder every reader of untrusted text uses. Refused are overlong
// forms, UTF-16 surrogates (U+D800..U+DFFF), code points above U+10FFFF,
// truncated sequences and bytes that never occur in UTF-8. NUL is U+0000 and
// valid. Pure functions: thread-safe, nothing owned.
#ifndef TASKMASTER_UTF8_H_
#define TASKMASTER_UTF8_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace taskmaster {

// U+FFFD REPLACEMENT CHARACTER, encoded.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// Decodes the sequence that starts at text[*pos] (*pos < text.size()). Returns
// the code point and advances *pos past the sequence, or returns nullopt and
// leaves *pos unchanged when no well-formed sequence starts there.
std::optional<char32_t> DecodeUtf8(std::string_view text, size_t* pos);

// A copy of text in which each byte that starts no well-formed sequence is
// replaced by U+FFFD, one replacement per byte; well-formed sequences are
// copied unchanged. The result is valid UTF-8, so it can be written as JSON
// or stored as text.
std::string ReplaceInvalidUtf8(std::string_view text);

// The longest prefix of `text` of at most max_bytes that does not end inside a
// character: cut before the continuation bytes (10xxxxxx) at the bound. For
// valid UTF-8 the result is valid UTF-8.
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);

}  // namespace taskmaster

#endif  // TASKMASTER_UTF8_H_
