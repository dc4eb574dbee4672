#include "local.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "exec_args.h"
#include "task_process.h"
#include "taskmaster/checksum.h"
#include "taskmaster/dir_watcher.h"
#include "taskmaster/journal.h"
#include "taskmaster/json.h"
#include "taskmaster/log.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::step {

namespace pr = protocol;

namespace {

constexpr int64_t kMilli = 1000000;
constexpr int64_t kSecond = 1000000000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// Init and finalize are retried like the template's init (retryStrategy limit 2).
constexpr int kRoleTries = 3;
// A sidecar stops grace - 2 s after SIGTERM when no commit record comes. Its
// step has exited by then (in the normal path with its commit already durable),
// so what is left is a flush: 2 s for a step that died without committing, 1 s
// for a journal of an earlier run. A sidecar that runs out leaves the journal
// unacknowledged, and it is drained again rather than lost.
constexpr int kStepSidecarGraceSeconds = 4;
constexpr int kDrainGraceSeconds = 3;
// How long a rerun waits for processes of a killed run that still use a work
// dir (a step stopping after its parent died: grace - 5 s, 25 s by default).
constexpr int64_t kLeftoverWaitNanos = 60 * kSecond;
constexpr int64_t kTtyRefreshNanos = 200 * kMilli;
constexpr int64_t kLogProgressNanos = 10 * kSecond;

// TM_* and ARGO_* variables the children may inherit from the user: tuning
// knobs. Every other one is ours to set, so a stray export cannot misdirect a
// sidecar or a step.
const std::set<std::string> kInheritedVariables = {pr::kEnvGraceSeconds,   pr::kEnvReadyTimeout,
                                                   pr::kEnvBarrierTimeout, "TM_LOG_LEVEL",
                                                   "TM_STORE_WAIT",        "TM_TTL"};

// ---- Small helpers ------------------------------------------------------------

std::string ShellQuote(const std::string& arg) {
  const bool plain = !arg.empty() && arg.find_first_not_of(
                                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_./:=@%+,-") == std::string::npos;
  if (plain) return arg;
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string ShellJoin(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) {
    if (!out.empty()) out += ' ';
    out += ShellQuote(arg);
  }
  return out;
}

std::string FormatSeconds(double seconds) {
  if (seconds < 1) return fmt::format("{:.2f} s", seconds);
  if (seconds < 60) return fmt::format("{:.1f} s", seconds);
  const auto total = static_cast<int64_t>(seconds + 0.5);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m{:02}s", total / 3600, total / 60 % 60, total % 60);
}

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

Result<std::string> SelfExecutable() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n < 0) return Status::FromErrno("readlink /proc/self/exe", errno);
  return std::string(buf, static_cast<size_t>(n));
}

Result<std::string> AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char buf[4096];
  if (::getcwd(buf, sizeof(buf)) == nullptr) return Status::FromErrno("getcwd", errno);
  std::string rel = path;
  while (rel.size() > 2 && rel.compare(0, 2, "./") == 0) rel.erase(0, 2);
  if (rel == ".") return std::string(buf);
  return JoinPath(buf, rel);
}

Result<std::string> FindSidecar(const std::string& flag, const std::string& self) {
  if (!flag.empty()) {
    auto found = ResolveExecutable(flag);
    if (!found.ok()) return Status::InvalidArgument("--sidecar: " + found.status().message());
    return AbsolutePath(*found);
  }
  const std::string beside = JoinPath(DirName(self), "tm-sidecar");
  if (::access(beside.c_str(), X_OK) == 0) return beside;
  auto on_path = ResolveExecutable("tm-sidecar");
  if (on_path.ok()) return AbsolutePath(*on_path);
  return Status::InvalidArgument("cannot find tm-sidecar beside " + self +
                                 " or on PATH: give --sidecar PATH");
}

int RemoveEntry(const char* path, const struct stat*, int type, struct FTW*) {
  return type == FTW_DP ? ::rmdir(path) : ::unlink(path);
}

// rm -rf. Errors are left for the next run's clean-up of trash/.
void RemoveTree(const std::string& path) {
  ::nftw(path.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

uint64_t SizeOrZero(Env* env, const std::string& path) {
  auto size = env->FileSize(path);
  return size.ok() ? *size : 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A /proc file whole (their size reads as 0, so Env::ReadFile sees nothing).
std::string ReadProcFile(const std::string& path) {
  std::string data;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return data;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return data;
}

// Processes other than us whose argv holds "--work-dir DIR": a step or a
// sidecar of an earlier run that still stops or drains after its parent died.
std::vector<pid_t> ProcessesUsing(Env* env, const std::string& dir) {
  std::vector<pid_t> pids;
  auto entries = env->ListDir("/proc");
  if (!entries.ok()) return pids;
  const std::string needle = std::string("--work-dir") + '\0' + dir + '\0';
  for (const std::string& name : *entries) {
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str()));
    if (pid == ::getpid()) continue;
    if (ReadProcFile("/proc/" + name + "/cmdline").find(needle) != std::string::npos) {
      pids.push_back(pid);
    }
  }
  return pids;
}

// True when nothing complete in the work dir's journal lies past its ack: every
// record that reached the journal is in the store. A torn tail is a record the
// step never finished writing, so it never reached the journal.
bool JournalFullyAcked(Env* env, const std::string& dir) {
  const std::string journal = JoinPath(dir, pr::kJournalFile);
  if (!env->FileExists(journal)) return true;
  pr::Ack ack;
  auto text = env->ReadFile(JoinPath(dir, pr::kAckFile));
  if (text.ok()) {
    auto decoded = pr::DecodeAck(*text);
    if (!decoded.ok()) return false;
    ack = *decoded;
  }
  auto reader = JournalReader::Open(env, journal, ack.offset);
  if (!reader.ok()) return false;
  JournalRecord record;
  const JournalReader::Outcome outcome = (*reader)->Next(&record);
  if (!(*reader)->io_status().ok()) return false;
  return outcome == JournalReader::Outcome::kEnd || outcome == JournalReader::Outcome::kTornTail;
}

// What is wrong with a journal that is corrupt in the middle (damage followed by
// valid records) past its ack, or nothing. No sidecar can read past such damage,
// so its records can never be committed: the run says so instead of retrying.
std::optional<std::string> JournalCorruption(Env* env, const std::string& dir) {
  const std::string journal = JoinPath(dir, pr::kJournalFile);
  if (!env->FileExists(journal)) return std::nullopt;
  pr::Ack ack;
  auto text = env->ReadFile(JoinPath(dir, pr::kAckFile));
  if (text.ok()) {
    auto decoded = pr::DecodeAck(*text);
    if (decoded.ok()) ack = *decoded;
  }
  auto reader = JournalReader::Open(env, journal, ack.offset);
  if (!reader.ok()) return std::nullopt;
  JournalRecord record;
  JournalReader::Outcome outcome;
  while ((outcome = (*reader)->Next(&record)) == JournalReader::Outcome::kRecord) {
  }
  if (outcome != JournalReader::Outcome::kCorrupt) return std::nullopt;
  return (*reader)->message();
}

// True for an init journal cut short between its workflow_init record and the
// last of its task_list records (a crash mid-init). Drained, it would record a
// workflow without its tasks, which the next init would take for finished; not
// drained, the next init records the whole list again.
bool InitJournalIncomplete(Env* env, const std::string& dir) {
  auto reader = JournalReader::Open(env, JoinPath(dir, pr::kJournalFile), 0);
  if (!reader.ok()) return false;
  std::optional<int64_t> expected;
  int64_t lists = 0;
  JournalRecord record;
  while ((*reader)->Next(&record) == JournalReader::Outcome::kRecord) {
    switch (static_cast<pr::RecordType>(record.type)) {
      case pr::RecordType::kWorkflowInit: {
        auto init = pr::DecodeWorkflowInit(record.payload);
        if (init.ok()) expected = init->list_records;
        break;
      }
      case pr::RecordType::kTaskList:
        ++lists;
        break;
      default:
        break;
    }
  }
  return expected && lists < *expected;
}

// The last error and warning messages a child logged past `offset` of its log
// (JSON lines or text), to say why a step or a sidecar gave up.
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
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError() || !doc.IsObject()) {
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

int64_t JsonInt(const rapidjson::Value& doc, const char* name) {
  if (!doc.IsObject() || !doc.HasMember(name) || !doc[name].IsInt64()) return 0;
  return doc[name].GetInt64();
}

// ---- The state dir lock -------------------------------------------------------

// flock(2) on <state-dir>/lock for the whole run. The descriptor is close-on-exec
// except in sidecars, which keep holding the lock until they have drained: a
// rerun cannot start while a sidecar of a killed run still writes.
class StateDirLock {
 public:
  ~StateDirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Busy (with who holds it) when another run has the dir.
  Status Acquire(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return Status::FromErrno("open " + path, errno);
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return Status::FromErrno("flock " + path, errno);
      char buf[64] = {0};
      ssize_t n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
      std::string holder = n > 0 ? Trim(std::string(buf, static_cast<size_t>(n))) : "";
      return Status::Busy("the state dir " + DirName(path) + " is in use by another tm-step local" +
                          (holder.empty() ? "" : " (pid " + holder + ")") +
                          " or by the sidecars of one that was killed, still draining: wait for "
                          "it to finish, or use another --state-dir");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
      return Status::FromErrno("write " + path, errno);
    }
    return Status::OK();
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// ---- Signals ------------------------------------------------------------------

// SIGINT, SIGTERM and SIGCHLD through a signalfd; children get them unblocked.
class LoopSignals {
 public:
  LoopSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) std::abort();
    fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd_ < 0) std::abort();
    ::signal(SIGPIPE, SIG_IGN);
  }
  ~LoopSignals() { ::close(fd_); }
  LoopSignals(const LoopSignals&) = delete;
  LoopSignals& operator=(const LoopSignals&) = delete;
  int fd() const { return fd_; }
  // The stop signals (SIGINT, SIGTERM) read since the last call.
  std::vector<int> Drain() {
    std::vector<int> stops;
    struct signalfd_siginfo info;
    while (::read(fd_, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
      if (info.ssi_signo != SIGCHLD) stops.push_back(static_cast<int>(info.ssi_signo));
    }
    return stops;
  }

 private:
  int fd_ = -1;
};

