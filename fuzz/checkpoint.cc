// Checkpoint documents (checkpoint.h), as read back from a checkpoint file,
// the store, Redis or TM_CHECKPOINT. Each input is verified as it is, and
// again with its checksum digits recomputed, so that mutations reach the
// field checks behind the checksum. A document that verifies is in canonical
// form: encoding its fields and payload again gives the same bytes.
#include "taskmaster/checkpoint.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "taskmaster/checksum.h"

namespace {

constexpr std::string_view kChecksumAt = "\"checksum\":\"xxh3:";
constexpr size_t kDigits = 16;

// The document without the JSON whitespace after it, which verify ignores.
std::string_view Trimmed(std::string_view document) {
  while (!document.empty() && (document.back() == ' ' || document.back() == '\n' ||
                               document.back() == '\r' || document.back() == '\t')) {
    document.remove_suffix(1);
  }
  return document;
}

void Verify(std::string_view document) {
  const auto checkpoint = taskmaster::VerifyCheckpoint(document);
  if (!checkpoint.ok()) return;
  const auto again = taskmaster::EncodeCheckpoint(checkpoint->fields, checkpoint->payload);
  if (!again.ok() || *again != Trimmed(document)) std::abort();
}

// The document, trimmed, with the checksum's 16 digits set to what they should be.
std::string WithChecksum(std::string_view input) {
  std::string document(Trimmed(input));
  const size_t at = document.rfind(kChecksumAt);
  if (at == std::string::npos || document.size() < at + kChecksumAt.size() + kDigits) {
    return document;
  }
  const size_t digits = at + kChecksumAt.size();
  document.replace(digits, kDigits, std::string(kDigits, '0'));
  document.replace(digits, kDigits, taskmaster::Hex64(taskmaster::Xxh3(document)));
  return document;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view document(reinterpret_cast<const char*>(data), size);
  Verify(document);
  Verify(WithChecksum(document));
  return 0;
}
