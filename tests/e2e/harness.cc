#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "support/services.h"
#include "taskmaster/env.h"
#include "taskmaster/journal.h"
#include "taskmaster/protocol.h"

namespace taskmaster::e2e {

namespace pr = protocol;

namespace {

bool StartsWith(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

std::string UniqueKey(const std::string& prefix) {
  return test_support::UniqueKey("e2e-" + prefix);
}

std::string RequireEnv(const char* name) {
  return test_support::RequireServiceEnv(name);
}

std::string PostgresDsn() {
  return RequireEnv("TM_TEST_POSTGRES_DSN");
}
std::string RedisUrl() {
  return RequireEnv("TM_TEST_REDIS_URL");
}

// ---- Process ------------------------------------------------------------------

Process::Process(const std::string& binary, const std::vector<std::string>& args,
                 const EnvVars& env, const std::string& log_prefix)
    : ChildProcess(binary, args, env, log_prefix, OutputMode::kAppend) {}

Process::~Process() {
  // Before ~ChildProcess, which would only SIGKILL the process: a stopped one
  // is continued, and what it started in its group dies with it.
  if (!reaped()) {
    Signal(SIGCONT);
    SignalGroup(SIGKILL);
    Signal(SIGKILL);
    Wait(milliseconds(5000));
  }
}

void Process::Signal(int sig) {
  if (!reaped()) ::kill(pid(), sig);
}

// ---- Shell, HTTP ----------------------------------------------------------------

ShellResult Shell(const std::string& command_line, bool keep_stderr_apart) {
  return test_support::RunShell("bash -o pipefail -c " + ShellQuote(command_line) +
                                (keep_stderr_apart ? "" : " 2>&1"));
}

std::optional<HttpResponse> HttpExchange(uint16_t port, const std::string& request,
                                         milliseconds timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  struct timeval tv;
  tv.tv_sec = timeout.count() / 1000;
  tv.tv_usec = (timeout.count() % 1000) * 1000;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::optional<HttpResponse> response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      std::string raw;
      char buf[65536];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<size_t>(n));
      const size_t head_end = raw.find("\r\n\r\n");
      // "HTTP/1.x NNN reason"
      if (n == 0 && head_end != std::string::npos && raw.size() > 12 &&
          StartsWith(raw, "HTTP/1.")) {
        response = HttpResponse{std::atoi(raw.substr(9, 3).c_str()), raw.substr(head_end + 4),
                                raw.substr(0, head_end)};
      }
    }
  }
  ::close(fd);
  return response;
}

std::optional<HttpResponse> HttpGet(uint16_t port, const std::string& path, milliseconds timeout) {
  return HttpExchange(port, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", timeout);
}

std::optional<double> MetricValue(const std::string& metrics, const std::string& series) {
  std::istringstream lines(metrics);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() > series.size() && StartsWith(line, series.c_str()) &&
        line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

double MetricSum(const std::string& metrics, const std::string& prefix) {
  std::istringstream lines(metrics);
  std::string line;
  double sum = 0;
  while (std::getline(lines, line)) {
    const size_t space = line.rfind(' ');
    if (StartsWith(line, prefix.c_str()) && space != std::string::npos) {
      sum += std::strtod(line.c_str() + space + 1, nullptr);
    }
  }
  return sum;
}

// ---- Stores ---------------------------------------------------------------------

StoreSpec SqliteStore(const std::string& path) {
  return StoreSpec{{"--store", "sqlite:" + path}};
}

StoreSpec PostgresStore(bool with_redis) {
  StoreSpec spec{{"--postgres", PostgresDsn()}};
  if (with_redis) {
    spec.flags.push_back("--redis");
    spec.flags.push_back(RedisUrl());
  }
  return spec;
}

std::string Sqlite(const std::string& db, const std::string& sql) {
  ShellResult r = Shell("sqlite3 -batch -noheader " + ShellQuote(db) + " " + ShellQuote(sql), true);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "sqlite3 failed (" << r.exit_code << ") on: " << sql);
  return r.out;
}

std::string Psql(const std::string& sql) {
  ShellResult r = Shell(
      "psql -AtX -v ON_ERROR_STOP=1 " + ShellQuote(PostgresDsn()) + " -c " + ShellQuote(sql), true);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "psql failed (" << r.exit_code << ") on: " << sql);
  return r.out;
}

