#include "taskmaster/task_list.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <unordered_map>
#include <utility>

#include "taskmaster/env.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"
#include "taskmaster/utf8.h"

namespace taskmaster {
namespace {

bool IsControl(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

std::string CodePointName(char32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

std::string ByteName(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02X", static_cast<unsigned>(b));
  return buf;
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// SAX handler for a task list. It stops at the first problem, so a nested
// array of any depth is refused at its first '[' and never built.
class TaskListHandler {
 public:
  TaskListHandler(std::string_view json, const rapidjson::MemoryStream* stream)
      : json_(json), stream_(stream) {
    // A rough guess that avoids most rehashing of a large list.
    seen_.reserve(json.size() / 16);
  }

  bool Null() { return NotAString("null"); }
  bool Bool(bool) { return NotAString("a boolean"); }
  bool Int(int) { return NotAString("a number"); }
  bool Uint(unsigned) { return NotAString("a number"); }
  bool Int64(int64_t) { return NotAString("a number"); }
  bool Uint64(uint64_t) { return NotAString("a number"); }
  bool Double(double) { return NotAString("a number"); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return NotAString("a number"); }
  bool StartObject() { return NotAString("an object"); }
  // Never reached: the handler refuses every object at its '{'.
  bool Key(const char*, rapidjson::SizeType, bool) { return false; }
  bool EndObject(rapidjson::SizeType) { return false; }

  bool StartArray() {
    if (in_array_) return NotAString("an array");
    in_array_ = true;
    // Only whitespace can come before the list's '[', so the first item is
    // searched for from just past it.
    size_t bracket = 0;
    while (IsJsonSpace(json_[bracket])) ++bracket;
    last_end_ = bracket + 1;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    in_array_ = false;
    return true;
  }

  bool String(const char* str, rapidjson::SizeType length, bool) {
    if (!in_array_) return NotAString("a string");
    const size_t start = ItemStart();
    const std::string_view id(str, length);
    Status s = ValidateId(id, "task ID");
    if (!s.ok()) return Fail(ItemPrefix(start) + s.message());
    const size_t index = ids_.size();
    ids_.emplace_back(id);
    const auto [it, inserted] = seen_.emplace(ids_.back(), index);
    if (!inserted) {
      ids_.pop_back();
      return Fail(ItemPrefix(start) + "duplicate task ID " + JsonQuote(id) + " (first at item " +
                  std::to_string(it->second) + ")");
    }
    last_end_ = stream_->Tell();  // just past the closing quote
    return true;
  }

  // Turns a parse error inside an item's string into a message about the
  // item, since "invalid JSON" would not tell the user what is wrong with it.
  std::optional<std::string> DescribeStringError(rapidjson::ParseErrorCode code,
                                                 size_t offset) const {
    if (!in_array_) return std::nullopt;
    const std::string where = " at byte " + std::to_string(offset) + " of the list";
    const unsigned char b = offset < json_.size() ? static_cast<unsigned char>(json_[offset]) : 0;
    switch (code) {
      case rapidjson::kParseErrorStringInvalidEncoding:
        return ItemPrefix(ItemStart()) + "task ID is not valid UTF-8: invalid byte " + ByteName(b) +
               where;
      case rapidjson::kParseErrorStringUnicodeSurrogateInvalid:
        return ItemPrefix(ItemStart()) +
               "task ID is not valid UTF-8: unpaired UTF-16 surrogate escape" + where;
      case rapidjson::kParseErrorStringEscapeInvalid:
        // RapidJSON reports an unescaped control character as a bad escape.
        if (b != '\\' && b != 0 && b < 0x20) {
          return ItemPrefix(ItemStart()) + "task ID contains control character " +
                 CodePointName(b) + where;
        }
        return std::nullopt;
      case rapidjson::kParseErrorStringMissQuotationMark:
        // A NUL byte inside the text, not the end of it.
        if (offset < json_.size() && b == 0) {
          return ItemPrefix(ItemStart()) + "task ID contains control character U+0000" + where;
        }
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }

  const std::string& error() const { return error_; }
  std::deque<std::string>& ids() { return ids_; }

 private:
  bool NotAString(const char* got) {
    if (!in_array_) return Fail(std::string("expected a JSON array, got ") + got);
    return Fail(ItemPrefix(ItemStart()) + "expected a string, got " + got);
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  // The current item begins at the first byte after the previous token that is
  // neither whitespace nor the separating comma; the parser has checked those.
  size_t ItemStart() const {
    size_t pos = last_end_;
    while (pos < json_.size() && (IsJsonSpace(json_[pos]) || json_[pos] == ',')) ++pos;
    return pos;
  }

  std::string ItemPrefix(size_t start) const {
    return "item " + std::to_string(ids_.size()) + " (byte " + std::to_string(start) + "): ";
  }

  std::string_view json_;
  const rapidjson::MemoryStream* stream_;
  bool in_array_ = false;
  size_t last_end_ = 0;
  // A deque never moves its elements, so the views in seen_ stay valid.
  std::deque<std::string> ids_;
  std::unordered_map<std::string_view, size_t> seen_;
  std::string error_;
};

}  // namespace

Status ValidateId(std::string_view id, std::string_view what) {
  const std::string name(what);
  if (id.empty()) return Status::InvalidArgument(name + " is empty");
  if (id.size() > protocol::kMaxIdBytes) {
    return Status::InvalidArgument(name + " is " + std::to_string(id.size()) +
                                   " bytes; the limit is " + std::to_string(protocol::kMaxIdBytes));
  }
  size_t pos = 0;
  while (pos < id.size()) {
    const size_t at = pos;
    const std::optional<char32_t> cp = DecodeUtf8(id, &pos);
    if (!cp) {
      return Status::InvalidArgument(name + " is not valid UTF-8: invalid byte " +
                                     ByteName(static_cast<unsigned char>(id[at])) + " at byte " +
                                     std::to_string(at) + " of the " + name);
    }
    if (IsControl(*cp)) {
      return Status::InvalidArgument(name + " contains control character " + CodePointName(*cp) +
                                     " at byte " + std::to_string(at) + " of the " + name);
    }
  }
  return Status::OK();
}

Result<std::vector<std::string>> ParseTaskList(std::string_view json) {
  const auto fail = [](const std::string& message) {
    return Status::InvalidArgument("task list: " + message);
  };
  rapidjson::MemoryStream stream(json.data(), json.size());
  TaskListHandler handler(json, &stream);
  rapidjson::Reader reader;
  // Iterative: no recursion, so no input can exhaust the stack.
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseValidateEncodingFlag |
                              rapidjson::kParseNumbersAsStringsFlag;
  const rapidjson::ParseResult result = reader.Parse<kFlags>(stream, handler);
  if (result.IsError()) {
    if (!handler.error().empty()) return fail(handler.error());
    if (auto described = handler.DescribeStringError(result.Code(), result.Offset())) {
      return fail(*described);
    }
    return fail(DescribeJsonError(result.Code(), result.Offset()));
  }
  // The stream reads a NUL byte as its end, so one after the array would
  // otherwise be taken for the end of the text.
  if (stream.Tell() != json.size()) {
    return fail("invalid JSON at byte " + std::to_string(stream.Tell()) +
                ": unexpected NUL byte after the array");
  }
  std::deque<std::string>& ids = handler.ids();
  if (ids.empty()) return fail("is empty");
  return std::vector<std::string>(std::make_move_iterator(ids.begin()),
                                  std::make_move_iterator(ids.end()));
}

Result<std::string> ReadArgument(Env* env, std::string_view arg) {
  if (arg.empty() || arg.front() != '@') return std::string(arg);
  const std::string path(arg.substr(1));
  if (path.empty()) return Status::InvalidArgument("'@' must be followed by a file path");
  return env->ReadFile(path);
}

Result<std::vector<std::string>> LoadTaskList(Env* env, std::string_view arg) {
  Result<std::string> text = ReadArgument(env, arg);
  if (!text.ok()) return text.status();
  Result<std::vector<std::string>> ids = ParseTaskList(*text);
  if (!ids.ok() && !arg.empty() && arg.front() == '@') {
    return ids.status().WithContext(std::string(arg.substr(1)));
  }
  return ids;
}

}  // namespace taskmaster
