// `tm-sidecar gc --older-than D`: deletes finished workflows older than D from
// the store, and their Redis keys.
#include <spdlog/spdlog.h>

#include <cctype>
#include <iostream>
#include <memory>

#include "commands/commands.h"
#include "taskmaster/flag_checks.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

namespace pr = protocol;

namespace {

int RunGc(Env* env, const StoreFlags& stores, const std::string& older_than) {
  auto seconds = ParseDurationSeconds(older_than);
  if (!seconds.ok()) return Usage(seconds.status().WithContext("--older-than"));
  auto store = OpenConfiguredStore(stores);
  if (!store.ok()) return Usage(store.status());
  auto cache = OpenConfiguredCache(stores);
  if (!cache.ok()) return Usage(cache.status());
  auto deleted = (*store)->DeleteFinishedBefore(env->NowUnixMillis() - *seconds * 1000);
  if (!deleted.ok()) {
    std::cerr << "tm-sidecar: gc: " << deleted.status().ToString() << "\n";
    return pr::kExitFailed;
  }
  for (const std::string& id : *deleted) {
    if (*cache) {
      Status s = (*cache)->Delete(id);
      if (!s.ok()) spdlog::warn("gc: Redis keys of {} not deleted: {}", id, s.message());
    }
  }
  std::cout << "deleted " << deleted->size() << " finished workflows\n";
  return pr::kExitOk;
}

}  // namespace

Result<int64_t> ParseDurationSeconds(const std::string& text) {
  if (text.empty()) return Status::InvalidArgument("empty duration");
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12 || text.size() - digits > 1) {
    return Status::InvalidArgument("duration '" + text + "': use a number with s, m, h or d (7d)");
  }
  int64_t n = std::stoll(text.substr(0, digits));
  char unit = digits < text.size() ? text[digits] : 's';
  switch (unit) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * 86400;
  }
  return Status::InvalidArgument("duration '" + text + "': unknown unit '" + std::string(1, unit) +
                                 "' (s, m, h or d)");
}

Subcommand AddGcCommand(CLI::App* app, Env* env, StoreFlags* stores) {
  auto older_than = std::make_shared<std::string>();
  CLI::App* gc = app->add_subcommand("gc", "Delete finished workflows older than DURATION");
  AddStoreFlags(gc, stores);
  gc->add_option("--older-than", *older_than, "e.g. 30d")
      ->check(checks::NonEmpty("a duration (30d)"))
      ->required();
  return {gc, [env, stores, older_than] { return RunGc(env, *stores, *older_than); }};
}

}  // namespace taskmaster::sidecar
