#include "taskmaster/task_list.h"

#include <rapidjson/reader.h>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>

#include "file_stream.h"
#include "taskmaster/checksum.h"
#include "taskmaster/env.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"
#include "taskmaster/utf8.h"

namespace taskmaster {
namespace {

// Iterative: no recursion, so no input can exhaust the stack.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

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

// The hashes of the IDs seen so far: open addressing with linear probing, at
// most half full, 8 bytes a slot. The hash 0 marks an empty slot, so it is
// stored as 1; the exact check behind every hit makes that harmless.
class HashSet {
 public:
  HashSet() : slots_(kInitialSlots, 0) {}

  // False when `hash` was there already.
  bool Insert(uint64_t hash) {
    if (hash == 0) hash = 1;
    if (2 * (size_ + 1) > slots_.size()) Grow();
    const size_t mask = slots_.size() - 1;
    for (size_t i = static_cast<size_t>(hash) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == hash) return false;
      if (slots_[i] == 0) {
        slots_[i] = hash;
        ++size_;
        return true;
      }
    }
  }

 private:
  static constexpr size_t kInitialSlots = 1024;

  void Grow() {
    std::vector<uint64_t> old(slots_.size() * 2, 0);
    old.swap(slots_);
    size_ = 0;
    for (uint64_t hash : old) {
      if (hash != 0) Insert(hash);
    }
  }

  std::vector<uint64_t> slots_;
  size_t size_ = 0;
};

// SAX handler for a second read of a list that has been checked up to item
// `before`: finds the first item equal to `id` before it.
class EqualItemFinder {
 public:
  EqualItemFinder(std::string_view id, int64_t before) : id_(id), before_(before) {}

  bool String(const char* str, rapidjson::SizeType length, bool) {
    if (index_ >= before_) return false;
    if (std::string_view(str, length) == id_) {
      found_ = index_;
      return false;
    }
    ++index_;
    return true;
  }
  bool StartArray() { return !started_ && (started_ = true); }
  // The items before `before` are strings, so nothing else comes before it.
  bool Null() { return false; }
  bool Bool(bool) { return false; }
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }
  bool StartObject() { return false; }
  bool Key(const char*, rapidjson::SizeType, bool) { return false; }
  bool EndObject(rapidjson::SizeType) { return false; }
  bool EndArray(rapidjson::SizeType) { return false; }

  std::optional<int64_t> found() const { return found_; }

 private:
  std::string_view id_;
  int64_t before_;
  int64_t index_ = 0;
  bool started_ = false;
  std::optional<int64_t> found_;
};

// The first of the first `before` items of the list in `file` that equals `id`.
Result<std::optional<int64_t>> FindEqualItem(const RandomAccessFile& file, std::string_view id,
                                             int64_t before) {
  FileStream stream(&file, 0);
  EqualItemFinder finder(id, before);
  rapidjson::Reader reader;
  reader.Parse<kParseFlags>(stream, finder);
  if (!stream.status().ok()) return stream.status();
  return finder.found();
}

