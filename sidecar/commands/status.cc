// `tm-sidecar status KEY`: the workflow's stored state as JSON, with its
// percent done.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "commands/commands.h"
#include "taskmaster/protocol.h"

namespace taskmaster::sidecar {

namespace {

int RunStatus(const StoreFlags& stores, const std::string& key) {
  int exit_code = protocol::kExitOk;
  auto workflow = LoadStoredWorkflow(stores, key, &exit_code);
  if (!workflow) return exit_code;
  const TaskCounts& c = workflow->state.counts;
  const double percent = c.total > 0
                             ? 100.0 * static_cast<double>(c.succeeded + c.failed + c.cancelled) /
                                   static_cast<double>(c.total)
                             : 0;
  std::string json = WorkflowStateToJson(workflow->state);
  json.pop_back();  // '}': the progress joins the state document
  std::cout << json << ",\"percent\":" << fmt::format("{:.1f}", percent) << "}\n";
  return protocol::kExitOk;
}

}  // namespace

Subcommand AddStatusCommand(CLI::App* app, StoreFlags* stores) {
  auto key = std::make_shared<std::string>();
  CLI::App* status = app->add_subcommand("status", "Print KEY's progress as JSON");
  AddStoreFlags(status, stores);
  status->add_option("key", *key, "State key")->required();
  return {status, [stores, key] { return RunStatus(*stores, *key); }};
}

}  // namespace taskmaster::sidecar
