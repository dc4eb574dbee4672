#include "metrics.h"

namespace taskmaster::sidecar {

const char* StatusKind(const Status& status) {
  switch (status.code()) {
    case Status::Code::kUnavailable:
      return "unavailable";
    case Status::Code::kTimeout:
      return "timeout";
    case Status::Code::kFenced:
      return "fenced";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kInvalidArgument:
      return "invalid";
    default:
      return "other";
  }
}

}  // namespace taskmaster::sidecar
