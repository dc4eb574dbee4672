#include "taskmaster/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "taskmaster/json.h"
#include "taskmaster/time.h"
#include "taskmaster/utf8.h"

namespace taskmaster {
namespace {

const char* JsonLevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

const char* TextLevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "TRACE";
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARN";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "CRITICAL";
    default:
      return "OFF";
  }
}

// Writes one whole line with as few write(2) calls as the kernel allows, so
// lines from several threads (and the user's command, which shares stderr in a
// pod) do not interleave mid-line.
void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // Nowhere left to report a failure to log.
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit StderrSink(bool json) : json_(json) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const int64_t unix_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::string time = FormatRfc3339Millis(unix_ms);
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    std::string line;
    if (json_) {
      // Invalid UTF-8 would make the whole line invalid JSON: each such byte
      // becomes U+FFFD.
      JsonWriter w;
      w.StartObject();
      w.Key("time").String(time);
      w.Key("level").String(JsonLevelName(msg.level));
      w.Key("logger").String(ReplaceInvalidUtf8(logger));
      w.Key("msg").String(ReplaceInvalidUtf8(text));
      w.EndObject();
      line = w.Take();
      line += '\n';
    } else {
      // "2026-11-29 00:28:02.123 INFO tm-step: message": the same UTC time,
      // without the T and Z that make it machine-friendly.
      line = time.substr(0, 10) + " " + time.substr(11, 12) + " " + TextLevelName(msg.level) + " " +
             std::string(logger) + ": " + std::string(text) + "\n";
    }
    WriteAll(STDERR_FILENO, line);
  }

  void flush_() override {}  // Every line is written at once.

 private:
  const bool json_;
};

}  // namespace

void SetUpLogging(const std::string& program, LogFormat format) {
  const bool json =
      format == LogFormat::kJson || (format == LogFormat::kAuto && !::isatty(STDERR_FILENO));
  auto logger = std::make_shared<spdlog::logger>(program, std::make_shared<StderrSink>(json));

  const char* env_level = std::getenv("TM_LOG_LEVEL");
  const std::string wanted = env_level == nullptr ? "" : env_level;
  spdlog::level::level_enum level = spdlog::level::info;
  bool known = true;
  if (wanted == "debug") {
    level = spdlog::level::debug;
  } else if (wanted == "warn") {
    level = spdlog::level::warn;
  } else if (wanted == "error") {
    level = spdlog::level::err;
  } else if (!wanted.empty() && wanted != "info") {
    known = false;
  }
  logger->set_level(level);
  spdlog::set_default_logger(logger);
  if (!known) {
    spdlog::warn("TM_LOG_LEVEL='{}' is not one of debug, info, warn, error; logging at info",
                 wanted);
  }
}

}  // namespace taskmaster