// ---- Child processes ------------------------------------------------------------

struct ChildSpec {
  std::vector<std::string> argv;           // argv[0] is an absolute path
  std::map<std::string, std::string> env;  // on top of the scrubbed environment
  std::string log_path;                    // stdout and stderr append here
  bool sidecar = false;                    // ignores SIGINT and keeps the state dir lock
  int lock_fd = -1;
};

// Starts a child in our process group (so `kill -9 -PGID` takes everything) with
// PR_SET_PDEATHSIG(SIGTERM): if we die, a step stops and commits, a sidecar drains.
Result<pid_t> SpawnChild(const ChildSpec& spec) {
  const CStringArray envp(ChildEnvironment(spec.env, [](const std::string& key) {
    const bool ours = key.compare(0, 3, "TM_") == 0 || key.compare(0, 5, "ARGO_") == 0;
    return ours && !kInheritedVariables.count(key);
  }));
  const CStringArray argv(spec.argv);

  const int log_fd = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Status::FromErrno("open " + spec.log_path, errno);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    int err = errno;
    ::close(log_fd);
    return Status::FromErrno("open /dev/null", err);
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(log_fd);
    ::close(null_fd);
    return Status::FromErrno("fork", err);
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (spec.sidecar) {
      ::signal(SIGINT, SIG_IGN);  // before exec too: a Ctrl-C must not race its start
      if (spec.lock_fd >= 0) ::fcntl(spec.lock_fd, F_SETFD, 0);
    }
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(argv.data()[0], argv.data(), envp.data());
    const char msg[] = "tm-step local: exec failed\n";
    ssize_t ignored = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  return pid;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// ---- The console: one live progress line on a terminal, JSON lines otherwise ---

struct ProgressView {
  int64_t done = 0;
  int64_t total = 0;
  int64_t failed = 0;
  int64_t retrying = 0;
  int64_t running_shards = 0;
  double rate = 0;  // tasks per second in this run
};

class Console {
 public:
  explicit Console(bool tty) : tty_(tty) {}

  bool tty() const { return tty_; }
  // What a person wants to see: on a terminal, a line above the progress line.
  void Info(const std::string& text) { Say(spdlog::level::info, text, true); }
  void Warn(const std::string& text) { Say(spdlog::level::warn, text, true); }
  void Error(const std::string& text) { Say(spdlog::level::err, text, true); }
  // Events a log keeps but a terminal does not show (a shard started, ...).
  void Detail(const std::string& text) { Say(spdlog::level::info, text, false); }

  void Progress(const ProgressView& view, int64_t now_ns) {
    view_ = view;
    have_view_ = true;
    if (tty_) {
      if (now_ns - last_draw_ns_ < kTtyRefreshNanos) return;
      last_draw_ns_ = now_ns;
      Draw();
    } else if (now_ns - last_draw_ns_ >= kLogProgressNanos) {
      last_draw_ns_ = now_ns;
      spdlog::info("progress: {}", Describe(view));
    }
  }
  // Removes the progress line (before the summary).
  void Finish() {
    if (tty_ && drawn_) Write("\r\033[K");
    drawn_ = false;
    have_view_ = false;
  }

  static std::string Describe(const ProgressView& v) {
    std::string text = fmt::format("{}/{} tasks done", v.done, v.total);
    if (v.failed > 0) text += fmt::format(", {} failed", v.failed);
    if (v.retrying > 0) {
      text += fmt::format(", {} shard{} to retry", v.retrying, v.retrying == 1 ? "" : "s");
    }
    if (v.rate > 0) {
      text += fmt::format(", {:.1f} tasks/s", v.rate);
      if (v.done < v.total) {
        text += ", ETA " + FormatSeconds(static_cast<double>(v.total - v.done) / v.rate);
      }
    }
    if (v.running_shards > 0) {
      text +=
          fmt::format(", {} shard{} running", v.running_shards, v.running_shards == 1 ? "" : "s");
    }
    return text;
  }

 private:
  void Say(spdlog::level::level_enum level, const std::string& text, bool on_tty) {
    if (!tty_) {
      spdlog::log(level, "{}", text);
      return;
    }
    if (!on_tty) return;
    const char* prefix = level == spdlog::level::err    ? "error: "
                         : level == spdlog::level::warn ? "warning: "
                                                        : "";
    Write("\r\033[K" + std::string(prefix) + text + "\n");
    drawn_ = false;
    if (have_view_) Draw();
  }

  void Draw() {
    const ProgressView& v = view_;
    constexpr int kBar = 24;
    const double fraction =
        v.total > 0 ? static_cast<double>(v.done) / static_cast<double>(v.total) : 0;
    const int filled = static_cast<int>(fraction * kBar);
    std::string line = "[" + std::string(filled, '#') + std::string(kBar - filled, '.') + "] " +
                       fmt::format("{:3.0f}% ", fraction * 100) + Describe(v);
    struct winsize ws;
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && line.size() >= ws.ws_col) {
      line.resize(ws.ws_col - 1);
    }
    if (drawn_ && line == drawn_line_) return;
    Write("\r\033[K" + line);
    drawn_ = true;
    drawn_line_ = line;
  }

  static void Write(const std::string& text) {
    const char* data = text.data();
    size_t left = text.size();
    while (left > 0) {
      ssize_t n = ::write(STDERR_FILENO, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      data += n;
      left -= static_cast<size_t>(n);
    }
  }

  const bool tty_;
  bool drawn_ = false;
  std::string drawn_line_;
  bool have_view_ = false;
  ProgressView view_;
  int64_t last_draw_ns_ = std::numeric_limits<int64_t>::min() / 2;
};

// ---- Pods -----------------------------------------------------------------------

// One pod-like unit: a work dir, its sidecar and (unless it only drains an old
// journal) a tm-step in a pod role. Finished once both processes exited and the
// work dir was removed or, when its journal could not be fully committed, kept
// for the next run to drain.
struct Pod {
  std::string name;     // work dir name: init, shard-<k>, finalize
  std::string dir;      // the work dir
  std::string log_dir;  // tm-step.log and tm-sidecar.log go here
  std::string state_key;
  pr::Role role = pr::Role::kShard;
  int64_t shard = 0;
  int64_t attempt = 0;
  bool drain = false;  // a sidecar alone, draining a journal left behind

  pid_t step = -1;
  pid_t sidecar = -1;
  std::optional<int> step_exit;
  std::optional<int> sidecar_exit;
  bool sidecar_stopped = false;  // SIGTERM sent
  bool step_killed = false;
  bool redrained = false;
  std::string port_file;            // the sidecar's, once it serves (signals blocked)
  std::string progress_file;        // shards: N/M from the sidecar
  uint64_t step_log_offset = 0;     // where this pod's lines start in the logs
  uint64_t sidecar_log_offset = 0;  // (they are appended to across attempts and runs)

  bool finished = false;
  bool kept = false;  // the journal still holds unacknowledged records
  std::map<std::string, std::string> outputs;
  std::string restore_summary;  // finalize: restore/summary.json

  bool step_running() const { return step > 0 && !step_exit; }
  bool sidecar_running() const { return sidecar > 0 && !sidecar_exit; }
};

// What one shard attempt's summary output says.
struct ShardSummary {
  bool present = false;
  int64_t succeeded = 0, failed = 0, interrupted = 0, cancelled = 0, skipped = 0;
};

ShardSummary ParseShardSummary(const std::map<std::string, std::string>& outputs) {
  ShardSummary s;
  auto it = outputs.find(pr::kOutSummary);
  if (it == outputs.end()) return s;
  rapidjson::Document doc;
  doc.Parse(it->second.data(), it->second.size());
  if (doc.HasParseError() || !doc.IsObject()) return s;
  s.present = true;
  s.succeeded = JsonInt(doc, "succeeded");
  s.failed = JsonInt(doc, "failed");
  s.interrupted = JsonInt(doc, "interrupted");
  s.cancelled = JsonInt(doc, "cancelled");
  s.skipped = JsonInt(doc, "skipped");
  return s;
}

struct Shard {
  int64_t index = 0;
  int64_t tasks = 0;
  int64_t attempts = 0;  // started so far
  int64_t start_at_ns = 0;
  bool finished = false;
  std::unique_ptr<Pod> pod;
  int64_t progress = 0;   // tasks durably done, from the sidecar's progress file
  int64_t baseline = -1;  // the first value seen: done before this run
  int64_t final_failed = 0;
};

// ---- The run ----------------------------------------------------------------------

class LocalRun {
 public:
  LocalRun(Env* env, const LocalOptions& options)
      : env_(env), options_(options), console_(::isatty(STDERR_FILENO) == 1) {}

  int Run();

 private:
  int Prepare();
  int DrainLeftovers();
  int RunInit();
  int RunShards();
  int RunFinalize();
  void PrintSummary(int exit_code);
  void PrintResume();

  std::unique_ptr<Pod> NewPod(pr::Role role, int64_t shard, int64_t attempt);
  Status StartPod(Pod* pod);
  Status StartSidecar(Pod* pod);
  Status StartStep(Pod* pod);
  void Advance(Pod* pod);
  void Settle(Pod* pod);
  void TrashDir(const std::string& dir);
  // Runs a pod role (init or finalize) to completion with retries; the exit
  // code of its step, or nullopt after an interrupt or when it cannot run.
  std::optional<int> RunRolePod(pr::Role role, std::unique_ptr<Pod>* out);

  // One turn of the loop: waits until wake_ns at most, then handles signals,
  // reaps children and moves every pod on.
  void Pump(int64_t wake_ns);
  void OnStop(int sig);
  void ShowProgress(bool force);
  // What the pod's step logged as errors, and its sidecar's when it failed.
  std::vector<std::string> Problems(const Pod& pod);
  std::string LogPath(const Pod& pod, const char* program) const {
    return JoinPath(pod.log_dir, std::string(program) + ".log");
  }

  Env* env_;
  LocalOptions options_;
  Console console_;
  std::unique_ptr<LoopSignals> signals_;
  std::unique_ptr<DirWatcher> run_watcher_;
  StateDirLock lock_;

  std::string self_;
  std::string sidecar_path_;
  std::string state_dir_;
  std::string work_root_, trash_root_, logs_root_, run_root_;
  std::string state_key_;
  std::string task_list_text_;
  std::vector<std::string> ids_;
  std::map<std::string, int64_t> ordinal_of_;
  std::map<std::string, std::string> store_env_;
  std::string store_identity_;
  int64_t parallelism_ = 1;
  int64_t started_ns_ = 0;
  int64_t trash_counter_ = 0;

  std::vector<Pod*> active_;  // pods whose processes we wait for
  int stops_ = 0;

  // What init said.
  int64_t batch_ = 1;
  std::vector<std::unique_ptr<Shard>> shards_;
  int64_t done_before_ = 0;  // tasks of shards init did not list: all succeeded
  int64_t shards_started_ns_ = 0;
  // Tallies for the summary.
  int64_t skipped_ = 0;
  int64_t retried_runs_ = 0;
  int64_t shard_retries_ = 0;
  int64_t kept_dirs_ = 0;
  int64_t corrupt_dirs_ = 0;  // kept because their journal is corrupt in the middle
  std::unique_ptr<Pod> finalize_;
};

std::unique_ptr<Pod> LocalRun::NewPod(pr::Role role, int64_t shard, int64_t attempt) {
  auto pod = std::make_unique<Pod>();
  pod->role = role;
  pod->shard = shard;
  pod->attempt = attempt;
  pod->state_key = state_key_;
  switch (role) {
    case pr::Role::kInit:
      pod->name = "init";
      break;
    case pr::Role::kShard:
      pod->name = "shard-" + std::to_string(shard);
      break;
    case pr::Role::kFinalize:
      pod->name = "finalize";
      break;
  }
  pod->dir = JoinPath(work_root_, pod->name);
  pod->log_dir = JoinPath(logs_root_, role == pr::Role::kShard ? std::to_string(shard)
                                                               : std::string(pr::ToString(role)));
  pod->port_file = JoinPath(run_root_, pod->name + ".port");
  if (role == pr::Role::kShard) pod->progress_file = JoinPath(run_root_, pod->name + ".progress");
  return pod;
}

Status LocalRun::StartSidecar(Pod* pod) {
  TM_RETURN_IF_ERROR(env_->CreateDirs(pod->log_dir));
  if (env_->FileExists(pod->port_file)) TM_RETURN_IF_ERROR(env_->RemoveFile(pod->port_file));
  ChildSpec spec;
  // Flags, not TM_* variables, so that nothing inherited can misdirect it; the
  // store comes through the environment (a DSN in argv shows in ps).
  spec.argv = {sidecar_path_, "--local", "--role", pr::ToString(pod->role)};
  const auto flag = [&](const char* name, const std::string& value) {
    spec.argv.push_back(name);
    spec.argv.push_back(value);
  };
  flag("--shard", std::to_string(pod->shard));
  flag("--state-key", pod->state_key);
  flag("--work-dir", pod->dir);
  flag("--listen", "127.0.0.1:0");
  flag("--port-file", pod->port_file);
  flag("--grace-seconds",
       std::to_string(pod->drain ? kDrainGraceSeconds : kStepSidecarGraceSeconds));
  if (!pod->progress_file.empty()) flag("--progress-file", pod->progress_file);
  spec.env = store_env_;
  spec.log_path = LogPath(*pod, "tm-sidecar");
  pod->sidecar_log_offset = SizeOrZero(env_, spec.log_path);
  spec.sidecar = true;
  spec.lock_fd = lock_.fd();
  auto pid = SpawnChild(spec);
  if (!pid.ok()) return pid.status();
  pod->sidecar = *pid;
  pod->sidecar_exit.reset();
  pod->sidecar_stopped = false;
  return Status::OK();
}

Status LocalRun::StartStep(Pod* pod) {
  ChildSpec spec;
  spec.argv = {self_, pod->role == pr::Role::kShard ? "run" : pr::ToString(pod->role),
               "--sync-journal"};
  const auto flag = [&](const char* name, const std::string& value) {
    spec.argv.push_back(name);
    spec.argv.push_back(value);
  };
  flag("--state-key", pod->state_key);
  flag("--work-dir", pod->dir);
  switch (pod->role) {
    case pr::Role::kInit:
      flag("--task-list", "@" + JoinPath(run_root_, "task-list.json"));
      flag("--batch-size", std::to_string(options_.batch_size));
      break;
    case pr::Role::kShard:
      flag("--shard", std::to_string(pod->shard));
      flag("--attempt", std::to_string(pod->attempt));
      flag("--last-attempt", std::to_string(options_.retries));
      flag("--log-dir", pod->log_dir);
      flag("--continue-on-error", options_.continue_on_error ? "true" : "false");
      flag("--max-failures", std::to_string(options_.max_failures));
      if (options_.task_timeout_seconds > 0) {
        flag("--task-timeout", fmt::format("{}", options_.task_timeout_seconds));
      }
      spec.argv.push_back("--");
      spec.argv.insert(spec.argv.end(), options_.command.begin(), options_.command.end());
      break;
    case pr::Role::kFinalize:
      flag("--max-failures", std::to_string(options_.max_failures));
      break;
  }
  spec.log_path = LogPath(*pod, "tm-step");
  pod->step_log_offset = SizeOrZero(env_, spec.log_path);
  auto pid = SpawnChild(spec);
  if (!pid.ok()) return pid.status();
  pod->step = *pid;
  return Status::OK();
}

Status LocalRun::StartPod(Pod* pod) {
  // A fresh work dir: its sidecar restores from the store with a new fence.
  if (IsDirectory(pod->dir)) TrashDir(pod->dir);
  if (!pod->progress_file.empty() && env_->FileExists(pod->progress_file)) {
    TM_RETURN_IF_ERROR(env_->RemoveFile(pod->progress_file));
  }
  TM_RETURN_IF_ERROR(StartSidecar(pod));
  active_.push_back(pod);
  Status s = StartStep(pod);
  if (!s.ok()) {
    ::kill(pod->sidecar, SIGTERM);
    pod->sidecar_stopped = true;
    return s;
  }
  return Status::OK();
}

void LocalRun::TrashDir(const std::string& dir) {
  // Renamed first, so a crash leaves the dir whole in work/ or wholly in trash/.
  const std::string target = JoinPath(
      trash_root_,
      fmt::format("{}.{}.{}", dir.substr(dir.rfind('/') + 1), ::getpid(), trash_counter_++));
  if (::rename(dir.c_str(), target.c_str()) != 0) {
    console_.Warn(fmt::format("cannot move {} to {}: {}", dir, target, std::strerror(errno)));
    return;
  }
  RemoveTree(target);
}

void LocalRun::Advance(Pod* pod) {
  if (pod->finished) return;
  if (pod->sidecar_running() && !pod->sidecar_stopped) {
    // A step's sidecar stops once the step exited (its commit record is durable
    // by then); a drain sidecar as soon as it has blocked its signals.
    const bool stop = pod->drain ? env_->FileExists(pod->port_file) : pod->step_exit.has_value();
    if (stop) {
      ::kill(pod->sidecar, SIGTERM);
      pod->sidecar_stopped = true;
    }
  }
  if (pod->step_running() && pod->sidecar_exit && !pod->step_killed) {
    // Nothing more can become durable; what the journal holds is drained later.
    console_.Error(
        fmt::format("the sidecar of {} exited with code {} before its step; stopping "
                    "the step (see {})",
                    pod->name, *pod->sidecar_exit, LogPath(*pod, "tm-sidecar")));
    ::kill(pod->step, SIGKILL);
    pod->step_killed = true;
  }
  if (pod->step_running() || pod->sidecar_running()) return;
  Settle(pod);
}

void LocalRun::Settle(Pod* pod) {
  if (!pod->drain && pod->outputs.empty()) {
    const std::string outputs = JoinPath(pod->dir, pr::kOutputsDir);
    auto names = env_->ListDir(outputs);
    if (names.ok()) {
      for (const std::string& name : *names) {
        if (name.find('.') != std::string::npos || name == pr::kBarrierTimeoutFile) continue;
        auto text = env_->ReadFile(JoinPath(outputs, name));
        if (text.ok()) pod->outputs[name] = Trim(*text);
      }
    }
    if (pod->role == pr::Role::kFinalize) {
      auto text =
          env_->ReadFile(JoinPath(JoinPath(pod->dir, pr::kRestoreDir), pr::kRestoreSummaryFile));
      if (text.ok()) pod->restore_summary = *text;
    }
  }
  // No ready: no fence was taken, the step never wrote a record.
  const bool restored = env_->FileExists(JoinPath(pod->dir, pr::kReadyFile));
  if (!restored || (pod->sidecar_exit == 0 && JournalFullyAcked(env_, pod->dir))) {
    if (IsDirectory(pod->dir)) TrashDir(pod->dir);
    pod->finished = true;
    return;
  }
  if (!pod->redrained) {
    // Another sidecar adopts the dir and commits what is left, then stops.
    pod->redrained = true;
    pod->drain = true;
    console_.Detail(fmt::format("draining the journal of {} (sidecar exit code {})", pod->name,
                                pod->sidecar_exit.value_or(-1)));
    Status s = StartSidecar(pod);
    if (s.ok()) return;
    console_.Error(fmt::format("cannot start a sidecar to drain {}: {}", pod->dir, s.message()));
  }
  pod->kept = true;
  pod->finished = true;
  ++kept_dirs_;
  if (auto damage = JournalCorruption(env_, pod->dir)) {
    ++corrupt_dirs_;
    console_.Error(fmt::format(
        "the journal in {} is corrupt ({}): the records after the damage can never be "
        "committed. Move the directory away to go on (mv {} {}.corrupt); the tasks it covered "
        "then run again from their last committed checkpoint",
        pod->dir, *damage, pod->dir, pod->dir));
    return;
  }
  console_.Error(fmt::format(
      "the journal in {} still holds records the store has not acknowledged (sidecar exit code "
      "{}); it is kept, and the next run drains it first. See {}",
      pod->dir, pod->sidecar_exit.value_or(-1), LogPath(*pod, "tm-sidecar")));
}

void LocalRun::OnStop(int sig) {
  ++stops_;
  if (stops_ == 1) {
    console_.Warn(fmt::format(
        "{}: stopping. Running tasks get SIGTERM and their steps commit what they did; the "
        "same command resumes.",
        sig == SIGINT ? "interrupted (Ctrl-C)" : "SIGTERM"));
    for (Pod* pod : active_) {
      if (pod->step_running()) ::kill(pod->step, SIGTERM);
    }
    return;
  }
  int64_t steps = 0;
  for (Pod* pod : active_) steps += pod->step_running() ? 1 : 0;
  console_.Warn(fmt::format(
      "still stopping: {} steps are committing their journals. kill -9 is safe too: the next "
      "run drains what the journals hold.",
      steps));
}

void LocalRun::Pump(int64_t wake_ns) {
  const int64_t now = env_->MonotonicNanos();
  int64_t wake = std::min(wake_ns, now + (console_.tty() ? kTtyRefreshNanos : kSecond));
  for (Pod* pod : active_) {
    // A drain sidecar's port file may be written before the watch saw it.
    if (pod->drain && !pod->sidecar_stopped) wake = std::min(wake, now + 50 * kMilli);
  }
  struct pollfd fds[2] = {{signals_->fd(), POLLIN, 0}, {run_watcher_->fd(), POLLIN, 0}};
  const int nfds = run_watcher_->fd() >= 0 ? 2 : 1;
  const int timeout_ms =
      static_cast<int>(std::clamp<int64_t>((wake - now + kMilli - 1) / kMilli, 0, 1000));
  if (::poll(fds, nfds, timeout_ms) < 0 && errno != EINTR) std::abort();
  run_watcher_->Drain();
  for (int sig : signals_->Drain()) OnStop(sig);
  int status;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    for (Pod* pod : active_) {
      if (pod->step == pid && !pod->step_exit) pod->step_exit = DecodeWaitStatus(status);
      if (pod->sidecar == pid && !pod->sidecar_exit) pod->sidecar_exit = DecodeWaitStatus(status);
    }
  }
  for (Pod* pod : active_) Advance(pod);
  active_.erase(std::remove_if(active_.begin(), active_.end(), [](Pod* p) { return p->finished; }),
                active_.end());
  ShowProgress(false);
}

