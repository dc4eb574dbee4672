// The journal: an append-only file of checksummed records that the step writes
// and the sidecar tails (DESIGN.md §5). Modelled on leveldb's log, without blocks.
//
// Record layout (little endian), a 32-byte header then the payload:
//   0  u32 magic 0x314A4D54 ("TMJ1")
//   4  u32 payload length (<= protocol::kMaxRecordBytes)
//   8  u64 seq (strictly increasing within a journal, starting at 1)
//  16  u16 type (protocol::RecordType)
//  18  u16 flags (protocol::kFlagSync, ...)
//  20  u64 XXH3-64 of the payload
//  28  u32 low 32 bits of XXH3-64 of header bytes [0, 28)
//
// A damaged or partial record after which nothing valid follows is a torn tail:
// a writer crashed mid-append, or (for a live reader) the writer has not finished
// yet. Damage followed by a valid record is corruption in the middle.
#ifndef TASKMASTER_JOURNAL_H_
#define TASKMASTER_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster {

inline constexpr uint32_t kJournalMagic = 0x314A4D54;
inline constexpr size_t kJournalHeaderBytes = 32;

struct JournalRecord {
  uint64_t seq = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  std::string payload;
  uint64_t offset = 0;      // where the record starts
  uint64_t end_offset = 0;  // just past its last byte
};

// Reads records in order from a start offset. Not thread-safe; one per reader.
class JournalReader {
 public:
  enum class Outcome {
    kRecord,   // *record holds the next record
    kEnd,      // clean end: no bytes after the last record (yet)
    kTornTail, // a partial or damaged record with nothing valid after it
    kCorrupt,  // damage followed by a valid record; message() says where
  };

  // The file must exist. Reading starts at `offset`, which must be a record
  // boundary (0, or an end_offset / an ack's offset); an offset past the end of
  // the file is refused (InvalidArgument).
  static Result<std::unique_ptr<JournalReader>> Open(Env* env, const std::string& path,
                                                     uint64_t offset = 0);

  // On kRecord advances past the record; otherwise stays put, so a tailing
  // reader calls again once the file grew.
  Outcome Next(JournalRecord* record);
  uint64_t offset() const { return offset_; }
  // What was wrong, for kTornTail and kCorrupt (names the offset).
  const std::string& message() const { return message_; }
  // An I/O error from the last Next() (then the outcome is kEnd).
  const Status& io_status() const { return io_status_; }

 private:
  JournalReader(std::unique_ptr<RandomAccessFile> file, std::string path, uint64_t offset);
  std::unique_ptr<RandomAccessFile> file_;
  std::string path_;
  uint64_t offset_;
  std::string message_;
  Status io_status_;
};

// Appends records. Open() scans the file: it truncates a torn tail (and says how
// many bytes it dropped) and refuses a journal corrupt in the middle, so nothing
// valid is ever overwritten. After an Append or Sync fails the writer refuses
// every later write with that error: the file may end in a partial record, and a
// failed fdatasync cannot be retried safely. Reopen it, which truncates the tail.
// Not thread-safe.
class JournalWriter {
 public:
  struct Options {
    bool sync = false;  // fdatasync after every append (local mode: the dir outlives the pod)
  };
  static Result<std::unique_ptr<JournalWriter>> Open(Env* env, const std::string& path,
                                                     Options options);

  // Appends one record with the next seq and returns that seq. TooLarge when the
  // payload is over protocol::kMaxRecordBytes (nothing is written).
  Result<uint64_t> Append(uint16_t type, uint16_t flags, std::string_view payload);
  Status Sync();
  // Seq of the last record in the journal (0 when empty).
  uint64_t last_seq() const { return last_seq_; }
  uint64_t size() const;
  // Bytes the torn-tail scan dropped at Open().
  uint64_t truncated_bytes() const { return truncated_bytes_; }

 private:
  JournalWriter(std::unique_ptr<WritableFile> file, Options options, uint64_t last_seq,
                uint64_t truncated);
  std::unique_ptr<WritableFile> file_;
  Options options_;
  uint64_t last_seq_;
  uint64_t truncated_bytes_;
  Status error_;  // the first failed Append or Sync; sticky
};

// Encodes one record (header + payload); the writer and tests share it.
std::string EncodeJournalRecord(uint64_t seq, uint16_t type, uint16_t flags,
                                std::string_view payload);

// True when the writer must wait: more than protocol::kBackpressureBytes (or
// `limit`) written past the acknowledged offset.
bool NeedsBackpressure(uint64_t journal_size, uint64_t acked_offset,
                       uint64_t limit = uint64_t{64} << 20);

}  // namespace taskmaster

#endif  // TASKMASTER_JOURNAL_H_
