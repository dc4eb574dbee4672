#include <boost/test/unit_test.hpp>

#include "commands/commands.h"

namespace taskmaster::sidecar {
namespace {

BOOST_AUTO_TEST_SUITE(gc)

BOOST_AUTO_TEST_CASE(durations_in_each_unit) {
  for (const auto& [text, seconds] : {std::pair<const char*, int64_t>{"90", 90},
                                      {"90s", 90},
                                      {"30m", 1800},
                                      {"24h", 86400},
                                      {"7d", 604800},
                                      {"0d", 0}}) {
    auto parsed = ParseDurationSeconds(text);
    BOOST_REQUIRE_MESSAGE(parsed.ok(), text << ": " << parsed.status().ToString());
    BOOST_CHECK_EQUAL(*parsed, seconds);
  }
}

BOOST_AUTO_TEST_CASE(bad_durations_say_what_is_wrong) {
  BOOST_CHECK_EQUAL(ParseDurationSeconds("").status().message(), "empty duration");
  for (const char* text : {"d", "7dd", "-1d", "1.5h", "1234567890123s"}) {
    auto parsed = ParseDurationSeconds(text);
    BOOST_CHECK(parsed.status().IsInvalidArgument());
    BOOST_CHECK_EQUAL(parsed.status().message(),
                      std::string("duration '") + text + "': use a number with s, m, h or d (7d)");
  }
  BOOST_CHECK_EQUAL(ParseDurationSeconds("7w").status().message(),
                    "duration '7w': unknown unit 'w' (s, m, h or d)");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::sidecar
