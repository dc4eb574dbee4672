#include "local/journal_state.h"

#include <cstdint>

#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step::local {

namespace pr = protocol;

bool JournalFullyAcked(Env* env, const std::string& dir) {
  const std::string journal = JoinPath(dir, pr::kJournalFile);
  if (!env->FileExists(journal)) return true;
  pr::Ack ack;
  auto text = env->ReadFile(JoinPath(dir, pr::kAckFile));
  if (text.ok()) {
    auto decoded = pr::DecodeAck(*text);
    if (!decoded.ok()) return false;
    ack = *decoded;
  }
  auto reader = JournalReader::Open(env, journal, ack.offset);
  if (!reader.ok()) return false;
  JournalRecord record;
  const JournalReader::Outcome outcome = (*reader)->Next(&record);
  if (!(*reader)->io_status().ok()) return false;
  return outcome == JournalReader::Outcome::kEnd || outcome == JournalReader::Outcome::kTornTail;
}

std::optional<std::string> JournalCorruption(Env* env, const std::string& dir) {
  const std::string journal = JoinPath(dir, pr::kJournalFile);
  if (!env->FileExists(journal)) return std::nullopt;
  pr::Ack ack;
  auto text = env->ReadFile(JoinPath(dir, pr::kAckFile));
  if (text.ok()) {
    auto decoded = pr::DecodeAck(*text);
    if (decoded.ok()) ack = *decoded;
  }
  auto reader = JournalReader::Open(env, journal, ack.offset);
  if (!reader.ok()) return std::nullopt;
  JournalRecord record;
  JournalReader::Outcome outcome;
  while ((outcome = (*reader)->Next(&record)) == JournalReader::Outcome::kRecord) {
  }
  if (outcome != JournalReader::Outcome::kCorrupt) return std::nullopt;
  return (*reader)->message();
}

bool InitJournalIncomplete(Env* env, const std::string& dir) {
  auto reader = JournalReader::Open(env, JoinPath(dir, pr::kJournalFile), 0);
  if (!reader.ok()) return false;
  std::optional<int64_t> expected;
  int64_t lists = 0;
  JournalRecord record;
  while ((*reader)->Next(&record) == JournalReader::Outcome::kRecord) {
    switch (static_cast<pr::RecordType>(record.type)) {
      case pr::RecordType::kWorkflowInit: {
        auto init = pr::DecodeWorkflowInit(record.payload);
        if (init.ok()) expected = init->list_records;
        break;
      }
      case pr::RecordType::kTaskList:
        ++lists;
        break;
      default:
        break;
    }
  }
  return expected && lists < *expected;
}

}  // namespace taskmaster::step::local