void LocalRun::ShowProgress(bool force) {
  if (shards_.empty() && !force) return;
  ProgressView view;
  view.total = static_cast<int64_t>(ids_.size());
  view.done = done_before_;
  int64_t baseline = done_before_;
  for (auto& shard : shards_) {
    if (shard->pod && !shard->pod->progress_file.empty()) {
      auto text = env_->ReadFile(shard->pod->progress_file);
      if (text.ok()) {
        int64_t n = std::atoll(text->c_str());
        shard->progress = n;
        if (shard->baseline < 0) shard->baseline = n;
      }
    }
    view.done += shard->progress;
    baseline += std::max<int64_t>(shard->baseline, 0);
    view.failed += shard->final_failed;
    if (shard->pod && !shard->pod->finished) ++view.running_shards;
    if (!shard->finished && !shard->pod && shard->attempts > 0) ++view.retrying;
  }
  const int64_t now = env_->MonotonicNanos();
  if (shards_started_ns_ > 0 && now > shards_started_ns_ && view.done > baseline) {
    view.rate = static_cast<double>(view.done - baseline) /
                (static_cast<double>(now - shards_started_ns_) / kSecond);
  }
  console_.Progress(view, force ? kNever / 2 : now);
}

std::vector<std::string> LocalRun::Problems(const Pod& pod) {
  std::vector<std::string> problems =
      LogProblems(env_, LogPath(pod, "tm-step"), pod.step_log_offset, 3);
  if (pod.sidecar_exit.value_or(0) != 0) {
    for (auto& line : LogProblems(env_, LogPath(pod, "tm-sidecar"), pod.sidecar_log_offset, 3)) {
      problems.push_back("tm-sidecar: " + line);
    }
  }
  return problems;
}

