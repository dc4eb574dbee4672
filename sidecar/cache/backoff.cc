#include "cache/backoff.h"

#include <cassert>
#include <memory>
#include <random>
#include <utility>

namespace taskmaster::sidecar {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                 RandomSource random)
    : initial_(initial), max_(max), random_(std::move(random)), ceiling_(initial) {
  assert(initial.count() > 0 && initial <= max && random_);
}

std::chrono::milliseconds Backoff::NextDelay() {
  const double r = random_();
  assert(r >= 0.0 && r < 1.0);
  const auto delay =
      std::chrono::milliseconds(static_cast<int64_t>(r * static_cast<double>(ceiling_.count())));
  // Compared before doubling, so a ceiling near max never overflows.
  ceiling_ = ceiling_ > max_ / 2 ? max_ : ceiling_ * 2;
  return delay;
}

void Backoff::Reset() {
  ceiling_ = initial_;
}

Backoff::RandomSource DefaultRandomSource() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine] { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

bool IsTransient(const Status& status) {
  // Every code is listed, so a new one fails to compile (-Wswitch) until it is
  // classified here.
  switch (status.code()) {
    case Status::Code::kUnavailable:
    case Status::Code::kTimeout:
    case Status::Code::kIOError:
    case Status::Code::kBusy:
      return true;
    case Status::Code::kOk:
    case Status::Code::kNotFound:
    case Status::Code::kCorruption:
    case Status::Code::kInvalidArgument:
    case Status::Code::kFenced:
    case Status::Code::kTooLarge:
      return false;
  }
  return false;
}

}  // namespace taskmaster::sidecar
