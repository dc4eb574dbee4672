#include "taskmaster/journal.h"

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fault_env.h"
#include "taskmaster/env.h"
#include "taskmaster/protocol.h"

namespace taskmaster {
namespace {

using testing::FaultInjectionEnv;
using testing::ScopedTempDir;
using Outcome = JournalReader::Outcome;

std::string Name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kRecord:
      return "record";
    case Outcome::kEnd:
      return "end";
    case Outcome::kTornTail:
      return "torn tail";
    case Outcome::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

struct Spec {
  uint16_t type = 0;
  uint16_t flags = 0;
  std::string payload;
};

// n bytes that differ from record to record.
std::string Payload(size_t n, uint32_t tag) {
  std::string bytes(n, '\0');
  std::mt19937 gen(tag);
  for (char& c : bytes) c = static_cast<char>(gen());
  return bytes;
}

// The bytes a writer would produce for specs, and where each record ends.
std::string Encode(const std::vector<Spec>& specs, std::vector<uint64_t>* ends) {
  std::string journal;
  for (size_t i = 0; i < specs.size(); ++i) {
    journal += EncodeJournalRecord(i + 1, specs[i].type, specs[i].flags, specs[i].payload);
    ends->push_back(journal.size());
  }
  return journal;
}

void WriteRaw(const std::string& path, std::string_view bytes) {
  auto file = Env::Default()->NewWritableFile(path);
  BOOST_REQUIRE(file.ok());
  BOOST_REQUIRE((*file)->Append(bytes).ok());
  BOOST_REQUIRE((*file)->Close().ok());
}

std::string ReadRaw(const std::string& path) {
  auto bytes = Env::Default()->ReadFile(path);
  BOOST_REQUIRE(bytes.ok());
  return *bytes;
}

struct ReadAll {
  std::vector<JournalRecord> records;
  Outcome outcome = Outcome::kEnd;
  std::string message;
};

ReadAll ReadJournal(const std::string& path, uint64_t offset = 0) {
  auto reader = JournalReader::Open(Env::Default(), path, offset);
  BOOST_REQUIRE(reader.ok());
  ReadAll all;
  JournalRecord record;
  while ((all.outcome = (*reader)->Next(&record)) == Outcome::kRecord) {
    all.records.push_back(record);
  }
  BOOST_REQUIRE((*reader)->io_status().ok());
  all.message = (*reader)->message();
  return all;
}

void CheckRecord(const JournalRecord& got, const Spec& want, uint64_t seq) {
  BOOST_TEST(got.seq == seq);
  BOOST_TEST(got.type == want.type);
  BOOST_TEST(got.flags == want.flags);
  BOOST_TEST(got.payload == want.payload);
  BOOST_TEST(got.end_offset == got.offset + kJournalHeaderBytes + want.payload.size());
}

uint32_t TestSeed() {
  if (const char* seed = std::getenv("TM_TEST_SEED")) return std::stoul(seed);
  return std::random_device{}();
}

// A small journal whose every byte a test can damage.
std::vector<Spec> SmallJournal() {
  return {{1, 0, Payload(10, 1)},  {2, 0, ""},
          {3, 1, Payload(100, 3)}, {4, 0, Payload(33, 4)},
          {7, 1, Payload(1, 5)},   {8, 0, Payload(17, 6)}};
}

// The fixture of the cases that damage SmallJournal's bytes: its records
// encoded, where each ends, and a path for them in a temp dir.
struct SmallJournalFile {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  const std::vector<Spec> specs = SmallJournal();
  std::vector<uint64_t> ends;
  const std::string journal = Encode(specs, &ends);  // after `ends`, which it fills
};

}  // namespace

BOOST_AUTO_TEST_SUITE(journal)

BOOST_AUTO_TEST_CASE(records_of_every_size_type_and_flags_round_trip) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  std::vector<Spec> specs;
  const size_t sizes[] = {0, 1, 31, 32, 33, 4095, 4096, 65537, protocol::kMaxRecordBytes};
  for (size_t size : sizes) specs.push_back({4, protocol::kFlagSync, Payload(size, size)});
  std::mt19937 gen(7);
  for (uint32_t i = 0; i < 300; ++i) {
    specs.push_back({static_cast<uint16_t>(1 + i % 8), static_cast<uint16_t>(gen() % 4),
                     Payload(gen() % 2000, i)});
  }
  specs.push_back({0xffff, 0xffff, "extremes"});

