// What Argo reads from a pod (DESIGN.md §3): the progress file's last line is
// always a valid N/M, written whole (temp + rename), reaching N/N; every output
// exists, with "durable": true, by the time the step exits.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <mutex>
#include <regex>
#include <thread>

#include "harness.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {
namespace {

namespace pr = protocol;

// Watches one file in a directory with inotify from its own thread, recording
// every content it can read after each write of the file or its temp file, and
// whether the file itself was ever written in place (rather than renamed over).
class FileWatch {
 public:
  FileWatch(const std::string& dir, const std::string& name) : dir_(dir), name_(name) {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    BOOST_REQUIRE(fd_ >= 0);
    BOOST_REQUIRE(inotify_add_watch(fd_, dir.c_str(), IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO) >=
                  0);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FileWatch() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::vector<std::string> contents() {
    std::lock_guard<std::mutex> lock(mu_);
    return contents_;
  }
  int in_place_writes() const { return in_place_writes_; }

 private:
  void Record(const std::string& path) {
    std::string text = ReadFile(path);
    if (text.empty()) return;  // renamed away meanwhile
    std::lock_guard<std::mutex> lock(mu_);
    contents_.push_back(text);
  }
  void Loop() {
    alignas(inotify_event) char buf[65536];
    while (!stop_) {
      struct pollfd p = {fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      ssize_t n;
      while ((n = ::read(fd_, buf, sizeof(buf))) > 0) {
        for (char* at = buf; at < buf + n;) {
          auto* ev = reinterpret_cast<inotify_event*>(at);
          at += sizeof(inotify_event) + ev->len;
          const std::string name = ev->len ? ev->name : "";
          if (name == name_ && (ev->mask & IN_MOVED_TO)) Record(dir_ + "/" + name_);
          if (name == name_ && (ev->mask & (IN_MODIFY | IN_CLOSE_WRITE))) ++in_place_writes_;
          if (name == name_ + ".tmp" && (ev->mask & IN_CLOSE_WRITE)) Record(dir_ + "/" + name);
        }
      }
    }
  }

  std::string dir_;
  std::string name_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> in_place_writes_{0};
  std::mutex mu_;
  std::vector<std::string> contents_;
  std::thread thread_;
};

BOOST_AUTO_TEST_SUITE(argo_contract)

BOOST_AUTO_TEST_CASE(progress_is_always_a_whole_valid_line_and_ends_at_n_of_n) {
  TempDir tmp;
  Workflow wf(tmp.path(), UniqueKey("progress"), SqliteStore(tmp / "state.db"));
  wf.MustInit(TaskIds("t", 4), 4);

  Pod pod(wf.NewPodDir("shard"), wf.Spec("shard"));
  FileWatch watch(pod.dir(), "progress");
  pod.StartSidecar();
  pod.StartStep({"run"}, Sh(R"(for i in 1 2 3 4 5; do
      printf '{"progress":{"done":%d,"total":5}}\n{"checkpoint":{"i":%d}}\n' $i $i >&3
    done)"));
  BOOST_REQUIRE_MESSAGE(pod.WaitStep() == 0, pod.Logs());
  // Argo reads the file after main exits: it holds N/N by then.
  BOOST_CHECK_EQUAL(ReadFile(pod.progress_file()), "4/4\n");
  BOOST_REQUIRE_EQUAL(pod.StopSidecar(), 0);
  BOOST_CHECK_EQUAL(ReadFile(pod.progress_file()), "4/4\n");

  // Everything ever readable there: a single N/M line with 0 <= N <= M = 4,
  // N never going back; and the file itself is never written in place.
  BOOST_REQUIRE(
      WaitUntil([&] { return !watch.contents().empty() && watch.contents().back() == "4/4\n"; },
                milliseconds(2000)));
  BOOST_CHECK_GE(watch.contents().size(), 2u);  // at least 0/4 at restore, then 4/4
  const std::regex line(R"((\d+)/(\d+)\n)");
  int64_t last = 0;
  for (const std::string& text : watch.contents()) {
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_match(text, m, line), "not an N/M line: '" << text << "'");
    const int64_t n = std::stoll(m[1]), total = std::stoll(m[2]);
    BOOST_CHECK_EQUAL(total, 4);
    BOOST_CHECK_LE(n, total);
    BOOST_CHECK_GE(n, last);
    last = n;
  }
  BOOST_CHECK_EQUAL(watch.in_place_writes(), 0);
}

// Each role's outputs (docs/protocol.md) are in place, durable, when the step exits.
void CheckOutputsBeforeStepExit(Workflow& wf, const std::string& role,
                                const std::vector<std::string>& step_args,
                                const std::vector<std::string>& command,
                                const std::vector<std::string>& names) {
  Pod pod(wf.NewPodDir(role), wf.Spec(role));
  pod.StartSidecar();
  pod.StartStep(step_args, command);
  const int step = pod.WaitStep();
  // Freeze the sidecar the moment main exits: what Argo collects now is final.
  pod.sidecar().Signal(SIGSTOP);
  BOOST_CHECK_MESSAGE(step == 0, role << " step exited " << step << "\n" << pod.Logs());
  for (const std::string& name : names) {
    const std::string path = pod.work(std::string(pr::kOutputsDir) + "/" + name);
    BOOST_CHECK_MESSAGE(FileExists(path), role << ": outputs/" << name << " is missing");
  }
  const std::string summary = ReadFile(pod.work(std::string(pr::kOutputsDir) + "/summary"));
  rapidjson::Document doc;
  BOOST_REQUIRE_MESSAGE(ParseJson(summary, "summary", &doc).ok() && doc.IsObject(), summary);
  BOOST_CHECK_MESSAGE(doc.HasMember("durable") && doc["durable"].IsTrue(), role << ": " << summary);
  BOOST_CHECK(!FileExists(pod.work(std::string(pr::kOutputsDir) + "/barrier-timeout")));
  pod.sidecar().Signal(SIGCONT);
  BOOST_CHECK_EQUAL(pod.StopSidecar(), 0);
}

BOOST_AUTO_TEST_CASE(outputs_exist_and_are_durable_before_the_step_exits) {
  TempDir tmp;
  Workflow wf(tmp.path(), UniqueKey("outputs"), SqliteStore(tmp / "state.db"));
  CheckOutputsBeforeStepExit(wf, "init", {"init", "--task-list", TaskListJson(TaskIds("t", 2))}, {},
                             {"shards", "batch-size", "task-count", "summary"});
  BOOST_CHECK_EQUAL(ReadFile(tmp / "1-init-0/work/outputs/shards"), "[0,1]\n");
  CheckOutputsBeforeStepExit(wf, "shard", {"run"}, Sh("exit 0"), {"summary"});
  PodSpec second = wf.Spec("shard", 1);
  PodResult r = RunPod(wf.NewPodDir("shard", 1), second, {"run"}, Sh("exit 0"));
  BOOST_REQUIRE_MESSAGE(r.step == 0 && r.sidecar == 0, r.logs);
  CheckOutputsBeforeStepExit(
      wf, "finalize", {"finalize"}, {},
      {"summary", "total", "succeeded", "failed", "cancelled", "failed-tasks"});
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster::e2e
