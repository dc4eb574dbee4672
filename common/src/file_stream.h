// Reading a RandomAccessFile as a RapidJSON input stream, in chunks, so that a
// document of any size is parsed with a bounded buffer; and a RandomAccessFile
// over bytes in memory, so that text in memory is read the same way. Private
// to tm_common. Neither is thread-safe.
#ifndef TASKMASTER_COMMON_SRC_FILE_STREAM_H_
#define TASKMASTER_COMMON_SRC_FILE_STREAM_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "taskmaster/env.h"
#include "taskmaster/status.h"

namespace taskmaster {

// A RandomAccessFile whose bytes are `data`, which must outlive it.
class MemoryFile final : public RandomAccessFile {
 public:
  explicit MemoryFile(std::string_view data) : data_(data) {}

  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    if (offset >= data_.size()) {
      out->clear();
    } else {
      out->assign(data_.substr(static_cast<size_t>(offset), n));
    }
    return Status::OK();
  }
  Result<uint64_t> Size() const override { return uint64_t{data_.size()}; }

 private:
  std::string_view data_;
};

// RapidJSON's input stream concept over `file`, from `offset` to the file's
// end, read kChunkBytes at a time. Like RapidJSON's own streams it reads as
// '\0' past the end; a NUL byte in the file reads the same, and at_end() tells
// them apart. A read error ends the stream early and is kept in status().
// The file must outlive the stream.
class FileStream {
 public:
  using Ch = char;
  static constexpr size_t kChunkBytes = 64 * 1024;

  FileStream(const RandomAccessFile* file, uint64_t offset) : file_(file), base_(offset) { Fill(); }

  Ch Peek() const { return buffer_[pos_]; }
  Ch Take() {
    const Ch c = buffer_[pos_];
    if (pos_ < size_ && ++pos_ == size_) Fill();
    return c;
  }
  // The offset in the file of the next byte.
  size_t Tell() const { return static_cast<size_t>(base_ + pos_); }

  // True when every byte of the file has been taken.
  bool at_end() const { return eof_ && pos_ == size_; }
  const Status& status() const { return status_; }

  // Never called: the stream is not parsed in situ.
  Ch* PutBegin() {
    assert(false);
    return nullptr;
  }
  void Put(Ch) { assert(false); }
  void Flush() { assert(false); }
  size_t PutEnd(Ch*) {
    assert(false);
    return 0;
  }

 private:
  // Replaces the buffer with the next chunk, keeping a '\0' after its last
  // byte for Peek at the end. A short read is the end of the file.
  void Fill() {
    if (eof_) return;
    base_ += size_;
    pos_ = 0;
    status_ = file_->Read(base_, kChunkBytes, &buffer_);
    if (!status_.ok()) buffer_.clear();
    size_ = buffer_.size();
    eof_ = size_ < kChunkBytes;
    buffer_.push_back('\0');
  }

  const RandomAccessFile* file_;
  std::string buffer_;
  uint64_t base_;     // file offset of buffer_[0]
  size_t pos_ = 0;    // next byte in buffer_
  size_t size_ = 0;   // bytes of the file in buffer_
  bool eof_ = false;  // buffer_ holds the file's last bytes
  Status status_;
};

// The bytes of `file` from `offset` up to `n` of them (fewer at the end); for
// the few bytes an error message quotes.
inline Result<std::string> ReadAt(const RandomAccessFile& file, uint64_t offset, size_t n) {
  std::string out;
  Status s = file.Read(offset, n, &out);
  if (!s.ok()) return s;
  return out;
}

}  // namespace taskmaster

#endif  // TASKMASTER_COMMON_SRC_FILE_STREAM_H_
