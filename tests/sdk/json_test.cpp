#include "rtev/json.hpp"

#include <catch2/catch.hpp>

#include <string>

using rtev::json_depth_within;
using rtev::max_json_depth;
using rtev::parse_json;

namespace {
std::string nested(std::size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}
}  // namespace

TEST_CASE("json_depth_counts_arrays_and_objects_outside_strings", "[sdk][json]") {
  CHECK(json_depth_within("[]", 1));
  CHECK_FALSE(json_depth_within("[[]]", 1));
  CHECK(json_depth_within(R"({"a":[1,{"b":2}]})", 3));
  CHECK_FALSE(json_depth_within(R"({"a":[1,{"b":2}]})", 2));
  SECTION("brackets inside strings, escaped quotes included, do not count") {
    CHECK(json_depth_within(R"(["[[[[", "\"[[[[\"", "\\"])", 1));
  }
}

TEST_CASE("parse_json_refuses_nesting_past_the_limit_with_a_reason", "[sdk][json]") {
  std::string why;
  CHECK_FALSE(parse_json(nested(max_json_depth), &why).is_discarded());
  SECTION("one level more is refused, naming the limit") {
    CHECK(parse_json(nested(max_json_depth + 1), &why).is_discarded());
    CHECK(why == "nested deeper than 128 levels");
  }
  SECTION("a body nested 100k levels deep is refused without recursing") {
    CHECK(parse_json("{\"type\":\"x\",\"data\":" + nested(100000) + "}", &why).is_discarded());
    CHECK(why.find("nested deeper") != std::string::npos);
  }
}

TEST_CASE("parse_json_reports_malformed_text_and_invalid_utf8", "[sdk][json]") {
  std::string why;
  CHECK(parse_json("{\"a\":", &why).is_discarded());
  CHECK(why.find("syntax error") != std::string::npos);
  CHECK(why.find("[json.exception") == std::string::npos);
  CHECK(parse_json("\"\xff\"", &why).is_discarded());
  CHECK(why.find("\\xff") != std::string::npos);  // quoted, printable: safe to send back
  CHECK(parse_json("[1,\n\xc3x", &why).is_discarded());
  CHECK(why.find_first_of("\n\xc3") == std::string::npos);
  CHECK(parse_json("", &why).is_discarded());
  CHECK(parse_json(R"({"a":[1,2,{"b":"ü"}]})")["a"][2]["b"] == "ü");
}

TEST_CASE("printable_writes_bytes_outside_printable_ascii_as_hex", "[sdk][json]") {
  CHECK(rtev::printable("ok 1") == "ok 1");
  CHECK(rtev::printable("a\nb\xff\x7f") == "a\\x0ab\\xff\\x7f");
}
