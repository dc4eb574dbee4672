#include "local/role_outputs.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdlib>

#include "taskmaster/protocol.h"

namespace taskmaster::step::local {

namespace pr = protocol;

namespace {

int64_t JsonInt(const rapidjson::Value& doc, const char* name) {
  if (!doc.IsObject() || !doc.HasMember(name) || !doc[name].IsInt64()) return 0;
  return doc[name].GetInt64();
}

}  // namespace

std::optional<InitOutputs> ParseInitOutputs(const Outputs& outputs) {
  auto shards_it = outputs.find(pr::kOutShards);
  auto batch_it = outputs.find(pr::kOutBatchSize);
  rapidjson::Document list;
  if (shards_it != outputs.end()) list.Parse(shards_it->second.c_str());
  if (shards_it == outputs.end() || batch_it == outputs.end() || list.HasParseError() ||
      !list.IsArray()) {
    return std::nullopt;
  }
  InitOutputs init;
  init.batch_size = std::max<int64_t>(std::atoll(batch_it->second.c_str()), 1);
  for (const auto& item : list.GetArray()) {
    if (item.IsInt64()) init.shards.push_back(item.GetInt64());
  }
  return init;
}

ShardSummary ParseShardSummary(const Outputs& outputs) {
  ShardSummary s;
  auto it = outputs.find(pr::kOutSummary);
  if (it == outputs.end()) return s;
  rapidjson::Document doc;
  doc.Parse(it->second.data(), it->second.size());
  if (doc.HasParseError() || !doc.IsObject()) return s;
  s.present = true;
  s.succeeded = JsonInt(doc, "succeeded");
  s.failed = JsonInt(doc, "failed");
  s.interrupted = JsonInt(doc, "interrupted");
  s.cancelled = JsonInt(doc, "cancelled");
  s.skipped = JsonInt(doc, "skipped");
  return s;
}

FinalizeCounts ParseFinalizeSummary(const Outputs& outputs) {
  rapidjson::Document summary;
  auto it = outputs.find(pr::kOutSummary);
  if (it != outputs.end()) summary.Parse(it->second.c_str());
  if (summary.HasParseError() || !summary.IsObject()) summary.SetObject();
  FinalizeCounts counts;
  counts.total = JsonInt(summary, "total");
  counts.succeeded = JsonInt(summary, "succeeded");
  counts.failed = JsonInt(summary, "failed");
  counts.cancelled = JsonInt(summary, "cancelled");
  counts.unfinished = JsonInt(summary, "unfinished");
  return counts;
}

}  // namespace taskmaster::step::local
