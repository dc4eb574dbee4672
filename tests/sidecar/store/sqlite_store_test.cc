#include "store/sqlite_store.h"

#include <sqlite3.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/store_factory.h"
#include "store_conformance.h"
#include "support/temp_dir.h"
#include "taskmaster/env.h"

// The conformance namespace holds the cases this store's harness runs and the
// helpers its own cases share with them.
namespace taskmaster::sidecar::conformance {
namespace {

// A directory of its own under TMPDIR, removed with everything in it.
class TempDir : public test_support::TempDir {
 public:
  TempDir() : test_support::TempDir("tm-sqlite-store") {}
};

std::unique_ptr<StateStore> MustOpen(const std::string& path) {
  return Must(OpenSqliteStore(path, Env::Default()), "OpenSqliteStore");
}

// Runs SQL on the store's file through a connection of its own.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    BOOST_REQUIRE(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(db_, 10000);
  }
  ~RawConnection() { sqlite3_close_v2(db_); }

  std::optional<std::string> QueryOne(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    BOOST_REQUIRE_MESSAGE(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK,
                          sqlite3_errmsg(db_) << " in " << sql);
    std::optional<std::string> value;
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    const std::string error = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    BOOST_REQUIRE_MESSAGE(rc == SQLITE_ROW || rc == SQLITE_DONE, error << " in " << sql);
    return value;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteHarness : public StoreHarness {
 public:
  SqliteHarness() : path_(dir_.path() + "/state/taskmaster.db"), store_(MustOpen(path_)) {
    const Status migrated = store_->Migrate();
    BOOST_REQUIRE_MESSAGE(migrated.ok(), migrated.ToString());
  }

  StateStore& store() override { return *store_; }
  std::unique_ptr<StateStore> OpenFresh() override {
    return MustOpen(dir_.path() + "/fresh-" + std::to_string(++fresh_) + ".db");
  }
  void Exec(const std::string& sql) override { raw().QueryOne(sql); }
  bool postgres() const override { return false; }
  std::optional<std::string> QueryOne(const std::string& sql) override {
    return raw().QueryOne(sql);
  }

 private:
  RawConnection& raw() {
    if (!raw_) raw_ = std::make_unique<RawConnection>(path_);
    return *raw_;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<RawConnection> raw_;
  int fresh_ = 0;
};

// One process of the concurrency test: its own connection, its own shard,
// one small transaction per task. Returns 0 when every call succeeded.
int WriteShard(const std::string& path, const std::string& workflow_id, int64_t shard,
               int64_t batch) {
  auto store = OpenSqliteStore(path, Env::Default());
  if (!store.ok()) {
    std::cerr << "shard " << shard << ": " << store.status().ToString() << "\n";
    return 1;
  }
  TestWriter w(**store, workflow_id, pr::Role::kShard, shard);
  for (int64_t ordinal = shard * batch; ordinal < (shard + 1) * batch; ++ordinal) {
    const std::string task_id = "task/" + std::to_string(ordinal);
    Batch b = w.NewBatch();
    w.Start(&b, ordinal, task_id);
    w.Checkpoint(&b, ordinal, task_id, 1);
    w.End(&b, ordinal, task_id, TaskStatus::kSucceeded);
    auto applied = (*store)->Apply(b);
    if (!applied.ok() || applied->fenced || applied->applied != 3) {
      std::cerr << "shard " << shard << " ordinal " << ordinal << ": "
                << applied.status().ToString() << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace

TM_STORE_CONFORMANCE_TESTS(sqlite_conformance, SqliteHarness)

BOOST_AUTO_TEST_SUITE(sqlite_store)

BOOST_AUTO_TEST_CASE(eight_processes_write_one_file_at_once) {
  constexpr int kWriters = 8;
  constexpr int64_t kBatch = 40;
  TempDir dir;
  const std::string path = dir.path() + "/taskmaster.db";
  const std::string wf = "wf-concurrent";
  {
    // Created, migrated and initialized, then closed before the fork.
    std::unique_ptr<StateStore> store = MustOpen(path);
    BOOST_REQUIRE(store->Migrate().ok());
    InitWorkflow(*store, wf, TaskIds(kWriters * kBatch), kBatch);
  }
  const int ok =
      RunAtOnce(kWriters, [&](int shard) { return WriteShard(path, wf, shard, kBatch); });
  BOOST_TEST(ok == kWriters, "a writer failed; see its stderr");

  std::unique_ptr<StateStore> store = MustOpen(path);
  const taskmaster::WorkflowState state = Must(store->LoadWorkflowState(wf), "state");
  BOOST_TEST(state.counts.total == kWriters * kBatch);
  BOOST_TEST(state.counts.succeeded == kWriters * kBatch);
  BOOST_TEST(std::string(ToString(state.status)) == "succeeded");
  BOOST_TEST(Must(store->LoadCheckpoints(wf), "checkpoints").size() ==
             static_cast<size_t>(kWriters * kBatch));
  RawConnection raw(path);
  BOOST_TEST(raw.QueryOne("SELECT count(*) FROM fences WHERE role = 'shard' AND seq = " +
                          std::to_string(3 * kBatch))
                 .value_or("") == std::to_string(kWriters));
}

BOOST_AUTO_TEST_CASE(eight_processes_create_and_migrate_one_file_at_once) {
  // Switching a new file to WAL races; each round is a new file.
  constexpr int kRounds = 10;
  TempDir dir;
  for (int round = 0; round < kRounds; ++round) {
    const std::string path = dir.path() + "/round-" + std::to_string(round) + ".db";
    const int ok = RunAtOnce(8, [&](int) {
      auto store = OpenSqliteStore(path, Env::Default());
      const Status s = store.ok() ? (*store)->Migrate() : store.status();
      if (!s.ok()) std::cerr << s.ToString() << "\n";
      return s.ok() ? 0 : 1;
    });
    BOOST_TEST(ok == 8, "round " << round << ": a process failed; see its stderr");
    BOOST_TEST(
        RawConnection(path).QueryOne("SELECT count(*) FROM schema_migrations").value_or("") == "6");
  }
}

BOOST_AUTO_TEST_CASE(the_file_is_in_wal_mode) {
  TempDir dir;
  const std::string path = dir.path() + "/taskmaster.db";
  std::unique_ptr<StateStore> store = MustOpen(path);
  BOOST_REQUIRE(store->Migrate().ok());
  BOOST_TEST(RawConnection(path).QueryOne("PRAGMA journal_mode").value_or("") == "wal");
}

BOOST_AUTO_TEST_CASE(network_filesystems_are_refused) {
  struct Case {
    int64_t type;
    const char* name;
  };
  for (const Case& c : {Case{0x6969, "NFS"}, Case{0x517B, "SMB"}, Case{0xFE534D42, "SMB2"},
                        Case{0xFF534D42, "CIFS"}}) {
    const Status s = CheckFilesystemType("/mnt/shared", c.type);
    BOOST_TEST(s.IsInvalidArgument(), c.name);
    BOOST_TEST(
        s.message().find(std::string("/mnt/shared is on ") + c.name + ",") != std::string::npos,
        s.message());
    BOOST_TEST(s.message().find("--postgres") != std::string::npos, s.message());
  }
  // ext4, tmpfs, overlayfs, FUSE.
  for (int64_t local : {0xEF53, 0x01021994, 0x794C7630, 0x65735546}) {
    BOOST_TEST(CheckFilesystemType("/var/lib/x", local).ok(), local);
  }
  TempDir dir;
  BOOST_TEST(CheckLocalFilesystem(dir.path()).ok());
  BOOST_TEST(CheckLocalFilesystem(dir.path() + "/missing").IsNotFound());
}

BOOST_AUTO_TEST_CASE(opening_creates_the_directory) {
  TempDir dir;
  const std::string path = dir.path() + "/a/b/taskmaster.db";
  std::unique_ptr<StateStore> store = MustOpen(path);
  BOOST_TEST(std::filesystem::is_regular_file(path));
  BOOST_TEST(store->CheckSchema().IsInvalidArgument());
}

BOOST_AUTO_TEST_CASE(store_config_parses_sqlite) {
  auto config = Must(ParseStoreConfig("sqlite:/var/lib/tm/state.db"), "parse");
  BOOST_TEST((config.kind == StoreConfig::Kind::kSqlite));
  BOOST_TEST(config.sqlite_path == "/var/lib/tm/state.db");
  BOOST_TEST(Must(ParseStoreConfig("sqlite:relative.db"), "relative").sqlite_path == "relative.db");

  const Status empty = ParseStoreConfig("sqlite:").status();
  BOOST_TEST(empty.IsInvalidArgument());
  BOOST_TEST(empty.message().find("sqlite:PATH") != std::string::npos, empty.message());
  for (const char* bad : {"", "/var/lib/tm/state.db", "mysql://root:hunter2@db/tm", "SQLITE:/x.db",
                          "redis://127.0.0.1:6379/0"}) {
    const Status s = ParseStoreConfig(bad).status();
    BOOST_TEST(s.IsInvalidArgument(), bad);
    BOOST_TEST(s.message().find("expected sqlite:PATH") != std::string::npos, s.message());
    BOOST_TEST(s.message().find("hunter2") == std::string::npos, s.message());
  }

  TempDir dir;
  config.sqlite_path = dir.path() + "/opened.db";
  std::unique_ptr<StateStore> store = Must(OpenStore(config), "OpenStore");
  BOOST_TEST(store->Migrate().ok());
  BOOST_TEST(store->CheckSchema().ok());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace taskmaster::sidecar::conformance
