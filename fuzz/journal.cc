// Journal records (journal.h, protocol.h): the journal file as the sidecar
// tails it and tm-step local reads it back, and the payload decoders of each
// record type. The first byte of the input picks the shape of the rest:
//   even  the journal file's bytes as they are (headers, checksums, torn tails)
//   odd   pieces separated by 0xFF, each a record type byte and a payload,
//         written as valid records: they must all be read back, in order, so
//         that every payload reaches its decoder.
#include "taskmaster/journal.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "round_trip.h"
#include "taskmaster/checkpoint.h"
#include "taskmaster/env.h"
#include "taskmaster/protocol.h"

namespace {

namespace pr = taskmaster::protocol;
using taskmaster::Result;
using taskmaster::Status;

// The journal file, in memory.
class MemoryFile final : public taskmaster::RandomAccessFile {
 public:
  explicit MemoryFile(std::string_view data) : data_(data) {}
  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    out->clear();
    if (offset < data_.size()) out->assign(data_.substr(static_cast<size_t>(offset), n));
    return Status::OK();
  }
  Result<uint64_t> Size() const override { return uint64_t{data_.size()}; }

 private:
  std::string_view data_;
};

// An Env whose every file opened for reading is `data`.
class MemoryEnv final : public taskmaster::EnvWrapper {
 public:
  explicit MemoryEnv(std::string_view data) : EnvWrapper(taskmaster::Env::Default()), data_(data) {}
  Result<std::unique_ptr<taskmaster::RandomAccessFile>> NewRandomAccessFile(
      const std::string&) override {
    return std::unique_ptr<taskmaster::RandomAccessFile>(new MemoryFile(data_));
  }

 private:
  std::string_view data_;
};

void DecodePayload(uint16_t type, std::string_view payload) {
  using taskmaster::fuzz::CheckRoundTrip;
  switch (static_cast<pr::RecordType>(type)) {
    case pr::RecordType::kWorkflowInit:
      return CheckRoundTrip(payload, pr::DecodeWorkflowInit);
    case pr::RecordType::kTaskList:
      return CheckRoundTrip(payload, pr::DecodeTaskList);
    case pr::RecordType::kTaskStart:
      return CheckRoundTrip(payload, pr::DecodeTaskStart);
    case pr::RecordType::kCheckpoint:
      // The checkpoint target fuzzes the document itself.
      static_cast<void>(taskmaster::VerifyCheckpoint(payload));
      return;
    case pr::RecordType::kProgress:
      return CheckRoundTrip(payload, pr::DecodeProgress);
    case pr::RecordType::kNote:
      return CheckRoundTrip(payload, pr::DecodeNote);
    case pr::RecordType::kTaskEnd:
      return CheckRoundTrip(payload, pr::DecodeTaskEnd);
    case pr::RecordType::kCommit:
      return CheckRoundTrip(payload, pr::DecodeCommit);
    case pr::RecordType::kBudget:
      return CheckRoundTrip(payload, pr::DecodeBudget);
  }
}

// Reads every record of `journal`; returns them (payloads decoded on the way).
std::vector<taskmaster::JournalRecord> ReadAll(std::string_view journal) {
  MemoryEnv env(journal);
  auto reader = taskmaster::JournalReader::Open(&env, "journal");
  if (!reader.ok()) std::abort();
  std::vector<taskmaster::JournalRecord> records;
  taskmaster::JournalRecord record;
  while ((*reader)->Next(&record) == taskmaster::JournalReader::Outcome::kRecord) {
    if (record.offset >= record.end_offset || record.end_offset > journal.size()) std::abort();
    DecodePayload(record.type, record.payload);
    records.push_back(record);
  }
  return records;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    ReadAll(rest);
    return 0;
  }
  std::string journal;
  std::vector<std::string_view> payloads;
  std::vector<uint16_t> types;
  for (std::string_view pieces = rest; !pieces.empty();) {
    const size_t cut = pieces.find('\xff');
    const std::string_view piece = pieces.substr(0, cut);
    pieces.remove_prefix(cut == std::string_view::npos ? pieces.size() : cut + 1);
    if (piece.empty()) continue;
    types.push_back(static_cast<uint16_t>(static_cast<uint8_t>(piece[0]) % 10));
    payloads.push_back(piece.substr(1));
    journal += taskmaster::EncodeJournalRecord(payloads.size(), types.back(), 0, payloads.back());
  }
  const auto records = ReadAll(journal);
  if (records.size() != payloads.size()) std::abort();
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].seq != i + 1 || records[i].type != types[i] ||
        records[i].payload != payloads[i]) {
      std::abort();
    }
  }
  return 0;
}
