// Whole files the common_test cases compare bytes with: the protocol's golden
// files (tests/golden/, TM_GOLDEN_DIR) and the pages that quote them.
#ifndef TASKMASTER_TESTS_COMMON_GOLDEN_H_
#define TASKMASTER_TESTS_COMMON_GOLDEN_H_

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <sstream>
#include <string>

namespace taskmaster::testing {

// The bytes of the file at `path`; fails the test case when it cannot be opened.
inline std::string ReadFileOrFail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// The bytes of the golden file `name`, e.g. "ack.json".
inline std::string ReadGolden(const std::string& name) {
  return ReadFileOrFail(std::string(TM_GOLDEN_DIR) + "/" + name);
}

}  // namespace taskmaster::testing

#endif  // TASKMASTER_TESTS_COMMON_GOLDEN_H_
