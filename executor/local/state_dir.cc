#include "local/state_dir.h"

#include <fmt/format.h>
#include <unistd.h>

#include "local/text.h"

namespace taskmaster::step::local {

StateDir::StateDir(Env* env, std::string root)
    : env_(env),
      root_(std::move(root)),
      work_(JoinPath(root_, "work")),
      trash_(JoinPath(root_, "trash")),
      logs_(JoinPath(root_, "logs")),
      run_(JoinPath(root_, "run")) {}

Status StateDir::Open() {
  if (Status s = env_->CreateDirs(root_); !s.ok()) {
    return Status::InvalidArgument("--state-dir: " + s.message());
  }
  TM_RETURN_IF_ERROR(Lock());
  for (const std::string& dir : {work_, trash_, logs_, run_}) {
    TM_RETURN_IF_ERROR(env_->CreateDirs(dir));
  }
  // What earlier runs left: a half-removed dir in trash/, their scratch files.
  // What cannot be removed now is tried again by the next run.
  for (const std::string& dir : {trash_, run_}) {
    auto names = env_->ListDir(dir);
    if (!names.ok()) continue;
    for (const std::string& name : *names) env_->RemoveTree(JoinPath(dir, name));
  }
  return Status::OK();
}

Status StateDir::Lock() {
  const std::string path = JoinPath(root_, "lock");
  auto lock = env_->LockFile(path);
  if (lock.status().IsBusy()) {
    auto text = env_->ReadFile(path);
    const std::string holder = text.ok() ? TrimEnd(text->substr(0, 63)) : "";
    return Status::Busy("the state dir " + root_ + " is in use by another tm-step local" +
                        (holder.empty() ? "" : " (pid " + holder + ")") +
                        " or by the sidecars of one that was killed, still draining: wait for "
                        "it to finish, or use another --state-dir");
  }
  if (!lock.ok()) return lock.status();
  lock_ = std::move(lock).value();
  // Who holds it, for the message above. Written in place: a new file would
  // be a new inode, and a lock on the old one would lock nothing.
  auto file = env_->NewWritableFile(path);
  if (!file.ok()) return file.status();
  TM_RETURN_IF_ERROR((*file)->Append(std::to_string(::getpid()) + "\n"));
  return (*file)->Close();
}

Result<std::string> StateDir::RecordedStore() {
  auto text = env_->ReadFile(JoinPath(root_, "store"));
  if (!text.ok()) return text.status();
  return TrimEnd(std::move(text).value());
}

Status StateDir::RecordStore(const std::string& identity) {
  return WriteFileAtomic(env_, JoinPath(root_, "store"), identity + "\n", true);
}

Status StateDir::Trash(const std::string& dir) {
  const std::string target = JoinPath(
      trash_, fmt::format("{}.{}.{}", dir.substr(dir.rfind('/') + 1), ::getpid(), trashed_++));
  if (Status s = env_->Rename(dir, target); !s.ok()) return s.WithContext("cannot move " + dir);
  env_->RemoveTree(target);
  return Status::OK();
}

}  // namespace taskmaster::step::local
