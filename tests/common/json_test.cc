#include "taskmaster/json.h"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

using taskmaster::DescribeJsonError;
using taskmaster::JsonNumbers;
using taskmaster::JsonQuote;
using taskmaster::JsonWriter;
using taskmaster::ParseJson;
using taskmaster::Status;

BOOST_AUTO_TEST_SUITE(json)

BOOST_AUTO_TEST_CASE(strings_escape_only_what_json_requires) {
  // The bytes every record, state document and checkpoint has always had:
  // short escapes where JSON has them, else \u00XX in upper-case hex.
  BOOST_TEST(JsonQuote("plain text") == R"("plain text")");
  BOOST_TEST(JsonQuote("say \"hi\"\\") == R"("say \"hi\"\\")");
  BOOST_TEST(JsonQuote("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  BOOST_TEST(JsonQuote(std::string("\x01\x0b\x1f\0", 4)) == R"("\u0001\u000B\u001F\u0000")");
  // Not escaped: '/', DEL and every non-ASCII character.
  BOOST_TEST(JsonQuote("a/b\x7F") == "\"a/b\x7F\"");
  BOOST_TEST(JsonQuote("caf\u00e9 \u2028 \U0001F600") == "\"caf\u00e9 \u2028 \U0001F600\"");
  // Invalid UTF-8 is copied, as the header says: callers replace it first.
  BOOST_TEST(JsonQuote("\xff\xc0") == "\"\xff\xc0\"");
}

BOOST_AUTO_TEST_CASE(objects_keep_the_order_they_are_written_in) {
  JsonWriter w;
  w.StartObject();
  w.Key("z").Int(-1);
  w.Key("a").Int64(std::numeric_limits<int64_t>::min());
  w.Key("u").Uint64(std::numeric_limits<uint64_t>::max());
  w.Key("b").Bool(false);
  w.Key("none").OptionalInt(std::nullopt);
  w.Key("some").OptionalInt(7);
  w.Key("at").Time(1795912082123);
  w.Key("never").OptionalTime(std::nullopt);
  w.Key("list").StartArray().String("x").Int(2).EndArray();
  w.EndObject();
  BOOST_TEST(w.Take() == R"({"z":-1,"a":-9223372036854775808,"u":18446744073709551615,"b":false,)"
                         R"("none":null,"some":7,"at":"2026-11-29T00:28:02.123Z","never":null,)"
                         R"("list":["x",2]})");
}

BOOST_AUTO_TEST_CASE(raw_text_is_inserted_unchanged_with_separators) {
  JsonWriter w;
  w.StartArray().Raw(R"({"n":1.50})").Raw("[]").Int(3).Raw("\"s\"").EndArray();
  BOOST_TEST(w.Take() == R"([{"n":1.50},[],3,"s"])");
  JsonWriter o;
  o.StartObject().Key("a").Raw("1e3").Key("b").Raw("null").EndObject();
  BOOST_TEST(o.Take() == R"({"a":1e3,"b":null})");
  // A capacity is room reserved, not a limit.
  const std::string digits(100000, '7');
  JsonWriter big(8);
  big.StartArray().Raw(digits).Raw(digits).EndArray();
  BOOST_TEST((big.Take() == "[" + digits + "," + digits + "]"));
}

BOOST_AUTO_TEST_CASE(a_dom_value_is_written_as_accept_writes_it) {
  const std::string text =
      R"({"s":"a\"\u0007","i":-3,"u":4294967296,"d":0.1,"e":1e300,"t":true,"n":null,)"
      R"("a":[[],{},[1,[2,{"k":[]}]]],"o":{"x":{"y":"z"}}})";
  rapidjson::Document doc;
  BOOST_REQUIRE(ParseJson(text, "test", &doc).ok());
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  const std::string want(buffer.GetString(), buffer.GetSize());
  BOOST_TEST(JsonWriter().Value(doc).Take() == want);
  BOOST_TEST(JsonWriter().Value(doc["a"]).Take() == R"([[],{},[1,[2,{"k":[]}]]])");
  BOOST_TEST(JsonWriter().Value(doc["s"]).Take() == R"("a\"\u0007")");
}

BOOST_AUTO_TEST_CASE(deep_values_are_parsed_and_written_without_recursion) {
  // Deeper than a recursive reader or writer could follow on an 8 MiB stack.
  constexpr size_t kDepth = 1000000;
  const std::string text = std::string(kDepth, '[') + std::string(kDepth, ']');
  rapidjson::Document doc;
  BOOST_REQUIRE(ParseJson(text, "deep", &doc).ok());
  BOOST_TEST((JsonWriter().Value(doc).Take() == text));
}

BOOST_AUTO_TEST_CASE(parse_errors_name_the_document_and_the_byte) {
  rapidjson::Document doc;
  Status s = ParseJson("[1,]", "request body", &doc);
  BOOST_TEST(s.IsCorruption());
  BOOST_TEST(s.message() == "request body: invalid JSON at byte 3: Invalid value.");
  // Without a name, for callers whose own message names the text.
  BOOST_TEST(ParseJson("", "", &doc).message() == "invalid JSON at byte 0: The document is empty.");
  BOOST_TEST(ParseJson("{} {}", "x", &doc).message() ==
             "x: invalid JSON at byte 3: The document root must not be followed by other values.");
  // Invalid UTF-8 and unpaired surrogate escapes are refused.
  BOOST_TEST(ParseJson("\"\xff\"", "x", &doc).message() ==
             "x: invalid JSON at byte 1: Invalid encoding in string.");
  BOOST_TEST(!ParseJson(R"("\ud800")", "x", &doc).ok());
  BOOST_TEST(!ParseJson("\"\xED\xA0\x80\"", "x", &doc).ok());
  // Whitespace around the value is allowed.
  BOOST_TEST(ParseJson(" \n{\"a\":1}\t ", "x", &doc).ok());
  BOOST_TEST(doc["a"].GetInt() == 1);
}

BOOST_AUTO_TEST_CASE(error_descriptions_drop_the_final_period) {
  BOOST_TEST(DescribeJsonError(rapidjson::kParseErrorValueInvalid, 7) ==
             "invalid JSON at byte 7: Invalid value");
  BOOST_TEST(DescribeJsonError(rapidjson::kParseErrorDocumentEmpty, 0) ==
             "invalid JSON at byte 0: The document is empty");
}

BOOST_AUTO_TEST_CASE(numbers_are_exact_unless_fast_is_asked_for) {
  // RapidJSON's fast reading is one unit in the last place off for this one.
  const char* text = "1.3640703636619725e-04";
  rapidjson::Document exact;
  BOOST_REQUIRE(ParseJson(text, "x", &exact).ok());
  BOOST_TEST(exact.GetDouble() == std::strtod(text, nullptr));
  // kFast reads exactly as RapidJSON's default always has (the control lines).
  rapidjson::Document fast;
  BOOST_REQUIRE(ParseJson(text, "x", &fast, JsonNumbers::kFast).ok());
  rapidjson::Document plain;
  plain.Parse(text);
  BOOST_TEST(fast.GetDouble() == plain.GetDouble());
  BOOST_TEST(fast.GetDouble() != exact.GetDouble());
}

BOOST_AUTO_TEST_CASE(a_zero_with_a_large_exponent_reads_as_zero) {
  // RapidJSON 1.1.0's exact reading made 1.26e263 of "0e77" and -5.7e132 of
  // "0e-244" (found by fuzz/); ParseJson reads every such zero as zero, its
  // sign kept, and other numbers as before.
  for (const char* text : {"0e77", "0e-244", "-0e300", "0.000e-200", "-0.0E+23", "[1,0e99]"}) {
    rapidjson::Document doc;
    BOOST_REQUIRE(ParseJson(text, "x", &doc).ok());
    const rapidjson::Value& number = doc.IsArray() ? doc[1] : doc;
    BOOST_TEST(number.GetDouble() == 0.0);
    BOOST_TEST(std::signbit(number.GetDouble()) == (text[0] == '-'));
  }
  for (const char* text : {"1e77", "-2.5e-244", "10e30", "0.5e300"}) {
    rapidjson::Document doc;
    BOOST_REQUIRE(ParseJson(text, "x", &doc).ok());
    BOOST_TEST(doc.GetDouble() == std::strtod(text, nullptr));
  }
  // A byte order mark is skipped as before, and errors keep their offsets.
  rapidjson::Document doc;
  BOOST_TEST(ParseJson("\xef\xbb\xbf[0e50]", "x", &doc).ok());
  BOOST_TEST(ParseJson("[0e50,]", "x", &doc).message() ==
             "x: invalid JSON at byte 6: Invalid value.");
  BOOST_TEST(ParseJson("1e400", "x", &doc).message() ==
             "x: invalid JSON at byte 0: Number too big to be stored in double.");
}

BOOST_AUTO_TEST_CASE(exact_numbers_are_read_as_strtod_reads_them) {
  // Inputs RapidJSON 1.1.0's exact reading got wrong or crashed on (fuzz/):
  // a long mantissa with a large negative exponent read past its table.
  const std::string long_mantissa = "0." + std::string(400, '7') + "e-357";
  for (const std::string& text :
       {long_mantissa, std::string("4.9406564584124654e-324"), std::string("2.2250738585072011e-308"),
        std::string("1.7976931348623157e308"), std::string("123456789012345678901234567890"),
        std::string("-9223372036854775809"), std::string("1e-400"), std::string("-1e-99999999999")}) {
    rapidjson::Document doc;
    BOOST_REQUIRE_MESSAGE(ParseJson(text, "x", &doc).ok(), text);
    BOOST_TEST(doc.IsDouble(), text);
    BOOST_TEST(doc.GetDouble() == std::strtod(text.c_str(), nullptr), text);
  }
  rapidjson::Document doc;
  BOOST_TEST(ParseJson("[1, 1.7976931348623159e308]", "x", &doc).message() ==
             "x: invalid JSON at byte 4: Number too big to be stored in double.");
}

BOOST_AUTO_TEST_CASE(integers_keep_the_types_rapidjson_gives_them) {
  rapidjson::Document doc;
  BOOST_REQUIRE(ParseJson("[0, -0, 7, -7, 4294967295, 4294967296, -2147483648, -2147483649, "
                          "18446744073709551615, -9223372036854775808, 18446744073709551616]",
                          "x", &doc)
                    .ok());
  rapidjson::Document plain;
  plain.Parse("[0, -0, 7, -7, 4294967295, 4294967296, -2147483648, -2147483649, "
              "18446744073709551615, -9223372036854775808, 18446744073709551616]");
  BOOST_REQUIRE(doc.Size() == plain.Size());
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    BOOST_TEST(doc[i].IsInt() == plain[i].IsInt(), i);
    BOOST_TEST(doc[i].IsUint() == plain[i].IsUint(), i);
    BOOST_TEST(doc[i].IsInt64() == plain[i].IsInt64(), i);
    BOOST_TEST(doc[i].IsUint64() == plain[i].IsUint64(), i);
    BOOST_TEST(doc[i].IsDouble() == plain[i].IsDouble(), i);
    BOOST_TEST((doc[i] == plain[i]), i);
  }
  // Strings that look like numbers stay strings; a number's text is not kept.
  BOOST_REQUIRE(ParseJson(R"({"a":"12","b":1.5})", "x", &doc).ok());
  BOOST_TEST(doc["a"].IsString());
  BOOST_TEST(doc["b"].GetDouble() == 1.5);
}

BOOST_AUTO_TEST_SUITE_END()