// SAX handler for a task list. It stops at the first problem, so a nested
// array of any depth is refused at its first '[' and never built. It keeps no
// ID: what a message quotes from the list is read again from the file.
class TaskListChecker {
 public:
  TaskListChecker(const RandomAccessFile* file, const FileStream* stream,
                  const TaskIdVisitor* visit, IdHash hash)
      : file_(file), stream_(stream), visit_(visit), hash_(hash) {}

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
    // Called before the '[' is taken: the first item is searched for from
    // just past it.
    last_end_ = stream_->Tell() + 1;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    in_array_ = false;
    return true;
  }

  bool String(const char* str, rapidjson::SizeType length, bool) {
    if (!in_array_) return NotAString("a string");
    const std::string_view id(str, length);
    Status s = ValidateId(id, "task ID");
    if (!s.ok()) return Fail(ItemPrefix() + s.message());
    if (!seen_.Insert(hash_(id))) {
      auto first = FindEqualItem(*file_, id, count_);
      if (!first.ok()) return Stop(first.status());
      if (*first) {
        return Fail(ItemPrefix() + "duplicate task ID " + JsonQuote(id) + " (first at item " +
                    std::to_string(**first) + ")");
      }
    }
    if (s = (*visit_)(id); !s.ok()) return Stop(std::move(s));
    ++count_;
    last_end_ = stream_->Tell();  // just past the closing quote
    return true;
  }

  // Turns a parse error inside an item's string into a message about the
  // item, since "invalid JSON" would not tell the user what is wrong with it.
  std::optional<std::string> DescribeStringError(rapidjson::ParseErrorCode code,
                                                 size_t offset) const {
    if (!in_array_) return std::nullopt;
    const std::string where = " at byte " + std::to_string(offset) + " of the list";
    const std::optional<unsigned char> byte = ByteAt(offset);
    const unsigned char b = byte.value_or(0);
    switch (code) {
      case rapidjson::kParseErrorStringInvalidEncoding:
        return ItemPrefix() + "task ID is not valid UTF-8: invalid byte " + ByteName(b) + where;
      case rapidjson::kParseErrorStringUnicodeSurrogateInvalid:
        return ItemPrefix() + "task ID is not valid UTF-8: unpaired UTF-16 surrogate escape" +
               where;
      case rapidjson::kParseErrorStringEscapeInvalid:
        // RapidJSON reports an unescaped control character as a bad escape.
        if (b != '\\' && b != 0 && b < 0x20) {
          return ItemPrefix() + "task ID contains control character " + CodePointName(b) + where;
        }
        return std::nullopt;
      case rapidjson::kParseErrorStringMissQuotationMark:
        // A NUL byte inside the text, not the end of it.
        if (byte == 0) return ItemPrefix() + "task ID contains control character U+0000" + where;
        return std::nullopt;
      default:
        return std::nullopt;
    }
  }

  const std::string& error() const { return error_; }
  // Why the scan stopped when the list was not to blame: the visitor's
  // status, or a failed read.
  const Status& stopped() const { return stopped_; }
  int64_t count() const { return count_; }

 private:
  bool NotAString(const char* got) {
    if (!in_array_) return Fail(std::string("expected a JSON array, got ") + got);
    return Fail(ItemPrefix() + "expected a string, got " + got);
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  bool Stop(Status s) {
    stopped_ = std::move(s);
    return false;
  }

  // The byte at `offset`, nullopt past the end (or when it cannot be read).
  std::optional<unsigned char> ByteAt(size_t offset) const {
    auto bytes = ReadAt(*file_, offset, 1);
    if (!bytes.ok() || bytes->empty()) return std::nullopt;
    return static_cast<unsigned char>(bytes->front());
  }

  // The current item begins at the first byte after the previous token that is
  // neither whitespace nor the separating comma; the parser has checked those.
  size_t ItemStart() const {
    constexpr size_t kRead = 4096;
    size_t pos = last_end_;
    for (;;) {
      auto bytes = ReadAt(*file_, pos, kRead);
      if (!bytes.ok()) return pos;
      for (char c : *bytes) {
        if (!IsJsonSpace(c) && c != ',') return pos;
        ++pos;
      }
      if (bytes->size() < kRead) return pos;
    }
  }

  std::string ItemPrefix() const {
    return "item " + std::to_string(count_) + " (byte " + std::to_string(ItemStart()) + "): ";
  }

  const RandomAccessFile* file_;
  const FileStream* stream_;
  const TaskIdVisitor* visit_;
  IdHash hash_;
  bool in_array_ = false;
  size_t last_end_ = 0;
  int64_t count_ = 0;  // IDs accepted, so the index of the current item
  HashSet seen_;
  std::string error_;
  Status stopped_;
};

