#include "local/disk_space.h"

#include <fmt/format.h>
#include <sys/statvfs.h>

namespace taskmaster::step::local {
namespace {

std::string Size(uint64_t bytes) {
  if (bytes >= (1ull << 20))
    return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  return fmt::format("{} KiB", bytes >> 10);
}

}  // namespace

std::optional<std::string> OutOfSpace(const std::string& dir, uint64_t min_free) {
  struct statvfs fs;
  if (::statvfs(dir.c_str(), &fs) != 0) return std::nullopt;
  const uint64_t available = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (available >= min_free) return std::nullopt;
  return fmt::format(
      "the file system of the state dir {} is full: {} left, and a run needs at least {} for its "
      "journals, work dirs and logs. Free space there and run the same command again: the run "
      "resumes where it stopped",
      dir, Size(available), Size(min_free));
}

}  // namespace taskmaster::step::local