int LocalRun::Prepare() {
  auto self = SelfExecutable();
  if (!self.ok()) {
    std::cerr << "tm-step local: " << self.status().message() << "\n";
    return pr::kExitFailed;
  }
  self_ = *self;
  // Everything is validated before anything is written.
  if (options_.command.empty()) {
    std::cerr << "tm-step local: no task command: give it after --, e.g. -- ./task.sh\n";
    return pr::kExitUsage;
  }
  if (auto found = ResolveExecutable(options_.command[0]); !found.ok()) {
    std::cerr << "tm-step local: " << found.status().message() << "\n";
    return pr::kExitUsage;
  }
  auto text = ReadArgument(env_, options_.task_list);
  if (!text.ok()) {
    std::cerr << "tm-step local: --task-list: " << text.status().message() << "\n";
    return pr::kExitUsage;
  }
  auto ids = ParseTaskList(*text);
  if (!ids.ok()) {
    std::cerr << "tm-step local: " << ids.status().message() << "\n";
    return pr::kExitUsage;
  }
  task_list_text_ = std::move(text).value();
  ids_ = std::move(ids).value();
  for (size_t i = 0; i < ids_.size(); ++i) ordinal_of_[ids_[i]] = static_cast<int64_t>(i);
  state_key_ =
      options_.state_key.empty() ? "local-" + pr::ListHash(ids_).substr(5) : options_.state_key;
  if (Status s = ValidateId(state_key_, "state key"); !s.ok()) {
    std::cerr << "tm-step local: " << s.message() << "\n";
    return pr::kExitUsage;
  }
  if (options_.postgres.empty() && !options_.redis.empty()) {
    std::cerr << "tm-step local: --redis needs --postgres (with SQLite there is no live view)\n";
    return pr::kExitUsage;
  }
  auto sidecar = FindSidecar(options_.sidecar, self_);
  if (!sidecar.ok()) {
    std::cerr << "tm-step local: " << sidecar.status().message() << "\n";
    return pr::kExitUsage;
  }
  sidecar_path_ = *sidecar;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  parallelism_ = options_.parallelism > 0 ? options_.parallelism : std::max<long>(cpus, 1);

  auto dir = AbsolutePath(options_.state_dir);
  if (!dir.ok()) {
    std::cerr << "tm-step local: " << dir.status().message() << "\n";
    return pr::kExitFailed;
  }
  state_dir_ = *dir;
  work_root_ = JoinPath(state_dir_, "work");
  trash_root_ = JoinPath(state_dir_, "trash");
  logs_root_ = JoinPath(state_dir_, "logs");
  run_root_ = JoinPath(state_dir_, "run");
  if (Status s = env_->CreateDirs(state_dir_); !s.ok()) {
    std::cerr << "tm-step local: --state-dir: " << s.message() << "\n";
    return pr::kExitUsage;
  }
  if (Status s = lock_.Acquire(JoinPath(state_dir_, "lock")); !s.ok()) {
    std::cerr << "tm-step local: " << s.message() << "\n";
    return s.IsBusy() ? pr::kExitUsage : pr::kExitFailed;
  }
  for (const std::string& d : {work_root_, trash_root_, logs_root_, run_root_}) {
    if (Status s = env_->CreateDirs(d); !s.ok()) {
      std::cerr << "tm-step local: " << s.message() << "\n";
      return pr::kExitFailed;
    }
  }
  // What earlier runs left: a half-removed dir in trash/, their scratch files.
  for (const std::string& d : {trash_root_, run_root_}) {
    auto names = env_->ListDir(d);
    if (names.ok()) {
      for (const auto& name : *names) RemoveTree(JoinPath(d, name));
    }
  }

  if (options_.postgres.empty()) {
    store_env_["TM_STORE"] = "sqlite:" + JoinPath(state_dir_, "state.db");
    store_identity_ = "sqlite";
  } else {
    store_env_["TM_POSTGRES_DSN"] = options_.postgres;  // not in argv: ps shows argv
    if (!options_.redis.empty()) store_env_["TM_REDIS_URL"] = options_.redis;
    store_identity_ = "postgres " + Xxh3Tagged(options_.postgres);
  }
  Status s = WriteFileAtomic(env_, JoinPath(run_root_, "task-list.json"), task_list_text_, false);
  if (!s.ok()) {
    std::cerr << "tm-step local: " << s.message() << "\n";
    return pr::kExitFailed;
  }
  signals_ = std::make_unique<LoopSignals>();
  run_watcher_ = std::make_unique<DirWatcher>(run_root_, DirWatcher::kReplaced);
  return -1;
}

