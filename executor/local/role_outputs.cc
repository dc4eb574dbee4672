#include "local/role_outputs.h"

#include <algorithm>

namespace taskmaster::step::local {

namespace pr = protocol;

namespace {

const std::string* Find(const Outputs& outputs, const char* name) {
  auto it = outputs.find(name);
  return it == outputs.end() ? nullptr : &it->second;
}

}  // namespace

std::optional<InitPlan> InitPlanOf(const Outputs& outputs) {
  const std::string* shards = Find(outputs, pr::kOutShards);
  const std::string* summary = Find(outputs, pr::kOutSummary);
  if (shards == nullptr || summary == nullptr) return std::nullopt;
  auto list = pr::DecodeShardList(*shards);
  auto init = pr::DecodeInitSummary(*summary);
  if (!list.ok() || !init.ok()) return std::nullopt;
  return InitPlan{std::move(*list), std::max<int64_t>(init->batch_size, 1)};
}

std::optional<pr::ShardSummary> ShardSummaryOf(const Outputs& outputs) {
  const std::string* summary = Find(outputs, pr::kOutSummary);
  if (summary == nullptr) return std::nullopt;
  auto decoded = pr::DecodeShardSummary(*summary);
  if (!decoded.ok()) return std::nullopt;
  return std::move(*decoded);
}

pr::FinalizeSummary FinalizeSummaryOf(const Outputs& outputs) {
  const std::string* summary = Find(outputs, pr::kOutSummary);
  if (summary == nullptr) return {};
  auto decoded = pr::DecodeFinalizeSummary(*summary);
  return decoded.ok() ? std::move(*decoded) : pr::FinalizeSummary{};
}

}  // namespace taskmaster::step::local
