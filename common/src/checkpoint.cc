#include "taskmaster/checkpoint.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "taskmaster/checksum.h"
#include "taskmaster/json.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"
#include "taskmaster/time.h"
#include "taskmaster/utf8.h"

namespace taskmaster {
namespace {

using rapidjson::SizeType;

// Iterative: no recursion, so no nesting can exhaust the stack. Numbers as
// strings: a payload's numbers keep their exact text, and the envelope's
// integers are checked digit by digit.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

// DESIGN.md §9: the keys, in this order.
constexpr std::array<std::string_view, 9> kKeys = {"format",     "workflow_id", "task_id",
                                                   "fence",      "seq",         "generation",
                                                   "created_at", "payload",     "checksum"};
enum KeyIndex {
  kFormatKey,
  kWorkflowIdKey,
  kTaskIdKey,
  kFenceKey,
  kSeqKey,
  kGenerationKey,
  kCreatedAtKey,
  kPayloadKey,
  kChecksumKey,
};

constexpr std::string_view kChecksumTag = "xxh3:";
constexpr size_t kHexDigits = 16;
// 9999-12-31T23:59:59.999Z, the last time RFC 3339's four-digit year can hold.
constexpr int64_t kMaxCreatedAtMs = 253402300799999;

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Text from a damaged document, quoted and shortened for a message.
std::string Quote(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  if (text.size() <= kMaxShown) return JsonQuote(text);
  return JsonQuote(Utf8Prefix(text, kMaxShown)) + "...";
}

// created_at: exactly the RFC 3339 form time.h writes, from 1970 on.
bool ParseCreatedAt(std::string_view text, int64_t* unix_ms) {
  auto parsed = ParseRfc3339Millis(text);
  if (!parsed.ok() || *parsed < 0) return false;
  *unix_ms = *parsed;
  return true;
}

// A non-negative integer as JSON writes it: digits, no sign, no leading zero,
// no fraction or exponent, within int64.
bool ParseNonNegative(std::string_view text, int64_t* value) {
  if (text.empty() || text.size() > 19 || (text.size() > 1 && text[0] == '0')) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return false;
  *value = static_cast<int64_t>(v);
  return true;
}

bool IsTaggedHex(std::string_view text) {
  if (text.size() != kChecksumTag.size() + kHexDigits ||
      text.substr(0, kChecksumTag.size()) != kChecksumTag) {
    return false;
  }
  return std::all_of(text.begin() + kChecksumTag.size(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The document for valid fields and an already compact payload. The
// checksum is XXH3 of the document with its digits written as zeros.
std::string BuildDocument(const CheckpointFields& f, std::string_view payload) {
  JsonWriter w(payload.size() + f.workflow_id.size() + f.task_id.size() + 200);
  w.StartObject();
  w.Key(kKeys[kFormatKey]).Int(kCheckpointFormat);
  w.Key(kKeys[kWorkflowIdKey]).String(f.workflow_id);
  w.Key(kKeys[kTaskIdKey]).String(f.task_id);
  w.Key(kKeys[kFenceKey]).Int64(f.fence);
  w.Key(kKeys[kSeqKey]).Int64(f.seq);
  w.Key(kKeys[kGenerationKey]).Int64(f.generation);
  w.Key(kKeys[kCreatedAtKey]).Time(f.created_at_ms);
  w.Key(kKeys[kPayloadKey]).Raw(payload);
  w.Key(kKeys[kChecksumKey]).String(std::string(kChecksumTag) + std::string(kHexDigits, '0'));
  w.EndObject();
  std::string doc = w.Take();
  const size_t digits_at = doc.size() - kHexDigits - 2;  // before the closing "}
  doc.replace(digits_at, kHexDigits, Hex64(Xxh3(doc)));
  return doc;
}

// A rapidjson output stream that stops growing at a limit, so an oversized
// payload costs at most the limit in memory before it is refused.
class BoundedStringStream {
 public:
  using Ch = char;
  BoundedStringStream(std::string* out, size_t limit) : out_(out), limit_(limit) {}
  void Put(char c) {
    if (out_->size() < limit_) {
      out_->push_back(c);
    } else {
      overflowed_ = true;
    }
  }
  void Flush() {}
  bool overflowed() const { return overflowed_; }

 private:
  std::string* out_;
  size_t limit_;
  bool overflowed_ = false;
};

// A SAX handler that re-serializes what it is given as compact JSON, up to
// protocol::kMaxPayloadBytes. The writer validates string encoding because the
// parser lets a lone low-surrogate escape (\udc00) through as invalid UTF-8.
class CompactWriter {
 public:
  explicit CompactWriter(std::string* out)
      : stream_(out, protocol::kMaxPayloadBytes), writer_(stream_) {}

  bool Null() { return Done(writer_.Null()); }
  bool Bool(bool b) { return Done(writer_.Bool(b)); }
  // RapidJSON 1.1's Writer::RawNumber would quote the number; RawValue does not.
  bool RawNumber(const char* str, SizeType length, bool) {
    return Done(writer_.RawValue(str, length, rapidjson::kNumberType));
  }
  bool String(const char* str, SizeType length, bool) { return Done(writer_.String(str, length)); }
  bool StartObject() { return Done(writer_.StartObject()); }
  bool Key(const char* str, SizeType length, bool) { return Done(writer_.Key(str, length)); }
  bool EndObject(SizeType) { return Done(writer_.EndObject()); }
  bool StartArray() { return Done(writer_.StartArray()); }
  bool EndArray(SizeType) { return Done(writer_.EndArray()); }
  // Numbers arrive as RawNumber (kParseNumbersAsStringsFlag), never as these.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }

  bool overflowed() const { return stream_.overflowed(); }

 private:
  bool Done(bool written) { return written && !stream_.overflowed(); }

  BoundedStringStream stream_;
  rapidjson::Writer<BoundedStringStream, rapidjson::UTF8<>, rapidjson::UTF8<>,
                    rapidjson::CrtAllocator, rapidjson::kWriteValidateEncodingFlag>
      writer_;
};

std::string PayloadLimitMessage() {
  return "over the limit of " + std::to_string(protocol::kMaxPayloadBytes) +
         " bytes in compact form";
}

// One top-level member of a checkpoint document as it was read.
struct Member {
  enum class Kind { kString, kNumber, kOther };
  std::string key;
  Kind kind = Kind::kOther;
  std::string text;  // a string's value or a number's text
  size_t end = 0;    // offset just past the value, for strings and numbers
};

// Reads a checkpoint document's top-level members in order, without judging
// them, and streams the first "payload" member through a CompactWriter.
class EnvelopeHandler {
 public:
  EnvelopeHandler(const rapidjson::MemoryStream* stream, std::string* payload)
      : stream_(stream), payload_(payload) {}

  bool Null() {
    return Scalar(Member::Kind::kOther, {}, [&] { return payload_.Null(); });
  }
  bool Bool(bool b) {
    return Scalar(Member::Kind::kOther, {}, [&] { return payload_.Bool(b); });
  }
  bool RawNumber(const char* str, SizeType length, bool copy) {
    return Scalar(Member::Kind::kNumber, {str, length},
                  [&] { return payload_.RawNumber(str, length, copy); });
  }
  bool String(const char* str, SizeType length, bool copy) {
    return Scalar(Member::Kind::kString, {str, length},
                  [&] { return payload_.String(str, length, copy); });
  }
  bool Key(const char* str, SizeType length, bool copy) {
    if (depth_ == 1) {
      members_.emplace_back().key.assign(str, length);
      return true;
    }
    return !capturing_ || Forward(payload_.Key(str, length, copy));
  }
  bool StartObject() {
    if (depth_ == 0) {
      depth_ = 1;
      return true;
    }
    return Open([&] { return payload_.StartObject(); });
  }
  bool EndObject(SizeType count) {
    return Close([&] { return payload_.EndObject(count); });
  }
  bool StartArray() {
    if (depth_ == 0) return Fail("not a JSON object");
    return Open([&] { return payload_.StartArray(); });
  }
  bool EndArray(SizeType count) {
    return Close([&] { return payload_.EndArray(count); });
  }
  // Numbers arrive as RawNumber (kParseNumbersAsStringsFlag), never as these.
  bool Int(int) { return false; }
  bool Uint(unsigned) { return false; }
  bool Int64(int64_t) { return false; }
  bool Uint64(uint64_t) { return false; }
  bool Double(double) { return false; }

  const std::vector<Member>& members() const { return members_; }
  const std::string& error() const { return error_; }

 private:
  template <typename Fn>
  bool Scalar(Member::Kind kind, std::string_view text, Fn forward) {
    if (depth_ == 0) return Fail("not a JSON object");
    if (depth_ > 1) return !capturing_ || Forward(forward());
    Member& member = members_.back();
    member.kind = kind;
    member.text = std::string(text);
    member.end = stream_->Tell();
    if (!StartsPayload(member)) return true;
    return Forward(forward());
  }

  template <typename Fn>
  bool Open(Fn forward) {
    ++depth_;
    if (depth_ == 2) {
      members_.back().kind = Member::Kind::kOther;
      capturing_ = StartsPayload(members_.back());
    }
    return !capturing_ || Forward(forward());
  }

  template <typename Fn>
  bool Close(Fn forward) {
    --depth_;
    if (!capturing_) return true;
    if (depth_ == 1) capturing_ = false;
    return Forward(forward());
  }

  // Only the first "payload" member is kept; a second one is refused later.
  bool StartsPayload(const Member& member) {
    if (member.key != kKeys[kPayloadKey] || payload_seen_) return false;
    payload_seen_ = true;
    return true;
  }

  bool Forward(bool ok) {
    if (ok) return true;
    return Fail(payload_.overflowed()
                    ? "field 'payload': " + PayloadLimitMessage()
                    : "field 'payload': a string is not valid UTF-8 (unpaired surrogate escape)");
  }

  bool Fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  const rapidjson::MemoryStream* stream_;
  CompactWriter payload_;
  int depth_ = 0;  // 1 inside the document's object
  bool capturing_ = false;
  bool payload_seen_ = false;
  std::vector<Member> members_;
  std::string error_;
};

Status FieldError(KeyIndex key, const std::string& problem) {
  return Status::Corruption("field '" + std::string(kKeys[key]) + "': " + problem);
}

std::string Got(const Member& m) {
  switch (m.kind) {
    case Member::Kind::kString:
      return "got the string " + Quote(m.text);
    case Member::Kind::kNumber:  // JSON number syntax: printable ASCII
      return "got " + (m.text.size() <= 32 ? m.text : m.text.substr(0, 32) + "...");
    case Member::Kind::kOther:
      break;
  }
  return "got another type";
}

// Every member present once and in order, or the first one that is not.
Status CheckKeys(const std::vector<Member>& members) {
  const auto present = [&](std::string_view key) {
    return std::any_of(members.begin(), members.end(),
                       [&](const Member& m) { return m.key == key; });
  };
  for (size_t i = 0; i < members.size(); ++i) {
    const std::string& key = members[i].key;
    if (i < kKeys.size() && key == kKeys[i]) continue;
    const auto known = std::find(kKeys.begin(), kKeys.end(), key);
    if (known == kKeys.end()) return Status::Corruption("unexpected field " + Quote(key));
    if (static_cast<size_t>(known - kKeys.begin()) < i) {
      return Status::Corruption("duplicate field '" + key + "'");
    }
    const std::string expected(kKeys[i]);
    if (present(expected)) return Status::Corruption("field '" + expected + "' is out of order");
    return Status::Corruption("missing field '" + expected + "'");
  }
  if (members.size() < kKeys.size()) {
    return Status::Corruption("missing field '" + std::string(kKeys[members.size()]) + "'");
  }
  return Status::OK();
}

Status ReadId(const Member& m, KeyIndex key, std::string_view what, std::string* out) {
  if (m.kind != Member::Kind::kString) return FieldError(key, "expected a string, " + Got(m));
  Status s = ValidateId(m.text, what);
  if (!s.ok()) return FieldError(key, s.message());
  *out = m.text;
  return Status::OK();
}

Status ReadCount(const Member& m, KeyIndex key, int64_t* out) {
  if (m.kind != Member::Kind::kNumber || !ParseNonNegative(m.text, out)) {
    return FieldError(key, "expected a non-negative integer, " + Got(m));
  }
  return Status::OK();
}

Status ReadFields(const std::vector<Member>& members, CheckpointFields* f) {
  TM_RETURN_IF_ERROR(CheckKeys(members));
  const Member& format = members[kFormatKey];
  if (format.kind != Member::Kind::kNumber || format.text != std::to_string(kCheckpointFormat)) {
    return FieldError(kFormatKey,
                      "expected " + std::to_string(kCheckpointFormat) + ", " + Got(format));
  }
  TM_RETURN_IF_ERROR(
      ReadId(members[kWorkflowIdKey], kWorkflowIdKey, "workflow ID", &f->workflow_id));
  TM_RETURN_IF_ERROR(ReadId(members[kTaskIdKey], kTaskIdKey, "task ID", &f->task_id));
  TM_RETURN_IF_ERROR(ReadCount(members[kFenceKey], kFenceKey, &f->fence));
  TM_RETURN_IF_ERROR(ReadCount(members[kSeqKey], kSeqKey, &f->seq));
  TM_RETURN_IF_ERROR(ReadCount(members[kGenerationKey], kGenerationKey, &f->generation));
  const Member& created = members[kCreatedAtKey];
  if (created.kind != Member::Kind::kString || !ParseCreatedAt(created.text, &f->created_at_ms)) {
    return FieldError(kCreatedAtKey,
                      "expected an RFC 3339 UTC time with milliseconds like "
                      "\"2026-11-29T00:28:02.123Z\", " +
                          Got(created));
  }
  return Status::OK();
}

// The checksum member must be "xxh3:<16 hex>" written plainly, so that its
// digits can be zeroed in place; then XXH3 of the bytes must match them.
Status CheckChecksum(std::string_view doc, const std::vector<Member>& members) {
  const auto it = std::find_if(members.begin(), members.end(),
                               [](const Member& m) { return m.key == kKeys[kChecksumKey]; });
  if (it == members.end()) return Status::Corruption("missing field 'checksum'");
  const Member& m = *it;
  const std::string expected = "expected \"xxh3:<16 lower-case hex>\", ";
  if (m.kind != Member::Kind::kString || !IsTaggedHex(m.text)) {
    return FieldError(kChecksumKey, expected + Got(m));
  }
  // m.end is just past the closing quote.
  const size_t quoted = m.text.size() + 2;
  if (m.end < quoted || doc.substr(m.end - quoted + 1, m.text.size()) != m.text) {
    return FieldError(kChecksumKey, expected + "written with escapes");
  }
  const size_t digits_at = m.end - 1 - kHexDigits;
  static constexpr char kZeros[kHexDigits] = {'0', '0', '0', '0', '0', '0', '0', '0',
                                              '0', '0', '0', '0', '0', '0', '0', '0'};
  Xxh3Stream hash;
  hash.Update(doc.substr(0, digits_at));
  hash.Update(std::string_view(kZeros, kHexDigits));
  hash.Update(doc.substr(digits_at + kHexDigits));
  const std::string computed = std::string(kChecksumTag) + Hex64(hash.Digest());
  if (computed != m.text) {
    return Status::Corruption("checksum mismatch: stored " + m.text + ", computed " + computed);
  }
  return Status::OK();
}

Status CheckFieldsForEncode(const CheckpointFields& f) {
  const auto field = [](KeyIndex key, const Status& s) {
    return Status::InvalidArgument("checkpoint field '" + std::string(kKeys[key]) +
                                   "': " + s.message());
  };
  Status s = ValidateId(f.workflow_id, "workflow ID");
  if (!s.ok()) return field(kWorkflowIdKey, s);
  s = ValidateId(f.task_id, "task ID");
  if (!s.ok()) return field(kTaskIdKey, s);
  const std::pair<KeyIndex, int64_t> counts[] = {
      {kFenceKey, f.fence}, {kSeqKey, f.seq}, {kGenerationKey, f.generation}};
  for (const auto& [key, value] : counts) {
    if (value < 0) {
      return field(key, Status::InvalidArgument(std::to_string(value) + " is negative"));
    }
  }
  if (f.created_at_ms < 0 || f.created_at_ms > kMaxCreatedAtMs) {
    return field(kCreatedAtKey,
                 Status::InvalidArgument(std::to_string(f.created_at_ms) +
                                         " ms is outside 1970-01-01T00:00:00.000Z to "
                                         "9999-12-31T23:59:59.999Z"));
  }
  return Status::OK();
}

}  // namespace

Result<std::string> EncodeCheckpoint(const CheckpointFields& fields,
                                     std::string_view payload_json) {
  TM_RETURN_IF_ERROR(CheckFieldsForEncode(fields));
  std::string payload;
  rapidjson::MemoryStream stream(payload_json.data(), payload_json.size());
  CompactWriter writer(&payload);
  rapidjson::Reader reader;
  const rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, writer);
  if (writer.overflowed()) return Status::TooLarge("checkpoint payload: " + PayloadLimitMessage());
  if (result.Code() == rapidjson::kParseErrorTermination) {
    return Status::InvalidArgument("checkpoint payload: string at byte " +
                                   std::to_string(result.Offset()) +
                                   " is not valid UTF-8 (unpaired surrogate escape)");
  }
  if (result.IsError()) {
    return Status::InvalidArgument("checkpoint payload: " +
                                   DescribeJsonError(result.Code(), result.Offset()));
  }
  // The stream reads a NUL byte as its end; one after the value is not JSON.
  if (stream.Tell() != payload_json.size()) {
    return Status::InvalidArgument("checkpoint payload: invalid JSON at byte " +
                                   std::to_string(stream.Tell()) + ": unexpected NUL byte");
  }
  return BuildDocument(fields, payload);
}

Result<Checkpoint> VerifyCheckpoint(std::string_view document) {
  std::string_view doc = document;
  while (!doc.empty() && IsJsonSpace(doc.back())) doc.remove_suffix(1);
  if (doc.empty()) return Status::Corruption("truncated at byte 0: the document is empty");

  Checkpoint checkpoint;
  rapidjson::MemoryStream stream(doc.data(), doc.size());
  EnvelopeHandler handler(&stream, &checkpoint.payload);
  rapidjson::Reader reader;
  const rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, handler);
  if (result.IsError()) {
    if (!handler.error().empty()) return Status::Corruption(handler.error());
    if (result.Offset() >= doc.size()) {
      return Status::Corruption("truncated at byte " + std::to_string(doc.size()));
    }
    return Status::Corruption(DescribeJsonError(result.Code(), result.Offset()));
  }
  if (stream.Tell() != doc.size()) {
    return Status::Corruption("invalid JSON at byte " + std::to_string(stream.Tell()) +
                              ": unexpected NUL byte after the object");
  }

  TM_RETURN_IF_ERROR(CheckChecksum(doc, handler.members()));
  TM_RETURN_IF_ERROR(ReadFields(handler.members(), &checkpoint.fields));
  checkpoint.checksum = handler.members()[kChecksumKey].text;

  // Any other spelling of the same fields (spaces, escapes, number forms)
  // would let two byte strings stand for one checkpoint; only one is valid.
  const std::string canonical = BuildDocument(checkpoint.fields, checkpoint.payload);
  if (canonical != doc) {
    const auto diff = std::mismatch(doc.begin(), doc.end(), canonical.begin(), canonical.end());
    return Status::Corruption("not in canonical form: differs from its re-encoding at byte " +
                              std::to_string(diff.first - doc.begin()));
  }
  return checkpoint;
}

}  // namespace taskmaster
