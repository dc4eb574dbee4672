#include "api_client.h"

#include <signal.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>

#include "taskmaster/json.h"

namespace taskmaster::e2e {

ApiServer::ApiServer(const std::string& dir, const StoreSpec& store,
                     const std::vector<std::string>& extra, const EnvVars& env) {
  std::vector<std::string> args = {"api", "--port-file", dir + "/port"};
  if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
    args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  }
  args.insert(args.end(), store.flags.begin(), store.flags.end());
  args.insert(args.end(), extra.begin(), extra.end());
  process_ = std::make_unique<Process>(kSidecarBinary, args, env, dir + "/api");
  const bool up = WaitUntil([&] { return FileExists(dir + "/port") || !process_->Running(); },
                            milliseconds(15000));
  BOOST_REQUIRE_MESSAGE(up && FileExists(dir + "/port"),
                        "tm-sidecar api never wrote its port file\n"
                            << process_->err());
  port_ = static_cast<uint16_t>(std::stoi(ReadFile(dir + "/port")));
}

int ApiServer::Stop() {
  process_->Signal(SIGTERM);
  auto code = process_->Wait(milliseconds(10000));
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-sidecar api still runs after SIGTERM");
  return *code;
}

CurlResult Curl(const std::string& args) {
  ShellResult r = Shell(
      "command -v curl >/dev/null || { echo 'curl not found: run scripts/bootstrap.sh'; exit 127; "
      "}; "
      "curl -s -w '\\n%{http_code}' " +
          args,
      true);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0,
                        "curl " << args << " failed (" << r.exit_code << "): " << r.out);
  const size_t newline = r.out.rfind('\n');
  BOOST_REQUIRE(newline != std::string::npos);
  return CurlResult{std::atoi(r.out.c_str() + newline + 1), r.out.substr(0, newline)};
}

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document doc;
  Status s = ParseJson(text, "response", &doc);
  BOOST_REQUIRE_MESSAGE(s.ok() && doc.IsObject(), "not a JSON object: " << text);
  return doc;
}

std::string Str(const rapidjson::Document& doc, const char* name) {
  BOOST_REQUIRE_MESSAGE(doc.HasMember(name) && doc[name].IsString(), "no string " << name);
  return doc[name].GetString();
}

int64_t Int(const rapidjson::Document& doc, const char* name) {
  BOOST_REQUIRE_MESSAGE(doc.HasMember(name) && doc[name].IsInt64(), "no integer " << name);
  return doc[name].GetInt64();
}

void CheckError(const CurlResult& r, int status, const std::string& message_part) {
  BOOST_CHECK_MESSAGE(r.status == status,
                      "expected " << status << ", got " << r.status << ": " << r.body);
  rapidjson::Document doc = Parse(r.body);
  BOOST_CHECK_EQUAL(Int(doc, "status"), status);
  BOOST_CHECK_MESSAGE(Str(doc, "error").find(message_part) != std::string::npos,
                      "'" << message_part << "' not in " << r.body);
}

}  // namespace taskmaster::e2e
