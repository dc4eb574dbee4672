// The state dir's file system filled up in the middle of a run (a small tmpfs
// mounted there, then a file written into it until no byte is left): the run
// stops by itself with exit 75 and a message that says the disk is full and
// what to do; once the file is gone, the same command finishes the workflow
// and every invariant of the chaos suite holds. Mounting needs root (CAP_SYS_ADMIN), as make test
// runs.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "chaos_workflow.h"

namespace taskmaster::chaos_test {
namespace {

using local_test::milliseconds;

// A tmpfs of `megabytes` mounted at `path` (made if missing), unmounted however
// the test ends.
class Tmpfs {
 public:
  Tmpfs(const std::string& path, int megabytes) : path_(path) {
    std::filesystem::create_directories(path);
    const std::string options = "size=" + std::to_string(megabytes) + "m";
    BOOST_REQUIRE_MESSAGE(::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0,
                          "cannot mount a tmpfs at "
                              << path << ": " << std::strerror(errno)
                              << " (this test needs root, as make test has)");
  }
  ~Tmpfs() { ::umount2(path_.c_str(), MNT_DETACH); }

 private:
  std::string path_;
};

// Writes `path` until the file system holding it has no byte left; returns the
// bytes written.
int64_t FillUp(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  BOOST_REQUIRE_MESSAGE(fd >= 0, "open " << path << ": " << std::strerror(errno));
  std::string chunk(1 << 20, 'x');
  int64_t written = 0;
  for (size_t size = chunk.size(); size > 0; size /= 2) {
    ssize_t n;
    while ((n = ::write(fd, chunk.data(), size)) > 0) written += n;
    BOOST_REQUIRE_MESSAGE(n < 0 && errno == ENOSPC,
                          "writing " << path << ": " << std::strerror(errno));
  }
  ::close(fd);
  return written;
}

BOOST_AUTO_TEST_SUITE(disk_full)

BOOST_AUTO_TEST_CASE(a_full_state_dir_stops_the_run_which_resumes_once_space_returns) {
  ChaosWorkflow workflow("disk", 60);
  Tmpfs tmpfs(workflow.state_dir(), 64);
  Progress progress(workflow.data(), workflow.example().tasks);
  const std::string filler = workflow.state_dir() + "/filler";
  {
    auto run = workflow.Start();
    BOOST_REQUIRE_MESSAGE(
        local_test::WaitUntil([&] { return progress.Now() >= 60 || !run->Running(); },
                              milliseconds(60000)),
        "the run never got going:\n"
            << run->err());
    BOOST_REQUIRE_MESSAGE(run->Running(), "the run ended before the disk filled:\n" << run->err());
    BOOST_TEST_MESSAGE("the state dir filled up with " << FillUp(filler) << " bytes at "
                                                       << progress.Now() << " records");
    const std::optional<int> code = run->Wait(milliseconds(60000));
    BOOST_REQUIRE_MESSAGE(code.has_value(), "the run goes on with a full disk:\n" << run->err());
    BOOST_CHECK_EQUAL(*code, 75);
    for (const char* says : {"state dir", "is full", "Free space there and run the same command"}) {
      BOOST_CHECK_MESSAGE(local_test::Contains(run->err(), says), "stderr does not say '"
                                                                      << says << "':\n"
                                                                      << run->err());
    }
    BOOST_REQUIRE(local_test::ReapAllChildren(milliseconds(30000)));
  }
  {
    // Still full: the same command stops at once, and says why.
    auto run = workflow.Start();
    const std::optional<int> code = run->Wait(milliseconds(60000));
    BOOST_REQUIRE(code.has_value());
    BOOST_CHECK_EQUAL(*code, 75);
    BOOST_CHECK_MESSAGE(local_test::Contains(run->err(), "is full"), run->err());
    BOOST_REQUIRE(local_test::ReapAllChildren(milliseconds(30000)));
  }
  std::filesystem::remove(filler);
  auto run = workflow.Start();
  const std::optional<int> code = run->Wait(milliseconds(300000));
  BOOST_REQUIRE_MESSAGE(code.has_value(), "the resumed run did not end:\n" << run->err());
  BOOST_REQUIRE_MESSAGE(*code == 0, "the resumed run: exit " << *code << "\n" << run->err());
  int64_t repeated = 0;
  const std::vector<std::string> problems = workflow.Problems(&repeated);
  for (const auto& problem : problems) BOOST_ERROR(problem);
  if (!problems.empty()) workflow.KeepLogs();
  BOOST_TEST_MESSAGE("disk full: " << repeated
                                   << " records run again; invariants broken: " << problems.size());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::chaos_test
