// The POSIX Env's directory, lock and /proc handling, and the fault-injecting
// Env's view of them.
#include "taskmaster/env.h"

#include <fcntl.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "fault_env.h"

namespace taskmaster {
namespace {

using testing::FaultInjectionEnv;
using testing::ScopedTempDir;

void Write(Env* env, const std::string& path, const std::string& data) {
  BOOST_REQUIRE(WriteFileAtomic(env, path, data, false).ok());
}

BOOST_AUTO_TEST_SUITE(env)

BOOST_AUTO_TEST_CASE(remove_tree_takes_everything_under_it) {
  ScopedTempDir dir;
  Env* env = Env::Default();
  const std::string tree = dir.Join("tree");
  BOOST_REQUIRE(env->CreateDirs(JoinPath(tree, "a/b")).ok());
  Write(env, JoinPath(tree, "a/b/file"), "x");
  Write(env, JoinPath(tree, "top"), "y");
  Write(env, dir.Join("outside"), "z");
  BOOST_TEST(env->IsDirectory(tree));
  BOOST_TEST(env->RemoveTree(tree).ok());
  BOOST_TEST(!env->FileExists(tree));
  BOOST_TEST(env->FileExists(dir.Join("outside")));
  BOOST_TEST(env->RemoveTree(tree).ok());  // already gone
}

BOOST_AUTO_TEST_CASE(is_directory_only_for_directories) {
  ScopedTempDir dir;
  Env* env = Env::Default();
  Write(env, dir.Join("file"), "x");
  BOOST_TEST(env->IsDirectory(dir.path()));
  BOOST_TEST(!env->IsDirectory(dir.Join("file")));
  BOOST_TEST(!env->IsDirectory(dir.Join("missing")));
}

BOOST_AUTO_TEST_CASE(a_lock_is_exclusive_until_released) {
  ScopedTempDir dir;
  Env* env = Env::Default();
  const std::string path = dir.Join("lock");
  {
    auto held = env->LockFile(path);
    BOOST_REQUIRE(held.ok());
    BOOST_TEST((::fcntl((*held)->fd(), F_GETFD) & FD_CLOEXEC) != 0);
    auto second = env->LockFile(path);
    BOOST_TEST(second.status().IsBusy());
  }
  BOOST_TEST(env->LockFile(path).ok());
}

BOOST_AUTO_TEST_CASE(proc_files_are_read_to_their_end) {
  auto cmdline = Env::Default()->ReadFile("/proc/self/cmdline");
  BOOST_REQUIRE(cmdline.ok());
  BOOST_TEST(!cmdline->empty());
  BOOST_TEST(cmdline->back() == '\0');
}

BOOST_AUTO_TEST_CASE(fault_env_counts_and_fails_tree_removal_and_locks) {
  ScopedTempDir dir;
  FaultInjectionEnv env(Env::Default());
  const std::string tree = dir.Join("tree");
  BOOST_REQUIRE(env.CreateDirs(tree).ok());
  Write(&env, JoinPath(tree, "file"), "x");
  const uint64_t ops = env.mutating_ops();
  env.FailFrom(ops);
  BOOST_TEST(!env.RemoveTree(tree).ok());
  BOOST_TEST(env.FileExists(JoinPath(tree, "file")));
  BOOST_TEST(!env.LockFile(dir.Join("lock")).ok());
  env.StopFailing();
  BOOST_TEST(env.RemoveTree(tree).ok());
  BOOST_TEST(env.mutating_ops() == ops + 3);
  BOOST_TEST(!env.FileExists(tree));
  // The removal stays: nothing of the tree comes back after a power loss.
  BOOST_TEST(env.DropUnsyncedData().ok());
  BOOST_TEST(!env.FileExists(tree));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster
