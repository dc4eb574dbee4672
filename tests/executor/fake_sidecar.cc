#include "fake_sidecar.h"

#include <rapidjson/document.h>

#include <boost/test/unit_test.hpp>

#include "taskmaster/env.h"

namespace taskmaster::step_test {

namespace pr = protocol;

namespace {

constexpr auto kTailPoll = std::chrono::milliseconds(5);

Env* env() {
  return Env::Default();
}

void WriteRestoreFile(const std::string& work_dir, const std::string& name,
                      const std::string& bytes) {
  const std::string path = JoinPath(JoinPath(work_dir, pr::kRestoreDir), name);
  Status s = env()->CreateDirs(DirName(path));
  if (s.ok()) s = WriteFileAtomic(env(), path, bytes, /*sync=*/false);
  BOOST_REQUIRE_MESSAGE(s.ok(), "writing " << path << ": " << s.ToString());
}

template <typename T>
std::vector<T> DecodeAll(const std::vector<JournalRecord>& records, pr::RecordType type,
                         Result<T> (*decode)(std::string_view)) {
  std::vector<T> out;
  for (const JournalRecord& r : records) {
    if (r.type != static_cast<uint16_t>(type)) continue;
    Result<T> decoded = decode(r.payload);
    if (decoded.ok()) out.push_back(std::move(decoded).value());
  }
  return out;
}

}  // namespace

FakeSidecar::Options FakeSidecar::HoldingAcks() {
  Options options;
  options.hold_acks = true;
  return options;
}

FakeSidecar::FakeSidecar(std::string work_dir, Options options)
    : work_dir_(std::move(work_dir)), options_(options), holding_(options.hold_acks) {
  Status s = env()->CreateDirs(work_dir_);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.ToString());
}

FakeSidecar::~FakeSidecar() {
  Stop();
}

void FakeSidecar::WriteShardRestore(const pr::ShardRestore& restore) {
  WriteRestoreFile(work_dir_, pr::kRestoreShardFile, pr::Encode(restore));
}

void FakeSidecar::WriteInitRestore(const pr::InitRestore& restore) {
  WriteRestoreFile(work_dir_, pr::kRestoreInitFile, pr::Encode(restore));
}

void FakeSidecar::WriteSummaryRestore(const pr::WorkflowSummary& summary) {
  WriteRestoreFile(work_dir_, pr::kRestoreSummaryFile, pr::Encode(summary));
}

void FakeSidecar::WriteRestoredCheckpoint(int64_t ordinal, const std::string& document,
                                          const std::string& payload) {
  WriteRestoreFile(work_dir_, pr::RestoreCheckpointName(ordinal), document + "\n");
  WriteRestoreFile(work_dir_, pr::RestorePayloadName(ordinal), payload);
}

void FakeSidecar::Start(const pr::Ready& ready) {
  ready_ = ready;
  if (!options_.write_ready) return;
  Status s = WriteFileAtomic(env(), JoinPath(work_dir_, pr::kReadyFile), pr::Encode(ready),
                             /*sync=*/false);
  BOOST_REQUIRE_MESSAGE(s.ok(), "writing ready: " << s.ToString());
  thread_ = std::thread([this] { Tail(); });
}

void FakeSidecar::ReleaseAcks() {
  std::lock_guard<std::mutex> lock(mutex_);
  holding_ = false;
  changed_.notify_all();
}

void FakeSidecar::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return;
    stop_ = true;
    changed_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::vector<JournalRecord> batch;
  ReadBatch(&batch);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const JournalRecord& r : batch) Check(r);
}

void FakeSidecar::Tail() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    lock.unlock();
    std::vector<JournalRecord> batch;
    ReadBatch(&batch);
    lock.lock();
    for (const JournalRecord& r : batch) Check(r);
    if (!holding_) AckBatch();
    if (!batch.empty()) changed_.notify_all();
    // A bounded poll, as the sidecar's flush loop; woken early only to stop.
    changed_.wait_for(lock, kTailPoll, [&] { return stop_; });
  }
}

