#include "example_check.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <set>
#include <sstream>

namespace taskmaster::local_test {

std::vector<std::string> Example::Ids() const {
  return TaskIds(tasks, "file-", 2);
}

EnvVars Example::Env(const std::string& data_dir) const {
  std::ostringstream delay;
  delay << delay_seconds;
  return {{"EXAMPLE_DATA", data_dir},
          {"EXAMPLE_RECORDS", std::to_string(records)},
          {"EXAMPLE_CHECKPOINT_EVERY", std::to_string(checkpoint_every)},
          {"EXAMPLE_DELAY", delay.str()}};
}

std::vector<std::string> Example::Command() const {
  return {Python(), kExampleTask};
}

std::string Example::Key() const {
  return std::to_string(tasks) + "/" + std::to_string(records) + "/" +
         std::to_string(checkpoint_every);
}

std::vector<std::string> ReadOutputs(const std::string& data_dir, int tasks) {
  std::vector<std::string> outputs;
  for (int i = 0; i < tasks; ++i) {
    outputs.push_back(ReadFile(data_dir + "/output/" + std::to_string(i) + ".csv"));
  }
  return outputs;
}

const std::vector<std::string>& ReferenceOutputs(const Example& example) {
  static std::map<std::string, std::vector<std::string>> cache;
  auto it = cache.find(example.Key());
  if (it != cache.end()) return it->second;
  TempDir dir;
  // Long lists (the chaos suite's) in fewer, larger shards.
  const int batch = std::max(2, example.tasks / 20);
  WriteFile(dir / "list.json", JsonList(example.Ids()));
  std::vector<std::string> args = {"--task-list", "@" + dir / "list.json", "--state-dir",
                                   dir / "state", "--batch-size",          std::to_string(batch),
                                   "--sidecar",   kSidecarBinary,          "--"};
  for (const auto& arg : example.Command()) args.push_back(arg);
  Example fast = example;
  fast.delay_seconds = 0;
  const Outcome run = RunToEnd(args, fast.Env(dir / "data"), dir.path(), milliseconds(300000));
  BOOST_REQUIRE_MESSAGE(run.code == 0, "the uninterrupted reference run failed:\n" << run.err);
  std::vector<std::string> outputs = ReadOutputs(dir / "data", example.tasks);
  for (const auto& output : outputs) {
    BOOST_REQUIRE_EQUAL(Lines(output).size(), static_cast<size_t>(example.records));
  }
  return cache.emplace(example.Key(), std::move(outputs)).first->second;
}

int64_t RecordsProcessed(const std::string& data_dir, int tasks) {
  int64_t n = 0;
  for (int i = 0; i < tasks; ++i) {
    for (const auto& line : Lines(ReadFile(data_dir + "/audit/" + std::to_string(i) + ".log"))) {
      n += line.rfind("rec ", 0) == 0 ? 1 : 0;
    }
  }
  return n;
}

AuditReport CheckAudit(const std::string& data_dir, const Example& example) {
  AuditReport report;
  for (int task = 0; task < example.tasks; ++task) {
    const std::string path = data_dir + "/audit/" + std::to_string(task) + ".log";
    auto problem = [&](const std::string& what) {
      report.problems.push_back("task " + std::to_string(task) + ": " + what);
    };
    int64_t acked = 0;       // the highest checkpoint acknowledged to any earlier run
    int64_t processed = -1;  // the highest record processed so far
    int64_t next = -1;       // the record the current run processes next
    bool finished = false;
    std::set<int64_t> seen;
    for (const std::string& line : Lines(ReadFile(path))) {
      std::istringstream in(line);
      std::string what;
      int64_t n = 0;
      in >> what >> n;
      if (what == "start") {
        ++report.runs;
        if (n < acked) {
          problem("a run resumed at record " + std::to_string(n) + ", before checkpoint " +
                  std::to_string(acked) + " that was committed: committed work ran twice");
        }
        if (n > processed + 1) {
          problem("a run resumed at record " + std::to_string(n) + " though only " +
                  std::to_string(processed + 1) + " records were ever processed");
        }
        next = n;
        finished = false;
      } else if (what == "rec") {
        if (n != next) {
          problem("record " + std::to_string(n) + " processed where " + std::to_string(next) +
                  " was due");
        }
        if (!seen.insert(n).second) ++report.repeated;
        processed = std::max(processed, n);
        next = n + 1;
      } else if (what == "acked") {
        acked = std::max(acked, n);
      } else if (what == "done") {
        finished = true;
      }
    }
    if (static_cast<int64_t>(seen.size()) != example.records) {
      problem(std::to_string(seen.size()) + " distinct records processed, not " +
              std::to_string(example.records));
    }
    if (!finished) problem("its last run did not finish");
  }
  return report;
}

}  // namespace taskmaster::local_test
