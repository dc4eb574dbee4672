// How the operator's read commands (`get`, `tasks`, `history`) print, in the
// manner of kubectl and argo: `-o table|wide|json|jsonl`, a table when stdout
// is a terminal and JSON otherwise; tables are left-aligned columns under
// upper-case headers, two spaces apart.
#ifndef TASKMASTER_SIDECAR_COMMANDS_OUTPUT_H_
#define TASKMASTER_SIDECAR_COMMANDS_OUTPUT_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace taskmaster::sidecar {

enum class OutputFormat { kTable, kWide, kJson, kJsonl };

// Adds -o/--output (table, wide, json, jsonl) to `cmd`, read into `*format`
// (empty: by the terminal).
void AddOutputFlag(CLI::App* cmd, std::string* format);
// The format `flag` names; empty: a table when stdout is a terminal, else JSON.
OutputFormat ResolveOutputFormat(const std::string& flag);

// Rows of cells printed as aligned columns; a cell is cut to `max_width`
// (0: no limit) with "…", and newlines in it become spaces.
class Table {
 public:
  explicit Table(std::vector<std::string> headers, size_t max_width = 0);
  void Add(std::vector<std::string> row);
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
  size_t max_width_;
};

// "-" for none; "1.234s", "2m3s", "1h2m" as kubectl writes durations.
std::string HumanDuration(std::optional<int64_t> millis);
// RFC 3339 UTC with milliseconds, or "-".
std::string HumanTime(std::optional<int64_t> unix_ms);

}  // namespace taskmaster::sidecar

#endif  // TASKMASTER_SIDECAR_COMMANDS_OUTPUT_H_
