#include "task_control.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "taskmaster/checkpoint.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step {

namespace pr = protocol;

namespace {

constexpr int64_t kSecond = 1000000000;

}  // namespace

TaskControl::TaskControl(StepWorkDir* work_dir, TaskProcess* process, const TaskRun& run,
                         double ack_wait_seconds)
    : work_dir_(work_dir),
      process_(process),
      run_(run),
      ack_wait_seconds_(ack_wait_seconds),
      splitter_(
          pr::kMaxControlLineBytes, [this](std::string_view line) { HandleLine(line); },
          [this](size_t bytes) {
            spdlog::warn("task {}: ignoring a control line over {} bytes on fd 3 ({} so far)",
                         run_.task_id, pr::kMaxControlLineBytes, bytes);
          }),
      generation_(run.generation) {}

void TaskControl::Read() {
  char buf[65536];
  while (process_->control_fd() >= 0) {
    ssize_t n = ::read(process_->control_fd(), buf, sizeof(buf));
    if (n > 0) {
      splitter_.Feed(std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
    splitter_.Finish();
    process_->CloseControl();
  }
}

void TaskControl::Finish() {
  splitter_.Finish();
}

void TaskControl::HandleLine(std::string_view line) {
  if (!fatal_.ok()) return;
  auto parsed = ParseControlLine(line);
  if (!parsed.ok()) {
    spdlog::warn("task {}: ignoring a control line on fd 3: {}", run_.task_id,
                 parsed.status().message());
    return;
  }
  const ControlMessage& msg = *parsed;
  for (const auto& key : msg.unknown_keys) {
    spdlog::warn("task {}: ignoring unknown key \"{}\" on fd 3", run_.task_id, key);
  }
  if (msg.checkpoint) {
    SaveCheckpoint(*msg.checkpoint, msg.sync);
    if (!fatal_.ok()) return;
  }
  if (msg.progress) RecordProgress(msg.progress->first, msg.progress->second);
  if (msg.note) RecordNote(*msg.note);
}

void TaskControl::SaveCheckpoint(const std::string& value, bool sync) {
  Env* env = work_dir_->env();
  CheckpointFields fields{run_.workflow_id,      run_.task_id,    work_dir_->fence(),
                          work_dir_->next_seq(), generation_ + 1, env->NowUnixMillis()};
  auto doc = EncodeCheckpoint(fields, value);
  if (!doc.ok()) {
    spdlog::warn("task {}: refusing a checkpoint: {}", run_.task_id, doc.status().message());
    if (sync) Reply("{\"error\":\"checkpoint refused\"}\n");
    return;
  }
  auto seq =
      Append(pr::RecordType::kCheckpoint, sync ? pr::kFlagSync : 0, [&](int64_t) { return *doc; });
  if (!seq) return;
  ++generation_;
  if (!sync) return;
  const int64_t give_up_ns =
      ack_wait_seconds_ > 0
          ? env->MonotonicNanos() + static_cast<int64_t>(ack_wait_seconds_ * kSecond)
          : kNever;
  pending_acks_.push_back(PendingAck{*seq, give_up_ns});
}

void TaskControl::RecordProgress(int64_t done, int64_t total) {
  Append(pr::RecordType::kProgress, 0, [&](int64_t seq) {
    return pr::Encode(pr::ProgressRecord{work_dir_->fence(), seq, run_.ordinal, done, total});
  });
}

void TaskControl::RecordNote(const std::string& note) {
  spdlog::info("task {}: {}", run_.task_id, note);
  Append(pr::RecordType::kNote, 0, [&](int64_t seq) {
    return pr::Encode(pr::NoteRecord{work_dir_->fence(), seq, run_.ordinal, note});
  });
}

std::optional<int64_t> TaskControl::Append(pr::RecordType type, uint16_t flags,
                                           const std::function<std::string(int64_t seq)>& encode) {
  auto appended = work_dir_->Append(type, flags, encode);
  if (!appended.ok()) {
    fatal_ = appended.status();
    return std::nullopt;
  }
  return *appended;
}

void TaskControl::ServeAcks(int64_t now_ns) {
  // The ack file is read only when something waits on it.
  if (!waiting_for_acks() &&
      !NeedsBackpressure(work_dir_->journal_size(), acked_offset_, pr::kBackpressureBytes)) {
    return;
  }
  const pr::Ack ack = work_dir_->ReadAck();
  acked_offset_ = ack.offset;
  while (!pending_acks_.empty() && pending_acks_.front().seq <= ack.seq) {
    Reply("{\"ack\":" + std::to_string(pending_acks_.front().seq) + "}\n");
    pending_acks_.pop_front();
  }
  // Acks come in order: only the oldest can be overdue first.
  while (!pending_acks_.empty() && now_ns >= pending_acks_.front().give_up_ns) {
    spdlog::warn("task {}: sync checkpoint {} not acknowledged in time; telling the task",
                 run_.task_id, pending_acks_.front().seq);
    Reply("{\"error\":\"not durable in time\",\"seq\":" +
          std::to_string(pending_acks_.front().seq) + "}\n");
    pending_acks_.pop_front();
  }
  backpressured_ = NeedsBackpressure(work_dir_->journal_size(), ack.offset, pr::kBackpressureBytes);
}

int64_t TaskControl::next_give_up_ns() const {
  return pending_acks_.empty() ? kNever : pending_acks_.front().give_up_ns;
}

void TaskControl::Reply(const std::string& line) const {
  const int fd = process_->control_fd();
  if (fd < 0) return;
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    spdlog::warn("could not answer the task on fd 3: {}", std::strerror(errno));
  }
}

}  // namespace taskmaster::step