int LocalRun::DrainLeftovers() {
  auto names = env_->ListDir(work_root_);
  if (!names.ok()) {
    console_.Error(names.status().message());
    return pr::kExitFailed;
  }
  // The lock keeps a second run out, but a step of a killed run may still be
  // stopping (it got SIGTERM when its parent died) and appending to its journal:
  // its dir is drained once it is gone.
  const int64_t give_up = env_->MonotonicNanos() + kLeftoverWaitNanos;
  for (const std::string& name : *names) {
    const std::string dir = JoinPath(work_root_, name);
    bool told = false;
    for (auto pids = ProcessesUsing(env_, dir); !pids.empty(); pids = ProcessesUsing(env_, dir)) {
      std::string list;
      for (pid_t pid : pids) list += (list.empty() ? "" : " ") + std::to_string(pid);
      if (env_->MonotonicNanos() >= give_up) {
        console_.Error(
            fmt::format("processes of an earlier run still use {} (pid {}): wait for "
                        "them to exit, or stop them, then run again",
                        dir, list));
        return pr::kExitUsage;
      }
      if (!told) {
        console_.Info(
            fmt::format("waiting for processes of an earlier run to finish with {} "
                        "(pid {})",
                        dir, list));
        told = true;
      }
      Pump(env_->MonotonicNanos() + 100 * kMilli);
      if (stops_ > 0) return pr::kExitInterrupted;
    }
  }
  const std::string store_file = JoinPath(state_dir_, "store");
  std::vector<std::unique_ptr<Pod>> drains;
  for (const std::string& name : *names) {
    const std::string dir = JoinPath(work_root_, name);
    if (!IsDirectory(dir)) continue;
    auto ready_text = env_->ReadFile(JoinPath(dir, pr::kReadyFile));
    if (!ready_text.ok()) {
      TrashDir(dir);  // never restored: nothing in it reached a journal
      continue;
    }
    if (JournalFullyAcked(env_, dir)) {
      TrashDir(dir);
      continue;
    }
    auto ready = pr::DecodeReady(*ready_text);
    if (!ready.ok()) {
      console_.Error(fmt::format("{}: {}; move the directory away to go on without it", dir,
                                 ready.status().message()));
      return pr::kExitFailed;
    }
    if (ready->role == pr::Role::kInit && InitJournalIncomplete(env_, dir)) {
      console_.Detail(
          fmt::format("{} holds a task list cut short by a crash: init records the "
                      "whole list again instead",
                      dir));
      TrashDir(dir);
      continue;
    }
    auto recorded = env_->ReadFile(store_file);
    if (recorded.ok() && Trim(*recorded) != store_identity_) {
      console_.Error(fmt::format(
          "{} holds a journal of a run against another store ({}): rerun with that run's store "
          "flags so it is drained first",
          dir, Trim(*recorded)));
      return pr::kExitUsage;
    }
    auto pod = std::make_unique<Pod>();
    pod->name = name;
    pod->dir = dir;
    pod->state_key = ready->workflow_id;
    pod->role = ready->role;
    pod->shard = ready->shard;
    pod->drain = true;
    pod->log_dir = JoinPath(logs_root_, ready->role == pr::Role::kShard
                                            ? std::to_string(ready->shard)
                                            : std::string(pr::ToString(ready->role)));
    pod->port_file = JoinPath(run_root_, name + ".port");
    drains.push_back(std::move(pod));
  }
  // From here on the journals under work/ belong to this store.
  if (Status s = WriteFileAtomic(env_, store_file, store_identity_ + "\n", true); !s.ok()) {
    console_.Error(s.message());
    return pr::kExitFailed;
  }
  if (drains.empty()) return -1;
  console_.Info(fmt::format("Draining {} journal{} left by an earlier run", drains.size(),
                            drains.size() == 1 ? "" : "s"));
  for (auto& pod : drains) {
    Status s = StartSidecar(pod.get());
    if (!s.ok()) {
      console_.Error(fmt::format("cannot start tm-sidecar: {}", s.message()));
      pod->finished = pod->kept = true;
      ++kept_dirs_;
      continue;
    }
    active_.push_back(pod.get());
  }
  while (!active_.empty()) Pump(kNever);
  if (corrupt_dirs_ > 0) {
    console_.Error(
        "a journal of an earlier run is corrupt (above): nothing new starts until its "
        "directory is moved away");
    return pr::kExitFailed;
  }
  if (kept_dirs_ > 0) {
    console_.Error(
        "journals of an earlier run could not be committed: nothing new starts until "
        "they are (is the store reachable?); rerun the same command to retry");
    return pr::kExitFailed;
  }
  return stops_ > 0 ? pr::kExitInterrupted : -1;
}

