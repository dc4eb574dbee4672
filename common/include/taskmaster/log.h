// Logging set-up for both programs (spdlog, header-only): JSON lines on stderr
// when it is not a terminal (a pod: what `argo logs` and log shippers read),
// readable text when it is. Call once near main().
#ifndef TASKMASTER_LOG_H_
#define TASKMASTER_LOG_H_

#include <string>

namespace taskmaster {

enum class LogFormat { kAuto, kJson, kText };

// Installs the default spdlog logger writing to stderr. `program` appears in
// every JSON line as "logger". Level from TM_LOG_LEVEL (default info).
void SetUpLogging(const std::string& program, LogFormat format = LogFormat::kAuto);

}  // namespace taskmaster

#endif  // TASKMASTER_LOG_H_
