// The argv local mode starts tm-sidecar and tm-step with, byte for byte: the
// option parsers of both programs read exactly these.
#include "taskmaster/pod_args.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace pr = taskmaster::protocol;

using Argv = std::vector<std::string>;

namespace {

pr::StepCommonArgs Common() {
  pr::StepCommonArgs common;
  common.program = "/opt/tm/tm-step";
  common.sync_journal = true;
  common.state_key = "local-0123abcd";
  common.work_dir = "/s/work/shard-4";
  return common;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pod_args)

BOOST_AUTO_TEST_CASE(sidecar_of_a_shard) {
  pr::SidecarArgs args;
  args.program = "/opt/tm/tm-sidecar";
  args.role = pr::Role::kShard;
  args.shard = 4;
  args.state_key = "local-0123abcd";
  args.work_dir = "/s/work/shard-4";
  args.listen = "127.0.0.1:0";
  args.port_file = "/s/run/shard-4.port";
  args.grace_seconds = 4;
  args.progress_file = "/s/run/shard-4.progress";
  const Argv expected = {"/opt/tm/tm-sidecar",
                         "--local",
                         "--role",
                         "shard",
                         "--shard",
                         "4",
                         "--state-key",
                         "local-0123abcd",
                         "--work-dir",
                         "/s/work/shard-4",
                         "--listen",
                         "127.0.0.1:0",
                         "--port-file",
                         "/s/run/shard-4.port",
                         "--grace-seconds",
                         "4",
                         "--progress-file",
                         "/s/run/shard-4.progress"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sidecar_without_progress_file) {
  pr::SidecarArgs args;
  args.program = "tm-sidecar";
  args.role = pr::Role::kFinalize;
  args.state_key = "k";
  args.work_dir = "/w";
  args.listen = "127.0.0.1:0";
  args.port_file = "/p";
  args.grace_seconds = 3;
  const Argv expected = {"tm-sidecar",  "--local", "--role",          "finalize",
                         "--shard",     "0",       "--state-key",     "k",
                         "--work-dir",  "/w",      "--listen",        "127.0.0.1:0",
                         "--port-file", "/p",      "--grace-seconds", "3"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sidecar_served_by_the_run_has_no_listener_of_its_own) {
  pr::SidecarArgs args;
  args.program = "tm-sidecar";
  args.state_key = "k";
  args.work_dir = "/w";
  args.grace_seconds = 4;
  const Argv expected = {"tm-sidecar",  "--local", "--role",     "shard", "--shard",         "0",
                         "--state-key", "k",       "--work-dir", "/w",    "--grace-seconds", "4"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sidecar_for_every_pod_of_a_run) {
  pr::SidecarServerArgs args;
  args.program = "/opt/tm/tm-sidecar";
  args.listen = "127.0.0.1:0";
  args.port_file = "/s/run/tm-sidecar.port";
  const Argv expected = {
      "/opt/tm/tm-sidecar", "--local",     "--serve-pods", "3",
      "--listen",           "127.0.0.1:0", "--port-file",  "/s/run/tm-sidecar.port"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pod_messages_as_lines) {
  pr::PodMessage start;
  start.kind = pr::PodMessage::Kind::kStart;
  start.args = {"--local", "--work-dir", "/s/work/shard \"4\""};
  start.log_path = "/s/logs/4/tm-sidecar.log";
  const std::string line = pr::Encode(start);
  BOOST_TEST(line ==
             "{\"start\":[\"--local\",\"--work-dir\",\"/s/work/shard \\\"4\\\"\"],"
             "\"log\":\"/s/logs/4/tm-sidecar.log\"}\n");
  auto decoded = pr::DecodePodMessage(line.substr(0, line.size() - 1));
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(static_cast<int>(decoded->kind) == static_cast<int>(pr::PodMessage::Kind::kStart));
  BOOST_TEST(decoded->args == start.args, boost::test_tools::per_element());
  BOOST_TEST(decoded->log_path == start.log_path);

  pr::PodMessage stop;
  stop.kind = pr::PodMessage::Kind::kStop;
  stop.work_dir = "/s/work/shard-4";
  BOOST_TEST(pr::Encode(stop) == "{\"stop\":\"/s/work/shard-4\"}\n");
  decoded = pr::DecodePodMessage("{\"stop\":\"/s/work/shard-4\"}");
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(static_cast<int>(decoded->kind) == static_cast<int>(pr::PodMessage::Kind::kStop));
  BOOST_TEST(decoded->work_dir == "/s/work/shard-4");

  pr::PodMessage exited;
  exited.kind = pr::PodMessage::Kind::kExited;
  exited.work_dir = "/s/work/shard-4";
  exited.code = 75;
  BOOST_TEST(pr::Encode(exited) == "{\"exited\":\"/s/work/shard-4\",\"code\":75}\n");
  decoded = pr::DecodePodMessage("{\"exited\":\"/s/work/shard-4\",\"code\":75}");
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(static_cast<int>(decoded->kind) == static_cast<int>(pr::PodMessage::Kind::kExited));
  BOOST_TEST(decoded->code == 75);
}

BOOST_AUTO_TEST_CASE(a_bad_pod_message_is_refused_with_what_is_wrong) {
  for (const char* line : {"not json", "[1]", "{\"start\":[1],\"log\":\"/l\"}",
                           "{\"start\":[\"--local\"]}", "{\"exited\":\"/w\"}", "{}"}) {
    auto decoded = pr::DecodePodMessage(line);
    BOOST_TEST_INFO(line);
    BOOST_REQUIRE(!decoded.ok());
    BOOST_TEST(decoded.status().IsInvalidArgument());
    BOOST_TEST(decoded.status().message().find("pod message") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(step_init) {
  pr::StepInitArgs args;
  args.common = Common();
  args.task_list = "@/s/run/task-list.json";
  args.batch_size = 25;
  Argv expected = {"/opt/tm/tm-step",
                   "init",
                   "--sync-journal",
                   "--state-key",
                   "local-0123abcd",
                   "--work-dir",
                   "/s/work/shard-4",
                   "--task-list",
                   "@/s/run/task-list.json",
                   "--batch-size",
                   "25",
                   "--max-shards",
                   "5000"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
  args.no_inline_limit = true;
  expected.push_back("--no-inline-limit");
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(step_run_with_every_flag) {
  pr::StepRunArgs args;
  args.common = Common();
  args.shard = 4;
  args.attempt = 1;
  args.last_attempt = 3;
  args.log_dir = "/s/logs/4";
  args.continue_on_error = true;
  args.max_failures = 2;
  args.max_failure_percent = 12.5;
  args.task_retries = 5;
  args.task_timeout_seconds = 0.5;
  args.command = {"./task.sh", "--", "two words"};
  const Argv expected = {"/opt/tm/tm-step",
                         "run",
                         "--sync-journal",
                         "--state-key",
                         "local-0123abcd",
                         "--work-dir",
                         "/s/work/shard-4",
                         "--shard",
                         "4",
                         "--attempt",
                         "1",
                         "--last-attempt",
                         "3",
                         "--log-dir",
                         "/s/logs/4",
                         "--continue-on-error",
                         "true",
                         "--max-failures",
                         "2",
                         "--max-failure-percent",
                         "12.5",
                         "--task-retries",
                         "5",
                         "--task-timeout",
                         "0.5",
                         "--",
                         "./task.sh",
                         "--",
                         "two words"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(step_run_leaves_off_what_is_unset) {
  pr::StepRunArgs args;
  args.common = Common();
  args.common.sync_journal = false;
  args.task_timeout_seconds = 0;
  args.command = {"true"};
  const Argv expected = {"/opt/tm/tm-step",
                         "run",
                         "--state-key",
                         "local-0123abcd",
                         "--work-dir",
                         "/s/work/shard-4",
                         "--shard",
                         "0",
                         "--attempt",
                         "0",
                         "--last-attempt",
                         "0",
                         "--continue-on-error",
                         "false",
                         "--max-failures",
                         "0",
                         "--task-retries",
                         "3",
                         "--",
                         "true"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(task_timeout_in_its_shortest_form) {
  pr::StepRunArgs args;
  args.task_timeout_seconds = 30;
  const Argv argv = args.ToArgv();
  BOOST_TEST(argv[argv.size() - 2] == "30");
  args.task_timeout_seconds = 2.25;
  BOOST_TEST(args.ToArgv()[argv.size() - 2] == "2.25");
}

BOOST_AUTO_TEST_CASE(step_finalize) {
  pr::StepFinalizeArgs args;
  args.common = Common();
  args.common.work_dir = "/s/work/finalize";
  args.max_failures = 7;
  const Argv expected = {"/opt/tm/tm-step",  "finalize",       "--sync-journal",
                         "--state-key",      "local-0123abcd", "--work-dir",
                         "/s/work/finalize", "--max-failures", "7"};
  BOOST_TEST(args.ToArgv() == expected, boost::test_tools::per_element());
  args.max_failure_percent = 2.5;
  Argv with_percent = expected;
  with_percent.insert(with_percent.end(), {"--max-failure-percent", "2.5"});
  BOOST_TEST(args.ToArgv() == with_percent, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
