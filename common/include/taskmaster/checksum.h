// XXH3-64 (libxxhash) and its text form. Thread-safe, no state.
#ifndef TASKMASTER_CHECKSUM_H_
#define TASKMASTER_CHECKSUM_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace taskmaster {

uint64_t Xxh3(std::string_view data);
// 16 lower-case hex digits, zero-padded.
std::string Hex64(uint64_t value);
// "xxh3:" + Hex64(Xxh3(data)).
std::string Xxh3Tagged(std::string_view data);

// Incremental XXH3-64 for data that arrives in pieces.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void Update(std::string_view data);
  uint64_t Digest() const;

 private:
  void* state_;  // XXH3_state_t*, opaque so callers need not include xxhash.h
};

}  // namespace taskmaster

#endif  // TASKMASTER_CHECKSUM_H_