std::optional<int> LocalRun::RunRolePod(pr::Role role, std::unique_ptr<Pod>* out) {
  for (int attempt = 0; attempt < kRoleTries; ++attempt) {
    auto pod = NewPod(role, 0, attempt);
    Status s = StartPod(pod.get());
    if (!s.ok()) {
      console_.Error(fmt::format("cannot start {}: {}", pod->name, s.message()));
      while (!active_.empty()) Pump(kNever);
      return std::nullopt;
    }
    while (!pod->finished) Pump(kNever);
    const int step = pod->step_exit.value_or(pr::kExitFailed);
    const int sidecar = pod->sidecar_exit.value_or(0);
    *out = std::move(pod);
    Pod& p = **out;
    if (p.kept) return std::nullopt;
    if (stops_ > 0) return std::nullopt;
    if (step == pr::kExitOk || step == pr::kExitFailed || step == pr::kExitUsage ||
        sidecar == pr::kExitUsage) {
      return sidecar == pr::kExitUsage ? pr::kExitUsage : step;
    }
    const double delay = options_.backoff_seconds * std::pow(2.0, attempt);
    console_.Warn(fmt::format("{} exited with code {} (sidecar {}); {}", p.name, step, sidecar,
                              attempt + 1 < kRoleTries
                                  ? fmt::format("retrying in {}", FormatSeconds(delay))
                                  : std::string("giving up")));
    for (const auto& line : Problems(p)) console_.Warn("  " + line);
    if (attempt + 1 < kRoleTries) {
      const int64_t until = env_->MonotonicNanos() + static_cast<int64_t>(delay * kSecond);
      while (env_->MonotonicNanos() < until && stops_ == 0) Pump(until);
      if (stops_ > 0) return std::nullopt;
    }
  }
  return pr::kExitFailed;
}

