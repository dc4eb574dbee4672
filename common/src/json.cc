#include "taskmaster/json.h"

#include <rapidjson/error/en.h>

#include <cctype>
#include <cstring>
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

// Whether `text` holds a number (outside strings) that RapidJSON 1.1.0's exact
// reading (kParseFullPrecisionFlag) gets wrong: a zero with an exponent ("0e77"
// reads as 1.26e263, through undefined behaviour: __builtin_clz(0), a shift
// past 63 bits), or an exponent of 300 or more either way (a long mantissa
// with e-357 reads past its table of powers: a crash;
// fuzz/regressions/api_request). Its fast reading handles both.
bool HasRiskyNumber(std::string_view text) {
  bool in_string = false;
  size_t mantissa_start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (!std::isdigit(static_cast<unsigned char>(c)) && c != '.') {
      if ((c == 'e' || c == 'E') && i > mantissa_start) {
        const std::string_view mantissa = text.substr(mantissa_start, i - mantissa_start);
        if (mantissa.find_first_not_of("0.") == std::string_view::npos) return true;
        size_t j = i + 1;
        if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
        while (j < text.size() && text[j] == '0') ++j;
        int64_t exponent = 0;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) &&
               exponent < 300) {
          exponent = exponent * 10 + (text[j++] - '0');
        }
        if (exponent >= 300) return true;
      }
      mantissa_start = i + 1;
    }
  }
  return false;
}

}  // namespace

Status ParseJson(std::string_view text, std::string_view what, rapidjson::Document* doc,
                 JsonNumbers numbers) {
  if (numbers == JsonNumbers::kExact && !HasRiskyNumber(text)) {
    doc->Parse<kUntrustedParseFlags | rapidjson::kParseFullPrecisionFlag>(text.data(), text.size());
  } else {
    doc->Parse<kUntrustedParseFlags>(text.data(), text.size());
  }
  const rapidjson::ParseResult result(doc->GetParseError(), doc->GetErrorOffset());
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
