// `tm-sidecar get KEY [--max-failures N] [--watch [--interval S]] [-o ...]`:
// the workflow's summary — status, counts, percent, rate, ETA and, given the
// workflow's --max-failures, the failure budget left. --watch prints it again
// whenever it changes until the workflow finishes or SIGINT/SIGTERM.
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <iostream>
#include <memory>

#include "commands/commands.h"
#include "commands/output.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"
#include "taskmaster/signal_fd.h"
#include "workflow_progress.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

struct GetFlags {
  std::string key;
  std::string output;
  int64_t max_failures = -1;  // -1: not given
  bool watch = false;
  double interval_seconds = 2;
};

std::string Eta(const std::optional<int>& seconds) {
  if (!seconds) return "unknown";
  return HumanDuration(int64_t{*seconds} * 1000);
}

void PrintSummary(const WorkflowState& state, int64_t now_ms, const GetFlags& flags,
                  OutputFormat format) {
  const std::optional<int64_t> max_failures =
      flags.max_failures >= 0 ? std::optional<int64_t>(flags.max_failures) : std::nullopt;
  if (format == OutputFormat::kJson || format == OutputFormat::kJsonl) {
    std::cout << ProgressJson(state, now_ms, "store", max_failures) << std::endl;
    return;
  }
  const WorkflowProgress p = ProgressOf(state, now_ms);
  const TaskCounts& c = state.counts;
  std::string budget = "unknown (not recorded: give --max-failures, as the workflow was given)";
  if (const std::optional<FailureBudget> b = ShownBudget(state, max_failures)) {
    const int64_t tolerated = Tolerated(*b, c);
    budget = fmt::format("{} of {} final failures left (max-failures {}, max-failure-percent {})",
                         std::max<int64_t>(tolerated - c.failed, 0), tolerated, b->max_failures,
                         b->max_failure_percent);
  }
  Table t({"NAME:", state.workflow_id});
  t.Add({"STATUS:", ToString(state.status)});
  t.Add({"TASKS:", fmt::format("{} total, {} succeeded, {} failed, {} running, {} pending, {} "
                               "cancelled",
                               c.total, c.succeeded, c.failed, c.running, c.pending, c.cancelled)});
  t.Add({"PROGRESS:", fmt::format("{:.1f}% ({}/{})", p.percent, p.done, c.total)});
  t.Add({"RATE:", fmt::format("{:.3f} tasks/s", p.rate)});
  t.Add({"ETA:", Eta(p.eta_seconds)});
  t.Add({"FAILURE BUDGET:", budget});
  if (const std::optional<FailureBudget>& b = state.budget; b && b->task_retries) {
    const int64_t after = b->quarantine_after.value_or(0);
    std::string quarantine = "no quarantine";
    if (after > 0) {
      quarantine =
          fmt::format("quarantined after {} failures in a row with one fingerprint", after);
    }
    t.Add({"PER TASK:", fmt::format("task-retries {}, quarantine-after {} ({})", *b->task_retries,
                                    after, quarantine)});
  }
  t.Add({"CREATED:", HumanTime(state.created_at_ms)});
  t.Add({"UPDATED:", HumanTime(state.updated_at_ms)});
  t.Print(std::cout);
  std::cout << std::flush;
}

// Polls the store every --interval until the workflow finishes or a signal
// comes; prints the summary each time its version changes.
int Watch(StoredWorkflow* workflow, Env* env, const GetFlags& flags, OutputFormat format) {
  SignalFd signals({SIGINT, SIGTERM});
  int64_t printed_version = -1;
  for (;;) {
    const WorkflowState& state = workflow->state;
    if (state.version != printed_version) {
      if (printed_version >= 0 && format != OutputFormat::kJson) std::cout << "\n";
      PrintSummary(state, env->NowUnixMillis(), flags, format);
      printed_version = state.version;
    }
    if (IsTerminal(state.status)) return pr::kExitOk;
    struct pollfd stop = {signals.fd(), POLLIN, 0};
    const int wait_ms = static_cast<int>(std::lround(flags.interval_seconds * 1000));
    int ready;
    while ((ready = ::poll(&stop, 1, wait_ms)) < 0 && errno == EINTR) {
    }
    if (ready > 0) return pr::kExitOk;  // Ctrl-C ends a watch, as in kubectl
    auto next = workflow->store->LoadWorkflowState(flags.key);
    if (!next.ok()) {
      std::cerr << "tm-sidecar: " << flags.key << ": " << next.status().message() << "\n";
      return pr::kExitFailed;
    }
    workflow->state = std::move(next).value();
  }
}

int RunGet(Env* env, const StoreFlags& stores, const GetFlags& flags) {
  const OutputFormat format = ResolveOutputFormat(flags.output);
  int exit_code = pr::kExitOk;
  auto workflow = LoadStoredWorkflow(stores, flags.key, &exit_code);
  if (!workflow) return exit_code;
  if (flags.watch) return Watch(&*workflow, env, flags, format);
  PrintSummary(workflow->state, env->NowUnixMillis(), flags, format);
  return pr::kExitOk;
}

}  // namespace

Subcommand AddGetCommand(CLI::App* app, Env* env, StoreFlags* stores) {
  auto flags = std::make_shared<GetFlags>();
  CLI::App* get = app->add_subcommand(
      "get", "Show KEY's status, counts, rate, ETA and failure budget (--watch: until it ends)");
  AddStoreFlags(get, stores);
  get->add_option("key", flags->key, "State key")->required();
  AddOutputFlag(get, &flags->output);
  get->add_option("--max-failures", flags->max_failures,
                  "Use this max-failures instead of the one the workflow recorded")
      ->check(checks::WholeNumber(0, pr::kMaxFailuresAllowed));
  get->add_flag("-w,--watch", flags->watch, "Print again on each change until the workflow ends");
  get->add_option("--interval", flags->interval_seconds, "Seconds between reads with --watch")
      ->transform(checks::Duration(0.01, 3600))
      ->capture_default_str();
  return {get, [env, stores, flags] { return RunGet(env, *stores, *flags); }};
}

}  // namespace taskmaster::sidecar
