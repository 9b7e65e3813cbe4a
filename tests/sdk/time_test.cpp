#include "rtev/time.hpp"

#include <date/date.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using rtev::timestamp;
namespace rtime = rtev::time;

namespace {

// An instant from UTC calendar fields, computed with date.h rather than the code under test.
timestamp utc(int y, unsigned mo, unsigned d, unsigned h = 0, unsigned mi = 0, unsigned s = 0,
              long long us = 0) {
  const auto day = date::sys_days{date::year{y} / date::month{mo} / date::day{d}};
  const auto secs =
      day + std::chrono::hours{h} + std::chrono::minutes{mi} + std::chrono::seconds{s};
  return timestamp{std::chrono::duration_cast<std::chrono::microseconds>(secs.time_since_epoch()) +
                   std::chrono::microseconds{us}};
}

constexpr const char* expected_prefix =
    "expected an RFC 3339 timestamp like 2024-01-15T10:30:45.123456-05:00, got '";

// The parse_error message for `text`, or "" when it parsed.
std::string parse_failure(const std::string& text, const std::string& zone = "UTC") {
  try {
    rtime::parse_rfc3339(text, zone);
  } catch (const rtev::parse_error& e) {
    CHECK(e.path().empty());
    return e.what();
  }
  return "";
}

std::string zone_failure(const std::string& zone) {
  try {
    rtime::validate_zone(zone);
  } catch (const rtev::unknown_zone_error& e) {
    CHECK(e.zone() == zone);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("rfc3339_parses_every_accepted_form", "[sdk][time]") {
  const timestamp base = utc(2024, 1, 15, 15, 30, 45);

  SECTION("a numeric offset is subtracted to get UTC") {
    const auto t = rtime::parse_rfc3339("2024-01-15T10:30:45.123456-05:00");
    CHECK(t.time_since_epoch().count() == 1705332645123456);
    CHECK(t == base + 123456us);
    CHECK(rtime::parse_rfc3339("2024-01-16T00:30:45+09:00") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T21:00:45+05:30") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T21:15:45+05:45") == base);
  }
  SECTION("Z and z mean UTC") {
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45Z") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45z") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45+00:00") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45-00:00") == base);
  }
  SECTION("the date and time may be separated by T, t or a space") {
    CHECK(rtime::parse_rfc3339("2024-01-15t15:30:45Z") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15 15:30:45Z") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15 10:30:45-05:00") == base);
  }
  SECTION("offsets without a colon are accepted") {
    CHECK(rtime::parse_rfc3339("2024-01-15T10:30:45-0500") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T21:00:45+0530") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.5+0000") == base + 500000us);
  }
  SECTION("fractions of 1 to 9 digits are truncated to microseconds") {
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.1Z") == base + 100000us);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.12Z") == base + 120000us);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.123Z") == base + 123000us);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.000001Z") == base + 1us);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.1234567Z") == base + 123456us);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.123456789Z") == base + 123456us);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.999999999Z") == base + 999999us);
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45.000000000Z") == base);
  }
  SECTION("leap days and the ends of the year range parse") {
    CHECK(rtime::parse_rfc3339("2024-02-29T00:00:00Z") == utc(2024, 2, 29));
    CHECK(rtime::parse_rfc3339("2000-02-29T00:00:00Z") == utc(2000, 2, 29));
    CHECK(rtime::parse_rfc3339("0000-01-01T00:00:00Z") == utc(0, 1, 1));
    CHECK(rtime::parse_rfc3339("9999-12-31T23:59:59.999999Z") ==
          utc(9999, 12, 31, 23, 59, 59, 999999));
  }
  SECTION("an offset in the naive zone argument does not affect text with an offset") {
    CHECK(rtime::parse_rfc3339("2024-01-15T15:30:45Z", "Asia/Tokyo") == base);
    CHECK(rtime::parse_rfc3339("2024-01-15T10:30:45-05:00", "Australia/Sydney") == base);
  }
}

TEST_CASE("rfc3339_rejects_malformed_text_naming_the_problem", "[sdk][time]") {
  struct bad_case {
    const char* text;
    const char* reason;
  };
  const bad_case cases[] = {
      {"", "the text is empty"},
      {"hello", "expected the 4-digit year at position 0, found 'h'"},
      {"24-01-15T10:30:45Z", "found '-'"},
      {"2024/01/15T10:30:45Z", "expected '-' after the year at position 4, found '/'"},
      {"2024-1-15T10:30:45Z", "expected the 2-digit month at position 5"},
      {"2024-01-5T10:30:45Z", "expected the 2-digit day at position 8"},
      {"2024-01-15", "missing the time of day"},
      {"2024-01-15X10:30:45Z", "expected 'T' or a space between the date and the time, found 'X'"},
      {"2024-01-15_10:30:45Z", "found '_'"},
      {"2024-01-15T1:30:45Z", "expected the 2-digit hour at position 11"},
      {"2024-01-15T10-30-45Z", "expected ':' after the hour at position 13, found '-'"},
      {"2024-01-15T10:30Z", "seconds are required"},
      {"2024-01-15T10:30", "seconds are required"},
      {"2024-01-15T10:30:4Z", "expected the 2-digit second at position 17, found 'Z'"},
      {"2024-01-15T10:30:45.Z", "expected digits after '.'"},
      {"2024-01-15T10:30:45,123Z", "unexpected ',' at position 19"},
      {"2024-01-15T10:30:45.1234567890Z", "at most 9 fractional digits are allowed, got 10"},
      {"2024-01-15T10:30:45+05", "bad UTC offset '+05'"},
      {"2024-01-15T10:30:45+5:00", "bad UTC offset '+5:00'"},
      {"2024-01-15T10:30:45-05:0", "bad UTC offset '-05:0'"},
      {"2024-01-15T10:30:45+05:00:00", "unexpected trailing text ':00' after the offset"},
      {"2024-01-15T10:30:45ZZ", "unexpected trailing text 'Z' after the offset"},
      {"2024-01-15T10:30:45Z ", "unexpected trailing text ' ' after the offset"},
      {" 2024-01-15T10:30:45Z", "found ' '"},
      {"2024-01-15T10:30:45 ", "unexpected ' ' at position 19"},
      {"2024-01-15T10:30:45 UTC", "unexpected ' ' at position 19"},
      {"2024-01-15T10:30:45EST", "unexpected 'E' at position 19"},
      {"1705332645", "expected '-' after the year at position 4, found '3'"},
  };
  for (const auto& c : cases) {
    INFO("input: '" << c.text << "'");
    const std::string msg = parse_failure(c.text);
    CHECK(msg.rfind(expected_prefix + std::string(c.text) + "'", 0) == 0);
    CHECK(msg.find(c.reason) != std::string::npos);
  }
  CHECK_THROWS_AS(rtime::parse_rfc3339("nope"), rtev::parse_error);
}

