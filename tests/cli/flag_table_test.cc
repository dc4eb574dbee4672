// Every flag and TM_* variable of tm-step and tm-sidecar against values that
// must be refused (README, "Command line": accepted ranges): exit 2, a message
// naming the flag, the value's problem and the range in words, never CLI11's
// raw bounds, and nothing written — no state dir, work dir, journal or SQLite
// file. Then the edges of each range, which must be accepted.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "cli_harness.h"

namespace taskmaster::cli_test {
namespace {

constexpr int kExitUsage = 2;

// The commands the table's flags are added to; "{T}" is the scratch dir, so
// whatever a command that got through would write lands there.
const std::vector<std::string> kLocal = {"local",     "--task-list", "[\"a\"]", "--state-dir",
                                         "{T}/state", "--sidecar",   kSidecar};
const std::vector<std::string> kRun = {"run", "--state-key", "k", "--work-dir",
                                       "{T}", "--shard",     "0"};
const std::vector<std::string> kInit = {"init", "--state-key", "k",      "--work-dir",
                                        "{T}",  "--task-list", "[\"a\"]"};
const std::vector<std::string> kFinalize = {"finalize", "--state-key", "k", "--work-dir", "{T}"};
const std::vector<std::string> kPodSidecar = {"--store", "sqlite:{T}/state.db", "--work-dir",
                                              "{T}",     "--state-key",         "k"};
const std::vector<std::string> kSubmit = {"submit", "--store", "sqlite:{T}/state.db", "--task-list",
                                          "[\"a\"]"};
const std::vector<std::string> kGet = {"get", "k", "--store", "sqlite:{T}/state.db"};
const std::vector<std::string> kExpire = {"expire", "k", "--store", "sqlite:{T}/state.db"};
const std::vector<std::string> kGc = {"gc", "--store", "sqlite:{T}/state.db"};

struct BadValue {
  const char* binary;
  std::vector<std::string> command;
  std::vector<std::string> flag_and_value;  // empty when the value comes from `env`
  EnvVars env;
  std::string flag;     // named in the message
  std::string problem;  // part of the message
};

const std::string kWhole = " is not a whole number between ";
const std::string kDuration = " is not a duration between ";
const std::string kEmpty = "the value is empty: give ";

// One flag given on the command line.
BadValue Flag(const char* binary, const std::vector<std::string>& command, const std::string& flag,
              const std::string& value, const std::string& problem) {
  return {binary, command, {flag, value}, {}, flag, problem};
}

// One TM_* variable; the message names the flag it stands for.
BadValue Var(const char* binary, const std::vector<std::string>& command, const std::string& name,
             const std::string& value, const std::string& flag, const std::string& problem) {
  return {binary, command, {}, {{name, value}}, flag, problem};
}

std::vector<BadValue> StepTable() {
  const char* s = kStep;
  const std::string batch = kWhole + "1 and 1000000";
  return {
      Flag(s, kLocal, "--batch-size", "18446744073709551616", "18446744073709551616" + batch),
      Flag(s, kLocal, "--batch-size", "9223372036854775807", "9223372036854775807" + batch),
      Flag(s, kLocal, "--batch-size", "0x10", "0x10" + batch),
      Flag(s, kLocal, "--batch-size", "1e3", "1e3" + batch),
      Flag(s, kLocal, "--batch-size", "+5", "+5" + batch),
      Flag(s, kLocal, "--batch-size", "0", "0" + batch),
      Flag(s, kLocal, "--batch-size", "-1", "-1" + batch),
      Flag(s, kLocal, "--batch-size", "1000001", "1000001" + batch),
      Flag(s, kLocal, "--batch-size", " 4", "' 4'" + batch),
      Flag(s, kLocal, "--batch-size", "", "''" + batch),
      Flag(s, kLocal, "--parallelism", "0", "0" + kWhole + "1 and 5000"),
      Flag(s, kLocal, "--parallelism", "5001", "5001" + kWhole + "1 and 5000"),
      Flag(s, kLocal, "--retries", "1001", "1001" + kWhole + "0 and 1000"),
      Flag(s, kLocal, "--retries", "-1", "-1" + kWhole + "0 and 1000"),
      Flag(s, kLocal, "--pod-retries", "10001", "10001" + kWhole + "0 and 10000"),
      Flag(s, kLocal, "--quarantine-after", "1001", "1001" + kWhole + "0 and 1000"),
      Flag(s, kLocal, "--quarantine-after", "-1", "-1" + kWhole + "0 and 1000"),
      Flag(s, kLocal, "--quarantine-after", "0x3", "0x3" + kWhole + "0 and 1000"),
      Flag(s, kRun, "--quarantine-after", "3.5", "3.5" + kWhole + "0 and 1000"),
      Flag(s, kLocal, "--backoff", "nan", "nan" + kDuration + "0 s and 1 day"),
      Flag(s, kLocal, "--backoff", "inf", "inf" + kDuration + "0 s and 1 day"),
      Flag(s, kLocal, "--backoff", "-1", "-1" + kDuration + "0 s and 1 day"),
      Flag(s, kLocal, "--backoff", "1e300", "1e300" + kDuration + "0 s and 1 day"),
      Flag(s, kLocal, "--backoff", "2d", "2d" + kDuration + "0 s and 1 day"),
      Flag(s, kLocal, "--backoff", "10x", "10x" + kDuration),
      Flag(s, kLocal, "--task-timeout", "nan", "nan" + kDuration + "0 s and 7 days"),
      Flag(s, kLocal, "--task-timeout", "1e300", "1e300" + kDuration + "0 s and 7 days"),
      Flag(s, kLocal, "--task-timeout", "-5", "-5" + kDuration),
      Flag(s, kLocal, "--task-timeout", "8d", "8d" + kDuration),
      Flag(s, kLocal, "--task-timeout", "0x10", "0x10" + kDuration),
      Flag(s, kLocal, "--task-timeout", "1.s", "1.s" + kDuration),
      Flag(s, kLocal, "--max-failures", "-1", "-1" + kWhole + "0 and 1000000000"),
      Flag(s, kLocal, "--max-failures", "1000000001", kWhole + "0 and 1000000000"),
      Flag(s, kLocal, "--max-failures", "1.5", "1.5" + kWhole),
      Flag(s, kLocal, "--max-failure-percent", "101", "101 is not a number between 0 and 100"),
      Flag(s, kLocal, "--max-failure-percent", "nan", "nan is not a number between 0 and 100"),
      Flag(s, kLocal, "--max-failure-percent", "-1", "-1 is not a number between 0 and 100"),
      Flag(s, kLocal, "--max-failure-percent", "1e2", "1e2 is not a number between 0 and 100"),
      Flag(s, kLocal, "--state-key", "", "state key is empty"),
      Flag(s, kLocal, "--state-key", "a\x01", "control character U+0001"),
      Flag(s, kLocal, "--state-key", std::string(257, 'k'), "257 bytes; the limit is 256"),
      Flag(s, kLocal, "--state-dir", "", kEmpty + "a directory"),
      Flag(s, kLocal, "--postgres", "", kEmpty + "a PostgreSQL DSN"),
      Flag(s, kLocal, "--redis", "", kEmpty + "a Redis URL"),
      Flag(s, kLocal, "--sidecar", "", kEmpty + "the path of tm-sidecar"),
      Flag(s, {"local", "--state-dir", "{T}/state"}, "--task-list", "", kEmpty),
      Var(s, kLocal, "TM_BATCH_SIZE", "0x10", "--batch-size", "0x10" + batch),
      Var(s, kLocal, "TM_BACKOFF", "nan", "--backoff", "nan" + kDuration),
      Var(s, kLocal, "TM_TASK_TIMEOUT", "inf", "--task-timeout", "inf" + kDuration),
      Var(s, kLocal, "TM_PARALLELISM", "-3", "--parallelism", "-3" + kWhole),
      Var(s, kLocal, "TM_MAX_FAILURES", "9223372036854775807", "--max-failures", kWhole),
      Var(s, kLocal, "TM_RETRIES", "abc", "--retries", "abc" + kWhole),
      Var(s, kLocal, "TM_POD_RETRIES", "1e3", "--pod-retries", "1e3" + kWhole),
      Var(s, kLocal, "TM_QUARANTINE_AFTER", "2e1", "--quarantine-after", "2e1" + kWhole),
      Var(s, kLocal, "TM_STATE_KEY", "a\x01", "--state-key", "control character U+0001"),
      Flag(s, kRun, "--shard", "5000", "5000" + kWhole + "0 and 4999"),
      Flag(s, kRun, "--shard", "-1", "-1" + kWhole + "0 and 4999"),
      Flag(s, kRun, "--attempt", "10001", "10001" + kWhole + "0 and 10000"),
      Flag(s, kRun, "--last-attempt", "x", "x" + kWhole),
      Flag(s, kRun, "--grace-seconds", "0", "0" + kWhole + "1 and 86400"),
      Flag(s, kRun, "--grace-seconds", "86401", "86401" + kWhole + "1 and 86400"),
      Flag(s, kRun, "--ready-timeout", "0", "0" + kDuration + "0.001 s and 1 day"),
      Flag(s, kRun, "--ready-timeout", "nan", "nan" + kDuration),
      Flag(s, kRun, "--barrier-timeout", "inf", "inf" + kDuration),
      Flag(s, kRun, "--work-dir", "", kEmpty + "a directory"),
      Flag(s, kRun, "--command-json", "", kEmpty + "a JSON array of strings"),
      Flag(s, kRun, "--log-dir", "", kEmpty + "a directory"),
      Flag(s, kRun, "--task-timeout", "-0", "-0" + kDuration),
      Flag(s, kRun, "--argo-deadline", "", kEmpty + "an RFC 3339 time"),
      Flag(s, kRun, "--continue-on-error", "maybe", "maybe is not one of true, false"),
      Var(s, {"run", "--state-key", "k", "--work-dir", "{T}"}, "TM_SHARD", "0x1", "--shard",
          "0x1" + kWhole),
      Var(s, kRun, "TM_GRACE_SECONDS", "1e3", "--grace-seconds", "1e3" + kWhole),
      Var(s, kRun, "TM_READY_TIMEOUT", "-1", "--ready-timeout", "-1" + kDuration),
      Var(s, kRun, "TM_BARRIER_TIMEOUT", "1e300", "--barrier-timeout", "1e300" + kDuration),
      Flag(s, kInit, "--max-shards", "5001", "5001" + kWhole + "1 and 5000"),
      Flag(s, kInit, "--parallelism", "0", "0" + kWhole + "1 and 5000"),
      Flag(s, kInit, "--batch-size", "1000001", "1000001" + batch),
      Var(s, kInit, "TM_MAX_SHARDS", "12x", "--max-shards", "12x" + kWhole),
      Flag(s, kFinalize, "--max-failures", "0x10", "0x10" + kWhole),
      Flag(s, kFinalize, "--max-failure-percent", "100.5", "100.5 is not a number between"),
      Flag(s, {"checkpoint", "verify"}, "--", "", kEmpty + "a file"),
      Flag(s, {"install"}, "--", "", kEmpty + "a directory"),
  };
}

std::vector<BadValue> SidecarTable() {
  const char* c = kSidecar;
  return {
      Flag(c, kPodSidecar, "--shard", "5000", "5000" + kWhole + "0 and 4999"),
      Flag(c, kPodSidecar, "--grace-seconds", "0", "0" + kWhole + "1 and 86400"),
      Flag(c, kPodSidecar, "--store-wait", "nan", "nan" + kDuration + "0 s and 1 day"),
      Flag(c, kPodSidecar, "--store-wait", "-1", "-1" + kDuration),
      Flag(c, kPodSidecar, "--role", "leader", "leader is not one of init, shard, finalize"),
      Flag(c, kPodSidecar, "--state-key", "", "state key is empty"),
      Flag(c, kPodSidecar, "--work-dir", "", kEmpty + "a directory"),
      Flag(c, kPodSidecar, "--listen", "", kEmpty + "an address"),
      Flag(c, kPodSidecar, "--port-file", "", kEmpty + "a file"),
      Flag(c, kPodSidecar, "--progress-file", "", kEmpty + "a file"),
      Flag(c, kPodSidecar, "--pod-name", "", kEmpty + "a name"),
      Flag(c, kPodSidecar, "--serve-pods", "-1", "-1" + kWhole),
      Flag(c, kPodSidecar, "--postgres", "", kEmpty + "a PostgreSQL DSN"),
      Flag(c, kPodSidecar, "--redis", "", kEmpty + "a Redis URL"),
      Flag(c, {"--work-dir", "{T}", "--state-key", "k"}, "--store", "", kEmpty + "sqlite:PATH"),
      Var(c, kPodSidecar, "TM_STORE_WAIT", "1e300", "--store-wait", "1e300" + kDuration),
      Var(c, kPodSidecar, "TM_SHARD", "abc", "--shard", "abc" + kWhole),
      Var(c, kPodSidecar, "TM_GRACE_SECONDS", "99999999999999999999", "--grace-seconds", kWhole),
      Var(c, kPodSidecar, "TM_ROLE", "Shard", "--role", "Shard is not one of"),
      Flag(c, kSubmit, "--batch-size", "9223372036854775807", kWhole + "1 and 1000000"),
      Flag(c, kSubmit, "--batch-size", "0x10", "0x10" + kWhole),
      Flag(c, kSubmit, "--max-shards", "0", "0" + kWhole + "1 and 5000"),
      Flag(c, kSubmit, "--max-shards", "5001", "5001" + kWhole + "1 and 5000"),
      Flag(c, kSubmit, "--state-key", "", "state key is empty"),
      Flag(c, kSubmit, "--output", "yaml", "yaml is not one of text, json"),
      Var(c, kSubmit, "TM_BATCH_SIZE", "1e3", "--batch-size", "1e3" + kWhole),
      Flag(c, {"submit", "--store", "sqlite:{T}/state.db"}, "--task-list", "", kEmpty),
      Flag(c, kGet, "--interval", "0", "0" + kDuration + "0.01 s and 1 hour"),
      Flag(c, kGet, "--interval", "nan", "nan" + kDuration),
      Flag(c, kGet, "--max-failures", "-1", "-1" + kWhole),
      Flag(c, kGet, "--output", "yaml", "yaml is not one of table, wide, json, jsonl"),
      Flag(c, kExpire, "--ttl", "0", "0" + kWhole + "1 and 31536000"),
      Flag(c, kExpire, "--ttl", "0x10", "0x10" + kWhole),
      Var(c, kExpire, "TM_TTL", "31536001", "--ttl", "31536001" + kWhole),
      Flag(c, kGc, "--older-than", "", kEmpty + "a duration"),
  };
}

void CheckRefused(const BadValue& c) {
  std::vector<std::string> args = c.command;
  // "--" and "" stand for a positional argument given empty.
  if (c.flag_and_value.size() == 2 && c.flag_and_value[0] == "--") {
    args.push_back(c.flag_and_value[1]);
  } else {
    args.insert(args.end(), c.flag_and_value.begin(), c.flag_and_value.end());
  }
  if (c.binary == std::string(kStep) && c.command.front() == "run") {
    args.insert(args.end(), {"--", "true"});
  }
  if (c.binary == std::string(kStep) && c.command.front() == "local") {
    args.insert(args.end(), {"--", "true"});
  }
  const RunResult r = RunIn(c.binary, args, c.env);
  BOOST_CHECK_EQUAL(r.exit_code, kExitUsage);
  if (c.flag != "--") {
    BOOST_CHECK_MESSAGE(Contains(r.err, c.flag + ": "),
                        "stderr does not name " << c.flag << ": " << r.err);
  }
  BOOST_CHECK_MESSAGE(Contains(r.err, c.problem), "stderr: " << r.err);
  for (const char* raw : {"not in range", "Could not convert", "Value "}) {
    BOOST_CHECK_MESSAGE(!Contains(r.err, raw), "CLI11's own words in: " << r.err);
  }
  BOOST_CHECK_MESSAGE(r.err.size() < 400, "a long message: " << r.err);
  BOOST_CHECK_MESSAGE(r.written.empty(), "wrote " << r.written.front());
  BOOST_CHECK(r.out.empty());
}

// Runs every row of `table`, each in its own context.
void CheckTable(const std::string& program, const std::vector<BadValue>& table) {
  BOOST_TEST_MESSAGE(table.size() << " bad " << program << " values");
  for (const BadValue& c : table) {
    std::string shown = c.flag_and_value.empty()
                            ? c.env.begin()->first + "=" + c.env.begin()->second
                            : c.flag_and_value[0] + " '" + c.flag_and_value[1] + "'";
    BOOST_TEST_CONTEXT(program << " " << c.command.front() << " " << shown) {
      CheckRefused(c);
    }
  }
}

BOOST_AUTO_TEST_SUITE(flags)

BOOST_AUTO_TEST_CASE(bad_values_of_tm_step_are_refused_with_exit_2_and_nothing_written) {
  CheckTable("tm-step", StepTable());
}

BOOST_AUTO_TEST_CASE(bad_values_of_tm_sidecar_are_refused_with_exit_2_and_nothing_written) {
  CheckTable("tm-sidecar", SidecarTable());
}

BOOST_AUTO_TEST_CASE(the_tables_hold_at_least_60_bad_values) {
  BOOST_CHECK_GE(StepTable().size() + SidecarTable().size(), 60u);
}

// The edges of every range and each duration form, accepted: the local run
// succeeds with all of them at once.
BOOST_AUTO_TEST_CASE(edge_values_of_tm_step_local_are_accepted) {
  RunResult r = RunIn(kStep, {"local",
                              "--task-list",
                              "[\"a\",\"b\"]",
                              "--state-dir",
                              "{T}/state",
                              "--sidecar",
                              kSidecar,
                              "--batch-size",
                              "1000000",
                              "--parallelism",
                              "5000",
                              "--retries",
                              "1000",
                              "--pod-retries",
                              "0",
                              "--quarantine-after",
                              "1000",
                              "--backoff",
                              "500ms",
                              "--task-timeout",
                              "7d",
                              "--max-failures",
                              "1000000000",
                              "--max-failure-percent",
                              "100",
                              "--state-key",
                              std::string(256, 'k'),
                              "--",
                              "true"});
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.err);
  r = RunIn(kStep,
            {"local", "--task-list", "[\"a\"]", "--state-dir", "{T}/state", "--sidecar", kSidecar,
             "--", "true"},
            {{"TM_BATCH_SIZE", "1"},
             {"TM_BACKOFF", "0"},
             {"TM_TASK_TIMEOUT", "1.5m"},
             {"TM_MAX_FAILURE_PERCENT", "2.5"},
             {"TM_PARALLELISM", "1"}});
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.err);
}

BOOST_AUTO_TEST_CASE(edge_values_of_tm_sidecar_are_accepted) {
  RunResult r = RunIn(kSidecar, {"submit", "--store", "sqlite:{T}/state.db", "--task-list",
                                 "[\"a\"]", "--batch-size", "1000000", "--max-shards", "5000",
                                 "--state-key", "k", "-o", "json"});
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.err);
  r = RunIn(kSidecar, {"expire", "k", "--store", "sqlite:{T}/state.db", "--ttl", "31536000"});
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.err);
  r = RunIn(kSidecar, {"submit", "--store", "sqlite:{T}/state.db", "--task-list", "[\"a\"]"},
            {{"TM_BATCH_SIZE", "1"}, {"TM_MAX_SHARDS", "1"}, {"TM_STATE_KEY", "k"}});
  BOOST_CHECK_MESSAGE(r.exit_code == 0, r.err);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::cli_test
