#include "taskmaster/json.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "taskmaster/time.h"

namespace taskmaster {
namespace {

// Text that did not come from this process: the iterative parser's stack is
// on the heap, so deep nesting cannot overflow the call stack; the encoding
// is validated, so every string read is UTF-8.
constexpr unsigned kUntrustedParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

const char* TypeName(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "a boolean";
    case rapidjson::kObjectType:
      return "an object";
    case rapidjson::kArrayType:
      return "an array";
    case rapidjson::kStringType:
      return "a string";
    case rapidjson::kNumberType:
      return "a number";
  }
  return "an unknown type";
}

std::string Expected(const char* kind, const rapidjson::Value& got) {
  return std::string("expected ") + kind + ", got " + TypeName(got);
}

// Why a value is not an integer of the wanted kind.
std::string IntegerProblem(const rapidjson::Value& got, const char* kind) {
  if (got.IsNumber() && !got.IsDouble()) return std::string("out of range for ") + kind;
  return Expected(kind, got);
}

// Forwards a reader's events to a document, reading each number's text
// itself: RapidJSON 1.1.0's exact reading (kParseFullPrecisionFlag) is wrong
// for some inputs ("0e77" read as 1.26e263 through undefined behaviour, and a
// long mantissa with e-357 read past its table of powers; both found by
// fuzz/, kept in fuzz/regressions/api_request). glibc's strtod is correctly
// rounded, and the "C" locale keeps '.' the decimal point whatever the
// process's locale.
class ExactNumbers {
 public:
  explicit ExactNumbers(rapidjson::Document* doc) : doc_(*doc) {}

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_.String(s, n, copy); }
  bool StartObject() { return doc_.StartObject(); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_.Key(s, n, copy); }
  bool EndObject(rapidjson::SizeType members) { return doc_.EndObject(members); }
  bool StartArray() { return doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { return doc_.EndArray(elements); }

  // `text` is what the reader accepted as a JSON number, NUL-terminated.
  // Integers keep RapidJSON's types (int, unsigned, int64, uint64, then
  // double past 64 bits); anything else is a double.
  bool RawNumber(const char* text, rapidjson::SizeType n, bool) {
    const char* end = text + n;
    if (std::string_view(text, n).find_first_of(".eE") == std::string_view::npos) {
      if (text[0] == '-') {
        int64_t value = 0;
        if (ParsesWhole(text, end, &value)) {
          if (value >= std::numeric_limits<int>::min()) return doc_.Int(static_cast<int>(value));
          return doc_.Int64(value);
        }
      } else {
        uint64_t value = 0;
        if (ParsesWhole(text, end, &value)) {
          if (value <= std::numeric_limits<unsigned>::max()) {
            return doc_.Uint(static_cast<unsigned>(value));
          }
          return doc_.Uint64(value);
        }
      }
    }
    static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", locale_t{});
    if (c_locale == locale_t{}) std::abort();  // the "C" locale always exists
    const double value = strtod_l(text, nullptr, c_locale);
    if (std::isinf(value)) {
      too_big_ = true;
      return false;
    }
    return doc_.Double(value);
  }

  // Whether the reader stopped because a number does not fit in a double.
  bool too_big() const { return too_big_; }

 private:
  // Whether [text, end) is one integer that fits in *value (past 64 bits it
  // is read as a double, as RapidJSON reads it).
  template <typename Integer>
  static bool ParsesWhole(const char* text, const char* end, Integer* value) {
    const std::from_chars_result read = std::from_chars(text, end, *value);
    return read.ec == std::errc() && read.ptr == end;
  }

  rapidjson::Document& doc_;
  bool too_big_ = false;
};

}  // namespace

Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* doc,
                 JsonNumbers numbers) {
  rapidjson::ParseResult result;
  if (numbers == JsonNumbers::kExact) {
    ExactNumbers handler(doc);
    auto read = [&](rapidjson::Document&) {
      // As Document::Parse reads: a byte order mark is skipped.
      rapidjson::MemoryStream bytes(text.data(), text.size());
      rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
      rapidjson::Reader reader;
      result = reader.Parse<kUntrustedParseFlags | rapidjson::kParseNumbersAsStringsFlag>(stream,
                                                                                          handler);
      return !result.IsError();
    };
    doc->Populate(read);
    if (handler.too_big()) result.Set(rapidjson::kParseErrorNumberTooBig, result.Offset());
  } else {
    doc->Parse<kUntrustedParseFlags>(text.data(), text.size());
    result.Set(doc->GetParseError(), doc->GetErrorOffset());
  }
  if (!result.IsError()) return Status::OK();
  // The period RapidJSON ends its reasons with stays: these messages reach
  // HTTP answers and logs as they were.
  std::string message = DescribeJsonError(result.Code(), result.Offset()) + ".";
  if (!what.empty()) message = std::string(what) + ": " + message;
  return Status::Corruption(std::move(message));
}

