// Shell quoting for the commands Taskmaster prints for a person to paste (the
// resume command of a local run, the `argo submit` the API answers with): POSIX
// sh single quotes, left off when the word needs none.
#ifndef TASKMASTER_SHELL_H_
#define TASKMASTER_SHELL_H_

#include <string>
#include <string_view>
#include <vector>

namespace taskmaster {

// `arg` as one shell word: as it is when it is non-empty and made only of
// letters, digits and `_./:=@%+,-`; else in single quotes, each `'` as `'\''`.
std::string ShellQuote(std::string_view arg);

// The words quoted and joined by single spaces.
std::string ShellJoin(const std::vector<std::string>& argv);

}  // namespace taskmaster

#endif  // TASKMASTER_SHELL_H_