std::string RedisCli(const std::string& args) {
  ShellResult r = Shell("redis-cli -u " + ShellQuote(RedisUrl()) + " " + args, true);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "redis-cli failed (" << r.exit_code << ") on: " << args);
  return r.out;
}

std::string StoredRows(const StoreSpec& store, const std::string& key) {
  std::string sqlite;
  for (size_t i = 0; i + 1 < store.flags.size(); ++i) {
    if (store.flags[i] == "--store") sqlite = store.flags[i + 1].substr(std::strlen("sqlite:"));
  }
  std::string rows;
  for (const char* table :
       {"workflow_states", "task_states", "checkpoints", "fences", "shard_counts"}) {
    // Every table has at least four columns, its primary key among them.
    const std::string sql = std::string("SELECT * FROM ") + table + " WHERE workflow_id = '" + key +
                            "' ORDER BY 1, 2, 3, 4";
    rows += std::string(table) + ":\n" + (sqlite.empty() ? Psql(sql) : Sqlite(sqlite, sql));
  }
  return rows;
}

JournalSummary ReadJournal(const std::string& path) {
  JournalSummary summary;
  if (!FileExists(path)) return summary;  // before the sidecar created it
  auto reader = JournalReader::Open(Env::Default(), path, 0);
  BOOST_REQUIRE_MESSAGE(reader.ok(), "cannot open " << path << ": " << reader.status().ToString());
  JournalRecord record;
  while ((*reader)->Next(&record) == JournalReader::Outcome::kRecord) {
    ++summary.records;
    summary.max_seq = std::max<int64_t>(summary.max_seq, static_cast<int64_t>(record.seq));
    if (record.type == static_cast<uint16_t>(pr::RecordType::kCommit)) {
      summary.commit_seq = static_cast<int64_t>(record.seq);
    }
  }
  return summary;
}

// ---- Pods -----------------------------------------------------------------------

Pod::Pod(std::string dir, PodSpec spec) : dir_(std::move(dir)), spec_(std::move(spec)) {
  std::filesystem::create_directories(dir_);
}

Pod::~Pod() = default;

void Pod::StartSidecar() {
  std::vector<std::string> args = {
      "--role",      spec_.role,      "--shard",     std::to_string(spec_.shard),
      "--state-key", spec_.state_key, "--work-dir",  work_dir(),
      "--listen",    "127.0.0.1:0",   "--port-file", dir_ + "/port"};
  if (spec_.local) args.push_back("--local");
  args.insert(args.end(), spec_.store.flags.begin(), spec_.store.flags.end());
  EnvVars env = spec_.env;
  env["ARGO_PROGRESS_FILE"] = progress_file();
  ::unlink((dir_ + "/port").c_str());
  // A restarted sidecar is a new process: the old one is reaped first.
  if (sidecar_) BOOST_REQUIRE_MESSAGE(!sidecar_->Running(), "the previous sidecar still runs");
  sidecar_ = std::make_unique<Process>(kSidecarBinary, args, env,
                                       dir_ + "/sidecar" + std::to_string(++sidecar_starts_));
}

void Pod::WaitReady(milliseconds timeout) {
  const bool ready = WaitUntil(
      [&] { return FileExists(work(pr::kReadyFile)) || (sidecar_ && !sidecar_->Running()); },
      timeout);
  BOOST_REQUIRE_MESSAGE(ready && FileExists(work(pr::kReadyFile)),
                        "the sidecar never wrote ready in " << dir_ << "\n"
                                                            << Logs());
}

void Pod::StartStep(const std::vector<std::string>& args, const std::vector<std::string>& command) {
  BOOST_REQUIRE(!args.empty());
  std::vector<std::string> full = {args[0], "--work-dir", work_dir(), "--state-key",
                                   spec_.state_key};
  if (args[0] == "run") {
    full.push_back("--shard");
    full.push_back(std::to_string(spec_.shard));
  }
  full.insert(full.end(), args.begin() + 1, args.end());
  if (!command.empty()) {
    full.push_back("--");
    full.insert(full.end(), command.begin(), command.end());
  }
  EnvVars env = spec_.env;
  // A sidecar that fails must not keep the step waiting for five minutes.
  if (!env.count("TM_READY_TIMEOUT")) env["TM_READY_TIMEOUT"] = "20";
  step_ = std::make_unique<Process>(kStepBinary, full, env, dir_ + "/step");
}