TEST_CASE("rfc3339_rejects_out_of_range_fields", "[sdk][time]") {
  struct bad_case {
    const char* text;
    const char* reason;
  };
  const bad_case cases[] = {
      {"2024-13-01T00:00:00Z", "month 13 out of range 1-12"},
      {"2024-00-10T00:00:00Z", "month 0 out of range 1-12"},
      {"2024-01-32T00:00:00Z", "day 32 out of range 1-31 for January 2024"},
      {"2024-01-00T00:00:00Z", "day 0 out of range 1-31 for January 2024"},
      {"2024-02-30T00:00:00Z", "day 30 out of range 1-29 for February 2024"},
      {"2023-02-29T00:00:00Z", "day 29 out of range 1-28 for February 2023"},
      {"1900-02-29T00:00:00Z", "day 29 out of range 1-28 for February 1900"},
      {"2024-04-31T00:00:00Z", "day 31 out of range 1-30 for April 2024"},
      {"2024-01-15T24:00:00Z", "hour 24 out of range 0-23"},
      {"2024-01-15T10:60:00Z", "minute 60 out of range 0-59"},
      {"2024-01-15T10:30:61Z", "second 61 out of range 0-59"},
      {"2024-01-15T10:30:45+24:00", "offset hour 24 out of range 0-23"},
      {"2024-01-15T10:30:45-05:60", "offset minute 60 out of range 0-59"},
  };
  for (const auto& c : cases) {
    INFO("input: '" << c.text << "'");
    const std::string msg = parse_failure(c.text);
    CHECK(msg.rfind(expected_prefix + std::string(c.text) + "'", 0) == 0);
    CHECK(msg.find(c.reason) != std::string::npos);
  }

  SECTION("leap seconds are rejected with a reason") {
    const std::string msg = parse_failure("2016-12-31T23:59:60Z");
    CHECK(msg.find("second 60 out of range 0-59") != std::string::npos);
    CHECK(msg.find("leap seconds are not supported") != std::string::npos);
  }
  SECTION("the first wrong field is named") {
    CHECK(parse_failure("2024-13-32T25:61:61Z").find("month 13") != std::string::npos);
  }
}

TEST_CASE("rfc3339_error_messages_are_bounded_and_escaped", "[sdk][time]") {
  SECTION("long input is cut short") {
    const std::string text = "2024-01-15T10:30:45Z" + std::string(10000, 'x');
    const std::string msg = parse_failure(text);
    CHECK(msg.size() < 400);
    CHECK(msg.find("...'") != std::string::npos);
    CHECK(msg.find("unexpected trailing text") != std::string::npos);
  }
  SECTION("control characters are escaped") {
    const std::string msg = parse_failure("2024-01-15T10:30:45\x1b[31m");
    CHECK(msg.find('\x1b') == std::string::npos);
    CHECK(msg.find("\\x1B[31m") != std::string::npos);
    CHECK(msg.find("unexpected 0x1B at position 19") != std::string::npos);
  }
  SECTION("a NUL byte is not the end of the text") {
    const std::string text("2024-01-15T10:30:45Z\0junk", 25);
    CHECK(parse_failure(text).find("\\x00junk") != std::string::npos);
  }
}

TEST_CASE("rfc3339_round_trips_with_microseconds", "[sdk][time]") {
  SECTION("the wire form formats back to the same text") {
    const char* in_utc[] = {
        "2024-01-15T10:30:45.123456+00:00", "1970-01-01T00:00:00.000000+00:00",
        "1969-12-31T23:59:59.999999+00:00", "2000-02-29T12:00:00.000001+00:00",
        "0001-01-01T00:00:00.000000+00:00", "9999-12-31T23:59:59.999999+00:00",
    };
    for (const char* text : in_utc)
      CHECK(rtime::format_rfc3339(rtime::parse_rfc3339(text)) == text);
    CHECK(rtime::format_rfc3339(rtime::parse_rfc3339("2024-01-15T10:30:45.123456-05:00"),
                                "America/New_York") == "2024-01-15T10:30:45.123456-05:00");
    CHECK(rtime::format_rfc3339(rtime::parse_rfc3339("2024-07-15T10:30:45.000100+05:30"),
                                "Asia/Kolkata") == "2024-07-15T10:30:45.000100+05:30");
  }
  SECTION("every instant survives formatting in every common zone") {
    const timestamp instants[] = {
        utc(2024, 1, 15, 10, 30, 45, 123456),
        utc(2024, 3, 10, 7, 0, 0),
        utc(2024, 11, 3, 5, 59, 59, 999999),
        utc(2024, 11, 3, 6, 0, 0),
        utc(1969, 7, 20, 20, 17, 40, 1),
        utc(1900, 1, 1),
        utc(1800, 6, 1, 12, 0, 0, 42),
        utc(2037, 12, 31, 23, 59, 59, 999999),
        timestamp{-1us},
        timestamp{0us},
    };
    for (const auto& zone : rtime::common_zones()) {
      for (const auto t : instants) {
        const std::string text = rtime::format_rfc3339(t, zone);
        INFO(zone << ": " << text);
        CHECK(rtime::parse_rfc3339(text) == t);
        CHECK(text.size() == 32);
      }
    }
  }
}

