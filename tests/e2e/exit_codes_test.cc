// tm-sidecar's exit codes (DESIGN.md §9): 2 for bad config or usage (with a
// message saying what), 75 for a store unreachable at start after waiting, and
// 0 for `expire` with no Redis (the template's onExit runs it unconditionally).
#include <boost/test/unit_test.hpp>

#include "harness.h"

namespace taskmaster::e2e {
namespace {

struct Run {
  int exit_code;
  std::string err;
  std::string out;
};

Run Sidecar(const TempDir& tmp, const std::vector<std::string>& args, const EnvVars& env = {}) {
  static int runs = 0;
  Process p(kSidecarBinary, args, env, tmp / ("sidecar" + std::to_string(++runs)));
  auto code = p.Wait(milliseconds(20000));
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-sidecar still runs: " << p.err());
  return Run{*code, p.err(), p.out()};
}

BOOST_AUTO_TEST_SUITE(exit_codes)

BOOST_AUTO_TEST_CASE(bad_flags_are_2) {
  TempDir tmp;
  BOOST_CHECK_EQUAL(Sidecar(tmp, {"--no-such-flag"}).exit_code, 2);
  BOOST_CHECK_EQUAL(Sidecar(tmp, {"--role", "leader", "--state-key", "k"}).exit_code, 2);
  BOOST_CHECK_EQUAL(Sidecar(tmp, {"--shard", "-1", "--state-key", "k"}).exit_code, 2);
  BOOST_CHECK_EQUAL(
      Sidecar(tmp, {"gc", "--older-than", "soon", "--store", "sqlite:" + tmp / "x.db"}).exit_code,
      2);
  Run no_key = Sidecar(tmp, {"--store", "sqlite:" + tmp / "x.db", "--work-dir", tmp / "w"});
  BOOST_CHECK_EQUAL(no_key.exit_code, 2);
  BOOST_CHECK_MESSAGE(no_key.err.find("--state-key") != std::string::npos, no_key.err);
  Run no_store = Sidecar(tmp, {"--state-key", "k", "--work-dir", tmp / "w"});
  BOOST_CHECK_EQUAL(no_store.exit_code, 2);
  BOOST_CHECK_MESSAGE(no_store.err.find("no store") != std::string::npos, no_store.err);
}

BOOST_AUTO_TEST_CASE(an_unknown_store_scheme_is_2) {
  TempDir tmp;
  Run r = Sidecar(
      tmp, {"--store", "mysql://u:secret@db/x", "--state-key", "k", "--work-dir", tmp / "w"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_MESSAGE(r.err.find("unknown store 'mysql") != std::string::npos, r.err);
  BOOST_CHECK_MESSAGE(r.err.find("secret") == std::string::npos,
                      "the message leaks a password: " << r.err);
}

BOOST_AUTO_TEST_CASE(rediss_is_2_with_a_message) {
  TempDir tmp;
  Run r = Sidecar(tmp, {"--store", "sqlite:" + tmp / "x.db", "--redis", "rediss://cache:6380/0",
                        "--state-key", "k", "--work-dir", tmp / "w"});
  BOOST_CHECK_EQUAL(r.exit_code, 2);
  BOOST_CHECK_MESSAGE(
      r.err.find("rediss://") != std::string::npos && r.err.find("TLS") != std::string::npos,
      r.err);
  BOOST_CHECK(!FileExists(tmp / "w/ready"));
}

BOOST_AUTO_TEST_CASE(a_shard_before_init_is_2_saying_run_init_first) {
  TempDir tmp;
  const std::vector<std::string> shard = {
      "--store",     "sqlite:" + tmp / "x.db", "--role",     "shard",   "--shard",  "0",
      "--state-key", UniqueKey("no-init"),     "--work-dir", tmp / "w", "--listen", "127.0.0.1:0"};
  // A store nobody initialized yet (no schema), then one without this workflow.
  Run fresh = Sidecar(tmp, shard);
  BOOST_CHECK_EQUAL(fresh.exit_code, 2);
  BOOST_CHECK_MESSAGE(fresh.err.find("run init first") != std::string::npos, fresh.err);
  BOOST_REQUIRE_EQUAL(Sidecar(tmp, {"migrate", "--store", "sqlite:" + tmp / "x.db"}).exit_code, 0);
  Run migrated = Sidecar(tmp, shard);
  BOOST_CHECK_EQUAL(migrated.exit_code, 2);
  BOOST_CHECK_MESSAGE(migrated.err.find("run init first") != std::string::npos, migrated.err);
  BOOST_CHECK(!FileExists(tmp / "w/ready"));
}

BOOST_AUTO_TEST_CASE(a_store_unreachable_at_start_is_75_after_waiting) {
  TempDir tmp;
  const auto t0 = std::chrono::steady_clock::now();
  // Port 1 on loopback: nothing listens there.
  Run r = Sidecar(tmp,
                  {"--postgres", "postgresql://taskmaster:dev@127.0.0.1:1/taskmaster",
                   "--state-key", "k", "--work-dir", tmp / "w", "--listen", "127.0.0.1:0"},
                  {{"TM_STORE_WAIT", "1"}});
  const auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0);
  BOOST_CHECK_EQUAL(r.exit_code, 75);
  BOOST_CHECK_MESSAGE(r.err.find("store unreachable at start") != std::string::npos, r.err);
  BOOST_CHECK_MESSAGE(took >= milliseconds(900) && took < milliseconds(5000),
                      "gave up after " << took.count() << " ms, not after TM_STORE_WAIT=1");
  BOOST_CHECK(!FileExists(tmp / "w/ready"));
}

BOOST_AUTO_TEST_CASE(expire_without_redis_is_0_with_a_note) {
  TempDir tmp;
  Run r = Sidecar(tmp, {"expire", "--store", "sqlite:" + tmp / "x.db", "some-key"});
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(r.out.find("no Redis configured: nothing to expire") != std::string::npos,
                      r.out << r.err);
  BOOST_CHECK_EQUAL(Sidecar(tmp, {"expire", "some-key"}).exit_code, 0);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
