// tm-step runs inside any image (DESIGN.md §1): one statically linked file of
// at most 3 MB stripped, which needs nothing else on the filesystem.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "step_harness.h"

namespace taskmaster::step_test {
namespace {

constexpr long kMaxStrippedBytes = 3000000;

std::string Quote(const std::string& path) {
  return "'" + path + "'";
}

BOOST_AUTO_TEST_SUITE(static_binary)

BOOST_AUTO_TEST_CASE(file_says_statically_linked) {
  StepResult r = RunShell("file -b " + Quote(kStepBinary));
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(r.out.find("statically linked") != std::string::npos, "file: " << r.out);
}

BOOST_AUTO_TEST_CASE(stripped_copy_is_at_most_3_mb) {
  TempDir tmp;
  const std::string stripped = tmp / "tm-step";
  StepResult r = RunShell("strip -o " + Quote(stripped) + " " + Quote(kStepBinary));
  BOOST_REQUIRE_EQUAL(r.exit_code, 0);
  const long size = static_cast<long>(ReadFile(stripped).size());
  BOOST_TEST_MESSAGE("stripped tm-step: " << size << " bytes");
  BOOST_CHECK_GT(size, 0);
  BOOST_CHECK_LE(size, kMaxStrippedBytes);
}

// An empty root holding only tm-step: no libc, no /proc, no /etc.
BOOST_AUTO_TEST_CASE(runs_alone_in_an_empty_chroot) {
  if (::geteuid() != 0) {
    BOOST_TEST_MESSAGE("skipped: chroot needs root");
    return;
  }
  TempDir root;
  WriteFile(root / "tm-step", ReadFile(kStepBinary));
  BOOST_REQUIRE_EQUAL(RunShell("chmod 0755 " + Quote(root / "tm-step")).exit_code, 0);
  StepResult r = RunShell("chroot " + Quote(root.path()) + " /tm-step --version");
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  BOOST_CHECK_EQUAL(r.out, std::string("tm-step ") + kStepVersion + "\n");

  // More than the version: parsing, hashing and logging work there too.
  StepResult validate =
      RunShell("chroot " + Quote(root.path()) + " /tm-step validate --task-list '[\"a\",\"b\"]'");
  BOOST_CHECK_EQUAL(validate.exit_code, 0);
  BOOST_CHECK_MESSAGE(validate.out.find("valid task list: 2 tasks") == 0, validate.out);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
