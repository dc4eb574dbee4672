#include "taskmaster/log.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <regex>
#include <string>

#include "taskmaster/json.h"

using taskmaster::LogFormat;

namespace {

// Runs `log` with stderr sent to a temporary file and returns what it wrote.
template <typename Fn>
std::string CaptureStderr(Fn log) {
  std::FILE* tmp = std::tmpfile();
  BOOST_REQUIRE(tmp != nullptr);
  const int saved = ::dup(STDERR_FILENO);
  BOOST_REQUIRE(saved >= 0);
  BOOST_REQUIRE(::dup2(::fileno(tmp), STDERR_FILENO) >= 0);
  log();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string out;
  std::rewind(tmp);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), tmp)) > 0) out.append(buf, n);
  std::fclose(tmp);
  return out;
}

// What `log` writes to stderr once logging is set up for `program` in `format`
// with TM_LOG_LEVEL `level` (unset when null); TM_LOG_LEVEL is unset afterwards.
template <typename Fn>
std::string Logged(const char* level, const char* program, LogFormat format, Fn log) {
  if (level != nullptr) {
    ::setenv("TM_LOG_LEVEL", level, 1);
  } else {
    ::unsetenv("TM_LOG_LEVEL");
  }
  const std::string out = CaptureStderr([&] {
    taskmaster::SetUpLogging(program, format);
    log();
  });
  ::unsetenv("TM_LOG_LEVEL");
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logging)

BOOST_AUTO_TEST_CASE(json_lines_stay_valid_json_whatever_the_message_holds) {
  const std::string out = Logged(nullptr, "tm-test", LogFormat::kJson, [] {
    spdlog::info("bell\a tab\t nul{} bad\xff\xE2\x80 ok\u00e9", std::string(1, '\0'));
  });
  BOOST_REQUIRE(!out.empty() && out.back() == '\n');
  // One line; control characters escaped, each invalid byte becomes U+FFFD.
  BOOST_TEST(out.find('\n') == out.size() - 1, out);
  BOOST_TEST(
      out.find("\"msg\":\"bell\\u0007 tab\\t nul\\u0000 bad\uFFFD\uFFFD\uFFFD ok\u00e9\"}") !=
          std::string::npos,
      out);
  rapidjson::Document line;
  BOOST_REQUIRE(taskmaster::ParseJson(out, "log line", &line).ok());
  const std::string want("bell\a tab\t nul\0 bad\uFFFD\uFFFD\uFFFD ok\u00e9", 33);
  BOOST_TEST(std::string(line["msg"].GetString(), line["msg"].GetStringLength()) == want);
}

BOOST_AUTO_TEST_CASE(json_lines_when_asked) {
  const std::string out = Logged(nullptr, "tm-test", LogFormat::kJson, [] {
    spdlog::info("restored {} tasks from \"{}\"", 3, "shard.json");
    spdlog::debug("not shown at info");
    spdlog::warn("line one\nline two");
  });
  const std::regex line(
      R"re(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"(info|warn)",)re"
      R"re("logger":"tm-test","msg":"[^\n]*"\}\n)re");
  const std::string first = out.substr(0, out.find('\n') + 1);
  BOOST_TEST(std::regex_match(first, line), first);
  BOOST_TEST(first.find(R"("level":"info")") != std::string::npos);
  BOOST_TEST(first.find(R"("msg":"restored 3 tasks from \"shard.json\"")") != std::string::npos);
  const std::string second = out.substr(first.size());
  BOOST_TEST(std::regex_match(second, line), second);
  BOOST_TEST(second.find(R"("level":"warn","logger":"tm-test","msg":"line one\nline two")") !=
             std::string::npos);
  BOOST_TEST(out.find("not shown") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(text_lines_and_level_from_environment) {
  const std::string out = Logged("warn", "tm-step", LogFormat::kText, [] {
    spdlog::info("hidden");
    spdlog::error("store unreachable");
  });
  const std::regex line(
      R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ERROR tm-step: store unreachable\n)");
  BOOST_TEST(std::regex_match(out, line), out);
}

BOOST_AUTO_TEST_CASE(unknown_level_warns_and_uses_info) {
  const std::string out = Logged("loud", "tm-step", LogFormat::kJson, [] {
    spdlog::info("still shown");
    spdlog::debug("not shown");
  });
  BOOST_TEST(out.find("TM_LOG_LEVEL='loud'") != std::string::npos, out);
  BOOST_TEST(out.find("still shown") != std::string::npos);
  BOOST_TEST(out.find("not shown") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