  auto writer = JournalWriter::Open(Env::Default(), path, {});
  BOOST_REQUIRE(writer.ok());
  for (size_t i = 0; i < specs.size(); ++i) {
    auto seq = (*writer)->Append(specs[i].type, specs[i].flags, specs[i].payload);
    BOOST_REQUIRE(seq.ok());
    BOOST_TEST(*seq == i + 1);
  }
  BOOST_TEST((*writer)->last_seq() == specs.size());
  BOOST_TEST((*writer)->size() == ReadRaw(path).size());

  ReadAll all = ReadJournal(path);
  BOOST_TEST(Name(all.outcome) == "end");
  BOOST_TEST(all.message.empty());
  BOOST_REQUIRE(all.records.size() == specs.size());
  uint64_t offset = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    CheckRecord(all.records[i], specs[i], i + 1);
    BOOST_TEST(all.records[i].offset == offset);
    offset = all.records[i].end_offset;
  }
  BOOST_TEST(offset == (*writer)->size());
}

BOOST_AUTO_TEST_CASE(reader_resumes_from_an_end_offset) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  const std::vector<Spec> specs = SmallJournal();
  std::vector<uint64_t> ends;
  WriteRaw(path, Encode(specs, &ends));

  for (size_t start = 0; start < specs.size(); ++start) {
    BOOST_TEST_CONTEXT("resuming after record " << start) {
      ReadAll rest = ReadJournal(path, start == 0 ? 0 : ends[start - 1]);
      BOOST_TEST(Name(rest.outcome) == "end");
      BOOST_REQUIRE(rest.records.size() == specs.size() - start);
      for (size_t i = 0; i < rest.records.size(); ++i) {
        CheckRecord(rest.records[i], specs[start + i], start + i + 1);
      }
    }
  }
  BOOST_TEST(Name(ReadJournal(path, ends.back()).outcome) == "end");
  auto past_end = JournalReader::Open(Env::Default(), path, ends.back() + 1);
  BOOST_TEST(past_end.status().IsInvalidArgument());
}

BOOST_AUTO_TEST_CASE(live_reader_follows_the_writer) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  auto writer = JournalWriter::Open(Env::Default(), path, {});
  BOOST_REQUIRE(writer.ok());
  auto reader = JournalReader::Open(Env::Default(), path);
  BOOST_REQUIRE(reader.ok());
  JournalRecord record;
  BOOST_TEST(Name((*reader)->Next(&record)) == "end");

  for (uint64_t seq = 1; seq <= 3; ++seq) {
    BOOST_REQUIRE((*writer)->Append(3, 0, Payload(50, seq)).ok());
    BOOST_REQUIRE(Name((*reader)->Next(&record)) == "record");
    BOOST_TEST(record.seq == seq);
    BOOST_TEST(record.payload == Payload(50, seq));
    BOOST_TEST(Name((*reader)->Next(&record)) == "end");
    BOOST_TEST((*reader)->offset() == (*writer)->size());
  }

  // A writer caught mid-append: the reader waits at the record's start.
  const std::string next = EncodeJournalRecord(4, 5, 0, Payload(80, 4));
  const uint64_t before = (*reader)->offset();
  auto raw = Env::Default()->NewAppendableFile(path);
  BOOST_REQUIRE(raw.ok());
  size_t written = 0;
  for (size_t cut : {size_t{10}, kJournalHeaderBytes, size_t{60}}) {
    BOOST_REQUIRE((*raw)->Append(next.substr(written, cut - written)).ok());
    written = cut;
    BOOST_TEST(Name((*reader)->Next(&record)) == "torn tail");
    BOOST_TEST((*reader)->offset() == before);
  }
  BOOST_REQUIRE((*raw)->Append(next.substr(written)).ok());
  BOOST_REQUIRE(Name((*reader)->Next(&record)) == "record");
  BOOST_TEST(record.seq == 4u);
  BOOST_TEST(record.payload == Payload(80, 4));

  // A writer reopened on the grown file continues the seq, and the reader sees it.
  writer = JournalWriter::Open(Env::Default(), path, {});
  BOOST_REQUIRE(writer.ok());
  BOOST_TEST((*writer)->last_seq() == 4u);
  BOOST_REQUIRE((*writer)->Append(6, 0, "note").ok());
  BOOST_REQUIRE(Name((*reader)->Next(&record)) == "record");
  BOOST_TEST(record.seq == 5u);
  BOOST_TEST(record.payload == "note");
  BOOST_TEST(Name((*reader)->Next(&record)) == "end");
}