TEST_CASE("format_rfc3339_writes_six_digits_and_a_numeric_offset", "[sdk][time]") {
  const timestamp t = utc(2024, 1, 15, 15, 30, 45);
  CHECK(rtime::format_rfc3339(t) == "2024-01-15T15:30:45.000000+00:00");
  CHECK(rtime::format_rfc3339(t, "UTC") == "2024-01-15T15:30:45.000000+00:00");
  CHECK(rtime::format_rfc3339(t, "Etc/UTC") == "2024-01-15T15:30:45.000000+00:00");
  CHECK(rtime::format_rfc3339(t, "Europe/London") == "2024-01-15T15:30:45.000000+00:00");
  CHECK(rtime::format_rfc3339(t, "America/New_York") == "2024-01-15T10:30:45.000000-05:00");
  CHECK(rtime::format_rfc3339(t, "Asia/Tokyo") == "2024-01-16T00:30:45.000000+09:00");
  CHECK(rtime::format_rfc3339(t + 7us) == "2024-01-15T15:30:45.000007+00:00");
  CHECK(rtime::format_rfc3339(utc(2024, 7, 15, 12), "Europe/London") ==
        "2024-07-15T13:00:00.000000+01:00");
  CHECK(rtime::format_rfc3339(utc(2024, 7, 15, 12), "America/Los_Angeles") ==
        "2024-07-15T05:00:00.000000-07:00");

  SECTION("local mean time offsets with seconds are rounded to whole minutes") {
    // New York ran on LMT, -04:56:02, until 1883. The text stays exact for the instant.
    const timestamp old = utc(1850, 1, 1);
    const std::string text = rtime::format_rfc3339(old, "America/New_York");
    CHECK(text == "1849-12-31T19:04:00.000000-04:56");
    CHECK(rtime::parse_rfc3339(text) == old);
    CHECK(rtime::to_zone(old, "America/New_York").utc_offset == -(4h + 56min + 2s));
  }
  SECTION("years outside RFC 3339's range are written with a sign") {
    CHECK(rtime::format_rfc3339(utc(-1, 12, 31)) == "-0001-12-31T00:00:00.000000+00:00");
    CHECK(rtime::format_rfc3339(utc(10000, 1, 1)) == "+10000-01-01T00:00:00.000000+00:00");
    CHECK(rtime::format_rfc3339(timestamp::max()) == "+294247-01-10T04:00:54.775807+00:00");
    CHECK(rtime::format_rfc3339(timestamp::min()) == "-290308-12-21T19:59:05.224192+00:00");
  }
}

TEST_CASE("pre_1970_timestamps_floor_instead_of_truncating", "[sdk][time]") {
  SECTION("parsing") {
    CHECK(rtime::parse_rfc3339("1969-12-31T23:59:59.5Z").time_since_epoch() == -500000us);
    CHECK(rtime::parse_rfc3339("1969-12-31T23:59:59.999999Z").time_since_epoch() == -1us);
    CHECK(rtime::parse_rfc3339("1900-01-01T00:00:00Z").time_since_epoch() == -2208988800s);
    CHECK(rtime::parse_rfc3339("1969-12-31T19:00:00-05:00") == timestamp{0us});
  }
  SECTION("formatting") {
    const timestamp t{-1us};
    CHECK(rtime::format_rfc3339(t) == "1969-12-31T23:59:59.999999+00:00");
    CHECK(rtime::format_rfc3339(timestamp{-500000us}) == "1969-12-31T23:59:59.500000+00:00");
    CHECK(rtime::format_rfc3339(timestamp{-1s}) == "1969-12-31T23:59:59.000000+00:00");
    CHECK(rtime::format_rfc3339(t, "America/New_York") == "1969-12-31T18:59:59.999999-05:00");
    CHECK(rtime::format_datetime(t) == "Dec 31, 1969, 11:59:59 PM");
    CHECK(rtime::format_time(t) == "11:59:59 PM");
    CHECK(rtime::format_date(t) == "Dec 31, 1969");
    CHECK(rtime::format_datetime(utc(1912, 4, 15, 5, 20)) == "Apr 15, 1912, 5:20:00 AM");
  }
  SECTION("zoned fields") {
    const auto z = rtime::to_zone(timestamp{-1us});
    CHECK(z.year == 1969);
    CHECK(z.month == 12);
    CHECK(z.day == 31);
    CHECK(z.hour == 23);
    CHECK(z.minute == 59);
    CHECK(z.second == 59);
    CHECK(z.microsecond == 999999);
  }
}

TEST_CASE("naive_timestamps_are_local_time_in_the_naive_zone", "[sdk][time]") {
  SECTION("the default naive zone is UTC") {
    CHECK(rtime::parse_rfc3339("2024-01-15T10:30:45.123456") ==
          utc(2024, 1, 15, 10, 30, 45, 123456));
    CHECK(rtime::parse_rfc3339("2024-01-15 10:30:45") == utc(2024, 1, 15, 10, 30, 45));
  }
  SECTION("another naive zone applies its offset at that date") {
    CHECK(rtime::parse_rfc3339("2024-01-15T10:30:45", "America/New_York") ==
          utc(2024, 1, 15, 15, 30, 45));
    CHECK(rtime::parse_rfc3339("2024-07-15T10:30:45", "America/New_York") ==
          utc(2024, 7, 15, 14, 30, 45));
    CHECK(rtime::parse_rfc3339("2024-01-15T10:30:45", "Asia/Kolkata") ==
          utc(2024, 1, 15, 5, 0, 45));
  }
  SECTION("is_naive tells whether an offset is present") {
    CHECK(rtime::is_naive("2024-01-15T10:30:45"));
    CHECK(rtime::is_naive("2024-01-15T10:30:45.123456"));
    CHECK(rtime::is_naive("2024-01-15 10:30:45"));
    CHECK_FALSE(rtime::is_naive("2024-01-15T10:30:45Z"));
    CHECK_FALSE(rtime::is_naive("2024-01-15T10:30:45z"));
    CHECK_FALSE(rtime::is_naive("2024-01-15T10:30:45.5+05:30"));
    CHECK_FALSE(rtime::is_naive("2024-01-15T10:30:45-0500"));
  }
  SECTION("an unknown naive zone is a configuration error even for text with an offset") {
    CHECK_THROWS_AS(rtime::parse_rfc3339("2024-01-15T10:30:45", "Mars/Olympus"),
                    rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::parse_rfc3339("2024-01-15T10:30:45Z", "Mars/Olympus"),
                    rtev::unknown_zone_error);
  }
}

TEST_CASE("new_york_springs_forward_on_2024_03_10", "[sdk][time]") {
  const char* ny = "America/New_York";
  SECTION("the clock jumps from 01:59:59 EST to 03:00:00 EDT") {
    const timestamp before = utc(2024, 3, 10, 6, 59, 59);
    const timestamp after = utc(2024, 3, 10, 7);
    CHECK(after.time_since_epoch() == 1710054000s);
    CHECK(rtime::format_rfc3339(before, ny) == "2024-03-10T01:59:59.000000-05:00");
    CHECK(rtime::format_rfc3339(after, ny) == "2024-03-10T03:00:00.000000-04:00");
    CHECK(rtime::to_zone(before, ny).abbreviation == "EST");
    CHECK(rtime::to_zone(after, ny).abbreviation == "EDT");
    CHECK(rtime::to_zone(before, ny).utc_offset == -5h);
    CHECK(rtime::to_zone(after, ny).utc_offset == -4h);
    CHECK(rtime::format_time(after - 1us, ny) == "1:59:59 AM");
    CHECK(rtime::format_time(after, ny) == "3:00:00 AM");
  }
  SECTION("a naive time in the gap moves forward by the gap's length") {
    const timestamp t = rtime::parse_rfc3339("2024-03-10T02:30:00", ny);
    CHECK(t == utc(2024, 3, 10, 7, 30));
    CHECK(rtime::format_rfc3339(t, ny) == "2024-03-10T03:30:00.000000-04:00");
    CHECK(rtime::parse_rfc3339("2024-03-10T02:00:00", ny) == utc(2024, 3, 10, 7));
    CHECK(rtime::parse_rfc3339("2024-03-10T02:59:59.999999", ny) ==
          utc(2024, 3, 10, 7, 59, 59, 999999));
  }
  SECTION("naive times either side of the gap are unique") {
    CHECK(rtime::parse_rfc3339("2024-03-10T01:59:59", ny) == utc(2024, 3, 10, 6, 59, 59));
    CHECK(rtime::parse_rfc3339("2024-03-10T03:00:00", ny) == utc(2024, 3, 10, 7));
  }
}

TEST_CASE("new_york_falls_back_on_2024_11_03", "[sdk][time]") {
  const char* ny = "America/New_York";
  SECTION("01:00-01:59 happens twice, first at -04:00 then at -05:00") {
    CHECK(rtime::format_rfc3339(utc(2024, 11, 3, 5, 59, 59), ny) ==
          "2024-11-03T01:59:59.000000-04:00");
    CHECK(rtime::format_rfc3339(utc(2024, 11, 3, 6), ny) == "2024-11-03T01:00:00.000000-05:00");
    CHECK(rtime::to_zone(utc(2024, 11, 3, 5, 30), ny).abbreviation == "EDT");
    CHECK(rtime::to_zone(utc(2024, 11, 3, 6, 30), ny).abbreviation == "EST");
  }
  SECTION("an ambiguous naive time takes the earlier instant") {
    const timestamp t = rtime::parse_rfc3339("2024-11-03T01:30:00", ny);
    CHECK(t == utc(2024, 11, 3, 5, 30));
    CHECK(rtime::format_rfc3339(t, ny) == "2024-11-03T01:30:00.000000-04:00");
  }
  SECTION("an explicit offset picks either occurrence") {
    CHECK(rtime::parse_rfc3339("2024-11-03T01:30:00-04:00") == utc(2024, 11, 3, 5, 30));
    CHECK(rtime::parse_rfc3339("2024-11-03T01:30:00-05:00") == utc(2024, 11, 3, 6, 30));
  }
  SECTION("naive times either side of the overlap are unique") {
    CHECK(rtime::parse_rfc3339("2024-11-03T00:59:59", ny) == utc(2024, 11, 3, 4, 59, 59));
    CHECK(rtime::parse_rfc3339("2024-11-03T02:00:00", ny) == utc(2024, 11, 3, 7));
  }
}

TEST_CASE("kolkata_is_a_half_hour_zone_without_dst", "[sdk][time]") {
  const char* zone = "Asia/Kolkata";
  for (const timestamp t : {utc(2024, 1, 15, 12), utc(2024, 7, 15, 12)}) {
    const auto z = rtime::to_zone(t, zone);
    CHECK(z.utc_offset == 5h + 30min);
    CHECK(z.abbreviation == "IST");
    CHECK(z.hour == 17);
    CHECK(z.minute == 30);
  }
  CHECK(rtime::format_rfc3339(utc(2024, 1, 15, 20, 15), zone) ==
        "2024-01-16T01:45:00.000000+05:30");
  CHECK(rtime::parse_rfc3339("2024-01-16T01:45:00", zone) == utc(2024, 1, 15, 20, 15));
  CHECK(rtime::format_date(utc(2024, 1, 15, 18, 29, 59), zone) == "Jan 15, 2024");
  CHECK(rtime::format_date(utc(2024, 1, 15, 18, 30), zone) == "Jan 16, 2024");
}

TEST_CASE("sydney_has_dst_in_the_southern_summer", "[sdk][time]") {
  const char* zone = "Australia/Sydney";
  SECTION("January is daylight time at +11:00 and July standard time at +10:00") {
    CHECK(rtime::to_zone(utc(2024, 1, 15), zone).utc_offset == 11h);
    CHECK(rtime::to_zone(utc(2024, 1, 15), zone).abbreviation == "AEDT");
    CHECK(rtime::to_zone(utc(2024, 7, 15), zone).utc_offset == 10h);
    CHECK(rtime::to_zone(utc(2024, 7, 15), zone).abbreviation == "AEST");
    CHECK(rtime::format_rfc3339(utc(2024, 1, 15), zone) == "2024-01-15T11:00:00.000000+11:00");
    CHECK(rtime::format_rfc3339(utc(2024, 7, 15), zone) == "2024-07-15T10:00:00.000000+10:00");
  }
  SECTION("daylight time ends at 03:00 on 2024-04-07") {
    CHECK(rtime::format_rfc3339(utc(2024, 4, 6, 15, 59, 59), zone) ==
          "2024-04-07T02:59:59.000000+11:00");
    CHECK(rtime::format_rfc3339(utc(2024, 4, 6, 16), zone) == "2024-04-07T02:00:00.000000+10:00");
    CHECK(rtime::parse_rfc3339("2024-04-07T02:30:00", zone) == utc(2024, 4, 6, 15, 30));
  }
  SECTION("daylight time starts at 02:00 on 2024-10-06") {
    CHECK(rtime::format_rfc3339(utc(2024, 10, 5, 15, 59, 59), zone) ==
          "2024-10-06T01:59:59.000000+10:00");
    CHECK(rtime::format_rfc3339(utc(2024, 10, 5, 16), zone) == "2024-10-06T03:00:00.000000+11:00");
    CHECK(rtime::parse_rfc3339("2024-10-06T02:30:00", zone) == utc(2024, 10, 5, 16, 30));
  }
}

TEST_CASE("auckland_is_plus_13_in_january_and_plus_12_in_july", "[sdk][time]") {
  const char* zone = "Pacific/Auckland";
  CHECK(rtime::to_zone(utc(2024, 1, 15), zone).utc_offset == 13h);
  CHECK(rtime::to_zone(utc(2024, 1, 15), zone).abbreviation == "NZDT");
  CHECK(rtime::to_zone(utc(2024, 7, 15), zone).utc_offset == 12h);
  CHECK(rtime::to_zone(utc(2024, 7, 15), zone).abbreviation == "NZST");
  CHECK(rtime::format_rfc3339(utc(2024, 1, 15, 12), zone) == "2024-01-16T01:00:00.000000+13:00");
  CHECK(rtime::format_rfc3339(utc(2024, 7, 15, 12), zone) == "2024-07-16T00:00:00.000000+12:00");
  CHECK(rtime::format_date(utc(2024, 12, 31, 11), zone) == "Jan 1, 2025");
}

TEST_CASE("display_formats_use_a_12_hour_clock_and_english_months", "[sdk][time]") {
  SECTION("format_datetime") {
    CHECK(rtime::format_datetime(utc(2024, 1, 15, 10, 30, 45)) == "Jan 15, 2024, 10:30:45 AM");
    CHECK(rtime::format_datetime(utc(2024, 1, 15, 15, 30, 45), "America/New_York") ==
          "Jan 15, 2024, 10:30:45 AM");
    CHECK(rtime::format_datetime(utc(2024, 1, 15, 3), "America/Los_Angeles") ==
          "Jan 14, 2024, 7:00:00 PM");
    CHECK(rtime::format_datetime(utc(2024, 12, 31, 23, 59, 59, 999999)) ==
          "Dec 31, 2024, 11:59:59 PM");
  }
  SECTION("format_time does not pad the hour") {
    CHECK(rtime::format_time(utc(2024, 1, 15, 10, 30, 45)) == "10:30:45 AM");
    CHECK(rtime::format_time(utc(2024, 1, 15, 9, 5, 3)) == "9:05:03 AM");
    CHECK(rtime::format_time(utc(2024, 1, 15, 13, 0, 0)) == "1:00:00 PM");
    CHECK(rtime::format_time(utc(2024, 1, 15, 23, 59, 59)) == "11:59:59 PM");
  }
  SECTION("midnight is 12 AM and noon is 12 PM") {
    CHECK(rtime::format_time(utc(2024, 1, 15, 0, 0, 0)) == "12:00:00 AM");
    CHECK(rtime::format_time(utc(2024, 1, 15, 0, 59, 59)) == "12:59:59 AM");
    CHECK(rtime::format_time(utc(2024, 1, 15, 12, 0, 0)) == "12:00:00 PM");
    CHECK(rtime::format_time(utc(2024, 1, 15, 12, 30, 0)) == "12:30:00 PM");
    CHECK(rtime::format_time(utc(2024, 1, 15, 11, 59, 59, 999999)) == "11:59:59 AM");
    CHECK(rtime::format_datetime(utc(2024, 1, 15)) == "Jan 15, 2024, 12:00:00 AM");
  }
  SECTION("format_date does not pad the day") {
    CHECK(rtime::format_date(utc(2024, 1, 15)) == "Jan 15, 2024");
    CHECK(rtime::format_date(utc(2024, 1, 5)) == "Jan 5, 2024");
    CHECK(rtime::format_date(utc(2024, 1, 15, 3), "America/Los_Angeles") == "Jan 14, 2024");
  }
  SECTION("every month has its English abbreviation") {
    const char* names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (unsigned m = 1; m <= 12; ++m) {
      CHECK(rtime::format_date(utc(2024, m, 1)) == std::string(names[m - 1]) + " 1, 2024");
    }
  }
}

TEST_CASE("format_relative_covers_every_branch", "[sdk][time]") {
  const timestamp now = utc(2024, 1, 15, 12);
  SECTION("under a minute either way is just now") {
    CHECK(rtime::format_relative(now, now) == "just now");
    CHECK(rtime::format_relative(now - 59s, now) == "just now");
    CHECK(rtime::format_relative(now - 59s - 999999us, now) == "just now");
    CHECK(rtime::format_relative(now + 59s, now) == "just now");
    CHECK(rtime::format_relative(now + 59s + 999999us, now) == "just now");
  }
  SECTION("the past is counted in truncated minutes, hours and days") {
    CHECK(rtime::format_relative(now - 60s, now) == "1m ago");
    CHECK(rtime::format_relative(now - 5min, now) == "5m ago");
    CHECK(rtime::format_relative(now - 5min - 59s, now) == "5m ago");
    CHECK(rtime::format_relative(now - 59min - 59s, now) == "59m ago");
    CHECK(rtime::format_relative(now - 60min, now) == "1h ago");
    CHECK(rtime::format_relative(now - 3h, now) == "3h ago");
    CHECK(rtime::format_relative(now - 23h - 59min - 59s, now) == "23h ago");
    CHECK(rtime::format_relative(now - 24h, now) == "1d ago");
    CHECK(rtime::format_relative(now - 48h, now) == "2d ago");
    CHECK(rtime::format_relative(now - 24h * 400, now) == "400d ago");
  }
  SECTION("the future mirrors the past") {
    CHECK(rtime::format_relative(now + 60s, now) == "in 1m");
    CHECK(rtime::format_relative(now + 5min, now) == "in 5m");
    CHECK(rtime::format_relative(now + 59min + 59s, now) == "in 59m");
    CHECK(rtime::format_relative(now + 3h, now) == "in 3h");
    CHECK(rtime::format_relative(now + 24h, now) == "in 1d");
    CHECK(rtime::format_relative(now + 48h + 1s, now) == "in 2d");
  }
  SECTION("the zone is validated but does not change the result") {
    CHECK(rtime::format_relative(now - 3h, now, "Asia/Tokyo") == "3h ago");
    CHECK(rtime::format_relative(now - 3h, now, "America/New_York") == "3h ago");
    CHECK_THROWS_AS(rtime::format_relative(now, now, "Nowhere/Land"), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::format_relative(now, "Nowhere/Land"), rtev::unknown_zone_error);
  }
  SECTION("the extremes of the timestamp range do not overflow") {
    CHECK(rtime::format_relative(timestamp::min(), timestamp::max()) == "213503982d ago");
    CHECK(rtime::format_relative(timestamp::max(), timestamp::min()) == "in 213503982d");
  }
  SECTION("without a reference point the current time is used") {
    const timestamp real_now = rtime::now();
    CHECK(rtime::format_relative(real_now) == "just now");
    CHECK(rtime::format_relative(real_now - 10min) == "10m ago");
    CHECK(rtime::format_relative(real_now + 72h + 30min) == "in 3d");
  }
}

TEST_CASE("now_reads_the_system_clock_in_microseconds", "[sdk][time]") {
  const auto before = std::chrono::system_clock::now();
  const timestamp t = rtime::now();
  const auto after = std::chrono::system_clock::now();
  CHECK(t >= std::chrono::floor<std::chrono::microseconds>(before));
  CHECK(t <= after);
}

TEST_CASE("is_same_day_depends_on_the_zone", "[sdk][time]") {
  // 01:00Z and 20:00Z on Jan 15: one UTC day, but Tokyo (+9) sees Jan 15 and Jan 16 and
  // Los Angeles (-8) sees Jan 14 and Jan 15.
  const timestamp a = utc(2024, 1, 15, 1);
  const timestamp b = utc(2024, 1, 15, 20);
  CHECK(rtime::is_same_day(a, b));
  CHECK(rtime::is_same_day(a, b, "UTC"));
  CHECK_FALSE(rtime::is_same_day(a, b, "Asia/Tokyo"));
  CHECK_FALSE(rtime::is_same_day(a, b, "America/Los_Angeles"));

  // 16:00Z Jan 15 and 07:00Z Jan 16: two UTC days, one day in both Tokyo and Los Angeles.
  const timestamp c = utc(2024, 1, 15, 16);
  const timestamp d = utc(2024, 1, 16, 7);
  CHECK_FALSE(rtime::is_same_day(c, d));
  CHECK(rtime::is_same_day(c, d, "Asia/Tokyo"));
  CHECK(rtime::is_same_day(c, d, "America/Los_Angeles"));

  SECTION("midnight starts a new day") {
    CHECK_FALSE(rtime::is_same_day(utc(2024, 1, 15) - 1us, utc(2024, 1, 15)));
    CHECK(rtime::is_same_day(utc(2024, 1, 15), utc(2024, 1, 15, 23, 59, 59, 999999)));
  }
  SECTION("days before 1970 split at local midnight too") {
    CHECK_FALSE(rtime::is_same_day(timestamp{-1us}, timestamp{0us}));
    CHECK(rtime::is_same_day(timestamp{-1us}, timestamp{0us}, "America/New_York"));
  }
  SECTION("the same day across a DST change is one day") {
    CHECK(rtime::is_same_day(utc(2024, 3, 10, 5), utc(2024, 3, 11, 3, 59), "America/New_York"));
    CHECK_FALSE(rtime::is_same_day(utc(2024, 3, 10, 5), utc(2024, 3, 11, 4), "America/New_York"));
  }
  CHECK_THROWS_AS(rtime::is_same_day(a, b, "Asia/Tokio"), rtev::unknown_zone_error);
}

TEST_CASE("to_zone_fills_every_field", "[sdk][time]") {
  const timestamp t = utc(2024, 7, 4, 16, 30, 45, 123456);
  const auto z = rtime::to_zone(t, "America/New_York");
  CHECK(z.zone == "America/New_York");
  CHECK(z.abbreviation == "EDT");
  CHECK(z.utc_offset == -4h);
  CHECK(z.year == 2024);
  CHECK(z.month == 7);
  CHECK(z.day == 4);
  CHECK(z.hour == 12);
  CHECK(z.minute == 30);
  CHECK(z.second == 45);
  CHECK(z.microsecond == 123456);
  CHECK(z.instant == t);
  CHECK(z.rfc3339() == "2024-07-04T12:30:45.123456-04:00");
  CHECK(z.rfc3339() == rtime::format_rfc3339(t, "America/New_York"));

  const auto u = rtime::to_zone(t);
  CHECK(u.zone == "UTC");
  CHECK(u.abbreviation == "UTC");
  CHECK(u.utc_offset == 0s);
  CHECK(u.hour == 16);
  CHECK(u.rfc3339() == "2024-07-04T16:30:45.123456+00:00");

  const auto tokyo = rtime::to_zone(t, "Asia/Tokyo");
  CHECK(tokyo.abbreviation == "JST");
  CHECK(tokyo.day == 5);
  CHECK(tokyo.hour == 1);
}

TEST_CASE("common_zones_are_the_documented_list_and_all_valid", "[sdk][time]") {
  const std::vector<std::string> expected = {
      "UTC",
      "America/New_York",
      "America/Chicago",
      "America/Denver",
      "America/Los_Angeles",
      "America/Toronto",
      "America/Mexico_City",
      "America/Buenos_Aires",
      "Europe/London",
      "Europe/Paris",
      "Europe/Berlin",
      "Europe/Madrid",
      "Europe/Amsterdam",
      "Europe/Moscow",
      "Asia/Kolkata",
      "Asia/Bangkok",
      "Asia/Hong_Kong",
      "Asia/Singapore",
      "Asia/Tokyo",
      "Asia/Seoul",
      "Australia/Sydney",
      "Australia/Melbourne",
      "Pacific/Auckland",
  };
  CHECK(rtime::common_zones() == expected);
  for (const auto& zone : rtime::common_zones()) {
    INFO(zone);
    CHECK(rtime::is_valid_zone(zone));
    CHECK_NOTHROW(rtime::validate_zone(zone));
    CHECK_NOTHROW(rtime::to_zone(utc(2024, 1, 15), zone));
  }
}

TEST_CASE("all_zones_is_sorted_unique_and_complete", "[sdk][time]") {
  const auto& zones = rtime::all_zones();
  CHECK(zones.size() > 400);
  CHECK(std::is_sorted(zones.begin(), zones.end()));
  CHECK(std::adjacent_find(zones.begin(), zones.end()) == zones.end());
  const auto has = [&zones](const std::string& z) {
    return std::binary_search(zones.begin(), zones.end(), z);
  };
  for (const auto& zone : rtime::common_zones()) CHECK(has(zone));
  SECTION("links are listed with the zones") {
    CHECK(has("Etc/UTC"));
    CHECK(has("Asia/Calcutta"));
    CHECK(has("US/Eastern"));
    CHECK(has("America/Argentina/Buenos_Aires"));
  }
  SECTION("every listed name is valid, and host aliases are not listed") {
    for (const auto& zone : zones) {
      if (!rtime::is_valid_zone(zone)) FAIL("listed but invalid: " << zone);
    }
    CHECK_FALSE(has("localtime"));
    CHECK_FALSE(has("posixrules"));
  }
}

TEST_CASE("is_valid_zone_is_exact_and_case_sensitive", "[sdk][time]") {
  CHECK(rtime::is_valid_zone("UTC"));
  CHECK(rtime::is_valid_zone("Etc/UTC"));
  CHECK(rtime::is_valid_zone("Europe/Paris"));
  CHECK(rtime::is_valid_zone("America/Argentina/Buenos_Aires"));
  CHECK(rtime::is_valid_zone("Asia/Calcutta"));
  CHECK_FALSE(rtime::is_valid_zone("utc"));
  CHECK_FALSE(rtime::is_valid_zone("europe/paris"));
  CHECK_FALSE(rtime::is_valid_zone("Europe/Paris "));
  CHECK_FALSE(rtime::is_valid_zone(" Europe/Paris"));
  CHECK_FALSE(rtime::is_valid_zone("Europe"));
  CHECK_FALSE(rtime::is_valid_zone(""));
  CHECK_FALSE(rtime::is_valid_zone("Paris"));
  CHECK_FALSE(rtime::is_valid_zone("localtime"));
  CHECK_FALSE(rtime::is_valid_zone("posix/Europe/Paris"));
  CHECK_FALSE(rtime::is_valid_zone("../../../etc/passwd"));
  CHECK_FALSE(rtime::is_valid_zone(std::string("UTC\0", 4)));
}

TEST_CASE("unknown_zone_errors_name_the_zone_and_suggest_valid_names", "[sdk][time]") {
  SECTION("one close match") {
    CHECK(zone_failure("Europe/Pari") ==
          "unknown time zone 'Europe/Pari' \u2014 did you mean 'Europe/Paris'?");
    CHECK(zone_failure("Pacific/Aukland") ==
          "unknown time zone 'Pacific/Aukland' \u2014 did you mean 'Pacific/Auckland'?");
  }
  SECTION("no match at all") {
    CHECK(zone_failure("xyz") ==
          "unknown time zone 'xyz'; expected an IANA name such as 'Europe/Paris'");
    CHECK(zone_failure("") == "unknown time zone ''; expected an IANA name such as 'Europe/Paris'");
  }
  SECTION("the exception carries the zone and the suggestions") {
    try {
      rtime::validate_zone("america/new_york");
      FAIL("validate_zone accepted a lowercase name");
    } catch (const rtev::unknown_zone_error& e) {
      CHECK(e.zone() == "america/new_york");
      REQUIRE_FALSE(e.suggestions().empty());
      CHECK(e.suggestions().front() == "America/New_York");
      CHECK(std::string(e.what()).find("did you mean 'America/New_York'") != std::string::npos);
    }
  }
  SECTION("every function that takes a zone validates it") {
    const timestamp t = utc(2024, 1, 15);
    const char* bad = "Europe/Pari";
    CHECK_THROWS_AS(rtime::format_rfc3339(t, bad), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::format_datetime(t, bad), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::format_time(t, bad), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::format_date(t, bad), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::format_relative(t, t, bad), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::is_same_day(t, t, bad), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::to_zone(t, bad), rtev::unknown_zone_error);
    CHECK_THROWS_AS(rtime::parse_rfc3339("2024-01-15T00:00:00", bad), rtev::unknown_zone_error);
    CHECK_THROWS_WITH(rtime::to_zone(t, bad), Catch::Contains("'Europe/Paris'"));
  }
  SECTION("the error is an rtev::error") {
    CHECK_THROWS_AS(rtime::validate_zone("Nowhere"), rtev::error);
  }
}

