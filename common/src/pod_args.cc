#include "taskmaster/pod_args.h"

#include <fmt/format.h>

#include "taskmaster/json.h"

namespace taskmaster::protocol {
namespace {

// A number as the pod's flag checks accept it (flag_checks.h): the shortest
// form that reads back exactly, written out without an exponent (1e-05 becomes
// 0.00001).
std::string PlainDecimal(double value) {
  std::string text = fmt::format("{}", value);
  if (text.find('e') == std::string::npos) return text;
  text = fmt::format("{:.20f}", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

void AddFlag(std::vector<std::string>* argv, const char* name, std::string value) {
  argv->push_back(name);
  argv->push_back(std::move(value));
}

std::vector<std::string> StepArgv(const StepCommonArgs& common, const char* verb) {
  std::vector<std::string> argv = {common.program, verb};
  if (common.sync_journal) argv.push_back("--sync-journal");
  AddFlag(&argv, "--state-key", common.state_key);
  AddFlag(&argv, kWorkDirFlag, common.work_dir);
  return argv;
}

}  // namespace

std::vector<std::string> SidecarArgs::ToArgv() const {
  std::vector<std::string> argv = {program, "--local"};
  AddFlag(&argv, "--role", ToString(role));
  AddFlag(&argv, "--shard", std::to_string(shard));
  AddFlag(&argv, "--state-key", state_key);
  AddFlag(&argv, kWorkDirFlag, work_dir);
  if (!listen.empty()) AddFlag(&argv, "--listen", listen);
  if (!port_file.empty()) AddFlag(&argv, "--port-file", port_file);
  AddFlag(&argv, "--grace-seconds", std::to_string(grace_seconds));
  if (!progress_file.empty()) AddFlag(&argv, "--progress-file", progress_file);
  return argv;
}

std::vector<std::string> SidecarServerArgs::ToArgv() const {
  std::vector<std::string> argv = {program, "--local"};
  AddFlag(&argv, "--serve-pods", std::to_string(channel_fd));
  AddFlag(&argv, "--listen", listen);
  AddFlag(&argv, "--port-file", port_file);
  return argv;
}

std::string Encode(const PodMessage& message) {
  JsonWriter out;
  out.StartObject();
  switch (message.kind) {
    case PodMessage::Kind::kStart:
      out.Key("start").StartArray();
      for (const std::string& arg : message.args) out.String(arg);
      out.EndArray().Key("log").String(message.log_path);
      break;
    case PodMessage::Kind::kStop:
      out.Key("stop").String(message.work_dir);
      break;
    case PodMessage::Kind::kExited:
      out.Key("exited").String(message.work_dir).Key("code").Int(message.code);
      break;
  }
  return out.EndObject().Take() + "\n";
}

Result<PodMessage> DecodePodMessage(std::string_view line) {
  rapidjson::Document doc;
  if (Status s = ParseJson(line, "pod message", &doc); !s.ok()) {
    return Status::InvalidArgument(s.message());
  }
  if (!doc.IsObject()) return Status::InvalidArgument("pod message: not a JSON object");
  PodMessage message;
  FieldReader in(doc, "pod message");
  if (doc.HasMember("start")) {
    message.kind = PodMessage::Kind::kStart;
    if (const rapidjson::Value* args = in.Array("start")) {
      for (const auto& arg : args->GetArray()) {
        if (!arg.IsString()) {
          in.Fail("start", "not an array of strings");
          break;
        }
        message.args.emplace_back(arg.GetString(), arg.GetStringLength());
      }
    }
    message.log_path = in.String("log");
  } else if (doc.HasMember("stop")) {
    message.kind = PodMessage::Kind::kStop;
    message.work_dir = in.String("stop");
  } else {
    message.kind = PodMessage::Kind::kExited;
    message.work_dir = in.String("exited");
    message.code = in.Int("code");
  }
  if (!in.ok()) return Status::InvalidArgument(in.status().message());
  return message;
}

std::vector<std::string> StepInitArgs::ToArgv() const {
  std::vector<std::string> argv = StepArgv(common, ToString(Role::kInit));
  AddFlag(&argv, "--task-list", task_list);
  AddFlag(&argv, "--batch-size", std::to_string(batch_size));
  AddFlag(&argv, "--max-shards", std::to_string(max_shards));
  if (no_inline_limit) argv.push_back("--no-inline-limit");
  return argv;
}

std::vector<std::string> StepRunArgs::ToArgv() const {
  std::vector<std::string> argv = StepArgv(common, "run");
  AddFlag(&argv, "--shard", std::to_string(shard));
  AddFlag(&argv, "--attempt", std::to_string(attempt));
  AddFlag(&argv, "--last-attempt", std::to_string(last_attempt));
  if (!log_dir.empty()) AddFlag(&argv, "--log-dir", log_dir);
  AddFlag(&argv, "--continue-on-error", continue_on_error ? "true" : "false");
  AddFlag(&argv, "--max-failures", std::to_string(max_failures));
  if (max_failure_percent > 0)
    AddFlag(&argv, "--max-failure-percent", PlainDecimal(max_failure_percent));
  AddFlag(&argv, "--task-retries", std::to_string(task_retries));
  if (quarantine_after > 0) AddFlag(&argv, "--quarantine-after", std::to_string(quarantine_after));
  // fmt's shortest form, as the option parser reads it back: 2, 0.5, 1e-05.
  if (task_timeout_seconds > 0)
    AddFlag(&argv, "--task-timeout", PlainDecimal(task_timeout_seconds));
  argv.push_back("--");
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

std::vector<std::string> StepFinalizeArgs::ToArgv() const {
  std::vector<std::string> argv = StepArgv(common, ToString(Role::kFinalize));
  AddFlag(&argv, "--max-failures", std::to_string(max_failures));
  if (max_failure_percent > 0)
    AddFlag(&argv, "--max-failure-percent", PlainDecimal(max_failure_percent));
  return argv;
}

}  // namespace taskmaster::protocol
