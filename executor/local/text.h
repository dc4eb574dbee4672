// Text helpers local mode's messages and files share.
#ifndef TASKMASTER_EXECUTOR_LOCAL_TEXT_H_
#define TASKMASTER_EXECUTOR_LOCAL_TEXT_H_

#include <string>

namespace taskmaster::step::local {

// A duration for people: "0.25 s", "4.5 s", "3m07s", "1h02m03s".
std::string FormatSeconds(double seconds);

// text without the line ends and spaces at its end (a one-line file's value).
std::string TrimEnd(std::string text);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_TEXT_H_
