// Bounded polling: tests wait for events with deadlines, never with bare sleeps.
#ifndef TASKMASTER_TESTS_SUPPORT_WAIT_UNTIL_H_
#define TASKMASTER_TESTS_SUPPORT_WAIT_UNTIL_H_

#include <chrono>
#include <functional>

namespace taskmaster::test_support {

// Checks pred every 5 ms until it holds (true) or timeout passes (false).
bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

}  // namespace taskmaster::test_support

#endif  // TASKMASTER_TESTS_SUPPORT_WAIT_UNTIL_H_