std::string DescribeJsonError(rapidjson::ParseErrorCode code, size_t offset) {
  std::string reason = rapidjson::GetParseError_En(code);
  if (!reason.empty() && reason.back() == '.') reason.pop_back();
  return "invalid JSON at byte " + std::to_string(offset) + ": " + reason;
}

JsonWriter& JsonWriter::StartObject() {
  writer_.StartObject();
  return *this;
}

JsonWriter& JsonWriter::EndObject() {
  writer_.EndObject();
  return *this;
}

JsonWriter& JsonWriter::StartArray() {
  writer_.StartArray();
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  writer_.EndArray();
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  writer_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view value) {
  writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  return *this;
}

JsonWriter& JsonWriter::Int(int value) {
  writer_.Int(value);
  return *this;
}

JsonWriter& JsonWriter::Int64(int64_t value) {
  writer_.Int64(value);
  return *this;
}

JsonWriter& JsonWriter::Double(double value) {
  writer_.Double(value);
  return *this;
}

JsonWriter& JsonWriter::Uint64(uint64_t value) {
  writer_.Uint64(value);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool value) {
  writer_.Bool(value);
  return *this;
}

JsonWriter& JsonWriter::Null() {
  writer_.Null();
  return *this;
}

JsonWriter& JsonWriter::OptionalInt(const std::optional<int>& value) {
  if (value) {
    writer_.Int(*value);
  } else {
    writer_.Null();
  }
  return *this;
}

JsonWriter& JsonWriter::Time(int64_t unix_ms) {
  return String(FormatRfc3339Millis(unix_ms));
}

JsonWriter& JsonWriter::OptionalTime(const std::optional<int64_t>& unix_ms) {
  if (unix_ms) return Time(*unix_ms);
  writer_.Null();
  return *this;
}

JsonWriter& JsonWriter::Value(const rapidjson::Value& value) {
  // Value::Accept would recurse once per level; this walks with a heap stack
  // of the containers still open and writes the same tokens.
  struct Open {
    const rapidjson::Value* value;
    rapidjson::SizeType next;  // index of the next member or element
  };
  std::vector<Open> open;
  // Writes a scalar, or starts a container and leaves it open.
  const auto begin = [&](const rapidjson::Value& v) {
    if (v.IsObject()) {
      writer_.StartObject();
      open.push_back({&v, 0});
    } else if (v.IsArray()) {
      writer_.StartArray();
      open.push_back({&v, 0});
    } else {
      v.Accept(writer_);
    }
  };
  begin(value);
  while (!open.empty()) {
    const rapidjson::Value& v = *open.back().value;
    const rapidjson::SizeType i = open.back().next++;
    if (v.IsObject()) {
      if (i == v.MemberCount()) {
        writer_.EndObject(i);
        open.pop_back();
        continue;
      }
      const auto& member = *(v.MemberBegin() + i);
      writer_.Key(member.name.GetString(), member.name.GetStringLength());
      begin(member.value);
    } else if (i == v.Size()) {
      writer_.EndArray(i);
      open.pop_back();
    } else {
      begin(v[i]);
    }
  }
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  // RawValue writes the separator the value needs (its type only says it is
  // not a key); the text is then copied at once, where RawValue would copy it
  // byte by byte, which a checkpoint of a megabyte notices.
  writer_.RawValue(json.data(), 0, rapidjson::kObjectType);
  std::memcpy(buffer_.Push(json.size()), json.data(), json.size());
  return *this;
}

