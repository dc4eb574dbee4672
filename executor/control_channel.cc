#include "control_channel.h"

#include <rapidjson/document.h>

#include "taskmaster/json.h"

namespace taskmaster::step {

Result<ControlMessage> ParseControlLine(std::string_view line) {
  rapidjson::Document doc;
  Status parsed = ParseJson(line, "", &doc, JsonNumbers::kFast);
  if (!parsed.ok()) return Status::InvalidArgument(parsed.message());
  if (!doc.IsObject()) return Status::InvalidArgument("expected a JSON object");

  ControlMessage msg;
  for (auto& member : doc.GetObject()) {
    std::string_view key(member.name.GetString(), member.name.GetStringLength());
    const rapidjson::Value& value = member.value;
    if (key == "checkpoint") {
      msg.checkpoint = JsonWriter().Value(value).Take();
    } else if (key == "sync") {
      if (!value.IsBool()) return Status::InvalidArgument("\"sync\" must be true or false");
      msg.sync = value.GetBool();
    } else if (key == "progress") {
      if (!value.IsObject() || !value.HasMember("done") || !value.HasMember("total") ||
          !value["done"].IsInt64() || !value["total"].IsInt64()) {
        return Status::InvalidArgument(
            "\"progress\" must be {\"done\": <integer>, \"total\": <integer>}");
      }
      int64_t done = value["done"].GetInt64();
      int64_t total = value["total"].GetInt64();
      if (done < 0 || total < 0 || done > total) {
        return Status::InvalidArgument("\"progress\" needs 0 <= done <= total");
      }
      msg.progress = std::make_pair(done, total);
    } else if (key == "note") {
      if (!value.IsString()) return Status::InvalidArgument("\"note\" must be a string");
      msg.note = std::string(value.GetString(), value.GetStringLength());
    } else {
      msg.unknown_keys.emplace_back(key);
    }
  }
  if (msg.sync && !msg.checkpoint) {
    return Status::InvalidArgument("\"sync\" needs a \"checkpoint\" on the same line");
  }
  if (!msg.checkpoint && !msg.progress && !msg.note) {
    return Status::InvalidArgument("no \"checkpoint\", \"progress\" or \"note\" key");
  }
  return msg;
}

LineSplitter::LineSplitter(size_t max_line, LineFn on_line, OverlongFn on_overlong)
    : max_line_(max_line), on_line_(std::move(on_line)), on_overlong_(std::move(on_overlong)) {}

void LineSplitter::Feed(std::string_view data) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view piece = data.substr(0, nl);
    if (skipping_) {
      if (nl != std::string_view::npos) skipping_ = false;
    } else if (pending_.size() + piece.size() > max_line_) {
      on_overlong_(pending_.size() + piece.size());
      pending_.clear();
      skipping_ = nl == std::string_view::npos;
    } else if (nl == std::string_view::npos) {
      pending_.append(piece);
    } else if (pending_.empty()) {
      on_line_(piece);
    } else {
      pending_.append(piece);
      on_line_(pending_);
      pending_.clear();
    }
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
  }
}

void LineSplitter::Finish() {
  if (!skipping_ && !pending_.empty()) on_line_(pending_);
  pending_.clear();
  skipping_ = false;
}

}  // namespace taskmaster::step
