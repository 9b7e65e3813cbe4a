#include "cli/src/pretty_line.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "rtev/error.hpp"
#include "rtev/time.hpp"

using rtev::cli::display_width;
using rtev::cli::format_clock_ms;
using rtev::cli::pretty_columns;
using rtev::cli::pretty_fields;

namespace {

pretty_fields fields(std::string type, std::string room, std::string position,
                     std::string time = "2024-01-15 10:30:45.123") {
  pretty_fields f;
  f.time = std::move(time);
  f.type = std::move(type);
  f.room = std::move(room);
  f.position = std::move(position);
  f.data = R"({"n":1})";
  return f;
}

// Where the payload starts on a line (its column, in code points).
std::size_t data_column(const std::string& line) {
  return display_width(line.substr(0, line.rfind(R"({"n":1})")));
}

}  // namespace

TEST_CASE("format_clock_ms_is_fixed_width_with_milliseconds_in_the_zone", "[cli][pretty]") {
  const auto t = rtev::time::parse_rfc3339("2024-01-05T03:04:05.678901Z");
  SECTION("UTC, zero-padded, milliseconds truncated") {
    CHECK(format_clock_ms(t, "UTC") == "2024-01-05 03:04:05.678");
  }
  SECTION("the zone's wall clock, across a date line") {
    CHECK(format_clock_ms(t, "America/New_York") == "2024-01-04 22:04:05.678");
    CHECK(format_clock_ms(t, "Asia/Kolkata") == "2024-01-05 08:34:05.678");
  }
  SECTION("a whole second shows .000 and every time has the same width") {
    const auto whole = rtev::time::parse_rfc3339("2024-12-31T23:59:59Z");
    CHECK(format_clock_ms(whole, "UTC") == "2024-12-31 23:59:59.000");
    CHECK(format_clock_ms(whole, "UTC").size() == format_clock_ms(t, "UTC").size());
  }
  SECTION("an unknown zone is an error naming it") {
    CHECK_THROWS_AS(format_clock_ms(t, "Europe/Pari"), rtev::unknown_zone_error);
  }
}

TEST_CASE("pretty_columns_line_up_across_events", "[cli][pretty]") {
  pretty_columns cols(false);
  SECTION("a column grows to the widest value seen, and every later line lines up") {
    const std::string a = cols.line(fields("ping", "r", "#1"));
    const std::string b = cols.line(fields("message_sent", "lobby", "#12"));
    const std::string c = cols.line(fields("x", "r", "#3"));
    const std::string d = cols.line(fields("order_created", "lobby", "#1000"));
    CHECK(b == R"(2024-01-15 10:30:45.123  message_sent  lobby  #12  {"n":1})");
    CHECK(c == R"(2024-01-15 10:30:45.123  x             r      #3   {"n":1})");
    CHECK(data_column(b) == data_column(c));
    // The first line could not know of wider values to come.
    CHECK(a == R"(2024-01-15 10:30:45.123  ping  r  #1  {"n":1})");
    // A wider value widens its column from its own line on.
    CHECK(d == R"(2024-01-15 10:30:45.123  order_created  lobby  #1000  {"n":1})");
    CHECK(cols.line(fields("x", "r", "#4")) ==
          R"(2024-01-15 10:30:45.123  x              r      #4     {"n":1})");
  }
  SECTION("a value past the cap pushes only its own line") {
    cols.line(fields("message_sent", "lobby", "#1"));
    const std::string before = cols.line(fields("a", "b", "#2"));
    const std::string long_type(60, 't');
    const std::string wide = cols.line(fields(long_type, "lobby", "#3"));
    const std::string after = cols.line(fields("a", "b", "#4"));
    CHECK(data_column(wide) > data_column(before));
    // The column grew to the cap (24), not to 60.
    CHECK(data_column(after) == data_column(before) + pretty_columns::max_type - 12);
    const std::string long_room(40, 'r');
    cols.line(fields("a", long_room, "#5"));
    CHECK(data_column(cols.line(fields("a", "b", "#6"))) ==
          data_column(after) + pretty_columns::max_room - 5);
  }
  SECTION("widths count code points, not bytes") {
    CHECK(display_width("café") == 4);
    CHECK(display_width("東京") == 2);
    cols.line(fields("message_sent", "café", "#1"));
    CHECK(data_column(cols.line(fields("x", "cafe", "#2"))) ==
          data_column(cols.line(fields("x", "café", "#3"))));
  }
  SECTION("events without a position have no position column until one has") {
    CHECK(cols.line(fields("x", "r", "")) == R"(2024-01-15 10:30:45.123  x  r  {"n":1})");
    cols.line(fields("x", "r", "abc-1"));
    CHECK(cols.line(fields("x", "r", "")) == R"(2024-01-15 10:30:45.123  x  r         {"n":1})");
  }
}

TEST_CASE("pretty_columns_colour_does_not_count_towards_widths", "[cli][pretty]") {
  pretty_columns plain(false), coloured(true);
  std::vector<pretty_fields> lines{fields("message_sent", "lobby", "#12"), fields("x", "r", "#3")};
  for (auto& f : lines) f.type_color = "\033[36m";
  for (const auto& f : lines) {
    const std::string p = plain.line(f);
    std::string c = coloured.line(f);
    // Drop the escapes: what is left is the plain line.
    std::string stripped;
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c[i] == '\033') {
        i = c.find('m', i);
        continue;
      }
      stripped += c[i];
    }
    CHECK(stripped == p);
    CHECK(c.find("\033[36m\033[1m" + f.type + "\033[0m") != std::string::npos);
  }
}
