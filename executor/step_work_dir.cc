#include "step_work_dir.h"

#include <algorithm>

namespace taskmaster::step {

namespace pr = protocol;

namespace {

int RemainingMillis(Env* env, int64_t deadline_ns) {
  int64_t left = (deadline_ns - env->MonotonicNanos()) / 1000000;
  return static_cast<int>(std::clamp<int64_t>(left, 0, pr::kReadyPollMillis));
}

}  // namespace

StepWorkDir::StepWorkDir(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {
  env_->CreateDirs(dir_);
  watcher_ = std::make_unique<DirWatcher>(dir_);
}

std::string StepWorkDir::RestorePath(const std::string& name) const {
  return JoinPath(JoinPath(dir_, pr::kRestoreDir), name);
}

Result<pr::Ready> StepWorkDir::WaitForReady(int64_t deadline_ns,
                                            const std::function<bool()>& stop) {
  const std::string path = JoinPath(dir_, pr::kReadyFile);
  while (true) {
    if (env_->FileExists(path)) {
      auto text = env_->ReadFile(path);
      if (!text.ok()) return text.status();
      auto ready = pr::DecodeReady(*text);
      if (!ready.ok()) return ready.status().WithContext(path);
      return ready;
    }
    if (stop()) return Status::Timeout("stopped while waiting for " + path);
    if (env_->MonotonicNanos() >= deadline_ns) {
      return Status::Timeout("the sidecar did not write " + path + " in time");
    }
    watcher_->Wait(RemainingMillis(env_, deadline_ns));
  }
}

Result<pr::InitRestore> StepWorkDir::ReadInitRestore() {
  auto text = env_->ReadFile(RestorePath(pr::kRestoreInitFile));
  if (!text.ok()) return text.status();
  return pr::DecodeInitRestore(*text);
}

Result<pr::ShardRestore> StepWorkDir::ReadShardRestore() {
  auto text = env_->ReadFile(RestorePath(pr::kRestoreShardFile));
  if (!text.ok()) return text.status();
  return pr::DecodeShardRestore(*text);
}

Result<pr::WorkflowSummary> StepWorkDir::ReadSummaryRestore() {
  auto text = env_->ReadFile(RestorePath(pr::kRestoreSummaryFile));
  if (!text.ok()) return text.status();
  return pr::DecodeWorkflowSummary(*text);
}

Status StepWorkDir::OpenJournal(int64_t fence, bool sync) {
  JournalWriter::Options options;
  options.sync = sync;
  auto writer = JournalWriter::Open(env_, JoinPath(dir_, pr::kJournalFile), options);
  if (!writer.ok()) return writer.status();
  journal_ = std::move(writer).value();
  fence_ = fence;
  return Status::OK();
}

int64_t StepWorkDir::next_seq() const {
  return static_cast<int64_t>(journal_->last_seq()) + 1;
}

uint64_t StepWorkDir::journal_size() const {
  return journal_->size();
}

Result<int64_t> StepWorkDir::Append(pr::RecordType type, uint16_t flags,
                                    const std::function<std::string(int64_t seq)>& encode) {
  int64_t seq = next_seq();
  auto appended = journal_->Append(static_cast<uint16_t>(type), flags, encode(seq));
  if (!appended.ok()) return appended.status();
  if (type == pr::RecordType::kCommit || (flags & pr::kFlagSync) != 0) PokeSidecar();
  return static_cast<int64_t>(*appended);
}

void StepWorkDir::PokeSidecar() {
  // The sidecar reads the journal once a tick; closing a descriptor opened for
  // writing on it (inotify's IN_CLOSE_WRITE) has it read at once. A poke that
  // fails only costs the wait for the next tick.
  auto file = env_->NewAppendableFile(JoinPath(dir_, pr::kJournalFile));
  if (file.ok()) (*file)->Close();
}

pr::Ack StepWorkDir::ReadAck() {
  auto text = env_->ReadFile(JoinPath(dir_, pr::kAckFile));
  if (!text.ok()) return pr::Ack{};
  auto ack = pr::DecodeAck(*text);
  return ack.ok() ? *ack : pr::Ack{};
}

Status StepWorkDir::WaitForAck(int64_t seq, int64_t deadline_ns) {
  while (ReadAck().seq < seq) {
    if (env_->MonotonicNanos() >= deadline_ns) {
      return Status::Timeout("the sidecar did not acknowledge record " + std::to_string(seq) +
                             " in time");
    }
    watcher_->Wait(RemainingMillis(env_, deadline_ns));
  }
  return Status::OK();
}

Status StepWorkDir::WriteOutputsNotDurable(const pr::CommitRecord& commit) {
  const std::string outputs = JoinPath(dir_, pr::kOutputsDir);
  TM_RETURN_IF_ERROR(env_->CreateDirs(outputs));
  TM_RETURN_IF_ERROR(WriteFileAtomic(env_, JoinPath(outputs, pr::kBarrierTimeoutFile),
                                     "barrier timeout\n", false));
  return pr::WriteOutputs(env_, dir_, commit, /*durable=*/false);
}

}  // namespace taskmaster::step
