#include "taskmaster/utf8.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

using taskmaster::DecodeUtf8;
using taskmaster::ReplaceInvalidUtf8;

namespace {

// An independent reading of the definition, by bit patterns and then value
// checks (shortest form, scalar values only), to hold DecodeUtf8's byte
// ranges against. Returns the code point and the sequence's length.
std::optional<std::pair<char32_t, size_t>> ReferenceDecode(const std::string& bytes) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  size_t length;
  char32_t cp;
  if ((b(0) & 0x80) == 0x00) {
    return std::make_pair(char32_t{b(0)}, size_t{1});
  } else if ((b(0) & 0xE0) == 0xC0) {
    length = 2;
    cp = b(0) & 0x1F;
  } else if ((b(0) & 0xF0) == 0xE0) {
    length = 3;
    cp = b(0) & 0x0F;
  } else if ((b(0) & 0xF8) == 0xF0) {
    length = 4;
    cp = b(0) & 0x07;
  } else {
    return std::nullopt;
  }
  if (bytes.size() < length) return std::nullopt;
  for (size_t i = 1; i < length; ++i) {
    if ((b(i) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b(i) & 0x3F);
  }
  static constexpr char32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kShortest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return std::nullopt;
  }
  return std::make_pair(cp, length);
}

// DecodeUtf8 at the start of bytes, as (code point, bytes consumed). A failed
// decode that moved the position comes back as an impossible code point, so
// it matches nothing.
std::optional<std::pair<char32_t, size_t>> Decode(const std::string& bytes) {
  size_t pos = 0;
  const std::optional<char32_t> cp = DecodeUtf8(bytes, &pos);
  if (!cp) {
    if (pos != 0) return std::make_pair(char32_t{0xFFFFFFFF}, pos);
    return std::nullopt;
  }
  return std::make_pair(*cp, pos);
}

