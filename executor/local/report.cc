#include "local/report.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <map>

#include "local/role_outputs.h"
#include "local/text.h"
#include "taskmaster/protocol.h"
#include "taskmaster/shell.h"
#include "taskmaster/task_list.h"

namespace taskmaster::step::local {

namespace pr = protocol;

namespace {

std::string CountsTable(const RunReport& r, const protocol::FinalizeSummary& counts) {
  const std::string wall = FormatSeconds(r.wall_seconds);
  std::string out;
  out += fmt::format("\nWorkflow {} {} in {}\n", r.state_key, r.succeeded ? "succeeded" : "FAILED",
                     wall);
  out += fmt::format("  {:<11}{:>7}\n", "tasks", counts.total);
  out += fmt::format("  {:<11}{:>7}\n", "succeeded", counts.succeeded);
  out += fmt::format("  {:<11}{:>7}   final failures; --max-failures {}", "failed", counts.failed,
                     r.options->max_failures);
  if (r.options->max_failure_percent > 0) {
    out += fmt::format(", --max-failure-percent {} ({} tolerated)", r.options->max_failure_percent,
                       protocol::ToleratedFailures(r.options->max_failures,
                                                   r.options->max_failure_percent, counts.total));
  }
  out += "\n";
  out += fmt::format("  {:<11}{:>7}   already done before this run\n", "skipped", r.skipped);
  out += fmt::format("  {:<11}{:>7}\n", "cancelled", counts.cancelled);
  if (counts.unfinished > 0) {
    out += fmt::format("  {:<11}{:>7}   never finished (a rerun resumes them)\n", "unfinished",
                       counts.unfinished);
  }
  out += fmt::format(
      "  {:<11}{:>7}   task runs repeated after a failed attempt ({} shard "
      "retr{})\n",
      "retried", r.retried_runs, r.shard_retries, r.shard_retries == 1 ? "y" : "ies");
  out += fmt::format("  {:<11}{:>7}\n", "wall time", wall);
  return out;
}

// The ordinals of the failed tasks, from one more read of the list: the
// summary names at most a few, and a long list is not kept in memory.
std::map<std::string, int64_t> OrdinalsOf(const RunReport& r,
                                          const std::vector<pr::FailedTask>& failed) {
  std::map<std::string, int64_t> ordinals;
  for (const pr::FailedTask& task : failed) ordinals.emplace(task.task_id, -1);
  int64_t ordinal = 0;
  // A list that cannot be read again leaves the logs out of the summary.
  const Status read = ScanTaskListArgument(r.env, "@" + r.task_list_file, [&](std::string_view id) {
    if (auto it = ordinals.find(std::string(id)); it != ordinals.end()) it->second = ordinal;
    ++ordinal;
    return Status::OK();
  });
  if (!read.ok()) spdlog::warn("cannot read the task list again for the logs: {}", read.message());
  return ordinals;
}

std::string FailedTasks(const RunReport& r) {
  auto restored = pr::DecodeWorkflowSummary(r.finalize->restore_summary);
  if (!restored.ok() || restored->failed.empty()) return "";
  std::string out = fmt::format("Failed tasks ({} of {}), last error:\n", restored->failed.size(),
                                restored->failed_total);
  const std::map<std::string, int64_t> ordinals = OrdinalsOf(r, restored->failed);
  for (const pr::FailedTask& task : restored->failed) {
    std::string where;
    auto ordinal = ordinals.find(task.task_id);
    if (ordinal != ordinals.end() && ordinal->second >= 0) {
      where =
          "  log: " + JoinPath(JoinPath(r.logs_dir, std::to_string(ordinal->second / r.batch_size)),
                               std::to_string(ordinal->second) + ".log");
    }
    out += fmt::format("  {}: {}{}\n", task.task_id,
                       task.error.empty()
                           ? (task.exit_code ? fmt::format("exit code {}", *task.exit_code)
                                             : std::string("failed"))
                           : task.error,
                       where);
  }
  return out;
}

// The run's SQLite file.
std::string StateDb(const RunReport& r) {
  return JoinPath(r.state_dir, "state.db");
}

// The tm-sidecar flags that reach the run's store (and Redis), for a command line.
std::string SidecarStoreFlags(const RunReport& r) {
  if (r.options->postgres.empty()) return "--store sqlite:" + ShellQuote(StateDb(r));
  std::string flags = "--postgres \"$TM_POSTGRES_DSN\"";
  if (!r.options->redis.empty()) flags += " --redis \"$TM_REDIS_URL\"";
  return flags;
}

// With --quarantine-after, some of the failures may be quarantined tasks (the
// finalize summary does not tell them apart), which running the same command
// again leaves alone: how to list them and send them back.
std::string QuarantineHint(const RunReport& r, const protocol::FinalizeSummary& counts) {
  if (r.options->quarantine_after <= 0 || counts.failed == 0) return "";
  const std::string store = SidecarStoreFlags(r);
  return fmt::format(
      "Tasks quarantined (the same failure {} times in a row), if any, are not run again by "
      "this command until requeued:\n  {} tasks {} {} --status quarantined\n  {} requeue {} {} "
      "--status quarantined\n",
      r.options->quarantine_after, ShellQuote(r.sidecar_program), store, ShellQuote(r.state_key),
      ShellQuote(r.sidecar_program), store, ShellQuote(r.state_key));
}

// Where the state is, and the commands that show it.
std::string StateQueries(const RunReport& r) {
  std::string out;
  const std::string quoted_key = "'" + r.state_key + "'";
  if (r.options->postgres.empty()) {
    const std::string db = StateDb(r);
    out += fmt::format("State: {} (state key {})\n", db, r.state_key);
    out += fmt::format("  sqlite3 {} \"SELECT * FROM workflow_states WHERE workflow_id = {}\"\n",
                       ShellQuote(db), quoted_key);
    out += fmt::format("  {} status {} {}\n", ShellQuote(r.sidecar_program), SidecarStoreFlags(r),
                       ShellQuote(r.state_key));
  } else {
    out += fmt::format("State: PostgreSQL (state key {})\n", r.state_key);
    out += fmt::format(
        "  psql \"$TM_POSTGRES_DSN\" -c \"SELECT * FROM workflow_states WHERE "
        "workflow_id = {}\"\n",
        quoted_key);
    if (!r.options->redis.empty()) {
      out += fmt::format("  redis-cli GET {}\n", ShellQuote("workflow:state:" + r.state_key));
    }
  }
  return out;
}

}  // namespace

void PrintSummary(Console* console, const RunReport& report) {
  console->Finish();
  const protocol::FinalizeSummary counts = FinalizeSummaryOf(report.finalize->outputs);
  std::string out =
      CountsTable(report, counts) + FailedTasks(report) + QuarantineHint(report, counts);
  out += fmt::format(
      "Logs:  {}/<shard>/<ordinal>.log (task output; tm-step.log and "
      "tm-sidecar.log beside them)\n",
      report.logs_dir);
  out += StateQueries(report);
  std::cout << out << std::flush;
  if (!console->tty()) {
    spdlog::info(
        "workflow {} {}: {} tasks, {} succeeded, {} failed, {} skipped, {} cancelled, {} "
        "retried, {:.3f} s",
        report.state_key, report.succeeded ? "succeeded" : "failed", counts.total, counts.succeeded,
        counts.failed, report.skipped, counts.cancelled, report.retried_runs, report.wall_seconds);
  }
}

void PrintResume(Console* console, const std::string& state_dir, const std::string& state_key,
                 const std::vector<std::string>& invocation) {
  console->Finish();
  char cwd[4096];
  const bool have_cwd = ::getcwd(cwd, sizeof(cwd)) != nullptr;
  std::string out =
      fmt::format("\nStopped. State is in {} (state key {}).\n", state_dir, state_key);
  out += "Resume with the same command";
  out += have_cwd ? fmt::format(" from {}:\n", cwd) : std::string(":\n");
  out += "  " + ShellJoin(invocation) + "\n";
  std::cout << out << std::flush;
  if (!console->tty()) {
    spdlog::warn("stopped; resume with the same command: {}", ShellJoin(invocation));
  }
}

}  // namespace taskmaster::step::local
