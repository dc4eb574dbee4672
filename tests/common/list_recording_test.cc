// Recording a task list in two passes (tm-step init): the digest of the first
// pass and the records of the second are those of the list kept whole, and a
// file that reads differently the second time stops at the first record that
// differs.
#include "taskmaster/list_recording.h"

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "support/files.h"
#include "support/temp_dir.h"
#include "taskmaster/env.h"
#include "taskmaster/json.h"

namespace taskmaster {
namespace {

namespace pr = protocol;
using test_support::TempDir;
using test_support::WriteFile;

// `count` IDs of 250 bytes: 4,144 of them fill a kTaskList record (253 bytes
// each, encoded), so 9,000 make three records.
std::vector<std::string> LongIds(int count, char fill) {
  std::vector<std::string> ids;
  char prefix[16];
  for (int i = 0; i < count; ++i) {
    std::snprintf(prefix, sizeof(prefix), "%06d-", i);
    ids.push_back(prefix + std::string(243, fill));
  }
  return ids;
}

std::string Json(const std::vector<std::string>& ids) {
  JsonWriter w;
  w.StartArray();
  for (const std::string& id : ids) w.String(id);
  return w.EndArray().Take();
}

std::vector<pr::TaskListRecord> SecondPass(const std::string& arg, const TaskListDigest& digest,
                                           Status* status) {
  std::vector<pr::TaskListRecord> records;
  *status = ForEachTaskListRecord(Env::Default(), arg, digest, [&](pr::TaskListRecord& record) {
    records.push_back(record);
    return Status::OK();
  });
  return records;
}

void CheckSameRecords(const std::vector<pr::TaskListRecord>& got,
                      const std::vector<pr::TaskListRecord>& want) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    BOOST_TEST(got[i].first_ordinal == want[i].first_ordinal);
    BOOST_TEST(got[i].ids == want[i].ids);
  }
}

BOOST_AUTO_TEST_SUITE(list_recording)

BOOST_AUTO_TEST_CASE(the_two_passes_give_what_the_whole_list_gives) {
  TempDir dir("list-recording");
  const std::vector<std::string> ids = LongIds(9000, 'x');
  const std::vector<pr::TaskListRecord> whole = pr::ChunkTaskList(ids);
  BOOST_REQUIRE_EQUAL(whole.size(), 3u);
  WriteFile(dir / "ids.json", Json(ids));
  for (const std::string& arg : {"@" + (dir / "ids.json"), Json(ids)}) {
    auto digest = DigestTaskList(Env::Default(), arg);
    BOOST_REQUIRE_MESSAGE(digest.ok(), digest.status().ToString());
    BOOST_TEST(digest->count == 9000);
    BOOST_TEST(digest->list_hash == pr::ListHash(ids));
    BOOST_REQUIRE_EQUAL(digest->record_hashes.size(), 3u);
    BOOST_TEST(digest->record_hashes[1] == pr::ListHash(whole[1].ids));
    Status s;
    CheckSameRecords(SecondPass(arg, *digest, &s), whole);
    BOOST_TEST(s.ok(), s.ToString());
  }
}

BOOST_AUTO_TEST_CASE(the_first_pass_refuses_a_bad_list_as_the_scan_does) {
  TempDir dir("list-recording");
  WriteFile(dir / "bad.json", R"(["a", "b", "a"])");
  auto digest = DigestTaskList(Env::Default(), "@" + (dir / "bad.json"));
  BOOST_REQUIRE(!digest.ok());
  BOOST_TEST(digest.status().message() ==
             (dir / "bad.json") +
                 ": task list: item 2 (byte 11): duplicate task ID \"a\" (first at item 0)");
}

// The file changes between the passes: inside its second record, by ending a
// record early, or by a record more. Only records that match the digest are
// handed out.
BOOST_AUTO_TEST_CASE(a_list_that_reads_differently_stops_at_the_first_record_that_differs) {
  TempDir dir("list-recording");
  const std::string path = dir / "ids.json";
  const std::vector<std::string> ids = LongIds(9000, 'x');
  const std::vector<pr::TaskListRecord> whole = pr::ChunkTaskList(ids);
  BOOST_REQUIRE_EQUAL(whole.size(), 3u);
  const size_t two_records = static_cast<size_t>(whole[2].first_ordinal);
  const std::vector<std::string> first_two(ids.begin(), ids.begin() + two_records);
  std::vector<std::string> changed = ids;
  changed[whole[1].first_ordinal + 7] = std::string(250, 'y');
  const struct {
    const char* what;
    std::vector<std::string> first, second;
    size_t records;  // handed out before the stop
  } cases[] = {
      {"an ID of the second record changed", ids, changed, 1},
      {"the third record gone", ids, first_two, 2},
      {"a third record more", first_two, ids, 2},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.what) {
      WriteFile(path, Json(c.first));
      auto digest = DigestTaskList(Env::Default(), "@" + path);
      BOOST_REQUIRE(digest.ok());
      WriteFile(path, Json(c.second));
      Status s;
      const std::vector<pr::TaskListRecord> got = SecondPass("@" + path, *digest, &s);
      BOOST_TEST(s.IsIOError());
      BOOST_TEST(s.message().find("the list reads differently than it did a moment ago") !=
                     std::string::npos,
                 s.message());
      CheckSameRecords(got,
                       std::vector<pr::TaskListRecord>(whole.begin(), whole.begin() + c.records));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_status_from_the_record_callback_stops_the_second_pass) {
  const std::string json = Json(LongIds(9000, 'x'));
  auto digest = DigestTaskList(Env::Default(), json);
  BOOST_REQUIRE(digest.ok());
  int calls = 0;
  const Status s = ForEachTaskListRecord(Env::Default(), json, *digest, [&](pr::TaskListRecord&) {
    return ++calls == 2 ? Status::IOError("journal full") : Status::OK();
  });
  BOOST_TEST(calls == 2);
  BOOST_TEST(s.message() == "journal full");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace
}  // namespace taskmaster