// ScanTaskList; *refused tells a refused list from a stop by the visitor or a
// failed read.
Status Scan(const RandomAccessFile& file, const TaskIdVisitor& visit, IdHash hash, bool* refused) {
  *refused = false;
  FileStream stream(&file, 0);
  TaskListChecker checker(&file, &stream, &visit, hash);
  rapidjson::Reader reader;
  const rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, checker);
  // A failed read ends the stream, which the parser sees as the end of the text.
  if (!stream.status().ok()) return stream.status();
  if (!checker.stopped().ok()) return checker.stopped();
  *refused = true;
  const auto fail = [](const std::string& message) {
    return Status::InvalidArgument("task list: " + message);
  };
  if (result.IsError()) {
    if (!checker.error().empty()) return fail(checker.error());
    if (auto described = checker.DescribeStringError(result.Code(), result.Offset())) {
      return fail(*described);
    }
    return fail(DescribeJsonError(result.Code(), result.Offset()));
  }
  // The stream reads a NUL byte as its end, so one after the array would
  // otherwise be taken for the end of the text.
  if (!stream.at_end()) {
    return fail("invalid JSON at byte " + std::to_string(stream.Tell()) +
                ": unexpected NUL byte after the array");
  }
  if (checker.count() == 0) return fail("is empty");
  *refused = false;
  return Status::OK();
}

// A visitor that appends each ID to *ids.
TaskIdVisitor AppendTo(std::vector<std::string>* ids) {
  return [ids](std::string_view id) {
    ids->emplace_back(id);
    return Status::OK();
  };
}

}  // namespace

Status ValidateId(std::string_view id, std::string_view what) {
  const std::string name(what);
  if (id.empty()) return Status::InvalidArgument(name + " is empty");
  if (id.size() > protocol::kMaxIdBytes) {
    return Status::InvalidArgument(name + " is " + std::to_string(id.size()) +
                                   " bytes; the limit is " + std::to_string(protocol::kMaxIdBytes));
  }
  // Most IDs are printable ASCII, which needs no decoding.
  size_t pos = 0;
  while (pos < id.size() && id[pos] >= 0x20 && id[pos] < 0x7F) ++pos;
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

uint64_t DefaultIdHash(std::string_view id) {
  return Xxh3(id);
}

Status ScanTaskList(const RandomAccessFile& file, const TaskIdVisitor& visit, IdHash hash) {
  bool refused;
  return Scan(file, visit, hash, &refused);
}

Status ScanTaskList(std::string_view json, const TaskIdVisitor& visit, IdHash hash) {
  const MemoryFile file(json);
  return ScanTaskList(file, visit, hash);
}

Status ScanTaskListArgument(Env* env, std::string_view arg, const TaskIdVisitor& visit) {
  if (arg.empty() || arg.front() != '@') return ScanTaskList(arg, visit);
  const std::string path(arg.substr(1));
  if (path.empty()) return Status::InvalidArgument("'@' must be followed by a file path");
  auto file = env->NewRandomAccessFile(path);
  if (!file.ok()) return file.status();
  bool refused;
  Status s = Scan(**file, visit, DefaultIdHash, &refused);
  return refused ? s.WithContext(path) : s;
}

Result<std::vector<std::string>> ParseTaskList(std::string_view json) {
  std::vector<std::string> ids;
  if (Status s = ScanTaskList(json, AppendTo(&ids)); !s.ok()) return s;
  return ids;
}

Result<std::string> ReadArgument(Env* env, std::string_view arg) {
  if (arg.empty() || arg.front() != '@') return std::string(arg);
  const std::string path(arg.substr(1));
  if (path.empty()) return Status::InvalidArgument("'@' must be followed by a file path");
  return env->ReadFile(path);
}

Result<std::vector<std::string>> LoadTaskList(Env* env, std::string_view arg) {
  std::vector<std::string> ids;
  if (Status s = ScanTaskListArgument(env, arg, AppendTo(&ids)); !s.ok()) return s;
  return ids;
}

}  // namespace taskmaster
