#include "taskmaster/utf8.h"

namespace taskmaster {

std::optional<char32_t> DecodeUtf8(std::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const size_t start = *pos;
  const unsigned char lead = byte(start);
  if (lead < 0x80) {
    *pos = start + 1;
    return lead;
  }
  // Table 3-7: the lead byte fixes the length, and for some leads the second
  // byte has a narrower range than 80..BF; that is what rules out overlong
  // forms, surrogates and code points above U+10FFFF.
  size_t length;
  char32_t code_point;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0F;
    if (lead == 0xE0) lo = 0xA0;  // below: overlong
    if (lead == 0xED) hi = 0x9F;  // above: surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07;
    if (lead == 0xF0) lo = 0x90;  // below: overlong
    if (lead == 0xF4) hi = 0x8F;  // above: past U+10FFFF
  } else {
    return std::nullopt;  // a continuation byte, C0, C1 or F5..FF
  }
  if (text.size() - start < length) return std::nullopt;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char b = byte(start + k);
    if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return std::nullopt;
    code_point = (code_point << 6) | (b & 0x3F);
  }
  *pos = start + length;
  return code_point;
}

std::string_view Utf8Prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

std::string ReplaceInvalidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (DecodeUtf8(text, &pos)) {
      out.append(text.substr(start, pos - start));
    } else {
      out.append(kUtf8Replacement);
      ++pos;
    }
  }
  return out;
}

}  // namespace taskmaster