std::string JsonWriter::Take() {
  return std::string(buffer_.GetString(), buffer_.GetSize());
}

std::string JsonQuote(std::string_view text) {
  return JsonWriter().String(text).Take();
}

FieldReader::FieldReader(const rapidjson::Value& value, std::string what, std::string prefix)
    : object_(value), what_(std::move(what)), prefix_(std::move(prefix)) {
  if (!object_.IsObject()) {
    if (prefix_.empty()) {
      status_ = Status::Corruption(what_ + ": " + Expected("a JSON object", object_));
    } else {
      // The prefix names this object as "tasks[2]."; drop the dot to name it.
      Fail("", Expected("an object", object_));
    }
  }
}

void FieldReader::Fail(std::string_view name, std::string_view problem) {
  if (!status_.ok()) return;
  std::string field = prefix_ + std::string(name);
  if (name.empty() && !field.empty() && field.back() == '.') field.pop_back();
  status_ = Status::Corruption(what_ + ": field '" + field + "': " + std::string(problem));
}

void FieldReader::Merge(const Status& status) {
  if (status_.ok()) status_ = status;
}

const rapidjson::Value* FieldReader::Find(const char* name) {
  if (!status_.ok()) return nullptr;
  auto member = object_.FindMember(name);
  if (member == object_.MemberEnd()) {
    Fail(name, "missing");
    return nullptr;
  }
  return &member->value;
}

std::string FieldReader::String(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return {};
  if (!v->IsString()) {
    Fail(name, Expected("a string", *v));
    return {};
  }
  return std::string(v->GetString(), v->GetStringLength());
}

int FieldReader::Int(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return 0;
  if (!v->IsInt()) {
    Fail(name, IntegerProblem(*v, "a 32-bit integer"));
    return 0;
  }
  return v->GetInt();
}

int64_t FieldReader::Int64(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return 0;
  if (!v->IsInt64()) {
    Fail(name, IntegerProblem(*v, "an integer"));
    return 0;
  }
  return v->GetInt64();
}

uint64_t FieldReader::Uint64(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return 0;
  if (!v->IsUint64()) {
    Fail(name, IntegerProblem(*v, "an unsigned integer"));
    return 0;
  }
  return v->GetUint64();
}

bool FieldReader::Bool(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return false;
  if (!v->IsBool()) {
    Fail(name, Expected("a boolean", *v));
    return false;
  }
  return v->GetBool();
}

double FieldReader::Double(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return 0;
  if (!v->IsNumber()) {
    Fail(name, Expected("a number", *v));
    return 0;
  }
  return v->GetDouble();
}

bool FieldReader::Has(const char* name) const {
  // Not an object (the constructor recorded that): it has no members.
  return object_.IsObject() && object_.FindMember(name) != object_.MemberEnd();
}

std::optional<int> FieldReader::OptionalInt(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr || v->IsNull()) return std::nullopt;
  if (!v->IsInt()) {
    Fail(name, IntegerProblem(*v, "a 32-bit integer or null"));
    return std::nullopt;
  }
  return v->GetInt();
}

int64_t FieldReader::Time(const char* name) {
  std::string text = String(name);
  if (!ok()) return 0;
  Result<int64_t> ms = ParseRfc3339Millis(text);
  if (!ms.ok()) {
    Fail(name, ms.status().message());
    return 0;
  }
  return *ms;
}

std::optional<int64_t> FieldReader::OptionalTime(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr || v->IsNull()) return std::nullopt;
  return Time(name);
}

const rapidjson::Value* FieldReader::Array(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return nullptr;
  if (!v->IsArray()) {
    Fail(name, Expected("an array", *v));
    return nullptr;
  }
  return v;
}

const rapidjson::Value* FieldReader::Object(const char* name) {
  const rapidjson::Value* v = Find(name);
  if (v == nullptr) return nullptr;
  if (!v->IsObject()) {
    Fail(name, Expected("an object", *v));
    return nullptr;
  }
  return v;
}

}  // namespace taskmaster
