#include "taskmaster/time.h"

#include <cstdio>

namespace taskmaster {
namespace {

constexpr int64_t kMillisPerDay = int64_t{86400} * 1000;

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's
// algorithms): plain integer arithmetic, so no timegm, no TZ and no locale.
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct CivilDate {
  int64_t year;
  int64_t month;
  int64_t day;
};

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int64_t DaysInMonth(int64_t year, int64_t month) {
  static constexpr int64_t kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// The value of `count` decimal digits at text[pos], already known to be digits.
int64_t Digits(std::string_view text, size_t pos, size_t count) {
  int64_t value = 0;
  for (size_t i = pos; i < pos + count; ++i) value = value * 10 + (text[i] - '0');
  return value;
}

// The first index at which text does not match shape ('0' stands for any
// digit, every other character for itself), or npos; text is at least as long.
size_t ShapeMismatch(std::string_view text, std::string_view shape) {
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == '0' ? !IsDigit(text[i]) : text[i] != shape[i]) return i;
  }
  return std::string_view::npos;
}

// A form of time the parsers accept, for their messages.
struct Form {
  const char* name;
  const char* example;
};
constexpr Form kMillisForm = {"an RFC 3339 UTC time with milliseconds", "2026-11-29T00:28:02.123Z"};
constexpr Form kAnyForm = {"an RFC 3339 time", "2026-11-29T00:28:02Z"};

Status BadTime(std::string_view text, const Form& form, const std::string& why) {
  // Quote a bounded prefix: the text may be anything a peer sent.
  constexpr size_t kQuoteMax = 64;
  std::string quoted(text.substr(0, kQuoteMax));
  if (text.size() > kQuoteMax) quoted += "...";
  return Status::InvalidArgument("'" + quoted + "' is not " + form.name + " (" + why + "; like " +
                                 form.example + ")");
}

// The Unix time of "YYYY-MM-DDTHH:MM:SS" at the start of text (its shape
// already checked) plus `millis`, or why its fields are out of range.
Result<int64_t> UtcMillis(std::string_view text, int64_t millis, const Form& form) {
  const int64_t year = Digits(text, 0, 4);
  const int64_t month = Digits(text, 5, 2);
  const int64_t day = Digits(text, 8, 2);
  const int64_t hour = Digits(text, 11, 2);
  const int64_t minute = Digits(text, 14, 2);
  const int64_t second = Digits(text, 17, 2);
  if (month < 1 || month > 12) return BadTime(text, form, "month out of range");
  if (day < 1 || day > DaysInMonth(year, month)) return BadTime(text, form, "day out of range");
  if (hour > 23) return BadTime(text, form, "hour out of range");
  if (minute > 59) return BadTime(text, form, "minute out of range");
  if (second > 59) return BadTime(text, form, "second out of range");
  return DaysFromCivil(year, month, day) * kMillisPerDay + hour * 3600000 + minute * 60000 +
         second * 1000 + millis;
}

}  // namespace

std::string FormatRfc3339Millis(int64_t unix_ms) {
  // Floor division, so times before 1970 land on the right day.
  int64_t days = unix_ms / kMillisPerDay;
  int64_t ms_of_day = unix_ms % kMillisPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMillisPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(date.year), static_cast<long long>(date.month),
                static_cast<long long>(date.day), static_cast<long long>(ms_of_day / 3600000),
                static_cast<long long>(ms_of_day / 60000 % 60),
                static_cast<long long>(ms_of_day / 1000 % 60),
                static_cast<long long>(ms_of_day % 1000));
  return buf;
}

Result<int64_t> ParseRfc3339Millis(std::string_view text) {
  static constexpr std::string_view kShape = "0000-00-00T00:00:00.000Z";
  if (text.size() != kShape.size()) return BadTime(text, kMillisForm, "wrong length");
  const size_t at = ShapeMismatch(text, kShape);
  if (at != std::string_view::npos) {
    return BadTime(text, kMillisForm, "unexpected character at " + std::to_string(at));
  }
  return UtcMillis(text, Digits(text, 20, 3), kMillisForm);
}

Result<int64_t> ParseRfc3339(std::string_view text) {
  static constexpr std::string_view kShape = "0000-00-00T00:00:00";
  if (text.size() <= kShape.size()) return BadTime(text, kAnyForm, "too short");
  const size_t at = ShapeMismatch(text, kShape);
  if (at != std::string_view::npos) {
    return BadTime(text, kAnyForm, "unexpected character at " + std::to_string(at));
  }
  std::string_view rest = text.substr(kShape.size());
  int64_t millis = 0;
  if (rest[0] == '.') {
    size_t end = 1;
    while (end < rest.size() && IsDigit(rest[end])) ++end;
    if (end == 1) return BadTime(text, kAnyForm, "no digit after the decimal point");
    // Truncated, not rounded, so the instant never moves past the written second.
    for (size_t i = 1; i <= 3; ++i) millis = millis * 10 + (i < end ? rest[i] - '0' : 0);
    rest.remove_prefix(end);
  }
  int64_t offset_ms = 0;
  if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') &&
      ShapeMismatch(rest.substr(1), "00:00") == std::string_view::npos) {
    const int64_t hours = Digits(rest, 1, 2);
    const int64_t minutes = Digits(rest, 4, 2);
    if (hours > 23 || minutes > 59) return BadTime(text, kAnyForm, "offset out of range");
    offset_ms = (hours * 60 + minutes) * 60000;
    if (rest[0] == '-') offset_ms = -offset_ms;
  } else if (rest != "Z") {
    return BadTime(text, kAnyForm, "expected Z or an offset like +01:00 after the time");
  }
  // The local time of an offset is UTC plus the offset.
  Result<int64_t> local = UtcMillis(text, millis, kAnyForm);
  if (!local.ok()) return local;
  return *local - offset_ms;
}

}  // namespace taskmaster
