#include "taskmaster/list_recording.h"

#include <optional>
#include <utility>

#include "taskmaster/task_list.h"

namespace taskmaster {
namespace {

namespace pr = protocol;

std::string RecordHash(const pr::TaskListRecord& record) {
  pr::ListHasher hash;
  for (const std::string& id : record.ids) hash.Add(id);
  return hash.Digest();
}

// Checks each record of the second pass against the digest of the first.
class RecordChecker {
 public:
  explicit RecordChecker(const TaskListDigest* digest) : digest_(digest) {}

  Status Check(const pr::TaskListRecord& record) {
    const size_t index = next_++;
    if (index >= digest_->record_hashes.size() ||
        RecordHash(record) != digest_->record_hashes[index]) {
      return Changed(record.first_ordinal);
    }
    return Status::OK();
  }

  // After the last record: the list must not have ended early either.
  Status CheckAll(int64_t count) const {
    if (next_ != digest_->record_hashes.size()) return Changed(count);
    return Status::OK();
  }

 private:
  Status Changed(int64_t ordinal) const {
    return Status::IOError(
        "task list: the list reads differently than it did a moment ago (from item " +
        std::to_string(ordinal) +
        " on; was its file replaced?): " + std::to_string(digest_->count) +
        " tasks were expected with list hash " + digest_->list_hash);
  }

  const TaskListDigest* digest_;
  size_t next_ = 0;
};

}  // namespace

Result<TaskListDigest> DigestTaskList(Env* env, std::string_view arg) {
  TaskListDigest digest;
  pr::ListHasher list_hash;
  pr::TaskListChunker chunker;
  Status s = ScanTaskListArgument(env, arg, [&](std::string_view id) {
    ++digest.count;
    list_hash.Add(id);
    if (auto complete = chunker.Add(id)) digest.record_hashes.push_back(RecordHash(*complete));
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (auto last = chunker.Finish()) digest.record_hashes.push_back(RecordHash(*last));
  digest.list_hash = list_hash.Digest();
  return digest;
}

Status ForEachTaskListRecord(Env* env, std::string_view arg, const TaskListDigest& digest,
                             const std::function<Status(pr::TaskListRecord&)>& record) {
  RecordChecker checker(&digest);
  pr::TaskListChunker chunker;
  int64_t count = 0;
  auto hand_out = [&](pr::TaskListRecord& complete) {
    Status s = checker.Check(complete);
    return s.ok() ? record(complete) : s;
  };
  Status s = ScanTaskListArgument(env, arg, [&](std::string_view id) {
    ++count;
    std::optional<pr::TaskListRecord> complete = chunker.Add(id);
    return complete ? hand_out(*complete) : Status::OK();
  });
  if (!s.ok()) return s;
  if (std::optional<pr::TaskListRecord> last = chunker.Finish()) {
    if (s = hand_out(*last); !s.ok()) return s;
  }
  return checker.CheckAll(count);
}

}  // namespace taskmaster
