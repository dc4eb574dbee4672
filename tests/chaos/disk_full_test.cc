// The state dir's file system filled up in the middle of a run (a small tmpfs
// mounted there, then a file written into it until no byte is left): the run
// stops by itself with exit 75 and a message that says the disk is full and
// what to do; started again on the full disk it says so and writes nothing;
// once the file is gone, the same command finishes the workflow and every
// invariant of the chaos suite holds. Mounting needs root (CAP_SYS_ADMIN), as make test
// runs.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

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

// Every file and directory under `dir`: its size (-1 for a directory) and its
// last change, to the nanosecond.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> entries;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    BOOST_REQUIRE(::lstat(entry.path().c_str(), &st) == 0);
    std::ostringstream what;
    what << (S_ISDIR(st.st_mode) ? -1 : st.st_size) << " " << st.st_mtim.tv_sec << "."
         << st.st_mtim.tv_nsec << " " << st.st_ctim.tv_sec << "." << st.st_ctim.tv_nsec;
    entries[entry.path().string()] = what.str();
  }
  return entries;
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
    // Still full: the same command stops at once, says why, and neither writes,
    // creates nor removes anything in the state dir.
    const std::map<std::string, std::string> before = Snapshot(workflow.state_dir());
    auto run = workflow.Start();
    const std::optional<int> code = run->Wait(milliseconds(60000));
    BOOST_REQUIRE(code.has_value());
    BOOST_CHECK_EQUAL(*code, 75);
    BOOST_CHECK_MESSAGE(local_test::Contains(run->err(), "is full"), run->err());
    BOOST_REQUIRE(local_test::ReapAllChildren(milliseconds(30000)));
    const std::map<std::string, std::string> after = Snapshot(workflow.state_dir());
    for (const auto& [path, what] : after) {
      auto was = before.find(path);
      if (was == before.end()) {
        BOOST_ERROR("a run on a full disk created " << path);
      } else if (was->second != what) {
        BOOST_ERROR("a run on a full disk changed " << path << " (" << was->second << " -> "
                                                    << what << ")");
      }
    }
    for (const auto& [path, what] : before) {
      if (after.count(path) == 0) BOOST_ERROR("a run on a full disk removed " << path);
    }
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
