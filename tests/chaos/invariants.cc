#include "invariants.h"

#include <map>
#include <sstream>

#include "local/local_harness.h"
#include "support/child_process.h"
#include "support/files.h"
#include "taskmaster/json.h"
#include "taskmaster/shell.h"

namespace taskmaster::chaos_test {
namespace {

using local_test::Lines;

// psql's unaligned, tuples-only output of one query, fields split at tabs.
std::vector<std::vector<std::string>> Query(const Stores& stores, const std::string& sql,
                                            std::vector<std::string>* problems) {
  const test_support::ShellResult r =
      test_support::RunShell("psql -X -q -tA -F '\t' " + ShellQuote(stores.postgres_dsn) + " -c " +
                             ShellQuote(sql) + " 2>&1");
  std::vector<std::vector<std::string>> rows;
  if (r.exit_code != 0) {
    problems->push_back("psql failed (" + std::to_string(r.exit_code) + "): " + r.out);
    return rows;
  }
  for (const std::string& line : Lines(r.out)) {
    std::vector<std::string> fields;
    std::istringstream in(line);
    std::string field;
    while (std::getline(in, field, '\t')) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

std::string SqlText(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// The highest "acked N" of a task's audit log, -1 when there is none.
int64_t LastAcked(const std::string& data_dir, int ordinal) {
  int64_t acked = -1;
  for (const std::string& line :
       Lines(test_support::ReadFile(data_dir + "/audit/" + std::to_string(ordinal) + ".log"))) {
    if (line.rfind("acked ", 0) == 0) acked = std::max<int64_t>(acked, std::stoll(line.substr(6)));
  }
  return acked;
}

}  // namespace

std::vector<std::string> CheckSucceededOnce(const Stores& stores) {
  std::vector<std::string> problems;
  const std::string key = SqlText(stores.key);
  const auto workflow = Query(
      stores,
      "SELECT status, total, succeeded, failed FROM workflow_states WHERE workflow_id = " + key,
      &problems);
  const std::string want = std::to_string(stores.tasks);
  if (workflow.size() != 1 ||
      workflow[0] != std::vector<std::string>{"succeeded", want, want, "0"}) {
    std::string got;
    for (const auto& row : workflow) {
      for (const auto& field : row) got += field + " ";
    }
    problems.push_back("workflow_states (status total succeeded failed) is '" + got +
                       "', not 'succeeded " + want + " " + want + " 0'");
  }
  for (const auto& row : Query(stores,
                               "SELECT task_id, status FROM task_states WHERE workflow_id = " +
                                   key + " AND status <> 'succeeded' ORDER BY ordinal LIMIT 20",
                               &problems)) {
    problems.push_back("task " + row.at(0) + " ended " + row.at(1));
  }
  for (const auto& row : Query(
           stores,
           "SELECT t.task_id, count(a.*) FILTER (WHERE a.outcome = 'succeeded') FROM task_states t "
           "LEFT JOIN task_attempts a USING (workflow_id, ordinal) WHERE t.workflow_id = " +
               key +
               " GROUP BY t.ordinal, t.task_id HAVING count(a.*) FILTER (WHERE a.outcome = "
               "'succeeded') <> 1 ORDER BY t.ordinal LIMIT 20",
           &problems)) {
    problems.push_back("task " + row.at(0) + " has " + row.at(1) + " succeeded attempts, not 1");
  }
  return problems;
}

std::vector<std::string> CheckLastCheckpoints(const Stores& stores, const std::string& data_dir,
                                              int records) {
  std::vector<std::string> problems;
  std::map<int, std::string> stored;
  for (const auto& row :
       Query(stores,
             "SELECT t.ordinal, c.document::json->'payload'->>'next' FROM task_states t LEFT JOIN "
             "checkpoints c USING (workflow_id, task_id) WHERE t.workflow_id = " +
                 SqlText(stores.key),
             &problems)) {
    stored[std::stoi(row.at(0))] = row.size() > 1 ? row[1] : "";
  }
  for (int ordinal = 0; ordinal < stores.tasks; ++ordinal) {
    const int64_t acked = LastAcked(data_dir, ordinal);
    const auto it = stored.find(ordinal);
    const std::string have = it == stored.end() ? "(no task row)" : it->second;
    if (have != std::to_string(records)) {
      problems.push_back("task " + std::to_string(ordinal) + ": the stored checkpoint's next is " +
                         (have.empty() ? "(none)" : have) + ", not " + std::to_string(records) +
                         " (the last acknowledged to the task: " + std::to_string(acked) + ")");
    }
  }
  return problems;
}

std::vector<std::string> CheckRedisEqualsPostgres(const Stores& stores,
                                                  const std::string& sidecar) {
  std::vector<std::string> problems;
  const auto documents =
      Query(stores,
            "SELECT task_id, document FROM checkpoints WHERE workflow_id = " + SqlText(stores.key) +
                " ORDER BY task_id",
            &problems);
  std::string gets = "GET " + ShellQuote("workflow:state:" + stores.key) + "\n";
  for (const auto& row : documents) {
    gets += "GET " + ShellQuote("checkpoint:task:" + stores.key + ":" + row.at(0)) + "\n";
  }
  const test_support::ShellResult cached =
      test_support::RunShell("printf '%s' " + ShellQuote(gets) + " | redis-cli -u " +
                             ShellQuote(stores.redis_url) + " 2>&1");
  const std::vector<std::string> values = Lines(cached.out);
  if (cached.exit_code != 0 || values.size() != documents.size() + 1) {
    problems.push_back("redis-cli answered " + std::to_string(values.size()) + " lines for " +
                       std::to_string(documents.size() + 1) +
                       " GETs: " + cached.out.substr(0, 500));
    return problems;
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    if (values[i + 1] != documents[i].at(1)) {
      problems.push_back("checkpoint:task:" + stores.key + ":" + documents[i].at(0) +
                         " in Redis is '" + values[i + 1] + "', PostgreSQL holds '" +
                         documents[i].at(1) + "'");
    }
  }
  const test_support::ShellResult status =
      test_support::RunShell("TM_POSTGRES_DSN=" + ShellQuote(stores.postgres_dsn) + " " +
                             ShellQuote(sidecar) + " status " + ShellQuote(stores.key));
  rapidjson::Document redis_state, stored_state;
  if (!ParseJson(values[0], "redis", &redis_state).ok() || !redis_state.IsObject() ||
      !ParseJson(status.out, "status", &stored_state).ok() || !stored_state.IsObject()) {
    problems.push_back("workflow:state:" + stores.key + " is '" + values[0] +
                       "', tm-sidecar status printed '" + status.out + "'");
    return problems;
  }
  for (const auto& member : redis_state.GetObject()) {
    const char* name = member.name.GetString();
    if (!stored_state.HasMember(name) || stored_state[name] != member.value) {
      problems.push_back(std::string("workflow:state:") + stores.key + " field " + name +
                         " differs: redis " + values[0] + " vs postgres " + status.out);
    }
  }
  return problems;
}

}  // namespace taskmaster::chaos_test
