#pragma once
/// \file
/// Time-zone aware timestamps: RFC 3339 parsing and formatting, display formats, relative
/// times and the IANA zone list, backed by the OS tz database (tzdata) through date/tz.
///
/// Thread safety: every function is safe to call concurrently from any thread.
/// Errors: an unknown zone throws rtev::unknown_zone_error (naming the zone and suggesting
/// the nearest valid names); malformed text throws rtev::parse_error.

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
/// A naive timestamp with no offset (`2024-01-15T10:30:45.123456`) is read as local time in
/// `naive_zone`; at a DST gap or overlap the earlier instant is taken.
/// Throws parse_error (path empty) or unknown_zone_error.
timestamp parse_rfc3339(std::string_view text, std::string_view naive_zone = "UTC");

/// True when `text` carries no UTC offset (neither `Z` nor `±HH:MM`).
bool is_naive(std::string_view text);

/// The wire form: RFC 3339 with six fractional digits and a numeric offset in `zone`
/// (`2024-01-15T10:30:45.123456-05:00`; UTC gives `+00:00`).
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
  std::string zone;          ///< IANA name, e.g. "America/New_York"
  std::string abbreviation;  ///< e.g. "EST", "EDT", "IST"
  std::chrono::seconds utc_offset{0};  ///< local minus UTC
  int year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0, microsecond = 0;
  timestamp instant;         ///< the same instant, UTC

  /// RFC 3339 in this zone, as format_rfc3339(instant, zone).
  std::string rfc3339() const;
};

/// Convert an instant to wall-clock time in `zone`.
zoned_time to_zone(timestamp t, std::string_view zone = "UTC");

/// The commonly used zones, UTC first (the default), in the order the docs list them.
const std::vector<std::string>& common_zones();
/// Every zone (and link) name the tz database knows, sorted.
const std::vector<std::string>& all_zones();
/// True when `zone` names a zone or link in the tz database ("UTC" included).
bool is_valid_zone(std::string_view zone);
/// Throws unknown_zone_error when `zone` is not valid; returns normally otherwise.
void validate_zone(std::string_view zone);
/// Up to `count` valid zone names nearest to `zone` (case-insensitive edit distance and
/// city-name matching), best first.
std::vector<std::string> suggest_zones(std::string_view zone, std::size_t count = 3);

}  // namespace time
}  // namespace rtev
