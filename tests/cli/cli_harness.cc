#include "cli_harness.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>

#include "support/temp_dir.h"

namespace taskmaster::cli_test {

namespace {

void Substitute(std::string* text, const std::string& dir) {
  for (size_t at = text->find("{T}"); at != std::string::npos; at = text->find("{T}", at)) {
    text->replace(at, 3, dir);
  }
}

}  // namespace

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

RunResult RunIn(const std::string& binary, std::vector<std::string> args, EnvVars env) {
  test_support::TempDir scratch("tm-cli-scratch");
  test_support::TempDir capture("tm-cli-capture");
  for (std::string& arg : args) Substitute(&arg, scratch.path());
  for (auto& [name, value] : env) Substitute(&value, scratch.path());
  test_support::ChildProcess child(binary, args, env, capture / "run");
  RunResult result;
  const auto code = child.Wait(std::chrono::seconds(20));
  BOOST_REQUIRE_MESSAGE(code.has_value(), binary << " did not exit within 20 s");
  result.exit_code = *code;
  result.out = child.out();
  result.err = child.err();
  for (const auto& entry : std::filesystem::directory_iterator(scratch.path())) {
    result.written.push_back(entry.path().filename().string());
  }
  return result;
}

}  // namespace taskmaster::cli_test
