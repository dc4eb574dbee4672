// Crash safety: a FaultInjectionEnv stops every write from some step on, then
// drops what was never synced, as a power loss there would; the files must still
// hold everything that was reported durable.
#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "fault_env.h"
#include "taskmaster/env.h"
#include "taskmaster/journal.h"

namespace taskmaster {
namespace {

using testing::FaultInjectionEnv;
using testing::ScopedTempDir;
using testing::UnsyncedTail;

constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();

// What a power loss may leave of an unsynced tail: nothing, a torn header, a
// torn payload, everything, or zeros where a record was going.
const UnsyncedTail kTails[] = {{0, false}, {20, false}, {45, false}, {kAll, false}, {40, true}};

std::string Read(const std::string& path) {
  auto bytes = Env::Default()->ReadFile(path);
  BOOST_REQUIRE(bytes.ok());
  return *bytes;
}

std::vector<std::string> JournalPayloads() {
  return {std::string(100, 'a'), "",  std::string(5000, 'c'),
          std::string(33, 'd'),  "e", std::string(70000, 'f')};
}

// Two writer sessions with sync on, and between them a crash mid-append whose
// half-record reached the disk, so the second session has a tail to truncate.
// Stops at the first failure; returns how many payloads were acknowledged.
size_t AppendAcrossSessions(Env* env, const std::string& path) {
  const std::vector<std::string> payloads = JournalPayloads();
  const size_t half = payloads.size() / 2;
  size_t acked = 0;
  {
    auto writer = JournalWriter::Open(env, path, {/*sync=*/true});
    if (!writer.ok()) return acked;
    for (; acked < half; ++acked) {
      if (!(*writer)->Append(3, 0, payloads[acked]).ok()) return acked;
    }
  }
  {
    auto file = env->NewAppendableFile(path);
    if (!file.ok()) return acked;
    const std::string torn = EncodeJournalRecord(half + 1, 6, 0, std::string(90, 'x'));
    if (!(*file)->Append(torn.substr(0, 70)).ok() || !(*file)->Sync().ok()) return acked;
  }
  auto writer = JournalWriter::Open(env, path, {/*sync=*/true});
  if (!writer.ok()) return acked;
  for (; acked < payloads.size(); ++acked) {
    if (!(*writer)->Append(3, 0, payloads[acked]).ok()) return acked;
  }
  return acked;
}

// One crash of a sweep: at which mutating step of how many it came, and what
// of the unsynced data the power loss kept.
struct Crash {
  uint64_t at;
  uint64_t steps;
  UnsyncedTail tail;
};

// The crash sweep: runs `whole` once on a FaultInjectionEnv without faults, in
// a dir of its own, to count its mutating steps; then `crash_at` for every step
// a crash may come at (the last, `steps`, is none) and every tail of kTails.
template <typename Whole, typename CrashAt>
void AtEveryCrash(Whole whole, CrashAt crash_at) {
  uint64_t steps = 0;
  {
    ScopedTempDir dir;
    FaultInjectionEnv env(Env::Default());
    whole(&env, dir);
    steps = env.mutating_ops();
  }
  for (uint64_t at = 0; at <= steps; ++at) {
    for (const UnsyncedTail& tail : kTails) {
      BOOST_TEST_CONTEXT("crash at step " << at << " of " << steps << ", keeping "
                                          << tail.keep_bytes << " unsynced bytes"
                                          << (tail.zero_fill ? " as zeros" : "")) {
        crash_at(Crash{at, steps, tail});
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crash_safety)

BOOST_AUTO_TEST_CASE(fault_env_keeps_synced_bytes_and_what_the_tail_says) {
  struct Case {
    UnsyncedTail tail;
    std::string want;
  };
  const Case cases[] = {{{0, false}, "synced"},
                        {{3, false}, "synced-un"},
                        {{kAll, false}, "synced-unsynced"},
                        {{3, true}, std::string("synced\0\0\0", 9)}};
  for (const Case& c : cases) {
    ScopedTempDir dir;
    const std::string path = dir.Join("file");
    FaultInjectionEnv env(Env::Default());
    {
      auto file = env.NewWritableFile(path);
      BOOST_REQUIRE(file.ok());
      BOOST_REQUIRE(env.SyncDir(dir.path()).ok());
      BOOST_REQUIRE((*file)->Append("synced").ok());
      BOOST_REQUIRE((*file)->Sync().ok());
      BOOST_REQUIRE((*file)->Append("-unsynced").ok());
    }
    BOOST_REQUIRE(env.DropUnsyncedData(c.tail).ok());
    BOOST_TEST(Read(path) == c.want);
  }
}

BOOST_AUTO_TEST_CASE(fault_env_undoes_directory_changes_not_synced) {
  ScopedTempDir dir;
  const std::string created = dir.Join("created");
  const std::string ack = dir.Join("ack");
  const std::string tmp = dir.Join("ack.tmp");
  const std::string removed = dir.Join("removed");
  BOOST_REQUIRE(WriteFileAtomic(Env::Default(), ack, "old", true).ok());
  BOOST_REQUIRE(WriteFileAtomic(Env::Default(), removed, "kept", true).ok());

  FaultInjectionEnv env(Env::Default());
  BOOST_REQUIRE(WriteFileAtomic(&env, tmp, "new", /*sync=*/true).ok());
  {
    auto file = env.NewWritableFile(created);
    BOOST_REQUIRE(file.ok());
    BOOST_REQUIRE((*file)->Append("synced data, unsynced name").ok());
    BOOST_REQUIRE((*file)->Sync().ok());
  }
  BOOST_REQUIRE(env.Rename(tmp, ack).ok());
  BOOST_REQUIRE(env.RemoveFile(removed).ok());
  BOOST_REQUIRE(env.DropUnsyncedData().ok());

  BOOST_TEST(!env.FileExists(created));
  BOOST_TEST(Read(ack) == "old");
  BOOST_TEST(Read(tmp) == "new");  // its own creation was synced
  BOOST_TEST(Read(removed) == "kept");

  BOOST_REQUIRE(env.Rename(tmp, ack).ok());
  BOOST_REQUIRE(env.SyncDir(dir.path()).ok());
  BOOST_REQUIRE(env.DropUnsyncedData().ok());
  BOOST_TEST(Read(ack) == "new");
  BOOST_TEST(!env.FileExists(tmp));
}

BOOST_AUTO_TEST_CASE(fault_env_fails_every_operation_from_the_nth) {
  ScopedTempDir dir;
  FaultInjectionEnv env(Env::Default());
  env.FailFrom(2);
  auto file = env.NewWritableFile(dir.Join("file"));  // 0
  BOOST_REQUIRE(file.ok());
  BOOST_TEST((*file)->Append("written").ok());  // 1
  Status failed = (*file)->Sync();              // 2
  BOOST_TEST(failed.IsIOError());
  BOOST_TEST(failed.message() == "injected fault");
  BOOST_TEST((*file)->Append("never").IsIOError());  // 3
  BOOST_TEST(env.SyncDir(dir.path()).IsIOError());   // 4
  BOOST_TEST(env.mutating_ops() == 5u);
  BOOST_TEST(Read(dir.Join("file")) == "written");
}

BOOST_AUTO_TEST_CASE(journal_keeps_every_acknowledged_record_through_a_crash_at_any_step) {
  const std::vector<std::string> payloads = JournalPayloads();
  const auto write = [](Env* env, const ScopedTempDir& dir) {
    return AppendAcrossSessions(env, dir.Join("journal"));
  };
  AtEveryCrash([&](Env* env,
                   const ScopedTempDir& dir) { BOOST_REQUIRE(write(env, dir) == payloads.size()); },
               [&](const Crash& crash) {
                 ScopedTempDir dir;
                 const std::string path = dir.Join("journal");
                 FaultInjectionEnv env(Env::Default());
                 env.FailFrom(crash.at);
                 const size_t acked = write(&env, dir);
                 BOOST_REQUIRE(env.DropUnsyncedData(crash.tail).ok());

                 if (!Env::Default()->FileExists(path)) {
                   BOOST_TEST(acked == 0u);
                   return;
                 }
                 auto reader = JournalReader::Open(Env::Default(), path);
                 BOOST_REQUIRE(reader.ok());
                 JournalRecord record;
                 JournalReader::Outcome outcome;
                 size_t read = 0;
                 while ((outcome = (*reader)->Next(&record)) == JournalReader::Outcome::kRecord) {
                   BOOST_REQUIRE(read < payloads.size());
                   BOOST_TEST(record.seq == read + 1);
                   BOOST_TEST(record.payload == payloads[read]);
                   ++read;
                 }
                 BOOST_TEST_INFO("reader: " << (*reader)->message());
                 BOOST_TEST((outcome == JournalReader::Outcome::kEnd ||
                             outcome == JournalReader::Outcome::kTornTail));
                 // Every acknowledged record, and at most the one in flight besides.
                 BOOST_TEST(read >= acked);
                 BOOST_TEST(read <= acked + 1);

                 auto writer = JournalWriter::Open(Env::Default(), path, {/*sync=*/true});
                 BOOST_REQUIRE(writer.ok());
                 BOOST_TEST((*writer)->last_seq() == read);
                 const uint64_t end = (*writer)->size();
                 auto seq = (*writer)->Append(8, 0, "after the crash");
                 BOOST_REQUIRE(seq.ok());
                 BOOST_TEST(*seq == read + 1);
                 auto again = JournalReader::Open(Env::Default(), path, end);
                 BOOST_REQUIRE(again.ok());
                 BOOST_REQUIRE(((*again)->Next(&record) == JournalReader::Outcome::kRecord));
                 BOOST_TEST(record.payload == "after the crash");
                 BOOST_TEST(((*again)->Next(&record) == JournalReader::Outcome::kEnd));
               });
}

BOOST_AUTO_TEST_CASE(ack_replace_leaves_old_or_new_after_a_crash_at_any_step) {
  // FileSync::kContentsAndName (a pod role's files) and kContents (local mode's
  // ack: its bytes synced before the rename, the rename itself not): a crash at
  // any step leaves the old or the new contents whole, never a mix or a torn
  // file; with the name synced too, a replace that returned OK survives.
  const std::string old_ack = "{\"seq\":41,\"offset\":4096}\n";
  const std::string new_ack = "{\"seq\":42,\"offset\":8192}\n";
  for (const FileSync sync : {FileSync::kContentsAndName, FileSync::kContents}) {
    BOOST_TEST_CONTEXT("sync " << static_cast<int>(sync)) {
      AtEveryCrash(
          [&](Env* env, const ScopedTempDir& dir) {
            BOOST_REQUIRE(WriteFileAtomic(env, dir.Join("ack"), new_ack, sync).ok());
          },
          [&](const Crash& crash) {
            ScopedTempDir dir;
            const std::string path = dir.Join("ack");
            BOOST_REQUIRE(
                WriteFileAtomic(Env::Default(), path, old_ack, FileSync::kContentsAndName).ok());
            FaultInjectionEnv env(Env::Default());
            env.FailFrom(crash.at);
            const Status replaced = WriteFileAtomic(&env, path, new_ack, sync);
            BOOST_REQUIRE(env.DropUnsyncedData(crash.tail).ok());

            const std::string now = Read(path);
            BOOST_TEST_INFO("ack holds \"" << now << "\"");
            BOOST_TEST((now == old_ack || now == new_ack));
            if (replaced.ok() && sync == FileSync::kContentsAndName) BOOST_TEST(now == new_ack);
            BOOST_TEST(replaced.ok() == (crash.at == crash.steps));
          });
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace taskmaster
