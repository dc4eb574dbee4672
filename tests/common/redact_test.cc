#include "taskmaster/redact.h"

#include <boost/test/unit_test.hpp>
#include <string>

namespace taskmaster {
namespace {

BOOST_AUTO_TEST_SUITE(redact)

BOOST_AUTO_TEST_CASE(passwords_of_urls_and_parameters_are_masked) {
  const std::pair<std::string, std::string> cases[] = {
      {"postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"},
      {"--postgres=postgres://u:p@ss@h/db", "--postgres=postgres://u:***@h/db"},
      {"redis://:pw@h:6379/0", "redis://:***@h:6379/0"},
      {"a redis://u:x@h/0 and postgresql://v:y@g/db",
       "a redis://u:***@h/0 and postgresql://v:***@g/db"},
      {"postgresql://h/db?user=u&password=pw&sslmode=off",
       "postgresql://h/db?user=u&password=***&sslmode=off"},
      {"host=h password=pw dbname=d", "host=h password=*** dbname=d"},
  };
  for (const auto& [text, masked] : cases) BOOST_CHECK_EQUAL(RedactPasswords(text), masked);
}

BOOST_AUTO_TEST_CASE(text_without_a_password_is_unchanged) {
  for (const std::string text : {"postgresql://u@h/db", "redis://h:6379/0", "sqlite:/tmp/x.db",
                                 "http://h/a@b", "no url at all", ""}) {
    BOOST_CHECK_EQUAL(RedactPasswords(text), text);
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster
