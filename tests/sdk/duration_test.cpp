#include "rtev/duration.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using Catch::Matchers::Contains;

TEST_CASE("durations_parse_in_every_unit", "[sdk][duration]") {
  CHECK(rtev::parse_duration("250us") == 250us);
  CHECK(rtev::parse_duration("500ms") == 500ms);
  CHECK(rtev::parse_duration("10s") == 10s);
  CHECK(rtev::parse_duration("5m") == 5min);
  CHECK(rtev::parse_duration("1h") == 1h);
  CHECK(rtev::parse_duration("2d") == 48h);
  CHECK(rtev::parse_duration("1h30m") == 90min);
  CHECK(rtev::parse_duration("1.5s") == 1500ms);
  CHECK(rtev::parse_duration("0") == 0s);
}

TEST_CASE("malformed_durations_are_rejected_with_the_text_named", "[sdk][duration]") {
  for (const char* bad : {"", "10", "10 s", "ten s", "5x", "s", "-5s", "1.2.3s", ".s",
                          "99999999999d", "909s3333333331099s", "105000d"}) {
    INFO(bad);
    CHECK_THROWS_WITH(rtev::parse_duration(bad),
                      Contains(std::string("invalid duration '") + bad + "'") && Contains("10s"));
  }
}

TEST_CASE("durations_format_in_the_shortest_exact_form", "[sdk][duration]") {
  CHECK(rtev::format_duration(90min) == "1h30m");
  CHECK(rtev::format_duration(10s) == "10s");
  CHECK(rtev::format_duration(1500ms) == "1500ms");
  CHECK(rtev::format_duration(7us) == "7us");
  CHECK(rtev::format_duration(0s) == "0s");
  CHECK(rtev::format_duration(49h) == "2d1h");
  CHECK(rtev::parse_duration(rtev::format_duration(3723s)) == 3723s);
}

TEST_CASE("rates_parse_per_second", "[sdk][duration]") {
  CHECK(rtev::parse_rate("100/s") == 100.0);
  CHECK(rtev::parse_rate("60/m") == 1.0);
  CHECK(rtev::parse_rate("3600/h") == 1.0);
  CHECK(rtev::parse_rate("25") == 25.0);
  for (const char* bad : {"", "0/s", "100/x", "/s", "fast", "100/"}) {
    INFO(bad);
    CHECK_THROWS_WITH(rtev::parse_rate(bad), Contains("invalid rate"));
  }
}
