// What execve needs, built before fork (after it only async-signal-safe calls
// are made): owned strings behind a NULL-terminated char* array, and a child's
// environment derived from ours.
#ifndef TASKMASTER_EXECUTOR_EXEC_ARGS_H_
#define TASKMASTER_EXECUTOR_EXEC_ARGS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace taskmaster::step {

class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> strings);
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;
  // Valid while this object lives; the last element is nullptr.
  char* const* data() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// Our environment without the variables `drop` names and without those in
// `set`, then `set` ("KEY=value" each).
std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& set,
                                          const std::function<bool(const std::string&)>& drop);

}  // namespace taskmaster::step

#endif  // TASKMASTER_EXECUTOR_EXEC_ARGS_H_