TEST_CASE("unknown_zone_error_lists_suggestions_in_english", "[sdk][time]") {
  using zone_error = rtev::unknown_zone_error;
  CHECK(std::string(zone_error("X", {}).what()) ==
        "unknown time zone 'X'; expected an IANA name such as 'Europe/Paris'");
  CHECK(std::string(zone_error("X", {"A"}).what()) ==
        "unknown time zone 'X' \u2014 did you mean 'A'?");
  CHECK(std::string(zone_error("X", {"A", "B"}).what()) ==
        "unknown time zone 'X' \u2014 did you mean 'A' or 'B'?");
  CHECK(std::string(zone_error("X", {"A", "B", "C"}).what()) ==
        "unknown time zone 'X' \u2014 did you mean 'A', 'B' or 'C'?");
  const zone_error err("Europe/Pari", {"Europe/Paris"});
  CHECK(err.zone() == "Europe/Pari");
  CHECK(err.suggestions() == std::vector<std::string>{"Europe/Paris"});
}

TEST_CASE("suggest_zones_ranks_the_nearest_names_first", "[sdk][time]") {
  const auto first = [](const std::string& q) {
    const auto s = rtime::suggest_zones(q);
    return s.empty() ? std::string() : s.front();
  };
  SECTION("a case-insensitive exact match comes first") {
    CHECK(first("europe/paris") == "Europe/Paris");
    CHECK(first("america/new_york") == "America/New_York");
    CHECK(first("AMERICA/NEW_YORK") == "America/New_York");
    CHECK(first("utc") == "UTC");
    CHECK(first("asia/calcutta") == "Asia/Calcutta");
  }
  SECTION("a city name alone finds its zone") {
    CHECK(first("Paris") == "Europe/Paris");
    CHECK(first("paris") == "Europe/Paris");
    CHECK(first("New_York") == "America/New_York");
    CHECK(first("new york") == "America/New_York");
    CHECK(first("  Tokyo ") == "Asia/Tokyo");
    CHECK(first("Kolkata") == "Asia/Kolkata");
    CHECK(first("America/Kolkata") == "Asia/Kolkata");
  }
  SECTION("typos are corrected by edit distance") {
    CHECK(first("Europe/Pari") == "Europe/Paris");
    CHECK(first("Europe/Pairs") == "Europe/Paris");
    CHECK(first("Pacific/Aukland") == "Pacific/Auckland");
    CHECK(first("Asia/Kolkatta") == "Asia/Kolkata");
    CHECK(first("Tokio") == "Asia/Tokyo");
    CHECK(first("Sidney") == "Australia/Sydney");
    CHECK(first("Eurpoe/London") == "Europe/London");
  }
  SECTION("canonical zones come before the deprecated links that point to them") {
    const auto calcutta = rtime::suggest_zones("Calcutta");
    REQUIRE(calcutta.size() >= 2);
    CHECK(calcutta[0] == "Asia/Kolkata");
    CHECK(calcutta[1] == "Asia/Calcutta");
    const auto kiev = rtime::suggest_zones("Kiev");
    REQUIRE(kiev.size() >= 2);
    CHECK(kiev[0] == "Europe/Kyiv");
    CHECK(kiev[1] == "Europe/Kiev");
    CHECK(first("Calcuta") == "Asia/Kolkata");
  }
  SECTION("nonsense gives nothing") {
    CHECK(rtime::suggest_zones("xyz").empty());
    CHECK(rtime::suggest_zones("qqqqqqqqqqqq").empty());
    CHECK(rtime::suggest_zones("").empty());
    CHECK(rtime::suggest_zones("   ").empty());
  }
  SECTION("count limits the list and every suggestion is valid") {
    CHECK(rtime::suggest_zones("Europe/Pari", 0).empty());
    CHECK(rtime::suggest_zones("America/", 1).size() == 1);
    CHECK(rtime::suggest_zones("America/").size() == 3);
    CHECK(rtime::suggest_zones("America/", 10).size() == 10);
    for (const char* q : {"Europe/Pari", "Calcutta", "America/", "US/eastern", "Berlim"}) {
      for (const auto& s : rtime::suggest_zones(q, 10)) {
        INFO(q << " -> " << s);
        CHECK(rtime::is_valid_zone(s));
      }
    }
  }
}

TEST_CASE("time_functions_agree_across_threads", "[sdk][time]") {
  // The zone index is built on first use; threads racing through it must all see the same
  // data. (Run under RTEV_SANITIZE=thread to check for data races as well.)
  const timestamp t = utc(2024, 3, 10, 7, 30);
  const auto work = [t] {
    std::string out;
    for (const auto& zone : rtime::common_zones()) {
      out += rtime::format_rfc3339(t, zone);
      out += rtime::format_datetime(rtime::parse_rfc3339("2024-03-10T02:30:00", zone), zone);
      out += rtime::suggest_zones(zone.substr(0, zone.size() - 1)).at(0);
    }
    return out;
  };
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&r, &work] { r = work(); });
  for (auto& th : threads) th.join();
  const std::string expected = work();
  CHECK(expected.find("2024-03-10T03:30:00.000000-04:00Mar 10, 2024, 3:30:00 AMAmerica/New_York") !=
        std::string::npos);
  for (const auto& r : results) CHECK(r == expected);
}
