#include "taskmaster/fingerprint.h"

#include <regex>
#include <utility>
#include <vector>

#include "taskmaster/utf8.h"

namespace taskmaster {
namespace {

// The replacements, most specific first: a time holds numbers, and a UUID or a
// path holds hex, so each is collapsed before its parts could be.
const std::vector<std::pair<std::regex, const char*>>& Replacements() {
  static const auto* const kReplacements = new std::vector<std::pair<std::regex, const char*>>{
      {std::regex(R"(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?)"),
       "<time>"},
      {std::regex(
           R"(\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"),
       "<uuid>"},
      {std::regex(R"(\b0[xX][0-9a-fA-F]+\b)"), "<hex>"},
      {std::regex(R"(\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b)"), "<hex>"},
      {std::regex(R"((^|[\s=:('"\[])/[^\s'"\])]+)"), "$1<path>"},
      {std::regex(R"(\b\d+(\.\d+)?\b)"), "<n>"},
      {std::regex(R"(\s+)"), " "},
  };
  return *kReplacements;
}

std::string_view LastLine(std::string_view text) {
  while (!text.empty()) {
    const size_t newline = text.find_last_of('\n');
    std::string_view line = newline == std::string_view::npos ? text : text.substr(newline + 1);
    if (line.find_first_not_of(" \t\r\f\v") != std::string_view::npos) return line;
    if (newline == std::string_view::npos) break;
    text = text.substr(0, newline);
  }
  return {};
}

}  // namespace

std::string NormalizeErrorLine(std::string_view error) {
  std::string line(LastLine(error));
  for (const auto& [pattern, replacement] : Replacements()) {
    line = std::regex_replace(line, pattern, replacement);
  }
  const size_t first = line.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  line = line.substr(first, line.find_last_not_of(' ') - first + 1);
  line.resize(Utf8Prefix(line, kMaxNormalizedErrorBytes).size());
  return line;
}

std::string ErrorFingerprint(const std::optional<int>& exit_code, std::string_view error) {
  return (exit_code ? std::to_string(*exit_code) : std::string("-")) + ":" +
         NormalizeErrorLine(error);
}

}  // namespace taskmaster
