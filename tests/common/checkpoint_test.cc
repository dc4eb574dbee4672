#include "taskmaster/checkpoint.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <random>
#include <string>

#include "golden.h"
#include "taskmaster/checksum.h"
#include "taskmaster/protocol.h"

using taskmaster::Checkpoint;
using taskmaster::CheckpointFields;
using taskmaster::EncodeCheckpoint;
using taskmaster::Result;
using taskmaster::VerifyCheckpoint;
using taskmaster::testing::ReadGolden;

namespace {

// The document pinned in tests/golden/checkpoint.json.
CheckpointFields GoldenFields() {
  CheckpointFields f;
  f.workflow_id = "nightly-etl";
  f.task_id = "tenants/acme/2026-11-28";
  f.fence = 3;
  f.seq = 42;
  f.generation = 2;
  f.created_at_ms = 1795912082123;  // 2026-11-29T00:28:02.123Z
  return f;
}
constexpr const char* kGoldenPayloadInput =
    R"({ "next": 42, "done": ["a", "b"], "note": "caf\u00e9" })";
constexpr const char* kGoldenDocument =
    R"({"format":1,"workflow_id":"nightly-etl","task_id":"tenants/acme/2026-11-28",)"
    R"("fence":3,"seq":42,"generation":2,"created_at":"2026-11-29T00:28:02.123Z",)"
    R"("payload":{"next":42,"done":["a","b"],"note":"café"},)"
    R"("checksum":"xxh3:a4dadb4788a02dbd"})";

std::string Encode(const CheckpointFields& f, std::string_view payload) {
  Result<std::string> doc = EncodeCheckpoint(f, payload);
  BOOST_REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
  return *doc;
}

// Where the 16 hex digits of the document's checksum start.
size_t ChecksumDigits(const std::string& doc) {
  const size_t tag = doc.rfind("\"checksum\":\"xxh3:");
  BOOST_REQUIRE(tag != std::string::npos);
  return tag + std::string("\"checksum\":\"xxh3:").size();
}

// Sets a correct checksum on a hand-edited document, the way someone who
// knows the rule would, so only the other checks can refuse it.
std::string Rechecksum(std::string doc) {
  const size_t at = ChecksumDigits(doc);
  doc.replace(at, 16, std::string(16, '0'));
  doc.replace(at, 16, taskmaster::Hex64(taskmaster::Xxh3(doc)));
  return doc;
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no \"" << from << "\" in the document");
  return text.replace(at, from.size(), to);
}

// The message of a verification that must fail as corruption.
std::string CorruptionMessage(std::string_view doc) {
  Result<Checkpoint> r = VerifyCheckpoint(doc);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "verified: " << doc);
  BOOST_TEST(r.status().IsCorruption(), r.status().ToString());
  return r.status().message();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A damaged document and a part of the message that refuses it.
struct Refusal {
  std::string doc;
  const char* message;
};

