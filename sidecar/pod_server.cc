#include "pod_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// A start message holds a pod's flags: far below this.
constexpr size_t kMaxLineBytes = 1 << 20;

// The value of --work-dir in a pod's flags, to answer even a start whose flags
// do not parse; empty when there is none.
std::string WorkDirOf(const std::vector<std::string>& args) {
  auto flag = std::find(args.begin(), args.end(), pr::kWorkDirFlag);
  return flag != args.end() && flag + 1 != args.end() ? *(flag + 1) : std::string();
}

}  // namespace

struct PodServer::Pod {
  std::string work_dir;
  int log_fd = -1;
  bool due = false;  // turn it now: a stop came
  Health health;
  std::unique_ptr<Sidecar> sidecar;

  ~Pod() {
    if (log_fd >= 0) ::close(log_fd);
  }
};

namespace {

// Points stderr, where every log line goes, at a pod's log while it works.
class LogTo {
 public:
  LogTo(int pod_log, int own) : own_(own), moved_(pod_log >= 0 && own >= 0) {
    if (moved_) ::dup2(pod_log, STDERR_FILENO);
  }
  ~LogTo() {
    if (moved_) ::dup2(own_, STDERR_FILENO);
  }
  LogTo(const LogTo&) = delete;
  LogTo& operator=(const LogTo&) = delete;

 private:
  int own_;
  bool moved_;
};

}  // namespace

PodServer::PodServer(Env* env, StateStore* store, LiveCache* cache, Metrics* metrics,
                     ParseFlags parse, int channel_fd, ClaimKey claim)
    : env_(env),
      store_(store),
      cache_(cache),
      metrics_(metrics),
      parse_(std::move(parse)),
      channel_fd_(channel_fd),
      claim_(std::move(claim)),
      own_stderr_(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0)) {}

PodServer::~PodServer() {
  pods_.clear();
  if (own_stderr_ >= 0) ::close(own_stderr_);
}

