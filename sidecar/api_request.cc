#include "api_request.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <cctype>
#include <optional>
#include <utility>

#include "task_json.h"
#include "taskmaster/json.h"
#include "taskmaster/task_list.h"

namespace taskmaster::sidecar {

Result<std::string> PercentDecode(const std::string& text) {
  std::string out;
  try {
    Poco::URI::decode(text, out);
    return out;
  } catch (const Poco::SyntaxException&) {
  }
  // Poco's message does not say where: the answer names the first escape
  // without two hex digits.
  size_t at = text.find('%');
  while (at != std::string::npos && at + 2 < text.size() &&
         std::isxdigit(static_cast<unsigned char>(text[at + 1])) &&
         std::isxdigit(static_cast<unsigned char>(text[at + 2]))) {
    at = text.find('%', at + 3);
  }
  return Status::InvalidArgument("malformed percent-encoding in the path at byte " +
                                 std::to_string(at));
}

Result<TaskQuery> TaskQueryOf(const std::string& target) {
  Poco::URI::QueryParameters params;
  try {
    params = Poco::URI(target).getQueryParameters();
  } catch (const Poco::Exception& e) {
    return Status::InvalidArgument("malformed query string: " + e.displayText());
  }
  std::optional<std::string> status, limit, after;
  for (const auto& [name, value] : params) {
    std::optional<std::string>* slot = name == "status"  ? &status
                                       : name == "limit" ? &limit
                                       : name == "after" ? &after
                                                         : nullptr;
    if (slot == nullptr) {
      return Status::InvalidArgument("unknown query parameter '" + name +
                                     "' (expected status, limit, after)");
    }
    if (slot->has_value()) {
      return Status::InvalidArgument("query parameter '" + name + "' given twice");
    }
    *slot = value;
  }
  return ParseTaskQuery(status, limit, after, "");
}

Result<SubmitRequest> ParseSubmitRequest(const std::string& body) {
  rapidjson::Document doc;
  Status parsed = ParseJson(body, "request body", &doc);
  if (!parsed.ok()) return Status::InvalidArgument(parsed.message());
  if (!doc.IsObject()) {
    return Status::InvalidArgument("request body: expected a JSON object with \"task_list\"");
  }
  SubmitRequest request;
  bool have_list = false;
  for (const auto& member : doc.GetObject()) {
    const std::string name(member.name.GetString(), member.name.GetStringLength());
    if (name == "task_list") {
      // Re-serialized and parsed as tm-step parses --task-list: same rules, same messages.
      auto ids = ParseTaskList(JsonWriter().Value(member.value).Take());
      if (!ids.ok()) return ids.status();
      request.ids = std::move(ids).value();
      have_list = true;
    } else if (name == "batch_size") {
      if (!member.value.IsInt64() || member.value.GetInt64() < 1) {
        return Status::InvalidArgument("batch_size must be an integer of at least 1");
      }
      request.batch_size = member.value.GetInt64();
    } else if (name == "state_key") {
      if (!member.value.IsString()) return Status::InvalidArgument("state_key must be a string");
      request.state_key.assign(member.value.GetString(), member.value.GetStringLength());
      TM_RETURN_IF_ERROR(ValidateId(request.state_key, "state key"));
    } else {
      return Status::InvalidArgument("request body: unknown field '" + name +
                                     "' (expected task_list, batch_size, state_key)");
    }
  }
  if (!have_list) return Status::InvalidArgument("request body: field 'task_list' is required");
  return request;
}

}  // namespace taskmaster::sidecar
