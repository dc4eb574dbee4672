#include "taskmaster/shell.h"

#include <boost/test/unit_test.hpp>

using taskmaster::ShellJoin;
using taskmaster::ShellQuote;

BOOST_AUTO_TEST_SUITE(shell)

BOOST_AUTO_TEST_CASE(plain_words_stay_bare) {
  BOOST_TEST(ShellQuote("local-0123abcd") == "local-0123abcd");
  BOOST_TEST(ShellQuote("sqlite:.taskmaster/state.db") == "sqlite:.taskmaster/state.db");
  BOOST_TEST(ShellQuote("a=b,c+d@e%f") == "a=b,c+d@e%f");
}

BOOST_AUTO_TEST_CASE(other_words_are_single_quoted) {
  BOOST_TEST(ShellQuote("") == "''");
  BOOST_TEST(ShellQuote("two words") == "'two words'");
  BOOST_TEST(ShellQuote("$HOME") == "'$HOME'");
  BOOST_TEST(ShellQuote("it's") == "'it'\\''s'");
  BOOST_TEST(ShellQuote("[\"a\"]") == "'[\"a\"]'");
  BOOST_TEST(ShellQuote("caf\xc3\xa9") == "'caf\xc3\xa9'");
}

BOOST_AUTO_TEST_CASE(join_quotes_each_word) {
  BOOST_TEST(ShellJoin({}) == "");
  BOOST_TEST(ShellJoin({"tm-step", "local", "--task-list", "@my list.json"}) ==
             "tm-step local --task-list '@my list.json'");
}

BOOST_AUTO_TEST_SUITE_END()
