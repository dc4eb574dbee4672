// The fd-3 control protocol without a process: ParseControlLine on every kind of
// line a task may send, and LineSplitter on the ways a stream may be cut.
#include "control_channel.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace taskmaster::step_test {
namespace {

using step::ControlMessage;
using step::LineSplitter;
using step::ParseControlLine;

std::string ErrorOf(std::string_view line) {
  auto parsed = ParseControlLine(line);
  BOOST_REQUIRE_MESSAGE(!parsed.ok(), "accepted: " << line);
  return parsed.status().ToString();
}

BOOST_AUTO_TEST_SUITE(control_line)

BOOST_AUTO_TEST_CASE(a_checkpoint_is_kept_as_compact_json) {
  auto msg = ParseControlLine(R"({ "checkpoint" : { "next" : 42, "done": [1, 2] } })");
  BOOST_REQUIRE(msg.ok());
  BOOST_REQUIRE(msg->checkpoint.has_value());
  BOOST_CHECK_EQUAL(*msg->checkpoint, R"({"next":42,"done":[1,2]})");
  BOOST_CHECK(!msg->sync);
  BOOST_CHECK(!msg->progress && !msg->note && msg->unknown_keys.empty());
}

BOOST_AUTO_TEST_CASE(a_deeply_nested_checkpoint_is_written_without_recursion) {
  const int depth = 200000;
  const std::string line =
      R"({"checkpoint":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  auto msg = ParseControlLine(line);
  BOOST_REQUIRE(msg.ok());
  BOOST_CHECK_EQUAL(msg->checkpoint->size(), 2u * depth);
}

BOOST_AUTO_TEST_CASE(sync_progress_note_and_unknown_keys_on_one_line) {
  auto msg = ParseControlLine(
      R"({"checkpoint":"s","sync":true,"progress":{"done":3,"total":10},"note":"n","x":1})");
  BOOST_REQUIRE(msg.ok());
  BOOST_CHECK_EQUAL(*msg->checkpoint, R"("s")");
  BOOST_CHECK(msg->sync);
  BOOST_REQUIRE(msg->progress.has_value());
  BOOST_CHECK_EQUAL(msg->progress->first, 3);
  BOOST_CHECK_EQUAL(msg->progress->second, 10);
  BOOST_CHECK_EQUAL(*msg->note, "n");
  BOOST_CHECK(msg->unknown_keys == std::vector<std::string>{"x"});
}

BOOST_AUTO_TEST_CASE(bad_lines_are_refused_naming_the_problem) {
  BOOST_CHECK_NE(ErrorOf("{\"note\":").find("invalid JSON at byte"), std::string::npos);
  BOOST_CHECK_NE(ErrorOf("[1]").find("expected a JSON object"), std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"checkpoint":1,"sync":"yes"})").find("\"sync\" must be true or false"),
                 std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"sync":true,"note":"x"})").find("needs a \"checkpoint\""),
                 std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"progress":{"done":1}})").find("\"progress\" must be"),
                 std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"progress":{"done":"1","total":2}})").find("\"progress\" must be"),
                 std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"progress":{"done":3,"total":2}})").find("0 <= done <= total"),
                 std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"progress":{"done":-1,"total":2}})").find("0 <= done <= total"),
                 std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"note":7})").find("\"note\" must be a string"), std::string::npos);
  BOOST_CHECK_NE(ErrorOf(R"({"other":1})").find("no \"checkpoint\", \"progress\" or \"note\""),
                 std::string::npos);
  // Invalid UTF-8 inside a string is refused, not passed on into a checkpoint.
  BOOST_CHECK_NE(ErrorOf("{\"note\":\"\xff\"}").find("invalid JSON"), std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(line_splitter)

struct Collected {
  std::vector<std::string> lines;
  std::vector<size_t> overlong;
  LineSplitter Splitter(size_t max_line) {
    return LineSplitter(
        max_line, [this](std::string_view line) { lines.emplace_back(line); },
        [this](size_t bytes) { overlong.push_back(bytes); });
  }
};

BOOST_AUTO_TEST_CASE(lines_cut_anywhere_come_out_whole) {
  Collected c;
  LineSplitter splitter = c.Splitter(16);
  const std::string stream = "one\ntwo\n\nthree-and-more\nlast";
  for (char ch : stream) splitter.Feed(std::string_view(&ch, 1));
  BOOST_CHECK_EQUAL(c.lines.size(), 4u);
  splitter.Finish();
  BOOST_CHECK(c.lines == (std::vector<std::string>{"one", "two", "", "three-and-more", "last"}));
  BOOST_CHECK(c.overlong.empty());
}

BOOST_AUTO_TEST_CASE(an_overlong_line_is_reported_once_and_skipped_to_its_newline) {
  Collected c;
  LineSplitter splitter = c.Splitter(8);
  splitter.Feed("ok\n0123456");
  splitter.Feed("789abcdef");
  splitter.Feed("ghij\nafter\n");
  splitter.Finish();
  BOOST_CHECK(c.lines == (std::vector<std::string>{"ok", "after"}));
  BOOST_REQUIRE_EQUAL(c.overlong.size(), 1u);
  BOOST_CHECK_GT(c.overlong[0], 8u);
}

BOOST_AUTO_TEST_CASE(an_overlong_last_line_without_newline_is_not_delivered) {
  Collected c;
  LineSplitter splitter = c.Splitter(4);
  splitter.Feed("abcdefgh");
  splitter.Finish();
  BOOST_CHECK(c.lines.empty());
  BOOST_CHECK_EQUAL(c.overlong.size(), 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
