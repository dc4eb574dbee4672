// JSON for both programs (RapidJSON): the one writer, the one way text becomes
// a document, and a reader of typed fields.
//
// JsonWriter builds compact JSON with keys in the order they are written, so an
// encoder reads like the struct it encodes. It is the one JSON writer: records,
// state, checkpoints, HTTP answers and log lines are written with it, and
// JsonQuote quotes a string the same way where JSON is put together by hand,
// so a string has one spelling everywhere. ParseJson is the one way text
// becomes a document: without recursion, refusing invalid UTF-8, with
// messages that name the document. The two streaming readers that need their
// own handler (the task list, the checkpoint envelope) describe their parse
// errors with DescribeJsonError, in the same words.
//
// FieldReader reads typed members of one object and keeps the first problem,
// so a decoder reads every field and checks once; its messages name the field:
//
//   "ready: field 'fence': missing"
//   "restore/shard.json: field 'tasks[2].status': unknown task status 'done'"
//
// Decoding failures are Corruption: what they read was written by a program.
// Nothing here throws. Objects are not thread-safe.
#ifndef TASKMASTER_JSON_H_
#define TASKMASTER_JSON_H_

#include <rapidjson/document.h>
#include <rapidjson/error/error.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "taskmaster/status.h"

namespace taskmaster {

// How ParseJson reads numbers.
enum class JsonNumbers {
  // Correctly rounded, so a number keeps its value when it is written back.
  kExact,
  // RapidJSON's faster reading, which can be off in the last binary digit for
  // numbers with more than 15 significant digits. Only the step's control
  // lines use it: checkpoint payloads have always been written back from
  // these doubles, and their bytes must not change.
  kFast,
};

// Parses one JSON value (whitespace around it is allowed, anything else is
// not) iteratively, so deep nesting cannot overflow the stack, refusing
// invalid UTF-8. Corruption "<what>: invalid JSON at byte N: <reason>." (no
// "<what>: " when `what` is empty, for callers whose context names the text).
Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* doc,
                 JsonNumbers numbers = JsonNumbers::kExact);

// "invalid JSON at byte N: <RapidJSON's reason, without its final period>".
std::string DescribeJsonError(rapidjson::ParseErrorCode code, size_t offset);

// Compact JSON. Strings are copied byte for byte, escaping only what JSON
// requires: '"', '\\' and control characters (\b \f \n \r \t, the others as
// \u00XX with upper-case hex). Bytes that are not valid UTF-8 are copied too:
// pass text that may hold them through ReplaceInvalidUtf8 (utf8.h) first.
class JsonWriter {
 public:
  JsonWriter() : writer_(buffer_) {}
  // Reserves room for `capacity` bytes of text, for large documents.
  explicit JsonWriter(size_t capacity) : buffer_(nullptr, capacity), writer_(buffer_) {}
  JsonWriter(const JsonWriter&) = delete;  // writer_ points into buffer_
  JsonWriter& operator=(const JsonWriter&) = delete;
  JsonWriter& StartObject();
  JsonWriter& EndObject();
  JsonWriter& StartArray();
  JsonWriter& EndArray();
  JsonWriter& Key(std::string_view key);
  JsonWriter& Null();
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int value);
  JsonWriter& Int64(int64_t value);
  JsonWriter& Uint64(uint64_t value);
  JsonWriter& Bool(bool value);
  JsonWriter& Double(double value);  // shortest text that reads back exactly
  JsonWriter& OptionalInt(const std::optional<int>& value);  // null when absent
  JsonWriter& Time(int64_t unix_ms);                         // RFC 3339 string (time.h)
  JsonWriter& OptionalTime(const std::optional<int64_t>& unix_ms);
  // Writes a DOM value as it is, without recursion: a value parsed from a
  // task's output may be nested deeper than the stack could follow.
  JsonWriter& Value(const rapidjson::Value& value);
  // Writes JSON text that is already valid and compact, unchanged.
  JsonWriter& Raw(std::string_view json);
  // The text written so far; the writer is spent afterwards.
  std::string Take();

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// `text` as one JSON string, quotes included, escaped as JsonWriter escapes.
std::string JsonQuote(std::string_view text);

// Reads the members of one object. `what` names the document in messages and
// `prefix` the path of this object inside it ("tasks[2]."). `value` must
// outlive the reader. Accessors return a zero value once a problem is recorded.
class FieldReader {
 public:
  FieldReader(const rapidjson::Value& value, std::string what, std::string prefix = "");

  std::string String(const char* name);
  int Int(const char* name);
  int64_t Int64(const char* name);
  uint64_t Uint64(const char* name);
  bool Bool(const char* name);
  double Double(const char* name);                   // any JSON number
  std::optional<int> OptionalInt(const char* name);  // null reads as absent
  // True when the object has the member (whatever its value); records nothing.
  bool Has(const char* name) const;
  int64_t Time(const char* name);  // RFC 3339 string, as Unix ms
  std::optional<int64_t> OptionalTime(const char* name);
  // The member when it has that type, else nullptr with a recorded problem.
  const rapidjson::Value* Array(const char* name);
  const rapidjson::Value* Object(const char* name);
  // Reads a string member through `parse` (ParseTaskStatus, ...), whose failure
  // message becomes the field's problem.
  template <typename T, typename Parse>
  T Enum(const char* name, Parse parse) {
    std::string text = String(name);
    if (!ok()) return T{};
    Result<T> parsed = parse(text);
    if (!parsed.ok()) {
      Fail(name, parsed.status().message());
      return T{};
    }
    return *parsed;
  }

  // Records a problem with a field (the first one wins).
  void Fail(std::string_view name, std::string_view problem);
  // Adopts a problem found by a reader of a nested object.
  void Merge(const Status& status);
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  const std::string& prefix() const { return prefix_; }

 private:
  // The member called name, or nullptr (with a recorded problem) when missing.
  const rapidjson::Value* Find(const char* name);

  const rapidjson::Value& object_;
  std::string what_;
  std::string prefix_;
  Status status_;
};

// The decoders' one shape: parses `text` (ParseJson), reads the object with
// `read`, a callable taking FieldReader& and returning T, and checks once. The
// value, or the first problem (Corruption).
template <typename T, typename Read>
Result<T> ReadJsonObject(std::string_view text, const char* what, Read read) {
  rapidjson::Document doc;
  TM_RETURN_IF_ERROR(ParseJson(text, what, &doc));
  FieldReader in(doc, what);
  T value = read(in);
  TM_RETURN_IF_ERROR(in.status());
  return value;
}

}  // namespace taskmaster

#endif  // TASKMASTER_JSON_H_
