#include "exec_args.h"

extern char** environ;

namespace taskmaster::step {

CStringArray::CStringArray(std::vector<std::string> strings) : strings_(std::move(strings)) {
  for (std::string& s : strings_) pointers_.push_back(s.data());
  pointers_.push_back(nullptr);
}

std::vector<std::string> ChildEnvironment(const std::map<std::string, std::string>& set,
                                          const std::function<bool(const std::string&)>& drop) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    if (set.count(key) == 0 && !drop(key)) env.push_back(std::move(entry));
  }
  for (const auto& [key, value] : set) env.push_back(key + "=" + value);
  return env;
}

}  // namespace taskmaster::step
