// What a work dir's journal holds past its ack, read through the Env: it
// decides whether local mode removes the dir, drains it with a sidecar, or
// keeps it for the next run.
#ifndef TASKMASTER_EXECUTOR_LOCAL_JOURNAL_STATE_H_
#define TASKMASTER_EXECUTOR_LOCAL_JOURNAL_STATE_H_

#include <optional>
#include <string>

#include "taskmaster/env.h"

namespace taskmaster::step::local {

// True when nothing complete in the work dir's journal lies past its ack: every
// record that reached the journal is in the store. A torn tail is a record the
// step never finished writing, so it never reached the journal.
bool JournalFullyAcked(Env* env, const std::string& dir);

// What is wrong with a journal that is corrupt in the middle (damage followed by
// valid records) past its ack, or nothing. No sidecar can read past such damage,
// so its records can never be committed: the run says so instead of retrying.
std::optional<std::string> JournalCorruption(Env* env, const std::string& dir);

// True for an init journal cut short between its workflow_init record and the
// last of its task_list records (a crash mid-init). Drained, it would record a
// workflow without its tasks, which the next init would take for finished; not
// drained, the next init records the whole list again.
bool InitJournalIncomplete(Env* env, const std::string& dir);

}  // namespace taskmaster::step::local

#endif  // TASKMASTER_EXECUTOR_LOCAL_JOURNAL_STATE_H_
