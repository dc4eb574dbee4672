// The step's side of the work dir: which appends wake the sidecar. It reads the
// journal once per flush window, and at once when the step pokes it (closes a
// descriptor opened for writing on the journal) after a record the step waits on.
#include "step_work_dir.h"

#include <poll.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "support/temp_dir.h"
#include "taskmaster/dir_watcher.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {
namespace {

namespace pr = protocol;

// Whether the sidecar's watch (files closed after writing, created or renamed
// into place) saw something, emptying it.
bool Woken(DirWatcher& watch) {
  struct pollfd p = {watch.fd(), POLLIN, 0};
  const bool woken = ::poll(&p, 1, 0) == 1;
  watch.Drain();
  return woken;
}

BOOST_AUTO_TEST_SUITE(step_work_dir)

BOOST_AUTO_TEST_CASE(only_records_the_step_waits_on_wake_the_sidecar) {
  test_support::TempDir tmp("tm-step-work-dir");
  StepWorkDir wd(Env::Default(), tmp / "work");
  BOOST_REQUIRE(wd.OpenJournal(1, /*sync=*/false).ok());
  DirWatcher sidecar(tmp / "work", DirWatcher::kReplaced);
  BOOST_REQUIRE_GE(sidecar.fd(), 0);
  Woken(sidecar);

  auto encode = [](int64_t) { return std::string("{}"); };
  BOOST_REQUIRE(wd.Append(pr::RecordType::kTaskStart, 0, encode).ok());
  BOOST_REQUIRE(wd.Append(pr::RecordType::kCheckpoint, 0, encode).ok());
  BOOST_TEST(!Woken(sidecar));
  BOOST_REQUIRE(wd.Append(pr::RecordType::kCheckpoint, pr::kFlagSync, encode).ok());
  BOOST_TEST(Woken(sidecar));
  BOOST_REQUIRE(wd.Append(pr::RecordType::kTaskEnd, 0, encode).ok());
  BOOST_TEST(!Woken(sidecar));
  BOOST_REQUIRE(wd.Append(pr::RecordType::kCommit, 0, encode).ok());
  BOOST_TEST(Woken(sidecar));
  BOOST_TEST(wd.next_seq() == 6);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step
