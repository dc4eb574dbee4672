// FakeSidecar plays tm-sidecar's side of the work-dir protocol (protocol.h) for
// tm-step's tests, with no store behind it. Like the real sidecar it writes
// restore/ and then `ready`, tails the journal from a thread (waking on a bounded
// 5 ms poll, as the sidecar's flush loop does), and after each batch writes the
// commit record's outputs with "durable": true (when the batch holds it) and then
// `ack`, atomically. It also checks what a store would rely on: seqs that grow by
// one, the ready's fence in every record, payloads that decode.
//
// Options make it misbehave the ways the step must survive. Thread-safe.
#ifndef TASKMASTER_TESTS_EXECUTOR_FAKE_SIDECAR_H_
#define TASKMASTER_TESTS_EXECUTOR_FAKE_SIDECAR_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "taskmaster/checkpoint.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step_test {

class FakeSidecar {
 public:
  struct Options {
    bool write_ready = true;  // false: restore/ only, never ready
    bool ack_commit = true;   // false: everything but the commit record is acked
    bool hold_acks = false;   // true: no ack at all until ReleaseAcks()
  };
  // Options that hold every ack until ReleaseAcks().
  static Options HoldingAcks();

  FakeSidecar(std::string work_dir, Options options);
  explicit FakeSidecar(std::string work_dir) : FakeSidecar(std::move(work_dir), Options()) {}
  ~FakeSidecar();
  FakeSidecar(const FakeSidecar&) = delete;
  FakeSidecar& operator=(const FakeSidecar&) = delete;

  // restore/ files, written before Start().
  void WriteShardRestore(const protocol::ShardRestore& restore);
  void WriteInitRestore(const protocol::InitRestore& restore);
  void WriteSummaryRestore(const protocol::WorkflowSummary& summary);
  void WriteRestoredCheckpoint(int64_t ordinal, const std::string& document,
                               const std::string& payload);

  // Writes `ready` (unless Options say not to) and starts tailing the journal.
  void Start(const protocol::Ready& ready);
  // Ends a hold_acks phase: the next batch acks everything read so far.
  void ReleaseAcks();
  // Stops tailing, then reads whatever the journal still holds (without acking),
  // so records() is complete once the step has exited.
  void Stop();

  // Waits up to timeout for a record matching pred and returns it.
  std::optional<JournalRecord> WaitForRecord(const std::function<bool(const JournalRecord&)>& pred,
                                             std::chrono::milliseconds timeout);
  std::vector<JournalRecord> records() const;
  int64_t acked_seq() const;
  // What the fake found wrong in the journal; empty when nothing.
  std::vector<std::string> problems() const;

  // Decoded records of one type, in journal order. A record that does not
  // decode is left out (and is in problems()).
  std::vector<protocol::TaskStartRecord> TaskStarts() const;
  std::vector<protocol::TaskEndRecord> TaskEnds() const;
  std::vector<protocol::ProgressRecord> Progress() const;
  std::vector<protocol::NoteRecord> Notes() const;
  std::vector<protocol::BudgetRecord> Budgets() const;
  std::vector<std::pair<JournalRecord, Checkpoint>> Checkpoints() const;
  std::optional<protocol::CommitRecord> Commit() const;
  std::vector<protocol::RecordType> Types() const;

 private:
  void Tail();
  // Reads the records the journal holds past the reader; false when it does not
  // exist yet.
  bool ReadBatch(std::vector<JournalRecord>* batch);
  void Check(const JournalRecord& record);  // mutex_ held
  void AckBatch();                          // mutex_ held
  void Problem(std::string what);           // mutex_ held

  const std::string work_dir_;
  const Options options_;
  protocol::Ready ready_;
  std::unique_ptr<JournalReader> reader_;  // only the tailing thread, or Stop() after it

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stop_ = false;
  bool holding_;
  std::vector<JournalRecord> records_;
  std::vector<std::string> problems_;
  int64_t acked_seq_ = 0;
  bool outputs_written_ = false;
  std::thread thread_;
};

}  // namespace taskmaster::step_test

#endif  // TASKMASTER_TESTS_EXECUTOR_FAKE_SIDECAR_H_
