// state_operations: store and cache operations, each beside its baseline in
// the same run (the seed's `cargo bench --bench state_operations`). Every round
// runs each group's baselines and then its operations, so that both see the
// same machine; the medians of the rounds and their ratio are printed as a
// Markdown table for BENCHMARKS.md.
//
// usage: state_operations [--rounds N] [--seconds S] [--pgbench-seconds N]
//                         [--only redis,postgres,sqlite]
//
// The servers: TM_BENCH_REDIS_URL and TM_BENCH_POSTGRES_DSN (e.g. those of
// scripts/test-services.sh); a group whose server is not set is skipped unless
// --only names it. TM_BENCH_DIR is where the SQLite files go (default
// /var/tmp, a disk). Exit 0, 1 when a measurement failed, 2 for usage.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "operations.h"

namespace taskmaster::bench {
namespace {

struct Options {
  Settings settings;
  int rounds = 3;
  std::set<std::string> only;  // empty: every group whose server is set
};

int Usage(const std::string& problem) {
  std::fprintf(stderr,
               "state_operations: %s\nusage: state_operations [--rounds N] [--seconds S] "
               "[--pgbench-seconds N] [--only redis,postgres,sqlite]\n",
               problem.c_str());
  return 2;
}

std::string Env(const char* name, const std::string& otherwise = "") {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : otherwise;
}

// Parses the command line into `options`; a message when it is wrong.
std::string ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return "missing the value of " + flag;
    const std::string value = argv[++i];
    try {
      if (flag == "--rounds" && std::stoi(value) > 0) {
        options->rounds = std::stoi(value);
      } else if (flag == "--seconds" && std::stod(value) > 0) {
        options->settings.seconds = std::stod(value);
      } else if (flag == "--pgbench-seconds" && std::stoi(value) > 0) {
        options->settings.pg_seconds = std::stoi(value);
      } else if (flag == "--only") {
        std::istringstream names(value);
        std::string name;
        while (std::getline(names, name, ',')) {
          if (name != "redis" && name != "postgres" && name != "sqlite") {
            return "--only takes redis, postgres and sqlite, not '" + name + "'";
          }
          options->only.insert(name);
        }
      } else {
        return "unknown flag or bad value: " + flag + " " + value;
      }
    } catch (const std::exception&) {
      return flag + " takes a positive number, not '" + value + "'";
    }
  }
  return "";
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[(values.size() - 1) / 2];
}

std::string Number(double value) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.0f", value);
  std::string digits = text;
  for (int at = static_cast<int>(digits.size()) - 3; at > 0; at -= 3) digits.insert(at, ",");
  return digits;
}

// Measures each of `items` (baselines or operations) once, printing and
// adding the rates to `rates`; false when one failed.
template <typename Item>
bool MeasureEach(const std::vector<Item>& items, std::vector<std::vector<double>>* rates) {
  for (size_t i = 0; i < items.size(); ++i) {
    Result<double> rate = items[i].measure();
    if (!rate.ok()) {
      std::printf("  %s: FAILED: %s\n", items[i].name.c_str(), rate.status().ToString().c_str());
      return false;
    }
    (*rates)[i].push_back(*rate);
    std::printf("  %s: %s %s\n", items[i].name.c_str(), Number(*rate).c_str(),
                items[i].unit.c_str());
    std::fflush(stdout);
  }
  return true;
}

// Runs the group's rounds and prints them and the table; false when a
// measurement failed.
bool RunGroup(const Group& group, int rounds) {
  std::printf("\n-- %s\n", group.title.c_str());
  for (const Baseline& b : group.baselines) {
    std::printf("baseline \"%s\":\n  %s\n", b.name.c_str(), b.command.c_str());
  }
  std::vector<std::vector<double>> base(group.baselines.size()), ours(group.operations.size());
  for (int round = 1; round <= rounds; ++round) {
    std::printf("round %d:\n", round);
    if (!MeasureEach(group.baselines, &base) || !MeasureEach(group.operations, &ours)) {
      return false;
    }
  }
  std::printf("\n| %s (medians of %d rounds) | Ours | Baseline | Ratio | Target | |\n",
              group.title.c_str(), rounds);
  std::printf("|---|---|---|---|---|---|\n");
  for (size_t i = 0; i < group.operations.size(); ++i) {
    const Operation& op = group.operations[i];
    const Baseline& b = group.baselines[op.baseline];
    const double mine = Median(ours[i]);
    const double theirs = Median(base[op.baseline]);
    const double ratio = mine / theirs;
    std::string target = "—";
    std::string verdict;
    if (op.target) {
      char text[32];
      std::snprintf(text, sizeof(text), "≥ %.1f", *op.target);
      target = text;
      verdict = ratio >= *op.target ? "met" : "**missed**";
    }
    std::printf("| %s | %s %s | %s: %s %s | %.2f | %s | %s |\n", op.name.c_str(),
                Number(mine).c_str(), op.unit.c_str(), b.name.c_str(), Number(theirs).c_str(),
                b.unit.c_str(), ratio, target.c_str(), verdict.c_str());
  }
  std::fflush(stdout);
  return true;
}

}  // namespace
}  // namespace taskmaster::bench

int main(int argc, char** argv) {
  using namespace taskmaster::bench;
  Options options;
  const std::string problem = ParseOptions(argc, argv, &options);
  if (!problem.empty()) return Usage(problem);
  Settings& settings = options.settings;
  settings.redis_url = Env("TM_BENCH_REDIS_URL");
  settings.postgres_dsn = Env("TM_BENCH_POSTGRES_DSN");
  settings.dir = Env("TM_BENCH_DIR", "/var/tmp");

  struct Choice {
    const char* name;
    const char* needs;  // the variable that names its server, or nullptr
    bool configured;
    taskmaster::Result<Group> (*make)(const Settings&);
  };
  const Choice choices[] = {
      {"redis", "TM_BENCH_REDIS_URL", !settings.redis_url.empty(), RedisGroup},
      {"postgres", "TM_BENCH_POSTGRES_DSN", !settings.postgres_dsn.empty(), PostgresGroup},
      {"sqlite", nullptr, true, SqliteGroup},
  };
  std::printf("== state_operations: %d rounds, %.1f s per operation per round\n", options.rounds,
              settings.seconds);
  int exit_code = 0;
  for (const Choice& choice : choices) {
    const bool named = options.only.count(choice.name) != 0;
    if (!options.only.empty() && !named) continue;
    if (!choice.configured) {
      if (named) return Usage(std::string("--only ") + choice.name + " needs " + choice.needs);
      std::printf("\n-- %s: skipped (%s is not set)\n", choice.name, choice.needs);
      continue;
    }
    taskmaster::Result<Group> group = choice.make(settings);
    if (!group.ok()) {
      std::printf("\n-- %s: FAILED to set up: %s\n", choice.name,
                  group.status().ToString().c_str());
      exit_code = 1;
      continue;
    }
    if (!RunGroup(*group, options.rounds)) exit_code = 1;
  }
  return exit_code;
}
