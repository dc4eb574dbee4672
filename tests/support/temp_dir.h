// Temporary directories for tests.
#ifndef TASKMASTER_TESTS_SUPPORT_TEMP_DIR_H_
#define TASKMASTER_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>

namespace taskmaster::test_support {

// A fresh directory under $TMPDIR (or /tmp), named `prefix`-XXXXXX, removed with
// everything in it. Fails the test case when it cannot be made.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace taskmaster::test_support

#endif  // TASKMASTER_TESTS_SUPPORT_TEMP_DIR_H_
