#include "local/sidecar_server.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "local/children.h"

namespace taskmaster::step::local {

namespace pr = protocol;

SidecarServer::SidecarServer(Env* env, StateDir* state_dir, std::string program,
                             std::map<std::string, std::string> store_env)
    : env_(env),
      state_dir_(state_dir),
      program_(std::move(program)),
      store_env_(std::move(store_env)) {}

SidecarServer::~SidecarServer() {
  Close();
}

int SidecarServer::fd() const {
  return process_ ? process_->control_fd() : -1;
}

Status SidecarServer::Spawn() {
  pr::SidecarServerArgs args;
  args.program = program_;
  args.channel_fd = pr::kControlFd;
  args.listen = "127.0.0.1:0";
  args.port_file = JoinPath(state_dir_->run(), "tm-sidecar.port");
  // The socket on its fd 3 is the control channel a task gets (TaskProcess).
  TaskSpec spec = ChildSpec(args.ToArgv(), JoinPath(state_dir_->logs(), "tm-sidecar.log"));
  spec.control_channel = true;
  spec.set_env = store_env_;
  // It keeps the state dir locked until it has drained, and leaves a Ctrl-C
  // to us: it stops its pods on our SIGTERM (or at the end of its input).
  spec.inherited_fds = {state_dir_->lock_fd()};
  spec.ignored_signals = {SIGINT};
  auto process = TaskProcess::Spawn(spec);
  if (!process.ok()) return process.status();
  process_ = std::move(process).value();
  input_.clear();
  return Status::OK();
}

Status SidecarServer::Start(Pod* pod, const pr::SidecarArgs& args) {
  pr::PodMessage message;
  message.kind = pr::PodMessage::Kind::kStart;
  message.args = args.ToArgv();
  message.args.erase(message.args.begin());  // the program
  message.log_path = pod->LogPath("tm-sidecar");
  Status sent;
  for (int tries = 0; tries < 2; ++tries) {
    // One that closed its socket is exiting (it died, or was killed): its pods
    // get its exit status, and a new one serves this pod.
    if (process_ && fd() < 0) Died(DecodeWaitStatus(process_->Wait()));
    if (!process_) TM_RETURN_IF_ERROR(Spawn());
    sent = Send(message);
    if (sent.ok()) {
      pods_[pod->dir] = pod;
      return Status::OK();
    }
    process_->CloseControl();
  }
  return sent;
}

void SidecarServer::Stop(Pod* pod) {
  if (pods_.count(pod->dir) == 0) return;
  pr::PodMessage message;
  message.kind = pr::PodMessage::Kind::kStop;
  message.work_dir = pod->dir;
  // A process that cannot hear it any more has died or is dying: Poll gives
  // the pod its exit status.
  Send(message);
}

Status SidecarServer::Send(const pr::PodMessage& message) {
  const std::string line = pr::Encode(message);
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::send(fd(), rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      // Lines are small and the server reads them at once: room comes soon.
      struct pollfd writable = {fd(), POLLOUT, 0};
      ::poll(&writable, 1, -1);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("tm-sidecar's socket", errno);
    rest.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

void SidecarServer::Poll() {
  if (!process_) return;
  char buf[4096];
  while (fd() >= 0) {
    const ssize_t n = ::read(fd(), buf, sizeof(buf));
    if (n > 0) {
      input_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    process_->CloseControl();  // its end closed: it is exiting
  }
  size_t start = 0;
  for (size_t end; (end = input_.find('\n', start)) != std::string::npos; start = end + 1) {
    Answered(input_.substr(start, end - start));
  }
  input_.erase(0, start);
  int status;
  if (process_->TryReap(&status)) Died(DecodeWaitStatus(status));
}

void SidecarServer::Answered(const std::string& line) {
  auto message = pr::DecodePodMessage(line);
  if (!message.ok() || message->kind != pr::PodMessage::Kind::kExited) return;
  auto it = pods_.find(message->work_dir);
  if (it == pods_.end()) return;
  it->second->sidecar_exit = message->code;
  pods_.erase(it);
}

void SidecarServer::Died(int code) {
  for (auto& [dir, pod] : pods_) pod->sidecar_exit = code;
  pods_.clear();
  process_.reset();
}

void SidecarServer::Close() {
  if (!process_) return;
  // The end of its input: it finishes the pods it still serves (each within its
  // stop budget) and exits.
  process_->CloseControl();
  Died(DecodeWaitStatus(process_->Wait()));
}

}  // namespace taskmaster::step::local
