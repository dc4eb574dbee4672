// tm-step's command line (DESIGN.md §8): exit codes, usage errors, validate and
// the bad-input table, init's "nothing written" rule (the inline list limit
// too), checkpoint verify|show and install, all through the real binary.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "step_harness.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step_test {
namespace {

namespace pr = protocol;

// One row of the bad-input table of the foundation issue.
struct BadList {
  const char* name;
  std::string list;
  std::string message;  // part of what tm-step must say
  bool via_file_only;   // too large for one argv string (MAX_ARG_STRLEN is 128 KiB)
};

std::vector<BadList> BadLists() {
  const int kDepth = 100000;
  return {
      {"invalid JSON", R"(["a",)", "invalid JSON at byte", false},
      {"not an array", R"({"a":1})", "expected a JSON array", false},
      {"non-string item", R"(["a",1])", "expected a string, got a number", false},
      {"empty list", "[]", "is empty", false},
      {"empty ID", R"([""])", "task ID is empty", false},
      {"257-byte ID", "[\"" + std::string(257, 'x') + "\"]", "257 bytes; the limit is 256", false},
      {"escaped control character", R"(["a\u0001"])", "control character U+0001", false},
      {"raw control character", "[\"a\x01\"]", "control character U+0001", false},
      {"invalid UTF-8", "[\"a\xff\"]", "not valid UTF-8", false},
      {"duplicate", R"(["a","b","a"])", "duplicate task ID \"a\"", false},
      {"100000-deep nesting", std::string(kDepth, '[') + std::string(kDepth, ']'), "got an array",
       true},
  };
}

constexpr const char* kUsageLine = "usage: tm-step";

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(version_and_help_exit_0) {
  StepResult version = RunStep({"--version"});
  BOOST_CHECK_EQUAL(version.exit_code, 0);
  BOOST_CHECK_EQUAL(version.out, std::string("tm-step ") + kStepVersion + "\n");

  StepResult help = RunStep({"--help"});
  BOOST_CHECK_EQUAL(help.exit_code, 0);
  for (const char* sub : {"validate", "init", "run", "finalize", "checkpoint", "install"}) {
    BOOST_CHECK_MESSAGE(Contains(help.out, sub), "--help does not mention " << sub);
  }
}

BOOST_AUTO_TEST_CASE(parse_errors_exit_2_with_a_usage_line) {
  const std::vector<std::vector<std::string>> cases = {
      {},                           // no subcommand
      {"--bogus"},                  // unknown flag
      {"validate", "--task-list"},  // missing value
      {"validate", "--task-list", "[\"a\"]", "--bogus"},
      {"validate"},                           // missing required flag
      {"run", "--shard"},                     // missing value
      {"run", "--shard", "x", "--", "true"},  // not a number
      {"checkpoint"},                         // no sub-subcommand
      {"checkpoint", "verify"},               // missing file
      {"install"},                            // missing dir
      {"frobnicate"},                         // unknown subcommand
  };
  for (const auto& args : cases) {
    std::string joined;
    for (const auto& a : args) joined += " " + a;
    BOOST_TEST_CONTEXT("tm-step" << joined) {
      StepResult r = RunStep(args);
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
      BOOST_CHECK_MESSAGE(Contains(r.err, kUsageLine), "stderr: " << r.err);
    }
  }
}

BOOST_AUTO_TEST_CASE(validate_accepts_a_good_list) {
  const std::string longest(256, 'y');  // the limit itself is allowed
  const std::vector<std::string> ids = {"a", "tenants/acme/2026-11-28", "café", longest};
  const std::string list = "[\"a\",\"tenants/acme/2026-11-28\",\"café\",\"" + longest + "\"]";
  StepResult r = RunStep({"validate", "--task-list", list});
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  BOOST_CHECK_EQUAL(r.out, "valid task list: 4 tasks, list hash " + pr::ListHash(ids) + "\n");

  TempDir tmp;
  WriteFile(tmp / "list.json", list);
  StepResult from_file = RunStep({"validate", "--task-list", "@" + (tmp / "list.json")});
  BOOST_CHECK_EQUAL(from_file.exit_code, 0);
  BOOST_CHECK_EQUAL(from_file.out, r.out);
}

// validate reads the list as a stream and keeps a hash per ID, not the IDs:
// 120,000 IDs of 250 bytes (30 MB of JSON) pass within a 16 MiB address space
// (the table of hashes takes 2 MiB), where reading the file whole could not.
BOOST_AUTO_TEST_CASE(validate_keeps_no_id_in_memory) {
  TempDir tmp;
  std::vector<std::string> ids;
  std::string list = "[";
  char prefix[16];
  for (int i = 0; i < 120000; ++i) {
    std::snprintf(prefix, sizeof(prefix), "%06d-", i);
    ids.push_back(prefix + std::string(243, 'x'));
    list += (i ? ",\"" : "\"") + ids.back() + "\"";
  }
  list += "]";
  BOOST_REQUIRE_GT(list.size(), 30000000u);
  WriteFile(tmp / "list.json", list);
  const std::string validate =
      std::string(kStepBinary) + " validate --task-list @" + (tmp / "list.json");
  StepResult r = RunShell("ulimit -v 16384 && exec " + validate);
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  BOOST_CHECK_EQUAL(r.out, "valid task list: 120000 tasks, list hash " + pr::ListHash(ids) + "\n");
  // The limit is real: a buffer that holds the whole file does not fit in it.
  StepResult whole =
      RunShell("ulimit -v 16384 && exec dd status=none bs=30M count=1 if=" + (tmp / "list.json") +
               " of=/dev/null 2>/dev/null");
  BOOST_CHECK_NE(whole.exit_code, 0);
}

BOOST_AUTO_TEST_CASE(validate_refuses_the_bad_input_table) {
  TempDir tmp;
  for (const BadList& bad : BadLists()) {
    BOOST_TEST_CONTEXT(bad.name) {
      WriteFile(tmp / "list.json", bad.list);
      std::vector<std::string> forms = {"@" + (tmp / "list.json")};
      if (!bad.via_file_only) forms.push_back(bad.list);
      for (const std::string& arg : forms) {
        StepResult r = RunStep({"validate", "--task-list", arg});
        BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
        BOOST_CHECK_MESSAGE(Contains(r.err, bad.message), "stderr: " << r.err);
        BOOST_CHECK(r.out.empty());
      }
    }
  }
  StepResult missing = RunStep({"validate", "--task-list", "@" + (tmp / "missing.json")});
  BOOST_CHECK_EQUAL(missing.exit_code, pr::kExitUsage);
  BOOST_CHECK_MESSAGE(
      Contains(missing.err, tmp / "missing.json") && Contains(missing.err, "No such file"),
      "stderr: " << missing.err);
}

BOOST_AUTO_TEST_CASE(init_with_bad_input_writes_nothing) {
  TempDir tmp;
  const std::string work = tmp / "work";
  // A short ready timeout: an init that wrongly went on to wait for the sidecar
  // exits 75, not 2, instead of hanging the suite.
  EnvVars env = {
      {pr::kEnvStateKey, "wf-init"}, {pr::kEnvWorkDir, work}, {pr::kEnvReadyTimeout, "0.3"}};
  struct Case {
    std::string name;
    std::vector<std::string> args;
    EnvVars env;
    std::string message;
  };
  std::vector<Case> cases;
  for (const BadList& bad : BadLists()) {
    const std::string file = tmp / (std::string("list-") + std::to_string(cases.size()));
    WriteFile(file, bad.list);
    cases.push_back({bad.name, {"init", "--task-list", "@" + file}, env, bad.message});
  }
  cases.push_back(
      {"missing @file", {"init", "--task-list", "@" + (tmp / "nope")}, env, "No such file"});
  // Valid, but too long to travel in a Workflow object: record it with submit.
  std::string long_list = "[\"" + std::string(pr::kMaxInlineTaskListBytes, 'x');
  long_list.resize(pr::kMaxInlineTaskListBytes - 2);
  long_list += "\"]";
  WriteFile(tmp / "at-limit.json", long_list);
  WriteFile(tmp / "over-limit.json", long_list + " ");
  cases.push_back({"list over the inline limit",
                   {"init", "--task-list", "@" + (tmp / "over-limit.json")},
                   env,
                   "262145 bytes of JSON, over the 262144-byte limit of a list given to init "
                   "(it travels in the Workflow object): record it in the store with `tm-sidecar "
                   "submit --task-list @FILE --state-key wf-init`"});
  // At the limit the list is read and validated (and its 262140-byte ID refused).
  cases.push_back({"list at the inline limit",
                   {"init", "--task-list", "@" + (tmp / "at-limit.json")},
                   env,
                   "the limit is 256"});
  EnvVars bad_key = env;
  bad_key[pr::kEnvStateKey] = "wf\x01";
  cases.push_back({"control character in the state key",
                   {"init", "--task-list", "[\"a\"]"},
                   bad_key,
                   "state key"});
  EnvVars long_key = env;
  long_key[pr::kEnvStateKey] = std::string(257, 'k');
  cases.push_back(
      {"257-byte state key", {"init", "--task-list", "[\"a\"]"}, long_key, "state key"});
  cases.push_back({"batch size 0",
                   {"init", "--task-list", "[\"a\"]", "--batch-size", "0"},
                   env,
                   "--batch-size"});
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      StepResult r = RunStep(c.args, c.env);
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
      BOOST_CHECK_MESSAGE(Contains(r.err, c.message), "stderr: " << r.err);
      BOOST_CHECK_MESSAGE(!FileExists(work), "init wrote into " << work);
    }
  }
}