BOOST_FIXTURE_TEST_CASE(every_truncation_yields_the_whole_records_before_the_cut,
                        SmallJournalFile) {
  for (size_t cut = 0; cut <= journal.size(); ++cut) {
    BOOST_TEST_CONTEXT("cut at " << cut) {
      size_t whole = 0;
      while (whole < ends.size() && ends[whole] <= cut) ++whole;
      const uint64_t boundary = whole == 0 ? 0 : ends[whole - 1];
      WriteRaw(path, std::string_view(journal).substr(0, cut));

      ReadAll all = ReadJournal(path);
      BOOST_REQUIRE(all.records.size() == whole);
      for (size_t i = 0; i < whole; ++i) CheckRecord(all.records[i], specs[i], i + 1);
      BOOST_TEST(Name(all.outcome) == (cut == boundary ? "end" : "torn tail"));

      auto writer = JournalWriter::Open(Env::Default(), path, {});
      BOOST_REQUIRE(writer.ok());
      BOOST_TEST((*writer)->truncated_bytes() == cut - boundary);
      BOOST_TEST((*writer)->last_seq() == whole);
      BOOST_TEST((*writer)->size() == boundary);
      BOOST_TEST(ReadRaw(path) == journal.substr(0, boundary));
    }
  }
}

BOOST_FIXTURE_TEST_CASE(bit_flips_are_never_returned_and_are_told_apart, SmallJournalFile) {
  const uint32_t seed = TestSeed();
  BOOST_TEST_MESSAGE("bit flip seed " << seed << " (set TM_TEST_SEED to repeat it)");
  std::mt19937 gen(seed);
  std::uniform_int_distribution<size_t> byte_at(0, journal.size() - 1);

  int corrupt = 0;
  int torn = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t pos = byte_at(gen);
    const int bit = static_cast<int>(gen() % 8);
    BOOST_TEST_CONTEXT("seed " << seed << ", bit " << bit << " of byte " << pos) {
      std::string damaged = journal;
      damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << bit));
      WriteRaw(path, damaged);
      size_t hit = 0;
      while (ends[hit] <= pos) ++hit;
      const uint64_t hit_offset = hit == 0 ? 0 : ends[hit - 1];
      const bool last = hit + 1 == specs.size();

      ReadAll all = ReadJournal(path);
      BOOST_REQUIRE(all.records.size() == hit);
      for (size_t i = 0; i < hit; ++i) CheckRecord(all.records[i], specs[i], i + 1);
      BOOST_TEST(Name(all.outcome) == (last ? "torn tail" : "corrupt"));
      BOOST_TEST(all.message.find("offset " + std::to_string(hit_offset) + ":") !=
                 std::string::npos);

      auto writer = JournalWriter::Open(Env::Default(), path, {});
      if (last) {
        BOOST_REQUIRE(writer.ok());
        BOOST_TEST((*writer)->size() == hit_offset);
        ++torn;
      } else {
        BOOST_TEST(writer.status().IsCorruption());
        BOOST_TEST(ReadRaw(path) == damaged);
        ++corrupt;
      }
    }
  }
  // Both kinds of damage were exercised.
  BOOST_TEST(corrupt > 0);
  BOOST_TEST(torn > 0);
}

