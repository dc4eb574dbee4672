#include "support/temp_dir.h"

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace taskmaster::test_support {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  BOOST_REQUIRE_MESSAGE(::mkdtemp(templ.data()) != nullptr,
                        "mkdtemp " << templ << ": " << std::strerror(errno));
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace taskmaster::test_support