int LocalRun::RunInit() {
  std::unique_ptr<Pod> pod;
  auto code = RunRolePod(pr::Role::kInit, &pod);
  if (stops_ > 0) return pr::kExitInterrupted;
  if (!code || *code != pr::kExitOk) {
    const int exit_code = code.value_or(pr::kExitFailed);
    const std::vector<std::string> problems = pod ? Problems(*pod) : std::vector<std::string>();
    console_.Error(fmt::format("init failed (exit code {}){}", exit_code,
                               pod ? " — see " + pod->log_dir : ""));
    for (const auto& line : problems) console_.Error("  " + line);
    return exit_code == pr::kExitUsage ? pr::kExitUsage : pr::kExitFailed;
  }
  const auto& outputs = pod->outputs;
  auto shards_it = outputs.find(pr::kOutShards);
  auto batch_it = outputs.find(pr::kOutBatchSize);
  rapidjson::Document list;
  if (shards_it != outputs.end()) list.Parse(shards_it->second.c_str());
  if (shards_it == outputs.end() || batch_it == outputs.end() || list.HasParseError() ||
      !list.IsArray()) {
    console_.Error("init wrote no usable outputs (shards, batch-size) in " + pod->dir);
    return pr::kExitFailed;
  }
  batch_ = std::max<int64_t>(std::atoll(batch_it->second.c_str()), 1);
  const auto n = static_cast<int64_t>(ids_.size());
  int64_t pending_tasks = 0;
  for (const auto& item : list.GetArray()) {
    if (!item.IsInt64()) continue;
    auto shard = std::make_unique<Shard>();
    shard->index = item.GetInt64();
    const pr::OrdinalRange range = pr::ShardRange(shard->index, n, batch_);
    shard->tasks = range.end - range.begin;
    pending_tasks += shard->tasks;
    shards_.push_back(std::move(shard));
  }
  done_before_ = n - pending_tasks;
  skipped_ = done_before_;
  const int64_t shard_count = pr::ShardCount(n, batch_);
  if (shards_.empty()) {
    console_.Info(fmt::format("All {} tasks already finished in an earlier run", n));
  } else {
    const auto pending = static_cast<int64_t>(shards_.size());
    console_.Info(fmt::format(
        "Running {} tasks in {} shard{} of up to {} tasks, {} at a time{}", pending_tasks, pending,
        pending == 1 ? "" : "s", batch_, std::min(parallelism_, pending),
        pending < shard_count
            ? fmt::format(" ({} of {} shards already done)", shard_count - pending, shard_count)
            : ""));
  }
  return -1;
}

int LocalRun::RunShards() {
  shards_started_ns_ = env_->MonotonicNanos();
  while (true) {
    const int64_t now = env_->MonotonicNanos();
    int64_t running = 0;
    for (auto& shard : shards_) running += shard->pod ? 1 : 0;
    int64_t wake = kNever;
    for (auto& shard : shards_) {
      if (shard->finished || shard->pod) continue;
      if (stops_ > 0) {
        shard->finished = true;
        continue;
      }
      if (shard->start_at_ns > now) {
        wake = std::min(wake, shard->start_at_ns);
        continue;
      }
      if (running >= parallelism_) continue;
      shard->pod = NewPod(pr::Role::kShard, shard->index, shard->attempts);
      ++shard->attempts;
      console_.Detail(fmt::format("shard {} attempt {} of {} starting", shard->index,
                                  shard->pod->attempt, options_.retries + 1));
      Status s = StartPod(shard->pod.get());
      if (!s.ok()) {
        console_.Error(fmt::format("cannot start shard {}: {}", shard->index, s.message()));
        shard->finished = true;
        continue;
      }
      ++running;
    }
    bool all_finished = true;
    for (auto& shard : shards_) all_finished = all_finished && shard->finished && !shard->pod;
    if (all_finished) break;
    Pump(wake);

    for (auto& shard : shards_) {
      if (!shard->pod || !shard->pod->finished) continue;
      std::unique_ptr<Pod> pod = std::move(shard->pod);
      if (shard->finished) continue;  // it could not start: nothing ran
      const int code = pod->step_exit.value_or(pr::kExitFailed);
      const ShardSummary summary = ParseShardSummary(pod->outputs);
      if (auto text = env_->ReadFile(pod->progress_file); text.ok()) {
        shard->progress = std::atoll(text->c_str());
      }
      if (pod->attempt == 0) {
        skipped_ += summary.skipped;
      } else {
        retried_runs_ += summary.succeeded + summary.failed + summary.interrupted;
      }
      const bool last = pod->attempt >= options_.retries;
      if (last) shard->final_failed = summary.failed;
      console_.Detail(fmt::format(
          "shard {} attempt {} exited with code {}: {} succeeded, {} failed, {} interrupted, {} "
          "cancelled, {} skipped",
          shard->index, pod->attempt, code, summary.succeeded, summary.failed, summary.interrupted,
          summary.cancelled, summary.skipped));
      if (pod->kept || code == pr::kExitOk || stops_ > 0) {
        shard->finished = true;
        continue;
      }
      if (code == pr::kExitUsage) {
        shard->finished = true;
        console_.Error(
            fmt::format("shard {} refused its input (exit code 2, never retried):", shard->index));
        for (const auto& line : Problems(*pod)) console_.Error("  " + line);
        continue;
      }
      const std::string why =
          summary.present ? fmt::format("{} task{} failed", summary.failed + summary.interrupted,
                                        summary.failed + summary.interrupted == 1 ? "" : "s")
                          : fmt::format("exit code {}", code);
      if (last) {
        shard->finished = true;
        console_.Warn(fmt::format("shard {} failed on its last attempt ({}); see {}", shard->index,
                                  why, pod->log_dir));
        continue;
      }
      const double delay = options_.backoff_seconds * std::pow(2.0, pod->attempt);
      shard->start_at_ns = env_->MonotonicNanos() + static_cast<int64_t>(delay * kSecond);
      ++shard_retries_;
      console_.Warn(fmt::format("shard {} failed ({}); retry {} of {} in {}", shard->index, why,
                                pod->attempt + 1, options_.retries, FormatSeconds(delay)));
    }
  }
  ShowProgress(true);
  if (stops_ > 0) return pr::kExitInterrupted;
  return -1;
}

