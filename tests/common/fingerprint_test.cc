// NormalizeErrorLine and ErrorFingerprint: the table of docs/protocol.md
// ("Quarantine"), case by case.
#include "taskmaster/fingerprint.h"

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>

namespace {

using taskmaster::ErrorFingerprint;
using taskmaster::kMaxNormalizedErrorBytes;
using taskmaster::NormalizeErrorLine;

BOOST_AUTO_TEST_SUITE(fingerprint)

BOOST_AUTO_TEST_CASE(normalization_table) {
  struct Case {
    const char* error;
    const char* normalized;
  };
  const Case cases[] = {
      {"exited with code 1", "exited with code <n>"},
      {"", ""},
      {" \n\t\n", ""},
      {"Traceback (most recent call last):\nValueError: bad row 17\n\n", "ValueError: bad row <n>"},
      {"2026-12-06T22:33:26.123Z ERROR worker 3 died", "<time> ERROR worker <n> died"},
      {"at 2026-12-06 22:33:26+01:00: refused", "at <time>: refused"},
      {"request 123e4567-e89b-12d3-a456-426614174000 failed", "request <uuid> failed"},
      {"segfault at 0x7ffd5e8c1a20 ip 0x000055d1", "segfault at <hex> ip <hex>"},
      {"object deadbeef0042 missing, sha256 ok", "object <hex> missing, sha256 ok"},
      {"open /data/in/part-00017.csv: no such file", "open <path> no such file"},
      {"cannot read '/tmp/x y': denied", "cannot read '<path> y': denied"},
      {"took 1.25 s for task-0042", "took <n> s for task-<n>"},
      {"  many    spaces\there  ", "many spaces here"},
      {"connection reset by peer", "connection reset by peer"},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT("error: " << c.error) {
      BOOST_TEST(NormalizeErrorLine(c.error) == c.normalized);
    }
  }
}

BOOST_AUTO_TEST_CASE(attempts_that_differ_only_in_what_changes_share_a_fingerprint) {
  BOOST_TEST(ErrorFingerprint(1, "2026-12-06T10:00:00Z row 17 of /data/a.csv: bad date") ==
             ErrorFingerprint(1, "2026-12-07T11:30:00Z row 18 of /data/b.csv: bad date"));
  BOOST_TEST(ErrorFingerprint(1, "bad date") != ErrorFingerprint(2, "bad date"));
  BOOST_TEST(ErrorFingerprint(1, "bad date") != ErrorFingerprint(1, "bad time"));
  BOOST_TEST(ErrorFingerprint(std::nullopt, "killed") == "-:killed");
  BOOST_TEST(ErrorFingerprint(3, "exit status 3") == "3:exit status <n>");
}

BOOST_AUTO_TEST_CASE(a_long_line_is_cut_at_a_character_boundary) {
  const std::string line = "x" + std::string(400, '\xC3');  // not UTF-8: cut anyway
  std::string words;
  for (int i = 0; i < 200; ++i) words += "\xC3\xA9";  // é, 2 bytes each
  const std::string cut = NormalizeErrorLine(words);
  BOOST_TEST(cut.size() <= kMaxNormalizedErrorBytes);
  BOOST_TEST(cut.size() % 2 == 0u);
  BOOST_TEST(NormalizeErrorLine(line).size() <= kMaxNormalizedErrorBytes);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
