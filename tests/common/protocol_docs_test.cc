// docs/protocol.md against tests/golden/: every JSON example the page marks
// with a line `<!-- golden: NAME -->` right before its fenced block is the golden
// file NAME byte for byte, every fenced JSON block is marked, and every golden
// file of the work-dir protocol has an example. So the page cannot drift from
// the bytes the programs write.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "golden.h"

using taskmaster::testing::ReadFileOrFail;
using taskmaster::testing::ReadGolden;

namespace {

constexpr const char* kMarkerStart = "<!-- golden: ";
constexpr const char* kMarkerEnd = " -->";
constexpr const char* kJsonFence = "```json";
constexpr const char* kFence = "```";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool StartsWith(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool EndsWith(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One marked example of the page: the golden file it names and its block's text.
struct Example {
  std::string golden;
  std::string text;  // the block's lines, each ending in "\n" (as a golden file does)
  size_t line = 0;   // of the marker, from 1
};

struct Examples {
  std::vector<Example> marked;
  // "line N: ..." for a marker without its block and a JSON block without a marker.
  std::vector<std::string> problems;
};

Examples ReadExamples(const std::string& markdown) {
  const std::vector<std::string> lines = Lines(markdown);
  Examples out;
  const auto problem = [&](size_t i, const std::string& what) {
    out.problems.push_back("line " + std::to_string(i + 1) + ": " + what);
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (StartsWith(line, kJsonFence)) {
      problem(i, "a JSON example without a golden marker right before it");
      continue;
    }
    if (!StartsWith(line, kMarkerStart) || !EndsWith(line, kMarkerEnd)) continue;
    if (i + 1 == lines.size() || lines[i + 1] != kJsonFence) {
      problem(i, "a golden marker not right before a ```json block");
      continue;
    }
    Example example;
    const size_t start = std::string(kMarkerStart).size();
    example.golden = line.substr(start, line.size() - start - std::string(kMarkerEnd).size());
    example.line = i + 1;
    size_t end = i + 2;
    for (; end < lines.size() && lines[end] != kFence; ++end) example.text += lines[end] + "\n";
    if (end == lines.size()) {
      problem(i, "the ```json block never closes");
      break;
    }
    out.marked.push_back(example);
    i = end;
  }
  return out;
}

std::string ProtocolPage() {
  return ReadFileOrFail(std::string(TM_DOCS_DIR) + "/protocol.md");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(protocol_docs)

BOOST_AUTO_TEST_CASE(every_marked_example_is_its_golden_file) {
  const Examples examples = ReadExamples(ProtocolPage());
  for (const std::string& problem : examples.problems) BOOST_ERROR("docs/protocol.md " << problem);
  BOOST_TEST(!examples.marked.empty());
  for (const Example& example : examples.marked) {
    BOOST_TEST_CONTEXT("docs/protocol.md:" << example.line << " (" << example.golden << ")") {
      const std::string golden = ReadGolden(example.golden);
      BOOST_TEST(example.text == golden);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_golden_file_has_an_example) {
  // The stored workflow state is the stores' document, not a work-dir file;
  // DESIGN.md describes it.
  const std::set<std::string> elsewhere = {"workflow-state.json"};
  std::set<std::string> shown;
  for (const Example& example : ReadExamples(ProtocolPage()).marked) {
    shown.insert(example.golden);
  }
  for (const auto& entry : std::filesystem::directory_iterator(TM_GOLDEN_DIR)) {
    const std::string name = entry.path().filename().string();
    if (elsewhere.count(name) > 0) continue;
    BOOST_TEST(shown.count(name) == 1u, name << " has no example in docs/protocol.md");
  }
}

// The reader sees a page that drifted: a changed byte, a block without its
// marker, a marker without its block.
BOOST_AUTO_TEST_CASE(the_reader_sees_drift) {
  const Examples one =
      ReadExamples("text\n<!-- golden: ack.json -->\n```json\n{\"seq\":6}\n```\nmore\n");
  BOOST_TEST(one.problems.empty());
  BOOST_REQUIRE_EQUAL(one.marked.size(), 1u);
  BOOST_TEST(one.marked[0].golden == "ack.json");
  BOOST_TEST(one.marked[0].text == "{\"seq\":6}\n");
  BOOST_TEST(one.marked[0].line == 2u);
  BOOST_TEST(one.marked[0].text != ReadGolden("ack.json"));

  const Examples unmarked = ReadExamples("text\n\n```json\n{}\n```\n");
  BOOST_TEST(unmarked.marked.empty());
  BOOST_TEST(
      unmarked.problems ==
      std::vector<std::string>{"line 3: a JSON example without a golden marker right before it"});

  const Examples apart = ReadExamples("<!-- golden: ack.json -->\n\n```json\n{}\n```\n");
  BOOST_TEST(apart.problems.size() == 2u);
  BOOST_TEST(apart.problems[0] == "line 1: a golden marker not right before a ```json block");

  const Examples open = ReadExamples("<!-- golden: ack.json -->\n```json\n{}\n");
  BOOST_TEST(open.problems == std::vector<std::string>{"line 1: the ```json block never closes"});

  BOOST_TEST(ReadExamples("```\nplain text\n```\n").problems.empty());
}

BOOST_AUTO_TEST_SUITE_END()