int PodServer::Run(SignalFd* signals) {
  spdlog::info("serving the sidecars of this run's pods");
  std::vector<struct pollfd> fds;
  while (true) {
    for (int signal : signals->Drain()) {
      if (signal == SIGTERM || signal == SIGINT) StopAll();
    }
    if ((input_closed_ || stopping_) && pods_.empty()) break;
    fds.clear();
    fds.push_back({signals->fd(), POLLIN, 0});
    fds.push_back({input_closed_ ? -1 : channel_fd_, POLLIN, 0});
    for (const auto& pod : pods_) fds.push_back({pod->sidecar->watch_fd(), POLLIN, 0});
    const int64_t wake = NextWake();
    const int timeout = wake == kNever ? -1 : MillisUntil(env_->MonotonicNanos(), wake);
    if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
      spdlog::error("poll: {}", std::strerror(errno));
      return pr::kExitFailed;
    }
    // Pods a start adds now come after the ones polled; only the loop removes any.
    const size_t polled = pods_.size();
    if (fds[1].revents != 0) ReadChannel();
    const int64_t now = env_->MonotonicNanos();
    std::vector<bool> done(polled, false);
    for (size_t i = 0; i < polled; ++i) {
      Pod* pod = pods_[i].get();
      if (fds[2 + i].revents != 0 || pod->due || now >= pod->sidecar->wake_ns()) {
        done[i] = TurnPod(pod);
      }
    }
    for (size_t i = polled; i-- > 0;) {
      if (done[i]) pods_.erase(pods_.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
  spdlog::info("every pod is done");
  return channel_failed_ ? pr::kExitFailed : pr::kExitOk;
}

void PodServer::ReadChannel() {
  char buf[65536];
  const ssize_t n = ::read(channel_fd_, buf, sizeof(buf));
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    // The run is gone (or done): finish what is served, start nothing more.
    if (n < 0) spdlog::error("reading the run's requests: {}", std::strerror(errno));
    input_closed_ = true;
    StopAll();
    return;
  }
  input_.append(buf, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t end; (end = input_.find('\n', start)) != std::string::npos; start = end + 1) {
    Handle(std::string_view(input_).substr(start, end - start));
  }
  input_.erase(0, start);
  if (input_.size() > kMaxLineBytes) {
    spdlog::error("a request of the run is over {} bytes: reading no more", kMaxLineBytes);
    input_closed_ = true;
    StopAll();
  }
}

void PodServer::Handle(std::string_view line) {
  auto message = pr::DecodePodMessage(line);
  if (!message.ok()) {
    spdlog::error("ignoring a request of the run: {}", message.status().message());
    return;
  }
  switch (message->kind) {
    case pr::PodMessage::Kind::kStart:
      Start(*message);
      return;
    case pr::PodMessage::Kind::kStop:
      Stop(message->work_dir);
      return;
    case pr::PodMessage::Kind::kExited:
      spdlog::error("ignoring a request of the run: \"exited\" is an answer");
      return;
  }
}

void PodServer::Start(const pr::PodMessage& message) {
  auto pod = std::make_unique<Pod>();
  pod->work_dir = WorkDirOf(message.args);
  pod->log_fd = ::open(message.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (pod->log_fd < 0) {
    spdlog::warn("cannot open {} ({}): the pod of {} logs here", message.log_path,
                 std::strerror(errno), pod->work_dir);
  }
  LogTo log(pod->log_fd, own_stderr_);
  auto options = parse_(message.args);
  if (!options.ok()) {
    spdlog::error("{}", options.status().message());
    Exited(pod->work_dir, pr::kExitUsage);
    return;
  }
  pod->work_dir = options->work_dir;
  for (const auto& served : pods_) {
    if (served->work_dir == pod->work_dir) {
      spdlog::error("{} is served already", pod->work_dir);
      Exited(pod->work_dir, pr::kExitUsage);
      return;
    }
  }
  // Before the pod takes a fence: a run that does not own its key writes nothing.
  if (claim_) {
    if (Status claimed = claim_(options->state_key); !claimed.ok()) {
      spdlog::error("{}", claimed.message());
      Exited(pod->work_dir, claimed.IsFenced() ? pr::kExitUsage : pr::kExitNotDurable);
      return;
    }
  }
  // One check of the schema serves every later pod: the store is the same.
  options->schema_checked = schema_checked_;
  pod->sidecar =
      std::make_unique<Sidecar>(env_, *std::move(options), store_, cache_, metrics_, &pod->health);
  if (stopping_) pod->sidecar->RequestStop();
  std::unique_ptr<DirWatcher> watcher;
  if (!spare_watchers_.empty()) {
    watcher = std::move(spare_watchers_.back());
    spare_watchers_.pop_back();
  }
  if (auto code = pod->sidecar->Begin(std::move(watcher))) {
    if (auto spare = pod->sidecar->TakeWatcher()) spare_watchers_.push_back(std::move(spare));
    Exited(pod->work_dir, *code);
    return;
  }
  schema_checked_ = true;
  pods_.push_back(std::move(pod));
}

void PodServer::Stop(const std::string& work_dir) {
  for (const auto& pod : pods_) {
    if (pod->work_dir != work_dir) continue;
    LogTo log(pod->log_fd, own_stderr_);
    pod->sidecar->RequestStop();
    pod->due = true;
    return;
  }
  // Already done (its exit is on the way) or never started: nothing to stop.
}

void PodServer::StopAll() {
  stopping_ = true;
  for (const auto& pod : pods_) {
    LogTo log(pod->log_fd, own_stderr_);
    pod->sidecar->RequestStop();
    pod->due = true;
  }
}

bool PodServer::TurnPod(Pod* pod) {
  pod->due = false;
  LogTo log(pod->log_fd, own_stderr_);
  auto code = pod->sidecar->Turn();
  if (!code) return false;
  if (auto spare = pod->sidecar->TakeWatcher()) spare_watchers_.push_back(std::move(spare));
  Exited(pod->work_dir, *code);
  return true;
}

void PodServer::Exited(const std::string& work_dir, int code) {
  if (channel_failed_) return;
  pr::PodMessage message;
  message.kind = pr::PodMessage::Kind::kExited;
  message.work_dir = work_dir;
  message.code = code;
  const std::string line = pr::Encode(message);
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::send(channel_fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // The run is gone: what the pods hold is still committed before they finish.
      spdlog::error("cannot tell the run that {} exited: {}", work_dir, std::strerror(errno));
      channel_failed_ = true;
      input_closed_ = true;
      StopAll();
      return;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
}

int64_t PodServer::NextWake() const {
  int64_t wake = kNever;
  for (const auto& pod : pods_) {
    wake = std::min(wake, pod->due ? env_->MonotonicNanos() : pod->sidecar->wake_ns());
  }
  return wake;
}

}  // namespace taskmaster::sidecar
