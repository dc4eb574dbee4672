// A task's stderr tail: LastStderrLine picks, cleans and bounds the last line
// that is not blank, fed in any pieces; StderrTail, in this process against a
// real `sh` with a captured stderr, forwards every byte in order to the task's
// log and keeps the last line, and a background child holding the pipe open
// does not keep a bounded read waiting.
#include "stderr_tail.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "step_harness.h"
#include "task_process.h"

namespace taskmaster::step_test {
namespace {

using step::kMaxStderrLineBytes;
using step::LastStderrLine;
using step::StderrTail;
using step::TaskProcess;

constexpr int kWaitMillis = 10000;

std::string LastLineOf(const std::vector<std::string>& pieces) {
  LastStderrLine last;
  for (const std::string& piece : pieces) last.Feed(piece);
  return last.Get();
}

// Starts `sh -c SCRIPT` with its stderr captured, stdout and what is forwarded
// going to `log`; $OUT is `out`.
std::unique_ptr<TaskProcess> StartCaptured(const std::string& script, const std::string& log,
                                           const std::string& out) {
  step::TaskSpec spec;
  spec.argv = {"sh", "-c", script};
  spec.set_env["OUT"] = out;
  spec.log_path = log;
  spec.capture_stderr_tail = true;
  auto process = TaskProcess::Spawn(spec);
  BOOST_REQUIRE_MESSAGE(process.ok(), process.status().ToString());
  BOOST_REQUIRE_GE((*process)->stderr_fd(), 0);
  return std::move(process).value();
}

BOOST_AUTO_TEST_SUITE(stderr_tail)

BOOST_AUTO_TEST_CASE(the_last_line_that_is_not_blank_counts) {
  BOOST_CHECK_EQUAL(LastLineOf({}), "");
  BOOST_CHECK_EQUAL(LastLineOf({"\n \t\r\n\n"}), "");
  BOOST_CHECK_EQUAL(LastLineOf({"first\nsecond\n"}), "second");
  BOOST_CHECK_EQUAL(LastLineOf({"first\nsecond\n  \r\n\n"}), "second");
  // A last line without '\n' counts; blanks after it do not hide it.
  BOOST_CHECK_EQUAL(LastLineOf({"first\nlast words"}), "last words");
  BOOST_CHECK_EQUAL(LastLineOf({"first\nlast words\n   "}), "last words");
  // Trimmed at both ends, CR included; inner whitespace stays.
  BOOST_CHECK_EQUAL(LastLineOf({"\t  connection refused  to db:5432 \r\n"}),
                    "connection refused  to db:5432");
  // Pieces split anywhere, even inside the newline's neighbours.
  BOOST_CHECK_EQUAL(LastLineOf({"one\nerr", "or: n", "o space", " left\r", "\n", "  ", "\n"}),
                    "error: no space left");
  // A line redrawn with '\r' (a progress bar) leaves its last state.
  BOOST_CHECK_EQUAL(LastLineOf({" 10% |#   |\r 50% |##  |", "\r 70% |### | failed: timeout\n"}),
                    "70% |### | failed: timeout");
  // Control characters, NUL among them, become spaces (the line is stored as text).
  BOOST_CHECK_EQUAL(LastLineOf({std::string("bad\0byte\x01" "and\x7f" "\tend\n", 18)}),
                    "bad byte and \tend");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_replaced) {
  BOOST_CHECK_EQUAL(LastLineOf({"caf\xC3\xA9 \xFF"
                                "bad\n"}),
                    "caf\xC3\xA9 \xEF\xBF\xBD"
                    "bad");
  // A line made only of an invalid byte is not blank.
  BOOST_CHECK_EQUAL(LastLineOf({"before\n\x80\n"}), "\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(a_long_line_is_cut_at_a_utf8_boundary) {
  const std::string ascii(kMaxStderrLineBytes + 100, 'x');
  BOOST_CHECK_EQUAL(LastLineOf({ascii + "\n"}), std::string(kMaxStderrLineBytes, 'x'));
  // "é" is two bytes at 511 and 512: cutting at 512 would split it.
  const std::string prefix(kMaxStderrLineBytes - 1, 'y');
  BOOST_CHECK_EQUAL(LastLineOf({prefix + "\xC3\xA9" + "and more\n"}), prefix);
  // Megabytes without a newline, in pieces: the line's start is what is kept.
  LastStderrLine last;
  last.Feed("start of it ");
  for (int i = 0; i < 1000; ++i) last.Feed(std::string(4096, 'z'));
  const std::string line = last.Get();
  BOOST_CHECK_EQUAL(line.size(), kMaxStderrLineBytes);
  BOOST_CHECK_EQUAL(line.substr(0, 12), "start of it ");
  // A cut that ends in spaces is trimmed like any line.
  BOOST_CHECK_EQUAL(LastLineOf({std::string(kMaxStderrLineBytes - 2, 'w') + "    tail\n"}),
                    std::string(kMaxStderrLineBytes - 2, 'w'));
}

BOOST_AUTO_TEST_CASE(every_byte_reaches_the_log_in_order_and_the_last_line_is_kept) {
  TempDir tmp;
  const std::string log = tmp / "task.log";
  // More than one read's worth before the last line, so the order of the
  // forwarded pieces matters; a line with an invalid byte is forwarded as is.
  auto task = StartCaptured(R"(
    i=0
    while [ $i -lt 5000 ]; do echo "line $i of a chatty task" >&2; i=$((i + 1)); done
    printf 'bad \377 byte\n' >&2
    printf 'disk full on /data\r\n\n' >&2
    exit 3
  )",
                            log, tmp.path());
  StderrTail tail(task.get());
  while (task->stderr_fd() >= 0) {
    struct pollfd fd = {task->stderr_fd(), POLLIN, 0};
    BOOST_REQUIRE_MESSAGE(::poll(&fd, 1, kWaitMillis) == 1, "stderr was silent for 10 s");
    tail.Read();
  }
  const int status = task->Wait();
  BOOST_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
  std::string expected;
  for (int i = 0; i < 5000; ++i) expected += "line " + std::to_string(i) + " of a chatty task\n";
  expected += "bad \xFF byte\ndisk full on /data\r\n\n";
  const std::string forwarded = ReadFile(log);
  BOOST_CHECK_MESSAGE(forwarded == expected, "the log holds " << forwarded.size()
                                                              << " bytes, not the "
                                                              << expected.size() << " in order");
  BOOST_CHECK_EQUAL(tail.LastLine(), "disk full on /data");
}

BOOST_AUTO_TEST_CASE(a_background_child_holding_stderr_does_not_block_a_read) {
  TempDir tmp;
  // The background child keeps the write end open for 30 s...
  auto task = StartCaptured(R"(
    sleep 30 &
    echo "the task's last words" >&2
    echo done > "$OUT/done"
  )",
                            tmp / "task.log", tmp.path());
  StderrTail tail(task.get());
  task->Wait();
  BOOST_REQUIRE(FileExists(tmp / "done"));
  // ...so the pipe never reaches its end: a read takes what is there and returns.
  tail.Read();
  BOOST_CHECK_GE(task->stderr_fd(), 0);
  BOOST_CHECK_EQUAL(tail.LastLine(), "the task's last words");
  BOOST_CHECK_EQUAL(ReadFile(tmp / "task.log"), "the task's last words\n");
  task->SignalGroup(SIGKILL);
}

BOOST_AUTO_TEST_CASE(without_capture_there_is_no_pipe) {
  step::TaskSpec spec;
  spec.argv = {"true"};
  auto task = TaskProcess::Spawn(spec);
  BOOST_REQUIRE(task.ok());
  BOOST_CHECK_EQUAL((*task)->stderr_fd(), -1);
  BOOST_CHECK_EQUAL((*task)->stderr_destination_fd(), -1);
  (*task)->Wait();
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::step_test
