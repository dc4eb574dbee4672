#include "taskmaster/time.h"

#include <boost/test/unit_test.hpp>
#include <string>

using taskmaster::FormatRfc3339Millis;
using taskmaster::ParseRfc3339;
using taskmaster::ParseRfc3339Millis;

BOOST_AUTO_TEST_SUITE(rfc3339)

BOOST_AUTO_TEST_CASE(rfc3339_known_values) {
  BOOST_TEST(FormatRfc3339Millis(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(FormatRfc3339Millis(1795912082123) == "2026-11-29T00:28:02.123Z");
  BOOST_TEST(FormatRfc3339Millis(1709208000000) == "2024-02-29T12:00:00.000Z");
  BOOST_TEST(FormatRfc3339Millis(951868799999) == "2000-02-29T23:59:59.999Z");
  BOOST_TEST(FormatRfc3339Millis(-1) == "1969-12-31T23:59:59.999Z");
  BOOST_TEST(FormatRfc3339Millis(-2203891200000) == "1900-03-01T00:00:00.000Z");
  BOOST_TEST(FormatRfc3339Millis(253402300799999) == "9999-12-31T23:59:59.999Z");
  BOOST_TEST(FormatRfc3339Millis(-62167219200000) == "0000-01-01T00:00:00.000Z");

  BOOST_TEST(*ParseRfc3339Millis("2026-11-29T00:28:02.123Z") == 1795912082123);
  BOOST_TEST(*ParseRfc3339Millis("1969-12-31T23:59:59.999Z") == -1);
  BOOST_TEST(*ParseRfc3339Millis("0001-01-01T00:00:00.000Z") == -62135596800000);
}

BOOST_AUTO_TEST_CASE(rfc3339_round_trips) {
  // Steps that are prime in ms walk over every field's carries and leap days.
  for (int64_t ms = -62167219200000; ms <= 253402300799999; ms += 99991234567) {
    auto back = ParseRfc3339Millis(FormatRfc3339Millis(ms));
    BOOST_REQUIRE_MESSAGE(back.ok(), FormatRfc3339Millis(ms) << ": " << back.status().ToString());
    BOOST_TEST(*back == ms);
  }
  for (int64_t day = 0; day < 3 * 366; ++day) {  // every day of 2023..2025
    const int64_t ms = 1672531200000 + day * 86400000 + 86399999;
    BOOST_TEST(*ParseRfc3339Millis(FormatRfc3339Millis(ms)) == ms);
  }
}

BOOST_AUTO_TEST_CASE(rfc3339_rejects_every_other_form) {
  const char* bad[] = {
      "",
      "2026-11-29T00:28:02Z",           // no milliseconds
      "2026-11-29T00:28:02.1234Z",      // too many digits
      "2026-11-29T00:28:02.123+00:00",  // an offset, not Z
      "2026-11-29t00:28:02.123z",       // lower case
      "2026-11-29 00:28:02.123Z",       // space
      "2026-11-29T00:28:02.123Z ",      // trailing space
      "2026-1a-29T00:28:02.123Z",
      "+026-11-29T00:28:02.123Z",
      "2026-13-01T00:00:00.000Z",
      "2026-00-01T00:00:00.000Z",
      "2026-11-00T00:00:00.000Z",
      "2026-11-31T00:00:00.000Z",
      "2026-02-29T00:00:00.000Z",  // not a leap year
      "2100-02-29T00:00:00.000Z",  // nor is 2100
      "2026-11-29T24:00:00.000Z",
      "2026-11-29T23:60:00.000Z",
      "2016-12-31T23:59:60.000Z",  // a leap second
  };
  for (const char* text : bad) {
    auto parsed = ParseRfc3339Millis(text);
    BOOST_TEST(parsed.status().IsInvalidArgument(), "accepted '" << text << "'");
  }
  BOOST_TEST(ParseRfc3339Millis("2000-02-29T00:00:00.000Z").ok());
  BOOST_TEST(ParseRfc3339Millis("2026-13-01T00:00:00.000Z").status().message().find("month") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(rfc3339_millis_messages_name_the_problem) {
  const struct {
    const char* text;
    const char* why;
  } cases[] = {
      {"2026-11-29T00:28:02Z", "wrong length"},
      {"2026-11-29T00:28:02,123Z", "unexpected character at 19"},
      {"2026-02-30T00:00:00.000Z", "day out of range"},
      {"2026-11-29T24:00:00.000Z", "hour out of range"},
      {"2026-11-29T23:60:00.000Z", "minute out of range"},
      {"2016-12-31T23:59:60.000Z", "second out of range"},
  };
  for (const auto& c : cases) {
    const std::string want = std::string("'") + c.text +
                             "' is not an RFC 3339 UTC time with milliseconds (" + c.why +
                             "; like 2026-11-29T00:28:02.123Z)";
    BOOST_TEST(ParseRfc3339Millis(c.text).status().message() == want);
  }
  // A peer's text is quoted only up to 64 bytes.
  const std::string long_text(100, '9');
  const std::string message = ParseRfc3339Millis(long_text).status().message();
  BOOST_TEST(message.find("'" + std::string(64, '9') + "...'") == 0, message);
}

BOOST_AUTO_TEST_CASE(rfc3339_any_form_reads_what_go_writes) {
  // Go's time.RFC3339: whole seconds and Z.
  BOOST_TEST(*ParseRfc3339("2026-11-29T00:28:02Z") == 1795912082000);
  // RFC3339Nano: a fraction of any length, truncated (never rounded) to ms.
  BOOST_TEST(*ParseRfc3339("2026-11-29T00:28:02.1Z") == 1795912082100);
  BOOST_TEST(*ParseRfc3339("2026-11-29T00:28:02.12Z") == 1795912082120);
  BOOST_TEST(*ParseRfc3339("2026-11-29T00:28:02.123Z") == 1795912082123);
  BOOST_TEST(*ParseRfc3339("2026-11-29T00:28:02.123999999Z") == 1795912082123);
  BOOST_TEST(*ParseRfc3339("2026-12-31T23:59:59.9999Z") == 1798761599999);
  // The millisecond form is one of its forms.
  for (int64_t ms : {int64_t{0}, int64_t{-1}, int64_t{1795912082123}}) {
    BOOST_TEST(*ParseRfc3339(FormatRfc3339Millis(ms)) == ms);
  }
}

BOOST_AUTO_TEST_CASE(rfc3339_offsets_are_subtracted) {
  // The same instant, written in three zones.
  const int64_t utc = *ParseRfc3339("2026-11-29T00:28:02Z");
  BOOST_TEST(*ParseRfc3339("2026-11-29T02:28:02+02:00") == utc);
  BOOST_TEST(*ParseRfc3339("2026-11-28T19:58:02-04:30") == utc);
  BOOST_TEST(*ParseRfc3339("2026-11-29T00:28:02+00:00") == utc);
  BOOST_TEST(*ParseRfc3339("2026-11-29T00:28:02-00:00") == utc);
  // An offset can move the instant across a day, a month and a year.
  BOOST_TEST(*ParseRfc3339("2027-01-01T05:00:00.500+05:00") ==
             *ParseRfc3339Millis("2027-01-01T00:00:00.500Z"));
  BOOST_TEST(*ParseRfc3339("2026-12-31T23:59:59-23:59") ==
             *ParseRfc3339Millis("2027-01-01T23:58:59.000Z"));
  BOOST_TEST(*ParseRfc3339("1970-01-01T00:00:00+00:01") == -60000);
}

BOOST_AUTO_TEST_CASE(rfc3339_any_form_refuses_the_rest) {
  const char* bad[] = {
      "",
      "2026-11-29T00:28:02",           // no zone
      "2026-11-29T00:28:02.Z",         // a point without digits
      "2026-11-29T00:28:02.123",       // a fraction, still no zone
      "2026-11-29T00:28:02z",          // lower case
      "2026-11-29t00:28:02Z",          // lower case
      "2026-11-29 00:28:02Z",          // space
      "2026-11-29T00:28:02Z ",         // trailing space
      "2026-11-29T00:28:02+0200",      // offset without a colon
      "2026-11-29T00:28:02+02",        // offset without minutes
      "2026-11-29T00:28:02+02:00:00",  // offset with seconds
      "2026-11-29T00:28:02+24:00",     // offset hour out of range
      "2026-11-29T00:28:02+01:60",     // offset minute out of range
      "2026-11-29T00:28:02UTC",
      "2026-11-29T00:28:02.1e3Z",
      "2026-11-29T00:28Z",            // no seconds
      "2026-02-29T00:00:00Z",         // not a leap year
      "2016-12-31T23:59:60Z",         // a leap second
      "2016-12-31T23:59:60.5+00:00",  // a leap second
      "2026-11-29T24:00:00Z",
      "-026-11-29T00:28:02Z",
  };
  for (const char* text : bad) {
    auto parsed = ParseRfc3339(text);
    BOOST_TEST(parsed.status().IsInvalidArgument(), "accepted '" << text << "'");
  }
  BOOST_TEST(ParseRfc3339("2024-02-29T12:00:00+14:00").ok());  // a leap day
  BOOST_TEST(ParseRfc3339("2026-11-29T00:28:02+24:00").status().message().find("offset") !=
             std::string::npos);
  BOOST_TEST(ParseRfc3339("2026-11-29T00:28:02+02").status().message() ==
             "'2026-11-29T00:28:02+02' is not an RFC 3339 time (expected Z or an offset like "
             "+01:00 after the time; like 2026-11-29T00:28:02Z)");
}

BOOST_AUTO_TEST_SUITE_END()