bool FakeSidecar::ReadBatch(std::vector<JournalRecord>* batch) {
  if (!reader_) {
    const std::string path = JoinPath(work_dir_, pr::kJournalFile);
    if (!env()->FileExists(path)) return false;
    auto opened = JournalReader::Open(env(), path, 0);
    if (!opened.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      Problem("opening the journal: " + opened.status().ToString());
      return false;
    }
    reader_ = std::move(opened).value();
  }
  JournalRecord record;
  while (true) {
    const JournalReader::Outcome outcome = reader_->Next(&record);
    if (outcome == JournalReader::Outcome::kRecord) {
      batch->push_back(record);
      continue;
    }
    // A torn tail is a record the step is still appending; it is read again on
    // the next wake-up.
    if (outcome == JournalReader::Outcome::kCorrupt || !reader_->io_status().ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      Problem("journal: " + reader_->message() + reader_->io_status().ToString());
    }
    return true;
  }
}

void FakeSidecar::Check(const JournalRecord& record) {
  const std::string where = "record seq " + std::to_string(record.seq) + ": ";
  const uint64_t expected_seq = records_.empty() ? 1 : records_.back().seq + 1;
  if (record.seq != expected_seq) {
    Problem(where + "expected seq " + std::to_string(expected_seq));
  }
  records_.push_back(record);
  const auto type = static_cast<pr::RecordType>(record.type);
  if (type == pr::RecordType::kCheckpoint) {
    Result<Checkpoint> checkpoint = VerifyCheckpoint(record.payload);
    if (!checkpoint.ok()) {
      Problem(where + "checkpoint: " + checkpoint.status().ToString());
    } else if (checkpoint->fields.fence != ready_.fence ||
               checkpoint->fields.seq != static_cast<int64_t>(record.seq)) {
      Problem(where + "checkpoint carries fence " + std::to_string(checkpoint->fields.fence) +
              " seq " + std::to_string(checkpoint->fields.seq));
    }
    return;
  }
  if ((record.flags & pr::kFlagSync) != 0) Problem(where + "sync flag on a non-checkpoint");
  rapidjson::Document doc;
  doc.Parse(record.payload.data(), record.payload.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("fence") || !doc.HasMember("seq") ||
      !doc["fence"].IsInt64() || !doc["seq"].IsInt64()) {
    Problem(where + "payload without integer fence and seq: " + record.payload);
    return;
  }
  if (doc["fence"].GetInt64() != ready_.fence ||
      doc["seq"].GetInt64() != static_cast<int64_t>(record.seq)) {
    Problem(where + "payload carries fence " + std::to_string(doc["fence"].GetInt64()) + " seq " +
            std::to_string(doc["seq"].GetInt64()));
  }
  Status decoded;
  switch (type) {
    case pr::RecordType::kWorkflowInit:
      decoded = pr::DecodeWorkflowInit(record.payload).status();
      break;
    case pr::RecordType::kTaskList:
      decoded = pr::DecodeTaskList(record.payload).status();
      break;
    case pr::RecordType::kTaskStart:
      decoded = pr::DecodeTaskStart(record.payload).status();
      break;
    case pr::RecordType::kProgress:
      decoded = pr::DecodeProgress(record.payload).status();
      break;
    case pr::RecordType::kNote:
      decoded = pr::DecodeNote(record.payload).status();
      break;
    case pr::RecordType::kTaskEnd:
      decoded = pr::DecodeTaskEnd(record.payload).status();
      break;
    case pr::RecordType::kCommit:
      decoded = pr::DecodeCommit(record.payload).status();
      break;
    case pr::RecordType::kBudget:
      decoded = pr::DecodeBudget(record.payload).status();
      break;
    default:
      decoded = Status::Corruption("unknown record type " + std::to_string(record.type));
  }
  if (!decoded.ok()) Problem(where + decoded.ToString());
}

