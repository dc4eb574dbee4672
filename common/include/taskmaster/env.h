// Env: the one seam between Taskmaster and the outside world — files, rename,
// fsync, directory sync, locks and the clock. Production code takes an Env*;
// tests swap in one that fails writes or drops what was never synced
// (tests/common/fault_env.h).
//
// Env::Default() is thread-safe and lives for the whole process. File objects
// are owned by the caller and are not thread-safe.
#ifndef TASKMASTER_ENV_H_
#define TASKMASTER_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "taskmaster/status.h"

namespace taskmaster {

// A file opened for appending. Bytes are durable only after Sync() returns OK.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Makes every appended byte durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file, including those not yet synced.
  virtual uint64_t Size() const = 0;
};

// A file read at offsets; it may grow while it is open (a live journal).
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset into *out (replacing its contents). Fewer bytes
  // than asked for means the end of the file was reached.
  virtual Status Read(uint64_t offset, size_t n, std::string* out) const = 0;
  virtual Result<uint64_t> Size() const = 0;
};

// An exclusive lock on a file, held until this object is destroyed — and, past
// that, for as long as a child process that was handed fd() lives.
class FileLock {
 public:
  virtual ~FileLock() = default;
  // The descriptor that holds the lock. It is close-on-exec: a child that must
  // keep the lock while it runs (local mode's sidecars) inherits it explicitly.
  virtual int fd() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The real POSIX environment.
  static Env* Default();

  // Opens path for appending, creating it if needed; existing bytes stay.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  // Creates path, or empties it if it exists.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;

  // The whole file. One whose size reads as 0 (those under /proc) is read to
  // its end instead.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  // Atomically replaces `to` with `from` (rename(2)).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Removes path and, when it is a directory, everything under it (a symlink is
  // removed, never followed); OK if path does not exist. Not atomic: rename a
  // directory aside first when a crash must not leave half of it.
  virtual Status RemoveTree(const std::string& path) = 0;
  // Creates the directory and any missing parents; OK if it exists.
  virtual Status CreateDirs(const std::string& path) = 0;
  // Makes the directory's entries (creates, renames) durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // Names in the directory, without "." and "..", sorted.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;
  // Takes an exclusive flock(2) on path, creating the file if needed, without
  // waiting: Busy when another holder (any process, this one too) has it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // Wall clock, milliseconds since the Unix epoch.
  virtual int64_t NowUnixMillis() = 0;
  // Monotonic clock in nanoseconds, for durations and deadlines.
  virtual int64_t MonotonicNanos() = 0;
  virtual void SleepForMicros(int64_t micros) = 0;
};

// An Env that forwards every call to another (leveldb's EnvWrapper): a test Env
// derives from it and overrides only what it changes (the clock, failing
// writes). Does not own the target, which must outlive it.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return target_->NewAppendableFile(path);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return target_->NewWritableFile(path);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return target_->NewRandomAccessFile(path);
  }
  Result<std::string> ReadFile(const std::string& path) override { return target_->ReadFile(path); }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  bool IsDirectory(const std::string& path) override { return target_->IsDirectory(path); }
  Result<uint64_t> FileSize(const std::string& path) override { return target_->FileSize(path); }
  Status Truncate(const std::string& path, uint64_t size) override {
    return target_->Truncate(path, size);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return target_->Rename(from, to);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status RemoveTree(const std::string& path) override { return target_->RemoveTree(path); }
  Status CreateDirs(const std::string& path) override { return target_->CreateDirs(path); }
  Status SyncDir(const std::string& path) override { return target_->SyncDir(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return target_->ListDir(path);
  }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return target_->LockFile(path);
  }
  int64_t NowUnixMillis() override { return target_->NowUnixMillis(); }
  int64_t MonotonicNanos() override { return target_->MonotonicNanos(); }
  void SleepForMicros(int64_t micros) override { target_->SleepForMicros(micros); }

 private:
  Env* const target_;
};

// Replaces path with data atomically: writes path + ".tmp", optionally syncs it,
// renames it over path, and (when sync) syncs the directory. Removes the temp
// file on failure, so a reader sees either the old or the new contents.
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data, bool sync);

// What of a WriteFileAtomic survives a power loss. kContents syncs the bytes
// before the rename, so a name the disk keeps always holds whole contents, but
// leaves the name to a later SyncDir of its directory (or to chance): for a
// file whose older version, or absence, is also fine to find after a crash.
enum class FileSync { kNone, kContents, kContentsAndName };
Status WriteFileAtomic(Env* env, const std::string& path, std::string_view data, FileSync sync);

// The directory part of path ("." when there is none).
std::string DirName(const std::string& path);
// Joins two path parts with one '/'.
std::string JoinPath(const std::string& a, const std::string& b);

}  // namespace taskmaster

#endif  // TASKMASTER_ENV_H_
