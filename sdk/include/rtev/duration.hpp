#pragma once
/// \file
/// Durations and rates as people type them on a command line: `10s`, `500ms`, `5m`, `1h30m`,
/// `2d`, `100/s`.
///
/// Thread safety: pure functions, safe from any thread.

#include <chrono>
#include <string>
#include <string_view>

#include "rtev/error.hpp"

namespace rtev {

/// Parse a duration: one or more `<number><unit>` parts, units `us`, `ms`, `s`, `m`, `h`, `d`
/// (`1h30m`, `1.5s`). A bare `0` is accepted. Throws config_error naming the text and the
/// accepted forms: "invalid duration '10 sec': expected a number and a unit (us, ms, s, m, h,
/// d), e.g. 500ms, 10s, 5m, 1h30m".
std::chrono::microseconds parse_duration(std::string_view text);

/// `1h30m`, `10s`, `500ms`: the shortest exact form of `d` in the units above.
std::string format_duration(std::chrono::microseconds d);

/// A rate such as `100/s`, `5/m`, `1000/h`, or a bare number (per second): events per second.
/// Throws config_error for anything else, or a rate that is not positive.
double parse_rate(std::string_view text);

}  // namespace rtev