void FakeSidecar::AckBatch() {
  int64_t target = acked_seq_;
  uint64_t offset = 0;
  for (const JournalRecord& r : records_) {
    if (static_cast<int64_t>(r.seq) <= acked_seq_) continue;
    if (r.type == static_cast<uint16_t>(pr::RecordType::kCommit)) {
      if (!options_.ack_commit) break;
      // As the real sidecar: the outputs exist before the commit is acked.
      if (!outputs_written_) {
        Result<pr::CommitRecord> commit = pr::DecodeCommit(r.payload);
        Status s = commit.ok() ? pr::WriteOutputs(env(), work_dir_, *commit, /*durable=*/true)
                               : commit.status();
        if (!s.ok()) Problem("writing outputs: " + s.ToString());
        outputs_written_ = true;
      }
    }
    target = static_cast<int64_t>(r.seq);
    offset = r.end_offset;
  }
  if (target == acked_seq_) return;
  Status s = WriteFileAtomic(env(), JoinPath(work_dir_, pr::kAckFile),
                             pr::Encode(pr::Ack{target, offset}), /*sync=*/false);
  if (!s.ok()) {
    Problem("writing ack: " + s.ToString());
    return;
  }
  acked_seq_ = target;
}

void FakeSidecar::Problem(std::string what) {
  problems_.push_back(std::move(what));
}

std::optional<JournalRecord> FakeSidecar::WaitForRecord(
    const std::function<bool(const JournalRecord&)>& pred, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  std::optional<JournalRecord> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const JournalRecord& r : records_) {
      if (pred(r)) {
        found = r;
        return true;
      }
    }
    return false;
  });
  return found;
}

std::vector<JournalRecord> FakeSidecar::records() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return records_;
}

int64_t FakeSidecar::acked_seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return acked_seq_;
}

std::vector<std::string> FakeSidecar::problems() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return problems_;
}

std::vector<pr::TaskStartRecord> FakeSidecar::TaskStarts() const {
  return DecodeAll(records(), pr::RecordType::kTaskStart, &pr::DecodeTaskStart);
}

std::vector<pr::TaskEndRecord> FakeSidecar::TaskEnds() const {
  return DecodeAll(records(), pr::RecordType::kTaskEnd, &pr::DecodeTaskEnd);
}

std::vector<pr::ProgressRecord> FakeSidecar::Progress() const {
  return DecodeAll(records(), pr::RecordType::kProgress, &pr::DecodeProgress);
}

std::vector<pr::NoteRecord> FakeSidecar::Notes() const {
  return DecodeAll(records(), pr::RecordType::kNote, &pr::DecodeNote);
}

std::vector<pr::BudgetRecord> FakeSidecar::Budgets() const {
  return DecodeAll(records(), pr::RecordType::kBudget, &pr::DecodeBudget);
}

std::vector<std::pair<JournalRecord, Checkpoint>> FakeSidecar::Checkpoints() const {
  std::vector<std::pair<JournalRecord, Checkpoint>> out;
  for (const JournalRecord& r : records()) {
    if (r.type != static_cast<uint16_t>(pr::RecordType::kCheckpoint)) continue;
    Result<Checkpoint> checkpoint = VerifyCheckpoint(r.payload);
    if (checkpoint.ok()) out.emplace_back(r, std::move(checkpoint).value());
  }
  return out;
}

std::optional<pr::CommitRecord> FakeSidecar::Commit() const {
  std::vector<pr::CommitRecord> commits =
      DecodeAll(records(), pr::RecordType::kCommit, &pr::DecodeCommit);
  if (commits.empty()) return std::nullopt;
  return commits.back();
}

std::vector<pr::RecordType> FakeSidecar::Types() const {
  std::vector<pr::RecordType> types;
  for (const JournalRecord& r : records()) types.push_back(static_cast<pr::RecordType>(r.type));
  return types;
}

}  // namespace taskmaster::step_test
