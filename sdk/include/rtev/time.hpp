#pragma once
/// \file
/// Time-zone aware timestamps: RFC 3339 parsing and formatting, display formats, relative
/// times and the IANA zone list, backed by the OS tz database (tzdata) through date/tz.
///
/// Thread safety: every function is safe to call concurrently from any thread.
/// Errors: an unknown zone throws rtev::unknown_zone_error (naming the zone and suggesting
/// the nearest valid names); malformed text throws rtev::parse_error.
/// Limits: leap seconds are not represented (the system clock does not count them). For
/// instants after 2037 the last offset in the tzdata files is used, because date/tz built
/// with USE_OS_TZDB does not apply the zone's POSIX rule beyond its listed transitions
/// (HowardHinnant/date#760): DST is then not applied in most zones.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "rtev/error.hpp"

namespace rtev {

/// An instant, in microseconds since the Unix epoch (UTC).
using timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

namespace time {

/// The current instant.
timestamp now();

/// Parse RFC 3339: `2024-01-15T10:30:45.123456-05:00`, `…Z`, fractional seconds of any
/// length up to nanoseconds (truncated to microseconds), a space or `T` between date and time.
/// `t` and `z` may be lowercase, offsets may omit the colon (`-0500`), and `-00:00` is UTC.
/// Seconds are required; second 60 (a leap second) is rejected.
/// A naive timestamp with no offset (`2024-01-15T10:30:45.123456`) is read as local time in
/// `naive_zone`. In a DST overlap the earlier instant is taken (01:30 on 2024-11-03 in New
/// York is -04:00). A time in a DST gap is moved forward by the length of the gap (02:30 on
/// 2024-03-10 in New York is 03:30 -04:00), as a clock not yet set forward would read it.
/// Throws parse_error (path empty; the message quotes the text and names the wrong field) or
/// unknown_zone_error (for `naive_zone`, checked even when the text has an offset).
timestamp parse_rfc3339(std::string_view text, std::string_view naive_zone = "UTC");

/// True when `text` carries no UTC offset (neither `Z` nor `±HH:MM`). Exact for text that
/// parse_rfc3339 accepts; other text is only inspected, never rejected.
bool is_naive(std::string_view text);

/// The wire form: RFC 3339 with six fractional digits and a numeric offset in `zone`
/// (`2024-01-15T10:30:45.123456-05:00`; UTC gives `+00:00`). An offset with seconds (local
/// mean time before ~1900, e.g. -04:56:02) is rounded to whole minutes and the wall clock
/// written in that offset, so the text still names exactly `t`. Years outside 0000-9999 are
/// written with a sign (`-0001`, `+10000`); such text is not RFC 3339 and does not parse.
std::string format_rfc3339(timestamp t, std::string_view zone = "UTC");

/// `Jan 15, 2024, 10:30:45 AM` in `zone`.
std::string format_datetime(timestamp t, std::string_view zone = "UTC");
/// `10:30:45 AM` in `zone`.
std::string format_time(timestamp t, std::string_view zone = "UTC");
/// `Jan 15, 2024` in `zone`.
std::string format_date(timestamp t, std::string_view zone = "UTC");

/// `just now` (under a minute either way), `5m ago`, `3h ago`, `2d ago`, `in 5m`, `in 3h`,
/// `in 2d`. Units are truncated (`59m 59s` is `59m ago`). The zone does not change the
/// result; it is accepted (and validated) for a uniform signature.
std::string format_relative(timestamp t, timestamp now, std::string_view zone = "UTC");
/// format_relative against the current time.
std::string format_relative(timestamp t, std::string_view zone = "UTC");

/// True when `a` and `b` fall on the same calendar day in `zone`.
bool is_same_day(timestamp a, timestamp b, std::string_view zone = "UTC");

/// An instant as seen on a wall clock in one zone.
struct zoned_time {
  std::string zone;                    ///< IANA name, e.g. "America/New_York"
  std::string abbreviation;            ///< e.g. "EST", "EDT", "IST"
  std::chrono::seconds utc_offset{0};  ///< local minus UTC
  int year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0, microsecond = 0;
  timestamp instant;  ///< the same instant, UTC

  /// RFC 3339 in this zone, as format_rfc3339(instant, zone).
  std::string rfc3339() const;
};

/// Convert an instant to wall-clock time in `zone`.
zoned_time to_zone(timestamp t, std::string_view zone = "UTC");

/// The commonly used zones, UTC first (the default), in the order the docs list them.
const std::vector<std::string>& common_zones();
/// Every zone (and link) name the tz database knows, sorted and unique. Debian's
/// `localtime` alias for /etc/localtime is not an IANA name and is left out.
const std::vector<std::string>& all_zones();
/// True when `zone` names a zone or link in the tz database ("UTC" included).
bool is_valid_zone(std::string_view zone);
/// Throws unknown_zone_error when `zone` is not valid; returns normally otherwise.
void validate_zone(std::string_view zone);
/// Up to `count` valid zone names nearest to `zone`, best first: a case-insensitive exact
/// match, then a match of the city part ("Paris", "new york"), then Damerau-Levenshtein
/// distance on the lowercased name or city (at most a third of the city's length, minimum
/// 1), then a prefix ("America/"). A deprecated link also suggests the zone it points to,
/// and canonical zones win ties ("Calcutta" gives Asia/Kolkata, then Asia/Calcutta).
/// Empty when nothing is close ("xyz").
std::vector<std::string> suggest_zones(std::string_view zone, std::size_t count = 3);

}  // namespace time
}  // namespace rtev