// Each document, passed through `prepare` first, is refused with its message.
template <size_t N>
void CheckRefusals(
    const Refusal (&cases)[N],
    std::string (*prepare)(std::string) = [](std::string doc) { return doc; }) {
  for (const Refusal& c : cases) {
    BOOST_TEST_CONTEXT("expecting " << c.message) {
      const std::string message = CorruptionMessage(prepare(c.doc));
      BOOST_TEST(Contains(message, c.message), message);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(encodes_known_document_byte_for_byte) {
  BOOST_TEST(Encode(GoldenFields(), kGoldenPayloadInput) == kGoldenDocument);
}

BOOST_AUTO_TEST_CASE(checksum_covers_the_line_with_its_digits_zeroed) {
  std::string zeroed = kGoldenDocument;
  zeroed.replace(ChecksumDigits(zeroed), 16, std::string(16, '0'));
  BOOST_TEST(taskmaster::Hex64(taskmaster::Xxh3(zeroed)) == "a4dadb4788a02dbd");
}

BOOST_AUTO_TEST_CASE(golden_file_verifies_and_reencodes) {
  const std::string file = ReadGolden("checkpoint.json");
  BOOST_TEST(file == std::string(kGoldenDocument) + "\n");
  Result<Checkpoint> ck = VerifyCheckpoint(file);
  BOOST_REQUIRE_MESSAGE(ck.ok(), ck.status().ToString());
  const CheckpointFields want = GoldenFields();
  BOOST_TEST(ck->fields.workflow_id == want.workflow_id);
  BOOST_TEST(ck->fields.task_id == want.task_id);
  BOOST_TEST(ck->fields.fence == want.fence);
  BOOST_TEST(ck->fields.seq == want.seq);
  BOOST_TEST(ck->fields.generation == want.generation);
  BOOST_TEST(ck->fields.created_at_ms == want.created_at_ms);
  BOOST_TEST(ck->payload == R"({"next":42,"done":["a","b"],"note":"café"})");
  BOOST_TEST(ck->checksum == "xxh3:a4dadb4788a02dbd");
  BOOST_TEST(Encode(ck->fields, ck->payload) + "\n" == file);
}

BOOST_AUTO_TEST_CASE(round_trips_edge_values) {
  CheckpointFields f;
  f.workflow_id = "wf \"quoted\" \\ back/slash é 日本";
  f.task_id = taskmaster::kWorkflowCheckpointTaskId;
  f.fence = INT64_MAX;
  f.seq = 0;
  f.generation = 1;
  f.created_at_ms = 253402300799999;  // 9999-12-31T23:59:59.999Z
  const std::string doc = Encode(f, R"({"counts":{"succeeded":3},"last":"t/2"})");
  BOOST_TEST(Contains(doc, R"("created_at":"9999-12-31T23:59:59.999Z")"));
  BOOST_TEST(Contains(doc, R"("workflow_id":"wf \"quoted\" \\ back/slash é 日本")"));
  Result<Checkpoint> ck = VerifyCheckpoint(doc);
  BOOST_REQUIRE_MESSAGE(ck.ok(), ck.status().ToString());
  BOOST_TEST(ck->fields.workflow_id == f.workflow_id);
  BOOST_TEST(ck->fields.task_id == "*");
  BOOST_TEST(ck->fields.fence == INT64_MAX);
  BOOST_TEST(ck->fields.seq == 0);
  BOOST_TEST(ck->fields.created_at_ms == f.created_at_ms);
  BOOST_TEST(ck->payload == R"({"counts":{"succeeded":3},"last":"t/2"})");

  f.created_at_ms = 0;
  BOOST_TEST(Contains(Encode(f, "null"), R"("created_at":"1970-01-01T00:00:00.000Z")"));
  f.created_at_ms = 1709208000000;
  BOOST_TEST(Contains(Encode(f, "null"), R"("created_at":"2024-02-29T12:00:00.000Z")"));
}

BOOST_AUTO_TEST_CASE(payload_is_reserialized_compactly) {
  const CheckpointFields f = GoldenFields();
  const struct {
    const char* input;
    const char* compact;
  } cases[] = {
      {R"({ "a" : [1, 2] })", R"({"a":[1,2]})"},
      {" \n\t 7 \r\n", "7"},
      {R"("x")", R"("x")"},
      {"[ ]", "[]"},
      {"{ }", "{}"},
      {R"([true, false, null])", "[true,false,null]"},
      // Numbers keep their exact text, beyond what a double could hold.
      {R"([1.50e3, -0, 12345678901234567890123])", "[1.50e3,-0,12345678901234567890123]"},
      // Escapes that need not be escapes are written plainly.
      {R"(["\u00e9\/\u0041", "\ud83d\ude00"])", R"(["é/A","😀"])"},
      {R"(["tab\there", "nul\u0000"])", R"(["tab\there","nul\u0000"])"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("payload " << c.input) {
      Result<Checkpoint> ck = VerifyCheckpoint(Encode(f, c.input));
      BOOST_REQUIRE_MESSAGE(ck.ok(), ck.status().ToString());
      BOOST_TEST(ck->payload == c.compact);
    }
  }
}

BOOST_AUTO_TEST_CASE(invalid_payload_is_refused) {
  const struct {
    std::string input;
    const char* message;
  } cases[] = {
      {"", "checkpoint payload: invalid JSON at byte 0: The document is empty"},
      {"{", "checkpoint payload: invalid JSON at byte 1"},
      {"[1,]", "checkpoint payload: invalid JSON at byte 3"},
      {R"({"a":1} x)", "checkpoint payload: invalid JSON at byte 8"},
      {"NaN", "checkpoint payload: invalid JSON at byte 0"},
      {R"("\ud800")", "checkpoint payload: invalid JSON at byte 1"},
      {R"("\udc00")", "not valid UTF-8 (unpaired surrogate escape)"},
      {"\"\xff\"", "checkpoint payload: invalid JSON at byte 1: Invalid encoding in string"},
      {"\"\xc0\xaf\"", "Invalid encoding in string"},
      {std::string("{}\0{}", 5), "checkpoint payload: invalid JSON at byte 2: unexpected NUL"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("payload " << c.input) {
      Result<std::string> doc = EncodeCheckpoint(GoldenFields(), c.input);
      BOOST_REQUIRE(!doc.ok());
      BOOST_TEST(doc.status().IsInvalidArgument());
      BOOST_TEST(Contains(doc.status().message(), c.message), doc.status().message());
    }
  }
}

BOOST_AUTO_TEST_CASE(payload_limit_applies_to_the_compact_form) {
  const size_t limit = taskmaster::protocol::kMaxPayloadBytes;
  const std::string at_limit = "\"" + std::string(limit - 2, 'a') + "\"";
  Result<std::string> doc = EncodeCheckpoint(GoldenFields(), at_limit);
  BOOST_REQUIRE_MESSAGE(doc.ok(), doc.status().ToString());
  Result<Checkpoint> ck = VerifyCheckpoint(*doc);
  BOOST_REQUIRE_MESSAGE(ck.ok(), ck.status().ToString());
  BOOST_TEST(ck->payload.size() == limit);

  const std::string over = "\"" + std::string(limit - 1, 'a') + "\"";
  Result<std::string> refused = EncodeCheckpoint(GoldenFields(), over);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.status().IsTooLarge());
  BOOST_TEST(Contains(refused.status().message(), "over the limit of 1048576 bytes"));

  // Whitespace does not count: the input may exceed the limit.
  const std::string padded = std::string(limit, ' ') + "[1, 2]" + std::string(limit, '\n');
  Result<std::string> small = EncodeCheckpoint(GoldenFields(), padded);
  BOOST_REQUIRE_MESSAGE(small.ok(), small.status().ToString());
  BOOST_TEST(Contains(*small, R"("payload":[1,2],)"));

  // A document whose payload is over the limit does not verify either.
  const std::string big = Rechecksum(
      Replace(kGoldenDocument, R"("payload":{"next":42,)", R"("payload":{"big":)" + over + ","));
  BOOST_TEST(Contains(CorruptionMessage(big), "field 'payload': over the limit"));
}

BOOST_AUTO_TEST_CASE(deeply_nested_payload_neither_recurses_nor_crashes) {
  const size_t depth = 100000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  Result<Checkpoint> ck = VerifyCheckpoint(Encode(GoldenFields(), nested));
  BOOST_REQUIRE_MESSAGE(ck.ok(), ck.status().ToString());
  BOOST_TEST(ck->payload == nested);

  const std::string unclosed = std::string(depth, '[');
  BOOST_TEST(!EncodeCheckpoint(GoldenFields(), unclosed).ok());
  const std::string doc = R"({"format":1,"payload":)" + unclosed;
  BOOST_TEST(Contains(CorruptionMessage(doc), "truncated at byte"));
}

BOOST_AUTO_TEST_CASE(encode_refuses_invalid_fields_naming_them) {
  const struct {
    void (*edit)(CheckpointFields*);
    const char* message;
  } cases[] = {
      {[](CheckpointFields* f) { f->workflow_id.clear(); },
       "checkpoint field 'workflow_id': workflow ID is empty"},
      {[](CheckpointFields* f) { f->task_id = std::string(257, 't'); },
       "checkpoint field 'task_id': task ID is 257 bytes; the limit is 256"},
      {[](CheckpointFields* f) { f->task_id = "a\nb"; },
       "checkpoint field 'task_id': task ID contains control character U+000A"},
      {[](CheckpointFields* f) { f->workflow_id = "\xff"; },
       "checkpoint field 'workflow_id': workflow ID is not valid UTF-8"},
      {[](CheckpointFields* f) { f->fence = -1; }, "checkpoint field 'fence': -1 is negative"},
      {[](CheckpointFields* f) { f->seq = -5; }, "checkpoint field 'seq': -5 is negative"},
      {[](CheckpointFields* f) { f->generation = INT64_MIN; }, "checkpoint field 'generation'"},
      {[](CheckpointFields* f) { f->created_at_ms = -1; }, "checkpoint field 'created_at'"},
      {[](CheckpointFields* f) { f->created_at_ms = 253402300800000; },
       "checkpoint field 'created_at'"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("expecting " << c.message) {
      CheckpointFields f = GoldenFields();
      c.edit(&f);
      Result<std::string> doc = EncodeCheckpoint(f, "{}");
      BOOST_REQUIRE(!doc.ok());
      BOOST_TEST(doc.status().IsInvalidArgument());
      BOOST_TEST(Contains(doc.status().message(), c.message), doc.status().message());
    }
  }
}

BOOST_AUTO_TEST_CASE(trailing_whitespace_after_the_object_verifies) {
  for (const char* tail : {"", "\n", "\r\n", " ", "\t", "\n\n  \n"}) {
    BOOST_TEST_CONTEXT("tail of " << std::string(tail).size() << " bytes") {
      Result<Checkpoint> ck = VerifyCheckpoint(std::string(kGoldenDocument) + tail);
      BOOST_TEST(ck.ok(), ck.status().ToString());
    }
  }
  for (const char* tail : {"\v", "\f", "x", "{}", "\n}"}) {
    BOOST_TEST_CONTEXT("tail " << tail) {
      CorruptionMessage(std::string(kGoldenDocument) + tail);
    }
  }
  BOOST_TEST(Contains(CorruptionMessage(std::string(kGoldenDocument) + std::string("\0", 1)),
                      "unexpected NUL byte"));
}

BOOST_AUTO_TEST_CASE(every_changed_byte_fails) {
  const std::string file = ReadGolden("checkpoint.json");
  for (size_t i = 0; i < file.size(); ++i) {
    const char original = file[i];
    const char printable = original == 'Z' ? 'Y' : 'Z';
    for (char changed : {static_cast<char>(original ^ 0x01), printable}) {
      std::string doc = file;
      doc[i] = changed;
      Result<Checkpoint> ck = VerifyCheckpoint(doc);
      BOOST_TEST(!ck.ok(), "byte " << i << " changed to " << int(changed) << " verified");
      BOOST_TEST(ck.status().IsCorruption());
    }
  }
}

BOOST_AUTO_TEST_CASE(every_truncation_fails) {
  const std::string file = ReadGolden("checkpoint.json");
  const size_t object_end = file.size() - 1;  // without the "\n"
  for (size_t len = 0; len < object_end; ++len) {
    Result<Checkpoint> ck = VerifyCheckpoint(std::string_view(file).substr(0, len));
    BOOST_TEST(!ck.ok(), "truncated to " << len << " bytes verified");
    BOOST_TEST(ck.status().IsCorruption());
  }
  BOOST_TEST(VerifyCheckpoint(std::string_view(file).substr(0, object_end)).ok());
  BOOST_TEST(CorruptionMessage(file.substr(0, 100)) == "truncated at byte 100");
  BOOST_TEST(CorruptionMessage("") == "truncated at byte 0: the document is empty");
  BOOST_TEST(CorruptionMessage(" \n") == "truncated at byte 0: the document is empty");
}

BOOST_AUTO_TEST_CASE(changed_value_reports_checksum_mismatch) {
  const std::string doc = Replace(kGoldenDocument, R"("seq":42)", R"("seq":43)");
  const std::string message = CorruptionMessage(doc);
  BOOST_TEST(Contains(message, "checksum mismatch: stored xxh3:a4dadb4788a02dbd, computed xxh3:"),
             message);
  std::string recomputed = doc;
  recomputed.replace(ChecksumDigits(doc), 16, std::string(16, '0'));
  BOOST_TEST(Contains(message, "computed " + taskmaster::Xxh3Tagged(recomputed)), message);
}

// Hand edits with a correct checksum: the checksum alone cannot catch them,
// the structural checks must, and each message names what is wrong.
BOOST_AUTO_TEST_CASE(rechecksummed_edits_are_refused_naming_the_field) {
  const std::string golden = kGoldenDocument;
  const Refusal cases[] = {
      {Replace(golden, R"(,"checksum")", R"(,"extra":1,"checksum")"), "unexpected field \"extra\""},
      {Replace(golden, R"({"format":1,)", R"({"format":1,"note":"x",)"),
       "unexpected field \"note\""},
      {Replace(golden, R"("format":1)", R"("format":2)"), "field 'format': expected 1, got 2"},
      {Replace(golden, R"("format":1)", R"("format":"1")"),
       "field 'format': expected 1, got the string \"1\""},
      {Replace(golden, R"("format":1,)", ""), "missing field 'format'"},
      {Replace(golden, R"("generation":2,)", ""), "missing field 'generation'"},
      {Replace(golden, R"("fence":3,"seq":42)", R"("seq":42,"fence":3)"),
       "field 'fence' is out of order"},
      {Replace(golden, R"("seq":42,)", R"("seq":42,"seq":42,)"), "duplicate field 'seq'"},
      {Replace(golden, R"("seq":42)", R"("seq":-1)"),
       "field 'seq': expected a non-negative integer, got -1"},
      {Replace(golden, R"("seq":42)", R"("seq":4.2)"), "field 'seq': expected a non-negative"},
      {Replace(golden, R"("seq":42)", R"("seq":42e0)"), "field 'seq': expected a non-negative"},
      {Replace(golden, R"("seq":42)", R"("seq":"42")"), "field 'seq': expected a non-negative"},
      {Replace(golden, R"("fence":3)", R"("fence":9223372036854775808)"),
       "field 'fence': expected a non-negative integer"},
      {Replace(golden, R"("generation":2)", R"("generation":null)"),
       "field 'generation': expected a non-negative integer, got another type"},
      {Replace(golden, R"("workflow_id":"nightly-etl")", R"("workflow_id":"")"),
       "field 'workflow_id': workflow ID is empty"},
      {Replace(golden, R"("task_id":"tenants/acme/2026-11-28")", R"("task_id":7)"),
       "field 'task_id': expected a string"},
      {Replace(golden, R"("task_id":"tenants)", R"("task_id":"\u0007tenants)"),
       "field 'task_id': task ID contains control character U+0007 at byte 0"},
      {Replace(golden, "2026-11-29T00:28:02.123Z", "2026-02-30T00:28:02.123Z"),
       "field 'created_at': expected an RFC 3339 UTC time"},
      {Replace(golden, "2026-11-29T00:28:02.123Z", "2026-11-29T24:28:02.123Z"),
       "field 'created_at'"},
      {Replace(golden, "2026-11-29T00:28:02.123Z", "2026-11-29T00:28:02Z"), "field 'created_at'"},
      {Replace(golden, "2026-11-29T00:28:02.123Z", "2026-11-29T00:28:02.123+00:00"),
       "field 'created_at'"},
      {Replace(golden, "2026-11-29T00:28:02.123Z", "1969-12-31T23:59:59.999Z"),
       "field 'created_at'"},
      {Replace(golden, R"("payload":{"next":42,)", R"("payload":{"next":42,"s":"\udc00",)"),
       "field 'payload': a string is not valid UTF-8"},
      {Replace(golden, R"(,"checksum")", R"(,"payload":1,"checksum")"),
       "duplicate field 'payload'"},
      // Same fields, other bytes: only the canonical spelling is valid.
      {Replace(golden, R"({"format":1,)", R"({ "format":1,)"), "not in canonical form"},
      {Replace(golden, R"("payload":{"next":42,)", R"("payload":{"next": 42,)"),
       "not in canonical form: differs from its re-encoding at byte 168"},
      {Replace(golden, R"("task_id":"tenants)", R"("task_id":"\u0074enants)"),
       "not in canonical form"},
      {Replace(golden, R"(a02dbd"})", R"(a02dbd" })"), "not in canonical form"},
  };
  CheckRefusals(cases, Rechecksum);
}

BOOST_AUTO_TEST_CASE(malformed_documents_are_refused_with_a_reason) {
  const std::string golden = kGoldenDocument;
  const Refusal cases[] = {
      {"[1,2]", "not a JSON object"},
      {R"("checkpoint")", "not a JSON object"},
      {"42", "not a JSON object"},
      {"{}", "missing field 'checksum'"},
      {"{\"format\":1", "truncated at byte 11"},
      {"{\"format\":1,}", "invalid JSON at byte 12"},
      {"\xff", "invalid JSON at byte 0"},
      {Replace(golden, "xxh3:a4dadb4788a02dbd", "xxh3:A4DADB4788A02DBD"),
       "field 'checksum': expected \"xxh3:<16 lower-case hex>\", got the string"},
      {Replace(golden, "xxh3:a4dadb4788a02dbd", "crc32:a4dadb47"), "field 'checksum'"},
      {Replace(golden, "xxh3:a4dadb4788a02dbd", "xxh3:a4dadb4788a02db"), "field 'checksum'"},
      {Replace(golden, "\"xxh3:a4dadb4788a02dbd\"", "7"),
       "field 'checksum': expected \"xxh3:<16 lower-case hex>\", got 7"},
      {Replace(golden, "xxh3:a4dadb", "xxh3\\u003aa4dadb"), "field 'checksum'"},
      {Replace(golden, R"(,"checksum":"xxh3:a4dadb4788a02dbd")", ""), "missing field 'checksum'"},
  };
  CheckRefusals(cases);
}

BOOST_AUTO_TEST_CASE(random_damage_never_verifies_or_crashes) {
  std::mt19937 rng(20261129);  // fixed: a failure must reproduce
  const std::string golden = kGoldenDocument;
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 2000; ++round) {
    std::string doc = golden;
    const int changes = 1 + round % 4;
    for (int k = 0; k < changes; ++k) {
      std::uniform_int_distribution<size_t> pos(0, doc.size() - 1);
      const size_t at = pos(rng);
      char c = static_cast<char>(byte(rng));
      if (c == doc[at]) c = static_cast<char>(c ^ 0x20);
      doc[at] = c;
    }
    if (doc == golden) continue;  // a later change undid an earlier one
    BOOST_TEST(!VerifyCheckpoint(doc).ok(), "verified: " << doc);
  }
  for (int round = 0; round < 500; ++round) {
    std::string noise(static_cast<size_t>(round), '\0');
    for (char& c : noise) c = static_cast<char>(byte(rng));
    BOOST_TEST(!VerifyCheckpoint(noise).ok());
  }
}

BOOST_AUTO_TEST_SUITE_END()
