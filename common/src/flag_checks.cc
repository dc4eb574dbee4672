#include "taskmaster/flag_checks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "taskmaster/task_list.h"

namespace taskmaster::checks {

namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// The value as a message shows it: quoted when empty or when blanks would hide.
std::string Shown(const std::string& text) {
  const bool plain = !text.empty() && std::none_of(text.begin(), text.end(), [](unsigned char c) {
    return c <= ' ' || c == '\'' || c >= 0x7f;
  });
  return plain ? text : fmt::format("'{}'", text);
}

// "1000000", "2.5": a bound without a needless ".000000".
std::string NumberInWords(double value) {
  return fmt::format("{:.15g}", value);
}

// Digits with at most one '.' between digits ("2", "2.5"); nullopt for
// anything else (sign, exponent, hex, nan, inf, blanks).
std::optional<double> ParseDecimal(std::string_view text) {
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && fraction.empty())) return std::nullopt;
  if (!std::all_of(whole.begin(), whole.end(), IsDigit) ||
      !std::all_of(fraction.begin(), fraction.end(), IsDigit)) {
    return std::nullopt;
  }
  // Enough digits to overflow a double are far past every range here.
  if (whole.size() > 30) return std::nullopt;
  const double value = std::strtod(std::string(text).c_str(), nullptr);
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

struct Unit {
  std::string_view suffix;
  double seconds;
};
constexpr Unit kUnits[] = {{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};

std::optional<double> ParseDurationText(std::string_view text) {
  double scale = 1;
  for (const Unit& unit : kUnits) {
    if (text.size() > unit.suffix.size() &&
        text.substr(text.size() - unit.suffix.size()) == unit.suffix &&
        IsDigit(text[text.size() - unit.suffix.size() - 1])) {
      text.remove_suffix(unit.suffix.size());
      scale = unit.seconds;
      break;
    }
  }
  const std::optional<double> number = ParseDecimal(text);
  if (!number) return std::nullopt;
  return *number * scale;
}

std::string DurationRefusal(const std::string& text, double lo, double hi) {
  return fmt::format(
      "{} is not a duration between {} and {} (seconds, or a number with ms, s, m, h or d: 30, "
      "0.5, 90s, 5m)",
      Shown(text), SecondsInWords(lo), SecondsInWords(hi));
}

}  // namespace

std::string SecondsInWords(double seconds) {
  struct Named {
    double seconds;
    const char* one;
    const char* many;
  };
  for (const Named& n : {Named{86400, "day", "days"}, Named{3600, "hour", "hours"},
                         Named{60, "minute", "minutes"}}) {
    if (seconds >= n.seconds && std::fmod(seconds, n.seconds) == 0) {
      const double count = seconds / n.seconds;
      return fmt::format("{:.15g} {}", count, count == 1 ? n.one : n.many);
    }
  }
  return fmt::format("{:.15g} s", seconds);
}

CLI::Validator WholeNumber(int64_t lo, int64_t hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const std::string_view digits =
            lo < 0 && !text.empty() && text[0] == '-' ? std::string_view(text).substr(1) : text;
        int64_t value = 0;
        const bool decimal = !digits.empty() && std::all_of(digits.begin(), digits.end(), IsDigit);
        if (decimal) {
          const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
          if (error == std::errc() && end == text.data() + text.size() && value >= lo &&
              value <= hi) {
            return std::string();
          }
        }
        return fmt::format("{} is not a whole number between {} and {}", Shown(text), lo, hi);
      },
      fmt::format("{}..{}", lo, hi));
}

CLI::Validator DecimalNumber(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const std::optional<double> value = ParseDecimal(text);
        if (value && *value >= lo && *value <= hi) return std::string();
        return fmt::format("{} is not a number between {} and {}", Shown(text), NumberInWords(lo),
                           NumberInWords(hi));
      },
      fmt::format("{}..{}", NumberInWords(lo), NumberInWords(hi)));
}

Result<double> ParseDuration(const std::string& text, double lo_seconds, double hi_seconds) {
  const std::optional<double> seconds = ParseDurationText(text);
  if (!seconds || *seconds < lo_seconds || *seconds > hi_seconds) {
    return Status::InvalidArgument(DurationRefusal(text, lo_seconds, hi_seconds));
  }
  return *seconds;
}

CLI::Validator Duration(double lo_seconds, double hi_seconds) {
  return CLI::Validator(
      [lo_seconds, hi_seconds](std::string& text) -> std::string {
        auto seconds = ParseDuration(text, lo_seconds, hi_seconds);
        if (!seconds.ok()) return seconds.status().message();
        // Plain seconds from here on: CLI11 converts this to the option's double.
        text = fmt::format("{:.17g}", *seconds);
        return std::string();
      },
      fmt::format("{}..{}", SecondsInWords(lo_seconds), SecondsInWords(hi_seconds)));
}

CLI::Validator NonEmpty(const std::string& what) {
  return CLI::Validator(
      [what](std::string& text) -> std::string {
        if (!text.empty()) return std::string();
        return "the value is empty: give " + what;
      },
      "");
}

CLI::Validator OneOf(const std::vector<std::string>& choices) {
  const std::string listed = fmt::format("{}", fmt::join(choices, ", "));
  return CLI::Validator(
      [choices, listed](std::string& text) -> std::string {
        if (std::find(choices.begin(), choices.end(), text) != choices.end()) return std::string();
        return fmt::format("{} is not one of {}", Shown(text), listed);
      },
      "{" + listed + "}");
}

CLI::Validator StateKey() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        Status s = ValidateId(text, "state key");
        return s.ok() ? std::string() : s.message();
      },
      "");
}

}  // namespace taskmaster::checks
