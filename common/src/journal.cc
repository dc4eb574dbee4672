#include "taskmaster/journal.h"

#include <xxhash.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "taskmaster/protocol.h"

namespace taskmaster {
namespace {

static_assert(protocol::kBackpressureBytes == uint64_t{64} << 20,
              "journal.h's default back-pressure limit must match the protocol's");
static_assert(protocol::kMaxRecordBytes <= UINT32_MAX, "the header's length field is a u32");

// Header field offsets (journal.h).
constexpr size_t kMagicAt = 0;
constexpr size_t kLengthAt = 4;
constexpr size_t kSeqAt = 8;
constexpr size_t kTypeAt = 16;
constexpr size_t kFlagsAt = 18;
constexpr size_t kPayloadHashAt = 20;
constexpr size_t kHeaderHashAt = 28;

// How much of the file a search for the next valid header reads at a time.
constexpr size_t kScanChunkBytes = 1 << 20;

void PutLittleEndian(char* dst, uint64_t value, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) dst[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

uint64_t GetLittleEndian(const char* src, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) {
    value |= uint64_t{static_cast<unsigned char>(src[i])} << (8 * i);
  }
  return value;
}

uint32_t HeaderHash(const char* header) {
  return static_cast<uint32_t>(XXH3_64bits(header, kHeaderHashAt));
}

struct Header {
  uint32_t length = 0;
  uint64_t seq = 0;
  uint16_t type = 0;
  uint16_t flags = 0;
  uint64_t payload_hash = 0;
};

// Decodes a full 32-byte header. Returns what is wrong with it, or an empty
// string when it is valid.
std::string ParseHeader(std::string_view bytes, Header* header) {
  const char* p = bytes.data();
  if (GetLittleEndian(p + kMagicAt, 4) != kJournalMagic) {
    if (bytes.find_first_not_of('\0') == std::string_view::npos) return "zero-filled header";
    return "bad magic";
  }
  if (GetLittleEndian(p + kHeaderHashAt, 4) != HeaderHash(p)) return "header checksum mismatch";
  const uint64_t length = GetLittleEndian(p + kLengthAt, 4);
  // A checksummed length over the limit was never written by a writer; reading
  // it would let damage ask for an arbitrarily large allocation.
  if (length > protocol::kMaxRecordBytes) {
    return "record length " + std::to_string(length) + " over the limit";
  }
  header->length = static_cast<uint32_t>(length);
  header->seq = GetLittleEndian(p + kSeqAt, 8);
  header->type = static_cast<uint16_t>(GetLittleEndian(p + kTypeAt, 2));
  header->flags = static_cast<uint16_t>(GetLittleEndian(p + kFlagsAt, 2));
  header->payload_hash = GetLittleEndian(p + kPayloadHashAt, 8);
  return "";
}

// The offset of the first valid record header at or after `from`, if any. A
// header cut short by the end of the file does not count: it is a torn write.
Result<std::optional<uint64_t>> FindValidHeader(const RandomAccessFile& file, uint64_t from) {
  char magic[4];
  PutLittleEndian(magic, kJournalMagic, sizeof(magic));
  const std::string_view magic_bytes(magic, sizeof(magic));
  // Bytes a writer appends during the search are left to the next call.
  auto size = file.Size();
  if (!size.ok()) return size.status();
  std::string buffer;
  Header unused;
  for (uint64_t pos = from; pos + kJournalHeaderBytes <= *size; pos += kScanChunkBytes) {
    // Each read overlaps the next by a header less one byte, so a header that
    // straddles two chunks is seen whole in the first.
    const uint64_t read_bytes =
        std::min<uint64_t>(kScanChunkBytes + kJournalHeaderBytes - 1, *size - pos);
    TM_RETURN_IF_ERROR(file.Read(pos, read_bytes, &buffer));
    const std::string_view view(buffer);
    // npos is past every chunk, so it ends the loop too.
    for (size_t i = view.find(magic_bytes); i < kScanChunkBytes;
         i = view.find(magic_bytes, i + 1)) {
      if (i + kJournalHeaderBytes > view.size()) break;
      if (ParseHeader(view.substr(i, kJournalHeaderBytes), &unused).empty()) {
        return std::optional<uint64_t>(pos + i);
      }
    }
  }
  return std::optional<uint64_t>();
}

}  // namespace

std::string EncodeJournalRecord(uint64_t seq, uint16_t type, uint16_t flags,
                                std::string_view payload) {
  char header[kJournalHeaderBytes];
  PutLittleEndian(header + kMagicAt, kJournalMagic, 4);
  PutLittleEndian(header + kLengthAt, payload.size(), 4);
  PutLittleEndian(header + kSeqAt, seq, 8);
  PutLittleEndian(header + kTypeAt, type, 2);
  PutLittleEndian(header + kFlagsAt, flags, 2);
  PutLittleEndian(header + kPayloadHashAt, XXH3_64bits(payload.data(), payload.size()), 8);
  PutLittleEndian(header + kHeaderHashAt, HeaderHash(header), 4);
  // Reserved and appended rather than sized up front, which would first zero
  // every byte of a record that may be megabytes long.
  std::string record;
  record.reserve(kJournalHeaderBytes + payload.size());
  record.append(header, kJournalHeaderBytes);
  record.append(payload);
  return record;
}

bool NeedsBackpressure(uint64_t journal_size, uint64_t acked_offset, uint64_t limit) {
  return journal_size > acked_offset && journal_size - acked_offset > limit;
}

// ---- JournalReader ------------------------------------------------------------

JournalReader::JournalReader(std::unique_ptr<RandomAccessFile> file, std::string path,
                             uint64_t offset)
    : file_(std::move(file)), path_(std::move(path)), offset_(offset) {}

Result<std::unique_ptr<JournalReader>> JournalReader::Open(Env* env, const std::string& path,
                                                           uint64_t offset) {
  auto file = env->NewRandomAccessFile(path);
  if (!file.ok()) return file.status();
  auto size = (*file)->Size();
  if (!size.ok()) return size.status();
  // A start past the end means the journal lost bytes someone already relied on
  // (an ack's offset); reading on would silently wait forever.
  if (offset > *size) {
    return Status::InvalidArgument(path + ": start offset " + std::to_string(offset) +
                                   " is past the end of the journal (" + std::to_string(*size) +
                                   " bytes)");
  }
  return std::unique_ptr<JournalReader>(new JournalReader(std::move(*file), path, offset));
}

JournalReader::Outcome JournalReader::Next(JournalRecord* record) {
  message_.clear();
  io_status_ = Status::OK();
  auto at = [&] { return path_ + ": offset " + std::to_string(offset_) + ": "; };

  // Damage: a torn tail when nothing valid follows, else corruption in the middle.
  auto damaged = [&](uint64_t scan_from, const std::string& problem) {
    auto next = FindValidHeader(*file_, scan_from);
    if (!next.ok()) {
      io_status_ = next.status();
      return Outcome::kEnd;
    }
    if (!next->has_value()) {
      message_ = at() + "torn tail: " + problem;
      return Outcome::kTornTail;
    }
    message_ = at() + "corrupt record: " + problem + "; a valid record follows at offset " +
               std::to_string(**next);
    return Outcome::kCorrupt;
  };

  std::string header_bytes;
  io_status_ = file_->Read(offset_, kJournalHeaderBytes, &header_bytes);
  if (!io_status_.ok()) return Outcome::kEnd;
  if (header_bytes.empty()) return Outcome::kEnd;
  if (header_bytes.size() < kJournalHeaderBytes) {
    message_ = at() + "torn tail: partial header (" + std::to_string(header_bytes.size()) + " of " +
               std::to_string(kJournalHeaderBytes) + " bytes)";
    return Outcome::kTornTail;
  }
  Header header;
  std::string problem = ParseHeader(header_bytes, &header);
  // The length is not to be trusted, so the next record may start anywhere.
  if (!problem.empty()) return damaged(offset_ + 1, problem);

  const uint64_t payload_at = offset_ + kJournalHeaderBytes;
  const uint64_t end = payload_at + header.length;
  std::string payload;
  io_status_ = file_->Read(payload_at, header.length, &payload);
  if (!io_status_.ok()) return Outcome::kEnd;
  // Nothing can follow a payload cut short by the end of the file: either the
  // writer crashed mid-append or it has not finished writing yet.
  if (payload.size() < header.length) {
    message_ = at() + "torn tail: partial payload (" + std::to_string(payload.size()) + " of " +
               std::to_string(header.length) + " bytes)";
    return Outcome::kTornTail;
  }
  // The checksummed header vouches for the length, so the next record (if any)
  // starts right after this one; searching inside the payload could mistake
  // payload bytes for a header.
  if (XXH3_64bits(payload.data(), payload.size()) != header.payload_hash) {
    return damaged(end, "payload checksum mismatch");
  }

  record->seq = header.seq;
  record->type = header.type;
  record->flags = header.flags;
  record->payload = std::move(payload);
  record->offset = offset_;
  record->end_offset = end;
  offset_ = end;
  return Outcome::kRecord;
}

// ---- JournalWriter ------------------------------------------------------------

JournalWriter::JournalWriter(std::unique_ptr<WritableFile> file, Options options, uint64_t last_seq,
                             uint64_t truncated)
    : file_(std::move(file)), options_(options), last_seq_(last_seq), truncated_bytes_(truncated) {}

Result<std::unique_ptr<JournalWriter>> JournalWriter::Open(Env* env, const std::string& path,
                                                           Options options) {
  uint64_t last_seq = 0;
  uint64_t truncated = 0;
  if (env->FileExists(path)) {
    auto reader = JournalReader::Open(env, path);
    if (!reader.ok()) return reader.status();
    JournalRecord record;
    JournalReader::Outcome outcome;
    while ((outcome = (*reader)->Next(&record)) == JournalReader::Outcome::kRecord) {
      last_seq = record.seq;
    }
    if (!(*reader)->io_status().ok()) return (*reader)->io_status();
    if (outcome == JournalReader::Outcome::kCorrupt) {
      return Status::Corruption((*reader)->message() + "; refusing to append after it");
    }
    if (outcome == JournalReader::Outcome::kTornTail) {
      const uint64_t valid_end = (*reader)->offset();
      auto size = env->FileSize(path);
      if (!size.ok()) return size.status();
      TM_RETURN_IF_ERROR(env->Truncate(path, valid_end));
      truncated = *size - valid_end;
    }
  }
  auto file = env->NewAppendableFile(path);
  if (!file.ok()) return file.status();
  // A synced record is only durable if the file's name is: sync the directory
  // on every open, not only on creation, in case an earlier writer created the
  // file and crashed before syncing it.
  if (options.sync) TM_RETURN_IF_ERROR(env->SyncDir(DirName(path)));
  return std::unique_ptr<JournalWriter>(
      new JournalWriter(std::move(*file), options, last_seq, truncated));
}

Result<uint64_t> JournalWriter::Append(uint16_t type, uint16_t flags, std::string_view payload) {
  if (!error_.ok()) return error_;
  if (payload.size() > protocol::kMaxRecordBytes) {
    return Status::TooLarge("journal record payload of " + std::to_string(payload.size()) +
                            " bytes is over the limit of " +
                            std::to_string(protocol::kMaxRecordBytes));
  }
  const uint64_t seq = last_seq_ + 1;
  // One Append per record, so a crash tears at most the last record.
  Status s = file_->Append(EncodeJournalRecord(seq, type, flags, payload));
  if (s.ok() && options_.sync) s = file_->Sync();
  if (!s.ok()) {
    error_ = s;
    return s;
  }
  last_seq_ = seq;
  return seq;
}

Status JournalWriter::Sync() {
  if (!error_.ok()) return error_;
  error_ = file_->Sync();
  return error_;
}

uint64_t JournalWriter::size() const {
  return file_->Size();
}

}  // namespace taskmaster
