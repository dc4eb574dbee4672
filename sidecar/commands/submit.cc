// `tm-sidecar submit --task-list JSON|@FILE`: records a task list in the store
// ahead of its workflow (submission.h) and prints the `argo submit` that starts
// it with only the state key, so that a long list never travels in the
// Workflow object.
//
// The default state key is "list-" and the 16 hex digits of the list hash (as
// `tm-step local` defaults to "local-" and the hash): submitting the same list
// again — a script rerun, a lost terminal — finds it recorded, changes nothing
// and prints the same command, instead of recording a second workflow that
// would run every task again. To run the same list afresh, give --state-key.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>

#include "cache/backoff.h"
#include "commands/commands.h"
#include "submission.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

struct SubmitFlags {
  std::string task_list;
  int64_t batch_size = 1;
  int64_t max_shards = pr::kDefaultMaxShards;
  std::string state_key;
  std::string output;  // text | json; empty: text on a terminal, else json
};

// A store failure: 2 for bad config, 75 when it may pass, else 1.
int StoreFailure(const char* what, const Status& s) {
  std::cerr << "tm-sidecar: submit: " << what << ": " << s.message() << "\n";
  if (s.IsInvalidArgument()) return pr::kExitUsage;
  return IsTransient(s) ? pr::kExitNotDurable : pr::kExitFailed;
}

// The answer for a person: what the store holds now and the next command.
void PrintText(const Submission& s, const SubmissionOutcome& outcome) {
  const int64_t n = static_cast<int64_t>(s.ids.size());
  const int64_t batch = outcome.effective_batch_size;
  if (outcome.verdict == pr::ResumeVerdict::kResume) {
    std::cout << "State key " << s.state_key << " already holds this task list (" << n << " tasks, "
              << outcome.list_hash << ", batch size " << s.batch_size << "; workflow "
              << ToString(outcome.state.status) << "): nothing changed.\n";
  } else {
    std::cout << "Recorded " << n << " tasks under state key " << s.state_key << " ("
              << outcome.list_hash << ", " << pr::ShardCount(n, batch) << " shards of " << batch
              << ").\n";
  }
  std::cout << "Start the workflow with:\n  " << ArgoSubmitCommand(s.state_key) << "\n";
}

// Refusals name the problem and write nothing; nullopt when the list is recorded.
std::optional<int> Refusal(const Submission& s, const SubmissionOutcome& outcome) {
  const int64_t n = static_cast<int64_t>(s.ids.size());
  switch (outcome.verdict) {
    case pr::ResumeVerdict::kOtherList:
      return Usage(Status::InvalidArgument(
          pr::OtherListMessage(s.state_key, outcome.recorded, outcome.list_hash, n) +
          ": nothing written; submit this list under another --state-key"));
    case pr::ResumeVerdict::kOtherBatchSize:
      return Usage(Status::InvalidArgument(
          "state key " + s.state_key + " was recorded with --batch-size " +
          std::to_string(outcome.recorded.batch_size) + ", not " + std::to_string(s.batch_size) +
          ": nothing written; give --batch-size " + std::to_string(outcome.recorded.batch_size) +
          " or another --state-key"));
    default:
      break;
  }
  if (outcome.fenced) {
    std::cerr << "tm-sidecar: submit: state key " << s.state_key
              << " is being recorded by another submit or init step right now; run submit "
                 "again\n";
    return pr::kExitFailed;
  }
  return std::nullopt;
}

int RunSubmit(Env* env, const StoreFlags& stores, const SubmitFlags& flags) {
  // Everything is checked before the store is opened: bad input writes nothing.
  auto ids = LoadTaskList(env, flags.task_list);
  if (!ids.ok()) return Usage(ids.status());
  Submission submission{flags.state_key, std::move(ids).value(), flags.batch_size,
                        flags.max_shards};
  if (submission.state_key.empty()) {
    submission.state_key = "list-" + pr::ListHash(submission.ids).substr(5);
  }
  if (Status s = ValidateId(submission.state_key, "state key"); !s.ok()) return Usage(s);
  auto config = ConfiguredStore(stores, nullptr);
  if (!config.ok()) return Usage(config.status());
  auto cache = OpenConfiguredCache(stores);
  if (!cache.ok()) return Usage(cache.status());

  auto store = OpenStore(*config);
  if (!store.ok()) return StoreFailure("cannot open the store", store.status());
  // The list may come before any init step, which migrates too.
  if (Status s = (*store)->Migrate(); !s.ok()) return StoreFailure("migrate", s);
  Metrics metrics;
  auto outcome = RecordSubmission(env, store->get(), cache->get(), &metrics, submission);
  if (!outcome.ok()) return StoreFailure("store", outcome.status());
  if (auto code = Refusal(submission, *outcome)) return *code;
  const int64_t n = static_cast<int64_t>(submission.ids.size());
  if (outcome->verdict != pr::ResumeVerdict::kResume &&
      outcome->effective_batch_size != submission.batch_size) {
    std::cerr << "tm-sidecar: submit: raising the batch size from " << submission.batch_size
              << " to " << outcome->effective_batch_size << " so that " << n << " tasks fit in "
              << pr::ShardCount(n, outcome->effective_batch_size) << " shards (--max-shards "
              << submission.max_shards << ")\n";
  }

  const bool json = flags.output == "json" || (flags.output.empty() && !::isatty(STDOUT_FILENO));
  if (json) {
    std::cout << SubmissionJson(submission.state_key, outcome->state.status, n,
                                submission.batch_size)
              << "\n";
  } else {
    PrintText(submission, *outcome);
  }
  return pr::kExitOk;
}

}  // namespace

Subcommand AddSubmitCommand(CLI::App* app, Env* env, StoreFlags* stores) {
  auto flags = std::make_shared<SubmitFlags>();
  CLI::App* submit = app->add_subcommand(
      "submit", "Record a task list in the store; print the argo submit that runs it by key");
  AddStoreFlags(submit, stores);
  submit->add_option("--task-list", flags->task_list, "JSON array of task IDs, or @FILE")
      ->envname("TM_TASK_LIST")
      ->check(checks::NonEmpty("a JSON array of task IDs, or @FILE"))
      ->required();
  submit->add_option("--batch-size", flags->batch_size, "Tasks per shard")
      ->envname("TM_BATCH_SIZE")
      ->check(checks::WholeNumber(1, pr::kMaxBatchSize))
      ->capture_default_str();
  submit
      ->add_option("--max-shards", flags->max_shards,
                   "At most this many shards: the batch size is raised to fit (docs/argo.md)")
      ->envname("TM_MAX_SHARDS")
      ->check(checks::WholeNumber(1, pr::kMaxShards))
      ->capture_default_str();
  submit
      ->add_option("--state-key", flags->state_key,
                   "Workflow state key (default: list- and the list hash)")
      ->envname(pr::kEnvStateKey)
      ->check(checks::StateKey());
  submit
      ->add_option("-o,--output", flags->output,
                   "text or json (default: text on a terminal, else json)")
      ->check(checks::OneOf({"text", "json"}));
  return {submit, [env, stores, flags] { return RunSubmit(env, *stores, *flags); }};
}

}  // namespace taskmaster::sidecar
