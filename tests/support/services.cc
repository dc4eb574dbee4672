#include "support/services.h"

#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>

namespace taskmaster::test_support {

std::string RequireServiceEnv(const char* name) {
  const char* value = std::getenv(name);
  BOOST_REQUIRE_MESSAGE(value != nullptr && *value != '\0',
                        name << " is not set: start the services with "
                                "eval \"$(scripts/test-services.sh start)\" (make test does)");
  return value;
}

std::string UniqueKey(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return prefix + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(++counter);
}

}  // namespace taskmaster::test_support
