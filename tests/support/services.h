// What the suites that run against the test services (scripts/test-services.sh)
// share: their environment, and keys of their own on servers that outlive a
// test run.
#ifndef TASKMASTER_TESTS_SUPPORT_SERVICES_H_
#define TASKMASTER_TESTS_SUPPORT_SERVICES_H_

#include <string>

namespace taskmaster::test_support {

// The value of a variable scripts/test-services.sh exports (TM_TEST_POSTGRES_DSN,
// TM_TEST_REDIS_URL, ...); fails the test case, saying how to start the
// services, when it is unset or empty.
std::string RequireServiceEnv(const char* name);

// A key no earlier test run used, so that nothing is resumed by accident:
// prefix, this process's pid, the time in milliseconds and a counter.
std::string UniqueKey(const std::string& prefix);

}  // namespace taskmaster::test_support

#endif  // TASKMASTER_TESTS_SUPPORT_SERVICES_H_