// --max-failure-percent (0-100) and --task-retries (0-1000) of run, finalize
// and local: a bad value is exit 2 naming the flag, before anything is written.
BOOST_AUTO_TEST_CASE(bad_failure_budgets_exit_2_and_write_nothing) {
  TempDir tmp;
  const std::string work = tmp / "work";
  EnvVars env = {
      {pr::kEnvStateKey, "wf-budget"}, {pr::kEnvWorkDir, work}, {pr::kEnvReadyTimeout, "0.3"}};
  struct Case {
    std::vector<std::string> args;
    const char* flag;
  };
  std::vector<Case> cases;
  for (const char* percent : {"101", "-1", "ten", "nan", "1e3"}) {
    cases.push_back({{"run", "--shard", "0", "--max-failure-percent", percent, "--", "true"},
                     "--max-failure-percent"});
    cases.push_back({{"finalize", "--max-failure-percent", percent}, "--max-failure-percent"});
    cases.push_back({{"local", "--task-list", "[\"a\"]", "--state-dir", tmp / "state",
                      "--max-failure-percent", percent, "--", "true"},
                     "--max-failure-percent"});
  }
  for (const char* retries : {"-1", "1001", "0x10", "2.5"}) {
    cases.push_back(
        {{"run", "--shard", "0", "--task-retries", retries, "--", "true"}, "--task-retries"});
    cases.push_back({{"local", "--task-list", "[\"a\"]", "--state-dir", tmp / "state", "--retries",
                      retries, "--", "true"},
                     "--retries"});
  }
  cases.push_back({{"local", "--task-list", "[\"a\"]", "--state-dir", tmp / "state",
                    "--pod-retries", "-3", "--", "true"},
                   "--pod-retries"});
  for (const Case& c : cases) {
    std::string joined;
    for (const auto& a : c.args) joined += " " + a;
    BOOST_TEST_CONTEXT("tm-step" << joined) {
      StepResult r = RunStep(c.args, env);
      BOOST_CHECK_EQUAL(r.exit_code, pr::kExitUsage);
      BOOST_CHECK_MESSAGE(Contains(r.err, c.flag), "stderr: " << r.err);
      BOOST_CHECK_MESSAGE(!FileExists(work), "tm-step wrote into " << work);
      BOOST_CHECK_MESSAGE(!FileExists(tmp / "state"), "tm-step local made its state dir");
    }
  }
}

