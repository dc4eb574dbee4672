// Test helpers for crash safety, modelled on leveldb's db/fault_injection_test.cc.
//
// FaultInjectionEnv wraps a real Env working in a temp dir and
//  - counts mutating operations (opening a file for writing, Append, Sync,
//    Truncate, Rename, RemoveFile, RemoveTree, CreateDirs, SyncDir, LockFile)
//    and fails every one from the n-th on with IOError("injected fault"), as a
//    process that dies there would never issue them;
//  - remembers how much of each file was synced and which creates, renames and
//    removes have not been made durable by a SyncDir, so DropUnsyncedData() can
//    leave the disk as a power loss would.
//
// The model: a file keeps exactly its synced bytes (optionally followed by a
// prefix of the unsynced ones, to tear a write); a directory entry change is
// lost unless every directory it touched was synced afterwards. Files that
// existed before the env first touched them count as durable, and so do
// directories (CreateDirs is counted and can fail, but is never undone) and
// tree removals (RemoveTree, likewise).
// Thread-safe; file objects are not.
#ifndef TASKMASTER_TESTS_COMMON_FAULT_ENV_H_
#define TASKMASTER_TESTS_COMMON_FAULT_ENV_H_

#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster::testing {

// A fresh directory, removed with everything in it when this goes away.
class ScopedTempDir {
 public:
  // Under `parent` (which must exist); /tmp is tmpfs on many machines, so a
  // benchmark of fsync passes /var/tmp.
  explicit ScopedTempDir(const std::string& parent = "/tmp") {
    std::string pattern = parent + "/taskmaster-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ::abort();
    path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return JoinPath(path_, name); }

 private:
  std::string path_;
};

// What FaultInjectionEnv::DropUnsyncedData leaves of each file's unsynced tail.
struct UnsyncedTail {
  uint64_t keep_bytes = 0;  // keep up to this many bytes after the synced ones
  bool zero_fill = false;   // ...as zeros, as a filesystem may after a crash
};

class FaultInjectionEnv final : public EnvWrapper {
 public:
  explicit FaultInjectionEnv(Env* base) : EnvWrapper(base), base_(base) {}