BOOST_FIXTURE_TEST_CASE(zero_filled_tail_is_torn_and_zeros_before_a_record_are_corrupt,
                        SmallJournalFile) {
  const std::string zeros(4096, '\0');

  WriteRaw(path, journal + zeros);
  ReadAll all = ReadJournal(path);
  BOOST_TEST(all.records.size() == specs.size());
  BOOST_TEST(Name(all.outcome) == "torn tail");
  BOOST_TEST(all.message.find("zero-filled header") != std::string::npos);

  WriteRaw(path, journal + zeros + EncodeJournalRecord(7, 6, 0, "after the hole"));
  all = ReadJournal(path);
  BOOST_TEST(all.records.size() == specs.size());
  BOOST_TEST(Name(all.outcome) == "corrupt");
  BOOST_TEST(all.message.find("follows at offset " + std::to_string(journal.size() + 4096)) !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_valid_record_far_after_the_damage_makes_it_corrupt) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  const std::string first = EncodeJournalRecord(1, 3, 0, "first");
  const std::string later = EncodeJournalRecord(3, 6, 0, "later");
  // Holes that put the later header across and past the reader's 1 MiB search
  // chunks, which it reads from one byte after the damaged header.
  const size_t mib = size_t{1} << 20;
  for (size_t hole : {mib - 10, mib + 1, 2 * mib + 5}) {
    BOOST_TEST_CONTEXT("hole of " << hole << " bytes") {
      WriteRaw(path, first + std::string(hole, '\0') + later);
      ReadAll all = ReadJournal(path);
      BOOST_TEST(all.records.size() == 1u);
      BOOST_TEST(Name(all.outcome) == "corrupt");
      BOOST_TEST(all.message.find("follows at offset " + std::to_string(first.size() + hole)) !=
                 std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(record_bytes_inside_a_damaged_last_payload_do_not_count_as_a_later_record) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  const std::string first = EncodeJournalRecord(1, 3, 0, "first");
  std::string last = EncodeJournalRecord(2, 6, 0, EncodeJournalRecord(9, 6, 0, "nested"));
  last.back() ^= 1;
  WriteRaw(path, first + last);

  ReadAll all = ReadJournal(path);
  BOOST_TEST(all.records.size() == 1u);
  BOOST_TEST(Name(all.outcome) == "torn tail");
  BOOST_TEST(all.message.find("payload checksum mismatch") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(length_over_the_limit_in_a_header_is_damage) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  const std::string first = EncodeJournalRecord(1, 3, 0, "first");
  const std::string huge =
      EncodeJournalRecord(2, 4, 0, std::string(protocol::kMaxRecordBytes + 1, 'x'));

  WriteRaw(path, first + huge);
  ReadAll all = ReadJournal(path);
  BOOST_TEST(all.records.size() == 1u);
  BOOST_TEST(Name(all.outcome) == "torn tail");
  BOOST_TEST(all.message.find("over the limit") != std::string::npos);

  WriteRaw(path, first + huge + EncodeJournalRecord(3, 6, 0, "third"));
  all = ReadJournal(path);
  BOOST_TEST(all.records.size() == 1u);
  BOOST_TEST(Name(all.outcome) == "corrupt");
}

BOOST_FIXTURE_TEST_CASE(writer_truncates_a_torn_tail_and_continues_the_seq, SmallJournalFile) {
  const std::string torn = EncodeJournalRecord(specs.size() + 1, 5, 0, Payload(300, 9));
  WriteRaw(path, journal + torn.substr(0, 200));

  auto writer = JournalWriter::Open(Env::Default(), path, {});
  BOOST_REQUIRE(writer.ok());
  BOOST_TEST((*writer)->truncated_bytes() == 200u);
  BOOST_TEST((*writer)->last_seq() == specs.size());
  BOOST_TEST((*writer)->size() == journal.size());
  auto seq = (*writer)->Append(8, 0, "commit");
  BOOST_REQUIRE(seq.ok());
  BOOST_TEST(*seq == specs.size() + 1);

  ReadAll all = ReadJournal(path);
  BOOST_TEST(Name(all.outcome) == "end");
  BOOST_REQUIRE(all.records.size() == specs.size() + 1);
  CheckRecord(all.records.back(), {8, 0, "commit"}, specs.size() + 1);

  auto again = JournalWriter::Open(Env::Default(), path, {});
  BOOST_REQUIRE(again.ok());
  BOOST_TEST((*again)->truncated_bytes() == 0u);
  BOOST_TEST((*again)->last_seq() == specs.size() + 1);
}

BOOST_AUTO_TEST_CASE(writer_refuses_a_journal_corrupt_in_the_middle) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  std::vector<uint64_t> ends;
  std::string journal = Encode(SmallJournal(), &ends);
  journal[ends[1] + kJournalHeaderBytes + 5] ^= 0x20;  // record 3's payload
  WriteRaw(path, journal);

  auto writer = JournalWriter::Open(Env::Default(), path, {});
  BOOST_TEST(writer.status().IsCorruption());
  BOOST_TEST(writer.status().message().find("offset " + std::to_string(ends[1]) + ":") !=
             std::string::npos);
  BOOST_TEST(ReadRaw(path) == journal);
}

BOOST_AUTO_TEST_CASE(too_large_payload_is_refused_and_nothing_is_written) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  auto writer = JournalWriter::Open(Env::Default(), path, {});
  BOOST_REQUIRE(writer.ok());
  BOOST_REQUIRE((*writer)->Append(3, 0, "before").ok());
  const uint64_t size = (*writer)->size();

  auto refused = (*writer)->Append(4, 0, std::string(protocol::kMaxRecordBytes + 1, 'x'));
  BOOST_TEST(refused.status().IsTooLarge());
  BOOST_TEST((*writer)->size() == size);
  BOOST_TEST(ReadRaw(path).size() == size);
  BOOST_TEST((*writer)->last_seq() == 1u);

  // Refusing input is not a write failure: the writer goes on.
  auto seq = (*writer)->Append(3, 0, "after");
  BOOST_REQUIRE(seq.ok());
  BOOST_TEST(*seq == 2u);
}

BOOST_AUTO_TEST_CASE(failed_append_stops_the_writer_until_it_is_reopened) {
  ScopedTempDir dir;
  const std::string path = dir.Join("journal");
  FaultInjectionEnv env(Env::Default());
  auto writer = JournalWriter::Open(&env, path, {});
  BOOST_REQUIRE(writer.ok());
  BOOST_REQUIRE((*writer)->Append(3, 0, "one").ok());

  env.FailFrom(env.mutating_ops());
  BOOST_TEST((*writer)->Append(3, 0, "two").status().IsIOError());
  env.StopFailing();
  // The file may end in part of "two"; appending after it would bury that.
  BOOST_TEST((*writer)->Append(3, 0, "three").status().IsIOError());
  BOOST_TEST((*writer)->Sync().IsIOError());

  writer = JournalWriter::Open(&env, path, {});
  BOOST_REQUIRE(writer.ok());
  auto seq = (*writer)->Append(3, 0, "two again");
  BOOST_REQUIRE(seq.ok());
  BOOST_TEST(*seq == 2u);
}

BOOST_AUTO_TEST_CASE(sync_option_makes_every_append_durable) {
  for (bool sync : {false, true}) {
    BOOST_TEST_CONTEXT("sync " << sync) {
      ScopedTempDir dir;
      const std::string path = dir.Join("journal");
      FaultInjectionEnv env(Env::Default());
      {
        auto writer = JournalWriter::Open(&env, path, {sync});
        BOOST_REQUIRE(writer.ok());
        for (int i = 0; i < 3; ++i) BOOST_REQUIRE((*writer)->Append(5, 0, "progress").ok());
      }
      BOOST_REQUIRE(env.DropUnsyncedData().ok());
      const size_t survived = env.FileExists(path) ? ReadJournal(path).records.size() : 0;
      BOOST_TEST(survived == (sync ? 3u : 0u));
    }
  }
}

BOOST_AUTO_TEST_CASE(backpressure_starts_past_the_limit) {
  const uint64_t limit = protocol::kBackpressureBytes;
  BOOST_TEST(!NeedsBackpressure(limit, 0));
  BOOST_TEST(NeedsBackpressure(limit + 1, 0));
  BOOST_TEST(!NeedsBackpressure(limit + 1000, 1000));
  BOOST_TEST(NeedsBackpressure(limit + 1001, 1000));
  BOOST_TEST(!NeedsBackpressure(100, 100));
  BOOST_TEST(!NeedsBackpressure(100, 200));  // an ack past the end never blocks
  BOOST_TEST(!NeedsBackpressure(150, 100, 50));
  BOOST_TEST(NeedsBackpressure(151, 100, 50));
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace taskmaster
