#include "local/log_problems.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "taskmaster/json.h"

namespace taskmaster::step::local {

std::vector<std::string> LogProblems(Env* env, const std::string& path, uint64_t offset,
                                     size_t max) {
  std::vector<std::string> problems;
  auto text = env->ReadFile(path);
  if (!text.ok()) return problems;
  text->erase(0, std::min<uint64_t>(offset, text->size()));
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    lines.push_back(text->substr(start, end - start));
    start = end + 1;
  }
  for (const std::string& line : lines) {
    rapidjson::Document doc;
    if (!ParseJson(line, "", &doc).ok() || !doc.IsObject()) {
      if (!line.empty()) problems.push_back(line);  // a usage message
      continue;
    }
    if (!doc.HasMember("level") || !doc.HasMember("msg") || !doc["level"].IsString() ||
        !doc["msg"].IsString()) {
      continue;
    }
    const std::string level = doc["level"].GetString();
    if (level == "error" || level == "warn" || level == "critical") {
      problems.push_back(doc["msg"].GetString());
    }
  }
  if (problems.size() > max) problems.erase(problems.begin(), problems.end() - max);
  return problems;
}

}  // namespace taskmaster::step::local