BOOST_AUTO_TEST_CASE(checkpoint_verify_and_show) {
  TempDir tmp;
  CheckpointFields fields{"wf-1", "task/7", 3, 12, 2, 1764376082123};
  auto doc = EncodeCheckpoint(fields, R"({ "next" : 42, "seen" : ["a","b"] })");
  BOOST_REQUIRE(doc.ok());
  const std::string good = tmp / "good.json";
  WriteFile(good, *doc + "\n");

  StepResult valid = RunStep({"checkpoint", "verify", good});
  BOOST_CHECK_EQUAL(valid.exit_code, 0);
  BOOST_CHECK_MESSAGE(
      Contains(valid.out, "valid checkpoint of task task/7") && Contains(valid.out, "generation 2"),
      "stdout: " << valid.out);

  StepResult show = RunStep({"checkpoint", "show", good});
  BOOST_CHECK_EQUAL(show.exit_code, 0);
  BOOST_CHECK_EQUAL(show.out, "{\"next\":42,\"seen\":[\"a\",\"b\"]}\n");

  // The golden document both programs' tests read verifies too.
  StepResult golden =
      RunStep({"checkpoint", "verify", std::string(TM_GOLDEN_DIR) + "/checkpoint.json"});
  BOOST_CHECK_EQUAL(golden.exit_code, 0);

  std::string flipped = *doc;
  const size_t digit = flipped.find("42");
  BOOST_REQUIRE(digit != std::string::npos);
  flipped[digit] = '5';
  WriteFile(tmp / "flipped.json", flipped + "\n");
  StepResult corrupt = RunStep({"checkpoint", "verify", tmp / "flipped.json"});
  BOOST_CHECK_EQUAL(corrupt.exit_code, pr::kExitCorrupt);
  BOOST_CHECK_MESSAGE(Contains(corrupt.err, "checksum mismatch"), "stderr: " << corrupt.err);
  StepResult show_corrupt = RunStep({"checkpoint", "show", tmp / "flipped.json"});
  BOOST_CHECK_EQUAL(show_corrupt.exit_code, pr::kExitCorrupt);
  BOOST_CHECK(show_corrupt.out.empty());

  WriteFile(tmp / "truncated.json", doc->substr(0, doc->size() / 2));
  StepResult truncated = RunStep({"checkpoint", "verify", tmp / "truncated.json"});
  BOOST_CHECK_EQUAL(truncated.exit_code, pr::kExitCorrupt);
  BOOST_CHECK_MESSAGE(Contains(truncated.err, "truncated"), "stderr: " << truncated.err);

  StepResult missing = RunStep({"checkpoint", "verify", tmp / "missing.json"});
  BOOST_CHECK_EQUAL(missing.exit_code, pr::kExitUsage);
  BOOST_CHECK_MESSAGE(Contains(missing.err, "missing.json"), "stderr: " << missing.err);
}

BOOST_AUTO_TEST_CASE(install_copies_a_working_executable) {
  TempDir tmp;
  const std::string dir = tmp / "bin/nested";
  StepResult r = RunStep({"install", dir});
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  const std::string installed = dir + "/tm-step";
  struct stat st;
  BOOST_REQUIRE_MESSAGE(::stat(installed.c_str(), &st) == 0, "no " << installed);
  BOOST_CHECK((st.st_mode & 0111) == 0111);
  BOOST_CHECK_EQUAL(ReadFile(installed), ReadFile(kStepBinary));
  BOOST_CHECK(!FileExists(installed + ".tmp"));

  StepResult version = RunShell(installed + " --version");
  BOOST_CHECK_EQUAL(version.exit_code, 0);
  BOOST_CHECK_EQUAL(version.out, std::string("tm-step ") + kStepVersion + "\n");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
