// tm-step local takes a task list of any size from @FILE (issue 10): the
// 256 KiB inline limit bounds what travels in an Argo Workflow object, and a
// local run has none (its init gets --no-inline-limit).
#include <boost/test/unit_test.hpp>

#include "local_harness.h"
#include "taskmaster/protocol.h"

namespace taskmaster::local_test {
namespace {

BOOST_AUTO_TEST_SUITE(long_list)

BOOST_AUTO_TEST_CASE(a_list_over_the_inline_limit_runs_from_a_file) {
  TempDir dir;
  // Few tasks of long IDs (240 bytes), to keep the run short.
  const std::vector<std::string> ids = TaskIds(1100, std::string(236, 'x'), 4);
  const std::string list = JsonList(ids);
  BOOST_REQUIRE_GT(list.size(), protocol::kMaxInlineTaskListBytes);
  WriteFile(dir / "tasks.json", list);
  const Outcome run =
      RunToEnd({"--task-list", "@" + (dir / "tasks.json"), "--state-dir", dir / "state",
                "--batch-size", "1100", "--sidecar", kSidecarBinary, "--", "/bin/true"},
               {}, dir.path(), milliseconds(120000));
  BOOST_REQUIRE_MESSAGE(run.code == 0, run.err);
  const Outcome status =
      Shell(std::string(kSidecarBinary) + " status --store sqlite:" + (dir / "state") +
            "/state.db local-" + protocol::ListHash(ids).substr(5));
  BOOST_REQUIRE_EQUAL(status.code, 0);
  BOOST_CHECK_MESSAGE(Contains(status.out,
                               "\"status\":\"succeeded\",\"total\":1100,"
                               "\"succeeded\":1100,"),
                      status.out);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::local_test
