#include "commands/output.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "taskmaster/flag_checks.h"
#include "taskmaster/time.h"

namespace taskmaster::sidecar {
namespace {

// The number of code points of valid UTF-8 (continuation bytes do not count),
// so that columns of non-ASCII text still line up.
size_t Width(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string Cell(std::string text, size_t max_width) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\t', ' ');
  if (max_width == 0 || Width(text) <= max_width) return text;
  // Cut at a code point boundary.
  size_t bytes = 0;
  for (size_t points = 0; bytes < text.size(); ++bytes) {
    if ((static_cast<unsigned char>(text[bytes]) & 0xC0) != 0x80 && points++ == max_width - 1) {
      break;
    }
  }
  return text.substr(0, bytes) + "…";
}

}  // namespace

void AddOutputFlag(CLI::App* cmd, std::string* format) {
  cmd->add_option("-o,--output", *format,
                  "table, wide, json or jsonl (default: a table on a terminal, else json)")
      ->check(checks::OneOf({"table", "wide", "json", "jsonl"}));
}

OutputFormat ResolveOutputFormat(const std::string& flag) {
  if (flag == "table") return OutputFormat::kTable;
  if (flag == "wide") return OutputFormat::kWide;
  if (flag == "json") return OutputFormat::kJson;
  if (flag == "jsonl") return OutputFormat::kJsonl;
  return ::isatty(STDOUT_FILENO) ? OutputFormat::kTable : OutputFormat::kJson;
}

Table::Table(std::vector<std::string> headers, size_t max_width) : max_width_(max_width) {
  rows_.push_back(std::move(headers));
}

void Table::Add(std::vector<std::string> row) {
  for (std::string& cell : row) cell = Cell(std::move(cell), max_width_);
  rows_.push_back(std::move(row));
}

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths(rows_.front().size(), 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(row[i]));
    }
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - Width(row[i]) + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string HumanDuration(std::optional<int64_t> millis) {
  if (!millis) return "-";
  const int64_t ms = std::max<int64_t>(*millis, 0);
  if (ms < 60000) return fmt::format("{:.3f}s", static_cast<double>(ms) / 1000);
  const int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{}h", s / 86400, s % 86400 / 3600);
}

std::string HumanTime(std::optional<int64_t> unix_ms) {
  return unix_ms ? FormatRfc3339Millis(*unix_ms) : "-";
}

}  // namespace taskmaster::sidecar
