#include "local/shards.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "local/clock.h"
#include "local/role_outputs.h"
#include "local/text.h"
#include "taskmaster/protocol.h"

namespace taskmaster::step::local {

namespace pr = protocol;

ShardRunner::ShardRunner(Env* env, Console* console, Pods* pods, const LocalOptions& options,
                         std::string state_key, int64_t parallelism,
                         std::vector<std::unique_ptr<Shard>> shards, int64_t total_tasks,
                         int64_t done_before)
    : env_(env),
      console_(console),
      pods_(pods),
      options_(options),
      state_key_(std::move(state_key)),
      parallelism_(parallelism),
      shards_(std::move(shards)),
      total_tasks_(total_tasks),
      done_before_(done_before),
      skipped_(done_before) {}

std::optional<int> ShardRunner::Run() {
  started_ns_ = env_->MonotonicNanos();
  while (true) {
    const int64_t wake = StartDue();
    if (AllFinished()) break;
    pods_->Pump(wake);
    for (auto& shard : shards_) {
      if (!shard->pod || !shard->pod->finished) continue;
      std::unique_ptr<Pod> pod = std::move(shard->pod);
      if (shard->finished) continue;  // it could not start: nothing ran
      OnAttemptEnd(shard.get(), *pod);
    }
  }
  ShowProgress(true);
  if (pods_->stops() > 0) return pr::kExitInterrupted;
  return std::nullopt;
}

int64_t ShardRunner::StartDue() {
  const int64_t now = env_->MonotonicNanos();
  int64_t running = 0;
  for (auto& shard : shards_) running += shard->pod ? 1 : 0;
  int64_t wake = kNever;
  for (auto& shard : shards_) {
    if (shard->finished || shard->pod) continue;
    if (pods_->stops() > 0) {
      shard->finished = true;
      continue;
    }
    if (shard->start_at_ns > now) {
      wake = std::min(wake, shard->start_at_ns);
      continue;
    }
    if (running >= parallelism_) continue;
    shard->pod = pods_->New(pr::Role::kShard, shard->index, shard->attempts, state_key_);
    ++shard->attempts;
    console_->Detail(fmt::format("shard {} attempt {} of {} starting", shard->index,
                                 shard->pod->attempt, options_.pod_retries + 1));
    if (Status s = pods_->Start(shard->pod.get()); !s.ok()) {
      console_->Error(fmt::format("cannot start shard {}: {}", shard->index, s.message()));
      shard->finished = true;
      continue;
    }
    ++running;
  }
  return wake;
}

bool ShardRunner::AllFinished() const {
  return std::all_of(shards_.begin(), shards_.end(),
                     [](const auto& shard) { return shard->finished && !shard->pod; });
}

void ShardRunner::OnAttemptEnd(Shard* shard, const Pod& pod) {
  const int code = pod.step_exit.value_or(pr::kExitFailed);
  const std::optional<pr::ShardSummary> reported = ShardSummaryOf(pod.outputs);
  const pr::ShardSummary summary = reported.value_or(pr::ShardSummary{});
  if (auto text = env_->ReadFile(pod.progress_file); text.ok()) {
    shard->progress = std::atoll(text->c_str());
  }
  if (pod.attempt == 0) {
    skipped_ += summary.skipped;
  } else {
    retried_runs_ += summary.succeeded + summary.failed + summary.interrupted;
  }
  const bool last = pod.attempt >= options_.pod_retries;
  // Every failure of an attempt that exits 4 is final, as are all on the last one.
  if (last || code == pr::kExitFailedForGood) shard->final_failed = summary.failed;
  console_->Detail(fmt::format(
      "shard {} attempt {} exited with code {}: {} succeeded, {} failed, {} interrupted, {} "
      "cancelled, {} skipped",
      shard->index, pod.attempt, code, summary.succeeded, summary.failed, summary.interrupted,
      summary.cancelled, summary.skipped));
  if (pod.kept || code == pr::kExitOk || code == pr::kExitFailedForGood || pods_->stops() > 0) {
    shard->finished = true;
    return;
  }
  if (code == pr::kExitUsage) {
    shard->finished = true;
    console_->Error(
        fmt::format("shard {} refused its input (exit code 2, never retried):", shard->index));
    for (const auto& line : pods_->Problems(pod)) console_->Error("  " + line);
    return;
  }
  const std::string why =
      reported ? fmt::format("{} task{} failed", summary.failed + summary.interrupted,
                             summary.failed + summary.interrupted == 1 ? "" : "s")
               : fmt::format("exit code {}", code);
  if (last) {
    shard->finished = true;
    console_->Warn(fmt::format("shard {} failed on its last attempt ({}); see {}", shard->index,
                               why, pod.log_dir));
    return;
  }
  const double delay = options_.backoff_seconds * std::pow(2.0, pod.attempt);
  shard->start_at_ns = env_->MonotonicNanos() + static_cast<int64_t>(delay * kSecond);
  ++shard_retries_;
  console_->Warn(fmt::format("shard {} failed ({}); retry {} of {} in {}", shard->index, why,
                             pod.attempt + 1, options_.pod_retries, FormatSeconds(delay)));
}

void ShardRunner::ShowProgress(bool force) {
  if (shards_.empty() && !force) return;
  ProgressView view;
  view.total = total_tasks_;
  view.done = done_before_;
  int64_t baseline = done_before_;
  for (auto& shard : shards_) {
    if (shard->pod && !shard->pod->progress_file.empty()) {
      auto text = env_->ReadFile(shard->pod->progress_file);
      if (text.ok()) {
        int64_t n = std::atoll(text->c_str());
        shard->progress = n;
        if (shard->baseline < 0) shard->baseline = n;
      }
    }
    view.done += shard->progress;
    baseline += std::max<int64_t>(shard->baseline, 0);
    view.failed += shard->final_failed;
    if (shard->pod && !shard->pod->finished) ++view.running_shards;
    if (!shard->finished && !shard->pod && shard->attempts > 0) ++view.retrying;
  }
  const int64_t now = env_->MonotonicNanos();
  if (started_ns_ > 0 && now > started_ns_ && view.done > baseline) {
    view.rate = static_cast<double>(view.done - baseline) /
                (static_cast<double>(now - started_ns_) / kSecond);
  }
  console_->Progress(view, force ? kNever / 2 : now);
}

}  // namespace taskmaster::step::local
