// No store password in anything tm-step or tm-sidecar print or expose
// (README, "Secrets"): both programs run against the PostgreSQL and Redis of
// scripts/test-services.sh as the user tm_secret, whose password is
// TM_TEST_SECRET, on good paths and failing ones (wrong password, unknown
// host, nothing listening, a DSN libpq refuses, an interrupted run), and
// every byte they wrote — stdout, stderr, files and logs in their state dir,
// /metrics and the API's answers, the /proc/<pid>/cmdline of every process
// while a run was going — is searched for the password.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli_harness.h"
#include "support/files.h"
#include "support/temp_dir.h"
#include "support/wait_until.h"

namespace taskmaster::cli_test {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using test_support::ChildProcess;
using test_support::FileExists;
using test_support::ReadFile;
using test_support::RunShell;
using test_support::TempDir;
using test_support::WaitUntil;

std::string Required(const char* name) {
  const char* value = std::getenv(name);
  BOOST_REQUIRE_MESSAGE(value != nullptr && *value != '\0',
                        name << " is not set: run under scripts/test-services.sh");
  return value;
}

// The services, as tm_secret.
struct Secrets {
  std::string password = Required("TM_TEST_SECRET");
  std::string postgres = Required("TM_TEST_SECRET_POSTGRES_DSN");
  std::string redis_port = Required("TM_TEST_REDIS_PORT");
  std::string pg_port = Required("TM_TEST_PG_PORT");
  std::string redis() const {
    return "redis://tm_secret:" + password + "@127.0.0.1:" + redis_port + "/0";
  }
  EnvVars Env() const { return {{"TM_POSTGRES_DSN", postgres}, {"TM_REDIS_URL", redis()}}; }
  // A DSN like the good one with `password` instead, at `hostport`.
  std::string Postgres(const std::string& pw, const std::string& hostport) const {
    return "postgresql://tm_secret:" + pw + "@" + hostport + "/tm_secret";
  }
};

// Everything under `dir`, each file's bytes after its path.
std::string EverythingUnder(const std::string& dir) {
  std::string all;
  if (!fs::exists(dir)) return all;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) all += entry.path().string() + ":\n" + ReadFile(entry.path());
  }
  return all;
}

void CheckNoSecret(const Secrets& s, const std::string& where, const std::string& text) {
  BOOST_CHECK_MESSAGE(!Contains(text, s.password), where << " holds the password:\n" << text);
}

void CheckRun(const Secrets& s, const std::string& what, const RunResult& r) {
  CheckNoSecret(s, what + " stdout", r.out);
  CheckNoSecret(s, what + " stderr", r.err);
}

// A failure must say something, exit non-zero and still not print the password.
void CheckFailure(const Secrets& s, const std::string& what, const RunResult& r) {
  BOOST_CHECK_MESSAGE(r.exit_code != 0, what << " exited 0");
  BOOST_CHECK_MESSAGE(!r.err.empty(), what << " said nothing on stderr");
  CheckRun(s, what, r);
}

std::string Curl(const std::string& url) {
  return RunShell("curl -s --max-time 10 '" + url + "'").out;
}

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(a_local_run_and_the_read_commands_never_show_the_password) {
  const Secrets s;
  TempDir dir("tm-secrets");
  const std::string key = "secrets-" + std::to_string(::getpid());
  const std::string cmdlines = dir / "cmdlines";
  // Each task takes the command lines of every process while the run is going.
  const std::string task =
      "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\"; echo; done >> " + cmdlines +
      " 2>/dev/null; true";
  const RunResult local =
      RunIn(kStep,
            {"local", "--task-list", "[\"a\",\"b\",\"c\"]", "--state-dir", dir / "state",
             "--state-key", key, "--sidecar", kSidecar, "--", "sh", "-c", task},
            s.Env());
  BOOST_CHECK_MESSAGE(local.exit_code == 0, local.err);
  CheckRun(s, "tm-step local", local);
  const std::string seen = ReadFile(cmdlines);
  BOOST_CHECK_MESSAGE(Contains(seen, "tm-sidecar") && Contains(seen, "tm-step"),
                      "the command lines were not taken while the run went: " << seen);
  CheckNoSecret(s, "/proc/*/cmdline during the run", seen);
  CheckNoSecret(s, "the state dir", EverythingUnder(dir / "state"));

  for (const std::vector<std::string>& args : {std::vector<std::string>{"status", key},
                                               {"get", key, "-o", "json"},
                                               {"tasks", key, "-o", "json"},
                                               {"history", key, "a", "-o", "json"},
                                               {"rebuild-cache", key},
                                               {"expire", key, "--ttl", "3600"}}) {
    const RunResult r = RunIn(kSidecar, args, s.Env());
    BOOST_CHECK_MESSAGE(r.exit_code == 0, args.front() << ": " << r.err);
    BOOST_CHECK(!r.out.empty());
    CheckRun(s, "tm-sidecar " + args.front(), r);
  }
}