int LocalRun::RunFinalize() {
  auto code = RunRolePod(pr::Role::kFinalize, &finalize_);
  if (stops_ > 0) return pr::kExitInterrupted;
  if (!code) return pr::kExitFailed;
  if (*code != pr::kExitOk && *code != pr::kExitFailed) {
    console_.Error(fmt::format("finalize failed (exit code {}); see {}", *code,
                               finalize_ ? finalize_->log_dir : logs_root_));
    if (finalize_) {
      for (const auto& line : Problems(*finalize_)) console_.Error("  " + line);
    }
    return *code == pr::kExitUsage ? pr::kExitUsage : pr::kExitFailed;
  }
  return *code;
}

void LocalRun::PrintSummary(int exit_code) {
  console_.Finish();
  const double wall = static_cast<double>(env_->MonotonicNanos() - started_ns_) / kSecond;
  rapidjson::Document summary;
  auto it = finalize_->outputs.find(pr::kOutSummary);
  if (it != finalize_->outputs.end()) summary.Parse(it->second.c_str());
  if (summary.HasParseError() || !summary.IsObject()) summary.SetObject();
  const int64_t total = JsonInt(summary, "total");
  const int64_t failed = JsonInt(summary, "failed");
  const int64_t unfinished = JsonInt(summary, "unfinished");
  std::string out;
  out += fmt::format("\nWorkflow {} {} in {}\n", state_key_,
                     exit_code == pr::kExitOk ? "succeeded" : "FAILED", FormatSeconds(wall));
  out += fmt::format("  {:<11}{:>7}\n", "tasks", total);
  out += fmt::format("  {:<11}{:>7}\n", "succeeded", JsonInt(summary, "succeeded"));
  out += fmt::format("  {:<11}{:>7}   final failures; --max-failures {}\n", "failed", failed,
                     options_.max_failures);
  out += fmt::format("  {:<11}{:>7}   already done before this run\n", "skipped", skipped_);
  out += fmt::format("  {:<11}{:>7}\n", "cancelled", JsonInt(summary, "cancelled"));
  if (unfinished > 0) {
    out += fmt::format("  {:<11}{:>7}   never finished (a rerun resumes them)\n", "unfinished",
                       unfinished);
  }
  out += fmt::format(
      "  {:<11}{:>7}   task runs repeated after a failed attempt ({} shard "
      "retr{})\n",
      "retried", retried_runs_, shard_retries_, shard_retries_ == 1 ? "y" : "ies");
  out += fmt::format("  {:<11}{:>7}\n", "wall time", FormatSeconds(wall));

  auto restored = pr::DecodeWorkflowSummary(finalize_->restore_summary);
  if (restored.ok() && !restored->failed.empty()) {
    out += fmt::format("Failed tasks ({} of {}), last error:\n", restored->failed.size(),
                       restored->failed_total);
    for (const pr::FailedTask& task : restored->failed) {
      std::string where;
      auto ordinal = ordinal_of_.find(task.task_id);
      if (ordinal != ordinal_of_.end()) {
        where = "  log: " + JoinPath(JoinPath(logs_root_, std::to_string(ordinal->second / batch_)),
                                     std::to_string(ordinal->second) + ".log");
      }
      out += fmt::format("  {}: {}{}\n", task.task_id,
                         task.error.empty()
                             ? (task.exit_code ? fmt::format("exit code {}", *task.exit_code)
                                               : std::string("failed"))
                             : task.error,
                         where);
    }
  }
  out += fmt::format(
      "Logs:  {}/<shard>/<ordinal>.log (task output; tm-step.log and "
      "tm-sidecar.log beside them)\n",
      logs_root_);
  const std::string quoted_key = "'" + state_key_ + "'";
  if (options_.postgres.empty()) {
    const std::string db = JoinPath(state_dir_, "state.db");
    out += fmt::format("State: {} (state key {})\n", db, state_key_);
    out += fmt::format("  sqlite3 {} \"SELECT * FROM workflow_states WHERE workflow_id = {}\"\n",
                       ShellQuote(db), quoted_key);
    out += fmt::format("  {} status --store sqlite:{} {}\n", ShellQuote(sidecar_path_),
                       ShellQuote(db), ShellQuote(state_key_));
  } else {
    out += fmt::format("State: PostgreSQL (state key {})\n", state_key_);
    out += fmt::format(
        "  psql \"$TM_POSTGRES_DSN\" -c \"SELECT * FROM workflow_states WHERE "
        "workflow_id = {}\"\n",
        quoted_key);
    if (!options_.redis.empty()) {
      out += fmt::format("  redis-cli GET {}\n", ShellQuote("workflow:state:" + state_key_));
    }
  }
  std::cout << out << std::flush;
  if (!console_.tty()) {
    spdlog::info(
        "workflow {} {}: {} tasks, {} succeeded, {} failed, {} skipped, {} cancelled, {} "
        "retried, {:.3f} s",
        state_key_, exit_code == pr::kExitOk ? "succeeded" : "failed", total,
        JsonInt(summary, "succeeded"), failed, skipped_, JsonInt(summary, "cancelled"),
        retried_runs_, wall);
  }
}

void LocalRun::PrintResume() {
  console_.Finish();
  char cwd[4096];
  const bool have_cwd = ::getcwd(cwd, sizeof(cwd)) != nullptr;
  std::string out =
      fmt::format("\nStopped. State is in {} (state key {}).\n", state_dir_, state_key_);
  out += "Resume with the same command";
  out += have_cwd ? fmt::format(" from {}:\n", cwd) : std::string(":\n");
  out += "  " + ShellJoin(options_.invocation) + "\n";
  std::cout << out << std::flush;
  if (!console_.tty()) {
    spdlog::warn("stopped; resume with the same command: {}", ShellJoin(options_.invocation));
  }
}

int LocalRun::Run() {
  started_ns_ = env_->MonotonicNanos();
  if (int code = Prepare(); code >= 0) return code;
  console_.Info(fmt::format("Workflow {}: {} tasks; state in {} (the same command resumes)",
                            state_key_, ids_.size(), state_dir_));
  int code = DrainLeftovers();
  if (code < 0) code = RunInit();
  if (code < 0) code = RunShards();
  if (code < 0) code = RunFinalize();
  // Whatever happened, nothing of ours may outlive the run.
  while (!active_.empty()) Pump(kNever);
  if (code == pr::kExitInterrupted || stops_ > 0) {
    PrintResume();
    return pr::kExitInterrupted;
  }
  if (finalize_ && (code == pr::kExitOk || code == pr::kExitFailed)) {
    PrintSummary(code);
  } else {
    console_.Finish();
  }
  return code;
}

}  // namespace

int RunLocal(Env* env, const LocalOptions& options) {
  LocalRun run(env, options);
  return run.Run();
}

}  // namespace taskmaster::step