std::string Bytes(std::initializer_list<unsigned> values) {
  std::string out;
  for (unsigned v : values) out.push_back(static_cast<char>(v));
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(utf8)

BOOST_AUTO_TEST_CASE(decodes_the_boundaries_of_each_length) {
  const struct {
    std::string bytes;
    char32_t cp;
  } valid[] = {
      {std::string(1, '\0'), 0x0},
      {"\x7F", 0x7F},
      {"\xC2\x80", 0x80},
      {"\xDF\xBF", 0x7FF},
      {"\xE0\xA0\x80", 0x800},
      {"\xED\x9F\xBF", 0xD7FF},  // just below the surrogates
      {"\xEE\x80\x80", 0xE000},
      {"\xEF\xBF\xBF", 0xFFFF},  // just above them
      {"\xF0\x90\x80\x80", 0x10000},
      {"\xF4\x8F\xBF\xBF", 0x10FFFF},
  };
  for (const auto& c : valid) {
    const auto decoded = Decode(c.bytes);
    BOOST_REQUIRE(decoded.has_value());
    BOOST_TEST(static_cast<uint32_t>(decoded->first) == static_cast<uint32_t>(c.cp));
    BOOST_TEST(decoded->second == c.bytes.size());
  }
}

BOOST_AUTO_TEST_CASE(refuses_overlong_forms_surrogates_and_the_rest) {
  const std::string invalid[] = {
      "\x80",                      // a continuation byte alone
      "\xBF",                      //
      "\xC0\xAF",                  // '/' in two bytes (overlong)
      "\xC1\xBF",                  // U+007F in two bytes (overlong)
      "\xE0\x80\xAF",              // '/' in three bytes (overlong)
      "\xE0\x9F\xBF",              // U+07FF in three bytes (overlong)
      "\xF0\x80\x80\xAF",          // '/' in four bytes (overlong)
      "\xF0\x8F\xBF\xBF",          // U+FFFF in four bytes (overlong)
      "\xED\xA0\x80",              // U+D800, a high surrogate
      "\xED\xBF\xBF",              // U+DFFF, a low surrogate
      "\xED\xA0\xBD\xED\xB8\x80",  // a surrogate pair written as UTF-8 (CESU-8)
      "\xF4\x90\x80\x80",          // U+110000
      "\xF5\x80\x80\x80",          // leads that UTF-8 never uses
      "\xF8\x88\x80\x80\x80",      //
      "\xFE",                      //
      "\xFF",                      //
      "\xC3",                      // truncated
      "\xE2\x82",                  //
      "\xF0\x9F\x98",              //
      "\xC3\x28",                  // a continuation that is not one
      "\xE2\x28\xA1",              //
      "\xE2\x82\x28",              //
      "\xF0\x9F\x98\x28",          //
  };
  for (const std::string& bytes : invalid) {
    BOOST_TEST(!Decode(bytes).has_value(), "accepted " << bytes.size() << " bytes");
  }
}

BOOST_AUTO_TEST_CASE(every_sequence_of_up_to_three_bytes_matches_the_definition) {
  std::string bytes(3, '\0');
  size_t valid = 0;
  for (uint32_t v = 0; v < (1u << 24); ++v) {
    bytes[0] = static_cast<char>(v >> 16);
    bytes[1] = static_cast<char>(v >> 8);
    bytes[2] = static_cast<char>(v);
    const auto want = ReferenceDecode(bytes);
    const auto got = Decode(bytes);
    if (got != want) {
      BOOST_TEST(false, "bytes " << std::hex << v << " decode differently");
      return;
    }
    if (got && got->second == 3) ++valid;
  }
  // U+0800..U+FFFF without the 2,048 surrogates, each with one spelling.
  BOOST_TEST(valid == size_t{0x10000 - 0x800 - 0x800});
}

BOOST_AUTO_TEST_CASE(four_byte_sequences_match_the_definition) {
  // Every lead and second byte, with the edges of the continuation range.
  const unsigned edges[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0, 0xFF};
  size_t checked = 0;
  for (unsigned lead = 0xF0; lead <= 0xFF; ++lead) {
    for (unsigned second = 0; second <= 0xFF; ++second) {
      for (unsigned third : edges) {
        for (unsigned fourth : edges) {
          const std::string bytes = Bytes({lead, second, third, fourth});
          if (Decode(bytes) != ReferenceDecode(bytes)) {
            BOOST_TEST(false, std::hex << lead << " " << second << " " << third << " " << fourth
                                       << " decode differently");
            return;
          }
          ++checked;
        }
      }
    }
  }
  BOOST_TEST(checked == size_t{16 * 256 * 8 * 8});
  // And every code point from U+10000 on, encoded, decodes to itself.
  for (char32_t cp = 0x10000; cp <= 0x10FFFF; ++cp) {
    const std::string bytes = Bytes({0xF0u | (cp >> 18), 0x80u | ((cp >> 12) & 0x3F),
                                     0x80u | ((cp >> 6) & 0x3F), 0x80u | (cp & 0x3F)});
    const auto got = Decode(bytes);
    if (!got || got->first != cp || got->second != 4) {
      BOOST_TEST(false, "U+" << std::hex << static_cast<uint32_t>(cp) << " does not round trip");
      return;
    }
  }
}

BOOST_AUTO_TEST_CASE(decoding_walks_a_mixed_text) {
  const std::string text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a é € 😀 z
  std::vector<uint32_t> got;
  size_t pos = 0;
  while (pos < text.size()) {
    const std::optional<char32_t> cp = DecodeUtf8(text, &pos);
    BOOST_REQUIRE(cp.has_value());
    got.push_back(*cp);
  }
  const std::vector<uint32_t> want = {'a', 0xE9, 0x20AC, 0x1F600, 'z'};
  BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(replacement_keeps_valid_text_and_replaces_each_bad_byte) {
  BOOST_TEST(ReplaceInvalidUtf8("") == "");
  BOOST_TEST(ReplaceInvalidUtf8("plain text") == "plain text");
  BOOST_TEST(ReplaceInvalidUtf8("caf\u00e9 \u2014 \U0001F600") == "caf\u00e9 \u2014 \U0001F600");
  // NUL is U+0000: valid, kept.
  BOOST_TEST(ReplaceInvalidUtf8(std::string("a\0b", 3)) == std::string("a\0b", 3));
  // One U+FFFD per byte that starts no sequence; the text after it is kept.
  BOOST_TEST(ReplaceInvalidUtf8("a\x80z") == "a\uFFFDz");
  BOOST_TEST(ReplaceInvalidUtf8("\xE2\x80") == "\uFFFD\uFFFD");
  BOOST_TEST(ReplaceInvalidUtf8("\xE2\x80!") == "\uFFFD\uFFFD!");
  BOOST_TEST(ReplaceInvalidUtf8("\xC0\xAF") == "\uFFFD\uFFFD");
  BOOST_TEST(ReplaceInvalidUtf8("\xE0\x80\xAF") == "\uFFFD\uFFFD\uFFFD");
  BOOST_TEST(ReplaceInvalidUtf8("\xF0\x80\x80\xAF") == "\uFFFD\uFFFD\uFFFD\uFFFD");
  BOOST_TEST(ReplaceInvalidUtf8("\xED\xA0\x80") == "\uFFFD\uFFFD\uFFFD");
  BOOST_TEST(ReplaceInvalidUtf8("\xF4\x90\x80\x80") == "\uFFFD\uFFFD\uFFFD\uFFFD");
  // A valid sequence right after an invalid byte survives.
  BOOST_TEST(ReplaceInvalidUtf8("\xC3\xC3\xA9") == "\uFFFD\u00e9");
}

BOOST_AUTO_TEST_CASE(replacement_always_yields_valid_utf8) {
  std::mt19937 rng(20261129);  // fixed: a failure must reproduce
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 16);
  for (int round = 0; round < 20000; ++round) {
    std::string text(static_cast<size_t>(length(rng)), '\0');
    for (char& c : text) c = static_cast<char>(byte(rng));
    const std::string out = ReplaceInvalidUtf8(text);
    size_t pos = 0;
    while (pos < out.size() && DecodeUtf8(out, &pos)) {
    }
    BOOST_TEST(pos == out.size());
  }
}

BOOST_AUTO_TEST_CASE(a_prefix_never_ends_inside_a_character) {
  using taskmaster::Utf8Prefix;
  BOOST_TEST(Utf8Prefix("abc", 5) == "abc");
  BOOST_TEST(Utf8Prefix("abc", 2) == "ab");
  // "é" is two bytes, "€" three: a bound inside one cuts before it.
  BOOST_TEST(Utf8Prefix("a\xC3\xA9" "b", 2) == "a");
  BOOST_TEST(Utf8Prefix("a\xC3\xA9" "b", 3) == "a\xC3\xA9");
  BOOST_TEST(Utf8Prefix("\xE2\x82\xAC\xE2\x82\xAC", 5) == "\xE2\x82\xAC");
  BOOST_TEST(Utf8Prefix("\xE2\x82\xAC", 2).empty());
  BOOST_TEST(Utf8Prefix("", 0).empty());
}

BOOST_AUTO_TEST_SUITE_END()