  // Fails the mutating operation with index n (0-based, counting from
  // construction) and every one after it.
  void FailFrom(uint64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_from_ = n;
  }
  void StopFailing() { FailFrom(std::numeric_limits<uint64_t>::max()); }
  // Mutating operations issued so far, failed ones included.
  uint64_t mutating_ops() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ops_;
  }

  // Simulates a power loss: cuts every file back to its synced bytes (plus what
  // `tail` keeps), then undoes, newest first, each create, rename and remove no
  // SyncDir made durable. Files must be closed first; afterwards the disk holds
  // only durable state again.
  Status DropUnsyncedData(UnsyncedTail tail = {}) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [path, state] : files_) {
      if (state->size > state->synced) {
        const uint64_t kept = std::min(state->size - state->synced, tail.keep_bytes);
        TM_RETURN_IF_ERROR(CutTail(path, state->synced, kept, tail.zero_fill));
        state->size = state->synced + kept;
      }
      state->synced = state->size;
    }
    for (auto op = pending_.rbegin(); op != pending_.rend(); ++op) TM_RETURN_IF_ERROR(Undo(*op));
    pending_.clear();
    return Status::OK();
  }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return OpenForWrite(path, /*truncate=*/false);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return OpenForWrite(path, /*truncate=*/true);
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    TM_RETURN_IF_ERROR(base_->Truncate(path, size));
    // Assumes the cut is durable at once; were it lost, the bytes it cut would
    // come back, which is the state before the cut and no harder to recover.
    FileState& state = TrackedState(path);
    state.size = size;
    state.synced = std::min(state.synced, size);
    return Status::OK();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    DirOp op{DirOp::kRename, from, to, std::nullopt, {DirName(from), DirName(to)}};
    auto replaced = DurableContents(to);
    if (replaced.ok()) {
      op.replaced = std::move(*replaced);
    } else if (!replaced.status().IsNotFound()) {
      return replaced.status();
    }
    TM_RETURN_IF_ERROR(base_->Rename(from, to));
    auto moved = files_.find(from);
    if (moved == files_.end()) {
      files_.erase(to);
    } else {
      files_[to] = moved->second;
      files_.erase(moved);
    }
    pending_.push_back(std::move(op));
    return Status::OK();
  }

  Status RemoveFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    auto contents = DurableContents(path);
    if (!contents.ok()) return contents.status();
    TM_RETURN_IF_ERROR(base_->RemoveFile(path));
    files_.erase(path);
    pending_.push_back(DirOp{DirOp::kRemove, path, "", std::move(*contents), {DirName(path)}});
    return Status::OK();
  }

  // Durable at once: were it lost, the tree would come back whole, the state
  // before the removal and no harder to recover. Unsynced changes under it go
  // with it.
  Status RemoveTree(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    TM_RETURN_IF_ERROR(base_->RemoveTree(path));
    const auto removed = [&](const std::string& p) {
      return p == path || p.compare(0, path.size() + 1, path + "/") == 0;
    };
    for (auto it = files_.begin(); it != files_.end();) {
      it = removed(it->first) ? files_.erase(it) : std::next(it);
    }
    pending_.erase(
        std::remove_if(pending_.begin(), pending_.end(),
                       [&](const DirOp& op) { return removed(op.path) || removed(op.to); }),
        pending_.end());
    return Status::OK();
  }

  Status CreateDirs(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    return base_->CreateDirs(path);
  }

  Status SyncDir(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    TM_RETURN_IF_ERROR(base_->SyncDir(path));
    for (DirOp& op : pending_) op.unsynced_dirs.erase(path);
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [](const DirOp& op) { return op.unsynced_dirs.empty(); }),
                   pending_.end());
    return Status::OK();
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    return base_->LockFile(path);
  }

 private:
  // Shared by every handle open on one file, and moved along by renames.
  struct FileState {
    uint64_t size = 0;
    uint64_t synced = 0;
  };

  // A directory entry change that is lost unless each of unsynced_dirs is synced.
  struct DirOp {
    enum Kind { kCreate, kRename, kRemove } kind;
    std::string path;                     // created, removed, or renamed from
    std::string to;                       // renamed to
    std::optional<std::string> replaced;  // what `to` or the removed file held
    std::set<std::string> unsynced_dirs;
  };

  class File final : public WritableFile {
   public:
    File(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base,
         std::shared_ptr<FileState> state)
        : env_(env), base_(std::move(base)), state_(std::move(state)) {}

    Status Append(std::string_view data) override {
      std::lock_guard<std::mutex> lock(env_->mu_);
      TM_RETURN_IF_ERROR(env_->CountOp());
      Status s = base_->Append(data);
      state_->size = base_->Size();  // a failed write may still have written part
      return s;
    }
    Status Sync() override {
      std::lock_guard<std::mutex> lock(env_->mu_);
      TM_RETURN_IF_ERROR(env_->CountOp());
      TM_RETURN_IF_ERROR(base_->Sync());
      state_->synced = state_->size;
      return Status::OK();
    }
    Status Close() override { return base_->Close(); }
    uint64_t Size() const override { return base_->Size(); }

   private:
    FaultInjectionEnv* env_;
    std::unique_ptr<WritableFile> base_;
    std::shared_ptr<FileState> state_;
  };

  // Requires mu_.
  Status CountOp() {
    if (ops_++ >= fail_from_) return Status::IOError("injected fault");
    return Status::OK();
  }

  // Requires mu_. A file the env has not seen yet is durable as it is.
  FileState& TrackedState(const std::string& path) {
    std::shared_ptr<FileState>& state = files_[path];
    if (state == nullptr) {
      auto size = base_->FileSize(path);
      const uint64_t bytes = size.ok() ? *size : 0;
      state = std::make_shared<FileState>(FileState{bytes, bytes});
    }
    return *state;
  }

  // Requires mu_. What of path would survive a power loss now; NotFound if it
  // does not exist.
  Result<std::string> DurableContents(const std::string& path) {
    auto contents = base_->ReadFile(path);
    if (!contents.ok()) return contents.status();
    auto tracked = files_.find(path);
    if (tracked != files_.end()) contents->resize(tracked->second->synced);
    return contents;
  }

  Result<std::unique_ptr<WritableFile>> OpenForWrite(const std::string& path, bool truncate) {
    std::lock_guard<std::mutex> lock(mu_);
    TM_RETURN_IF_ERROR(CountOp());
    const bool existed = base_->FileExists(path);
    auto file = truncate ? base_->NewWritableFile(path) : base_->NewAppendableFile(path);
    if (!file.ok()) return file.status();
    if (!existed) {
      files_.erase(path);
      pending_.push_back(DirOp{DirOp::kCreate, path, "", std::nullopt, {DirName(path)}});
    }
    FileState& state = TrackedState(path);
    // Emptying counts as durable at once, so the old bytes are lost even when
    // the new ones never get synced: the harder case for the caller.
    if (truncate) state = FileState{};
    return std::unique_ptr<WritableFile>(new File(this, std::move(*file), files_[path]));
  }

  // Requires mu_. Leaves `synced` bytes of path followed by `kept` more, the
  // latter as they are or as zeros.
  Status CutTail(const std::string& path, uint64_t synced, uint64_t kept, bool zero_fill) {
    if (!zero_fill) return base_->Truncate(path, synced + kept);
    auto contents = base_->ReadFile(path);
    if (!contents.ok()) return contents.status();
    contents->resize(synced);
    contents->append(kept, '\0');
    return Rewrite(path, *contents);
  }

  // Requires mu_.
  Status Rewrite(const std::string& path, std::string_view contents) {
    auto file = base_->NewWritableFile(path);
    if (!file.ok()) return file.status();
    TM_RETURN_IF_ERROR((*file)->Append(contents));
    return (*file)->Close();
  }

  // Requires mu_. Files are already cut to their synced bytes.
  Status Undo(const DirOp& op) {
    switch (op.kind) {
      case DirOp::kCreate:
        files_.erase(op.path);
        return base_->RemoveFile(op.path);
      case DirOp::kRename: {
        TM_RETURN_IF_ERROR(base_->Rename(op.to, op.path));
        auto moved = files_.find(op.to);
        if (moved != files_.end()) {
          files_[op.path] = moved->second;
          files_.erase(moved);
        }
        if (!op.replaced.has_value()) return Status::OK();
        return Restore(op.to, *op.replaced);
      }
      case DirOp::kRemove:
        return Restore(op.path, *op.replaced);
    }
    return Status::OK();
  }

  // Requires mu_. Puts back a file a rename replaced or a remove deleted.
  Status Restore(const std::string& path, const std::string& contents) {
    TM_RETURN_IF_ERROR(Rewrite(path, contents));
    files_[path] = std::make_shared<FileState>(FileState{contents.size(), contents.size()});
    return Status::OK();
  }

  Env* const base_;
  mutable std::mutex mu_;
  uint64_t ops_ = 0;
  uint64_t fail_from_ = std::numeric_limits<uint64_t>::max();
  std::map<std::string, std::shared_ptr<FileState>> files_;  // by current path
  std::vector<DirOp> pending_;                               // oldest first
};

}  // namespace taskmaster::testing

#endif  // TASKMASTER_TESTS_COMMON_FAULT_ENV_H_