BOOST_AUTO_TEST_CASE(the_api_shows_no_password_in_answers_metrics_or_cmdline) {
  const Secrets s;
  TempDir dir("tm-secrets-api");
  RunResult submitted =
      RunIn(kSidecar, {"submit", "--task-list", "[\"x\"]", "-o", "json"}, s.Env());
  BOOST_REQUIRE_MESSAGE(submitted.exit_code == 0, submitted.err);
  const std::string port_file = dir / "port";
  ChildProcess api(kSidecar, {"api", "--listen", "127.0.0.1:0", "--port-file", port_file}, s.Env(),
                   dir / "api");
  BOOST_REQUIRE(WaitUntil([&] { return FileExists(port_file); }, milliseconds(20000)));
  std::string port = ReadFile(port_file);
  port.erase(port.find_last_not_of("\n") + 1);
  const std::string url = "http://127.0.0.1:" + port;
  const std::string metrics = Curl(url + "/metrics");
  BOOST_CHECK(Contains(metrics, "store_up"));
  CheckNoSecret(s, "/metrics", metrics);
  for (const std::string& path : {std::string("/api/workflows/no-such"), std::string("/readyz")}) {
    CheckNoSecret(s, path, Curl(url + path));
  }
  CheckNoSecret(s, "the api's cmdline",
                ReadFile("/proc/" + std::to_string(api.pid()) + "/cmdline"));
  api.SignalGroup(SIGTERM);
  BOOST_CHECK_EQUAL(api.Wait(milliseconds(20000)).value_or(-1), 0);
  CheckNoSecret(s, "the api's stdout", api.out());
  CheckNoSecret(s, "the api's stderr", api.err());
}

BOOST_AUTO_TEST_CASE(store_failures_never_print_the_password) {
  const Secrets s;
  const std::string wrong = s.Postgres(s.password + "-wrong", "127.0.0.1:" + s.pg_port);
  const std::string no_host = s.Postgres(s.password, "no-such-host.invalid:5432");
  const std::string closed = s.Postgres(s.password, "127.0.0.1:1");
  const std::string refused_by_libpq = s.postgres + "?no_such_option=" + s.password;
  for (const auto& [name, dsn] : {std::pair<std::string, std::string>{"wrong password", wrong},
                                  {"unknown host", no_host},
                                  {"nothing listening", closed},
                                  {"a DSN libpq refuses", refused_by_libpq}}) {
    BOOST_TEST_CONTEXT(name) {
      CheckFailure(s, "migrate", RunIn(kSidecar, {"migrate"}, {{"TM_POSTGRES_DSN", dsn}}));
      CheckFailure(s, "status --postgres", RunIn(kSidecar, {"status", "k", "--postgres", dsn}));
      CheckFailure(s, "the sidecar",
                   RunIn(kSidecar,
                         {"--work-dir", "{T}", "--state-key", "k", "--store-wait", "0.2",
                          "--listen", "127.0.0.1:0"},
                         {{"TM_POSTGRES_DSN", dsn}}));
      CheckFailure(s, "api",
                   RunIn(kSidecar, {"--store-wait", "0.2", "api", "--listen", "127.0.0.1:0"},
                         {{"TM_POSTGRES_DSN", dsn}}));
      const RunResult local =
          RunIn(kStep,
                {"local", "--task-list", "[\"a\"]", "--state-dir", "{T}/state", "--sidecar",
                 kSidecar, "--pod-retries", "0", "--postgres", dsn, "--", "true"},
                {{"TM_STORE_WAIT", "0.2"}});
      CheckFailure(s, "tm-step local", local);
    }
  }
  const std::string redis_wrong =
      "redis://tm_secret:" + s.password + "-wrong@127.0.0.1:" + s.redis_port + "/0";
  const std::string redis_closed = "redis://tm_secret:" + s.password + "@127.0.0.1:1/0";
  RunResult migrated = RunIn(
      kSidecar, {"submit", "--task-list", "[\"r\"]", "--state-key", "secrets-redis", "-o", "json"},
      {{"TM_POSTGRES_DSN", s.postgres}});
  BOOST_REQUIRE_MESSAGE(migrated.exit_code == 0, migrated.err);
  for (const std::string& url : {redis_wrong, redis_closed}) {
    CheckFailure(s, "rebuild-cache",
                 RunIn(kSidecar, {"rebuild-cache", "secrets-redis"},
                       {{"TM_POSTGRES_DSN", s.postgres}, {"TM_REDIS_URL", url}}));
    CheckFailure(s, "expire --redis", RunIn(kSidecar, {"expire", "secrets-redis", "--redis", url}));
  }
}

// tm-step local given its DSN on the command line prints the command that
// resumes it when stopped: with the password masked.
BOOST_AUTO_TEST_CASE(an_interrupted_local_run_prints_its_command_without_the_password) {
  const Secrets s;
  TempDir dir("tm-secrets-stop");
  const std::string started = dir / "started";
  ChildProcess local(kStep,
                     {"local", "--task-list", "[\"slow\"]", "--state-dir", dir / "state",
                      "--sidecar", kSidecar, "--postgres", s.postgres, "--redis", s.redis(), "--",
                      "sh", "-c", "touch " + started + "; exec sleep 60"},
                     {}, dir / "local");
  BOOST_REQUIRE(WaitUntil([&] { return FileExists(started); }, milliseconds(20000)));
  ::kill(local.pid(), SIGINT);
  BOOST_CHECK_EQUAL(local.Wait(milliseconds(20000)).value_or(-1), 130);
  BOOST_CHECK_MESSAGE(Contains(local.out(), "tm_secret:***@"), local.out());
  CheckNoSecret(s, "stdout", local.out());
  CheckNoSecret(s, "stderr", local.err());
  CheckNoSecret(s, "the state dir", EverythingUnder(dir / "state"));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::cli_test