uint16_t Pod::Port(milliseconds timeout) {
  const std::string path = dir_ + "/port";
  BOOST_REQUIRE_MESSAGE(WaitUntil([&] { return FileExists(path); }, timeout),
                        "the sidecar never wrote its port file\n"
                            << Logs());
  return static_cast<uint16_t>(std::stoi(ReadFile(path)));
}

int64_t Pod::AckedSeq() const {
  const std::string text = ReadFile(work(pr::kAckFile));
  if (text.empty()) return 0;
  auto ack = pr::DecodeAck(text);
  return ack.ok() ? ack->seq : 0;
}

int Pod::WaitStep(milliseconds timeout) {
  BOOST_REQUIRE(step_ != nullptr);
  auto code = step_->Wait(timeout);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-step still runs after " << timeout.count() << " ms\n"
                                                                      << Logs());
  return *code;
}

int Pod::StopSidecar(milliseconds timeout) {
  BOOST_REQUIRE(sidecar_ != nullptr);
  sidecar_->Signal(SIGTERM);
  auto code = sidecar_->Wait(timeout);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "tm-sidecar still runs " << timeout.count()
                                                                   << " ms after SIGTERM\n"
                                                                   << Logs());
  return *code;
}

std::string Pod::Logs() const {
  std::string logs;
  for (int i = 1; i <= sidecar_starts_; ++i) {
    logs += "--- " + dir_ + "/sidecar" + std::to_string(i) + ".err\n" +
            ReadFile(dir_ + "/sidecar" + std::to_string(i) + ".err");
  }
  if (step_) logs += "--- " + dir_ + "/step.err\n" + step_->err();
  return logs;
}

PodResult RunPod(const std::string& dir, const PodSpec& spec,
                 const std::vector<std::string>& step_args,
                 const std::vector<std::string>& command) {
  Pod pod(dir, spec);
  pod.StartSidecar();
  pod.StartStep(step_args, command);
  PodResult result;
  result.step = pod.WaitStep();
  result.sidecar = pod.StopSidecar();
  result.logs = pod.Logs();
  return result;
}

// ---- Workflows ------------------------------------------------------------------

Workflow::Workflow(std::string root, std::string state_key, StoreSpec store)
    : root_(std::move(root)), key_(std::move(state_key)), store_(std::move(store)) {}

PodSpec Workflow::Spec(const std::string& role, int64_t shard) const {
  PodSpec spec;
  spec.role = role;
  spec.shard = shard;
  spec.state_key = key_;
  spec.store = store_;
  return spec;
}

std::string Workflow::NewPodDir(const std::string& role, int64_t shard) {
  return root_ + "/" + std::to_string(++pods_) + "-" + role + "-" + std::to_string(shard);
}

PodResult Workflow::Init(const std::vector<std::string>& task_ids, int64_t batch_size) {
  return RunPod(
      NewPodDir("init"), Spec("init"),
      {"init", "--task-list", TaskListJson(task_ids), "--batch-size", std::to_string(batch_size)});
}

void Workflow::MustInit(const std::vector<std::string>& task_ids, int64_t batch_size) {
  const PodResult init = Init(task_ids, batch_size);
  BOOST_REQUIRE_MESSAGE(init.step == 0 && init.sidecar == 0, init.logs);
}

PodResult Workflow::Shard(int64_t shard, const std::vector<std::string>& command,
                          const EnvVars& env) {
  PodSpec spec = Spec("shard", shard);
  spec.env = env;
  return RunPod(NewPodDir("shard", shard), spec, {"run"}, command);
}

PodResult Workflow::Finalize() {
  return RunPod(NewPodDir("finalize"), Spec("finalize"), {"finalize"});
}

Workflow SqliteFixture::InitWorkflow(const std::string& key_prefix,
                                     const std::vector<std::string>& task_ids, int64_t batch_size) {
  Workflow wf(tmp.path(), UniqueKey(key_prefix), SqliteStore(db));
  wf.MustInit(task_ids, batch_size);
  return wf;
}

std::vector<std::string> Sh(const std::string& script) {
  return {"/bin/sh", "-c", script};
}

std::string TaskListJson(const std::vector<std::string>& ids) {
  std::string json = "[";
  for (size_t i = 0; i < ids.size(); ++i) json += (i ? ",\"" : "\"") + ids[i] + "\"";
  return json + "]";
}

std::vector<std::string> TaskIds(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  for (int i = 1; i <= n; ++i) ids.push_back(prefix + "-" + std::to_string(i));
  return ids;
}

}  // namespace taskmaster::e2e
