#include "taskmaster/checksum.h"

#include <xxhash.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>

using taskmaster::Hex64;
using taskmaster::Xxh3;
using taskmaster::Xxh3Stream;
using taskmaster::Xxh3Tagged;

namespace {

// Bytes 0, 1, 2, ... len-1 (mod 256): the input of the reference vectors below.
std::string Sequence(size_t len) {
  std::string data(len, '\0');
  for (size_t i = 0; i < len; ++i) data[i] = static_cast<char>(i & 0xff);
  return data;
}

struct Vector {
  size_t len;
  int64_t hash;  // as a signed integer, the way the reference tool printed it
};

// XXH3_64bits with seed 0 from xxHash's reference implementation. The lengths
// straddle the algorithm's internal boundaries (0, 1-3, 4-8, 9-16, 17-128,
// 129-240, and the long-input path with its 1024-byte stripes).
constexpr Vector kReference[] = {
    {0, 3244421341483603138},     {1, -4302098779834749733},   {3, 6864218090047839419},
    {16, -8983023575487778597},   {17, -6993173599622040792},  {128, -8807326403944725397},
    {129, -1407864491810865574},  {240, 3988562325861820517},  {241, 209643423615708418},
    {2048, -2503433555198690048}, {2049, 7124680608501705883},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(checksum)

BOOST_AUTO_TEST_CASE(empty_input_has_the_published_hash) {
  BOOST_TEST(Xxh3("") == uint64_t{0x2d06800538d394c2});
  BOOST_TEST(Xxh3Tagged("") == "xxh3:2d06800538d394c2");
}

BOOST_AUTO_TEST_CASE(matches_reference_vectors) {
  for (const Vector& v : kReference) {
    BOOST_TEST_CONTEXT("length " << v.len) {
      BOOST_TEST(Xxh3(Sequence(v.len)) == static_cast<uint64_t>(v.hash));
    }
  }
}

// checksum.cc may hash with its own AVX2 build of XXH3 instead of the
// library's; on a CPU where it does, this pins the two to each other across
// every size class, one-shot and streaming.
BOOST_AUTO_TEST_CASE(matches_libxxhash_at_every_length) {
  const std::string data = Sequence(4200);
  for (size_t len = 0; len <= data.size(); len += len < 300 ? 1 : 97) {
    const std::string_view piece = std::string_view(data).substr(0, len);
    Xxh3Stream stream;
    stream.Update(piece);
    const uint64_t library = XXH3_64bits(piece.data(), piece.size());
    BOOST_TEST(Xxh3(piece) == library, "length " << len);
    BOOST_TEST(stream.Digest() == library, "length " << len);
  }
}

BOOST_AUTO_TEST_CASE(hex_is_sixteen_lower_case_digits) {
  BOOST_TEST(Hex64(0) == "0000000000000000");
  BOOST_TEST(Hex64(1) == "0000000000000001");
  BOOST_TEST(Hex64(0xabc) == "0000000000000abc");
  BOOST_TEST(Hex64(0xdeadbeefcafef00d) == "deadbeefcafef00d");
  BOOST_TEST(Hex64(UINT64_MAX) == "ffffffffffffffff");
  BOOST_TEST(Hex64(uint64_t{1} << 63) == "8000000000000000");
}

BOOST_AUTO_TEST_CASE(tagged_is_prefix_and_hex) {
  const std::string data = Sequence(100);
  BOOST_TEST(Xxh3Tagged(data) == "xxh3:" + Hex64(Xxh3(data)));
}

BOOST_AUTO_TEST_CASE(stream_equals_one_shot_for_any_split) {
  // Long enough for the streaming state's internal buffer (256 bytes) and
  // its stripe blocks (1024 bytes) to fill and flush several times.
  const std::string data = Sequence(5000);
  for (size_t piece : {1, 7, 64, 255, 256, 1000, 1024, 4999, 5000}) {
    BOOST_TEST_CONTEXT("pieces of " << piece) {
      Xxh3Stream stream;
      for (size_t pos = 0; pos < data.size(); pos += piece) {
        stream.Update(std::string_view(data).substr(pos, piece));
      }
      BOOST_TEST(stream.Digest() == Xxh3(data));
    }
  }
}

BOOST_AUTO_TEST_CASE(stream_digest_does_not_end_the_stream) {
  Xxh3Stream stream;
  BOOST_TEST(stream.Digest() == Xxh3(""));
  stream.Update("abc");
  BOOST_TEST(stream.Digest() == Xxh3("abc"));
  stream.Update("def");
  BOOST_TEST(stream.Digest() == Xxh3("abcdef"));
}

BOOST_AUTO_TEST_SUITE_END()
