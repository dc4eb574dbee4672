// Whole-file reads and writes for tests.
#ifndef TASKMASTER_TESTS_SUPPORT_FILES_H_
#define TASKMASTER_TESTS_SUPPORT_FILES_H_

#include <string>

namespace taskmaster::test_support {

bool FileExists(const std::string& path);
// The file's bytes, or "" when it cannot be read.
std::string ReadFile(const std::string& path);
// Replaces the file's contents; fails the test case when it cannot.
void WriteFile(const std::string& path, const std::string& bytes);

}  // namespace taskmaster::test_support

#endif  // TASKMASTER_TESTS_SUPPORT_FILES_H_
